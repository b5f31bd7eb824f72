import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../local/server.ts';
import { projectRoot } from '../../local/stack.ts';
import { installed } from '../tools.ts';

// Finished executions beyond keepExecutions are dropped, oldest first, as AWS forgets them after its
// retention: a dropped one answers ExecutionDoesNotExist, its name stays taken, running ones stay.

const hasAwsCli = installed('aws');
const machine = {
  StartAt: 'Choose',
  States: {
    Choose: { Type: 'Choice', Choices: [{ Variable: '$.hold', BooleanEquals: true, Next: 'Hold' }], Default: 'Done' },
    // At waitScale 0.01 this is 1,000 s: the execution runs until it is stopped.
    Hold: { Type: 'Wait', Seconds: 100_000, Next: 'Done' },
    Done: { Type: 'Pass', Result: { finished: true }, End: true },
  },
};

let aws: LocalAws | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await aws?.close();
  aws = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

async function endpoint(options: { keepExecutions?: number; dataDir?: string }) {
  aws = await startLocalAws({ port: 0, projectRoot, faults: { waitScale: 0.01 }, ...options });
  const sfn = new SFNClient({ endpoint: aws.endpoint, region: aws.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const { stateMachineArn } = await sfn.send(new CreateStateMachineCommand({ name: 'retention', definition: JSON.stringify(machine), roleArn: 'arn:aws:iam::000000000000:role/test' }));
  const local = aws;
  const run = async (name: string, hold = false) => {
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ hold }) }));
    if (!hold) await local.sfn.execution(executionArn!).done;
    return executionArn!;
  };
  return { aws: local, sfn, stateMachineArn: stateMachineArn!, run };
}

describe('finished executions beyond --keep-executions', () => {
  it('drops the oldest finished one when the N+1th finishes: ExecutionDoesNotExist, and its name stays taken', async () => {
    const { sfn, stateMachineArn, run } = await endpoint({ keepExecutions: 2 });
    const first = await run('first');
    const second = await run('second');
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: first }))).status).toBe('SUCCEEDED');

    const third = await run('third');
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn: first }))).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(sfn.send(new GetExecutionHistoryCommand({ executionArn: first }))).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    // A late or repeated event (or the reconciler) cannot start that push again.
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'first', input: JSON.stringify({ hold: false }) }))).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(executions.map((e) => e.executionArn)).toEqual([third, second]);
    // What is kept answers in full, its sealed history included.
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: second }));
    expect(events.map((e) => e.type)).toEqual(['ExecutionStarted', 'ChoiceStateEntered', 'ChoiceStateExited', 'PassStateEntered', 'PassStateExited', 'ExecutionSucceeded']);
    expect(events[0]!.timestamp).toBeInstanceOf(Date);
    expect(events.at(-1)!.executionSucceededEventDetails?.output).toBe('{"finished":true}');
  });

  it('never drops a running execution, however many finish after it', async () => {
    const { sfn, run } = await endpoint({ keepExecutions: 1 });
    const running = await run('running', true);
    for (const name of ['a', 'b', 'c']) await run(name);
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: running }))).status).toBe('RUNNING');
    await sfn.send(new StopExecutionCommand({ executionArn: running }));
    await aws!.sfn.execution(running).done;
    // Once it has ended it is the newest finished one, and the one before it goes.
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: running }))).status).toBe('ABORTED');
    expect(aws!.sfn.listExecutions().map((e) => e.name)).toEqual(['running']);
  });

  it.skipIf(!hasAwsCli)('answers the AWS CLI for a dropped execution as AWS does: ExecutionDoesNotExist', async () => {
    const { aws: local, run } = await endpoint({ keepExecutions: 1 });
    const dropped = await run('dropped');
    await run('kept');
    const result = await promisify(execFile)(
      'aws',
      ['stepfunctions', 'describe-execution', '--execution-arn', dropped, '--endpoint-url', local.endpoint, '--region', local.region, '--output', 'json'],
      { env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_PAGER: '' } },
    ).then(
      () => ({ failed: false, stderr: '' }),
      (error: { stderr: string }) => ({ failed: true, stderr: error.stderr }),
    );
    expect(result.failed).toBe(true);
    expect(result.stderr).toContain('An error occurred (ExecutionDoesNotExist) when calling the DescribeExecution operation');
  });

  it('keeps only N across a restart with --data, and the dropped names stay taken', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'greenlight-retention-'));
    const before = await endpoint({ keepExecutions: 3, dataDir });
    for (const name of ['one', 'two', 'three']) await before.run(name);
    await before.aws.close();
    aws = undefined;
    // A finished execution's history is saved as it is kept, packed: a save never inflates every history.
    const saved = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as { sfn: { executions: Array<{ name: string; history?: unknown; packedHistory?: unknown; historyLength?: number }> } };
    expect(saved.sfn.executions.map((e) => [e.name, typeof e.packedHistory, e.history, e.historyLength])).toEqual([
      ['one', 'string', undefined, 6],
      ['two', 'string', undefined, 6],
      ['three', 'string', undefined, 6],
    ]);

    const after = await endpoint({ keepExecutions: 1, dataDir });
    expect(after.aws.sfn.listExecutions().map((e) => e.name)).toEqual(['three']);
    const { events = [] } = await after.sfn.send(new GetExecutionHistoryCommand({ executionArn: after.aws.sfn.listExecutions()[0]!.executionArn }));
    expect(events.map((e) => e.type)).toEqual(['ExecutionStarted', 'ChoiceStateEntered', 'ChoiceStateExited', 'PassStateEntered', 'PassStateExited', 'ExecutionSucceeded']);
    expect(events[0]!.executionStartedEventDetails?.input).toBe('{"hold":false}');
    await expect(after.sfn.send(new StartExecutionCommand({ stateMachineArn: after.stateMachineArn, name: 'one', input: '{"hold":false}' }))).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await after.aws.close();
    aws = undefined;

    // And the dropped names survive the next restart too.
    const again = await endpoint({ keepExecutions: 1, dataDir });
    await expect(again.sfn.send(new StartExecutionCommand({ stateMachineArn: again.stateMachineArn, name: 'two', input: '{"hold":false}' }))).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('refuses a keepExecutions below 1', async () => {
    await expect(startLocalAws({ port: 0, projectRoot, keepExecutions: 0 })).rejects.toThrow(/keepExecutions must be a whole number of at least 1/);
  });
});
