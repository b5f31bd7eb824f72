import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PendingApproval } from '../../shared/approval/records.ts';
import type { AuditRecord, Outcome } from '../../shared/audit.ts';
import { parseConfig } from '../../shared/config/load.ts';
import {
  approvalNotification,
  changeUrl,
  chatValue,
  executionConsoleUrl,
  imageConsoleUrl,
  maxSubjectLength,
  type Notification,
  outcomeNotification,
  principalName,
  publish,
  publishInput,
  subjectLine,
} from '../../shared/notify.ts';

const executionArn = 'arn:aws:states:eu-west-1:123456789012:execution:greenlight-prod-deploy-pipeline:hello-api-v1-2-0-0123456789abcdef';
const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
const ci = 'arn:aws:sts::123456789012:assumed-role/ci-pusher/ci';
const alice = 'arn:aws:sts::123456789012:assumed-role/release-managers/alice';

function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    schemaVersion: 1,
    deploymentId: 'hello-api-v1-2-0-0123456789abcdef',
    executionArn,
    outcome: 'succeeded',
    startedAt: '2025-03-31T10:00:00.000Z',
    finishedAt: '2025-03-31T10:03:12.000Z',
    application: 'hello-api',
    image: { repository: 'hello-api', tag: 'v1.2.0', digest, pushedBy: null, pushedAt: '2025-03-31T09:59:00.000Z' },
    versionLabel: 'v1.2.0-abcdef012345',
    bundle: { bucket: 'b', key: 'bundles/hello-api/x.zip', sha256: 'x' },
    images: { 'hello-api': `123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-api@${digest}` },
    stages: [
      { environment: 'hello-api-dev', outcome: 'deployed', versionLabel: 'v1.2.0-abcdef012345', approval: { decision: 'not-required' } },
      { environment: 'hello-api-prod', outcome: 'deployed', versionLabel: 'v1.2.0-abcdef012345', approval: { decision: 'approve', approver: alice, comment: 'ship it', at: '2025-03-31T10:01:00.000Z' } },
    ],
    approvals: [
      { environment: 'hello-api-prod', decision: 'approve', approver: alice, comment: 'ship it', at: '2025-03-31T10:01:00.000Z', separationOfDuties: 'enforced', sameRolePolicy: 'strict', pushers: [ci] },
    ],
    error: null,
    cause: null,
    ...overrides,
  };
}

/** A deployment that failed in dev and went back to the version before, as the state machine records it. */
const rolledBack = () =>
  record({
    outcome: 'failed',
    stages: [],
    approvals: [],
    error: 'DeploymentFailedError',
    cause: 'hello-api-dev did not become healthy: Failed to deploy application. Rolled back to v1.1.0-111111111111.',
    timeline: {
      source: 'execution-history',
      steps: [
        { name: 'Deploy', environment: 'hello-api-dev', startedAt: 'x', endedAt: 'x', result: 'succeeded', attempts: 1, retries: 0, detail: 'v1.1.0-111111111111 → v1.2.0-abcdef012345', error: null, cause: null },
        { name: 'Roll Back', environment: 'hello-api-dev', startedAt: 'x', endedAt: 'x', result: 'succeeded', attempts: 1, retries: 0, detail: 'back to v1.1.0-111111111111', error: null, cause: null },
      ],
      approvals: [],
      ebEvents: [],
    },
  });

const pending = (overrides: Partial<PendingApproval> = {}): PendingApproval => ({
  id: 'hello-api-v1-2-0-0123456789abcdef',
  taskToken: 'secret-token',
  executionArn,
  application: 'hello-api',
  image: { repository: 'hello-api', tag: 'v1.2.0', digest, reference: `u@${digest}` },
  versionLabel: 'v1.2.0-abcdef012345',
  sourceEnvironment: 'hello-api-dev',
  targetEnvironment: 'hello-api-prod',
  runningInTarget: 'v1.1.0-111111111111',
  pushedBy: ci,
  pushers: [ci],
  separationOfDuties: 'enforced',
  sameRolePolicy: 'strict',
  approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'],
  requestedAt: '2025-03-31T10:00:30.000Z',
  expiresAt: '2025-04-03T10:00:30.000Z',
  ...overrides,
});

const outcomes: Outcome[] = ['succeeded', 'already-deployed', 'failed', 'rejected', 'superseded', 'expired', 'unverified'];

