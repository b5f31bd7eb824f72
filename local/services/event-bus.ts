import { randomUUID } from 'node:crypto';
import { jsonService } from '../protocol/json.ts';
import { payloadLimits } from '../limits.ts';
import { AwsServiceError } from '../protocol/types.ts';

/** An event as EventBridge delivers it to a target. */
export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export interface Rule {
  readonly name: string;
  readonly pattern: Record<string, unknown>;
  readonly target: (event: BusEvent) => Promise<unknown>;
}

/** One delivery, kept so tests and the CLI can see what was routed where. */
export interface Delivery {
  event: BusEvent;
  rule: string;
  outcome: 'delivered' | 'failed';
  error?: string;
}

/**
 * EventBridge pattern matching, the parts greenlight's rules use: value lists, `prefix`, `suffix`,
 * `anything-but`, `exists`, `equals-ignore-case`, nested objects.
 */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = event[key];
    if (Array.isArray(expected)) {
      const values = Array.isArray(actual) ? actual : [actual];
      return expected.some((matcher) => values.some((value) => matchesValue(matcher, value)) || (isExistsFalse(matcher) && actual === undefined));
    }
    if (expected && typeof expected === 'object') {
      return actual !== null && typeof actual === 'object' && matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>);
    }
    return false;
  });
}

function isExistsFalse(matcher: unknown): boolean {
  return !!matcher && typeof matcher === 'object' && (matcher as { exists?: boolean }).exists === false;
}

function matchesValue(matcher: unknown, value: unknown): boolean {
  if (matcher === null || typeof matcher !== 'object') return value !== undefined && matcher === value;
  const m = matcher as Record<string, unknown>;
  if ('exists' in m) return m.exists === (value !== undefined);
  if (value === undefined) return false;
  if ('prefix' in m) return typeof value === 'string' && value.startsWith(String(m.prefix));
  if ('suffix' in m) return typeof value === 'string' && value.endsWith(String(m.suffix));
  if ('equals-ignore-case' in m) return typeof value === 'string' && value.toLowerCase() === String(m['equals-ignore-case']).toLowerCase();
  if ('anything-but' in m) {
    const excluded = m['anything-but'];
    return Array.isArray(excluded) ? !excluded.includes(value) : excluded !== value;
  }
  return false;
}

/**
 * An entry's size as EventBridge counts it for the PutEvents limit: the UTF-8 bytes of Source,
 * DetailType, Detail and each Resource, plus 14 for a Time.
 */
function entrySize(entry: Record<string, unknown>): number {
  const bytes = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  const resources = Array.isArray(entry.Resources) ? entry.Resources.reduce((total: number, r: unknown) => total + bytes(r), 0) : 0;
  return (entry.Time === undefined ? 0 : 14) + bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail) + resources;
}

/** How many deliveries the bus remembers. */
const recentDeliveries = 100;

/** The default event bus: rules with in-process targets, and PutEvents for anyone who wants to inject events. */
export class LocalEventBus {
  /** The latest deliveries (at most recentDeliveries), for a person debugging a rule; older ones are forgotten, so a long run does not grow. */
  readonly deliveries: Delivery[] = [];
  private readonly rules: Rule[] = [];
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
    /** Whether PutEvents takes `aws.*` sources (the replayAwsEvents fault), read at each call. */
    private readonly acceptsAwsSources: () => boolean = () => false,
  ) {}

  addRule(rule: Rule): void {
    this.rules.push(rule);
  }

  /** Builds a full event envelope around a source, detail-type and detail. */
  envelope(source: string, detailType: string, detail: Record<string, unknown>, resources: string[] = []): BusEvent {
    return { version: '0', id: randomUUID(), 'detail-type': detailType, source, account: this.accountId, time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), region: this.region, resources, detail };
  }

  /** Routes an event to every matching rule, asynchronously, as EventBridge does. */
  put(event: BusEvent): void {
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, event as unknown as Record<string, unknown>)) continue;
      const delivery = rule
        .target(event)
        .then(() => this.delivered({ event, rule: rule.name, outcome: 'delivered' }))
        .catch((error: unknown) => this.delivered({ event, rule: rule.name, outcome: 'failed', error: String(error) }))
        .finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  private delivered(delivery: Delivery): void {
    this.deliveries.push(delivery);
    if (this.deliveries.length > recentDeliveries) this.deliveries.splice(0, this.deliveries.length - recentDeliveries);
  }

  /** Resolves when every delivery started so far has finished. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  readonly handle = jsonService({
    targetPrefix: 'AWSEvents',
    version: '1.1',
    operations: {
      PutEvents: (input: { Entries?: Array<Record<string, string>> }) => {
        if (!Array.isArray(input.Entries) || input.Entries.length === 0) throw new AwsServiceError('ValidationException', '1 validation error detected: Value null at \'entries\' failed to satisfy constraint: Member must not be null');
        if (input.Entries.length > 10) {
          throw new AwsServiceError('ValidationException', "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10");
        }
        if (input.Entries.reduce((total, entry) => total + entrySize(entry), 0) > payloadLimits.putEventsEntries) {
          throw new AwsServiceError('ValidationException', 'Total size of the entries in the request is over the limit.');
        }
        const results = input.Entries.map((entry) => {
          if (!entry.Source || !entry.DetailType || !entry.Detail) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameters Source, DetailType and Detail are required.' };
          // Sources starting with aws. belong to AWS services: nobody may put events in their name.
          if (entry.Source.startsWith('aws.') && !this.acceptsAwsSources()) return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
          let detail: Record<string, unknown>;
          try {
            detail = JSON.parse(entry.Detail);
          } catch {
            return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
          }
          const event = this.envelope(entry.Source, entry.DetailType, detail, (entry.Resources as unknown as string[]) ?? []);
          this.put(event);
          return { EventId: event.id };
        });
        return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
      },
    },
  });
}
