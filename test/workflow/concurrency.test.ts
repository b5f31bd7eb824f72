import { execFile } from 'node:child_process';
import { DescribeApplicationVersionsCommand } from '@aws-sdk/client-elastic-beanstalk';
import { BatchDeleteImageCommand } from '@aws-sdk/client-ecr';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sampleManifest } from '../../local/services/ecr.ts';
import { readBundle } from '../../shared/bundle/zip.ts';
import { type Finished, type Pipeline, digestOfSample, startPipeline, statesEntered } from './harness.ts';
import { installed } from '../tools.ts';

/**
 * Overlapping pushes, as CI makes them: pushes with the ECR events held back, then the events
 * delivered together in a chosen order, so the executions really run at the same time. One endpoint
 * for the file (the handlers' SDK clients are built once per process, as in Lambda).
 */
const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;
let waitScale: number;
const seen = new Set<string>();

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
  waitScale = pipeline.stack.aws.faults.waitScale;
});
afterAll(() => pipeline?.close());
afterEach(() => {
  Object.assign(pipeline.stack.aws.faults, { ebUpdateSeconds: 0.3, ebVersionProcessingSeconds: 0.05, throttleRate: 0, dropEcrEvents: 0, lambdaTimeouts: {}, failingImages: [], waitScale });
});

/**
 * The audit retry waits 5 s doubling over 8 attempts (about 21 minutes in AWS, 6–13 s at the tests'
 * 0.01): tests that exhaust it run at a tenth of that, the same retries and outcome in less time.
 */
const exhaustAuditRetriesQuickly = () => {
  pipeline.stack.aws.faults.waitScale = 0.001;
};

/** Executions started since the last call, finished. */
async function newExecutions(): Promise<Finished[]> {
  const fresh = await pipeline.executions(seen);
  for (const run of fresh) seen.add(run.description.executionArn!);
  return fresh;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Pushes without letting the event through, so the test decides when (and in which order) it arrives. */
async function pushQuietly(repository: string, tag: string, seed?: string): Promise<string> {
  pipeline.stack.aws.faults.dropEcrEvents += 1;
  const digest = await pipeline.push(repository, tag, seed);
  await sleep(5); // a distinct imagePushedAt for the next push
  return digest;
}

/** Delivers held-back push events at once (they start executions that overlap) and waits for every execution to end. */
async function deliverTogether(pushes: Array<[string, string, string]>): Promise<Finished[]> {
  await newExecutions();
  await Promise.all(pushes.map(([repository, digest, tag]) => pipeline.deliverPushEvent(repository, digest, tag)));
  return newExecutions();
}

/** UpdateEnvironment calls from now on: call before, read after. */
function countUpdates(environment: string): () => string[] {
  const before = updatesOf(environment).length;
  return () => updatesOf(environment).slice(before);
}

/** The version labels EB was told to deploy to an environment, in order (one per UpdateEnvironment with a version). */
function updatesOf(environment: string): string[] {
  return pipeline.stack.aws.eb
    .events(environment)
    .filter((event) => event.Message === 'Deploying new version to instance(s).')
    .sort((a, b) => a.seq - b.seq)
    .map((event) => event.VersionLabel ?? '');
}

function byTag(runs: Finished[], tag: string): Finished {
  const run = runs.find((r) => JSON.parse(r.description.input ?? '{}').image?.tag === tag);
  if (!run) throw new Error(`no execution for tag ${tag}`);
  return run;
}

function endedAs(run: Finished): string {
  const states = statesEntered(run.history);
  return states.includes('Superseded') ? 'superseded' : String(run.description.status);
}

async function containerImages(bundle: { bucket: string; key: string }): Promise<Record<string, string>> {
  const files = readBundle(await pipeline.object(bundle.bucket, bundle.key));
  const dockerrun = JSON.parse(new TextDecoder().decode(files['Dockerrun.aws.json']));
  return Object.fromEntries(dockerrun.containerDefinitions.map((c: { name: string; image: string }) => [c.name, c.image]));
}

/** The audit record of an execution (a failed execution has no output to point at it, so it is found by name). */
async function auditOf(run: Finished): Promise<Record<string, any>> {
  const key = (await pipeline.objectKeys(pipeline.stack.auditBucket)).find((k) => k.endsWith(`/${run.description.name}.json`));
  if (!key) throw new Error(`no audit record for ${run.description.name}`);
  return JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.auditBucket, key)));
}

