import { readFileSync } from 'node:fs';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { decide } from '../../shared/approval/decide.ts';
import { samePrincipal } from '../../shared/approval/principals.ts';
import { lookUpPushers } from '../../shared/approval/pushers.ts';
import { type PendingApproval, pushers } from '../../shared/approval/records.ts';
import { type ApprovalRequest, requestApproval } from '../../shared/approval/request.ts';
import { buildAuditRecord } from '../../shared/audit.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { recordPusher } from '../../shared/trigger.ts';

/** CloudTrail's PutImage record, as the events/ fixture has it. */
const putImage = JSON.parse(readFileSync(new URL('../../events/cloudtrail-put-image.json', import.meta.url), 'utf8')).detail;
const digest = putImage.responseElements.image.imageId.imageDigest as string;
const repository = 'hello-api';

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const cloudtrail = mockClient(CloudTrailClient);
const clients = { s3: s3 as unknown as S3Client, sfn: sfn as unknown as SFNClient, cloudtrail: cloudtrail as unknown as CloudTrailClient };

const arn = (who: string) => `arn:aws:sts::123456789012:assumed-role/${who}`;
const ci = arn('ci-pusher/github-actions-4711');
const alice = arn('release-managers/alice');
const carol = arn('release-managers/carol');
const carolCi = arn('release-managers/carol-ci');
const now = new Date('2026-11-22T10:00:00Z');

/** One LookupEvents entry: the fixture's record, pushed by `who` (a digest and an error may differ). */
function event(who: string | undefined, overrides: { digest?: string; errorCode?: string } = {}) {
  const record = structuredClone(putImage);
  record.userIdentity = who ? { ...record.userIdentity, arn: who } : { type: 'AWSService', invokedBy: 'ecr.amazonaws.com' };
  record.responseElements.image.imageId.imageDigest = overrides.digest ?? digest;
  if (overrides.errorCode) record.errorCode = overrides.errorCode;
  return { EventId: `${who}-${overrides.digest ?? digest}`, EventName: 'PutImage', EventSource: 'ecr.amazonaws.com', CloudTrailEvent: JSON.stringify(record) };
}

const pending = (overrides: Partial<PendingApproval> = {}): PendingApproval => ({
  id: 'hello-api-v1-2-3-7f5b2640fe6fb4f4',
  taskToken: 'token-1',
  executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:pipeline:hello-api-v1-2-3-7f5b2640fe6fb4f4',
  application: 'hello-api',
  image: { repository, tag: 'v1.2.3', digest, reference: 'x', pushedAt: '2026-11-22T07:00:00.000Z' },
  versionLabel: 'v1.2.3-abc',
  sourceEnvironment: 'hello-api-dev',
  targetEnvironment: 'hello-api-prod',
  runningInTarget: null,
  pushedBy: null,
  approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'],
  requestedAt: '2026-11-22T09:00:00Z',
  expiresAt: '2026-11-25T09:00:00Z',
  ...overrides,
});

const body = (value: unknown) => ({ transformToString: async () => JSON.stringify(value) }) as never;
const missing = () => {
  throw new NoSuchKey({ message: 'missing', $metadata: {} });
};

/** The approvals bucket: one pending approval and the pusher records greenlight wrote (none: the CloudTrail rule is off). */
function bucket(record: PendingApproval, recorded: string[] = []) {
  s3.on(GetObjectCommand).callsFake(missing);
  s3.on(GetObjectCommand, { Key: `pending/${record.id}.json` }).resolves({ Body: body(record) });
  s3.on(ListObjectsV2Command, { Prefix: `pushers/${repository}/${digest.slice(7)}/` }).resolves({
    Contents: recorded.map((_, index) => ({ Key: `pushers/${repository}/${digest.slice(7)}/${index}.json` })),
  });
  recorded.forEach((pushedBy, index) => {
    s3.on(GetObjectCommand, { Key: `pushers/${repository}/${digest.slice(7)}/${index}.json` }).resolves({ Body: body({ repository, digest, pushedBy, at: now.toISOString() }) });
  });
}

const approveAs = (caller: string, record = pending()) => decide(clients, { bucket: 'approvals', id: record.id, caller, decision: 'approve', comment: 'ok', now });

