import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../local/server.ts';
import { decodeAwsChunked, objectAddress, preconditionFailure } from '../../local/services/s3.ts';
import { installed } from '../tools.ts';

let aws: LocalAws;
let s3: S3Client;

beforeAll(async () => {
  aws = await startLocalAws({ port: 0 });
  // Default client settings, on purpose: checksums on, streamed bodies sent aws-chunked.
  s3 = new S3Client({ endpoint: aws.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await s3.send(new CreateBucketCommand({ Bucket: 'bundles' }));
});
afterAll(() => aws?.close());

describe('S3 on the shared endpoint', () => {
  it('stores and returns objects with their metadata (path style, default SDK settings)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'a/b.zip', Body: Buffer.from('zip bytes'), ContentType: 'application/zip', Metadata: { sha256: 'abc' } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'a/b.zip' }));
    expect(await got.Body!.transformToString()).toBe('zip bytes');
    expect(got.ContentType).toBe('application/zip');
    expect(got.Metadata).toEqual({ sha256: 'abc' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'a/b.zip' }));
    expect(head.ContentLength).toBe(9);
  });

  it('stores a streamed upload without the aws-chunked framing', async () => {
    const body = Readable.from([Buffer.from('first part, '), Buffer.from('second part')]);
    await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'streamed.txt', Body: body, ContentLength: 23 }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'streamed.txt' }));
    expect(await got.Body!.transformToString()).toBe('first part, second part');
  });

  it('lists, copies and deletes objects', async () => {
    await s3.send(new CopyObjectCommand({ Bucket: 'bundles', Key: 'copy.zip', CopySource: 'bundles/a/b.zip' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'bundles', Prefix: 'a/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['a/b.zip']);
    await s3.send(new DeleteObjectCommand({ Bucket: 'bundles', Key: 'copy.zip' }));
    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'bundles' }));
    expect(all.Contents?.map((o) => o.Key)).not.toContain('copy.zip');
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toContain('bundles');
  });

  it('answers missing keys and buckets as S3 does', async () => {
    await expect(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'missing' }))).rejects.toBeInstanceOf(NoSuchKey);
    await expect(s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'missing' }))).rejects.toBeInstanceOf(NotFound);
    await expect(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' }))).rejects.toBeInstanceOf(NoSuchBucket);
  });
});

/** The outcome of one call as the SDK reports it: the ETag, or the error name and HTTP status. */
async function outcome(promise: Promise<{ ETag?: string }>): Promise<{ etag?: string; error?: string; status?: number }> {
  try {
    return { etag: (await promise).ETag };
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { error: e.name, status: e.$metadata?.httpStatusCode };
  }
}

const put = (Key: string, body: string, conditions: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
  outcome(s3.send(new PutObjectCommand({ Bucket: 'bundles', Key, Body: Buffer.from(body), ...conditions })));
const read = async (Key: string) => (await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key }))).Body!.transformToString();

