import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyResultV2, LambdaFunctionURLEvent } from 'aws-lambda';
import { z } from 'zod';
import { GreenlightError } from '../errors.ts';
import { decide } from './decide.ts';
import { pendingApprovals, publicView } from './records.ts';

const DecisionBody = z.object({ decision: z.enum(['approve', 'reject']), comment: z.string().max(1000).optional() });

const statusOf: Record<string, number> = {
  ApprovalNotFoundError: 404,
  ApprovalAlreadyDecidedError: 409,
  ApprovalExpiredError: 410,
  ApproverNotAllowedError: 403,
  SelfApprovalError: 403,
  InvalidDecisionError: 400,
};

function reply(statusCode: number, body: unknown): APIGatewayProxyResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/**
 * The approval API behind an IAM-authenticated function URL: `GET /pending`, `POST /approvals/{id}`.
 * The caller is the IAM principal AWS verified (requestContext.authorizer.iam.userArn).
 */
export async function approvalApi(
  clients: { s3: S3Client; sfn: SFNClient },
  { bucket, event, now = new Date() }: { bucket: string; event: LambdaFunctionURLEvent; now?: Date },
): Promise<APIGatewayProxyResultV2> {
  const caller = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam?.userArn;
  if (!caller) return reply(403, { error: 'Unauthenticated', message: 'the approval API needs an IAM-authenticated (SigV4-signed) request' });
  const method = event.requestContext.http.method;
  const path = event.rawPath.replace(/\/+$/, '') || '/';
  try {
    if (method === 'GET' && path === '/pending') {
      const all = await pendingApprovals.list(clients.s3, bucket);
      const waiting = all.filter((p) => Date.parse(p.expiresAt) > now.getTime()).sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
      return reply(200, { caller, pending: waiting.map(publicView) });
    }
    const decision = /^\/approvals\/([^/]+)$/.exec(path);
    if (method === 'POST' && decision) {
      let body: unknown;
      try {
        body = JSON.parse(event.body ?? '{}');
      } catch {
        return reply(400, { error: 'InvalidDecisionError', message: 'the body must be JSON: {"decision":"approve"|"reject","comment":"…"}' });
      }
      const parsed = DecisionBody.safeParse(body);
      if (!parsed.success) return reply(400, { error: 'InvalidDecisionError', message: 'the body must be {"decision":"approve"|"reject","comment":"…"}' });
      const result = await decide(clients, { bucket, id: decodeURIComponent(decision[1]!), caller, decision: parsed.data.decision, comment: parsed.data.comment, now });
      return reply(200, result);
    }
    return reply(404, { error: 'NotFound', message: `no route ${method} ${path}; use GET /pending or POST /approvals/{id}` });
  } catch (error) {
    if (error instanceof GreenlightError && statusOf[error.name]) return reply(statusOf[error.name]!, { error: error.name, message: error.message });
    throw error;
  }
}