describe('two pushes racing for one environment', () => {
  for (const order of ['newer event first', 'older event first'] as const) {
    it(`ends on the newer push, with the older superseded or replaced and nothing backwards (${order})`, async () => {
      const minor = order === 'newer event first' ? 7 : 8;
      const [olderTag, newerTag] = [`v0.${minor}.0`, `v0.${minor}.1`];
      const updates = countUpdates('hello-api-dev');
      const older = await pushQuietly('hello-api', olderTag);
      const newer = await pushQuietly('hello-api', newerTag);
      const events: Array<[string, string, string]> = [
        ['hello-api', older, olderTag],
        ['hello-api', newer, newerTag],
      ];
      const runs = await deliverTogether(order === 'newer event first' ? events.reverse() : events);
      const newerRun = byTag(runs, newerTag);
      const olderRun = byTag(runs, olderTag);
      expect(newerRun.description.status).toBe('SUCCEEDED');
      expect(['superseded', 'SUCCEEDED']).toContain(endedAs(olderRun));
      const newerLabel = newerRun.output.stages[0].release.versionLabel;
      expect(pipeline.stack.aws.eb.environment('hello-api-dev')).toMatchObject({ VersionLabel: newerLabel, Status: 'Ready', Health: 'Green' });
      const made = updates();
      expect(made.at(-1)).toBe(newerLabel);
      expect(made.filter((label) => label.startsWith(`${olderTag}-`)).length).toBeLessThanOrEqual(1);
      expect(made.filter((label) => label === newerLabel)).toHaveLength(1);
      expect(pipeline.stack.aws.eb.events('hello-api-dev').some((e) => e.Message === 'Environment update is being aborted.')).toBe(false);
    });
  }

  it('still ends on the newer push when the environment is busy with something else at first', async () => {
    const older = await pushQuietly('hello-api', 'v0.9.0');
    const newer = await pushQuietly('hello-api', 'v0.9.1');
    pipeline.stack.aws.eb.makeBusy('hello-api-dev', 0.5);
    const runs = await deliverTogether([
      ['hello-api', older, 'v0.9.0'],
      ['hello-api', newer, 'v0.9.1'],
    ]);
    const newerLabel = byTag(runs, 'v0.9.1').output.stages[0].release.versionLabel;
    expect(runs.every((run) => run.description.status === 'SUCCEEDED')).toBe(true);
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(newerLabel);
    expect(updatesOf('hello-api-dev').at(-1)).toBe(newerLabel);
    expect(statesEntered(byTag(runs, 'v0.9.0').history)).not.toContain('Roll Back');
  });

  it('lets the older push finish judging its own deployment when the newer one lands during its health wait, then deploys the newer', async () => {
    pipeline.stack.aws.faults.ebUpdateSeconds = 1;
    const updates = countUpdates('hello-api-dev');
    const first = await pipeline.start('hello-api', 'v0.10.0');
    await pipeline.reached(first.executionArn, 'Wait For Health'); // the first has updated and holds the lease
    const second = await pipeline.start('hello-api', 'v0.10.1');
    const [a, b] = await Promise.all([pipeline.finish(first.executionArn), pipeline.finish(second.executionArn)]);
    expect(a.description.status).toBe('SUCCEEDED');
    expect(b.description.status).toBe('SUCCEEDED');
    expect(statesEntered(a.history)).not.toContain('Roll Back');
    expect(statesEntered(b.history)).toContain('Wait For Environment');
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(b.output.stages[0].release.versionLabel);
    expect(updates()).toEqual([a.output.stages[0].release.versionLabel, b.output.stages[0].release.versionLabel]);
  });
});

