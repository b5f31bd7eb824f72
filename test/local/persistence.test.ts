
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LookupEventsCommand, CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { DescribeApplicationVersionsCommand, DescribeEnvironmentsCommand, DescribeEventsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalAws } from '../../local/server.ts';
import { sampleManifest } from '../../local/services/ecr.ts';
import { writeOciLayout } from './oci-layout.ts';
import { spawnGreenlightLocal, until } from './greenlight-local-process.ts';

const _bin = new URL('../../bin/greenlight.js', import.meta.url).pathname;
const configPath = new URL('./faults.greenlight.yml', import.meta.url).pathname;
const credentials = { accessKeyId: 'ci', secretAccessKey: 'ci-secret' };
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'greenlight-data-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const clients = (endpoint: string) => {
  const config = { endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
  return { ecr: new ECRClient(config), eb: new ElasticBeanstalkClient(config), s3: new S3Client({ ...config, forcePathStyle: true }), sfn: new SFNClient(config), cloudtrail: new CloudTrailClient(config) };
};


describe('LocalAws with a data folder', () => {
  it('takes back repositories, layers, images, tokens, EB state, S3 objects, executions and CloudTrail history; a running execution ends ABORTED', async () => {
    const dir = join(work, 'in-process');
    const first = await new LocalAws({ port: 0, dataDir: dir, faults: { waitScale: 1 } }).listen();
    const one = clients(first.endpoint);
    const definition = JSON.stringify({ StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 3600, Next: 'Done' }, Done: { Type: 'Pass', End: true } } });
    const quick = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', Result: { ok: true }, End: true } } });
    const role = 'arn:aws:iam::000000000000:role/r';
    let token: string;
    let digest: string;
    let layer: string;
    try {
      first.ecr.createRepository('api');
      token = (await one.ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
      const image = writeOciLayout(join(work, 'image'), 'v1', 'persisted');
      layer = image.layerDigest;
      const auth = { authorization: `Basic ${token}` };
      for (const [digestOf, bytes] of [
        [image.layerDigest, image.layer],
        [image.configDigest, undefined],
      ] as const) {
        const body = bytes ?? (await import('node:fs')).readFileSync(join(image.dir, 'blobs', 'sha256', digestOf.slice(7)));
        expect((await fetch(`${first.endpoint}/v2/api/blobs/uploads/?digest=${digestOf}`, { method: 'POST', headers: auth, body })).status).toBe(201);
      }
      const put = await fetch(`${first.endpoint}/v2/api/manifests/v1`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: image.manifest });
      digest = put.headers.get('docker-content-digest')!;
      await one.ecr.send(new PutImageCommand({ repositoryName: 'api', imageTag: 'v2', imageManifest: sampleManifest('v2') }));

      await first.s3.createBucket('bundles');
      await one.s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'app/v1.zip', Body: 'zip bytes' }));
      first.eb.createApplication('app');
      await first.eb.createApplicationVersion('app', 'v1', { bucket: 'bundles', key: 'app/v1.zip' });
      first.eb.createEnvironment('app', 'app-dev');

      first.sfn.createStateMachine('waits', definition, role);
      first.sfn.createStateMachine('quick', quick, role);
      await one.sfn.send(new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:quick', name: 'done-before' }));
      await first.sfn.settle().catch(() => undefined);
      await one.sfn.send(new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:waits', name: 'still-waiting' }));
      first.save();
    } finally {
      // The copy is what a killed process leaves behind: the last save, with the execution still RUNNING.
      cpSync(dir, join(work, 'killed'), { recursive: true });
      await first.close();
      for (const client of Object.values(one)) client.destroy();
    }

    const second = await new LocalAws({ port: 0, dataDir: join(work, 'killed') }).listen();
    const two = clients(second.endpoint);
    try {
      expect(second.restored).toMatchObject({ repositories: 1, images: 2, environments: 1, executions: 2, aborted: 1 });
      const { imageDetails = [] } = await two.ecr.send(new DescribeImagesCommand({ repositoryName: 'api' }));
      expect(imageDetails.map((i) => i.imageTags)).toEqual([['v1'], ['v2']]);
      expect(imageDetails[0]?.imageDigest).toBe(digest);
      // The token from before the restart still opens the registry, and the layer is still there.
      const blob = await fetch(`${second.endpoint}/v2/api/blobs/${layer}`, { headers: { authorization: `Basic ${token}` } });
      expect(blob.status).toBe(200);
      expect((await fetch(`${second.endpoint}/v2/api/manifests/v1`, { headers: { authorization: `Basic ${token}` } })).headers.get('docker-content-digest')).toBe(digest);

      const object = await two.s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'app/v1.zip' }));
      expect(await object.Body!.transformToString()).toBe('zip bytes');
      const versions = await two.eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'app' }));
      expect(versions.ApplicationVersions?.map((v) => v.VersionLabel)).toEqual(['v1']);
      const { Environments = [] } = await two.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['app-dev'] }));
      expect(Environments[0]).toMatchObject({ EnvironmentName: 'app-dev', Status: 'Ready' });
      expect((await two.eb.send(new DescribeEventsCommand({ EnvironmentName: 'app-dev' }))).Events?.length).toBeGreaterThan(0);

      second.sfn.createStateMachine('waits', definition, role);
      second.sfn.createStateMachine('quick', quick, role);
      const waiting = await two.sfn.send(new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:000000000000:execution:waits:still-waiting' }));
      expect(waiting).toMatchObject({ status: 'ABORTED', error: 'greenlight.Shutdown' });
      expect(waiting.cause).toContain('not resumed');
      const history = await two.sfn.send(new GetExecutionHistoryCommand({ executionArn: waiting.executionArn! }));
      expect(history.events?.map((e) => e.type)).toEqual(['ExecutionStarted', 'WaitStateEntered', 'ExecutionAborted']);
      expect(history.events?.[0]?.timestamp).toBeInstanceOf(Date);
      const done = await two.sfn.send(new ListExecutionsCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:quick' }));
      expect(done.executions?.map((e) => [e.name, e.status])).toEqual([['done-before', 'SUCCEEDED']]);

      const trail = await two.cloudtrail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'PutImage' }] }));
      expect(trail.Events?.map((e) => e.Username)).toEqual(['ci', 'ci']);
    } finally {
      await second.close();
      for (const client of Object.values(two)) client.destroy();
    }
  });

  it('refuses a state file it cannot read, saying so, and leaves it alone', async () => {
    const dir = join(work, 'damaged');
    new LocalAws({ port: 0, dataDir: dir }).save();
    writeFileSync(join(dir, 'state.json'), '{"version": 99}');
    expect(() => new LocalAws({ port: 0, dataDir: dir })).toThrow('state.json is of version 99, this greenlight reads version 1');
  });
});

