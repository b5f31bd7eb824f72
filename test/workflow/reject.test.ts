import { BatchDeleteImageCommand } from '@aws-sdk/client-ecr';
import { DescribeApplicationVersionsCommand } from '@aws-sdk/client-elastic-beanstalk';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from './harness.ts';

const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

/** Nothing reached the bundle bucket or Elastic Beanstalk (the audit record is the one write, by design). */
async function expectNothingDeployed(application: string) {
  expect(await pipeline.objectKeys(pipeline.stack.bundleBucket)).toEqual([]);
  const { ApplicationVersions = [] } = await pipeline.eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: application }));
  expect(ApplicationVersions).toEqual([]);
}

describe('the tag policy', () => {
  it('refuses the tag latest, with a cause a person understands, and deploys nothing', async () => {
    const run = await pipeline.deploy('hello-api', 'latest');
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('TagPolicyViolationError');
    expect(run.description.cause).toMatch(/latest/);
    expect(run.description.cause).toMatch(/immutable tag/);
    await expectNothingDeployed('hello-api');
  });

  it('refuses a tag no stage accepts, naming each stage and its rules', async () => {
    const run = await pipeline.deploy('hello-api', 'feature-x');
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('TagPolicyViolationError');
    expect(run.description.cause).toContain('hello-api-dev');
    expect(run.description.cause).toContain('v*');
    await expectNothingDeployed('hello-api');
  });

  it('keeps an audit record of the rejection', async () => {
    const keys = await pipeline.objectKeys(pipeline.stack.auditBucket);
    const records = await Promise.all(keys.map(async (key) => JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.auditBucket, key)))));
    expect(records.map((r) => [r.outcome, r.image?.tag, r.error])).toEqual(
      expect.arrayContaining([
        ['rejected', 'latest', 'TagPolicyViolationError'],
        ['rejected', 'feature-x', 'TagPolicyViolationError'],
      ]),
    );
  });
});

describe('an image deleted before the deployment runs', () => {
  it('fails with ImageNotFoundError (the digest is checked in ECR) and deploys nothing', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const digest = await pipeline.push('reports', 'v1.0.0');
    await pipeline.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'reports', imageIds: [{ imageDigest: digest }] }));
    // The event arrives late (EventBridge delivery is not instant): the image is gone by then.
    await pipeline.deliverPushEvent('reports', digest, 'v1.0.0');
    const [run] = await pipeline.executions();
    expect(run!.description.name).toContain(digest.slice(7, 23));
    expect(run!.description.status).toBe('FAILED');
    expect(run!.description.error).toBe('ImageNotFoundError');
    expect(run!.description.cause).toContain(digest);
    await expectNothingDeployed('reports');
  });
});

describe('events that are not deployable pushes', () => {
  it('ignores failed pushes, deletions and repositories outside the configuration', async () => {
    const before = (await pipeline.executions()).length;
    const events = new EventBridgeClient({ endpoint: pipeline.stack.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const digest = `sha256:${'a'.repeat(64)}`;
    const detail = (d: Record<string, string>) => JSON.stringify({ 'repository-name': 'hello-api', 'image-digest': digest, 'image-tag': 'v9.9.9', ...d });
    await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'aws.ecr', DetailType: 'ECR Image Action', Detail: detail({ result: 'FAILURE', 'action-type': 'PUSH' }) },
          { Source: 'aws.ecr', DetailType: 'ECR Image Action', Detail: detail({ result: 'SUCCESS', 'action-type': 'DELETE' }) },
        ],
      }),
    );
    await pipeline.push('unconfigured-repo', 'v1.0.0').catch(() => undefined);
    expect((await pipeline.executions()).length).toBe(before);
  });
});
