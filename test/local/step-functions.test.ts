import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../local/stack.ts';
import { type LocalAws, startLocalAws } from '../../local/server.ts';

let aws: LocalAws;
let sfn: SFNClient;
const fn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const heldTokens = () => ((globalThis as { heldTokens?: string[] }).heldTokens ??= []);

const smallMachine = {
  Comment: 'a Lambda task, a Wait and a Choice',
  StartAt: 'Double',
  States: {
    Double: { Type: 'Task', Resource: fn('double'), InputPath: '$.input', ResultPath: '$.doubled', Next: 'Pause' },
    Pause: { Type: 'Wait', Seconds: 1, Next: 'Big?' },
    'Big?': { Type: 'Choice', Choices: [{ Variable: '$.doubled.value', NumericGreaterThan: 10, Next: 'Big' }], Default: 'Small' },
    Big: { Type: 'Pass', Result: 'big', ResultPath: '$.size', End: true },
    Small: { Type: 'Fail', Error: 'TooSmall', Cause: 'the doubled value is 10 or less' },
  },
};

async function createMachine(name: string, definition: object): Promise<string> {
  const created = await sfn.send(new CreateStateMachineCommand({ name, definition: JSON.stringify(definition), roleArn: 'arn:aws:iam::000000000000:role/test' }));
  return created.stateMachineArn!;
}

async function run(stateMachineArn: string, input: object, name?: string) {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input), name }));
  await aws.sfn.execution(executionArn!).done;
  const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
  return { executionArn: executionArn!, description, events };
}

async function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  aws = await startLocalAws({ port: 0, projectRoot, faults: { waitScale: 0.01 } });
  for (const name of ['double', 'reject', 'holdToken']) aws.lambda.register({ name, handler: `test/fixtures/lambda/handlers.${name}`, timeoutSeconds: 5, memorySize: 128 });
  sfn = new SFNClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
});
afterAll(() => aws?.close());

describe('executions', () => {
  it('runs a Lambda task, a Wait and a Choice, and reports the history with the event types AWS uses', async () => {
    const arn = await createMachine('small', smallMachine);
    const { description, events } = await run(arn, { input: { value: 6 } });
    expect(description.status).toBe('SUCCEEDED');
    expect(JSON.parse(description.output!)).toEqual({ input: { value: 6 }, doubled: { value: 12 }, size: 'big' });
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e, i) => e.previousEventId === i)).toBe(true);
    expect(events[2]!.lambdaFunctionScheduledEventDetails).toMatchObject({ resource: fn('double'), input: '{"value":6}' });
    expect(JSON.parse(events[4]!.lambdaFunctionSucceededEventDetails!.output!)).toEqual({ value: 12 });
  });

  it('fails through a Fail state with its error and cause', async () => {
    const arn = await createMachine('small', smallMachine);
    const { description, events } = await run(arn, { input: { value: 2 } });
    expect(description).toMatchObject({ status: 'FAILED', error: 'TooSmall', cause: 'the doubled value is 10 or less' });
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: 'TooSmall' } });
  });

  it('matches a Lambda error by its name in Catch, with the Lambda error payload as the Cause', async () => {
    const arn = await createMachine('catcher', {
      StartAt: 'Try',
      States: {
        Try: { Type: 'Task', Resource: fn('reject'), Catch: [{ ErrorEquals: ['ValueRejectedError'], ResultPath: '$.error', Next: 'Caught' }], End: true },
        Caught: { Type: 'Pass', End: true },
      },
    });
    const { description, events } = await run(arn, { reason: 'not today' });
    expect(description.status).toBe('SUCCEEDED');
    const output = JSON.parse(description.output!);
    expect(output.error.Error).toBe('ValueRejectedError');
    expect(JSON.parse(output.error.Cause)).toMatchObject({ errorType: 'ValueRejectedError', errorMessage: 'not today' });
    expect(events.map((e) => e.type)).toContain('LambdaFunctionFailed');
  });

  it('lists executions and stops a running one', async () => {
    const arn = await createMachine('slow', { StartAt: 'Long', States: { Long: { Type: 'Wait', Seconds: 3600, End: true } } });
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'to-stop' }));
    const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'RUNNING' }));
    expect(executions.map((e) => e.name)).toContain('to-stop');
    await sfn.send(new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'no longer needed' }));
    await aws.sfn.execution(executionArn!).done;
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({ status: 'ABORTED' });
  });
});

describe('execution names', () => {
  it('returns the running execution for the same name and input, refuses other input or a finished one', async () => {
    const arn = await createMachine('named', { StartAt: 'Long', States: { Long: { Type: 'Wait', Seconds: 3600, End: true } } });
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'deploy-1', input: '{"a":1}' }));
    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'deploy-1', input: '{"a":1}' }));
    expect(again.executionArn).toBe(first.executionArn);
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'deploy-1', input: '{"a":2}' }))).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    await sfn.send(new StopExecutionCommand({ executionArn: first.executionArn }));
    await aws.sfn.execution(first.executionArn!).done;
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'deploy-1', input: '{"a":1}' }))).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('refuses names AWS refuses (a sha256: digest must be sanitised)', async () => {
    const arn = await createMachine('small', smallMachine);
    for (const name of ['api:sha256:abc', 'has space', 'x'.repeat(81)]) {
      await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name }))).rejects.toMatchObject({ name: 'InvalidName' });
    }
  });
});

