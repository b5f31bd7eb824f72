import { DescribeApplicationVersionsCommand, DescribeEnvironmentsCommand } from '@aws-sdk/client-elastic-beanstalk';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../shared/bundle/zip.ts';
import { type Pipeline, startPipeline, statesEntered } from './harness.ts';

const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

describe('a push of a single-container image (Dockerrun v1)', () => {
  it('deploys the pushed digest to dev and leaves the environment Green on the new version', async () => {
    const run = await pipeline.deploy('hello-api', 'v0.1.0');
    expect(run.description.status).toBe('SUCCEEDED');
    const label = run.output.stages[0].release.versionLabel as string;
    expect(label).toMatch(/^v0\.1\.0-[0-9a-f]{12}$/);

    const { Environments } = await pipeline.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }));
    expect(Environments?.[0]).toMatchObject({ VersionLabel: label, Status: 'Ready', Health: 'Green' });

    const bundle = readBundle(await pipeline.object(run.output.stages[0].release.bucket, run.output.stages[0].release.key));
    const dockerrun = JSON.parse(text(bundle['Dockerrun.aws.json']));
    expect(dockerrun.Image.Name).toBe(`${pipeline.stack.aws.ecr.repositoryUri('hello-api')}@${run.digest}`);
    expect(Object.keys(bundle)).toContain('.ebextensions/01-env.config');
    expect(Object.keys(bundle).some((name) => /Dockerfile/i.test(name))).toBe(false);
  });

  it('records the run in the execution history with the event types AWS uses', async () => {
    const [run] = await pipeline.executions();
    const types = new Set(run!.history.map((e) => e.type));
    for (const type of ['ExecutionStarted', 'TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionSucceeded', 'WaitStateEntered', 'ChoiceStateEntered', 'MapStateEntered', 'ExecutionSucceeded']) {
      expect(types).toContain(type);
    }
    expect(statesEntered(run!.history)).toEqual(expect.arrayContaining(['Resolve Plan', 'Prepare Release', 'Create Version', 'Deploy', 'Check Health', 'Stage Deployed', 'Record Success']));
  });

  it('writes an audit record that names image, digest, version and environment', async () => {
    const [run] = await pipeline.executions();
    const record = JSON.parse(text(await pipeline.object(pipeline.stack.auditBucket, run!.output.audit.key)));
    expect(record).toMatchObject({
      outcome: 'succeeded',
      application: 'hello-api',
      image: { repository: 'hello-api', tag: 'v0.1.0' },
      versionLabel: run!.output.stages[0].release.versionLabel,
      stages: [{ environment: 'hello-api-dev', outcome: 'deployed' }],
    });
  });

  it('goes on to the next stage only while the tag matches it (v1.0.0 reaches staging, v0.x does not)', async () => {
    const run = await pipeline.deploy('hello-api', 'v1.0.0');
    expect(run.description.status).toBe('SUCCEEDED');
    expect(run.output.stages.map((s: { environment: string }) => s.environment)).toEqual(['hello-api-dev', 'hello-api-staging']);
    const staging = pipeline.stack.aws.eb.environment('hello-api-staging');
    expect(staging?.VersionLabel).toBe(run.output.stages[0].release.versionLabel);
  });
});

describe('Dockerrun v3 with docker-compose.yml', () => {
  it('pins the compose service image to the pushed digest and ships the compose file', async () => {
    const run = await pipeline.deploy('reports', 'v2.0.0');
    expect(run.description.status).toBe('SUCCEEDED');
    const bundle = readBundle(await pipeline.object(run.output.stages[0].release.bucket, run.output.stages[0].release.key));
    expect(JSON.parse(text(bundle['Dockerrun.aws.json'])).AWSEBDockerrunVersion).toBe('3');
    expect(text(bundle['docker-compose.yml'])).toContain(`${pipeline.stack.aws.ecr.repositoryUri('reports')}@${run.digest}`);
  });
});

describe('a busy environment', () => {
  it('waits while the environment is not Ready (bounded retries), then deploys', async () => {
    pipeline.stack.aws.eb.makeBusy('hello-api-dev', 1);
    const run = await pipeline.deploy('hello-api', 'v0.2.0');
    expect(run.description.status).toBe('SUCCEEDED');
    const refusals = run.history.filter((e) => e.lambdaFunctionFailedEventDetails?.error === 'EnvironmentNotReadyError');
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]!.lambdaFunctionFailedEventDetails!.cause).toContain('hello-api-dev');
  });
});

describe('a repeated ECR event', () => {
  it('starts one execution and creates one application version', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const digest = await pipeline.push('hello-api', 'v0.3.0');
    await pipeline.deliverPushEvent('hello-api', digest, 'v0.3.0');
    await pipeline.deliverPushEvent('hello-api', digest, 'v0.3.0');
    await pipeline.stack.aws.sfn.settle();

    const { executions = [] } = await pipeline.sfn.send(new ListExecutionsCommand({ stateMachineArn: pipeline.stack.stateMachineArn }));
    const forPush = executions.filter((e) => e.name?.includes(digest.slice(7, 23)));
    expect(forPush).toHaveLength(1);
    expect(forPush[0]!.status).toBe('SUCCEEDED');
    const { ApplicationVersions = [] } = await pipeline.eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'hello-api' }));
    expect(ApplicationVersions.filter((v) => v.VersionLabel?.startsWith('v0.3.0-'))).toHaveLength(1);
  });
});

describe('a throttling AWS', () => {
  it('still deploys when a third of the ECR and EB read calls are throttled (SDK retries, then the state machine’s)', async () => {
    pipeline.stack.aws.faults.throttleRate = 0.33;
    try {
      const run = await pipeline.deploy('hello-api', 'v0.6.0');
      expect(run.description.status).toBe('SUCCEEDED');
      expect(pipeline.stack.aws.eb.environment('hello-api-dev')?.VersionLabel).toBe(run.output.stages[0].release.versionLabel);
    } finally {
      pipeline.stack.aws.faults.throttleRate = 0;
    }
  });
});