describe('conditional writes (a lease or an append-only record without a database)', () => {
  it('creates with If-None-Match: * once; a second create gets PreconditionFailed (412) and leaves the object', async () => {
    const first = await put('lease/create-once', 'first', { IfNoneMatch: '*' });
    expect(first.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await put('lease/create-once', 'second', { IfNoneMatch: '*' })).toEqual({ error: 'PreconditionFailed', status: 412 });
    expect(await read('lease/create-once')).toBe('first');
  });

  it('answers the S3 error document, naming the condition that failed', async () => {
    await put('lease/document', 'x');
    const response = await fetch(`${aws.endpoint}/bundles/lease/document`, { method: 'PUT', headers: { 'if-none-match': '*' }, body: 'y' });
    expect(response.status).toBe(412);
    const text = await response.text();
    expect(text).toContain('<Code>PreconditionFailed</Code>');
    expect(text).toContain('<Message>At least one of the pre-conditions you specified did not hold</Message>');
    expect(text).toContain('<Condition>If-None-Match</Condition>');
  });

  it('replaces with If-Match and the current ETag (quoted or not), refuses a stale ETag', async () => {
    const { etag } = await put('lease/cas', 'v1');
    const second = await put('lease/cas', 'v2', { IfMatch: etag! });
    expect(second.etag).toBeDefined();
    expect(await put('lease/cas', 'stale', { IfMatch: etag! })).toEqual({ error: 'PreconditionFailed', status: 412 });
    expect(await read('lease/cas')).toBe('v2');
    expect((await put('lease/cas', 'v3', { IfMatch: second.etag!.replaceAll('"', '') })).etag).toBeDefined();
    expect(await read('lease/cas')).toBe('v3');
  });

  it('answers If-Match on a missing key with NoSuchKey (404) and writes nothing', async () => {
    expect(await put('lease/missing', 'x', { IfMatch: '"0123456789abcdef0123456789abcdef"' })).toEqual({ error: 'NoSuchKey', status: 404 });
    await expect(s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'lease/missing' }))).rejects.toBeInstanceOf(NotFound);
  });

  it('never lets a read see an object half written, while reads of one key run side by side', async () => {
    const body = (n: number) => String(n % 10).repeat(512 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'lease/big', Body: body(0) }));
    const writes = Array.from({ length: 5 }, (_, n) => s3.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'lease/big', Body: body(n + 1) })));
    const reads = Array.from({ length: 20 }, async () => {
      const text = await (await s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'lease/big' }))).Body!.transformToString();
      return text.length === 512 * 1024 && new Set(text).size === 1;
    });
    await Promise.all(writes);
    expect(await Promise.all(reads)).toEqual(reads.map(() => true));
  });

  it('lets exactly one of 20 concurrent create-only writes win', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => put('lease/race-create', `writer ${i}`, { IfNoneMatch: '*' })));
    const winners = results.filter((r) => r.etag);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.error === 'PreconditionFailed')).toHaveLength(19);
    const winner = results.indexOf(winners[0]!);
    expect(await read('lease/race-create')).toBe(`writer ${winner}`);
  });

  it('lets exactly one of 20 concurrent compare-and-swap updates from the same ETag win', async () => {
    const { etag } = await put('lease/race-cas', 'start');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => put('lease/race-cas', `writer ${i}`, { IfMatch: etag! })));
    const winners = results.filter((r) => r.etag);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.error === 'PreconditionFailed')).toHaveLength(19);
    expect(await read('lease/race-cas')).toBe(`writer ${results.indexOf(winners[0]!)}`);
  });

  it('honours If-Match and If-None-Match on GetObject and HeadObject (412 and 304)', async () => {
    const { etag } = await put('lease/read', 'body');
    expect(await read('lease/read')).toBe('body');
    await expect(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'lease/read', IfMatch: etag! }))).resolves.toMatchObject({ ETag: etag });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'lease/read', IfMatch: '"stale"' }))).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    await expect(s3.send(new HeadObjectCommand({ Bucket: 'bundles', Key: 'lease/read', IfMatch: '"stale"' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    const notModified = await fetch(`${aws.endpoint}/bundles/lease/read`, { headers: { 'if-none-match': etag!.replaceAll('"', '') } });
    expect(notModified.status).toBe(304);
    await expect(s3.send(new GetObjectCommand({ Bucket: 'bundles', Key: 'lease/missing-read', IfMatch: etag! }))).rejects.toBeInstanceOf(NoSuchKey);
  });

  it('answers a conditional write to a missing bucket with NoSuchBucket', async () => {
    const result = await outcome(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x', IfNoneMatch: '*' })));
    expect(result.error).toBe('NoSuchBucket');
  });

  const hasAwsCli = installed('aws');

  it.skipIf(!hasAwsCli)('works from the AWS CLI: put-object --if-none-match "*" creates once, then fails with PreconditionFailed', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'greenlight-s3-cli-')), 'body.txt');
    writeFileSync(file, 'from the cli');
    const { AWS_PROFILE: _profile, ...inherited } = process.env;
    const env = { ...inherited, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    const args = ['--endpoint-url', aws.endpoint, 's3api', 'put-object', '--bucket', 'bundles', '--key', 'lease/cli', '--body', file, '--if-none-match', '*'];
    // Asynchronous on purpose: the endpoint runs in this process and must keep answering while the CLI waits.
    const cli = () =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('aws', args, { env, timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
      });
    const first = await cli();
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).ETag).toMatch(/^"[0-9a-f]{32}"$/);
    const second = await cli();
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('PreconditionFailed');
  });
});

describe('precondition rules', () => {
  it('compares ETags quoted or not and treats * as any current object', () => {
    expect(preconditionFailure({ ifMatch: 'abc' }, '"abc"', 'write')).toBeUndefined();
    expect(preconditionFailure({ ifMatch: '*' }, '"abc"', 'write')).toBeUndefined();
    expect(preconditionFailure({ ifNoneMatch: '*' }, undefined, 'write')).toBeUndefined();
    expect(preconditionFailure({ ifNoneMatch: '*' }, '"abc"', 'write')).toEqual({ status: 412, code: 'PreconditionFailed', condition: 'If-None-Match' });
    expect(preconditionFailure({ ifMatch: '"abd"' }, '"abc"', 'read')).toEqual({ status: 412, code: 'PreconditionFailed', condition: 'If-Match' });
    expect(preconditionFailure({ ifNoneMatch: '"abc"' }, '"abc"', 'read')).toEqual({ status: 304 });
  });

  it('finds the bucket and key as s3rver does: path style on an IP or localhost, virtual host otherwise', () => {
    expect(objectAddress('127.0.0.1:4566', '/bundles/a/b%20c.zip')).toEqual({ bucket: 'bundles', key: 'a/b c.zip' });
    expect(objectAddress('localhost:4566', '/bundles')).toBeUndefined();
    expect(objectAddress('bundles.s3.us-east-1.amazonaws.com', '/k')).toEqual({ bucket: 'bundles', key: 'k' });
    expect(objectAddress('bundles.example.test:4566', '/k')).toEqual({ bucket: 'bundles.example.test', key: 'k' });
  });
});

describe('aws-chunked decoding', () => {
  it('joins the chunks and drops signatures and trailers', () => {
    const framed = Buffer.from('5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n');
    expect(decodeAwsChunked(framed).toString()).toBe('hello world');
  });
});
