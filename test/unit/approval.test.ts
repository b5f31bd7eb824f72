import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { approvalApi, readFunctionUrlEvent } from '../../shared/approval/api.ts';
import { decide } from '../../shared/approval/decide.ts';
import { arnMatches, samePrincipal } from '../../shared/approval/principals.ts';
import type { PendingApproval } from '../../shared/approval/records.ts';

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const cloudtrail = mockClient(CloudTrailClient);
const clients = { s3: s3 as unknown as S3Client, sfn: sfn as unknown as SFNClient, cloudtrail: cloudtrail as unknown as CloudTrailClient };
const alice = 'arn:aws:sts::123456789012:assumed-role/release-managers/alice';
const ci = 'arn:aws:sts::123456789012:assumed-role/ci-pusher/ci';
const now = new Date('2026-11-22T10:00:00Z');

const pending: PendingApproval = {
  id: 'api-v1-2-0-0123456789abcdef',
  taskToken: 'token-1',
  executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:pipeline:api-v1-2-0-0123456789abcdef',
  application: 'api',
  image: { repository: 'api', tag: 'v1.2.0', digest: `sha256:${'0'.repeat(64)}`, reference: 'x' },
  versionLabel: 'v1.2.0-abc',
  sourceEnvironment: 'api-dev',
  targetEnvironment: 'api-prod',
  runningInTarget: 'v1.1.0-def',
  pushedBy: null,
  approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'],
  requestedAt: '2026-11-22T09:00:00Z',
  expiresAt: '2026-11-25T09:00:00Z',
};

const body = (value: unknown) => ({ transformToString: async () => JSON.stringify(value) }) as never;

function stored(record: PendingApproval | undefined, pusher?: string) {
  s3.on(GetObjectCommand, { Key: `pending/${record?.id ?? pending.id}.json` }).callsFake(() => {
    if (!record) throw new NoSuchKey({ message: 'missing', $metadata: {} });
    return { Body: body(record) };
  });
  s3.on(GetObjectCommand, { Key: `pushers/api/${'0'.repeat(64)}.json` }).callsFake(() => {
    if (!pusher) throw new NoSuchKey({ message: 'missing', $metadata: {} });
    return { Body: body({ pushedBy: pusher }) };
  });
}

/** CloudTrail's event history: CI pushed the image (a PutImage record naming the digest). */
function pushedByCi() {
  const record = { eventSource: 'ecr.amazonaws.com', eventName: 'PutImage', userIdentity: { type: 'AssumedRole', arn: ci }, requestParameters: { repositoryName: 'api' }, responseElements: { image: { imageId: { imageDigest: pending.image.digest } } } };
  cloudtrail.on(LookupEventsCommand).resolves({ Events: [{ EventName: 'PutImage', CloudTrailEvent: JSON.stringify(record) }] });
}

beforeEach(() => {
  s3.reset();
  sfn.reset();
  cloudtrail.reset();
  s3.on(DeleteObjectCommand).resolves({});
  s3.on(ListObjectsV2Command, { Prefix: `pushers/api/${'0'.repeat(64)}/` }).resolves({});
  pushedByCi();
});

describe('approver patterns and principals', () => {
  it('matches ARNs with globs, whole ARN only', () => {
    expect(arnMatches('arn:aws:sts::*:assumed-role/release-managers/*', alice)).toBe(true);
    expect(arnMatches('arn:aws:iam::*:role/release-managers', alice)).toBe(false);
    expect(arnMatches('arn:aws:sts::*:assumed-role/release-managers/*', `${alice}-evil`.replace('release-managers', 'release-managers-x'))).toBe(false);
  });

  it('treats a role session written two ways as the same person, and two sessions of one role as one person', () => {
    expect(samePrincipal(alice, 'arn:aws:iam::123456789012:role/release-managers/alice')).toBe(true);
    expect(samePrincipal(alice, 'arn:aws:sts::123456789012:assumed-role/release-managers/carol')).toBe(true);
    expect(samePrincipal(alice, 'arn:aws:sts::123456789012:assumed-role/release-managers/carol', 'per-session')).toBe(false);
  });
});

