import * as z from '../../shared/zod.ts';
import { loadCompiledConfig } from '../../shared/config/compiled.ts';
import { reconcilePushes } from '../../shared/reconcile.ts';
import { ecr } from '../../shared/runtime/clients/ecr.ts';
import { sfn } from '../../shared/runtime/clients/sfn.ts';
import { logger, taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { ecr, sfn };

const settings = readSettings(['configFile', 'stateMachineArn']);

/** Whatever the schedule sends (EventBridge Scheduler, a rule's Scheduled Event, an on-demand invoke): the run needs none of it. */
const ScheduledEvent = z.unknown();

/** Reconciler, on a schedule: starts the recent pushes whose ECR event was lost, never one twice. */
export const handler = taskHandler(ScheduledEvent, async () => {
  const { config, settings: install } = loadCompiledConfig(settings.configFile);
  const summary = await reconcilePushes(
    { ecr: clients.ecr(), sfn: clients.sfn() },
    { config, stateMachineArn: settings.stateMachineArn, now: new Date(), windowSeconds: install.reconciler.window },
  );
  logger.info(summary.started.length > 0 ? 'started pushes no event had started' : 'every recent push has its execution', { summary });
  return summary;
});
