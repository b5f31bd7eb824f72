import * as z from '../../shared/zod.ts';
import { PlannedStage } from '../../shared/contracts.ts';
import { abandonEnvironments, releaseEnvironment } from '../../shared/environments/lease.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { s3 };

const settings = readSettings(['bundleBucket']);

const Stage = { application: z.string(), environment: z.string(), execution: z.string() };
const ReleaseInput = z.discriminatedUnion('outcome', [
  z.object({ ...Stage, outcome: z.literal('deployed'), release: z.object({ versionLabel: z.string(), bundleSha256: z.string(), images: z.record(z.string(), z.string()) }), learned: z.optional(z.nullable(z.object({ seconds: z.number().check(z.nonnegative()), waitedSeconds: z.number().check(z.nonnegative()) }))) }),
  z.object({ ...Stage, outcome: z.literal('already-deployed') }),
  z.object({ ...Stage, outcome: z.literal('rolled-back'), failedImage: z.object({ repository: z.string(), digest: z.string() }) }),
  z.object({ application: z.string(), execution: z.string(), outcome: z.literal('abandoned'), stages: z.array(PlannedStage) }),
]);

/** Release Environment: give the lease back with what the environment runs now; on a failed execution, let go of all it held. */
export const handler = taskHandler(ReleaseInput, async (input): Promise<object> => {
  const s3 = clients.s3();
  if (input.outcome === 'abandoned') {
    const environments = input.stages.map((stage) => stage.environment);
    return abandonEnvironments({ s3 }, { bucket: settings.bundleBucket, application: input.application, environments, execution: input.execution }).then((result) => ({
      ...result,
      anyUnverified: result.unverified.length > 0,
    }));
  }
  return releaseEnvironment({ s3 }, { ...input, bucket: settings.bundleBucket });
});
