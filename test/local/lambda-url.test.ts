import { Sha256 } from '@aws-crypto/sha256-js';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlForbidden, signatureMismatch } from '../../local/identities.ts';
import { type LocalAws, startLocalAws } from '../../local/server.ts';
import { projectRoot } from '../../local/stack.ts';
import { received } from './url-echo.ts';

let aws: LocalAws;
const alice = { accessKeyId: 'alice', secretAccessKey: 'alice-secret' };
const aliceArn = 'arn:aws:sts::000000000000:assumed-role/release-managers/alice';
const rejectBody = JSON.stringify({ decision: 'reject', comment: 'not during the sale' });
const approveBody = JSON.stringify({ decision: 'approve', comment: 'ship it' });

interface Signing {
  method?: 'GET' | 'POST';
  path?: string;
  body?: string;
  service?: string;
  region?: string;
  signingDate?: Date;
  /** false: no x-amz-content-sha256 header (the payload hash is still in the signature). */
  applyChecksum?: boolean;
  headers?: Record<string, string>;
}

/** Signs a request to the `echo` function URL as @smithy/signature-v4 (the SDK's signer) does and returns what to send. */
async function sign({ method = 'POST', path = '/approvals/x', body, service = 'lambda', region = 'us-east-1', signingDate, applyChecksum = true, headers = {} }: Signing) {
  const url = new URL(`${aws.endpoint}/_lambda-url/echo${path}`);
  const signer = new SignatureV4({ service, region, credentials: alice, sha256: Sha256, uriEscapePath: true, applyChecksum });
  const signed = await signer.sign(
    new HttpRequest({
      method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body,
    }),
    signingDate ? { signingDate } : {},
  );
  return { url, method, headers: signed.headers as Record<string, string> };
}

/** Sends a signed request, with the body given here (which may not be the one that was signed). */
async function send(request: { url: URL; method: string; headers: Record<string, string> }, body?: string) {
  const response = await fetch(request.url, { method: request.method, headers: request.headers, body });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: (await response.json()) as any };
}

/** Runs a request and says whether it reached the function. */
async function reaches(run: () => Promise<unknown>): Promise<boolean> {
  const before = received().length;
  await run();
  return received().length > before;
}

beforeAll(async () => {
  aws = await startLocalAws({ port: 0, projectRoot });
  aws.lambda.register({ name: 'echo', url: 'aws_iam', handler: 'test/local/url-echo.echo', timeoutSeconds: 3, memorySize: 128 });
  aws.lambda.register({ name: 'double', handler: 'test/fixtures/lambda/handlers.double', timeoutSeconds: 3, memorySize: 128 });
});
afterAll(() => aws?.close());

