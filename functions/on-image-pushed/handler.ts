import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../../shared/config/load.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { logger } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';
import { readPushEvent, startDeployment } from '../../shared/trigger.ts';

const settings = readSettings(['configFile', 'stateMachineArn']);

/** EventBridge target for ECR pushes: starts one deployment per push; everything else is a logged no-op. */
export const handler = middy(async (event: unknown) => {
  const reading = readPushEvent(event);
  if ('ignored' in reading) {
    logger.info('event ignored', { reason: reading.ignored });
    return { started: false, reason: reading.ignored };
  }
  const config = loadConfig(settings.configFile).config;
  const outcome = await startDeployment({ sfn: clients.sfn() }, { config, stateMachineArn: settings.stateMachineArn, push: reading.push });
  logger.info(outcome.started ? 'deployment started' : 'no deployment started', { push: reading.push, outcome });
  return outcome;
}).use(injectLambdaContext(logger));