beforeEach(() => {
  s3.reset();
  sfn.reset();
  cloudtrail.reset();
  s3.on(DeleteObjectCommand).resolves({});
  s3.on(ListObjectsV2Command).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  cloudtrail.on(LookupEventsCommand).resolves({ Events: [] });
});

describe('who is one person', () => {
  it('counts two sessions of one role as one principal', () => {
    expect(samePrincipal(carol, carolCi)).toBe(true);
    expect(samePrincipal(carol, alice)).toBe(true);
    expect(samePrincipal(carol, 'arn:aws:iam::123456789012:role/release-managers')).toBe(true);
    expect(samePrincipal(carol, 'arn:aws:iam::123456789012:role/teams/release-managers')).toBe(true);
    expect(samePrincipal(carol, ci)).toBe(false);
    expect(samePrincipal(carol, 'arn:aws:sts::210987654321:assumed-role/release-managers/carol')).toBe(false);
  });

  it('tells sessions of one role apart under the per-session policy, but never a role from its sessions', () => {
    expect(samePrincipal(carol, carolCi, 'per-session')).toBe(false);
    expect(samePrincipal(carol, arn('release-managers/CAROL'), 'per-session')).toBe(true);
    expect(samePrincipal(carol, 'arn:aws:iam::123456789012:role/release-managers', 'per-session')).toBe(true);
    expect(samePrincipal(carol, 'arn:aws:iam::123456789012:role/release-managers/carol', 'per-session')).toBe(true);
  });

  it('compares users by name, whatever their path', () => {
    expect(samePrincipal('arn:aws:iam::123456789012:user/ci', 'arn:aws:iam::123456789012:user/build/ci')).toBe(true);
    expect(samePrincipal('arn:aws:iam::123456789012:user/ci', 'arn:aws:iam::123456789012:user/cd')).toBe(false);
  });
});

describe('separation of duties with the CloudTrail rule off', () => {
  it('refuses the pusher CloudTrail event history names, and lets another approver through', async () => {
    bucket(pending());
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [event(carol)] });
    await expect(approveAs(carol)).rejects.toMatchObject({ name: 'SelfApprovalError' });
    await expect(approveAs(alice)).rejects.toMatchObject({ name: 'SelfApprovalError', message: expect.stringContaining('sessions of one role are one person') });
    expect(sfn.calls()).toHaveLength(0);

    cloudtrail.on(LookupEventsCommand).resolves({ Events: [event(ci)] });
    const decided = await approveAs(alice);
    expect(decided).toMatchObject({ decision: 'approve', approver: alice, separationOfDuties: 'enforced', sameRolePolicy: 'strict', pushers: [ci] });
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toMatchObject({ separationOfDuties: 'enforced', pushers: [ci], environment: 'hello-api-prod' });
  });

  it('asks event history for PutImage since the image was pushed, and counts only successful pushes of this digest', async () => {
    cloudtrail
      .on(LookupEventsCommand)
      .resolvesOnce({ Events: [event(ci), event(carol, { digest: `sha256:${'1'.repeat(64)}` })], NextToken: 'page-2' })
      .resolvesOnce({ Events: [event(alice, { errorCode: 'ImageAlreadyExistsException' }), event(carolCi)] });
    const found = await lookUpPushers(clients.cloudtrail, { repository, digest, pushedAt: '2026-11-22T07:00:00.000Z', now });
    expect(found).toEqual({ ok: true, pushers: [ci, carolCi].sort(), unnamed: [] });
    const asked = cloudtrail.commandCalls(LookupEventsCommand).map((call) => call.args[0].input);
    expect(asked[0]).toMatchObject({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'PutImage' }], StartTime: new Date('2026-11-22T06:45:00.000Z'), EndTime: now, MaxResults: 50 });
    expect(asked[1]).toMatchObject({ NextToken: 'page-2' });
  });
});

