/** Walks an ASL definition, nested Map and Parallel states included, to find states by type. */
export interface AslState {
  Type: string;
  Resource?: string;
  Seconds?: number;
  TimeoutSeconds?: number;
  Retry?: AslRetrier[];
  ItemProcessor?: AslMachine;
  Iterator?: AslMachine;
  Branches?: AslMachine[];
  [key: string]: unknown;
}

/** One Retry entry; the runner applies AWS's defaults (1 s, 3 attempts, backoff 2, no jitter) to what is left out. */
export interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

export interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  [key: string]: unknown;
}

/** Every state of the machine with its name, including the states of Map iterators and Parallel branches. */
export function allStates(machine: AslMachine): Array<[string, AslState]> {
  const found: Array<[string, AslState]> = [];
  const visit = (m: AslMachine) => {
    for (const [name, state] of Object.entries(m.States ?? {})) {
      found.push([name, state]);
      const inner = state.ItemProcessor ?? state.Iterator;
      if (inner) visit(inner);
      for (const branch of state.Branches ?? []) visit(branch);
    }
  };
  visit(machine);
  return found;
}

/** Checks the parts of a definition the runner relies on; AWS answers InvalidDefinition for these too. */
export function definitionProblems(definition: unknown): string[] {
  if (!definition || typeof definition !== 'object') return ['the definition must be a JSON object'];
  const machine = definition as AslMachine;
  const problems: string[] = [];
  if (typeof machine.StartAt !== 'string') problems.push("MISSING_START_AT: the field 'StartAt' is required");
  if (!machine.States || typeof machine.States !== 'object') problems.push("MISSING_STATES: the field 'States' is required");
  else if (typeof machine.StartAt === 'string' && !(machine.StartAt in machine.States)) problems.push(`MISSING_TRANSITION_TARGET: StartAt '${machine.StartAt}' is not a state`);
  if (problems.length > 0) return problems;
  for (const [name, state] of allStates(machine)) {
    if (!state || typeof state.Type !== 'string') problems.push(`SCHEMA_VALIDATION_FAILED: state '${name}' has no Type`);
  }
  return problems;
}

/** AWS's Retry default when IntervalSeconds is left out. */
const defaultIntervalSeconds = 1;

/**
 * A copy of the machine whose clock runs `scale` times real time: Wait `Seconds`, Retry `IntervalSeconds`
 * and `MaxDelaySeconds` are multiplied, BackoffRate, MaxAttempts and JitterStrategy stay as written, so the
 * runner computes backoff, cap and jitter exactly as AWS does, only faster. Fractional seconds are fine
 * because the copy is never validated. Task and execution timeouts keep real time.
 */
export function scaledDefinition(machine: AslMachine, scale: number): AslMachine {
  const copy = structuredClone(machine);
  if (scale === 1) return copy;
  for (const [, state] of allStates(copy)) {
    if (state.Type === 'Wait' && typeof state.Seconds === 'number') state.Seconds *= scale;
    if (state.Type === 'Wait' && typeof state.SecondsPath === 'string') scaledSecondsPathWait(state, scale);
    for (const retrier of state.Retry ?? []) {
      retrier.IntervalSeconds = (retrier.IntervalSeconds ?? defaultIntervalSeconds) * scale;
      if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds *= scale;
    }
  }
  return copy;
}

/** The resource of a Wait state whose SecondsPath the runner cannot scale: the endpoint waits it out (execution.ts). */
export const scaledWaitResource = 'greenlight:local:scaled-wait';

/**
 * A SecondsPath Wait's seconds are known only when it runs, and the runner sleeps them as given: the
 * state becomes a Task that the endpoint runs by sleeping seconds × scale, passing its input through,
 * and whose history events still read as a Wait state's.
 */
function scaledSecondsPathWait(state: AslState, scale: number): void {
  const path = state.SecondsPath as string;
  delete state.SecondsPath;
  state.Type = 'Task';
  state.Resource = scaledWaitResource;
  state.Parameters = { 'seconds.$': path, scale };
  state.ResultPath = null;
  state.TimeoutSeconds = 24 * 86400; // below Node's timer limit; the Wait itself has no timeout
}
