import '../../polyfills.ts';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import type { LocalLambda } from '../lambda.ts';
import { type AcceptedDefinitions, acceptedDefinitions } from './accepted-definitions.ts';
import { type AslMachine, type AslState, allStates, scaledDefinition, scaledWaitResource } from './definition.ts';
import { type ExecutionHistory, type HistoryEvent, json, maxHistoryEvents, stateEventType } from './history.ts';
import type { TaskOutcome, TaskTokens } from './task-tokens.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** An execution as DescribeExecution reports it, plus its history. */
export interface ExecutionRecord {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  readonly input: string;
  status: ExecutionStatus;
  readonly startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** Live while the execution runs, sealed (deflated) once it has ended. */
  readonly history: ExecutionHistory;
  /** Resolves when the execution has ended, whatever the outcome. */
  done: Promise<void>;
  /** Stops a running execution; cleared when it ends, so a finished one holds no runner, closure or machine. */
  stop?: (error?: string, cause?: string) => void;
}

export interface RunnerDeps {
  readonly lambda: LocalLambda;
  readonly tokens: TaskTokens;
  readonly region: string;
  readonly roleArn: string;
  readonly stateMachineName: string;
  /** Called once when the execution ends (for status-change events). */
  readonly onEnd: (execution: ExecutionRecord) => void;
}

/** Where the rewritten definition carries a Task's TimeoutSecondsPath value (see withTimeoutPathsInParameters). */
const timeoutField = '__greenlightTimeoutSeconds';

/**
 * aws-local-stepfunctions evaluates a Task's TimeoutSecondsPath against the effective input (after
 * Parameters); AWS evaluates it against the state's input. So the path is moved into Parameters,
 * which AWS-style sees the state input, and read back from there; the runner strips the field again.
 */
function withTimeoutPathsInParameters(machine: AslMachine): AslMachine {
  const copy = structuredClone(machine);
  for (const [, state] of allStates(copy)) {
    const path = state.TimeoutSecondsPath;
    if (state.Type !== 'Task' || typeof path !== 'string' || !state.Parameters || typeof state.Parameters !== 'object') continue;
    (state.Parameters as Record<string, unknown>)[`${timeoutField}.$`] = path;
    state.TimeoutSecondsPath = `$.${timeoutField}`;
  }
  return copy;
}

function withoutTimeoutField(input: unknown): { input: unknown; timeoutSeconds?: number } {
  if (!input || typeof input !== 'object' || !(timeoutField in input)) return { input };
  const { [timeoutField]: timeoutSeconds, ...rest } = input as Record<string, unknown>;
  return { input: rest, timeoutSeconds: timeoutSeconds as number };
}

/** The token the runner puts in `$$.Task.Token`; each `.waitForTaskToken` task swaps it for a fresh one. */
const tokenPlaceholder = '__GREENLIGHT_TASK_TOKEN__';

/** An error as a Task reports it: `name` is what Retry/Catch match, `message` becomes the Cause. */
class TaskError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/** A definition made ready to run: built once per definition and wait scale, shared by its executions. */
export interface RunnableMachine {
  readonly machine: StateMachine;
  readonly states: Array<[string, AslState]>;
  /** The definition's own TimeoutSeconds, which the runner keeps (see runnableMachine). */
  readonly timeoutSeconds?: number;
}

/**
 * Builds the runner's machine for a definition at a wait scale. The definition must have been checked at
 * CreateStateMachine/UpdateStateMachine: validation here would cost ~150 ms of CPU per execution.
 */
export function runnableMachine(original: AslMachine, waitScale: number): RunnableMachine {
  // Node timers overflow past 24.8 days (a 30-day TimeoutSeconds would fire at once), so the
  // execution timeout is kept by the runner instead of the library.
  const { TimeoutSeconds: timeoutSeconds, ...definition } = scaledDefinition(withTimeoutPathsInParameters(original), waitScale);
  const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
  return { machine, states: allStates(definition as AslMachine), ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }) };
}

