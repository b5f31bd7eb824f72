import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApprovalApi } from '../../cli/approval-client.ts';
import { csvHeader } from '../../cli/commands/history.ts';
import { type AuditInput, recordAudit } from '../../shared/audit.ts';
import { type AuditRow, historyParts } from '../../shared/audit-read.ts';
import type { Timeline } from '../../shared/contracts.ts';
import { type Finished, type Pipeline, digestOfSample, startPipeline, statesEntered } from './harness.ts';
import { runGreenlight } from '../cli/in-process.ts';

const configPath = new URL('../fixtures/approval.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

const keys = {
  alice: { accessKeyId: 'alice', secretAccessKey: 'alice-secret' },
  carol: { accessKeyId: 'carol', secretAccessKey: 'carol-secret' },
};
const alice = 'arn:aws:sts::000000000000:assumed-role/release-managers/alice';
const carol = 'arn:aws:sts::000000000000:assumed-role/release-managers/carol';
const ci = 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci';

const greenlight = runGreenlight;

const history = async (...args: string[]): Promise<AuditRow[]> => {
  const run = await greenlight('history', '--json', ...args);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
};
const show = async (...args: string[]): Promise<Timeline & { readFrom: string }> => {
  const run = await greenlight('show', '--json', ...args);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
};
const nameOf = (run: Finished) => run.description.name!;

async function pendingFor(executionArn: string): Promise<{ id: string }> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const { pending } = await callApprovalApi(pipeline.stack.approvalUrl!, 'GET', '/pending', undefined, keys.alice);
    const found = pending.find((p: { executionArn: string }) => p.executionArn === executionArn);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no approval was requested');
}
const decide = (who: keyof typeof keys, id: string, decision: 'approve' | 'reject', comment: string) =>
  callApprovalApi(pipeline.stack.approvalUrl!, 'POST', `/approvals/${id}`, { decision, comment }, keys[who]);

/** The pushes, oldest first: each path to a terminal outcome that the pipeline records. */
const runs: Record<string, Finished> = {};
let waiting: { timeline: Timeline; rows: AuditRow[] };

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
  // As a user would after `greenlight local` (AWS_ENDPOINT_URL and AWS_REGION are set by the stack).
  process.env.GREENLIGHT_AUDIT_BUCKET = pipeline.stack.auditBucket;
  process.env.GREENLIGHT_STATE_MACHINE_ARN = pipeline.stack.stateMachineArn;

  runs.first = await pipeline.deploy('hello-api', 'v0.1.0');
  runs.latest = await pipeline.deploy('hello-api', 'latest');
  pipeline.stack.aws.faults.failingImages = [digestOfSample('hello-api:v0.2.0')];
  runs.broken = await pipeline.deploy('hello-api', 'v0.2.0');
  pipeline.stack.aws.faults.failingImages = [];
  runs.old = await pipeline.deploy('hello-api', 'v0.3.0', 'old-bytes');
  runs.newer = await pipeline.deploy('hello-api', 'v0.4.0', 'new-bytes');
  runs.retag = await pipeline.deploy('hello-api', 'v0.3.1', 'old-bytes'); // an older push's bytes: superseded

  const promotion = await pipeline.start('hello-api', 'v1.0.0');
  const asked = await pendingFor(promotion.executionArn);
  waiting = { timeline: await show(promotion.executionArn.split(':').pop()!), rows: await history() };
  await decide('alice', asked.id, 'approve', 'ship it');
  runs.promoted = await pipeline.finish(promotion.executionArn);

  const refused = await pipeline.start('hello-api', 'v1.1.0');
  await decide('carol', (await pendingFor(refused.executionArn)).id, 'reject', 'not during the sale');
  runs.refused = await pipeline.finish(refused.executionArn);

  const reports = await pipeline.start('reports', 'v1.0.0');
  await pendingFor(reports.executionArn);
  runs.expired = await pipeline.finish(reports.executionArn); // its approval times out after 2 s
}, 120_000);
afterAll(() => pipeline?.close());

