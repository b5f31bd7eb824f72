import { createHash } from 'node:crypto';
import { jsonService } from '../protocol/json.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from '../protocol/types.ts';

/** A CloudTrail record as CloudTrail writes it (and EventBridge delivers it as the event's detail). */
export interface CloudTrailRecord {
  eventID: string;
  eventTime: string;
  eventSource: string;
  eventName: string;
  readOnly?: boolean;
  userIdentity?: { type?: string; arn?: string; accessKeyId?: string; userName?: string };
  resources?: Array<{ ARN?: string; accountId?: string; type?: string }>;
  [field: string]: unknown;
}

const attributeKeys = ['EventId', 'EventName', 'ReadOnly', 'Username', 'ResourceType', 'ResourceName', 'EventSource', 'AccessKeyId'] as const;
type AttributeKey = (typeof attributeKeys)[number];

/** Event history keeps 90 days of management events. */
const historyMs = 90 * 86400 * 1000;
/** The AWS CLI's X-Amz-Target prefix; the SDK sends the short one, `CloudTrail_20131101`. AWS takes both. */
const longTargetPrefix = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101';

/** The user name event history shows: a role session's name, a user's name, `root`. */
function usernameOf(identity: CloudTrailRecord['userIdentity']): string | undefined {
  if (identity?.userName) return identity.userName;
  const arn = identity?.arn;
  if (!arn) return undefined;
  if (arn.endsWith(':root')) return 'root';
  return arn.split('/').at(-1);
}

/** `arn:aws:ecr:r:a:repository/api` → `api`: the name event history lists a resource by. */
function resourceName(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  const slash = resource.indexOf('/');
  return slash === -1 ? resource : resource.slice(slash + 1);
}

/** A JSON timestamp as the SDK and the CLI send it: epoch seconds (or an ISO string, which CloudTrail also reads). */
function timestamp(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'number' ? value * 1000 : typeof value === 'string' ? (/^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value)) : Number.NaN;
  if (Number.isNaN(ms)) throw new AwsServiceError('SerializationException', `${name} is not a timestamp`);
  return ms;
}

/**
 * AWS CloudTrail event history, locally: the management events the other local services record
 * (ECR's PutImage, with the caller's identity), answered by `LookupEvents` in CloudTrail's JSON 1.1
 * protocol, its validation and its paging, so the SDK and `aws cloudtrail lookup-events` work.
 */
export class LocalCloudTrail {
  private readonly history: CloudTrailRecord[] = [];

  /** Records one management event (newest last; event history answers newest first). */
  record(event: CloudTrailRecord): void {
    this.history.push(structuredClone(event));
  }

  /** Every recorded event, oldest first, to keep across a restart (`--data`). */
  snapshot(): CloudTrailRecord[] {
    return this.history.map((event) => structuredClone(event));
  }

  /** Takes back what snapshot() gave (on a start with `--data`). */
  restore(records: CloudTrailRecord[]): void {
    this.history.splice(0, this.history.length, ...records.map((event) => structuredClone(event)));
  }

  /** The recorded events, oldest first (for tests). */
  events(): CloudTrailRecord[] {
    return this.history.map((event) => structuredClone(event));
  }

  private matches(event: CloudTrailRecord, key: AttributeKey, value: string): boolean {
    switch (key) {
      case 'EventId':
        return event.eventID === value;
      case 'EventName':
        return event.eventName === value;
      case 'ReadOnly':
        return String(event.readOnly ?? false) === value;
      case 'Username':
        return usernameOf(event.userIdentity) === value;
      case 'ResourceType':
        return (event.resources ?? []).some((r) => r.type === value);
      case 'ResourceName':
        return (event.resources ?? []).some((r) => r.ARN !== undefined && (r.ARN === value || resourceName(r.ARN) === value));
      case 'EventSource':
        return event.eventSource === value;
      case 'AccessKeyId':
        return event.userIdentity?.accessKeyId === value;
    }
  }

  private view(event: CloudTrailRecord): Record<string, unknown> {
    const username = usernameOf(event.userIdentity);
    return {
      EventId: event.eventID,
      EventName: event.eventName,
      ReadOnly: String(event.readOnly ?? false),
      ...(event.userIdentity?.accessKeyId ? { AccessKeyId: event.userIdentity.accessKeyId } : {}),
      EventTime: new Date(event.eventTime),
      EventSource: event.eventSource,
      ...(username ? { Username: username } : {}),
      Resources: (event.resources ?? []).filter((r) => r.ARN).map((r) => ({ ResourceType: r.type, ResourceName: resourceName(r.ARN!) })),
      CloudTrailEvent: JSON.stringify(event),
    };
  }

