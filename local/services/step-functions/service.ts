import type { FaultInjector } from '../../faults.ts';
import { payloadLimits } from '../../limits.ts';
import { jsonService } from '../../protocol/json.ts';
import { AwsServiceError } from '../../protocol/types.ts';
import type { BusEvent } from '../event-bus.ts';
import type { LocalLambda } from '../lambda.ts';
import { type AslMachine, definitionProblems } from './definition.ts';
import { type ExecutionRecord, type ExecutionStatus, type RunnableMachine, runnableMachine, startExecution, validateDefinition } from './execution.ts';
import { ExecutionHistory, type SavedHistory } from './history.ts';
import { TaskTokens } from './task-tokens.ts';

/** The error of an execution the endpoint stopped (on shutdown, or found running after a restart). */
export const shutdownError = 'greenlight.Shutdown';

/** What `--data` keeps of Step Functions: the executions and their histories (state machines come from serverless.yml). */
export interface SfnState {
  executions: Array<Omit<ExecutionRecord, 'done' | 'stop' | 'history'> & SavedHistory>;
  /** Names of executions dropped by retention, by state machine: they stay taken (see LocalStepFunctions.retire). */
  droppedNames?: Record<string, string[]>;
}

/** How many finished executions the endpoint keeps when not told (`greenlight local --keep-executions`). */
export const defaultKeepExecutions = 1000;

/** A keepExecutions setting, checked: a whole number of at least 1 (a finished execution is read right after it ends). */
export function checkedKeepExecutions(value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`keepExecutions must be a whole number of at least 1, not ${value}`);
  return value;
}

interface StateMachineRecord {
  stateMachineArn: string;
  name: string;
  definition: string;
  roleArn: string;
  type: 'STANDARD' | 'EXPRESS';
  creationDate: Date;
  /** The runner's machine for the current definition, and the wait scale it was built at. */
  runnable?: { waitScale: number; machine: RunnableMachine };
}

export interface LocalStepFunctionsDeps {
  readonly region: string;
  readonly accountId: string;
  readonly lambda: LocalLambda;
  readonly faults: FaultInjector;
  /** Where execution status changes go (EventBridge, as AWS sends them). */
  readonly emit: (source: string, detailType: string, detail: Record<string, unknown>, resources: string[]) => void;
  /** Finished executions kept (default defaultKeepExecutions); older finished ones are dropped, running ones never. */
  readonly keepExecutions?: number;
}

/** Characters AWS refuses in state machine and execution names. */
const forbiddenNameCharacters = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
/** AWS also refuses control characters (U+0000–U+001F, U+007F–U+009F). */
const hasControlCharacter = (name: string) => [...name].some((c) => { const code = c.charCodeAt(0); return code < 0x20 || (code >= 0x7f && code <= 0x9f); });

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length < 1 || name.length > 80 || forbiddenNameCharacters.test(name) || hasControlCharacter(name)) {
    throw new AwsServiceError('InvalidName', `Invalid Name: '${String(name)}' (${what} names are 1–80 characters without spaces or < > { } [ ] ? * " # % \\ ^ | ~ \` $ & , ; : /)`);
  }
  return name;
}

