import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { InvalidExecutionInput, ListStateMachinesCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../local/server.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let aws: LocalAws;
let sfn: SFNClient;
let stateMachineArn: string;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  // As AWS: PutEvents refuses aws.* sources (the tests' replay knob is off here).
  aws = await startLocalAws({ port: 0, faults: { replayAwsEvents: false } });
  sfn = new SFNClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 });
  const definition = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });
  stateMachineArn = aws.sfn.createStateMachine('hardening', definition, `arn:aws:iam::${aws.accountId}:role/x`).stateMachineArn;
  aws.eb.createApplication('app');
  aws.eb.createEnvironment('app', 'app-dev');
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  sfn?.destroy();
  await aws?.close();
});

/** The endpoint still answers an ordinary call, quickly. */
async function stillAnswers(): Promise<void> {
  const started = Date.now();
  const { stateMachines } = await sfn.send(new ListStateMachinesCommand({}));
  expect(stateMachines?.map((m) => m.name)).toContain('hardening');
  expect(Date.now() - started).toBeLessThan(2_000);
  expect(unhandled).toEqual([]);
}

/** Sends a request with a declared body length and only part of the body, then reads whatever answer comes. */
function declaredBody(path: string, headers: Record<string, string>, declared: number, sent: Buffer): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(aws.endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'POST', headers: { ...headers, 'content-length': String(declared) } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(sent);
  });
}

/** Opens a connection, sends headers and part of a body, and hangs up. */
function abandon(raw: string): Promise<void> {
  const { hostname, port } = new URL(aws.endpoint);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(raw);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 50);
    });
    socket.on('error', () => resolve());
  });
}

describe('request sizes, as AWS limits them', () => {
  it('refuses a StartExecution input over 256 KB with InvalidExecutionInput', async () => {
    const input = JSON.stringify({ padding: 'x'.repeat(256 * 1024) });
    const refused = sfn.send(new StartExecutionCommand({ stateMachineArn, input }));
    await expect(refused).rejects.toBeInstanceOf(InvalidExecutionInput);
    await expect(refused).rejects.toThrow(/larger than the maximum of 262144 bytes/);
    const fits = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ padding: 'x'.repeat(200 * 1024) }) }));
    expect(fits.executionArn).toBeDefined();
    await stillAnswers();
  });

  it('refuses a 50 MB request body before reading it, without growing the process', async () => {
    const before = process.memoryUsage().rss;
    const answer = await declaredBody('/', { 'x-amz-target': 'AWSStepFunctions.StartExecution', 'content-type': 'application/x-amz-json-1.0' }, 50 * 1024 * 1024, Buffer.alloc(64 * 1024, 'a'));
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ __type: 'RequestEntityTooLarge' });
    expect(process.memoryUsage().rss - before).toBeLessThan(40 * 1024 * 1024);
    await stillAnswers();
  });

  it('refuses a Lambda payload over 6 MB with RequestTooLargeException', async () => {
    const lambda = new LambdaClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 });
    const refused = lambda.send(new InvokeCommand({ FunctionName: 'anything', Payload: Buffer.alloc(6 * 1024 * 1024 + 10, 'a') }));
    await expect(refused).rejects.toMatchObject({ name: 'RequestTooLargeException', $metadata: { httpStatusCode: 413 } });
    lambda.destroy();
    await stillAnswers();
  });

  it('refuses an S3 upload over the endpoint’s limit with EntityTooLarge', async () => {
    const answer = await declaredBody('/some-bucket/key', {}, 600 * 1024 * 1024, Buffer.alloc(1024));
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('<Code>EntityTooLarge</Code>');
    await stillAnswers();
  });

  it('refuses PutEvents over 256 KB in all or more than 10 entries with ValidationException', async () => {
    const events = new EventBridgeClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 });
    const entry = (detail: object) => ({ Source: 'com.example', DetailType: 'Test', Detail: JSON.stringify(detail) });
    await expect(events.send(new PutEventsCommand({ Entries: [entry({ padding: 'x'.repeat(256 * 1024) })] }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
    await expect(events.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, (_, i) => entry({ i })) }))).rejects.toMatchObject({ name: 'ValidationException' });
    const fine = await events.send(new PutEventsCommand({ Entries: [entry({ ok: true })] }));
    expect(fine.FailedEntryCount).toBe(0);
    events.destroy();
    await stillAnswers();
  });
});

describe('reserved event sources', () => {
  it('refuses entries in the name of an AWS service (aws.*) with NotAuthorizedForSourceException, and takes the others', async () => {
    const events = new EventBridgeClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 });
    const detail = JSON.stringify({ result: 'SUCCESS', 'action-type': 'PUSH', 'repository-name': 'hello-api', 'image-digest': `sha256:${'a'.repeat(64)}`, 'image-tag': 'v9.9.9' });
    const answer = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'aws.ecr', DetailType: 'ECR Image Action', Detail: detail },
          { Source: 'greenlight.test', DetailType: 'Test', Detail: '{}' },
        ],
      }),
    );
    expect(answer.FailedEntryCount).toBe(1);
    expect(answer.Entries?.[0]).toEqual({ ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' });
    expect(answer.Entries?.[1]?.EventId).toBeDefined();
    events.destroy();
  });
});

describe('Query list indexes', () => {
  it('answers EnvironmentNames.member.4294967295=x at once with a validation error', async () => {
    const started = Date.now();
    const response = await fetch(aws.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeEnvironments&Version=2010-12-01&EnvironmentNames.member.4294967295=x',
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response.status).toBe(400);
    const body = await response.text();
    expect(body).toContain('<Code>ValidationError</Code>');
    expect(body).toContain('Member must have length less than or equal to 1000');
    const eb = new ElasticBeanstalkClient({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 });
    const { Environments } = await eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['app-dev'] }));
    expect(Environments?.[0]?.EnvironmentName).toBe('app-dev');
    eb.destroy();
    await stillAnswers();
  });
});

describe('clients that go away', () => {
  it('survives uploads and calls abandoned mid-body, on every kind of route', async () => {
    const token = aws.ecr.tokens.issue({ arn: 'arn:aws:iam::000000000000:user/x' }).authorizationToken;
    aws.ecr.createRepository('abandoned');
    const started = await fetch(`${aws.endpoint}/v2/abandoned/blobs/uploads/`, { method: 'POST', headers: { authorization: `Basic ${token}` } });
    const location = started.headers.get('location')!;
    const partial = (head: string) => `${head}\r\ncontent-length: 1048576\r\n\r\n${'a'.repeat(4096)}`;
    await abandon(partial(`PATCH ${location} HTTP/1.1\r\nhost: x\r\nauthorization: Basic ${token}`));
    await abandon(partial('PUT /some-bucket/half-written HTTP/1.1\r\nhost: x'));
    await abandon(partial('POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: AWSStepFunctions.StartExecution'));
    await abandon(partial('POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded'));
    await abandon('GET /v2/ HTTP/1.1\r\nhost: x\r\n'); // headers never finished
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stillAnswers();
    // The abandoned chunk was never appended: the upload is still empty.
    const status = await fetch(`${aws.endpoint}${location}`, { headers: { authorization: `Basic ${token}` } });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-0');
  });
});
