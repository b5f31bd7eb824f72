import { deflateRawSync, inflateRawSync } from 'node:zlib';

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

/** How `--data` saves a history: the events of a running one, the packed bytes (base64) of a finished one. */
export type SavedHistory = { history: HistoryEvent[] } | { packedHistory: string; historyLength: number };

/**
 * An execution's history: a plain array while it runs, then sealed into one deflated JSON buffer.
 * Every state's input and output is the whole pipeline state, so a finished deployment's history is
 * ~150 KB of near-identical JSON strings; deflated it is a few KB, and GetExecutionHistory (rare:
 * `greenlight show`, a test) inflates it on demand. The events answered are the same either way.
 */
export class ExecutionHistory {
  private live: HistoryEvent[] | undefined;
  private packed: Buffer | undefined;
  private count: number;

  constructor(events: HistoryEvent[] = []) {
    this.live = events;
    this.count = events.length;
  }

  get length(): number {
    return this.count;
  }

  /** The last event's id (0 when empty). */
  get lastId(): number {
    return this.live ? (this.live.at(-1)?.id ?? 0) : this.count;
  }

  get sealed(): boolean {
    return this.packed !== undefined;
  }

  push(event: HistoryEvent): void {
    if (!this.live) throw new Error('the history of a finished execution cannot grow');
    this.live.push(event);
    this.count += 1;
  }

  /** The events, oldest first: the live array while running, a fresh copy once sealed. */
  events(): HistoryEvent[] {
    if (this.live) return this.live;
    const parsed = JSON.parse(inflateRawSync(this.packed!).toString('utf8')) as Array<Record<string, unknown> & { timestamp: number }>;
    return parsed.map((event) => ({ ...event, timestamp: new Date(event.timestamp) }) as HistoryEvent);
  }

  /** Packs the events once the execution has ended (level 1: ~1 ms, and the repeated state JSON still shrinks ~20×). */
  seal(): void {
    if (!this.live) return;
    const text = JSON.stringify(this.live, (key, value) => (key === 'timestamp' && typeof value === 'string' ? Date.parse(value) : value));
    this.packed = deflateRawSync(text, { level: 1 });
    this.live = undefined;
  }

  /** The history as `--data` saves it: a sealed one stays packed, so a save never inflates a thousand histories. */
  saved(): SavedHistory {
    return this.packed ? { packedHistory: this.packed.toString('base64'), historyLength: this.count } : { history: structuredClone(this.live!) };
  }

  /** Takes back what saved() gave (or a state file's plain `history` array, as older saves wrote it). */
  static fromSaved(saved: Partial<{ history: HistoryEvent[]; packedHistory: string; historyLength: number }>): ExecutionHistory {
    if (typeof saved.packedHistory === 'string') {
      const history = new ExecutionHistory();
      history.live = undefined;
      history.packed = Buffer.from(saved.packedHistory, 'base64');
      history.count = saved.historyLength ?? 0;
      return history;
    }
    return new ExecutionHistory([...(saved.history ?? [])]);
  }

  /** Bytes held for this history once sealed (context for the bench), undefined while live. */
  get packedBytes(): number | undefined {
    return this.packed?.length;
  }
}