function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') {
    throw new AwsServiceError('ValidationException', `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

/** Parses and checks a definition as CreateStateMachine/UpdateStateMachine do, answering InvalidDefinition. */
function parsedDefinition(definition: string): AslMachine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition);
  } catch {
    throw new AwsServiceError('InvalidDefinition', 'Invalid State Machine Definition: the definition is not valid JSON');
  }
  const problems = definitionProblems(parsed);
  if (problems.length > 0) throw new AwsServiceError('InvalidDefinition', `Invalid State Machine Definition: '${problems.join("', '")}'`);
  return parsed as AslMachine;
}

function paginate<T>(items: T[], input: { maxResults?: number; nextToken?: string }): { page: T[]; nextToken?: string } {
  const start = input.nextToken ? Number(Buffer.from(input.nextToken, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new AwsServiceError('InvalidToken', 'Invalid Token: the pagination token is not valid');
  const size = input.maxResults && input.maxResults > 0 ? Math.min(input.maxResults, 1000) : 100;
  const page = items.slice(start, start + size);
  return start + size < items.length ? { page, nextToken: Buffer.from(String(start + size)).toString('base64url') } : { page };
}

/**
 * Step Functions on the local endpoint (awsJson1.0): state machines, executions run by
 * aws-local-stepfunctions, execution history in AWS's event vocabulary, and task tokens.
 */
export class LocalStepFunctions {
  readonly tokens = new TaskTokens();
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions = new Map<string, ExecutionRecord>();
  /** ARNs of the finished executions still kept, oldest finish first (a Set keeps insertion order). */
  private readonly finished = new Set<string>();
  /** Names of dropped executions, by state machine ARN. */
  private readonly droppedNames = new Map<string, Set<string>>();
  private readonly keep: number;
  private validationCount = 0;

  constructor(private readonly deps: LocalStepFunctionsDeps) {
    this.keep = checkedKeepExecutions(deps.keepExecutions ?? defaultKeepExecutions);
  }

  /** How many finished executions are kept (older ones are dropped). */
  get keepExecutions(): number {
    return this.keep;
  }

  /** Creates (or returns the identical) state machine; used by the CLI to install serverless.yml's machine. */
  createStateMachine(name: string, definition: string, roleArn: string, type: 'STANDARD' | 'EXPRESS' = 'STANDARD'): StateMachineRecord {
    checkName(name, 'state machine');
    const parsed = parsedDefinition(definition);
    const stateMachineArn = `arn:aws:states:${this.deps.region}:${this.deps.accountId}:stateMachine:${name}`;
    const existing = this.machines.get(stateMachineArn);
    if (existing?.definition === definition && existing.roleArn === roleArn) return existing;
    this.validate(parsed);
    if (existing) throw new AwsServiceError('StateMachineAlreadyExists', `State Machine Already Exists: '${stateMachineArn}'`);
    const record = { stateMachineArn, name, definition, roleArn, type, creationDate: new Date() };
    this.machines.set(stateMachineArn, record);
    return record;
  }

  /** Replaces a state machine's definition (UpdateStateMachine), e.g. when serverless.yml changed. */
  updateStateMachine(stateMachineArn: string, definition: string): void {
    const machine = this.machine(stateMachineArn);
    this.validate(parsedDefinition(definition));
    machine.definition = definition;
    machine.runnable = undefined;
  }

  /** How many times a definition went through the ASL validator (once per create or update, never per execution). */
  get validations(): number {
    return this.validationCount;
  }

  /** Starts an execution with AWS's name rules: a running one with the same name and input is returned as is. */
  start(stateMachineArn: string, name: string, input: string): ExecutionRecord {
    const machine = this.machine(stateMachineArn);
    checkName(name, 'execution');
    if (Buffer.byteLength(input) > payloadLimits.stepFunctionsData) {
      throw new AwsServiceError('InvalidExecutionInput', `Invalid Execution Input: the input is larger than the maximum of ${payloadLimits.stepFunctionsData} bytes`);
    }
    try {
      JSON.parse(input);
    } catch {
      throw new AwsServiceError('InvalidExecutionInput', 'Invalid Execution Input: the input is not valid JSON');
    }
    const executionArn = `arn:aws:states:${this.deps.region}:${this.deps.accountId}:execution:${machine.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    if (this.droppedNames.get(stateMachineArn)?.has(name)) throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    const record: ExecutionRecord = {
      executionArn,
      name,
      stateMachineArn,
      input,
      status: 'RUNNING',
      startDate: new Date(),
      history: new ExecutionHistory(),
      done: Promise.resolve(),
    };
    this.executions.set(executionArn, record);
    startExecution(record, this.runnable(machine), {
      lambda: this.deps.lambda,
      tokens: this.tokens,
      region: this.deps.region,
      roleArn: machine.roleArn,
      stateMachineName: machine.name,
      onEnd: (execution) => {
        this.emitStatusChange(execution);
        this.retire(execution);
      },
    });
    this.emitStatusChange(record);
    return record;
  }

  execution(executionArn: string): ExecutionRecord {
    const execution = this.executions.get(executionArn);
    if (!execution) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  listExecutions(stateMachineArn?: string): ExecutionRecord[] {
    return [...this.executions.values()].filter((e) => !stateMachineArn || e.stateMachineArn === stateMachineArn).sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  /** Resolves when no execution is running (tests and the CLI use it to finish cleanly). */
  async settle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  /** Stops every running execution (on shutdown). */
  stopAll(): void {
    for (const execution of this.executions.values()) if (execution.status === 'RUNNING') execution.stop?.(shutdownError, 'The local endpoint stopped');
  }

  /**
   * Keeps the newest `keepExecutions` finished executions and drops the oldest beyond them, as AWS
   * forgets an execution after its retention (90 days): DescribeExecution and GetExecutionHistory
   * then answer ExecutionDoesNotExist. Its name stays taken, as it is in AWS for those 90 days, so a
   * late or repeated push event (or the reconciler, which asks DescribeExecution first) cannot start a
   * second deployment of the same push: StartExecution answers ExecutionAlreadyExists.
   */
  private retire(execution: ExecutionRecord): void {
    this.finished.add(execution.executionArn);
    while (this.finished.size > this.keep) {
      const oldest = this.finished.values().next().value as string;
      this.finished.delete(oldest);
      const dropped = this.executions.get(oldest);
      this.executions.delete(oldest);
      if (!dropped) continue;
      const names = this.droppedNames.get(dropped.stateMachineArn) ?? new Set<string>();
      this.droppedNames.set(dropped.stateMachineArn, names);
      names.add(dropped.name);
    }
  }

  /** Every kept execution with its history, and the dropped names, to keep across a restart (`--data`). */
  snapshot(): SfnState {
    return {
      executions: [...this.executions.values()].map(({ done: _done, stop: _stop, history, ...kept }) => ({ ...structuredClone(kept), ...history.saved() })),
      droppedNames: Object.fromEntries([...this.droppedNames].map(([arn, names]) => [arn, [...names]])),
    };
  }

  /**
   * Takes back what snapshot() gave. Executions do not resume: one that was still running when the
   * endpoint went away (killed, not stopped) ends ABORTED with greenlight.Shutdown, as a stopped one does.
   * Returns how many were ended so.
   */
  restore(state: SfnState): number {
    let aborted = 0;
    for (const [arn, names] of Object.entries(state.droppedNames ?? {})) this.droppedNames.set(arn, new Set(names));
    const restored: ExecutionRecord[] = [];
    for (const saved of state.executions) {
      const { history: _events, packedHistory: _packed, historyLength: _length, ...kept } = saved as typeof saved & Partial<{ history: unknown; packedHistory: unknown; historyLength: unknown }>;
      const record: ExecutionRecord = { ...kept, history: ExecutionHistory.fromSaved(saved), done: Promise.resolve() };
      if (record.status === 'RUNNING') {
        const now = new Date();
        const lastId = record.history.lastId;
        record.status = 'ABORTED';
        record.stopDate = now;
        record.error = shutdownError;
        record.cause = 'The local endpoint stopped while this execution ran (it was not resumed when it started again with --data)';
        record.history.push({ timestamp: now, type: 'ExecutionAborted', id: lastId + 1, previousEventId: lastId, executionAbortedEventDetails: { error: record.error, cause: record.cause } });
        aborted += 1;
      }
      record.history.seal();
      this.executions.set(record.executionArn, record);
      restored.push(record);
    }
    // Every restored execution has ended: retire them in the order they ended, so --keep-executions holds after a restart too.
    restored.sort((a, b) => (a.stopDate?.getTime() ?? 0) - (b.stopDate?.getTime() ?? 0));
    for (const record of restored) this.retire(record);
    return aborted;
  }

  /** Runs the ASL validator the runner uses and answers its findings as AWS does, with InvalidDefinition. */
  private validate(definition: AslMachine): void {
    this.validationCount += 1;
    try {
      validateDefinition(definition);
    } catch (error) {
      const findings = (error as Error).message.split('\n').slice(1).map((line) => line.trim()).filter(Boolean);
      throw new AwsServiceError('InvalidDefinition', `Invalid State Machine Definition: '${findings.join("', '")}'`);
    }
  }

  /** The runner's machine for the current definition, rebuilt only when the definition or faults.waitScale changed. */
  private runnable(machine: StateMachineRecord): RunnableMachine {
    const waitScale = this.deps.faults.timings.waitScale;
    if (machine.runnable?.waitScale !== waitScale) {
      machine.runnable = { waitScale, machine: runnableMachine(JSON.parse(machine.definition) as AslMachine, waitScale) };
    }
    return machine.runnable.machine;
  }

  private machine(stateMachineArn: string): StateMachineRecord {
    const machine = this.machines.get(stateMachineArn);
    if (!machine) throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    return machine;
  }

  private emitStatusChange(execution: ExecutionRecord): void {
    this.deps.emit('aws.states', 'Step Functions Execution Status Change', {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.stopDate?.getTime() ?? null,
      input: execution.input,
      output: execution.output ?? null,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    }, [execution.executionArn]);
  }

  private describe(execution: ExecutionRecord) {
    return {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      stopDate: execution.stopDate,
      input: execution.input,
      inputDetails: { included: true },
      output: execution.output,
      outputDetails: execution.output === undefined ? undefined : { included: true },
      error: execution.error,
      cause: execution.cause,
    };
  }

  readonly handle = jsonService({
    targetPrefix: 'AWSStepFunctions',
    version: '1.0',
    operations: {
      CreateStateMachine: (input: Record<string, unknown>) => {
        const record = this.createStateMachine(requireString(input, 'name'), requireString(input, 'definition'), requireString(input, 'roleArn'), (input.type as 'STANDARD') ?? 'STANDARD');
        return { stateMachineArn: record.stateMachineArn, creationDate: record.creationDate };
      },
      UpdateStateMachine: (input: Record<string, unknown>) => {
        const arn = requireString(input, 'stateMachineArn');
        if (typeof input.definition === 'string') this.updateStateMachine(arn, input.definition);
        return { updateDate: new Date() };
      },
      DescribeStateMachine: (input: Record<string, unknown>) => {
        const m = this.machine(requireString(input, 'stateMachineArn'));
        return { stateMachineArn: m.stateMachineArn, name: m.name, status: 'ACTIVE', definition: m.definition, roleArn: m.roleArn, type: m.type, creationDate: m.creationDate };
      },
      ListStateMachines: (input: { maxResults?: number; nextToken?: string }) => {
        const { page, nextToken } = paginate([...this.machines.values()], input);
        return { stateMachines: page.map((m) => ({ stateMachineArn: m.stateMachineArn, name: m.name, type: m.type, creationDate: m.creationDate })), nextToken };
      },
      DeleteStateMachine: (input: Record<string, unknown>) => {
        this.machines.delete(requireString(input, 'stateMachineArn'));
        return {};
      },
      StartExecution: (input: Record<string, unknown>) => {
        const name = input.name === undefined ? crypto.randomUUID() : input.name;
        const execution = this.start(requireString(input, 'stateMachineArn'), name as string, (input.input as string | undefined) ?? '{}');
        return { executionArn: execution.executionArn, startDate: execution.startDate };
      },
      DescribeExecution: (input: Record<string, unknown>) => this.describe(this.execution(requireString(input, 'executionArn'))),
      ListExecutions: (input: { stateMachineArn?: string; statusFilter?: ExecutionStatus; maxResults?: number; nextToken?: string }) => {
        const arn = requireString(input as Record<string, unknown>, 'stateMachineArn');
        this.machine(arn);
        const all = this.listExecutions(arn).filter((e) => !input.statusFilter || e.status === input.statusFilter);
        const { page, nextToken } = paginate(all, input);
        return {
          executions: page.map((e) => ({ executionArn: e.executionArn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status, startDate: e.startDate, stopDate: e.stopDate })),
          nextToken,
        };
      },
      GetExecutionHistory: (input: { executionArn?: string; reverseOrder?: boolean; maxResults?: number; nextToken?: string; includeExecutionData?: boolean }) => {
        const execution = this.execution(requireString(input as Record<string, unknown>, 'executionArn'));
        const history = execution.history.events();
        const events = input.reverseOrder ? [...history].reverse() : history;
        const { page, nextToken } = paginate(events, input);
        return { events: page, nextToken };
      },
      StopExecution: (input: Record<string, unknown>) => {
        const execution = this.execution(requireString(input, 'executionArn'));
        if (execution.status === 'RUNNING') execution.stop?.(input.error as string | undefined, input.cause as string | undefined);
        return { stopDate: new Date() };
      },
      SendTaskSuccess: (input: Record<string, unknown>) => {
        const output = requireString(input, 'output');
        if (Buffer.byteLength(output) > payloadLimits.stepFunctionsData) {
          throw new AwsServiceError('InvalidOutput', `Invalid Output: the output is larger than the maximum of ${payloadLimits.stepFunctionsData} bytes`);
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(output);
        } catch {
          throw new AwsServiceError('InvalidOutput', 'Invalid Output: the output is not valid JSON');
        }
        this.tokens.answer(requireString(input, 'taskToken'), { ok: true, output: parsed });
        return {};
      },
      SendTaskFailure: (input: Record<string, unknown>) => {
        this.tokens.answer(requireString(input, 'taskToken'), { ok: false, error: (input.error as string) ?? '', cause: (input.cause as string) ?? '' });
        return {};
      },
      SendTaskHeartbeat: (input: Record<string, unknown>) => {
        this.tokens.heartbeat(requireString(input, 'taskToken'));
        return {};
      },
    },
  });
}

export type { BusEvent };