describe('the subject', () => {
  it('is printable ASCII on one line and at most 99 characters for every outcome, however long the names', () => {
    const long = record({ application: `a-${'very-long-application-name-'.repeat(4)}`, image: { repository: 'r', tag: `v1.2.3-${'build.'.repeat(20)}`, digest, pushedBy: null, pushedAt: null } });
    for (const outcome of outcomes) {
      for (const notification of [outcomeNotification({ ...record(), outcome }), outcomeNotification({ ...long, outcome })]) {
        expect(notification.subject.length, outcome).toBeLessThanOrEqual(maxSubjectLength);
        expect(notification.subject, outcome).toMatch(/^greenlight: [\x20-\x7e]+$/);
      }
    }
    const approval = approvalNotification(pending({ application: 'ü'.repeat(100), targetEnvironment: 'prod\nwith a line break' }));
    expect(approval.subject.length).toBeLessThanOrEqual(maxSubjectLength);
    expect(approval.subject).toMatch(/^[\x20-\x7e]+$/);
  });

  it('says what happened and where', () => {
    expect(outcomeNotification(record()).subject).toBe('greenlight: hello-api v1.2.0 deployed to hello-api-prod');
    expect(outcomeNotification(rolledBack()).subject).toBe('greenlight: hello-api v1.2.0 FAILED in hello-api-dev, rolled back');
    expect(outcomeNotification({ ...rolledBack(), error: 'RollbackFailedError' }).subject).toMatch(/rollback failed: ACTION NEEDED$/);
    expect(outcomeNotification(record({ outcome: 'unverified', error: 'DeploymentUnverifiedError' })).subject).toBe('greenlight: hello-api v1.2.0 UNVERIFIED in hello-api-prod: ACTION NEEDED');
    expect(approvalNotification(pending()).subject).toBe('greenlight: hello-api v1.2.0 waits for approval to hello-api-prod');
  });

  it('shortens with an ellipsis rather than cutting a word in half without saying so', () => {
    expect(subjectLine('x'.repeat(200))).toBe(`${'x'.repeat(96)}...`);
    expect(subjectLine('café → prod')).toBe('cafe ? prod');
  });
});

describe('message attributes', () => {
  it('carry application, environment, outcome, version, digest, tag, pusher, approver and deployment as String values', () => {
    expect(outcomeNotification(record()).attributes).toEqual({
      application: 'hello-api',
      environment: 'hello-api-prod',
      outcome: 'succeeded',
      version: 'v1.2.0-abcdef012345',
      digest,
      tag: 'v1.2.0',
      pusher: ci,
      approver: alice,
      deployment: 'hello-api-v1-2-0-0123456789abcdef',
    });
    const input = publishInput('arn:aws:sns:eu-west-1:123456789012:t', outcomeNotification(record()));
    for (const attribute of Object.values(input.MessageAttributes!)) expect(attribute).toEqual({ DataType: 'String', StringValue: expect.stringMatching(/./) });
  });

  it('leave out what is unknown instead of sending an empty value (SNS refuses one)', () => {
    const rejected = record({ outcome: 'rejected', application: null, versionLabel: null, bundle: null, images: null, stages: [], approvals: [], error: 'TagPolicyViolationError', cause: 'the tag latest is never deployed' });
    expect(outcomeNotification(rejected).attributes).toEqual({ outcome: 'rejected', digest, tag: 'v1.2.0', deployment: rejected.deploymentId });
    expect(outcomeNotification({ ...rejected, image: null }).attributes).toEqual({ outcome: 'rejected', deployment: rejected.deploymentId });
    expect(outcomeNotification({ ...rejected, application: '' }).attributes).not.toHaveProperty('application');
  });

  it('name the rejecter as the approver of a rejected promotion, and no approver while an approval waits', () => {
    const refused = record({
      outcome: 'rejected',
      stages: [record().stages[0]!],
      approvals: [{ environment: 'hello-api-prod', decision: 'reject', approver: alice, comment: 'not during the sale', at: 'x', separationOfDuties: null, sameRolePolicy: null, pushers: [] }],
      error: 'ApprovalRejectedError',
    });
    const notification = outcomeNotification(refused);
    expect(notification.attributes).toMatchObject({ outcome: 'rejected', environment: 'hello-api-prod', approver: alice });
    expect(notification.subject).toBe('greenlight: hello-api v1.2.0 rejected for hello-api-prod by release-managers/alice');
    expect(notification.text).toContain('rejected for hello-api-prod by arn:aws:sts::123456789012:assumed-role/release-managers/alice: “not during the sale”');
    expect(approvalNotification(pending()).attributes).toEqual({
      application: 'hello-api',
      environment: 'hello-api-prod',
      outcome: 'awaiting-approval',
      version: 'v1.2.0-abcdef012345',
      digest,
      tag: 'v1.2.0',
      pusher: ci,
      deployment: 'hello-api-v1-2-0-0123456789abcdef',
    });
  });
});

