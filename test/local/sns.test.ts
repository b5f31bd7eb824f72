import { CreateTopicCommand, InvalidParameterException, ListTopicsCommand, NotFoundException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalSns, type PublishedMessage } from '../../local/services/sns.ts';
import { serve } from './serve.ts';

const ACCOUNT = '000000000000';
let sns: LocalSns;
let client: SNSClient;
let server: Awaited<ReturnType<typeof serve>>;

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  server = await serve((request) => sns.handle(request));
  client = new SNSClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  await server.close();
});

beforeEach(() => {
  sns = new LocalSns({ region: 'us-east-1', accountId: ACCOUNT });
});

describe('topics', () => {
  it('creates topics idempotently and lists them', async () => {
    const first = await client.send(new CreateTopicCommand({ Name: 'deployments' }));
    expect(first.TopicArn).toBe(`arn:aws:sns:us-east-1:${ACCOUNT}:deployments`);
    const again = await client.send(new CreateTopicCommand({ Name: 'deployments' }));
    expect(again.TopicArn).toBe(first.TopicArn);
    sns.createTopic('approvals');
    const listed = await client.send(new ListTopicsCommand({}));
    expect(listed.Topics?.map((t) => t.TopicArn)).toEqual([first.TopicArn, `arn:aws:sns:us-east-1:${ACCOUNT}:approvals`]);
  });

  it('pages ListTopics by 100', async () => {
    for (let i = 0; i < 105; i++) sns.createTopic(`t${i}`);
    const first = await client.send(new ListTopicsCommand({}));
    expect(first.Topics).toHaveLength(100);
    const second = await client.send(new ListTopicsCommand({ NextToken: first.NextToken }));
    expect(second.Topics).toHaveLength(5);
    expect(second.NextToken).toBeUndefined();
  });

  it('rejects an invalid topic name', async () => {
    const error = await rejection(client.send(new CreateTopicCommand({ Name: 'no spaces allowed' })));
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect(error.message).toBe('Invalid parameter: Topic Name');
  });
});

describe('Publish', () => {
  it('records the message, calls onPublish and returns a MessageId', async () => {
    const topicArn = sns.createTopic('deployments');
    const seen: PublishedMessage[] = [];
    sns.onPublish = (m) => seen.push(m);
    const out = await client.send(new PublishCommand({ TopicArn: topicArn, Subject: 'Deployed api v1', Message: 'api v1 is live on prod' }));
    expect(out.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sns.messages).toEqual([{ topicArn, subject: 'Deployed api v1', message: 'api v1 is live on prod', at: expect.any(Date), messageId: out.MessageId }]);
    expect(seen).toEqual(sns.messages);
  });

  it('accepts TargetArn in place of TopicArn', async () => {
    const topicArn = sns.createTopic('deployments');
    await client.send(new PublishCommand({ TargetArn: topicArn, Message: '{"ok":true}' }));
    expect(sns.messages.map((m) => [m.topicArn, m.subject, m.message])).toEqual([[topicArn, undefined, '{"ok":true}']]);
  });

  it('answers NotFound "Topic does not exist" for an unknown topic', async () => {
    const error = await rejection(client.send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:ghost`, Message: 'hi' })));
    expect(error).toBeInstanceOf(NotFoundException);
    expect(error.message).toBe('Topic does not exist');
    expect(error.$metadata?.httpStatusCode).toBe(404);
    expect(sns.messages).toEqual([]);
  });

  it('rejects a missing target, an empty message and a bad subject', async () => {
    const topicArn = sns.createTopic('deployments');
    const noTarget = await rejection(client.send(new PublishCommand({ Message: 'hi' })));
    expect(noTarget).toBeInstanceOf(InvalidParameterException);
    const empty = await rejection(client.send(new PublishCommand({ TopicArn: topicArn, Message: '' })));
    expect([empty.name, empty.message]).toEqual(['InvalidParameterException', 'Invalid parameter: Empty message']);
    const subject = await rejection(client.send(new PublishCommand({ TopicArn: topicArn, Message: 'hi', Subject: 'two\nlines' })));
    expect(subject.message).toBe('Invalid parameter: Subject');
    const missing = await rejection(client.send(new PublishCommand({ TopicArn: topicArn } as never)));
    expect(missing.name).toBe('ValidationError');
  });
});

describe('malformed requests', () => {
  const post = (body: string) => fetch(server.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('answers a missing or unknown Action as AWS errors', async () => {
    const missing = await post('Version=2010-03-31');
    expect([missing.status, (await missing.text()).includes('<Code>MissingAction</Code>')]).toEqual([400, true]);
    const unknown = await post('Action=Subscribe2&Version=2010-03-31');
    expect([unknown.status, (await unknown.text()).includes('<Code>InvalidAction</Code>')]).toEqual([400, true]);
  });
});
