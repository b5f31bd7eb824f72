import * as z from '../../shared/zod.ts';
import { ImagePush } from '../../shared/contracts.ts';
import { loadCompiledConfig } from '../../shared/config/compiled.ts';
import { resolvePlan } from '../../shared/plan.ts';
import { ecr } from '../../shared/runtime/clients/ecr.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { ecr };

const settings = readSettings(['configFile']);

/** Resolve Plan: which application and stages this push may reach, and the image verified by digest. */
export const handler = taskHandler(z.object({ image: ImagePush, deploymentId: z.string() }), async ({ image, deploymentId }) =>
  resolvePlan({ ecr: clients.ecr() }, { config: loadCompiledConfig(settings.configFile).config, image, deploymentId }),
);