describe('the text people read', () => {
  it('says what, where, who and why, with the version it went back to', () => {
    const { text } = outcomeNotification(rolledBack());
    expect(text.split('\n')[0]).toBe('hello-api v1.2.0 failed in hello-api-dev and was rolled back to v1.1.0-111111111111.');
    expect(text).toMatch(/\n {2}why +hello-api-dev did not become healthy: Failed to deploy application\. Rolled back to v1\.1\.0-111111111111\.\n/);
    expect(text).toMatch(/\n {2}outcome +failed \(DeploymentFailedError\)\n/);
    expect(text).toMatch(/\n {2}started +2025-03-31T10:00:00\.000Z \(took 3m 12s\)\n/);
    expect(text).toContain('greenlight show hello-api-v1-2-0-0123456789abcdef');
  });

  it('names who pushed and who approved, with the comment', () => {
    const { text } = outcomeNotification(record());
    expect(text).toMatch(new RegExp(`\\n {2}pushed by +${ci}\\n`));
    expect(text).toMatch(new RegExp(`\\n {2}approved by +${alice} for hello-api-prod: “ship it”\\n`));
    expect(text).toMatch(/\n {2}environments +hello-api-dev → hello-api-prod\n/);
    expect(text).not.toMatch(/\n {2}why /);
  });

  it('keeps the approval message: the pusher rule, the expiry and the commands to decide with', () => {
    const { text } = approvalNotification(pending({ separationOfDuties: 'off' }));
    expect(text.split('\n')[0]).toBe('hello-api v1.2.0 is healthy in hello-api-dev and waits for your approval to deploy to hello-api-prod.');
    expect(text).toContain('separation of duties is OFF for this stage');
    expect(text).toContain('greenlight approve hello-api-v1-2-0-0123456789abcdef --comment "…"');
    expect(text).toContain('greenlight reject hello-api-v1-2-0-0123456789abcdef --reason "…"');
    expect(text).not.toContain('secret-token');
    expect(approvalNotification(pending(), { unknownPusher: 'CloudTrail said no' }).text).toContain('not known for sure yet (CloudTrail said no); approval is refused until it is');
  });
});

describe('links', () => {
  it('point at the execution in the Step Functions console and the image by digest in the ECR console', () => {
    expect(executionConsoleUrl(executionArn)).toBe(`https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${executionArn}`);
    expect(imageConsoleUrl(executionArn, { repository: 'team/hello-api', digest })).toBe(
      `https://eu-west-1.console.aws.amazon.com/ecr/repositories/private/123456789012/team/hello-api/_/image/${digest}/details?region=eu-west-1`,
    );
    expect(executionConsoleUrl(executionArn.replace('arn:aws:', 'arn:aws-cn:').replace('eu-west-1', 'cn-north-1'))).toMatch(/^https:\/\/cn-north-1\.console\.amazonaws\.cn\/states\//);
    expect(executionConsoleUrl('arn:aws-iso:states:x:1:execution:a:b')).toBeNull();
    expect(executionConsoleUrl('not an arn')).toBeNull();
  });

  it('fill the configured change link with the tag, digest and repository, encoded', () => {
    const image = { repository: 'team/hello-api', tag: 'v1.2.0+build.7', digest };
    expect(changeUrl('https://github.com/org/hello-api/releases/tag/{tag}', image)).toBe('https://github.com/org/hello-api/releases/tag/v1.2.0%2Bbuild.7');
    expect(changeUrl('https://ci.example.com/{repository}/{digest}', image)).toBe(`https://ci.example.com/team/hello-api/${digest}`);
    expect(changeUrl(undefined, image)).toBeNull();
  });

  it('appear in the text and in the chat message, the change link only where configured', () => {
    const links = { change: 'https://github.com/org/hello-api/commit/{tag}' };
    for (const notification of [approvalNotification(pending(), { links }), outcomeNotification(record(), { links })]) {
      for (const url of [executionConsoleUrl(executionArn)!, imageConsoleUrl(executionArn, { repository: 'hello-api', digest })!, 'https://github.com/org/hello-api/commit/v1.2.0']) {
        expect(notification.text).toContain(url);
        expect(notification.chat.content.nextSteps).toContainEqual(expect.stringContaining(url));
      }
    }
    expect(outcomeNotification(record()).text).not.toContain('github.com');
    expect(outcomeNotification(record({ image: null })).text).not.toContain('/ecr/');
  });
});

describe('the chat message (AWS Chatbot custom notification)', () => {
  it('has the custom-notification schema and threads the approval and the outcome of one deployment', () => {
    const waiting = approvalNotification(pending()).chat;
    const deployed = outcomeNotification(record()).chat;
    for (const chat of [waiting, deployed]) {
      expect(chat).toMatchObject({ version: '1.0', source: 'custom', content: { textType: 'client-markdown' }, metadata: { threadId: 'hello-api-v1-2-0-0123456789abcdef' } });
      expect(chat.content.description.length).toBeGreaterThan(0);
    }
    expect(deployed.metadata.additionalContext).toEqual(outcomeNotification(record()).attributes);
  });

  it('puts every value a person or a push chose in an inert code span: no markup, mention or link gets through', () => {
    const hostile = '*bold* _it_ ~x~ `code` <!here> <https://evil.example|click> & [x](https://evil.example) |pipe|';
    const notifications: Notification[] = [
      outcomeNotification(record({ application: hostile, approvals: [{ ...record().approvals[0]!, comment: `${hostile}\nsecond line` }] })),
      outcomeNotification(record({ outcome: 'failed', error: 'DeploymentFailedError', cause: hostile })),
      approvalNotification(pending({ application: hostile, runningInTarget: hostile })),
    ];
    for (const { chat, text } of notifications) {
      for (const line of [chat.content.title, ...chat.content.description.split('\n')]) {
        // Outside the code spans only our own words; inside them nothing Slack, Teams or Chime read as markup.
        const spans = [...line.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
        const outside = line.replace(/`[^`]*`/g, '');
        expect(outside, line).not.toMatch(/[<>&*_~|[\]]/);
        for (const span of spans) expect(span, line).not.toMatch(/[<>&`\n]/);
      }
      expect(chat.content.description).not.toContain('second line\n');
      // E-mail is plain text: the values as they are.
      expect(text).toContain(hostile);
    }
    expect(chatValue('a`b<c>d&e')).toBe('`aʼb‹c›d＆e`');
    expect(chatValue('x'.repeat(400))).toHaveLength(302);
  });

  it('reads principals as people know them', () => {
    expect(principalName(alice)).toBe('release-managers/alice');
    expect(principalName('arn:aws:iam::123456789012:user/bob')).toBe('user/bob');
    expect(principalName('someone')).toBe('someone');
  });
});

