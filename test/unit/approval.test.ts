import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { decide } from '../../shared/approval/decide.ts';
import { arnMatches, samePrincipal } from '../../shared/approval/principals.ts';
import type { PendingApproval } from '../../shared/approval/records.ts';

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const clients = { s3: s3 as unknown as S3Client, sfn: sfn as unknown as SFNClient };
const alice = 'arn:aws:sts::123456789012:assumed-role/release-managers/alice';
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

beforeEach(() => {
  s3.reset();
  sfn.reset();
  s3.on(DeleteObjectCommand).resolves({});
});

describe('approver patterns and principals', () => {
  it('matches ARNs with globs, whole ARN only', () => {
    expect(arnMatches('arn:aws:sts::*:assumed-role/release-managers/*', alice)).toBe(true);
    expect(arnMatches('arn:aws:iam::*:role/release-managers', alice)).toBe(false);
    expect(arnMatches('arn:aws:sts::*:assumed-role/release-managers/*', `${alice}-evil`.replace('release-managers', 'release-managers-x'))).toBe(false);
  });

  it('treats a role session written two ways as the same person', () => {
    expect(samePrincipal(alice, 'arn:aws:iam::123456789012:role/release-managers/alice')).toBe(true);
    expect(samePrincipal(alice, 'arn:aws:sts::123456789012:assumed-role/release-managers/carol')).toBe(false);
  });
});

describe('deciding an approval', () => {
  it('approves with SendTaskSuccess carrying decision, approver, comment and time, then forgets the pending record', async () => {
    stored(pending);
    sfn.on(SendTaskSuccessCommand).resolves({});
    const result = await decide(clients, { bucket: 'b', id: pending.id, caller: alice, decision: 'approve', comment: 'ship it', now });
    expect(result).toMatchObject({ decision: 'approve', approver: alice, comment: 'ship it', at: now.toISOString(), targetEnvironment: 'api-prod' });
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toEqual({ decision: 'approve', approver: alice, comment: 'ship it', at: now.toISOString() });
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
