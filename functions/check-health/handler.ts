import * as z from '../../shared/zod.ts';
import { HealthPolicy, HealthReport, StageDeployment } from '../../shared/contracts.ts';
import { checkHealth } from '../../shared/health.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { eb };

/**
 * Check Health: one look at the environment, classified as healthy, in progress, failed or timed out,
 * with when to look next (`previous`: the last look's report; null before the first).
 */
export const handler = taskHandler(z.object({ deployment: StageDeployment, policy: HealthPolicy, previous: z.optional(z.nullable(HealthReport)) }), (input) =>
  checkHealth({ eb: clients.eb() }, input),
);
