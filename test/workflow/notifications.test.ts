/**
 * Every terminal path of a deployment, and the approval that waits, ends in one notification on the
 * topic: text for e-mail, the Chatbot custom-notification JSON for HTTPS subscribers, and String
 * message attributes (unknown values left out) for subscription filter policies.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DeleteTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { callApprovalApi } from '../../cli/approval-client.ts';
import { messageFor, type PublishedMessage } from '../../local/services/sns.ts';
import { type Finished, type Pipeline, digestOfSample, startPipeline, statesEntered } from './harness.ts';

const fixture = new URL('../fixtures/approval.greenlight.yml', import.meta.url).pathname;
const ci = 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci';
const alice = { accessKeyId: 'alice', secretAccessKey: 'alice-secret' };
const aliceArn = 'arn:aws:sts::000000000000:assumed-role/release-managers/alice';
let pipeline: Pipeline;

/**
 * The approval fixture with a change link for hello-api (test/fixtures/approval.greenlight.yml is
 * shared with other tests): bundle paths made absolute, so the copy may live in a temporary folder.
 */
function configWithChangeLink(): string {
  const config = parse(readFileSync(fixture, 'utf8'));
  for (const app of Object.values<any>(config.applications)) {
    for (const key of ['dockerrun', 'compose', 'ebextensions']) if (app.bundle[key]) app.bundle[key] = resolve(dirname(fixture), app.bundle[key]);
  }
  config.applications['hello-api'].links = { change: 'https://github.com/example/hello-api/releases/tag/{tag}' };
  const path = join(mkdtempSync(join(tmpdir(), 'greenlight-notify-')), 'greenlight.yml');
  writeFileSync(path, stringify(config));
  return path;
}

const nameOf = (run: { description: { name?: string } } | string) => (typeof run === 'string' ? run.split(':').pop()! : run.description.name!);

/** The notifications of one deployment, in the order they were published. */
const notificationsOf = (run: Finished | string): PublishedMessage[] => pipeline.stack.aws.sns.messages.filter((m) => m.attributes?.deployment?.value === nameOf(run));

/** The one notification of a deployment's outcome (the approval request, if any, comes before it). */
function outcomeOf(run: Finished): PublishedMessage {
  const sent = notificationsOf(run).filter((m) => m.attributes?.outcome?.value !== 'awaiting-approval');
  expect(sent, `notifications of ${nameOf(run)}`).toHaveLength(1);
  return sent[0]!;
}

/** The attributes as a subscription's filter policy sees them: name → String value. */
function attributes(message: PublishedMessage): Record<string, string> {
  for (const [name, attribute] of Object.entries(message.attributes ?? {})) expect(attribute.dataType, name).toBe('String');
  return Object.fromEntries(Object.entries(message.attributes ?? {}).map(([name, attribute]) => [name, attribute.value]));
}

/** The Chatbot custom notification an HTTPS subscriber (AWS Chatbot) receives. */
function chatOf(message: PublishedMessage): any {
  const chat = JSON.parse(messageFor(message, 'https'));
  expect(chat).toMatchObject({ version: '1.0', source: 'custom', content: { textType: 'client-markdown' } });
  expect(chat.metadata.threadId).toBe(message.attributes?.deployment?.value);
  return chat;
}

/** Checks the parts every notification has: a subject SNS accepts, text for e-mail equal to the default, the chat form. */
function expectWellFormed(message: PublishedMessage): void {
  expect(message.subject).toMatch(/^greenlight: [\x20-\x7e]{1,87}$/);
  expect(messageFor(message, 'email')).toBe(message.message);
  expect(message.message).toContain('https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:000000000000:execution:');
  chatOf(message);
}

const releaseOf = (run: Finished) => run.output.stages?.[0]?.release?.versionLabel as string;

async function pendingFor(executionArn: string): Promise<{ id: string }> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const { pending } = await callApprovalApi(pipeline.stack.approvalUrl!, 'GET', '/pending', undefined, alice);
    const found = pending.find((p: { executionArn: string }) => p.executionArn === executionArn);
    if (found) return found;
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error('no approval was requested');
}

beforeAll(async () => {
  pipeline = await startPipeline({ configPath: configWithChangeLink() });
});
afterAll(() => pipeline?.close());

