import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionName } from '../../shared/naming.ts';
import { type Pipeline, startPipeline } from './harness.ts';

// Its own file (and so its own process): the handlers' clients and settings are per process, and
// here the schedules run, which would race the on-demand steps of reconcile.test.ts.
const configPath = new URL('../fixtures/reconcile.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath, schedules: true });
});
afterAll(() => pipeline?.close());

describe('the reconciler schedule on the local endpoint', () => {
  it('reads install.reconciler.every from serverless.yml\'s schedule event', () => {
    const reconcile = pipeline.stack.manifest.functions.find((fn) => fn.key === 'reconcile');
    expect(reconcile?.schedules).toEqual([{ expression: 'rate(1 minute)', periodSeconds: 60 }]);
  });

  /** Waits for the execution of this name to appear, polling; a busy machine gets a generous deadline. */
  async function executionNamed(name: string): Promise<string | undefined> {
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline) {
      const { executions = [] } = await pipeline.sfn.send(new ListExecutionsCommand({ stateMachineArn: pipeline.stack.stateMachineArn }));
      const found = executions.find((e) => e.name === name);
      if (found) return found.executionArn;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return undefined;
  }

  it('deploys pushes whose events were lost without anybody invoking the reconciler, each once', async () => {
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const first = executionName('hello-api', { tag: 'v1.0.0', digest: await pipeline.push('hello-api', 'v1.0.0') });
    const firstArn = await executionNamed(first);
    expect(firstArn, 'the scheduled reconciler started no execution within 45 s').toBeDefined();
    expect((await pipeline.finish(firstArn!)).description.status).toBe('SUCCEEDED');

    // The schedule keeps running: a later lost push is found too, and the first is not started again.
    pipeline.stack.aws.faults.dropEcrEvents = 1;
    const second = executionName('hello-api', { tag: 'v1.0.1', digest: await pipeline.push('hello-api', 'v1.0.1') });
    const secondArn = await executionNamed(second);
    expect(secondArn, 'the schedule stopped after its first run').toBeDefined();
    expect((await pipeline.finish(secondArn!)).description.status).toBe('SUCCEEDED');
    const { executions = [] } = await pipeline.sfn.send(new ListExecutionsCommand({ stateMachineArn: pipeline.stack.stateMachineArn }));
    expect(executions.map((e) => e.name).sort()).toEqual([first, second].sort());
  }, 120_000);
});
