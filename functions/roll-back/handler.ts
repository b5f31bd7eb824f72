import { z } from 'zod';
import { HealthReport, StageDeployment } from '../../shared/contracts.ts';
import { rollBackFailedDeployment } from '../../shared/rollback.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';

/** Roll Back: put the previous version back after a failed deployment, keeping the failure's cause. */
export const handler = taskHandler(z.object({ deployment: StageDeployment, failure: HealthReport }), (input) =>
  rollBackFailedDeployment({ eb: clients.eb() }, input),
);