describe('task tokens (.waitForTaskToken)', () => {
  const waiting = {
    StartAt: 'Ask',
    States: {
      Ask: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: { FunctionName: fn('holdToken'), Payload: { 'token.$': '$$.Task.Token' } },
        TimeoutSeconds: 2,
        End: true,
      },
    },
  };

  it('waits for SendTaskSuccess and continues with its output; a replay of the token gets TaskTimedOut', async () => {
    const arn = await createMachine('waiting', waiting);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn }));
    const token = await waitFor(() => heldTokens().shift(), 'the token');
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ decision: 'approve' }) }));
    await aws.sfn.execution(executionArn!).done;
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(description.status).toBe('SUCCEEDED');
    expect(JSON.parse(description.output!)).toEqual({ decision: 'approve' });
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))).rejects.toMatchObject({ name: 'TaskTimedOut' });
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded']));
  });

  it('fails the task with SendTaskFailure’s error and cause', async () => {
    const arn = await createMachine('waiting', waiting);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn }));
    const token = await waitFor(() => heldTokens().shift(), 'the token');
    await sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'ApprovalRejectedError', cause: 'not this one' }));
    await aws.sfn.execution(executionArn!).done;
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({ status: 'FAILED', error: 'ApprovalRejectedError', cause: 'not this one' });
  });

  it('times the task out after TimeoutSeconds; the token is then refused with TaskTimedOut', async () => {
    const arn = await createMachine('waiting', waiting);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn }));
    const token = await waitFor(() => heldTokens().shift(), 'the token');
    await aws.sfn.execution(executionArn!).done;
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('refuses a forged token with InvalidToken and output that is not JSON with InvalidOutput', async () => {
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: 'forged.token', output: '{}' }))).rejects.toMatchObject({ name: 'InvalidToken' });
    const arn = await createMachine('waiting', waiting);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn }));
    const token = await waitFor(() => heldTokens().shift(), 'the token');
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: 'not json' }))).rejects.toMatchObject({ name: 'InvalidOutput' });
    await sfn.send(new StopExecutionCommand({ executionArn }));
  });
});

describe('scaled time (faults.waitScale) keeps the Retry semantics', () => {
  const retrying = (retrier: object) => ({
    StartAt: 'Try',
    States: { Try: { Type: 'Task', Resource: fn('reject'), Retry: [{ ErrorEquals: ['ValueRejectedError'], ...retrier }], End: true } },
  });

  /** Runs a task that always fails under the retrier; returns the milliseconds between its attempts, from the history. */
  async function attemptGaps(name: string, retrier: object, waitScale: number): Promise<number[]> {
    const previous = aws.faults.waitScale;
    aws.faults.waitScale = waitScale;
    try {
      const arn = await createMachine(name, retrying(retrier));
      const { description, events } = await run(arn, { reason: 'try again' });
      expect(description).toMatchObject({ status: 'FAILED', error: 'ValueRejectedError' });
      const times = events.filter((e) => e.type === 'LambdaFunctionScheduled').map((e) => e.timestamp!.getTime());
      return times.slice(1).map((time, i) => time - times[i]!);
    } finally {
      aws.faults.waitScale = previous;
    }
  }

  it('grows the gap between attempts by BackoffRate (IntervalSeconds scaled, not replaced)', async () => {
    // Real time 10 s, 20 s, 40 s, 80 s; at 0.015 that is 150, 300, 600, 1200 ms.
    const gaps = await attemptGaps('backoff', { IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 4 }, 0.015);
    expect(gaps).toHaveLength(4);
    expect(gaps[0]).toBeGreaterThanOrEqual(145);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]! * 1.5 - 20);
  });

  it('caps the gap at MaxDelaySeconds, scaled too', async () => {
    // Uncapped: 200, 600, 1800, 5400 ms at 0.02; MaxDelaySeconds 20 caps every gap at 400 ms.
    const gaps = await attemptGaps('capped', { IntervalSeconds: 10, BackoffRate: 3, MaxAttempts: 4, MaxDelaySeconds: 20 }, 0.02);
    expect(gaps).toHaveLength(4);
    expect(gaps[0]).toBeGreaterThanOrEqual(195);
    for (const gap of gaps.slice(1)) {
      expect(gap).toBeGreaterThanOrEqual(395);
      expect(gap).toBeLessThan(590);
    }
  });

  it('draws FULL jitter gaps between 0 and the capped backoff, so they vary', async () => {
    const caps = [200, 400, 400, 400, 400, 400];
    const gaps = await attemptGaps('jittered', { IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 6, MaxDelaySeconds: 20, JitterStrategy: 'FULL' }, 0.02);
    expect(gaps).toHaveLength(caps.length);
    for (const [i, gap] of gaps.entries()) expect(gap).toBeLessThanOrEqual(caps[i]! + 60);
    // Without jitter every gap would sit at its cap; six draws all above 80 % of it have odds of 1 in 15,625.
    expect(gaps.some((gap, i) => gap < caps[i]! * 0.8)).toBe(true);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(20);
  });

  it('describes the definition as written, whatever the wait scale it runs at', async () => {
    const definition = retrying({ IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 1, MaxDelaySeconds: 30 });
    const arn = await createMachine('as-written', definition);
    await run(arn, {});
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(JSON.parse(described.definition!)).toEqual(definition);
  });
});

