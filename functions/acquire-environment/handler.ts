import * as z from '../../shared/zod.ts';
import { PushedImage } from '../../shared/contracts.ts';
import { acquireEnvironment, leaseSecondsFor } from '../../shared/environments/lease.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { s3 };

const settings = readSettings(['bundleBucket']);

const AcquireInput = z.object({
  application: z.string(),
  environment: z.string(),
  image: PushedImage,
  healthTimeoutSeconds: z.int().check(z.positive()),
  execution: z.string(),
});

/** Acquire Environment: claim the environment for this push and take its lease when free (superseded when a newer push claimed it). */
export const handler = taskHandler(AcquireInput, ({ healthTimeoutSeconds, ...input }) =>
  acquireEnvironment({ s3: clients.s3() }, { ...input, bucket: settings.bundleBucket, leaseSeconds: leaseSecondsFor(healthTimeoutSeconds) }),
);
