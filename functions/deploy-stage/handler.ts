import * as z from '../../shared/zod.ts';
import { PlannedStage, PushedImage, StoredBundle } from '../../shared/contracts.ts';
import { deployRelease } from '../../shared/deploy.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { ecr } from '../../shared/runtime/clients/ecr.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { eb, ecr, s3 };

const settings = readSettings(['bundleBucket']);

const DeployInput = z.object({
  application: z.string(),
  environment: z.string(),
  release: StoredBundle,
  image: PushedImage,
  healthTimeoutSeconds: z.int().check(z.positive()),
  execution: z.string(),
  /** The planned stage, for its environment variables (absent in executions started before they existed). */
  stage: z.optional(PlannedStage),
});

/** Deploy: UpdateEnvironment to our release while we hold the environment, unless those bytes already run or a newer push got there first. */
export const handler = taskHandler(DeployInput, (input) =>
  deployRelease(
    { eb: clients.eb(), ecr: clients.ecr(), s3: clients.s3() },
    { ...input, bucket: settings.bundleBucket, environmentVariables: input.stage?.environmentVariables },
  ),
);
