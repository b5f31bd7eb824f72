import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { loadCompiledConfig } from '../../shared/config/compiled.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { sfn } from '../../shared/runtime/clients/sfn.ts';
import { logger } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';
import { readPushEvent, recordPusher, startDeployment } from '../../shared/trigger.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { s3, sfn };

const settings = readSettings(['configFile', 'stateMachineArn', 'approvalsBucket']);

/** EventBridge target for ECR pushes (and CloudTrail PutImage): one deployment per push, the pusher remembered. */
export const handler = middy(async (event: unknown) => {
  const reading = readPushEvent(event);
  if ('ignored' in reading) {
    logger.info('event ignored', { reason: reading.ignored });
    return { started: false, reason: reading.ignored };
  }
  await recordPusher({ s3: clients.s3() }, { bucket: settings.approvalsBucket, push: reading.push, at: new Date() });
  const config = loadCompiledConfig(settings.configFile).config;
  const outcome = await startDeployment({ sfn: clients.sfn() }, { config, stateMachineArn: settings.stateMachineArn, push: reading.push });
  logger.info(outcome.started ? 'deployment started' : 'no deployment started', { push: reading.push, outcome });
  return outcome;
}).use(injectLambdaContext(logger));
