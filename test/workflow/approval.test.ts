import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApprovalApiError, callApprovalApi } from '../../cli/approval-client.ts';
import { type Pipeline, startPipeline, statesEntered } from './harness.ts';
import { installed } from '../tools.ts';

const configPath = new URL('../fixtures/approval.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

const keys = {
  alice: { accessKeyId: 'alice', secretAccessKey: 'alice-secret' }, // release manager
  carol: { accessKeyId: 'carol', secretAccessKey: 'carol-secret' }, // release manager
  bob: { accessKeyId: 'bob', secretAccessKey: 'bob-secret' }, // developer, not an approver
};
type Who = keyof typeof keys;

const api = (who: Who, method: 'GET' | 'POST', path: string, body?: unknown) => callApprovalApi(pipeline.stack.approvalUrl!, method, path, body, keys[who]);
const approve = (who: Who, id: string, comment = 'looks good') => api(who, 'POST', `/approvals/${id}`, { decision: 'approve', comment });
const reject = (who: Who, id: string, comment: string) => api(who, 'POST', `/approvals/${id}`, { decision: 'reject', comment });
const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: ApprovalApiError) => ({ status: error.status, code: error.code, message: error.message }));

/** The pending record alice sees once the execution asks for approval. */
const pendingFor = (executionArn: string) => pipeline.pendingApproval(executionArn, keys.alice);

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

describe('promotion to prod', () => {
  it('waits after dev is healthy, tells the approvers, and deploys the same version to prod once approved', async () => {
    const { executionArn, digest } = await pipeline.start('hello-api', 'v1.0.0');
    const pending = await pendingFor(executionArn);
    expect(pending).toMatchObject({ application: 'hello-api', sourceEnvironment: 'hello-api-dev', targetEnvironment: 'hello-api-prod', runningInTarget: null, image: { tag: 'v1.0.0', digest } });
    expect(pending.pushedBy).toBe('arn:aws:sts::000000000000:assumed-role/ci-pusher/ci');
    expect(pending).not.toHaveProperty('taskToken');
    expect(pipeline.stack.aws.eb.environment('hello-api-prod')?.VersionLabel).toBeUndefined();

    const notification = pipeline.stack.aws.sns.messages.at(-1)!;
    expect(notification.subject).toContain('waits for approval to hello-api-prod');
    expect(notification.message).toContain(`greenlight approve ${pending.id}`);

    const decided = await approve('alice', pending.id, 'ship it');
    expect(decided).toMatchObject({ decision: 'approve', approver: 'arn:aws:sts::000000000000:assumed-role/release-managers/alice', comment: 'ship it' });

    const run = await pipeline.finish(executionArn);
    expect(run.description.status).toBe('SUCCEEDED');
    const dev = pipeline.stack.aws.eb.environment('hello-api-dev');
    const prod = pipeline.stack.aws.eb.environment('hello-api-prod');
    expect(prod?.VersionLabel).toBe(dev?.VersionLabel);
    expect(prod?.VersionLabel).toBe(run.output.stages[0].release.versionLabel);
    expect(run.output.stages[1]).toMatchObject({ environment: 'hello-api-prod', outcome: 'deployed', approval: { decision: 'approve', comment: 'ship it' } });

    // The decision stands in the execution history: who, what, why, when.
    const answered = run.history.find((e) => e.type === 'TaskSucceeded' && e.taskSucceededEventDetails?.resource === 'invoke.waitForTaskToken');
    expect(JSON.parse(answered!.taskSucceededEventDetails!.output!)).toMatchObject({ decision: 'approve', approver: decided.approver, comment: 'ship it', at: decided.at });
  });

  it('refuses a replayed decision, changing nothing', async () => {
    const [last] = await pipeline.executions();
    const replay = await refusal(approve('alice', last!.description.name!));
    expect(replay).toMatchObject({ status: 404, code: 'ApprovalNotFoundError' });
  });

  it('refuses an approver who is not on the list, and the identity that pushed the image', async () => {
    const { executionArn } = await pipeline.start('hello-api', 'v1.1.0', undefined, keys.carol);
    const pending = await pendingFor(executionArn);
    expect(await refusal(approve('bob', pending.id))).toMatchObject({ status: 403, code: 'ApproverNotAllowedError' });
    expect(await refusal(approve('carol', pending.id))).toMatchObject({ status: 403, code: 'SelfApprovalError', message: expect.stringContaining('separation of duties') });
    expect(pipeline.stack.aws.sfn.execution(executionArn).status).toBe('RUNNING');
    await approve('alice', pending.id);
    expect((await pipeline.finish(executionArn)).description.status).toBe('SUCCEEDED');
  });

  it('ends a rejected promotion with the reason, prod untouched', async () => {
    const before = pipeline.stack.aws.eb.environment('hello-api-prod')?.VersionLabel;
    const { executionArn } = await pipeline.start('hello-api', 'v1.2.0');
    const pending = await pendingFor(executionArn);
    expect(pending.runningInTarget).toBe(before);
    await reject('alice', pending.id, 'not during the sale');
    const run = await pipeline.finish(executionArn);
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('ApprovalRejectedError');
    expect(run.description.cause).toContain('not during the sale');
    expect(run.description.cause).toContain('release-managers/alice');
    expect(statesEntered(run.history)).toContain('Record Rejection');
    expect(pipeline.stack.aws.eb.environment('hello-api-prod')?.VersionLabel).toBe(before);
  });

  it('refuses an unsigned or wrongly signed call to the approval API', async () => {
    const unsigned = await fetch(`${pipeline.stack.approvalUrl}/pending`);
    expect(unsigned.status).toBe(403);
    const forged = await refusal(callApprovalApi(pipeline.stack.approvalUrl!, 'GET', '/pending', undefined, { accessKeyId: 'alice', secretAccessKey: 'guessed' }));
    expect(forged).toMatchObject({ status: 403, code: 'InvalidSignatureException' });
  });
});