let accepted: AcceptedDefinitions | undefined;

/** Checks a definition with the validator the runner ships (asl-validator); throws its findings, one per line. */
export function validateDefinition(definition: AslMachine): void {
  const validationOptions = { checkArn: false, checkPaths: true };
  accepted ??= acceptedDefinitions();
  const known = accepted.lookUp({ validationOptions, definition });
  if (known.accepted) return;
  new StateMachine(definition as never, { validationOptions });
  known.remember();
}

/**
 * Runs one execution of a prepared machine with aws-local-stepfunctions and writes its history in AWS's
 * vocabulary. Lambda tasks call the real handler modules through LocalLambda.
 */
export function startExecution(record: ExecutionRecord, runnable: RunnableMachine, deps: RunnerDeps): void {
  const history = record.history;
  let ended = false;
  const add = (type: string, details?: Record<string, unknown>) => {
    if (ended) return;
    const event: HistoryEvent = { timestamp: new Date(), type, id: history.length + 1, previousEventId: history.length };
    if (details) Object.assign(event, details);
    history.push(event);
    if (history.length >= maxHistoryEvents && record.status === 'RUNNING') {
      record.stop?.('States.Runtime', `The execution reached the maximum number of history events (${maxHistoryEvents}).`);
    }
  };

  const waitingTokens = new Map<string, Set<string>>();
  const scaledWaits = new Set(runnable.states.filter(([, s]) => s.Resource === scaledWaitResource).map(([name]) => name));
  const typeOf = (state: { name: string; type: string }) => (scaledWaits.has(state.name) ? 'Wait' : state.type);
  const taskResourceLocalHandlers = Object.fromEntries(
    runnable.states.filter(([, s]) => s.Type === 'Task').map(([name, state]) => [name, (input: unknown) => runTask(name, state, input)]),
  );

  async function runTask(stateName: string, state: AslState, effectiveInput: unknown): Promise<unknown> {
    // Let the library's StateEntered event reach the history before this task's own events.
    await new Promise((resolve) => setImmediate(resolve));
    const { input, timeoutSeconds } = withoutTimeoutField(effectiveInput);
    if (timeoutSeconds !== undefined) state = { ...state, TimeoutSeconds: timeoutSeconds };
    const resource = state.Resource ?? '';
    if (resource === scaledWaitResource) return scaledWait(input as { seconds: number; scale: number });
    if (resource.startsWith('arn:aws:states:::lambda:invoke')) return runIntegratedLambda(stateName, state, resource, input as Record<string, unknown>);
    if (/^arn:aws[a-z-]*:lambda:/.test(resource)) return runLambda(state, resource, input);
    add('TaskFailed', { taskFailedEventDetails: { resourceType: 'unknown', resource, error: 'States.Runtime', cause: `The local endpoint does not run the resource ${resource}` } });
    throw new TaskError('States.Runtime', `The local endpoint does not run the resource ${resource}`);
  }

  /** A SecondsPath Wait (see scaledSecondsPathWait): its seconds at the wait scale, as a Wait with Seconds runs. */
  async function scaledWait({ seconds, scale }: { seconds: number; scale: number }): Promise<unknown> {
    if (!Number.isInteger(seconds) || seconds < 0) throw new TaskError('States.Runtime', `SecondsPath must name a non-negative integer, not ${json(seconds)}`);
    await new Promise((resolve) => setTimeout(resolve, seconds * scale * 1000).unref());
    return {};
  }

  async function runLambda(state: AslState, resource: string, input: unknown): Promise<unknown> {
    add('LambdaFunctionScheduled', { lambdaFunctionScheduledEventDetails: { resource, input: json(input), inputDetails: { truncated: false }, timeoutInSeconds: state.TimeoutSeconds } });
    add('LambdaFunctionStarted');
    const result = await deps.lambda.invoke(resource, input);
    if (result.ok) {
      add('LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output: json(result.payload), outputDetails: { truncated: false } } });
      return result.payload;
    }
    const cause = json(result.error);
    add('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: result.error.errorType, cause } });
    throw new TaskError(result.error.errorType, cause);
  }

  async function runIntegratedLambda(stateName: string, state: AslState, resource: string, parameters: Record<string, unknown>): Promise<unknown> {
    const waitForToken = resource.endsWith('.waitForTaskToken');
    const kind = { resourceType: 'lambda', resource: waitForToken ? 'invoke.waitForTaskToken' : 'invoke' };
    const functionName = String(parameters?.FunctionName ?? '');
    let payload = parameters?.Payload;
    let token: string | undefined;
    let outcome: Promise<TaskOutcome> | undefined;
    if (waitForToken) {
      ({ token, outcome } = deps.tokens.issue(record.executionArn, stateName));
      payload = replaceDeep(payload, tokenPlaceholder, token);
      const set = waitingTokens.get(stateName) ?? new Set<string>();
      waitingTokens.set(stateName, set);
      set.add(token);
    }
    add('TaskScheduled', { taskScheduledEventDetails: { ...kind, region: deps.region, parameters: json({ ...parameters, Payload: payload }), timeoutInSeconds: state.TimeoutSeconds } });
    add('TaskStarted', { taskStartedEventDetails: kind });
    const result = await deps.lambda.invoke(functionName, payload);
    if (!result.ok) {
      if (token) deps.tokens.close(token);
      const cause = json(result.error);
      add('TaskFailed', { taskFailedEventDetails: { ...kind, error: result.error.errorType, cause } });
      throw new TaskError(result.error.errorType, cause);
    }
    const invokeOutput = { ExecutedVersion: '$LATEST', Payload: result.payload, StatusCode: 200 };
    if (!outcome || !token) {
      add('TaskSucceeded', { taskSucceededEventDetails: { ...kind, output: json(invokeOutput) } });
      return invokeOutput;
    }
    add('TaskSubmitted', { taskSubmittedEventDetails: { ...kind, output: json(invokeOutput) } });
    const answer = await outcome;
    waitingTokens.get(stateName)?.delete(token);
    if (answer.ok) {
      add('TaskSucceeded', { taskSucceededEventDetails: { ...kind, output: json(answer.output) } });
      return answer.output;
    }
    add('TaskFailed', { taskFailedEventDetails: { ...kind, error: answer.error, cause: answer.cause } });
    throw new TaskError(answer.error, answer.cause);
  }

  const run = runnable.machine.run(JSON.parse(record.input), {
    overrides: { taskResourceLocalHandlers: taskResourceLocalHandlers as never },
    context: {
      Execution: { Id: record.executionArn, Name: record.name, StartTime: record.startDate.toISOString(), Input: JSON.parse(record.input), RoleArn: deps.roleArn },
      StateMachine: { Id: record.stateMachineArn, Name: deps.stateMachineName },
      Task: { Token: tokenPlaceholder },
    },
  });

  let stopRequest: { error?: string; cause?: string } | undefined;
  record.stop = (error, cause) => {
    stopRequest = { error, cause };
    run.abort();
  };
  const cancelTimeout = runnable.timeoutSeconds ? longTimer(runnable.timeoutSeconds * 1000, () => record.stop?.('States.Timeout', 'The execution timed out (TimeoutSeconds).')) : () => undefined;

  const recordEvents = (async () => {
    for await (const event of run.eventLogs) {
      switch (event.type) {
        case 'ExecutionStarted':
          add('ExecutionStarted', { executionStartedEventDetails: { input: record.input, inputDetails: { truncated: false }, roleArn: deps.roleArn } });
          break;
        case 'StateEntered':
          add(stateEventType(typeOf(event.state), 'Entered'), { stateEnteredEventDetails: { name: event.state.name, input: json(event.state.input), inputDetails: { truncated: false } } });
          if (event.state.type === 'Map') {
            const items = Array.isArray(event.state.input) ? event.state.input.length : undefined;
            add('MapStateStarted', { mapStateStartedEventDetails: { length: items ?? 0 } });
          }
          break;
        case 'StateExited':
          if (event.state.type === 'Map') add('MapStateSucceeded');
          add(stateEventType(typeOf(event.state), 'Exited'), { stateExitedEventDetails: { name: event.state.name, output: json(event.state.output), outputDetails: { truncated: false } } });
          break;
        case 'StateFailed':
          if (event.state.type === 'Map') add('MapStateFailed');
          if (event.state.type === 'Task' && event.Error === 'States.Timeout') {
            for (const token of waitingTokens.get(event.state.name) ?? []) deps.tokens.close(token);
            waitingTokens.get(event.state.name)?.clear();
            add('TaskTimedOut', { taskTimedOutEventDetails: { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', error: 'States.Timeout', cause: '' } });
          }
          break;
        case 'MapIterationStarted':
        case 'MapIterationSucceeded':
        case 'MapIterationFailed': {
          const key = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
          add(event.type, { [key]: { name: event.parentState.name, index: event.index } });
          break;
        }
        default:
          break;
      }
    }
  })();

  record.done = (async () => {
    try {
      const output = await run.result;
      await recordEvents;
      record.status = 'SUCCEEDED';
      record.output = json(output);
      add('ExecutionSucceeded', { executionSucceededEventDetails: { output: record.output, outputDetails: { truncated: false } } });
    } catch (thrown) {
      await recordEvents.catch(() => undefined);
      if (stopRequest?.error === 'States.Timeout') {
        record.status = 'TIMED_OUT';
        record.error = 'States.Timeout';
        add('ExecutionTimedOut', { executionTimedOutEventDetails: { error: 'States.Timeout', cause: stopRequest.cause } });
      } else if (thrown instanceof ExecutionAbortedError || stopRequest) {
        const error = stopRequest?.error;
        const cause = stopRequest?.cause;
        if (error === 'States.Runtime') {
          record.status = 'FAILED';
          Object.assign(record, { error, cause });
          add('ExecutionFailed', { executionFailedEventDetails: { error, cause } });
        } else {
          record.status = 'ABORTED';
          Object.assign(record, { error, cause });
          add('ExecutionAborted', { executionAbortedEventDetails: { error, cause } });
        }
      } else if (thrown instanceof ExecutionTimeoutError) {
        record.status = 'TIMED_OUT';
        record.error = 'States.Timeout';
        add('ExecutionTimedOut', { executionTimedOutEventDetails: { error: 'States.Timeout', cause: 'The execution timed out (TimeoutSeconds).' } });
      } else {
        const failure = thrown instanceof ExecutionError ? (thrown.cause as Error | undefined) : (thrown as Error);
        record.status = 'FAILED';
        record.error = failure?.name ?? 'States.Runtime';
        record.cause = String((failure as { cause?: unknown } | undefined)?.cause ?? failure?.message ?? '');
        add('ExecutionFailed', { executionFailedEventDetails: { error: record.error, cause: record.cause } });
      }
    } finally {
      cancelTimeout();
      ended = true;
      record.stopDate = new Date();
      record.stop = undefined;
      history.seal();
      deps.tokens.closeExecution(record.executionArn);
      deps.onEnd(record);
    }
  })();
}

/** A timer for any duration (Node's own overflow past 2^31 ms); unref'd so it never keeps the process alive. */
function longTimer(ms: number, fire: () => void): () => void {
  const maxDelay = 2 ** 31 - 1;
  let handle: NodeJS.Timeout;
  const arm = (left: number) => {
    handle = setTimeout(() => (left > maxDelay ? arm(left - maxDelay) : fire()), Math.min(left, maxDelay));
    handle.unref();
  };
  arm(ms);
  return () => clearTimeout(handle);
}

function replaceDeep(value: unknown, from: string, to: string): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((v) => replaceDeep(v, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceDeep(v, from, to)]));
  return value;
}
