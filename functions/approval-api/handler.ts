import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { approvalApi } from '../../shared/approval/api.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { logger } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

const settings = readSettings(['approvalsBucket']);

/**
 * The approval API (function URL, AWS_IAM auth): list pending approvals, approve or reject one.
 * The event is checked against the URL's IAM shape, never trusted as given (a direct Invoke could forge it).
 */
export const handler = middy((event: unknown, context: Context) =>
  approvalApi({ s3: clients.s3(), sfn: clients.sfn(), cloudtrail: clients.cloudtrail() }, { bucket: settings.approvalsBucket, event, functionArn: context.invokedFunctionArn }),
).use(injectLambdaContext(logger));
