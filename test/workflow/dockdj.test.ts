import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle, zipBundle, zipEntryModes } from '../../shared/bundle/zip.ts';
import { inspectBundle } from '../../local/services/elastic-beanstalk/index.ts';
import { type Pipeline, startPipeline } from './harness.ts';

const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
const hook = '.platform/hooks/predeploy/01-migrate.sh';
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

describe('the Django + nginx example (examples/dockdj, Dockerrun v2 with files from the bundle)', () => {
  it('deploys with its proxy and gunicorn configuration at the paths its volumes mount, and an executable predeploy hook', async () => {
    const run = await pipeline.deploy('dockdj-web', 'v1.0.0');
    expect(run.description.status).toBe('SUCCEEDED');
    const release = run.output.stages[0].release;
    const zip = await pipeline.object(release.bucket, release.key);
    const files = readBundle(zip);
    expect(Object.keys(files).sort()).toEqual([
      '.platform/hooks/predeploy/01-migrate.sh',
      '.platform/nginx/conf.d/timeouts.conf',
      'Dockerrun.aws.json',
      'gunicorn/gunicorn.conf.py',
      'proxy/conf.d/default.conf',
    ]);
    expect(zipEntryModes(zip)).toMatchObject({ [hook]: 0o755, 'proxy/conf.d/default.conf': 0o644, 'Dockerrun.aws.json': 0o644 });
    const dockerrun = JSON.parse(new TextDecoder().decode(files['Dockerrun.aws.json']));
    expect(dockerrun.containerDefinitions.map((c: { name: string; image: string }) => [c.name, c.image])).toEqual([
      ['django', `${pipeline.stack.aws.ecr.repositoryUri('dockdj-web')}@${run.digest}`],
      ['nginx', 'nginx:1.27-alpine'],
    ]);
    const environment = pipeline.stack.aws.eb.environment('dockdj-dev');
    expect(environment).toMatchObject({ VersionLabel: release.versionLabel, Health: 'Green', Status: 'Ready' });
  });

  it('gives the same bundle, byte for byte, when the same image is pushed again under another tag', async () => {
    const first = await pipeline.deploy('dockdj-web', 'v1.1.0', 'dockdj-same-bytes');
    const second = await pipeline.deploy('dockdj-web', 'v1.1.1', 'dockdj-same-bytes');
    expect(first.digest).toBe(second.digest);
    expect(second.output.stages[0].release.sha256).toBe(first.output.stages[0].release.sha256);
  });
});

describe('what the local Elastic Beanstalk checks in such a bundle', () => {
  const location = { S3Bucket: 'b', S3Key: 'k' };
  const entries = () => ({
    'Dockerrun.aws.json': new TextEncoder().encode(
      JSON.stringify({ AWSEBDockerrunVersion: 2, volumes: [{ name: 'proxy-conf', host: { sourcePath: '/var/app/current/proxy/conf.d' } }], containerDefinitions: [] }),
    ),
    [hook]: new TextEncoder().encode('#!/bin/bash\n'),
    'proxy/conf.d/default.conf': new TextEncoder().encode('server {}\n'),
  });

  it('runs a bundle whose hook is executable and whose mounted folders are there', () => {
    expect(inspectBundle(Buffer.from(zipBundle(entries(), [hook])), location)).toEqual({ ok: true, images: [] });
  });

  it('fails the deployment as EB does when a hook lost its executable bit', () => {
    expect(inspectBundle(Buffer.from(zipBundle(entries())), location).runFailure).toMatch(/RunAppDeployPreDeployHooks.*01-migrate\.sh: permission denied/);
  });

  it('fails it when a volume mounts a folder of /var/app/current the bundle does not hold', () => {
    const { 'proxy/conf.d/default.conf': _, ...withoutProxy } = entries();
    expect(inspectBundle(Buffer.from(zipBundle(withoutProxy, [hook])), location).runFailure).toMatch(/proxy-conf mounts \/var\/app\/current\/proxy\/conf\.d, which the source bundle does not contain/);
  });
});
