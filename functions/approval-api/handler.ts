import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { approvalApi } from '../../shared/approval/api.ts';
import { cloudtrail } from '../../shared/runtime/clients/cloudtrail.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { sfn } from '../../shared/runtime/clients/sfn.ts';
import { logger } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { cloudtrail, s3, sfn };

const settings = readSettings(['approvalsBucket']);

/**
 * The approval API (function URL, AWS_IAM auth): list pending approvals, approve or reject one.
 * The event is checked against the URL's IAM shape, never trusted as given (a direct Invoke could forge it).
 */
export const handler = middy((event: unknown, context: Context) =>
  approvalApi({ s3: clients.s3(), sfn: clients.sfn(), cloudtrail: clients.cloudtrail() }, { bucket: settings.approvalsBucket, event, functionArn: context.invokedFunctionArn }),
).use(injectLambdaContext(logger));