describe('publishing', () => {
  const sns = mockClient(SNSClient);
  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('publishes one message per protocol: text by default and for e-mail, the chat JSON over HTTPS, with the attributes', async () => {
    const notification = outcomeNotification(record());
    expect(await publish(sns as unknown as SNSClient, 'arn:aws:sns:eu-west-1:123456789012:greenlight-prod-notifications', notification)).toBe('m-1');
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ TopicArn: 'arn:aws:sns:eu-west-1:123456789012:greenlight-prod-notifications', Subject: notification.subject, MessageStructure: 'json' });
    const protocols = JSON.parse(input.Message!);
    expect(Object.keys(protocols).sort()).toEqual(['default', 'email', 'https']);
    expect(protocols.default).toBe(notification.text);
    expect(protocols.email).toBe(notification.text);
    expect(JSON.parse(protocols.https)).toEqual(notification.chat);
    expect(Object.fromEntries(Object.entries(input.MessageAttributes!).map(([name, value]) => [name, value.StringValue]))).toEqual(notification.attributes);
    expect(Buffer.byteLength(input.Message!)).toBeLessThan(256 * 1024);
  });
});

describe('links in the configuration', () => {
  const withLinks = (links: string) => `
applications:
  hello-api:
    images: [hello-api]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages: [{ environment: hello-api-dev, tags: ['v*'] }]
    links: ${links}
`;

  it('accepts an https change link with the placeholders tag, digest and repository', () => {
    const app = parseConfig(withLinks("{ change: 'https://github.com/org/repo/commit/{tag}?d={digest}&r={repository}' }")).applications['hello-api']!;
    expect(app.links).toEqual({ change: 'https://github.com/org/repo/commit/{tag}?d={digest}&r={repository}' });
    expect(parseConfig(withLinks('{}')).applications['hello-api']!.links).toEqual({});
  });

  it('refuses a link that is not https, an unknown placeholder and an unknown kind of link', () => {
    expect(() => parseConfig(withLinks("{ change: 'http://github.com/{tag}' }"))).toThrow(/links\.change: a link is an https:\/\/ URL/);
    expect(() => parseConfig(withLinks("{ change: 'https://github.com/{branch}' }"))).toThrow(/only use the placeholders \{tag\}, \{digest\}, \{repository\}/);
    expect(() => parseConfig(withLinks("{ runbook: 'https://wiki' }"))).toThrow(/links/);
  });
});