describe('greenlight history', () => {
  it('lists every deployment newest first with its outcome, from the index alone', async () => {
    expect(statesEntered(runs.retag!.history)).toContain('Superseded');
    const rows = await history();
    const order = ['expired', 'refused', 'promoted', 'retag', 'newer', 'old', 'broken', 'latest', 'first'];
    expect(rows.map((r) => r.deploymentId)).toEqual(order.map((k) => nameOf(runs[k]!)));
    expect(rows.map((r) => r.outcome)).toEqual(['expired', 'rejected', 'succeeded', 'superseded', 'succeeded', 'succeeded', 'failed', 'rejected', 'succeeded']);
    const started = rows.map((r) => Date.parse(r.startedAt));
    expect(started).toEqual([...started].sort((a, b) => b - a));
  });

  it('shows who pushed, who approved or rejected, where, and how long it took', async () => {
    const byId = new Map((await history()).map((r) => [r.deploymentId, r]));
    expect(byId.get(nameOf(runs.promoted!))).toMatchObject({
      application: 'hello-api',
      environments: ['hello-api-dev', 'hello-api-prod'],
      repository: 'hello-api',
      tag: 'v1.0.0',
      shortDigest: runs.promoted!.output.plan.image.digest.slice(7, 19),
      pushedBy: ci,
      approvedBy: [alice],
      rejectedBy: null,
    });
    expect(byId.get(nameOf(runs.refused!))).toMatchObject({ outcome: 'rejected', rejectedBy: carol, approvedBy: [], environments: expect.arrayContaining(['hello-api-prod']) });
    expect(byId.get(nameOf(runs.latest!))).toMatchObject({ outcome: 'rejected', application: null, tag: 'latest', environments: [], approvedBy: [], rejectedBy: null });
    const first = byId.get(nameOf(runs.first!))!;
    const took = runs.first!.description.stopDate!.getTime() - runs.first!.description.startDate!.getTime();
    expect(first.durationMs).toBeGreaterThan(0);
    expect(first.durationMs).toBeLessThanOrEqual(took);
    expect(first.recordKey).toBe(runs.first!.output.audit.key);
  });

  it('filters by application, environment and outcome', async () => {
    expect((await history('--app', 'reports')).map((r) => r.deploymentId)).toEqual([nameOf(runs.expired!)]);
    expect((await history('--env', 'hello-api-prod')).map((r) => r.deploymentId)).toEqual([nameOf(runs.refused!), nameOf(runs.promoted!)]);
    expect((await history('--env', 'hello-api-dev')).map((r) => r.deploymentId)).toEqual(expect.arrayContaining([nameOf(runs.promoted!), nameOf(runs.newer!), nameOf(runs.first!)]));
    expect((await history('--outcome', 'failed')).map((r) => r.deploymentId)).toEqual([nameOf(runs.broken!)]);
    expect((await history('--outcome', 'deployed', '--app', 'hello-api')).map((r) => r.deploymentId)).toEqual(['promoted', 'newer', 'old', 'first'].map((k) => nameOf(runs[k]!)));
    expect((await history('--outcome', 'rejected,superseded')).map((r) => r.outcome)).toEqual(['rejected', 'superseded', 'rejected']);
    expect(await history('--limit', '2')).toHaveLength(2);
  });

  it('keeps to a period with --since and --until', async () => {
    const all = await history();
    const from = all.find((r) => r.deploymentId === nameOf(runs.old!))!.startedAt;
    const to = all.find((r) => r.deploymentId === nameOf(runs.promoted!))!.startedAt;
    expect((await history('--since', from)).map((r) => r.deploymentId)).toEqual(all.slice(0, all.findIndex((r) => r.startedAt === from) + 1).map((r) => r.deploymentId));
    expect((await history('--since', from, '--until', to)).map((r) => r.deploymentId)).toEqual(['promoted', 'retag', 'newer', 'old'].map((k) => nameOf(runs[k]!)));
    expect(await history('--since', '1h')).toHaveLength(all.length);
    expect(await history('--until', '2000-01-01')).toEqual([]);
  });

  it('shows a deployment waiting for approval as running, merged with the recorded ones', () => {
    expect(waiting.rows[0]).toMatchObject({ deploymentId: nameOf(runs.promoted!), outcome: 'running', finishedAt: null, recordKey: null, application: 'hello-api' });
    expect(waiting.rows.slice(1).map((r) => r.deploymentId)).toEqual(['retag', 'newer', 'old', 'broken', 'latest', 'first'].map((k) => nameOf(runs[k]!)));
    expect(waiting.timeline).toMatchObject({ outcome: 'running', readFrom: 'execution', finishedAt: null });
    expect(waiting.timeline.approvals).toEqual([expect.objectContaining({ environment: 'hello-api-prod', decision: 'waiting', approvers: ['arn:aws:sts::*:assumed-role/release-managers/*'] })]);
    expect(waiting.timeline.steps.at(-1)).toMatchObject({ name: 'Request Approval', environment: 'hello-api-prod', result: 'running' });
  });

  it('writes CSV a spreadsheet reads, and a table a person reads', async () => {
    const csv = await greenlight('history', '--csv', '--app', 'hello-api');
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trimEnd().split('\r\n').map((line) => line.split(','));
    expect(lines[0]).toEqual(csvHeader);
    expect(lines).toHaveLength(1 + 7); // the hello-api pushes but latest, refused before any plan named its application
    const promoted = lines.find((l) => l[csvHeader.indexOf('deployment_id')] === nameOf(runs.promoted!))!;
    expect(promoted[csvHeader.indexOf('environments')]).toBe('hello-api-dev hello-api-prod');
    expect(promoted[csvHeader.indexOf('approved_by')]).toBe(alice);
    const table = await greenlight('history', '--app', 'reports');
    expect(table.stdout).toMatch(/reports\s+[\w,-]*reports-prod\s+v1\.0\.0\s+[0-9a-f]{12}\s+expired/);
  });

  it('says what is wrong with a bad filter or a missing bucket, and exits 2', async () => {
    const bad = await greenlight('history', '--since', 'yesterday');
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toMatch(/--since "yesterday" is neither a duration \(90m, 12h, 30d, 2w\) nor a date/);
    expect((await greenlight('history', '--outcome', 'green')).stderr).toMatch(/unknown outcome green: use succeeded, already-deployed, failed/);
    const saved = { bucket: process.env.GREENLIGHT_AUDIT_BUCKET, endpoint: process.env.AWS_ENDPOINT_URL };
    try {
      delete process.env.GREENLIGHT_AUDIT_BUCKET;
      delete process.env.AWS_ENDPOINT_URL;
      const missing = await greenlight('history');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('set GREENLIGHT_AUDIT_BUCKET');
    } finally {
      Object.assign(process.env, { GREENLIGHT_AUDIT_BUCKET: saved.bucket, AWS_ENDPOINT_URL: saved.endpoint });
    }
    const wrong = await greenlight('history', '--bucket', 'no-such-bucket', '--no-running');
    expect(wrong).toMatchObject({ code: 1 });
    expect(wrong.stderr).toContain('the audit bucket no-such-bucket does not exist');
  });
});