describe('definition validation', () => {
  const passOnly = { StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } };

  it('validates a definition once, at CreateStateMachine, and never again for its executions', async () => {
    const before = aws.sfn.validations;
    const arn = await createMachine('validated-once', passOnly);
    expect(aws.sfn.validations).toBe(before + 1);
    const started = await Promise.all(Array.from({ length: 20 }, (_, i) => sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: `run-${i}` }))));
    await Promise.all(started.map((s) => aws.sfn.execution(s.executionArn!).done));
    const statuses = await Promise.all(started.map((s) => sfn.send(new DescribeExecutionCommand({ executionArn: s.executionArn }))));
    expect(statuses.map((s) => s.status)).toEqual(Array(20).fill('SUCCEEDED'));
    expect(aws.sfn.validations).toBe(before + 1);
  });

  it('refuses at CreateStateMachine and UpdateStateMachine what the ASL validator refuses, with InvalidDefinition', async () => {
    const dangling = JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Pass', Next: 'Nowhere' } } });
    const refused = sfn.send(new CreateStateMachineCommand({ name: 'dangling', definition: dangling, roleArn: 'arn:aws:iam::000000000000:role/x' }));
    await expect(refused).rejects.toMatchObject({ name: 'InvalidDefinition', message: expect.stringContaining('MISSING_TRANSITION_TARGET') });
    const arn = await createMachine('to-update', passOnly);
    await expect(sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition: dangling }))).rejects.toMatchObject({ name: 'InvalidDefinition' });
    await expect(sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition: '{not json' }))).rejects.toMatchObject({ name: 'InvalidDefinition' });
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(JSON.parse(described.definition!)).toEqual(passOnly);
  });

  it('runs the new definition after UpdateStateMachine', async () => {
    const arn = await createMachine('updated', passOnly);
    expect((await run(arn, {}, 'before-update')).description.status).toBe('SUCCEEDED');
    const failing = { StartAt: 'Stop', States: { Stop: { Type: 'Fail', Error: 'Updated', Cause: 'the new definition runs' } } };
    await sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition: JSON.stringify(failing) }));
    expect((await run(arn, {}, 'after-update')).description).toMatchObject({ status: 'FAILED', error: 'Updated' });
  });
});

describe('errors as AWS answers them', () => {
  it('names missing state machines and executions', async () => {
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:nope' }))).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:000000000000:execution:nope:x' }))).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });

  it('refuses an invalid definition and invalid input', async () => {
    await expect(sfn.send(new CreateStateMachineCommand({ name: 'bad', definition: '{"StartAt":"Nowhere","States":{}}', roleArn: 'arn:aws:iam::000000000000:role/x' }))).rejects.toMatchObject({ name: 'InvalidDefinition' });
    const arn = await createMachine('small', smallMachine);
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{not json' }))).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
  });

  it('survives malformed requests with JSON-protocol errors', async () => {
    const post = (target: string, body: string) =>
      fetch(aws.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target }, body }).then(async (r) => ({ status: r.status, body: await r.json() }));
    expect(await post('AWSStepFunctions.StartExecution', '{oops')).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
    expect(await post('AWSStepFunctions.LaunchRockets', '{}')).toMatchObject({ status: 400, body: { __type: 'UnknownOperationException' } });
    expect(await post('AWSStepFunctions.DescribeExecution', '{}')).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
  });
});

describe('the Lambda Invoke API', () => {
  const lambda = () => new LambdaClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

  it('invokes a handler module and returns its result', async () => {
    const result = await lambda().send(new InvokeCommand({ FunctionName: 'double', Payload: JSON.stringify({ value: 21 }) }));
    expect(JSON.parse(new TextDecoder().decode(result.Payload))).toEqual({ value: 42 });
    expect(result.FunctionError).toBeUndefined();
  });

  it('reports a thrown error as FunctionError with errorType, and an unknown function as ResourceNotFoundException', async () => {
    const result = await lambda().send(new InvokeCommand({ FunctionName: fn('reject'), Payload: '{}' }));
    expect(result.FunctionError).toBe('Unhandled');
    expect(JSON.parse(new TextDecoder().decode(result.Payload))).toMatchObject({ errorType: 'ValueRejectedError' });
    await expect(lambda().send(new InvokeCommand({ FunctionName: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
