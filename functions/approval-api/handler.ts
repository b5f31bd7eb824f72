import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { approvalApi } from '../../shared/approval/api.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { logger } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

const settings = readSettings(['approvalsBucket']);

/** The approval API (function URL, AWS_IAM auth): list pending approvals, approve or reject one. */
export const handler = middy((event: LambdaFunctionURLEvent) =>
  approvalApi({ s3: clients.s3(), sfn: clients.sfn() }, { bucket: settings.approvalsBucket, event }),
).use(injectLambdaContext(logger));
