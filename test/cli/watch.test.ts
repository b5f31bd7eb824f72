import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf, parseTimeout, parseWatchTarget } from '../../cli/commands/watch.ts';
import { outcomeOf } from '../../cli/watch.ts';
import { type Pipeline, digestOfSample, startPipeline } from '../workflow/harness.ts';
import { runGreenlight } from './in-process.ts';

/**
 * `greenlight watch` as CI runs it after `docker push`, against the local endpoint: the real state
 * machine and handlers, the CLI called in this process with AWS_ENDPOINT_URL set (as startPipeline
 * leaves it), so it finds the local state machine the way it finds the stack's in AWS.
 */
const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());
afterEach(() => {
  Object.assign(pipeline.stack.aws.faults, { ebUpdateSeconds: 0.3, dropEcrEvents: 0, failingImages: [] });
});

const greenlight = runGreenlight;

const watch = (target: string, ...args: string[]) => greenlight('watch', target, '--config', configPath, ...args);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Pushes with the ECR event held back, so the test decides when (and whether) the execution starts. */
async function pushQuietly(repository: string, tag: string, seed?: string): Promise<string> {
  pipeline.stack.aws.faults.dropEcrEvents += 1;
  const digest = await pipeline.push(repository, tag, seed);
  await sleep(5); // a distinct imagePushedAt for the next push
  return digest;
}

