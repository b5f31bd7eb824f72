/** Walks an ASL definition, nested Map and Parallel states included, to find states by type. */
export interface AslState {
  Type: string;
  Resource?: string;
  Seconds?: number;
  TimeoutSeconds?: number;
  Retry?: Array<{ ErrorEquals: string[]; IntervalSeconds?: number }>;
  ItemProcessor?: AslMachine;
  Iterator?: AslMachine;
  Branches?: AslMachine[];
  [key: string]: unknown;
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
