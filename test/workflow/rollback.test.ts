import { DescribeEnvironmentsCommand } from '@aws-sdk/client-elastic-beanstalk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, digestOfSample, startPipeline, statesEntered } from './harness.ts';

const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

describe('a deployment whose health goes Red', () => {
  it('rolls back to the previous version and fails with the EB events that explain it', async () => {
    const good = await pipeline.deploy('hello-api', 'v0.1.0');
    expect(good.description.status).toBe('SUCCEEDED');
    const goodLabel = good.output.stages[0].release.versionLabel as string;

    pipeline.stack.aws.faults.failingImages = [digestOfSample('hello-api:v0.2.0')];
    const bad = await pipeline.deploy('hello-api', 'v0.2.0');

    expect(bad.description.status).toBe('FAILED');
    expect(bad.description.error).toBe('DeploymentFailedError');
    expect(bad.description.cause).toContain('Failed to deploy application');
    expect(bad.description.cause).toContain(`Rolled back to ${goodLabel}`);
    expect(statesEntered(bad.history)).toEqual(expect.arrayContaining(['Roll Back', 'Check Rollback Health', 'Deployment Rolled Back', 'Record Failure']));

    const { Environments } = await pipeline.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }));
    expect(Environments?.[0]).toMatchObject({ VersionLabel: goodLabel, Status: 'Ready', Health: 'Green' });
  });

  it('audits the failure with its cause', async () => {
    const [latest] = await pipeline.executions();
    const key = (await pipeline.objectKeys(pipeline.stack.auditBucket)).find((k) => k.endsWith(`/${latest!.description.name}.json`));
    const record = JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.auditBucket, key!)));
    expect(record).toMatchObject({ outcome: 'failed', error: 'DeploymentFailedError' });
    expect(record.cause).toContain('Failed to deploy application');
  });

  it('fails without a rollback when a first deployment fails, saying there was nothing to roll back to', async () => {
    pipeline.stack.aws.faults.failingImages = [digestOfSample('reports:v1.0.0')];
    const run = await pipeline.deploy('reports', 'v1.0.0');
    expect(run.description.status).toBe('FAILED');
    expect(run.description.error).toBe('DeploymentFailedError');
    expect(run.description.cause).toContain('no previous version to roll back to');
  });
});

describe('a deployment that never becomes healthy in time', () => {
  it('times out, aborts the update, rolls back and fails naming the timeout', async () => {
    pipeline.stack.aws.faults.failingImages = [];
    const good = await pipeline.deploy('webhooks', 'git_1111111');
    expect(good.description.status).toBe('SUCCEEDED');

    pipeline.stack.aws.faults.ebUpdateSeconds = 30; // far beyond the app's 2 s health timeout
    const slow = await pipeline.deploy('webhooks', 'git_2222222');
    pipeline.stack.aws.faults.ebUpdateSeconds = 0.3;

    expect(slow.description.status).toBe('FAILED');
    expect(slow.description.error, slow.description.cause).toBe('DeploymentFailedError');
    expect(slow.description.cause).toContain("did not become healthy by");
    const env = pipeline.stack.aws.eb.environment('webhooks-dev');
    expect(env).toMatchObject({ VersionLabel: good.output.stages[0].release.versionLabel, Status: 'Ready', Health: 'Green' });
  });
});
