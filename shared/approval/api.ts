import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import * as z from '../zod.ts';
import { GreenlightError } from '../errors.ts';
import { decide } from './decide.ts';
import { arnMatches } from './principals.ts';
import { pendingApprovals, publicView } from './records.ts';

const DecisionBody = z.object({ decision: z.enum(['approve', 'reject']), comment: z.optional(z.string().check(z.maxLength(1000))) });

const statusOf: Record<string, number> = {
  ApprovalNotFoundError: 404,
  ApprovalAlreadyDecidedError: 409,
  ApprovalExpiredError: 410,
  ApproverNotAllowedError: 403,
  SelfApprovalError: 403,
  PusherUnknownError: 403,
  InvalidDecisionError: 400,
};

function reply(statusCode: number, body: unknown): APIGatewayProxyResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/**
 * What only a request through the function URL with AWS_IAM auth carries: Lambda builds it after
 * verifying the SigV4 signature, so a direct Invoke with a hand-made event is the only other way in.
 */
const FunctionUrlIamEvent = z.object({
  version: z.literal('2.0'),
  rawPath: z.string().check(z.startsWith('/')),
  body: z.optional(z.string()),
  isBase64Encoded: z.optional(z.boolean()),
  requestContext: z.object({
    accountId: z.string(),
    domainName: z.string(),
    http: z.object({ method: z.string().check(z.minLength(1)), path: z.string().check(z.startsWith('/')) }),
    authorizer: z.object({
      iam: z.object({
        accessKey: z.string().check(z.minLength(1)),
        accountId: z.string().check(z.regex(/^\d{12}$/)),
        callerId: z.string().check(z.minLength(1)),
        userArn: z.string().check(z.regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+/)),
        userId: z.string().check(z.minLength(1)),
      }),
    }),
  }),
});

/**
 * The event if the function's own URL delivered it, else why not: the IAM context missing or
 * malformed, or a domain that is not a function URL of this function's region and account.
 */
export function readFunctionUrlEvent(event: unknown, functionArn: string): { event: z.infer<typeof FunctionUrlIamEvent> } | { refused: string } {
  const parsed = FunctionUrlIamEvent.safeParse(event);
  if (!parsed.success) return { refused: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`).join('; ') };
  const [, , , region, accountId] = functionArn.split(':');
  const { requestContext } = parsed.data;
  if (!requestContext.domainName.endsWith(`.lambda-url.${region}.on.aws`)) return { refused: `requestContext.domainName ${requestContext.domainName} is not a function URL of ${region}` };
  if (requestContext.accountId !== accountId) return { refused: `requestContext.accountId ${requestContext.accountId} is not the function's account ${accountId}` };
  return { event: parsed.data };
}

/**
 * The approval API behind an IAM-authenticated function URL: `GET /pending`, `POST /approvals/{id}`.
 * The caller is the IAM principal AWS verified (requestContext.authorizer.iam.userArn); an event
 * without that shape is refused before anything is read or decided.
 */
export async function approvalApi(
  clients: Parameters<typeof decide>[0],
  { bucket, event, functionArn, now = new Date() }: { bucket: string; event: unknown; functionArn: string; now?: Date },
): Promise<APIGatewayProxyResultV2> {
  const read = readFunctionUrlEvent(event, functionArn);
  if ('refused' in read) {
    return reply(403, { error: 'Unauthenticated', message: `the approval API answers only SigV4-signed requests through its function URL (AWS_IAM); this event is not one: ${read.refused}` });
  }
  const url = read.event;
  const caller = url.requestContext.authorizer.iam.userArn;
  const method = url.requestContext.http.method;
  const path = url.rawPath.replace(/\/+$/, '') || '/';
  try {
    if (method === 'GET' && path === '/pending') {
      const all = await pendingApprovals.list(clients.s3, bucket);
      // An approver sees only what they may decide: the stages whose approvers match them.
      const waiting = all
        .filter((p) => Date.parse(p.expiresAt) > now.getTime() && p.approvers.some((pattern) => arnMatches(pattern, caller)))
        .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
      return reply(200, { caller, pending: waiting.map(publicView) });
    }
    const decision = /^\/approvals\/([^/]+)$/.exec(path);
    if (method === 'POST' && decision) {
      let body: unknown;
      try {
        const text = url.isBase64Encoded && url.body !== undefined ? Buffer.from(url.body, 'base64').toString('utf8') : url.body;
        body = JSON.parse(text ?? '{}');
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
