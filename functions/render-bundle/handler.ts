import * as z from '../../shared/zod.ts';
import { prepareRelease } from '../../shared/bundle/prepare.ts';
import { loadCompiledConfig } from '../../shared/config/compiled.ts';
import { Plan, PlannedStage } from '../../shared/contracts.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { ecr } from '../../shared/runtime/clients/ecr.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { eb, ecr, s3 };

const settings = readSettings(['configFile', 'bundleBucket']);

const PrepareInput = z.object({ plan: Plan, stage: PlannedStage, index: z.int().check(z.gte(0)), execution: z.string() });

/** Prepare Release: on the first stage, render the bundle (newest claimed digests of every container) and store it by content; later stages reuse it. */
export const handler = taskHandler(PrepareInput, (input) =>
  prepareRelease(
    { ecr: clients.ecr(), s3: clients.s3(), eb: clients.eb() },
    { ...input, loaded: loadCompiledConfig(settings.configFile), bucket: settings.bundleBucket },
  ),
);