describe('deciding an approval', () => {
  it('approves with SendTaskSuccess carrying decision, approver, comment and time, then forgets the pending record', async () => {
    stored(pending);
    sfn.on(SendTaskSuccessCommand).resolves({});
    const result = await decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'approve', comment: 'ship it', now });
    expect(result).toMatchObject({ decision: 'approve', approver: alice, comment: 'ship it', at: now.toISOString(), targetEnvironment: 'api-prod' });
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toEqual({
      decision: 'approve',
      approver: alice,
      comment: 'ship it',
      at: now.toISOString(),
      environment: 'api-prod',
      separationOfDuties: 'enforced',
      sameRolePolicy: 'strict',
      pushers: [ci],
    });
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(1);
  });

  it('rejects with SendTaskFailure ApprovalRejectedError, and needs a reason', async () => {
    stored(pending);
    sfn.on(SendTaskFailureCommand).resolves({});
    await expect(decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'reject', now })).rejects.toMatchObject({ name: 'InvalidDecisionError' });
    await decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'reject', comment: 'not during the sale', now });
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toMatchObject({ taskToken: 'token-1', error: 'ApprovalRejectedError' });
  });

  it('refuses a caller who is not an approver, changing nothing', async () => {
    stored(pending);
    const bob = 'arn:aws:sts::123456789012:assumed-role/developers/bob';
    await expect(decide(clients, { bucket: 'b', id: pending.id, caller: bob, decision: 'approve', now })).rejects.toMatchObject({ name: 'ApproverNotAllowedError', message: expect.stringContaining(bob) });
    expect(sfn.calls()).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });

  it('refuses the pusher (separation of duties), learned from CloudTrail after the request', async () => {
    stored(pending, alice);
    await expect(decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'approve', now })).rejects.toMatchObject({ name: 'SelfApprovalError' });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('refuses a second decision: the token is spent (TaskTimedOut) or the record gone', async () => {
    stored(pending);
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    await expect(decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'approve', now })).rejects.toMatchObject({ name: 'ApprovalAlreadyDecidedError' });
    s3.reset();
    stored(undefined);
    await expect(decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'approve', now })).rejects.toMatchObject({ name: 'ApprovalNotFoundError' });
  });

  it('refuses a decision after the approval expired', async () => {
    stored(pending);
    await expect(decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'approve', now: new Date('2026-11-26T00:00:00Z') })).rejects.toMatchObject({ name: 'ApprovalExpiredError' });
    expect(sfn.calls()).toHaveLength(0);
  });
});

