import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApprovalApiError, callApprovalApi } from '../../cli/approval-client.ts';
import { readBundle } from '../../shared/bundle/zip.ts';
import { writeOciLayout } from '../local/oci-layout.ts';
import { type Pipeline, startPipeline } from './harness.ts';
import { installed } from '../tools.ts';

// Approvals check who pushed through CloudTrail's event history: a registry push must leave the same record PutImage does.
const configPath = new URL('../fixtures/separation-of-duties.greenlight.yml', import.meta.url).pathname;
const run = promisify(execFile);
const hasSkopeo = installed('skopeo');
const hasAwsCli = installed('aws');
if (!hasSkopeo) console.warn('skopeo is not installed (apt-get install skopeo): the registry workflow tests are skipped');

const keys = {
  ci: { accessKeyId: 'ci', secretAccessKey: 'ci-secret' },
  alice: { accessKeyId: 'alice', secretAccessKey: 'alice-secret' },
  carol: { accessKeyId: 'carol', secretAccessKey: 'carol-secret' },
};
let pipeline: Pipeline;
let work: string;
let host: string;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
  host = new URL(pipeline.stack.endpoint).host;
  work = mkdtempSync(join(tmpdir(), 'greenlight-registry-workflow-'));
});
afterAll(async () => {
  await pipeline?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const api = (who: keyof typeof keys, method: 'GET' | 'POST', path: string, body?: unknown) => callApprovalApi(pipeline.stack.approvalUrl!, method, path, body, keys[who]);

/** Runs a push (or anything) that starts one execution and returns that execution's ARN. */
async function executionStartedBy(push: () => Promise<unknown>): Promise<string> {
  const { sfn, stack } = pipeline;
  const list = async () => (await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }))).executions ?? [];
  const before = new Set((await list()).map((e) => e.executionArn));
  await push();
  await stack.aws.bus.settle();
  const started = (await list()).filter((e) => !before.has(e.executionArn));
  expect(started).toHaveLength(1);
  return started[0]!.executionArn!;
}

/** The pending record alice sees once the execution asks for approval. */
const pendingFor = (executionArn: string) => pipeline.pendingApproval(executionArn, keys.alice);

/** The image each stage's bundle runs, from a finished execution's output. */
async function deployedImages(output: Record<string, any>): Promise<Record<string, string>> {
  const images: Record<string, string> = {};
  for (const stage of output.stages as Array<{ environment: string; release: { bucket: string; key: string } }>) {
    const bundle = readBundle(await pipeline.object(stage.release.bucket, stage.release.key));
    images[stage.environment] = JSON.parse(new TextDecoder().decode(bundle['Dockerrun.aws.json'])).Image.Name;
  }
  return images;
}

describe('a push with skopeo, a registry client nobody here wrote', () => {
  it.skipIf(!hasSkopeo)('deploys the image skopeo pushed, by the digest ECR gives it, and names the pusher for the approval', async () => {
    const token = (await pipeline.ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
    const image = writeOciLayout(join(work, 'hello'), 'v1.0.0', 'hello-api-skopeo');
    const executionArn = await executionStartedBy(() =>
      run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', Buffer.from(token, 'base64').toString('utf8'), `oci:${image.dir}:v1.0.0`, `docker://${host}/hello-api:v1.0.0`], { timeout: 60_000 }),
    );
    const pending = await pendingFor(executionArn);
    // Who pushed comes from CloudTrail's record of the registry push: the principal that asked for the token.
    expect(pending).toMatchObject({ pushedBy: 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci', pushers: ['arn:aws:sts::000000000000:assumed-role/ci-pusher/ci'] });
    await api('alice', 'POST', `/approvals/${pending.id}`, { decision: 'approve', comment: 'pushed by skopeo' });
    const finished = await pipeline.finish(executionArn);
    expect(finished.description.status).toBe('SUCCEEDED');
    const pinned = `${pipeline.stack.aws.ecr.repositoryUri('hello-api')}@${image.manifestDigest}`;
    expect(await deployedImages(finished.output)).toEqual({ 'hello-api-dev': pinned, 'hello-api-prod': pinned });
    expect(pipeline.stack.aws.eb.environment('hello-api-prod')).toMatchObject({ Status: 'Ready', Health: 'Green', VersionLabel: finished.output.stages[1].release.versionLabel });
  });

  it.skipIf(!hasSkopeo || !hasAwsCli)('logs in with aws ecr get-login-password | skopeo login, and the push is the CLI user’s', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: keys.carol.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.carol.secretAccessKey, AWS_PAGER: '' };
    const { stdout: password } = await run('aws', ['ecr', 'get-login-password', '--endpoint-url', pipeline.stack.endpoint, '--region', pipeline.stack.aws.region], { env });
    const authfile = join(work, 'auth.json');
    await new Promise<void>((resolve, reject) => {
      const login = spawn('skopeo', ['login', '--tls-verify=false', '--authfile', authfile, '--username', 'AWS', '--password-stdin', host], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      login.stderr.on('data', (chunk) => (stderr += chunk));
      login.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`skopeo login failed: ${stderr}`))));
      login.stdin.end(password);
    });
    const image = writeOciLayout(join(work, 'api'), 'v1.0.0', 'api-skopeo-login');
    const executionArn = await executionStartedBy(() =>
      run('skopeo', ['copy', '--dest-tls-verify=false', '--authfile', authfile, `oci:${image.dir}:v1.0.0`, `docker://${host}/api:v1.0.0`], { timeout: 60_000 }),
    );
    const pending = await pendingFor(executionArn);
    expect(pending).toMatchObject({ pushedBy: 'arn:aws:sts::000000000000:assumed-role/release-managers/carol' });
    // separationOfDuties: false for this application: the pusher may approve.
    await api('carol', 'POST', `/approvals/${pending.id}`, { decision: 'approve', comment: 'mine' }).catch((error: ApprovalApiError) => {
      throw new Error(`${error.code}: ${error.message}`);
    });
    const finished = await pipeline.finish(executionArn);
    expect(finished.description.status).toBe('SUCCEEDED');
    expect(Object.values(await deployedImages(finished.output))).toEqual([`${pipeline.stack.aws.ecr.repositoryUri('api')}@${image.manifestDigest}`, `${pipeline.stack.aws.ecr.repositoryUri('api')}@${image.manifestDigest}`]);
  });
});
