import { randomUUID } from 'node:crypto';
import { queryService } from '../protocol/query.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from '../protocol/types.ts';

/** One published notification, kept so tests and the CLI can see what the pipeline told people. */
export interface PublishedMessage {
  readonly topicArn: string;
  readonly subject?: string;
  /** What a subscriber receives that has no message of its own: the Message, or its `default` with `MessageStructure: json`. */
  readonly message: string;
  /** `MessageStructure: json`: the message of each protocol key (`default`, `email`, `https`, …). */
  readonly protocols?: Readonly<Record<string, string>>;
  /** Message attributes (what subscription filter policies match), by name. */
  readonly attributes?: Readonly<Record<string, { readonly dataType: string; readonly value: string }>>;
  readonly at: Date;
  readonly messageId: string;
}

/** The message a subscriber of `protocol` (`email`, `https`, `sqs`, …) receives: its own, else the default. */
export function messageFor(published: PublishedMessage, protocol: string): string {
  return published.protocols?.[protocol] ?? published.message;
}

type Input = Record<string, unknown>;

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_ATTRIBUTES = 10;
const ATTRIBUTE_NAME = /^(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}$/;

function invalidParameter(what: string): AwsServiceError {
  return new AwsServiceError('InvalidParameter', `Invalid parameter: ${what}`);
}

function text(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParameter(key);
  return value;
}

/** How many published messages are remembered (SNS itself keeps none once delivered). */
export const recentMessages = 500;

/**
 * Amazon SNS, locally: topics and Publish, no deliveries; every message is handed to `onPublish`,
 * which is where the CLI prints notifications, and the latest `recentMessages` are kept for tests and
 * people to read (older ones are forgotten, so a long run does not grow with every deployment).
 */
export class LocalSns {
  readonly messages: PublishedMessage[] = [];
  /** Called for every published message. */
  onPublish: ((message: PublishedMessage) => void) | undefined;
  private readonly topics = new Set<string>();
  private readonly region: string;
  private readonly accountId: string;

