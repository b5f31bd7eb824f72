import { z } from 'zod';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { checkVersion } from '../../shared/versions.ts';

/** Check Version: whether EB has finished processing the application version. */
export const handler = taskHandler(z.object({ application: z.string(), versionLabel: z.string() }), (input) =>
  checkVersion({ eb: clients.eb() }, input),
);
