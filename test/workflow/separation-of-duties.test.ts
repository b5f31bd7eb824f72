import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApprovalApiError, callApprovalApi } from '../../cli/approval-client.ts';
import { sampleManifest } from '../../local/services/ecr.ts';
import { runGreenlightWith } from '../cli/in-process.ts';
import { type Pipeline, startPipeline } from './harness.ts';

// The CloudTrail rule is off in this configuration (the default): nothing records pushers on the side,
// so whatever greenlight knows of a pusher comes from CloudTrail's event history (LookupEvents).
const configPath = new URL('../fixtures/separation-of-duties.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

const keys = {
  ci: { accessKeyId: 'ci', secretAccessKey: 'ci-secret' },
  alice: { accessKeyId: 'alice', secretAccessKey: 'alice-secret' }, // release manager
  carol: { accessKeyId: 'carol', secretAccessKey: 'carol-secret' }, // release manager, same role as alice
};
type Who = keyof typeof keys;
const arnOf = { ci: 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci', carol: 'arn:aws:sts::000000000000:assumed-role/release-managers/carol' };

const api = (who: Who, method: 'GET' | 'POST', path: string, body?: unknown) => callApprovalApi(pipeline.stack.approvalUrl!, method, path, body, keys[who]);
const approve = (who: Who, id: string) => api(who, 'POST', `/approvals/${id}`, { decision: 'approve', comment: 'looks good' });
const reject = (who: Who, id: string) => api(who, 'POST', `/approvals/${id}`, { decision: 'reject', comment: 'not this one' });
const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: ApprovalApiError) => ({ status: error.status, code: error.code, message: error.message }));

/** The pending record alice sees once the execution asks for approval. */
const pendingFor = (executionArn: string) => pipeline.pendingApproval(executionArn, keys.alice);

/** The audit record of a finished execution. */
async function auditOf(executionArn: string) {
  const name = executionArn.split(':').pop()!;
  const key = (await pipeline.objectKeys(pipeline.stack.auditBucket)).find((k) => k.endsWith(`/${name}.json`));
  return JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.auditBucket, key!)));
}

const pusherRecords = async () => (await pipeline.objectKeys(pipeline.stack.approvalsBucket)).filter((key) => key.startsWith('pushers/'));

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

