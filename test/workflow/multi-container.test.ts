import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../shared/bundle/zip.ts';
import { type Pipeline, startPipeline, statesEntered } from './harness.ts';

const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

async function containerImages(bundle: { bucket: string; key: string }): Promise<Record<string, string>> {
  const files = readBundle(await pipeline.object(bundle.bucket, bundle.key));
  const dockerrun = JSON.parse(new TextDecoder().decode(files['Dockerrun.aws.json']));
  return Object.fromEntries(dockerrun.containerDefinitions.map((c: { name: string; image: string }) => [c.name, c.image]));
}

describe('a multi-container application (Dockerrun v2)', () => {
  const uri = (repository: string) => pipeline.stack.aws.ecr.repositoryUri(repository);
  const seeded: Record<string, string> = {};

  it('deploys a push of one container beside the newest images of the others when none is deployed yet', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 3; // pushed before greenlight watched: no deployment
    for (const repository of ['shop-client', 'shop-worker', 'shop-nginx']) seeded[repository] = await pipeline.push(repository, 'v1.0.0');
    const run = await pipeline.deploy('shop-server', 'v1.0.0');
    expect(run.description.status).toBe('SUCCEEDED');
    const images = await containerImages(run.output.stages[0].release);
    expect(images).toEqual({
      client: `${uri('shop-client')}@${seeded['shop-client']}`,
      server: `${uri('shop-server')}@${run.digest}`,
      worker: `${uri('shop-worker')}@${seeded['shop-worker']}`,
      nginx: `${uri('shop-nginx')}@${seeded['shop-nginx']}`,
    });
  });

  it('changes only the pushed container: the others keep the digests deployed now, not the newest in ECR', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const undeployedClient = await pipeline.push('shop-client', 'v1.1.0'); // newer in ECR, never deployed
    const run = await pipeline.deploy('shop-worker', 'v1.1.0');
    expect(run.description.status).toBe('SUCCEEDED');
    const images = await containerImages(run.output.stages[0].release);
    expect(images.worker).toBe(`${uri('shop-worker')}@${run.digest}`);
    expect(images.client).toBe(`${uri('shop-client')}@${seeded['shop-client']}`);
    expect(images.client).not.toContain(undeployedClient);
    expect(images.nginx).toBe(`${uri('shop-nginx')}@${seeded['shop-nginx']}`);
  });
});

describe('two pushes racing for one environment', () => {
  it('never goes backwards: an older push that arrives after a newer one is deployed ends as superseded', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const olderDigest = await pipeline.push('hello-api', 'v0.4.0');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newer = await pipeline.deploy('hello-api', 'v0.5.0');
    expect(newer.description.status).toBe('SUCCEEDED');

    await pipeline.deliverPushEvent('hello-api', olderDigest, 'v0.4.0');
    const [older] = await pipeline.executions();
    expect(older!.description.name).toContain(olderDigest.slice(7, 23));
    expect(older!.description.status).toBe('SUCCEEDED');
    expect(statesEntered(older!.history)).toContain('Superseded');
    expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(newer.output.stages[0].release.versionLabel);
  });
});