describe('greenlight watch after a push', () => {
  it('follows a deployment live and exits 0 when it is deployed', async () => {
    await pipeline.push('hello-api', 'v0.1.0');
    const run = await watch('hello-api:v0.1.0');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('▶ Resolve Plan');
    expect(run.stdout).toMatch(/✔ Deploy \d+ ms hello-api-dev: \(none\) → v0\.1\.0-[0-9a-f]{12}/);
    expect(run.stdout).toMatch(/✔ Check Health .*Ready\/Green healthy \(.* of 30\.0 s\)/);
    expect(run.stdout).toContain('eb hello-api-dev INFO Environment update is starting.');
    expect(run.stdout).toMatch(/■ deployed v0\.1\.0-[0-9a-f]{12} to hello-api-dev \(Green\)/);
  });

  it('prints one JSON object on stdout with --json, the progress on stderr', async () => {
    const run = await watch('hello-api:v0.1.0', '--json');
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({
      target: 'hello-api:v0.1.0',
      outcome: 'deployed',
      exitCode: 0,
      cause: null,
      application: 'hello-api',
      image: { repository: 'hello-api', tag: 'v0.1.0', digest: digestOfSample('hello-api:v0.1.0') },
    });
    expect(answer.executions).toHaveLength(1);
    expect(answer.executions[0]).toMatchObject({ status: 'SUCCEEDED', outcome: 'deployed', environments: [{ environment: 'hello-api-dev', outcome: 'deployed', health: 'Green' }] });
    expect(answer.executions[0].auditRecord).toMatch(/^deployments\/.*\.json$/);
    expect(run.stderr).toContain('▶ Resolve Plan');
  });

  it('finds the same execution by digest, by name and by ARN, on the stack named by --state-machine too', async () => {
    const digest = digestOfSample('hello-api:v0.1.0');
    const byDigest = JSON.parse((await watch(`hello-api@${digest}`, '--json')).stdout);
    const { name, executionArn } = byDigest.executions[0];
    expect(name).toMatch(/^hello-api-v0-1-0-[0-9a-f]{16}$/);
    expect(executionArn).toBe(`${pipeline.stack.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`);
    for (const target of [`hello-api:v0.1.0@${digest}`, `000000000000.dkr.ecr.us-east-1.amazonaws.com/hello-api:v0.1.0`, name, executionArn]) {
      const run = await watch(target, '--json', '--state-machine', pipeline.stack.stateMachineArn);
      expect(run.code, target).toBe(0);
      expect(JSON.parse(run.stdout).executions[0].executionArn).toBe(executionArn);
    }
  });

  it('exits 0 for a push of bytes that already run (another tag of the same digest)', async () => {
    await pipeline.deploy('hello-api', 'git_0a1b2c3', 'twice-tagged');
    await pipeline.push('hello-api', 'v0.1.1', 'twice-tagged');
    const run = await watch('hello-api:v0.1.1', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'already-deployed', exitCode: 0 });
  });

  it('follows only the tag that deploys when a digest is also tagged latest', async () => {
    const digest = await pipeline.push('hello-api', 'v0.1.2', 'with-latest');
    await pipeline.push('hello-api', 'latest', 'with-latest');
    const run = await watch(`hello-api@${digest}`, '--json');
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout);
    expect(answer.executions.map((e: { name: string }) => e.name)).toEqual([expect.stringMatching(/^hello-api-v0-1-2-/)]);
  });

  it('exits 1 with the cause when health fails and the environment is rolled back', async () => {
    pipeline.stack.aws.faults.failingImages = [digestOfSample('hello-api:v0.2.0')];
    await pipeline.push('hello-api', 'v0.2.0');
    const run = await watch('hello-api:v0.2.0');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('▶ Roll Back');
    expect(run.stdout).toContain('(rollback)'); // EB's events of the rollback request
    expect(run.stdout).toMatch(/■ failed after .*: DeploymentFailedError: .*Rolled back to v0\.1\.[0-9]-[0-9a-f]{12}\./);
    const json = JSON.parse((await watch('hello-api:v0.2.0', '--json')).stdout);
    expect(json).toMatchObject({ outcome: 'failed', exitCode: 1, executions: [{ status: 'FAILED', error: 'DeploymentFailedError', lastState: 'Deployment Failed' }] });
    expect(json.cause).toContain('Rolled back to');
  });

  it('exits 2 when the tag policy rejects the push (latest)', async () => {
    await pipeline.push('hello-api', 'latest', 'only-latest');
    const run = await watch('hello-api:latest', '--json');
    expect(run.code).toBe(2);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({ outcome: 'rejected', exitCode: 2, executions: [{ status: 'FAILED', error: 'TagPolicyViolationError' }] });
    expect(answer.cause).toContain('the tag "latest" never deploys');
  });

  it('exits 3 for an older push delivered after a newer one: superseded, nothing went backwards', async () => {
    const older = await pushQuietly('hello-api', 'v0.5.0');
    const newer = await pushQuietly('hello-api', 'v0.5.1');
    await pipeline.deliverPushEvent('hello-api', newer, 'v0.5.1');
    expect((await watch('hello-api:v0.5.1')).code).toBe(0);
    await pipeline.deliverPushEvent('hello-api', older, 'v0.5.0');
    const run = await watch('hello-api:v0.5.0', '--json');
    expect(run.code).toBe(3);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({ outcome: 'superseded', exitCode: 3, executions: [{ status: 'SUCCEEDED', outcome: 'superseded', error: 'SupersededError' }] });
    expect(answer.cause).toMatch(/superseded/i);
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toMatch(/^v0\.5\.1-/);
  });

  it('exits 4 when the push event was lost and no execution appears in time', async () => {
    await pushQuietly('hello-api', 'v0.6.0');
    const started = Date.now();
    const run = await watch('hello-api:v0.6.0', '--timeout', '1s', '--json');
    expect(run.code).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({ outcome: 'timed-out', exitCode: 4, executions: [{ outcome: 'not-started', status: null }] });
    expect(answer.cause).toContain('appeared within');
  });

  it('waits for an execution that appears later, then follows it', async () => {
    const digest = await pushQuietly('hello-api', 'v0.6.1');
    const watching = watch('hello-api:v0.6.1', '--timeout', '1m');
    await sleep(600);
    await pipeline.deliverPushEvent('hello-api', digest, 'v0.6.1');
    const run = await watching;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('■ deployed');
  });

  it('exits 4 when the deployment is still running at the timeout, and says where it stands', async () => {
    pipeline.stack.aws.faults.ebUpdateSeconds = 2.5;
    const { executionArn } = await pipeline.start('hello-api', 'v0.6.2');
    const run = await watch('hello-api:v0.6.2', '--timeout', '1s', '--json');
    expect(run.code).toBe(4);
    expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'timed-out', executions: [{ status: 'RUNNING', outcome: 'running' }] });
    await pipeline.finish(executionArn);
  });
});

