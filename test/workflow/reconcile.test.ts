import { DescribeEnvironmentsCommand } from '@aws-sdk/client-elastic-beanstalk';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleManifest } from '../../local/services/ecr.ts';
import { executionName } from '../../shared/naming.ts';
import type { ReconcileSummary } from '../../shared/reconcile.ts';
import { type Pipeline, startPipeline } from './harness.ts';

const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;
let lambda: LambdaClient;

beforeAll(async () => {
  // Schedules off: the reconciler runs only when a test invokes it, so each step is observable.
  pipeline = await startPipeline({ configPath });
  lambda = new LambdaClient({ endpoint: pipeline.stack.endpoint, region: pipeline.stack.aws.region, credentials: { accessKeyId: 'ci', secretAccessKey: 'ci-secret' } });
});
afterAll(() => pipeline?.close());

/** Runs the reconciler as the schedule would, over the Lambda Invoke API, and returns its summary. */
async function reconcile(): Promise<ReconcileSummary> {
  const result = await lambda.send(new InvokeCommand({ FunctionName: 'greenlight-local-reconcile', Payload: JSON.stringify({ source: 'aws.scheduler' }) }));
  const payload = JSON.parse(new TextDecoder().decode(result.Payload));
  if (result.FunctionError) throw new Error(`the reconciler failed: ${payload.errorType}: ${payload.errorMessage}`);
  await pipeline.stack.aws.bus.settle();
  return payload as ReconcileSummary;
}

/** The executions of one pushed image (its digest is in every execution name). */
async function executionsOf(digest: string) {
  const { executions = [] } = await pipeline.sfn.send(new ListExecutionsCommand({ stateMachineArn: pipeline.stack.stateMachineArn }));
  return executions.filter((e) => e.name?.endsWith(digest.slice(7, 23)));
}

describe('the reconciler (ECR events are best effort)', () => {
  it('deploys a push whose event was lost, under the deterministic name, and never starts it twice', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const digest = await pipeline.push('hello-api', 'v0.7.0');
    await pipeline.stack.aws.bus.settle();
    expect(await executionsOf(digest)).toHaveLength(0);

    const first = await reconcile();
    const name = executionName('hello-api', { tag: 'v0.7.0', digest });
    expect(first.started).toEqual([{ executionName: name, repository: 'hello-api', tag: 'v0.7.0', digest }]);
    const [execution, ...others] = await executionsOf(digest);
    expect(others).toHaveLength(0);
    expect(execution!.name).toBe(name);

    const run = await pipeline.finish(execution!.executionArn!);
    expect(run.description.status).toBe('SUCCEEDED');
    const { Environments } = await pipeline.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }));
    // The version label is the tag and the bundle hash: the environment runs this push now.
    expect(Environments?.[0]).toMatchObject({ VersionLabel: expect.stringMatching(/^v0\.7\.0-[0-9a-f]{12}$/), Status: 'Ready', Health: 'Green' });

    const second = await reconcile();
    expect(second.started).toEqual([]);
    expect(second.alreadyHandled).toBeGreaterThanOrEqual(1);
    // The lost event turning up after all is answered by Step Functions: same name, same input.
    await pipeline.deliverPushEvent('hello-api', digest, 'v0.7.0');
    expect(await executionsOf(digest)).toHaveLength(1);
  });

  it('does not double a push whose event arrived and whose deployment is still running', async () => {
    const faults = pipeline.stack.aws.faults;
    const usual = faults.ebUpdateSeconds;
    faults.ebUpdateSeconds = 5; // keeps the deployment running while the reconciler looks
    try {
      const { executionArn, digest } = await pipeline.start('hello-api', 'v0.8.0');
      const summary = await reconcile();
      const { status } = await pipeline.sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(status).toBe('RUNNING');
      expect(summary.started).toEqual([]);
      expect(await executionsOf(digest)).toHaveLength(1);
      expect((await pipeline.finish(executionArn)).description.status).toBe('SUCCEEDED');
    } finally {
      faults.ebUpdateSeconds = usual;
    }
  });

  it('leaves alone a push older than its window (install.reconciler.window, 1h by default)', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const old = pipeline.stack.aws.ecr.putImage('webhooks', sampleManifest('webhooks:git_old'), 'git_old', { pushedAt: new Date(Date.now() - 2 * 3600_000) });
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const recent = pipeline.stack.aws.ecr.putImage('webhooks', sampleManifest('webhooks:git_new'), 'git_new', { pushedAt: new Date(Date.now() - 50 * 60_000) });

    const summary = await reconcile();
    expect(summary.started.map((push) => push.digest)).toEqual([recent.digest]);
    expect(await executionsOf(old.digest)).toHaveLength(0);
    expect(new Date(summary.window.to).getTime() - new Date(summary.window.from).getTime()).toBe(3600_000);
    await pipeline.executions();
  });

  it('never starts a digest-only image (no tag to hold against the tag policy)', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const untagged = pipeline.stack.aws.ecr.putImage('reports', sampleManifest('reports:untagged'));
    const summary = await reconcile();
    expect(summary.started).toEqual([]);
    expect(await executionsOf(untagged.digest)).toHaveLength(0);
  });
});