/** `greenlight local --data DIR` as a person runs it, until it says where it listens. */
const greenlightLocal = (dir: string, ...args: string[]) => spawnGreenlightLocal(['--fast', '--config', configPath, '--data', dir, ...args]);

describe('greenlight local --data', () => {
  it('keeps what was deployed across a kill and a restart; the deployment that was running ends ABORTED', async () => {
    const dir = join(work, 'cli');
    const stateMachineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:greenlight-local-deploy-pipeline';
    const first = await greenlightLocal(dir);
    expect(first.stdout()).toContain(`state         ${dir} (empty: a first start)`);
    const one = clients(first.endpoint);
    let deployedLabel: string | undefined;
    try {
      await one.ecr.send(new PutImageCommand({ repositoryName: 'hello-api', imageTag: 'v1.0.0', imageManifest: sampleManifest('kept') }));
      const deployed = await until('the first deployment', async () => {
        const [execution] = (await one.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
        return execution && execution.status !== 'RUNNING' ? execution : undefined;
      });
      expect(deployed.status).toBe('SUCCEEDED');
      deployedLabel = (await one.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }))).Environments?.[0]?.VersionLabel;
      expect(deployedLabel).toMatch(/^v1\.0\.0-/);
      // A second deployment, slowed down, is still running when the process is killed.
      await fetch(`${first.endpoint}/_greenlight/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ebUpdateSeconds": 60}' });
      await one.ecr.send(new PutImageCommand({ repositoryName: 'hello-api', imageTag: 'v1.1.0', imageManifest: sampleManifest('interrupted') }));
      await until('the second deployment to update the environment', async () => {
        const env = (await one.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }))).Environments?.[0];
        return env?.Status === 'Updating' ? true : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 700)); // one save period
    } finally {
      for (const client of Object.values(one)) client.destroy();
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.on('exit', resolve));
    }

    const second = await greenlightLocal(dir);
    const two = clients(second.endpoint);
    try {
      expect(second.stdout()).toContain('taken back: 2 repositories, 2 images, 2 environments, 2 executions (1 were running and ended ABORTED, greenlight.Shutdown: executions do not resume)');
      const { imageDetails = [] } = await two.ecr.send(new DescribeImagesCommand({ repositoryName: 'hello-api' }));
      expect(imageDetails.flatMap((i) => i.imageTags)).toEqual(['v1.0.0', 'v1.1.0']);
      const executions = (await two.sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
      expect(executions.map((e) => e.status)).toEqual(['ABORTED', 'SUCCEEDED']);
      const succeeded = await two.sfn.send(new GetExecutionHistoryCommand({ executionArn: executions[1]!.executionArn! }));
      expect(succeeded.events?.at(-1)?.type).toBe('ExecutionSucceeded');
      const versions = await two.eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'hello-api' }));
      expect(versions.ApplicationVersions?.map((v) => v.VersionLabel)).toContain(deployedLabel);
      // The bundle the first deployment stored is still in S3, where the version points.
      const bundle = versions.ApplicationVersions!.find((v) => v.VersionLabel === deployedLabel)!.SourceBundle!;
      expect((await two.s3.send(new GetObjectCommand({ Bucket: bundle.S3Bucket, Key: bundle.S3Key }))).ContentLength).toBeGreaterThan(0);
      // The update EB had in flight is still in flight (it settles 60 s after it started), naming the version it deploys.
      const env = (await two.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }))).Environments?.[0];
      expect(env).toMatchObject({ Status: 'Updating', AbortableOperationInProgress: true, VersionLabel: expect.stringMatching(/^v1\.1\.0-/) });
    } finally {
      for (const client of Object.values(two)) client.destroy();
      second.child.kill('SIGTERM');
      await new Promise((resolve) => second.child.on('exit', resolve));
    }
  });
});