describe('a notification for every outcome', () => {
  const runs: Record<string, Finished & { digest: string }> = {};

  it('deployed: what, where, the version and digest, links to the execution, the image and the change', async () => {
    runs.first = await pipeline.deploy('hello-api', 'v0.1.0');
    expect(runs.first.description.status).toBe('SUCCEEDED');
    const message = outcomeOf(runs.first);
    expectWellFormed(message);
    expect(message.subject).toBe('greenlight: hello-api v0.1.0 deployed to hello-api-dev');
    expect(attributes(message)).toEqual({
      application: 'hello-api',
      environment: 'hello-api-dev',
      outcome: 'succeeded',
      version: releaseOf(runs.first!),
      digest: runs.first.digest,
      tag: 'v0.1.0',
      // No pusher: the record names one only through an approval's pusher check (none on this path).
      deployment: nameOf(runs.first),
    });
    const digest = attributes(message).digest!;
    expect(message.message).toContain(`https://us-east-1.console.aws.amazon.com/ecr/repositories/private/000000000000/hello-api/_/image/${digest}/details?region=us-east-1`);
    expect(message.message).toContain('https://github.com/example/hello-api/releases/tag/v0.1.0');
    expect(message.message).toContain(`greenlight show ${nameOf(runs.first)}`);
    expect(chatOf(message).content.title).toContain('deployed to `hello-api-dev`');
  });

  it('already deployed: a second tag of the same image changes nothing and says so', async () => {
    runs.retag = await pipeline.deploy('hello-api', 'v0.1.1', 'hello-api:v0.1.0');
    const message = outcomeOf(runs.retag);
    expectWellFormed(message);
    expect(attributes(message)).toMatchObject({ outcome: 'already-deployed', environment: 'hello-api-dev', tag: 'v0.1.1', version: releaseOf(runs.first!) });
    expect(message.subject).toBe('greenlight: hello-api v0.1.1 already deployed in hello-api-dev, nothing changed');
  });

  it('failed and rolled back: where it failed, the version it went back to, and why in EB\'s words', async () => {
    pipeline.stack.aws.faults.failingImages = [digestOfSample('hello-api:v0.2.0')];
    runs.broken = await pipeline.deploy('hello-api', 'v0.2.0');
    pipeline.stack.aws.faults.failingImages = [];
    expect(runs.broken.description.error).toBe('DeploymentFailedError');
    const message = outcomeOf(runs.broken);
    expectWellFormed(message);
    expect(message.subject).toBe('greenlight: hello-api v0.2.0 FAILED in hello-api-dev, rolled back');
    expect(attributes(message)).toMatchObject({ application: 'hello-api', environment: 'hello-api-dev', outcome: 'failed', tag: 'v0.2.0', digest: runs.broken.digest });
    expect(message.message).toContain(`failed in hello-api-dev and was rolled back to ${releaseOf(runs.first!)}`);
    expect(message.message).toContain('Failed to deploy application');
  });

  it('superseded: a new tag on older bytes (an older push) stops and says it was superseded', async () => {
    await pipeline.deploy('hello-api', 'v0.3.0', 'old-bytes');
    await pipeline.deploy('hello-api', 'v0.4.0', 'new-bytes');
    // Retagging old bytes keeps their imagePushedAt: an older push, which never goes backwards.
    runs.retagOld = await pipeline.deploy('hello-api', 'v0.3.1', 'old-bytes');
    expect(statesEntered(runs.retagOld.history)).toContain('Superseded');
    const message = outcomeOf(runs.retagOld);
    expectWellFormed(message);
    expect(attributes(message)).toMatchObject({ outcome: 'superseded', environment: 'hello-api-dev', tag: 'v0.3.1', digest: runs.retagOld.digest });
    expect(message.subject).toBe('greenlight: hello-api v0.3.1 superseded in hello-api-dev');
    expect(message.message).toContain('was superseded in hello-api-dev');
  });

  it('rejected (tag latest): the reason, and no attribute for what the push never got (environment, version)', async () => {
    runs.latest = await pipeline.deploy('hello-api', 'latest');
    expect(runs.latest.description.error).toBe('TagPolicyViolationError');
    const message = outcomeOf(runs.latest);
    expectWellFormed(message);
    expect(attributes(message)).toEqual({ outcome: 'rejected', digest: runs.latest.digest, tag: 'latest', deployment: nameOf(runs.latest) });
    expect(message.subject).toMatch(/^greenlight: hello-api latest not deployed: rejected \(TagPolicyViolationError\)$/);
    expect(message.message).toMatch(/latest/);
    expect(message.message).toMatch(/immutable tag/);
  });
});

