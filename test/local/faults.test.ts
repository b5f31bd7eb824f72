import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { DescribeEnvironmentsCommand, DescribeEventsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultsFromOptions } from '../../cli/commands/local.ts';
import { adminRoute } from '../../local/admin.ts';
import { copyFaults, type Faults, FaultsError, parseFaultsChange, testFaults } from '../../local/faults.ts';
import type { LocalRequest } from '../../local/protocol/types.ts';
import { LocalAws, startLocalAws } from '../../local/server.ts';
import { sampleManifest } from '../../local/services/ecr.ts';
import { spawnGreenlightLocal, until } from './greenlight-local-process.ts';

const bin = new URL('../../bin/greenlight.js', import.meta.url).pathname;
const configPath = new URL('./faults.greenlight.yml', import.meta.url).pathname;
const credentials = { accessKeyId: 'ci', secretAccessKey: 'ci-secret' };
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'greenlight-faults-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** Starts `greenlight local` as a person would and resolves with its endpoint once it says where it listens. */
const greenlightLocal = (...args: string[]) => spawnGreenlightLocal(['--config', configPath, ...args]);

const faultsOf = async (endpoint: string): Promise<Faults> => ((await (await fetch(`${endpoint}/_greenlight/faults`)).json()) as { faults: Faults }).faults;
const post = (endpoint: string, change: unknown) => fetch(`${endpoint}/_greenlight/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(change) });


describe('fault knobs as a person writes them', () => {
  it('refuses unknown knobs and wrong values, naming each', () => {
    expect(() => parseFaultsChange({ throttle: 0.5, throttleRate: 2, busyEnvironments: { a: -1 } }, 'f.yml')).toThrow(FaultsError);
    try {
      parseFaultsChange({ throttle: 0.5, throttleRate: 2, busyEnvironments: { a: -1 } }, 'f.yml');
    } catch (error) {
      expect((error as Error).message).toMatch(/^f\.yml: /);
      expect((error as Error).message).toContain('unknown knob throttle');
      expect((error as Error).message).toContain('throttleRate');
      expect((error as Error).message).toContain('busyEnvironments.a');
    }
  });

  it('reads a --faults file and puts the flags on top (lists added to, values replaced)', () => {
    const path = file('knobs.yml', 'failingImages: [web:v1]\nthrottleRate: 0.5\nbusyEnvironments: { a: 10 }\nwaitScale: 0.5\n');
    expect(faultsFromOptions({ faults: path, failImage: ['api'], busy: ['b=20'], throttle: '0.25', dropEvents: '2', ebUpdateSeconds: '3' })).toEqual({
      failingImages: ['web:v1', 'api'],
      busyEnvironments: { a: 10, b: 20 },
      throttleRate: 0.25,
      dropEcrEvents: 2,
      ebUpdateSeconds: 3,
      waitScale: 0.5,
    });
    expect(() => faultsFromOptions({ busy: ['b:20'] })).toThrow('--busy b:20: write ENVIRONMENT=SECONDS');
    expect(() => faultsFromOptions({ throttle: 'lots' })).toThrow('--throttle lots: not a number');
    expect(() => faultsFromOptions({ faults: join(work, 'missing.yml') })).toThrow('cannot be read (ENOENT)');
  });

  it('gives each endpoint its own deep copy: neither the caller nor another endpoint sees a change', async () => {
    const mine: Partial<Faults> = { failingImages: ['x'], busyEnvironments: { e: 1 } };
    const one = new LocalAws({ faults: mine });
    const two = new LocalAws({ faults: mine });
    one.faults.failingImages.push('y');
    one.faults.busyEnvironments.f = 2;
    expect(two.faults.failingImages).toEqual(['x']);
    expect(two.faults.busyEnvironments).toEqual({ e: 1 });
    expect(mine).toEqual({ failingImages: ['x'], busyEnvironments: { e: 1 } });
    expect(testFaults.failingImages).toEqual([]);
    expect(copyFaults(testFaults).busyEnvironments).not.toBe(testFaults.busyEnvironments);
    await Promise.all([one.close(), two.close()]);
  });
});

describe('the admin route', () => {
  const request = (init: Partial<LocalRequest>): LocalRequest => ({ method: 'GET', path: '/_greenlight/faults', query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0), requestId: 'r', remoteAddress: '127.0.0.1', ...init });

  it('answers only loopback, and takes POST only as JSON', async () => {
    const aws = new LocalAws();
    expect((await adminRoute(aws, request({ remoteAddress: '10.1.2.3' }))).status).toBe(403);
    expect((await adminRoute(aws, request({ remoteAddress: '::ffff:127.0.0.1' }))).status).toBe(200);
    expect((await adminRoute(aws, request({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.from('{"throttleRate":1}') }))).status).toBe(415);
    expect(aws.faults.throttleRate).toBe(0);
    await aws.close();
  });

  it('shows, changes (refusing what is wrong) and resets the knobs of a running endpoint', async () => {
    const aws = await startLocalAws({ port: 0, faults: { ebUpdateSeconds: 0.3 } });
    aws.eb.createApplication('app');
    aws.eb.createEnvironment('app', 'app-dev');
    aws.ecr.createRepository('api');
    const { digest } = aws.ecr.putImage('api', sampleManifest('api:v2'), 'v2');
    try {
      expect(await faultsOf(aws.endpoint)).toMatchObject({ ebUpdateSeconds: 0.3, throttleRate: 0 });
      const changed = await post(aws.endpoint, { throttleRate: 0.5, failingImages: ['api:v2'], busyEnvironments: { 'app-dev': 30 } });
      expect(changed.status).toBe(200);
      // A failing tag also names the digest it points at: deployments pin digests.
      expect((await faultsOf(aws.endpoint)).failingImages).toEqual(['api:v2', digest]);
      expect(aws.faults.throttleRate).toBe(0.5);
      expect(aws.eb.environment('app-dev')?.Status).toBe('Updating');
      const wrong = await post(aws.endpoint, { throttleRate: 3, nonsense: true });
      expect(wrong.status).toBe(400);
      expect(((await wrong.json()) as { message: string }).message).toMatch(/unknown knob nonsense.*throttleRate/);
      const unknownEnvironment = await post(aws.endpoint, { busyEnvironments: { 'no-such-env': 5 } });
      expect(((await unknownEnvironment.json()) as { message: string }).message).toContain('there is no environment no-such-env');
      const reset = await fetch(`${aws.endpoint}/_greenlight/faults`, { method: 'DELETE' });
      expect(((await reset.json()) as { faults: Faults }).faults).toMatchObject({ throttleRate: 0, failingImages: [], ebUpdateSeconds: 0.3 });
    } finally {
      await aws.close();
    }
  });
});

describe('greenlight local with fault flags', () => {
  it('refuses a wrong --faults file or flag before starting, naming the problem', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'local', '--port', '0', '--config', configPath, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    const bad = run('--faults', file('bad.yml', 'throttleRate: 7\nfailImages: [x]\n'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown knob failImages');
    expect(bad.stderr).toContain('throttleRate');
    const unknownEnvironment = run('--busy', 'nowhere-dev=5');
    expect(unknownEnvironment.status).toBe(2);
    expect(unknownEnvironment.stderr).toContain('there is no environment nowhere-dev');
  });

  it('does what each flag says: --throttle, --busy, --drop-events, --eb-update-seconds, --fail-image; and the admin route changes them while it runs', async () => {
    const local = await greenlightLocal('--fast', '--throttle', '1', '--busy', 'webhooks-dev=30', '--drop-events', '1', '--eb-update-seconds', '1.5', '--fail-image', 'hello-api:v6.6.6');
    const config = { endpoint: local.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
    const eb = new ElasticBeanstalkClient(config);
    const ecr = new ECRClient(config);
    const sfn = new SFNClient(config);
    try {
      expect(local.stdout()).toContain('faults        failing hello-api:v6.6.6, webhooks-dev busy 30 s, throttle 1, drop 1 push events, EB updates 1.5 s');
      expect(await faultsOf(local.endpoint)).toMatchObject({ throttleRate: 1, dropEcrEvents: 1, ebUpdateSeconds: 1.5, failingImages: ['hello-api:v6.6.6'], replayAwsEvents: false });

      // --throttle 1: every read is throttled, until the admin route says otherwise.
      await expect(eb.send(new DescribeEnvironmentsCommand({}))).rejects.toMatchObject({ name: 'Throttling' });
      expect((await post(local.endpoint, { throttleRate: 0 })).status).toBe(200);
      const { Environments = [] } = await eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['webhooks-dev', 'hello-api-dev'] }));
      // --busy webhooks-dev=30: someone else's update is running there.
      expect(Object.fromEntries(Environments.map((e) => [e.EnvironmentName, e.Status]))).toEqual({ 'webhooks-dev': 'Updating', 'hello-api-dev': 'Ready' });

      const stateMachineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:greenlight-local-deploy-pipeline';
      const executions = async () => (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
      // --drop-events 1: the first push is lost (no deployment), the next one is not.
      await ecr.send(new PutImageCommand({ repositoryName: 'hello-api', imageTag: 'v0.1.0', imageManifest: sampleManifest('dropped') }));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await executions()).toEqual([]);
      expect((await faultsOf(local.endpoint)).dropEcrEvents).toBe(0);

      // --fail-image hello-api:v6.6.6 and --eb-update-seconds 1.5: the update takes its time, then health goes Red.
      await ecr.send(new PutImageCommand({ repositoryName: 'hello-api', imageTag: 'v6.6.6', imageManifest: sampleManifest('failing') }));
      const executionArn = await until('an execution', async () => (await executions()).find((e) => e.name?.startsWith('hello-api-v6-6-6'))?.executionArn);
      expect(await executions()).toHaveLength(1);
      const updating = await until('the update', async () => {
        const env = (await eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }))).Environments?.[0];
        return env?.Status === 'Updating' ? Date.now() : undefined;
      });
      const ready = await until('the end of the update', async () => {
        const env = (await eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }))).Environments?.[0];
        return env?.Status === 'Ready' ? Date.now() : undefined;
      });
      expect(ready - updating).toBeGreaterThan(1_000);
      const finished = await until('the execution to end', async () => {
        const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        return status === 'RUNNING' ? undefined : status;
      });
      expect(finished).toBe('FAILED');
      const { Events = [] } = await eb.send(new DescribeEventsCommand({ EnvironmentName: 'hello-api-dev', Severity: 'ERROR' }));
      expect(Events.length).toBeGreaterThan(0);
    } finally {
      for (const client of [eb, ecr, sfn]) client.destroy();
      await local.stop();
    }
  });
});
