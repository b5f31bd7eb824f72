import { z } from 'zod';
import { HealthPolicy, StageDeployment } from '../../shared/contracts.ts';
import { checkHealth } from '../../shared/health.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';

/** Check Health: one look at the environment, classified as healthy, in progress, failed or timed out. */
export const handler = taskHandler(z.object({ deployment: StageDeployment, policy: HealthPolicy }), (input) =>
  checkHealth({ eb: clients.eb() }, input),
);