describe('a function URL with AWS_IAM auth', () => {
  it('passes an SDK-signed request to the handler with the verified caller and a lambda-url domain name', async () => {
    const response = await send(await sign({ body: approveBody }), approveBody);
    expect(response.status).toBe(200);
    const { requestContext, body } = response.body;
    expect(body).toBe(approveBody);
    expect(requestContext.domainName).toMatch(/^[a-z0-9]{32}\.lambda-url\.us-east-1\.on\.aws$/);
    expect(requestContext.domainPrefix).toBe(requestContext.domainName.split('.')[0]);
    expect(requestContext.accountId).toBe('000000000000');
    expect(requestContext.http).toMatchObject({ method: 'POST', path: '/approvals/x' });
    expect(requestContext.authorizer.iam).toEqual({
      accessKey: 'alice',
      accountId: '000000000000',
      callerId: expect.stringMatching(/^AROA[0-9A-Z]+:alice$/),
      userArn: aliceArn,
      userId: expect.stringMatching(/^AROA[0-9A-Z]+:alice$/),
    });
  });

  it('accepts a signature without x-amz-content-sha256: the payload hash is that of the body received', async () => {
    const request = await sign({ body: rejectBody, applyChecksum: false });
    expect(request.headers['x-amz-content-sha256']).toBeUndefined();
    expect((await send(request, rejectBody)).status).toBe(200);
    expect((await send(await sign({ method: 'GET', path: '/pending', applyChecksum: false }))).status).toBe(200);
  });

  it('refuses a body swapped after signing (a signed rejection sent as an approval) without invoking the function', async () => {
    const signedReject = await sign({ body: rejectBody });
    let response: Awaited<ReturnType<typeof send>> | undefined;
    expect(await reaches(async () => (response = await send(signedReject, approveBody)))).toBe(false);
    expect(response).toEqual({ status: 403, errorType: 'InvalidSignatureException', body: { message: signatureMismatch } });
    // Without the header the signature still covers the body: the swap fails the same way.
    const withoutHeader = await sign({ body: rejectBody, applyChecksum: false });
    expect(await reaches(async () => (response = await send(withoutHeader, approveBody)))).toBe(false);
    expect(response).toMatchObject({ status: 403, errorType: 'InvalidSignatureException' });
    // The same signature with the body it was made for still works: only the swap is refused.
    expect((await send(signedReject, rejectBody)).status).toBe(200);
  });

  it('refuses UNSIGNED-PAYLOAD: Lambda does not support unsigned payloads', async () => {
    const request = await sign({ body: approveBody, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    let response: Awaited<ReturnType<typeof send>> | undefined;
    expect(await reaches(async () => (response = await send(request, approveBody)))).toBe(false);
    expect(response).toMatchObject({ status: 403, errorType: 'InvalidSignatureException', body: { message: signatureMismatch } });
  });

  it('refuses a signature scoped to service s3', async () => {
    const response = await send(await sign({ body: approveBody, service: 's3' }), approveBody);
    expect(response).toEqual({ status: 403, errorType: 'InvalidSignatureException', body: { message: "Credential should be scoped to correct service: 'lambda'. " } });
  });

  it("refuses a signature scoped to another region than the endpoint's", async () => {
    const response = await send(await sign({ body: approveBody, region: 'eu-west-1' }), approveBody);
    expect(response).toEqual({ status: 403, errorType: 'InvalidSignatureException', body: { message: "Credential should be scoped to a valid region, not 'eu-west-1'. " } });
  });

  it('refuses a request signed 10 minutes ago, and one signed 10 minutes ahead (AWS allows 5 minutes of skew)', async () => {
    const minutes = (n: number) => new Date(Date.now() + n * 60_000);
    const old = await send(await sign({ body: approveBody, signingDate: minutes(-10) }), approveBody);
    expect(old).toMatchObject({ status: 403, errorType: 'InvalidSignatureException', body: { message: expect.stringMatching(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/) } });
    const ahead = await send(await sign({ body: approveBody, signingDate: minutes(10) }), approveBody);
    expect(ahead).toMatchObject({ status: 403, body: { message: expect.stringMatching(/^Signature not yet current: \d{8}T\d{6}Z is still later than/) } });
    expect((await send(await sign({ body: approveBody, signingDate: minutes(-4) }), approveBody)).status).toBe(200);
  });

  it('refuses an unsigned request as Forbidden, and an unknown access key as an invalid token', async () => {
    const unsigned = await fetch(`${aws.endpoint}/_lambda-url/echo/pending`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toEqual({ Message: functionUrlForbidden });
    const request = await sign({ method: 'GET', path: '/pending' });
    request.headers.authorization = request.headers.authorization!.replace('Credential=alice/', 'Credential=mallory/');
    expect(await send(request)).toEqual({ status: 403, errorType: 'UnrecognizedClientException', body: { message: 'The security token included in the request is invalid.' } });
  });
});

describe('a direct Invoke of a function served by an IAM function URL', () => {
  const client = () => new LambdaClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials: alice });

  it('is refused with AccessDeniedException, as AWS does for a caller no resource-based policy allows, and never runs the handler', async () => {
    const forged = { version: '2.0', rawPath: '/approvals/x', body: approveBody, requestContext: { http: { method: 'POST', path: '/approvals/x' }, authorizer: { iam: { userArn: aliceArn } } } };
    let refusal: unknown;
    expect(await reaches(() => client().send(new InvokeCommand({ FunctionName: 'echo', Payload: JSON.stringify(forged) })).catch((error) => (refusal = error)))).toBe(false);
    expect(refusal).toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 403 },
      message: `User: ${aliceArn} is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:echo because no resource-based policy allows the lambda:InvokeFunction action`,
    });
  });

  it('leaves other functions invokable over HTTP, and the in-process invokes of Step Functions and EventBridge', async () => {
    const result = await client().send(new InvokeCommand({ FunctionName: 'double', Payload: JSON.stringify({ value: 4 }) }));
    expect(JSON.parse(new TextDecoder().decode(result.Payload))).toEqual({ value: 8 });
    expect(await reaches(() => aws.lambda.invoke('echo', { version: '2.0' }))).toBe(true);
  });
});
