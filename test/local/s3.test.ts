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
import { decodeAwsChunked } from '../../local/services/s3.ts';

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

describe('aws-chunked decoding', () => {
  it('joins the chunks and drops signatures and trailers', () => {
    const framed = Buffer.from('5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n');
    expect(decodeAwsChunked(framed).toString()).toBe('hello world');
  });
});
