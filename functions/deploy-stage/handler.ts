import { z } from 'zod';
import { deployToEnvironment } from '../../shared/deploy.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';

const DeployInput = z.object({
  application: z.string(),
  environment: z.string(),
  versionLabel: z.string(),
  pushedAt: z.string(),
  healthTimeoutSeconds: z.number().int().positive(),
});

/** Deploy: UpdateEnvironment to our version once the environment is Ready, unless a newer push got there first. */
export const handler = taskHandler(DeployInput, (input) => deployToEnvironment({ eb: clients.eb() }, input));