describe('a multi-container release pushed all at once', () => {
  it('names every missing repository once when the first release lacks a container', async () => {
    const run = await pipeline.deploy('shop-server', 'v1.0.0');
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('BundleRenderError');
    for (const repository of ['shop-client', 'shop-worker', 'shop-nginx']) expect(run.description.cause).toContain(repository);
  });

  it('never pulls in a sibling tagged latest or with a tag the stage refuses', async () => {
    const client = await pushQuietly('shop-client', 'v1.0.0');
    await pushQuietly('shop-client', 'latest', 'client-latest');
    await pushQuietly('shop-client', 'nightly-7', 'client-nightly');
    for (const repository of ['shop-worker', 'shop-nginx']) await pushQuietly(repository, 'v1.0.0');
    const run = await pipeline.deploy('shop-server', 'v1.0.1');
    expect(run.description.status).toBe('SUCCEEDED');
    expect((await containerImages(run.output.stages[0].release)).client).toBe(`${pipeline.stack.aws.ecr.repositoryUri('shop-client')}@${client}`);
  });

  it('converges on the newest digest of every container, and every audit record says what it deployed', async () => {
    const repositories = ['shop-client', 'shop-server', 'shop-worker', 'shop-nginx'];
    const v1: Record<string, string> = {};
    for (const repository of repositories) v1[repository] = await pushQuietly(repository, 'v3.0.0');
    const first = await deliverTogether(repositories.map((r) => [r, v1[r]!, 'v3.0.0']));
    expect(first.every((run) => run.description.status === 'SUCCEEDED')).toBe(true);

    const v2: Record<string, string> = {};
    for (const repository of repositories) v2[repository] = await pushQuietly(repository, 'v4.0.0');
    const before = updatesOf('shop-dev').length;
    const runs = (await deliverTogether(repositories.map((r) => [r, v2[r]!, 'v4.0.0']))).filter((run) => JSON.parse(run.description.input!).image.tag === 'v4.0.0');
    expect(runs).toHaveLength(4);
    expect(runs.map((run) => [run.description.status, run.description.cause])).toEqual(runs.map(() => ['SUCCEEDED', undefined]));

    const env = pipeline.stack.aws.eb.environment('shop-dev')!;
    const running = runs.flatMap((run) => run.output.stages ?? []).find((stage: { versionLabel: string }) => stage.versionLabel === env.VersionLabel);
    expect(running).toBeDefined();
    const images = await containerImages(running.release);
    const uri = (r: string) => pipeline.stack.aws.ecr.repositoryUri(r);
    expect(images).toEqual({
      client: `${uri('shop-client')}@${v2['shop-client']}`,
      server: `${uri('shop-server')}@${v2['shop-server']}`,
      worker: `${uri('shop-worker')}@${v2['shop-worker']}`,
      nginx: `${uri('shop-nginx')}@${v2['shop-nginx']}`,
    });
    expect(updatesOf('shop-dev').length - before).toBeLessThanOrEqual(4);

    for (const run of runs) {
      const record = await auditOf(run);
      if (record.outcome === 'succeeded') {
        const pinned = Object.values(await containerImages(record.stages[0].release)).sort();
        expect(Object.values(record.stages[0].release.images).sort()).toEqual(pinned);
        expect(Object.values(record.images).sort()).toEqual(pinned);
      } else {
        expect(['already-deployed', 'superseded']).toContain(record.outcome);
      }
    }
  });

});

describe('one digest, one deployment per environment', () => {
  it('deploys two tags of one image once: the second ends already deployed, with no second version or update', async () => {
    const updates = countUpdates('hello-api-dev');
    const { ApplicationVersions: before = [] } = await pipeline.eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'hello-api' }));
    const digest = await pushQuietly('hello-api', 'git_abc1234', 'same-bytes');
    await pushQuietly('hello-api', 'v0.11.0', 'same-bytes');
    const runs = await deliverTogether([
      ['hello-api', digest, 'git_abc1234'],
      ['hello-api', digest, 'v0.11.0'],
    ]);
    expect(runs.every((run) => run.description.status === 'SUCCEEDED')).toBe(true);
    expect(updates()).toHaveLength(1);
    const { ApplicationVersions = [] } = await pipeline.eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'hello-api' }));
    expect(ApplicationVersions.length - before.length).toBe(1);
    const outcomes = await Promise.all(runs.map(async (run) => (await auditOf(run)).outcome));
    expect(outcomes.sort()).toEqual(['already-deployed', 'succeeded']);
  });

  it('supersedes a new tag on an old digest that no longer runs: nothing goes backwards', async () => {
    const old = await pipeline.deploy('hello-api', 'v0.12.0', 'old-bytes');
    await pipeline.deploy('hello-api', 'v0.13.0', 'new-bytes');
    const newer = pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel;
    // Retagging old bytes keeps their imagePushedAt: it is an older push, not a way back (only an explicit rollback goes back).
    const retag = await pipeline.deploy('hello-api', 'v0.12.1', 'old-bytes');
    expect(retag.digest).toBe(old.digest);
    expect(retag.description.status).toBe('SUCCEEDED');
    expect(endedAs(retag)).toBe('superseded');
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(newer);
  });
});