describe('an approval nobody gives in time', () => {
  it('expires: the execution ends as expired, prod untouched, and a late decision is refused', async () => {
    const { executionArn } = await pipeline.start('reports', 'v1.0.0');
    const pending = await pendingFor(executionArn);
    const run = await pipeline.finish(executionArn); // the stage's approval timeout is 2 s
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('ApprovalExpiredError');
    expect(statesEntered(run.history)).toEqual(expect.arrayContaining(['Approval Expired', 'Record Expiry']));
    expect(pipeline.stack.aws.eb.environment('reports-prod')?.VersionLabel).toBeUndefined();
    const late = await refusal(approve('alice', pending.id));
    expect(late?.status).toBeGreaterThanOrEqual(400);
    expect(['ApprovalExpiredError', 'ApprovalAlreadyDecidedError']).toContain(late?.code);
  });

  it('records the expiry in the audit trail', async () => {
    const [last] = await pipeline.executions();
    const key = (await pipeline.objectKeys(pipeline.stack.auditBucket)).find((k) => k.endsWith(`/${last!.description.name}.json`));
    const record = JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.auditBucket, key!)));
    expect(record).toMatchObject({ outcome: 'expired', error: 'ApprovalExpiredError' });
  });
});

describe('attempts to decide without an approver\'s own signed request', () => {
  const approvalFunction = 'greenlight-local-approvalApi';
  const aliceArn = 'arn:aws:sts::000000000000:assumed-role/release-managers/alice';
  const hasAwsCli = installed('aws');
  let executionArn: string;
  let id: string;

  /** A hand-made function-URL event naming Alice as the caller, complete in every field AWS would set. */
  const forgedEvent = () => ({
    version: '2.0',
    routeKey: '$default',
    rawPath: `/approvals/${id}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '000000000000',
      apiId: 'forged',
      domainName: `${'a'.repeat(32)}.lambda-url.us-east-1.on.aws`,
      http: { method: 'POST', path: `/approvals/${id}`, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'curl' },
      authorizer: { iam: { accessKey: 'alice', accountId: '000000000000', callerId: 'AROAFORGED:alice', userArn: aliceArn, userId: 'AROAFORGED:alice' } },
      requestId: 'forged',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: JSON.stringify({ decision: 'approve', comment: 'forged' }),
    isBase64Encoded: false,
  });

  /** Nothing was decided: the execution still waits and the approval is still pending for Alice. */
  async function undecided() {
    expect(pipeline.stack.aws.sfn.execution(executionArn).status).toBe('RUNNING');
    const { pending } = await api('alice', 'GET', '/pending');
    expect(pending.map((p: { id: string }) => p.id)).toContain(id);
  }

  beforeAll(async () => {
    ({ executionArn } = await pipeline.start('hello-api', 'v1.3.0'));
    ({ id } = await pendingFor(executionArn));
  });

  it('refuses a body swapped after signing: a signed rejection sent as an approval decides nothing', async () => {
    const url = new URL(`${pipeline.stack.approvalUrl}/approvals/${id}`);
    const signer = new SignatureV4({ service: 'lambda', region: pipeline.stack.aws.region, credentials: keys.alice, sha256: Sha256, uriEscapePath: true });
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        headers: { host: url.host, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'reject', comment: 'not this one' }),
      }),
    );
    const response = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body: JSON.stringify({ decision: 'approve', comment: 'swapped' }) });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    await undecided();
  });

  it('refuses a forged direct invoke naming an approver in requestContext.authorizer.iam, approving nothing', async () => {
    const lambda = new LambdaClient({ endpoint: pipeline.stack.endpoint, region: pipeline.stack.aws.region, credentials: keys.bob });
    const refusal = await lambda.send(new InvokeCommand({ FunctionName: approvalFunction, Payload: JSON.stringify(forgedEvent()) })).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(refusal).toMatchObject({
      name: 'AccessDeniedException',
      message: `User: arn:aws:sts::000000000000:assumed-role/developers/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:${approvalFunction} because no resource-based policy allows the lambda:InvokeFunction action`,
    });
    await undecided();
  });

  it.skipIf(!hasAwsCli)('refuses `aws lambda invoke` of the approval function with AccessDenied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'greenlight-invoke-'));
    writeFileSync(join(dir, 'event.json'), JSON.stringify(forgedEvent()));
    const { AWS_PROFILE: _profile, ...inherited } = process.env;
    const env = { ...inherited, AWS_ACCESS_KEY_ID: 'bob', AWS_SECRET_ACCESS_KEY: 'bob-secret', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    const args = ['--endpoint-url', pipeline.stack.endpoint, 'lambda', 'invoke', '--function-name', approvalFunction, '--payload', `fileb://${join(dir, 'event.json')}`, join(dir, 'out.json')];
    // Asynchronous on purpose: the endpoint runs in this process and must keep answering while the CLI waits.
    const cli = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('aws', args, { env, timeout: 60_000 }, (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }));
    });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('An error occurred (AccessDeniedException) when calling the Invoke operation');
    expect(cli.stderr).toContain(`is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:${approvalFunction}`);
    await undecided();
  });

  it('shows a non-approver none of the pending approvals of stages they cannot decide, and an approver theirs', async () => {
    expect(await api('bob', 'GET', '/pending')).toEqual({ caller: 'arn:aws:sts::000000000000:assumed-role/developers/bob', pending: [] });
    const admin = await callApprovalApi(pipeline.stack.approvalUrl!, 'GET', '/pending', undefined, { accessKeyId: 'local', secretAccessKey: 'local' });
    expect(admin.pending).toEqual([]);
    const { pending: forAlice } = await api('alice', 'GET', '/pending');
    expect(forAlice).toContainEqual(expect.objectContaining({ id, targetEnvironment: 'hello-api-prod' }));
    for (const approval of forAlice) expect(approval.approvers).toEqual(['arn:aws:sts::*:assumed-role/release-managers/*']);
  });

  it('still takes the approver\'s own signed decision afterwards', async () => {
    const before = pipeline.stack.aws.eb.environment('hello-api-prod')?.VersionLabel;
    await reject('alice', id, 'refused after the attempts, on purpose');
    const run = await pipeline.finish(executionArn);
    expect(run.description.error).toBe('ApprovalRejectedError');
    expect(run.description.cause).toContain('release-managers/alice');
    expect(pipeline.stack.aws.eb.environment('hello-api-prod')?.VersionLabel).toBe(before);
  });
});
