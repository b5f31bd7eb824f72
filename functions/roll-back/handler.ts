import * as z from '../../shared/zod.ts';
import { HealthReport, StageDeployment } from '../../shared/contracts.ts';
import { rollBackFailedDeployment } from '../../shared/rollback.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { eb, s3 };

const settings = readSettings(['bundleBucket']);

/** A health check that kept failing, as Step Functions caught it. */
const HealthCheckError = z.object({ Error: z.string(), Cause: z.optional(z.string()) });

/** Roll Back: put the previous version back after our own deployment failed (or could not be checked), keeping the cause. */
export const handler = taskHandler(z.object({ deployment: StageDeployment, failure: z.union([HealthReport, HealthCheckError]), execution: z.string() }), (input) =>
  rollBackFailedDeployment({ eb: clients.eb(), s3: clients.s3() }, { ...input, bucket: settings.bundleBucket }),
);
