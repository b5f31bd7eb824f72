import * as z from '../../shared/zod.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { checkVersion } from '../../shared/versions.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { eb };

/** Check Version: whether EB has finished processing the application version. */
export const handler = taskHandler(z.object({ application: z.string(), versionLabel: z.string() }), (input) =>
  checkVersion({ eb: clients.eb() }, input),
);
