import { z } from 'zod';
import { PushedImage } from '../../shared/contracts.ts';
import { leaseSecondsFor } from '../../shared/deploy.ts';
import { acquireEnvironment } from '../../shared/environments/lease.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

const settings = readSettings(['bundleBucket']);

const AcquireInput = z.object({
  application: z.string(),
  environment: z.string(),
  image: PushedImage,
  healthTimeoutSeconds: z.number().int().positive(),
  execution: z.string(),
});

/** Acquire Environment: claim the environment for this push and take its lease when free (superseded when a newer push claimed it). */
export const handler = taskHandler(AcquireInput, ({ healthTimeoutSeconds, ...input }) =>
  acquireEnvironment({ s3: clients.s3() }, { ...input, bucket: settings.bundleBucket, leaseSeconds: leaseSecondsFor(healthTimeoutSeconds) }),
);
