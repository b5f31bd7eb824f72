import { z } from 'zod';
import { StoredBundle } from '../../shared/contracts.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { createVersion } from '../../shared/versions.ts';

/** Create Version: the EB application version for the bundle, created once and reused on retries. */
export const handler = taskHandler(z.object({ application: z.string(), bundle: StoredBundle }), (input) =>
  createVersion({ eb: clients.eb() }, input),
);