describe('a re-push of the same digest by someone else', () => {
  it('keeps every pusher: a new record per principal, written only if absent', async () => {
    s3.on(PutObjectCommand).resolves({});
    await recordPusher({ s3: clients.s3 }, { bucket: 'approvals', push: { repository, tag: 'v1.2.3', digest, pushedBy: carol }, at: now });
    await recordPusher({ s3: clients.s3 }, { bucket: 'approvals', push: { repository, tag: 'ci-copy', digest, pushedBy: ci }, at: now });
    const writes = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(writes.every((w) => w.IfNoneMatch === '*')).toBe(true);
    expect(new Set(writes.map((w) => w.Key)).size).toBe(2);
    expect(writes.every((w) => w.Key!.startsWith(`pushers/${repository}/${digest.slice(7)}/`))).toBe(true);
  });

  it('takes a record already there as recorded, never overwriting it', async () => {
    s3.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'At least one of the pre-conditions you specified did not hold', $metadata: { httpStatusCode: 412 } }));
    await expect(pushers.add(clients.s3, 'approvals', { repository, digest, pushedBy: carol, at: now.toISOString() })).resolves.toBeUndefined();
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
  });

  it('refuses the first pusher after someone else pushed the digest again', async () => {
    const record = pending({ sameRolePolicy: 'per-session' });
    bucket(record, [carol, ci]);
    await expect(approveAs(carol, record)).rejects.toMatchObject({ name: 'SelfApprovalError' });
    // Carol's session is not Alice's under the per-session policy: Alice may approve.
    await expect(approveAs(alice, record)).resolves.toMatchObject({ pushers: [ci, carol].sort() });
  });
});