  constructor(options: { region: string; accountId: string; onPublish?: (message: PublishedMessage) => void }) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.onPublish = options.onPublish;
  }

  /** Creates a topic (idempotent, as the API is) and returns its ARN. */
  createTopic(name: string): string {
    const fifo = name.endsWith('.fifo');
    if (!TOPIC_NAME.test(fifo ? name.slice(0, -5) : name) || name.length > 256) {
      throw invalidParameter('Topic Name');
    }
    const arn = `arn:aws:sns:${this.region}:${this.accountId}:${name}`;
    this.topics.add(arn);
    return arn;
  }

  /**
   * Publishes to a topic as the API does; returns the message id. With `structure: 'json'` the message
   * is a JSON object of one string per protocol, `default` required; attributes as `MessageAttributes`.
   */
  publish(topicArn: string, message: string, subject?: string, options: { structure?: string; attributes?: PublishedMessage['attributes'] } = {}): string {
    if (!/^arn:aws[\w-]*:sns:[^:]+:\d{12}:[^:]+$/.test(topicArn)) throw invalidParameter('TopicArn');
    if (!this.topics.has(topicArn)) throw new AwsServiceError('NotFound', 'Topic does not exist', 404);
    if (message === '') throw invalidParameter('Empty message');
    if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) throw invalidParameter('Message too long');
    if (subject !== undefined && (subject === '' || subject.length > 100 || /[\r\n]/.test(subject) || /[^\x20-\x7e]/.test(subject))) {
      throw invalidParameter('Subject');
    }
    const protocols = options.structure === undefined ? undefined : protocolMessages(options.structure, message);
    const published: PublishedMessage = {
      topicArn,
      ...(subject === undefined ? {} : { subject }),
      message: protocols?.default ?? message,
      ...(protocols ? { protocols } : {}),
      ...(options.attributes && Object.keys(options.attributes).length > 0 ? { attributes: options.attributes } : {}),
      at: new Date(),
      messageId: randomUUID(),
    };
    this.messages.push(published);
    if (this.messages.length > recentMessages) this.messages.splice(0, this.messages.length - recentMessages);
    this.onPublish?.(published);
    return published.messageId;
  }

  readonly handle: (request: LocalRequest) => Promise<LocalResponse> = queryService({
    xmlns: 'http://sns.amazonaws.com/doc/2010-03-31/',
    operations: {
      CreateTopic: (input: Input) => {
        const name = text(input, 'Name');
        if (name === undefined || name === '') throw invalidParameter('Topic Name');
        return { TopicArn: this.createTopic(name) };
      },
      ListTopics: (input: Input) => {
        const all = [...this.topics];
        const token = text(input, 'NextToken');
        const start = token === undefined || token === '' ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
        if (!Number.isInteger(start) || start < 0) throw invalidParameter('NextToken');
        const page = all.slice(start, start + 100);
        return {
          Topics: page.map((TopicArn) => ({ TopicArn })),
          ...(start + 100 < all.length ? { NextToken: Buffer.from(String(start + 100)).toString('base64url') } : {}),
        };
      },
      DeleteTopic: (input: Input) => {
        const arn = text(input, 'TopicArn');
        if (arn === undefined || arn === '') throw invalidParameter('TopicArn');
        // DeleteTopic is idempotent: deleting a missing topic succeeds.
        this.topics.delete(arn);
        return undefined;
      },
      Publish: (input: Input) => {
        const topicArn = text(input, 'TopicArn') || text(input, 'TargetArn');
        if (text(input, 'PhoneNumber')) throw invalidParameter('PhoneNumber Reason: SMS is not supported by the local endpoint');
        if (!topicArn) throw invalidParameter('TopicArn or TargetArn Reason: no value for required parameter');
        const message = text(input, 'Message');
        if (message === undefined) {
          throw new AwsServiceError('ValidationError', "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null");
        }
        const structure = text(input, 'MessageStructure');
        return { MessageId: this.publish(topicArn, message, text(input, 'Subject'), { ...(structure === undefined ? {} : { structure }), attributes: messageAttributes(input.MessageAttributes) }) };
      },
    },
  });
}

/** `MessageStructure: json`: SNS wants a JSON object with a string `default` and string values for the protocols. */
function protocolMessages(structure: string, message: string): Record<string, string> {
  if (structure !== 'json') throw invalidParameter('MessageStructure');
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    throw invalidParameter('Message Structure - JSON message body failed to parse');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || typeof (parsed as { default?: unknown }).default !== 'string') {
    throw invalidParameter('Message Structure - No default entry in JSON message body');
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.some(([, value]) => typeof value !== 'string')) throw invalidParameter('Message Structure - protocol messages must be strings');
  return Object.fromEntries(entries) as Record<string, string>;
}

/** `MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}`, checked as SNS checks them. */
function messageAttributes(value: unknown): PublishedMessage['attributes'] {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalidParameter('MessageAttributes');
  if (value.length > MAX_ATTRIBUTES) {
    throw invalidParameter(`MessageAttributes Reason: Number of message attributes [${value.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
  }
  const attributes: Record<string, { dataType: string; value: string }> = {};
  for (const entry of value as Array<{ Name?: unknown; Value?: { DataType?: unknown; StringValue?: unknown; BinaryValue?: unknown } }>) {
    const name = entry?.Name;
    if (typeof name !== 'string' || !ATTRIBUTE_NAME.test(name) || /^(aws|amazon)\./i.test(name)) throw invalidParameter(`MessageAttributes Reason: invalid attribute name ${String(name)}`);
    const type = entry.Value?.DataType;
    if (typeof type !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(type)) throw invalidParameter(`The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
    const raw = type.startsWith('Binary') ? entry.Value?.BinaryValue : entry.Value?.StringValue;
    if (typeof raw !== 'string' || raw === '') {
      throw invalidParameter(`The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type.split('.')[0]}'.`);
    }
    attributes[name] = { dataType: type, value: raw };
  }
  return attributes;
}