describe('the approval API behind the function URL', () => {
  const functionArn = 'arn:aws:lambda:eu-west-1:123456789012:function:greenlight-prod-approvalApi';
  const bob = 'arn:aws:sts::123456789012:assumed-role/developers/bob';
  const context = { functionName: 'greenlight-prod-approvalApi', invokedFunctionArn: functionArn, awsRequestId: 'request-1', functionVersion: '$LATEST', memoryLimitInMB: '256' } as Context;

  /** The event a function URL with AWS_IAM auth delivers after verifying the caller's signature. */
  function urlEvent(caller: string, method: 'GET' | 'POST', path: string, body?: unknown) {
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath: path,
      rawQueryString: '',
      headers: { host: `${'a'.repeat(32)}.lambda-url.eu-west-1.on.aws` },
      requestContext: {
        accountId: '123456789012',
        apiId: 'a'.repeat(32),
        domainName: `${'a'.repeat(32)}.lambda-url.eu-west-1.on.aws`,
        domainPrefix: 'a'.repeat(32),
        http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'greenlight' },
        authorizer: { iam: { accessKey: 'ASIAEXAMPLE', accountId: '123456789012', callerId: 'AROAEXAMPLE:alice', userArn: caller, userId: 'AROAEXAMPLE:alice' } },
        requestId: 'r',
        routeKey: '$default',
        stage: '$default',
        time: '22/Nov/2026:10:00:00 +0000',
        timeEpoch: now.getTime(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      isBase64Encoded: false,
    };
  }

  /** A stored set of pending approvals, listed by ListObjectsV2. */
  function storedList(records: PendingApproval[]) {
    s3.on(ListObjectsV2Command).resolves({ Contents: records.map((r) => ({ Key: `pending/${r.id}.json` })) });
    for (const record of records) s3.on(GetObjectCommand, { Key: `pending/${record.id}.json` }).resolves({ Body: body(record) });
  }

  it('refuses a hand-made event passed to the handler module directly, reading and deciding nothing', async () => {
    process.env.APPROVALS_BUCKET = 'approvals';
    const { handler } = await import('../../functions/approval-api/handler.ts');
    const approve = urlEvent(alice, 'POST', `/approvals/${pending.id}`, { decision: 'approve', comment: 'forged' });
    const without = (mutate: (event: any) => void) => {
      const event = structuredClone(approve) as any;
      mutate(event);
      return event;
    };
    const forged = {
      // The attack: an unsigned Invoke naming Alice, nothing else of the URL's shape.
      'only a userArn': { rawPath: approve.rawPath, body: approve.body, requestContext: { http: approve.requestContext.http, authorizer: { iam: { userArn: alice } } } },
      'no authorizer': without((e) => delete e.requestContext.authorizer),
      'no accessKey': without((e) => delete e.requestContext.authorizer.iam.accessKey),
      'no callerId': without((e) => delete e.requestContext.authorizer.iam.callerId),
      'no userId': without((e) => delete e.requestContext.authorizer.iam.userId),
      'no caller account': without((e) => delete e.requestContext.authorizer.iam.accountId),
      'a payload version 1.0': without((e) => (e.version = '1.0')),
      'no http method': without((e) => delete e.requestContext.http),
      'a domain that is no function URL': without((e) => (e.requestContext.domainName = 'approvals.example.com')),
      "another region's function URL": without((e) => (e.requestContext.domainName = `${'a'.repeat(32)}.lambda-url.us-east-1.on.aws`)),
      "another account's function": without((e) => (e.requestContext.accountId = '999999999999')),
    };
    for (const [what, event] of Object.entries(forged)) {
      const result = (await handler(event, context)) as { statusCode: number; body: string };
      expect(result.statusCode, what).toBe(403);
      expect(JSON.parse(result.body), what).toMatchObject({ error: 'Unauthenticated', message: expect.stringContaining('function URL (AWS_IAM)') });
    }
    expect(s3.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
    // The shape a function URL delivers does reach the domain code.
    storedList([]);
    const listed = (await handler(urlEvent(alice, 'GET', '/pending'), context)) as { statusCode: number; body: string };
    expect(listed.statusCode).toBe(200);
    expect(JSON.parse(listed.body)).toEqual({ caller: alice, pending: [] });
  });

  it('names what is missing from an event that did not come through the URL', () => {
    const event = urlEvent(alice, 'GET', '/pending') as any;
    delete event.requestContext.authorizer.iam.accessKey;
    expect(readFunctionUrlEvent(event, functionArn)).toEqual({ refused: expect.stringContaining('requestContext.authorizer.iam.accessKey') });
    expect(readFunctionUrlEvent(urlEvent(alice, 'GET', '/pending'), functionArn)).toMatchObject({ event: { requestContext: { authorizer: { iam: { userArn: alice } } } } });
  });

  it('answers GET /pending with only the approvals whose stage approvers match the caller', async () => {
    const prod = { ...pending, id: 'api-prod', targetEnvironment: 'api-prod', approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'] };
    const staging = { ...pending, id: 'api-staging', targetEnvironment: 'api-staging', approvers: ['arn:aws:sts::*:assumed-role/developers/*'] };
    storedList([prod, staging]);
    const pendingFor = async (caller: string) => {
      const result = (await approvalApi(clients as never, { bucket: 'b', event: urlEvent(caller, 'GET', '/pending'), functionArn, now })) as { body: string };
      return (JSON.parse(result.body).pending as Array<{ id: string }>).map((p) => p.id);
    };
    expect(await pendingFor(alice)).toEqual(['api-prod']);
    expect(await pendingFor(bob)).toEqual(['api-staging']);
    expect(await pendingFor('arn:aws:iam::123456789012:user/auditor')).toEqual([]);
  });
});