describe('an unknown pusher', () => {
  const fix = [expect.stringContaining('install.cloudTrailRule: true'), expect.stringContaining('separationOfDuties: false')];

  it('refuses the approval, saying how to make the pusher known or to switch the check off knowingly', async () => {
    bucket(pending());
    const refused = await approveAs(alice).catch((error: Error) => error);
    expect(refused).toMatchObject({ name: 'PusherUnknownError' });
    for (const part of fix) expect((refused as Error).message).toEqual(part);
    expect((refused as Error).message).toContain('hello-api-prod');
    expect(sfn.calls()).toHaveLength(0);
  });

  it.each([
    ['denied', 'AccessDeniedException', 'User is not authorized to perform: cloudtrail:LookupEvents'],
    ['throttled', 'ThrottlingException', 'Rate exceeded'],
  ])('refuses the approval when LookupEvents is %s, even with a pusher on record', async (_, name, message) => {
    bucket(pending(), [ci]);
    cloudtrail.on(LookupEventsCommand).rejects(Object.assign(new Error(message), { name }));
    const refused = (await approveAs(alice).catch((error: Error) => error)) as Error;
    expect(refused).toMatchObject({ name: 'PusherUnknownError', message: expect.stringContaining(name) });
    for (const part of fix) expect(refused.message).toEqual(part);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('refuses the approval when a push of the digest has no principal ARN', async () => {
    bucket(pending());
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [event(ci), event(undefined)] });
    await expect(approveAs(alice)).rejects.toMatchObject({ name: 'PusherUnknownError', message: expect.stringContaining('without a principal ARN') });
  });

  it('still lets an approver reject: a rejection never deploys', async () => {
    bucket(pending());
    cloudtrail.on(LookupEventsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await decide(clients, { bucket: 'approvals', id: pending().id, caller: alice, decision: 'reject', comment: 'not now', now });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(1);
  });
});

describe('separationOfDuties: false', () => {
  it('lets the pusher approve without asking CloudTrail, and the decision record says separation of duties was off', async () => {
    const record = pending({ separationOfDuties: 'off', pushedBy: carol, pushers: [carol] });
    bucket(record);
    const decided = await approveAs(carol, record);
    expect(decided).toMatchObject({ approver: carol, separationOfDuties: 'off', pushers: [carol] });
    expect(cloudtrail.calls()).toHaveLength(0);
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!)).toMatchObject({ separationOfDuties: 'off' });
  });

  it('is written into the audit record with the approver and the pushers, rejections included', () => {
    const approval = { decision: 'approve', approver: carol, comment: 'mine', at: now.toISOString(), environment: 'hello-api-prod', separationOfDuties: 'off', sameRolePolicy: 'strict', pushers: [carol] };
    const state = { plan: { application: 'hello-api', image: { repository, tag: 'v1.2.3', digest } }, stages: [{ environment: 'hello-api-dev', approval: { decision: 'not-required' } }, { environment: 'hello-api-prod', approval }] };
    const record = buildAuditRecord({ outcome: 'succeeded', executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:p:x', startedAt: now.toISOString(), state }, now);
    expect(record.approvals).toEqual([approval]);

    const rejection = { ...approval, decision: 'reject', approver: alice, separationOfDuties: 'enforced', pushers: [ci] };
    const rejected = buildAuditRecord(
      { outcome: 'rejected', executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:p:y', startedAt: now.toISOString(), state: { ...state, stages: [state.stages[0]], error: { Error: 'ApprovalRejectedError', Cause: JSON.stringify(rejection) } } },
      now,
    );
    expect(rejected.approvals).toEqual([rejection]);
  });
});

describe('requesting an approval', () => {
  const sns = mockClient(SNSClient);
  const eb = mockClient(ElasticBeanstalkClient);
  const config = parseConfig(`
applications:
  hello-api:
    images: [hello-api]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages:
      - { environment: hello-api-dev, tags: ['v*'] }
      - environment: hello-api-prod
        tags: ['v*']
        approval: { approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'], separationOfDuties: false }
`);
  const request = (environment: string): ApprovalRequest => ({
    taskToken: 'token-1',
    executionArn: pending().executionArn,
    plan: {
      deploymentId: pending().id,
      application: 'hello-api',
      image: { repository, tag: 'v1.2.3', digest, repositoryUri: 'u', reference: 'u@d', pushedAt: '2026-11-22T07:00:00.000Z' },
      stages: [{ environment: 'hello-api-dev' }, { environment, approval: { approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'], timeoutSeconds: 3600 } }],
      skippedStages: [],
      health: { accept: ['Green'], timeoutSeconds: 600 },
    },
    bundle: { bucket: 'b', key: 'k', sha256: 's', versionLabel: 'v1.2.3-abc', description: 'd', images: {}, written: true },
    stage: { environment, approval: { approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'], timeoutSeconds: 3600 } },
    index: 1,
  });
  const requestClients = () => ({ s3: clients.s3, cloudtrail: clients.cloudtrail, sns: sns as unknown as SNSClient, eb: eb as unknown as ElasticBeanstalkClient });

  beforeEach(() => {
    sns.reset();
    eb.reset();
    sns.on(PublishCommand).resolves({});
    s3.on(PutObjectCommand).resolves({});
    s3.on(GetObjectCommand).callsFake(missing);
    eb.on(DescribeEnvironmentsCommand).callsFake((input) => ({ Environments: [{ EnvironmentName: input.EnvironmentNames[0], Status: 'Ready' }] }));
  });

  it('names every pusher CloudTrail knows in the record and the message, and the stage\'s separation of duties', async () => {
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [event(ci), event(carol)] });
    await requestApproval(requestClients(), { bucket: 'approvals', topicArn: 't', config, request: request('hello-api-prod'), now });
    const stored = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]!.args[0].input.Body));
    expect(stored).toMatchObject({ pushers: [ci, carol].sort(), separationOfDuties: 'off', sameRolePolicy: 'strict' });
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message).toContain('separation of duties is OFF');
  });

  it('keeps the strict defaults for a stage the configuration does not know, and asks anyway when CloudTrail cannot answer', async () => {
    cloudtrail.on(LookupEventsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await requestApproval(requestClients(), { bucket: 'approvals', topicArn: 't', config, request: request('hello-api-staging'), now });
    const stored = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]!.args[0].input.Body));
    expect(stored).toMatchObject({ pushers: [], pushedBy: null, separationOfDuties: 'enforced', sameRolePolicy: 'strict' });
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message).toMatch(/AccessDeniedException.*approval is refused until it is/);
  });
});

describe('the configuration', () => {
  const withApproval = (approval: string) => `
applications:
  hello-api:
    images: [hello-api]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages:
      - { environment: hello-api-dev, tags: ['v*'] }
      - { environment: hello-api-prod, tags: ['v*'], approval: { approvers: ['arn:aws:iam::*:role/release-managers'], ${approval} } }
`;

  it('accepts separationOfDuties and sameRolePolicy under approval, and only their known values', () => {
    const stage = parseConfig(withApproval('separationOfDuties: false, sameRolePolicy: per-session')).applications['hello-api']!.stages[1]!;
    expect(stage.approval).toMatchObject({ separationOfDuties: false, sameRolePolicy: 'per-session' });
    expect(() => parseConfig(withApproval('sameRolePolicy: loose'))).toThrow(/sameRolePolicy/);
    expect(() => parseConfig(withApproval('separationOfDuties: "no"'))).toThrow(/separationOfDuties/);
  });
});
