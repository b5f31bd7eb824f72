import * as z from '../../shared/zod.ts';
import { StoredBundle } from '../../shared/contracts.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { createVersion } from '../../shared/versions.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { eb };

/** Create Version: the EB application version for the bundle, created once and reused on retries. */
export const handler = taskHandler(z.object({ application: z.string(), bundle: StoredBundle }), (input) =>
  createVersion({ eb: clients.eb() }, input),
);