  private lookupEvents(input: Record<string, unknown>): Record<string, unknown> {
    const attributes = input.LookupAttributes ?? [];
    if (!Array.isArray(attributes)) throw new AwsServiceError('InvalidLookupAttributesException', 'LookupAttributes must be a list');
    if (attributes.length > 1) throw new AwsServiceError('InvalidLookupAttributesException', 'You cannot specify more than one lookup attribute.');
    const attribute = attributes[0] as { AttributeKey?: unknown; AttributeValue?: unknown } | undefined;
    if (attribute !== undefined) {
      if (!attributeKeys.includes(attribute.AttributeKey as AttributeKey)) {
        throw new AwsServiceError('InvalidLookupAttributesException', `The lookup attribute key ${String(attribute.AttributeKey)} is not valid; valid keys: ${attributeKeys.join(', ')}.`);
      }
      if (typeof attribute.AttributeValue !== 'string' || attribute.AttributeValue.length < 1 || attribute.AttributeValue.length > 2000) {
        throw new AwsServiceError('InvalidLookupAttributesException', 'The lookup attribute value must be 1 to 2000 characters.');
      }
    }
    if (input.EventCategory !== undefined && input.EventCategory !== 'insight') {
      throw new AwsServiceError('InvalidEventCategoryException', `The event category ${String(input.EventCategory)} is not valid; the only value is insight.`);
    }
    const max = input.MaxResults === undefined ? 50 : Number(input.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 50) throw new AwsServiceError('InvalidMaxResultsException', 'MaxResults must be a value from 1 to 50.');
    const now = Date.now();
    const end = timestamp(input.EndTime, 'EndTime') ?? now;
    const start = timestamp(input.StartTime, 'StartTime') ?? now - historyMs;
    if (start > end) throw new AwsServiceError('InvalidTimeRangeException', 'The start time must not be after the end time.');

    // A token is only good for the same question: AWS refuses one used with other parameters.
    const question = createHash('sha256')
      .update(JSON.stringify([attribute?.AttributeKey, attribute?.AttributeValue, input.StartTime, input.EndTime, input.EventCategory]))
      .digest('hex')
      .slice(0, 16);
    let offset = 0;
    if (input.NextToken !== undefined) {
      const [asked, at] = Buffer.from(String(input.NextToken), 'base64url').toString('utf8').split(':');
      offset = Number(at);
      if (asked !== question || !Number.isInteger(offset) || offset < 0) throw new AwsServiceError('InvalidNextTokenException', 'The NextToken is not valid for this request.');
    }
    // Insights events are never recorded locally: an insight lookup finds none.
    const found =
      input.EventCategory === 'insight'
        ? []
        : this.history
            .filter((event) => {
              const time = Date.parse(event.eventTime);
              return time >= start && time <= end && time >= now - historyMs;
            })
            .filter((event) => attribute === undefined || this.matches(event, attribute.AttributeKey as AttributeKey, attribute.AttributeValue as string))
            .reverse();
    const page = found.slice(offset, offset + max);
    const next = offset + max < found.length ? Buffer.from(`${question}:${offset + max}`).toString('base64url') : undefined;
    return { Events: page.map((event) => this.view(event)), ...(next ? { NextToken: next } : {}) };
  }

  private readonly service = jsonService({
    targetPrefix: 'CloudTrail_20131101',
    version: '1.1',
    operations: { LookupEvents: (input: Record<string, unknown>) => this.lookupEvents(input) },
  });

  readonly handle = (request: LocalRequest): Promise<LocalResponse> => {
    // jsonService reads the target prefix up to its first dot; the long prefix has dots of its own.
    const target = String(request.headers['x-amz-target'] ?? '');
    const short = target.startsWith(`${longTargetPrefix}.`) ? `CloudTrail_20131101.${target.slice(longTargetPrefix.length + 1)}` : target;
    return this.service({ ...request, headers: { ...request.headers, 'x-amz-target': short } });
  };
}
