/** One event of GetExecutionHistory, in AWS's shape: `<kind>EventDetails` beside type, id, timestamps. */
export interface HistoryEvent {
  timestamp: Date;
  type: string;
  id: number;
  previousEventId: number;
  [details: string]: unknown;
}

/** AWS fails an execution that reaches this many history events. */
export const maxHistoryEvents = 25_000;

/** Serialises a value for a history field (AWS stores inputs and outputs as JSON strings). */
export function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** The history event type AWS uses for a state of this type entering or exiting: TaskStateEntered, WaitStateExited, … */
export function stateEventType(stateType: string, phase: 'Entered' | 'Exited'): string {
  return `${stateType}State${phase}`;
}