describe('greenlight show', () => {
  it('tells the whole story from the execution: every step, the approval with its comment, EB events of our requests', async () => {
    const t = await show(nameOf(runs.promoted!));
    expect(t).toMatchObject({ readFrom: 'execution', source: 'execution-history', outcome: 'succeeded', application: 'hello-api', environments: ['hello-api-dev', 'hello-api-prod'], recordKey: runs.promoted!.output.audit.key });
    const steps = t.steps.map((s) => `${s.environment ?? '-'} ${s.name} ${s.result}`);
    expect(steps).toEqual(
      expect.arrayContaining(['- Resolve Plan succeeded', 'hello-api-dev Deploy succeeded', 'hello-api-dev Check Health succeeded', 'hello-api-prod Request Approval succeeded', 'hello-api-prod Deploy succeeded']),
    );
    expect(steps.indexOf('hello-api-prod Request Approval succeeded')).toBeGreaterThan(steps.indexOf('hello-api-dev Check Health succeeded'));
    expect(t.steps.every((s) => s.endedAt && s.endedAt >= s.startedAt)).toBe(true);
    expect(t.approvals).toEqual([
      expect.objectContaining({ environment: 'hello-api-prod', decision: 'approve', approver: alice, comment: 'ship it', pushers: [ci], requestedAt: expect.any(String) }),
    ]);
    expect(new Set(t.ebEvents.map((e) => e.environment))).toEqual(new Set(['hello-api-dev', 'hello-api-prod']));
    expect(t.ebEvents.some((e) => e.message === 'Environment update completed successfully.')).toBe(true);
    const text = await greenlight('show', nameOf(runs.promoted!));
    expect(text.stdout).toContain('approved by arn:aws:sts::000000000000:assumed-role/release-managers/alice');
    expect(text.stdout).toContain('“ship it”');
  });

  it('shows a failure with the step that failed, the rollback and EB’s errors', async () => {
    const t = await show(runs.broken!.description.executionArn!);
    expect(t).toMatchObject({ outcome: 'failed', error: 'DeploymentFailedError' });
    expect(t.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['Check Health', 'Roll Back', 'Check Rollback Health', 'Deployment Rolled Back']));
    expect(t.steps.find((s) => s.name === 'Deployment Rolled Back')).toMatchObject({ result: 'failed', error: 'DeploymentFailedError', environment: 'hello-api-dev' });
    expect(t.ebEvents.filter((e) => e.severity === 'ERROR').length).toBeGreaterThan(0);
    expect(t.ebEvents.some((e) => e.kind === 'rollback')).toBe(true);
  });

  it('reads the same deployment from its audit record once the execution is gone', async () => {
    for (const run of [runs.promoted!, runs.refused!, runs.latest!, runs.broken!]) {
      const live = await show(nameOf(run));
      const kept = await show(nameOf(run), '--from-record');
      expect(kept.readFrom).toBe('record');
      const header = ({ deploymentId, executionArn, outcome, startedAt, finishedAt, application, image, versionLabel, error, cause, recordKey }: Timeline) =>
        ({ deploymentId, executionArn, outcome, startedAt, finishedAt, application, image, versionLabel, error, cause, recordKey });
      expect(header(kept)).toEqual(header(live));
    }
    const refused = await show(nameOf(runs.refused!), '--from-record');
    expect(refused.approvals).toEqual([expect.objectContaining({ environment: 'hello-api-prod', decision: 'reject', approver: carol, comment: 'not during the sale' })]);
    const promoted = await show(nameOf(runs.promoted!), '--from-record');
    expect(promoted.approvals).toEqual([expect.objectContaining({ environment: 'hello-api-prod', decision: 'approve', approver: alice, comment: 'ship it' })]);
    expect(promoted.steps.filter((s) => s.name === 'Deploy').map((s) => s.environment)).toEqual(['hello-api-dev', 'hello-api-prod']);
  });

  it('gives exactly the execution’s view from a record written with the execution history', async () => {
    // recordAudit as the Lambda runs it when it is given Step Functions and EB clients, into a bucket of its own.
    const bucket = 'history-test-records';
    await pipeline.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const run of [runs.promoted!, runs.broken!, runs.refused!]) {
      const input = historyParts(run.history).audit!.input as AuditInput;
      await recordAudit({ s3: pipeline.s3, sfn: pipeline.sfn, eb: pipeline.eb }, { bucket, releaseBucket: pipeline.stack.bundleBucket, input });
      const live = await show(nameOf(run));
      const kept = await show(nameOf(run), '--from-record', '--bucket', bucket);
      expect(kept).toMatchObject({ readFrom: 'record', source: 'execution-history' });
      const { readFrom: _a, finishedAt: _b, ...fromRecord } = kept;
      const { readFrom: _c, finishedAt: _d, ...fromExecution } = live;
      expect(fromRecord).toEqual(fromExecution);
    }
  });

  it('says so when there is no such deployment', async () => {
    const run = await greenlight('show', 'hello-api-v9-9-9-0000000000000000');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no deployment hello-api-v9-9-9-0000000000000000: no such execution; no audit record in s3://greenlight-local-audit');
  });
});

describe('audit records', () => {
  it('are never overwritten: a second recordAudit for the same deployment keeps the first record and its index entry', async () => {
    const run = runs.first!;
    const key = run.output.audit.key as string;
    const before = await pipeline.object(pipeline.stack.auditBucket, key);
    const indexBefore = (await pipeline.objectKeys(pipeline.stack.auditBucket)).filter((k) => k.includes(nameOf(run)));
    const input = { ...(historyParts(run.history).audit!.input as AuditInput), outcome: 'failed' as const };
    const again = await recordAudit({ s3: pipeline.s3 }, { bucket: pipeline.stack.auditBucket, releaseBucket: pipeline.stack.bundleBucket, input });
    expect(again).toMatchObject({ key, outcome: 'succeeded' });
    expect(await pipeline.object(pipeline.stack.auditBucket, key)).toEqual(before);
    expect((await pipeline.objectKeys(pipeline.stack.auditBucket)).filter((k) => k.includes(nameOf(run)))).toEqual(indexBefore);
    expect(indexBefore).toHaveLength(3); // the record, its by-time and its by-id entry
    expect((await history()).filter((r) => r.deploymentId === nameOf(run)).map((r) => r.outcome)).toEqual(['succeeded']);
  });
});