describe('promotions', () => {
  it('approval waiting: tells the approvers what waits, with the commands and the three links', async () => {
    const { executionArn, digest } = await pipeline.start('hello-api', 'v1.0.0');
    const { id } = await pendingFor(executionArn);
    const [waiting] = notificationsOf(executionArn);
    expectWellFormed(waiting!);
    expect(waiting!.subject).toBe('greenlight: hello-api v1.0.0 waits for approval to hello-api-prod');
    expect(attributes(waiting!)).toEqual({
      application: 'hello-api',
      environment: 'hello-api-prod',
      outcome: 'awaiting-approval',
      version: expect.stringMatching(/^v1\.0\.0-/),
      digest,
      tag: 'v1.0.0',
      pusher: ci,
      deployment: id,
    });
    for (const link of [
      `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${executionArn}`,
      `https://us-east-1.console.aws.amazon.com/ecr/repositories/private/000000000000/hello-api/_/image/${digest}/details?region=us-east-1`,
      'https://github.com/example/hello-api/releases/tag/v1.0.0',
    ]) {
      expect(waiting!.message).toContain(link);
      expect(chatOf(waiting!).content.nextSteps.join('\n')).toContain(link);
    }
    expect(waiting!.message).toContain(`greenlight approve ${id}`);

    await callApprovalApi(pipeline.stack.approvalUrl!, 'POST', `/approvals/${id}`, { decision: 'approve', comment: 'ship it' }, alice);
    const run = await pipeline.finish(executionArn);
    expect(run.description.status).toBe('SUCCEEDED');
    const deployed = outcomeOf(run);
    expect(attributes(deployed)).toMatchObject({ outcome: 'succeeded', environment: 'hello-api-prod', approver: aliceArn, pusher: ci });
    expect(deployed.message).toMatch(new RegExp(`\n  approved by +${aliceArn} for hello-api-prod: “ship it”\n`));
    expect(deployed.message).toMatch(new RegExp(`\n  pushed by +${ci}\n`));
    expect(notificationsOf(run).map((m) => attributes(m).outcome)).toEqual(['awaiting-approval', 'succeeded']);
  });

  it('expired: nobody decided in time, the target untouched', async () => {
    const { executionArn } = await pipeline.start('reports', 'v1.0.0');
    await pendingFor(executionArn);
    const run = await pipeline.finish(executionArn); // its approval times out after 2 s
    expect(run.description.error).toBe('ApprovalExpiredError');
    const message = outcomeOf(run);
    expectWellFormed(message);
    expect(message.subject).toBe('greenlight: reports v1.0.0 approval for reports-prod expired');
    expect(attributes(message)).toMatchObject({ application: 'reports', environment: 'reports-prod', outcome: 'expired', tag: 'v1.0.0' });
    expect(attributes(message)).not.toHaveProperty('approver');
    expect(message.message).toContain('reports-prod was not touched');
  });
});

describe('a notification that cannot be sent', () => {
  it('does not fail the deployment or its audit record', async () => {
    const sns = new SNSClient({ endpoint: pipeline.stack.endpoint, region: pipeline.stack.aws.region, credentials: { accessKeyId: 'ci', secretAccessKey: 'ci-secret' } });
    await sns.send(new DeleteTopicCommand({ TopicArn: pipeline.stack.topicArn }));
    try {
      const run = await pipeline.deploy('hello-api', 'v0.6.0');
      expect(run.description.status).toBe('SUCCEEDED');
      expect(statesEntered(run.history)).toContain('Record Success');
      expect(run.output.audit).toMatchObject({ outcome: 'succeeded' });
      expect(notificationsOf(run)).toEqual([]);
      const keys = await pipeline.objectKeys(pipeline.stack.auditBucket);
      expect(keys.some((key) => key.endsWith(`/${nameOf(run)}.json`))).toBe(true);
    } finally {
      pipeline.stack.aws.sns.createTopic(pipeline.stack.topicArn.split(':').pop()!);
    }
  });
});