describe('greenlight watch refuses what it cannot watch, with exit 5', () => {
  it('names the problem before asking AWS anything it need not', async () => {
    const cases: Array<[string[], string]> = [
      [['watch', 'not an image', '--config', configPath], 'neither an image'],
      [['watch', 'Hello:Api:x', '--config', configPath], 'not an image reference'],
      [['watch', 'unknown-repo:v1', '--config', configPath], 'not part of any application'],
      [['watch', 'hello-api', '--config', configPath], 'hello-api is a repository'],
      [['watch', 'hello-api:v9.9.9', '--config', configPath], 'no image hello-api:v9.9.9 in ECR'],
      [['watch', 'hello-api:v0.1.0', '--config', configPath, '--timeout', 'soon'], '--timeout "soon" is not a duration'],
      [['watch', 'hello-api:v0.1.0', '--config', '/nope.yml'], 'cannot read the configuration file /nope.yml'],
      [['watch', 'arn:aws:states:us-east-1:000000000000:stateMachine:x'], 'is not an execution ARN'],
      [['watch'], "missing required argument 'image|id'"],
      [['watch', 'hello-api:v0.1.0', '--bogus'], "unknown option '--bogus'"],
    ];
    for (const [args, message] of cases) {
      const run = await greenlight(...args);
      expect(run.code, args.join(' ')).toBe(5);
      expect(run.stderr, args.join(' ')).toContain(message);
    }
  });

  it('asks for the state machine when it cannot know it', async () => {
    const endpoint = process.env.AWS_ENDPOINT_URL;
    delete process.env.AWS_ENDPOINT_URL;
    try {
      const run = await watch('hello-api-v0-1-0-0123456789abcdef', '--json');
      expect(run.code).toBe(5);
      expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'usage-error', exitCode: 5 });
      expect(run.stderr).toContain('pass --state-machine or set GREENLIGHT_STATE_MACHINE_ARN');
    } finally {
      process.env.AWS_ENDPOINT_URL = endpoint;
    }
  });
});

describe('reading the command line and the outcome', () => {
  it('reads image references and execution ids', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    expect(parseWatchTarget('hello-api:v1.2.3')).toEqual({ kind: 'image', repository: 'hello-api', tag: 'v1.2.3' });
    expect(parseWatchTarget(`team/api@${digest}`)).toEqual({ kind: 'image', repository: 'team/api', digest });
    expect(parseWatchTarget(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:git_abc@${digest}`)).toEqual({ kind: 'image', repository: 'api', tag: 'git_abc', digest });
    expect(parseWatchTarget('hello-api-v1-2-3-0123456789abcdef')).toEqual({ kind: 'execution', name: 'hello-api-v1-2-3-0123456789abcdef' });
    const arn = 'arn:aws:states:eu-west-1:123456789012:execution:greenlight-prod-deploy-pipeline:hello-api-v1-2-3-0123456789abcdef';
    expect(parseWatchTarget(arn)).toEqual({ kind: 'execution', name: 'hello-api-v1-2-3-0123456789abcdef', arn });
  });

  it('reads --timeout durations', () => {
    expect(parseTimeout('30m')).toBe(1_800_000);
    expect(parseTimeout('1h30m')).toBe(5_400_000);
    expect(parseTimeout('90')).toBe(90_000);
    expect(parseTimeout('1s')).toBe(1000);
    expect(() => parseTimeout('30 minutes')).toThrow(/not a duration/);
  });

  it('classifies by the audit outcome first, then the end state, then the error', () => {
    expect(outcomeOf({ status: 'SUCCEEDED', state: { audit: { key: 'k', outcome: 'superseded', error: 'SupersededError', cause: 'c' } }, lastState: 'Superseded' })).toBe('superseded');
    expect(outcomeOf({ status: 'SUCCEEDED', state: { error: { Error: 'SupersededError' } }, lastState: 'Superseded' })).toBe('superseded');
    expect(outcomeOf({ status: 'SUCCEEDED', state: { audit: { key: 'k', outcome: 'succeeded', error: 'None', cause: '' } }, lastState: 'Deployed' })).toBe('deployed');
    expect(outcomeOf({ status: 'FAILED', state: {}, lastState: 'Expired', error: 'ApprovalExpiredError' })).toBe('expired');
    expect(outcomeOf({ status: 'FAILED', state: {}, lastState: 'Audit Not Written', error: 'ApprovalRejectedError' })).toBe('rejected');
    expect(outcomeOf({ status: 'FAILED', state: {}, lastState: 'Audit Not Written', error: 'RollbackFailedError' })).toBe('failed');
    expect(outcomeOf({ status: 'FAILED', state: { audit: { key: 'k', outcome: 'unverified', error: 'DeploymentUnverifiedError', cause: '' } }, lastState: 'Unverified' })).toBe('unverified');
    expect(outcomeOf({ status: 'ABORTED', state: {}, lastState: 'Check Health' })).toBe('aborted');
    expect(outcomeOf({ status: 'RUNNING', state: {}, lastState: 'Check Health' })).toBe('running');
    expect([exitCodeOf('unverified'), exitCodeOf('aborted'), exitCodeOf('expired'), exitCodeOf('running')]).toEqual([1, 1, 2, 4]);
  });
});
