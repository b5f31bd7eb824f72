import { z } from 'zod';
import { prepareBundle } from '../../shared/bundle/prepare.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { Plan } from '../../shared/contracts.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

const settings = readSettings(['configFile', 'bundleBucket']);

/** Render Bundle: the Dockerrun (and compose, .ebextensions) pinned to digests, zipped and stored by content. */
export const handler = taskHandler(z.object({ plan: Plan }), async ({ plan }) =>
  prepareBundle(
    { ecr: clients.ecr(), s3: clients.s3(), eb: clients.eb() },
    { loaded: loadConfig(settings.configFile), plan, bucket: settings.bundleBucket },
  ),
);