describe('separation of duties with the CloudTrail rule off', () => {
  it('refuses the pusher, whom CloudTrail event history names, and every other session of the same role', async () => {
    const { executionArn } = await pipeline.start('hello-api', 'v1.0.0', undefined, keys.carol);
    const pending = await pendingFor(executionArn);
    expect(pending).toMatchObject({ pushedBy: arnOf.carol, pushers: [arnOf.carol], separationOfDuties: 'enforced', sameRolePolicy: 'strict' });
    expect(await pusherRecords()).toEqual([]); // nothing recorded on the side: event history told

    expect(await refusal(approve('carol', pending.id))).toMatchObject({ status: 403, code: 'SelfApprovalError' });
    // alice and carol are two sessions of the role release-managers: one person under the strict default.
    expect(await refusal(approve('alice', pending.id))).toMatchObject({ status: 403, code: 'SelfApprovalError', message: expect.stringContaining('sessions of one role are one person') });
    expect(pipeline.stack.aws.sfn.execution(executionArn).status).toBe('RUNNING');

    await reject('alice', pending.id); // a rejection never deploys: nobody needs to be told apart for it
    expect((await pipeline.finish(executionArn)).description.error).toBe('ApprovalRejectedError');
    expect(pipeline.stack.aws.eb.environment('hello-api-prod')?.VersionLabel).toBeUndefined();
  });

  it('lets a release manager approve what CI pushed, and the audit record names approver, pushers and separation of duties', async () => {
    const { executionArn } = await pipeline.start('hello-api', 'v1.1.0');
    const pending = await pendingFor(executionArn);
    expect(pending.pushers).toEqual([arnOf.ci]);
    await approve('alice', pending.id);
    const run = await pipeline.finish(executionArn);
    expect(run.description.status).toBe('SUCCEEDED');
    expect((await auditOf(executionArn)).approvals).toEqual([
      expect.objectContaining({ environment: 'hello-api-prod', decision: 'approve', approver: expect.stringContaining('release-managers/alice'), separationOfDuties: 'enforced', sameRolePolicy: 'strict', pushers: [arnOf.ci] }),
    ]);
  });

  it('refuses the first pusher after someone else pushed the same digest again: both pushers count', async () => {
    const { executionArn, digest } = await pipeline.start('webhooks', 'v1.0.0', 'webhooks-release', keys.carol);
    const pending = await pendingFor(executionArn);
    // CI pushes the very same bytes under another tag (a tag no stage deploys).
    expect(await pipeline.push('webhooks', 'ci-copy', 'webhooks-release')).toBe(digest);
    await pipeline.stack.aws.bus.settle();

    expect(await refusal(approve('carol', pending.id))).toMatchObject({ status: 403, code: 'SelfApprovalError' });
    // per-session: alice's session is not carol's, and alice pushed nothing.
    const decided = await approve('alice', pending.id);
    expect(decided.pushers).toEqual([arnOf.ci, arnOf.carol].sort());
    expect((await pipeline.finish(executionArn)).description.status).toBe('SUCCEEDED');
  });

  it('refuses an approval when nobody can say who pushed, naming how to fix it', async () => {
    // Seeded straight into the registry: no PutImage call, so CloudTrail has no record of it.
    const { sfn, stack } = pipeline;
    const before = new Set((await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }))).executions?.map((e) => e.executionArn));
    stack.aws.ecr.putImage('hello-api', sampleManifest('hello-api-unknown'), 'v2.0.0');
    await stack.aws.bus.settle();
    const listed = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }))).executions ?? [];
    const executionArn = listed.find((e) => !before.has(e.executionArn))!.executionArn!;
    const pending = await pendingFor(executionArn);
    expect(pending).toMatchObject({ pushedBy: null, pushers: [] });
    expect(stack.aws.sns.messages.at(-1)!.message).toContain('approval is refused until it is');

    const refused = await refusal(approve('alice', pending.id));
    expect(refused).toMatchObject({ status: 403, code: 'PusherUnknownError' });
    expect(refused!.message).toContain('install.cloudTrailRule: true');
    expect(refused!.message).toContain('separationOfDuties: false');
    expect(pipeline.stack.aws.sfn.execution(executionArn).status).toBe('RUNNING');
    await reject('alice', pending.id);
    await pipeline.finish(executionArn);
  });
});

describe('separationOfDuties: false', () => {
  it('lets the pusher approve, and the audit record says separation of duties was off', async () => {
    const { executionArn } = await pipeline.start('api', 'v1.0.0', undefined, keys.carol);
    const pending = await pendingFor(executionArn);
    expect(pending.separationOfDuties).toBe('off');
    expect(pipeline.stack.aws.sns.messages.at(-1)!.message).toContain('separation of duties is OFF');
    const decided = await approve('carol', pending.id);
    expect(decided).toMatchObject({ approver: arnOf.carol, separationOfDuties: 'off' });
    expect((await pipeline.finish(executionArn)).description.status).toBe('SUCCEEDED');
    expect((await auditOf(executionArn)).approvals).toEqual([expect.objectContaining({ environment: 'api-prod', approver: arnOf.carol, separationOfDuties: 'off', pushers: [arnOf.carol] })]);
  });

  it('is named by greenlight plan, in text and JSON', async () => {
    // In this process (test/cli/cli.test.ts runs the bin itself): spawning the CLI four times cost seconds of CPU.
    const plan = (...args: string[]) => runGreenlightWith({ NO_COLOR: '1' }, 'plan', ...args, '--config', configPath);
    const text = await plan('api:v1.0.0');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/✔ api-prod .*separation of duties OFF/);
    const enforced = (await plan('hello-api:v1.0.0')).stdout;
    expect(enforced).toMatch(/✔ hello-api-prod .*never by a pusher/);
    expect(enforced).not.toContain('separation of duties OFF');
    const json = JSON.parse((await plan('api:v1.0.0', '--json')).stdout);
    expect(json.stages[1]).toMatchObject({ environment: 'api-prod', approval: { separationOfDuties: 'off', sameRolePolicy: 'strict' } });
    expect(JSON.parse((await plan('webhooks:v1.0.0', '--json')).stdout).stages[1].approval).toMatchObject({ separationOfDuties: 'enforced', sameRolePolicy: 'per-session' });
  });
});