describe('pushes from the AWS CLI (a client nobody here wrote)', () => {
  const hasAwsCli = installed('aws');

  /** `aws ecr put-image`, as a CI job runs it, in its own process. */
  function awsPutImage(repository: string, tag: string, manifest: string): Promise<{ code: number; stderr: string }> {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'ci', AWS_SECRET_ACCESS_KEY: 'ci-secret', AWS_DEFAULT_REGION: pipeline.stack.aws.region, AWS_PAGER: '' };
    const args = ['--endpoint-url', pipeline.stack.endpoint, 'ecr', 'put-image', '--repository-name', repository, '--image-tag', tag, '--image-manifest', manifest];
    return new Promise((resolve) => {
      execFile('aws', args, { env, timeout: 60_000 }, (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }));
    });
  }

  it.skipIf(!hasAwsCli)('two tags of one image pushed at once by two aws ecr put-image processes deploy once', async () => {
    const updates = countUpdates('hello-api-dev');
    await newExecutions();
    const manifest = sampleManifest('cli-two-tags');
    const pushed = await Promise.all([awsPutImage('hello-api', 'git_c1c1c1c', manifest), awsPutImage('hello-api', 'v0.30.0', manifest)]);
    expect(pushed.map((p) => [p.code, p.stderr])).toEqual([[0, ''], [0, '']]);
    await pipeline.stack.aws.bus.settle();
    const runs = await newExecutions();
    expect(runs).toHaveLength(2);
    expect(runs.every((run) => run.description.status === 'SUCCEEDED')).toBe(true);
    expect(updates()).toHaveLength(1);
    expect((await Promise.all(runs.map(async (run) => (await auditOf(run)).outcome))).sort()).toEqual(['already-deployed', 'succeeded']);
  });
});

describe('what changed under the execution', () => {
  it('refuses an image deleted after planning, before UpdateEnvironment', async () => {
    const good = await pipeline.deploy('hello-api', 'v0.14.0');
    const updates = countUpdates('hello-api-dev');
    pipeline.stack.aws.faults.ebVersionProcessingSeconds = 1; // time to delete the image after Resolve Plan
    const { executionArn, digest } = await pipeline.start('hello-api', 'v0.15.0');
    await pipeline.reached(executionArn, 'Create Version'); // planned and rendered; the version takes 1 s to process
    await pipeline.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'hello-api', imageIds: [{ imageDigest: digest }] }));
    const run = await pipeline.finish(executionArn);
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('ImageNotFoundError');
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(good.output.stages[0].release.versionLabel);
    expect(updates()).toHaveLength(0);
  });

  it('never deploys a bundle whose stored bytes were changed: the stored object is rewritten from its name', async () => {
    const digest = digestOfSample('hello-api:v0.16.0');
    const first = await pipeline.deploy('hello-api', 'v0.16.0');
    expect(first.digest).toBe(digest);
    const { bucket, key } = first.output.stages[0].release;
    await pipeline.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'tampered' }));
    const again = await pipeline.deploy('hello-api', 'v0.16.1', 'hello-api:v0.16.0'); // same bytes, same content address
    expect(again.description.status).toBe('SUCCEEDED');
    const stored = readBundle(await pipeline.object(bucket, key));
    expect(Object.keys(stored)).toContain('Dockerrun.aws.json');
  });
});

describe('a bundle changed between rendering and deploying', () => {
  it('is refused before UpdateEnvironment (BundleIntegrityError), the environment untouched', async () => {
    const before = pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel;
    const updates = countUpdates('hello-api-dev');
    // Busy with someone else's update: Deploy waits for Ready after the version is processed, time to tamper.
    pipeline.stack.aws.eb.makeBusy('hello-api-dev', 3);
    const { executionArn } = await pipeline.start('hello-api', 'v0.16.5');
    let key: string | undefined;
    for (let i = 0; i < 100 && !key; i++) {
      await sleep(20);
      key = (await pipeline.objectKeys(pipeline.stack.bundleBucket)).find((k) => k.startsWith('releases/') && k.includes('v0-16-5'));
    }
    const release = JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.bundleBucket, key!)));
    await pipeline.reached(executionArn, 'Deploy'); // EB has processed the version by now (it reads the bundle then)
    await pipeline.s3.send(new PutObjectCommand({ Bucket: release.bucket, Key: release.key, Body: 'tampered after rendering' }));
    const run = await pipeline.finish(executionArn);
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('BundleIntegrityError');
    expect(run.description.cause).toContain(release.key);
    expect(updates()).toHaveLength(0);
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(before);
  });
});

describe('failures after a side effect', () => {
  it('resumes after a Lambda timeout that came after UpdateEnvironment: one update, health checked, deployed', async () => {
    await pipeline.deploy('hello-api', 'v0.17.0');
    const updates = countUpdates('hello-api-dev');
    pipeline.stack.aws.faults.lambdaTimeouts = { deployStage: 1 };
    const run = await pipeline.deploy('hello-api', 'v0.18.0');
    expect(run.description.status).toBe('SUCCEEDED');
    expect(run.history.some((e) => e.lambdaFunctionFailedEventDetails?.error === 'Sandbox.Timedout')).toBe(true);
    expect(statesEntered(run.history)).toContain('Check Health');
    expect(updates()).toHaveLength(1);
    expect(run.output.stages[0]).toMatchObject({ outcome: 'deployed', previousVersionLabel: expect.stringMatching(/^v0\.17\.0-/) });
  });

  it('rolls back when health can no longer be read (every check cut short until retries run out), instead of leaving the update unchecked', async () => {
    const good = await pipeline.deploy('hello-api', 'v0.19.0');
    pipeline.stack.aws.faults.lambdaTimeouts = { checkHealth: 4 }; // the first try and its three retries
    const run = await pipeline.deploy('hello-api', 'v0.20.0');
    expect(run.description.status).toBe('FAILED');
    expect(statesEntered(run.history)).toContain('Roll Back');
    expect(run.description.error).toBe('DeploymentFailedError');
    expect(run.description.cause).toMatch(/could not be verified.*Rolled back to v0\.19\.0-/s);
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(good.output.stages[0].release.versionLabel);
  });

  it('ends unverified, with an audit record saying so, when neither the deployment nor its rollback can be checked', async () => {
    await pipeline.deploy('hello-api', 'v0.20.5');
    pipeline.stack.aws.faults.lambdaTimeouts = { checkHealth: 100 };
    const run = await pipeline.deploy('hello-api', 'v0.20.6');
    pipeline.stack.aws.faults.lambdaTimeouts = {};
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('DeploymentUnverifiedError');
    expect(run.description.cause).toMatch(/could not be verified/);
    expect((await auditOf(run)).outcome).toBe('unverified');
  });

  it('keeps a healthy deployment SUCCEEDED when the audit write fails for a while, then writes the record', async () => {
    pipeline.stack.aws.faults.lambdaTimeouts = { recordAudit: 2 };
    const run = await pipeline.deploy('hello-api', 'v0.21.0');
    expect(run.description.status).toBe('SUCCEEDED');
    expect((await auditOf(run)).outcome).toBe('succeeded');
  });

  it('keeps a healthy deployment SUCCEEDED when the audit write fails for good', async () => {
    exhaustAuditRetriesQuickly();
    pipeline.stack.aws.faults.lambdaTimeouts = { recordAudit: 100 };
    const run = await pipeline.deploy('hello-api', 'v0.22.0');
    pipeline.stack.aws.faults.lambdaTimeouts = {};
    expect(run.description.status).toBe('SUCCEEDED');
    expect(run.output.auditError?.Error).toBe('Sandbox.Timedout');
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(run.output.stages[0].release.versionLabel);
  });

  it('deploys through throttled writes (UpdateEnvironment, CreateApplicationVersion) with retries', async () => {
    pipeline.stack.aws.faults.throttleRate = 0.3;
    const run = await pipeline.deploy('hello-api', 'v0.23.0');
    pipeline.stack.aws.faults.throttleRate = 0;
    expect(run.description.status).toBe('SUCCEEDED');
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(run.output.stages[0].release.versionLabel);
  });
});
