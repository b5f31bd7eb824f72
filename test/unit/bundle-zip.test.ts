import 'aws-sdk-client-mock-vitest/extend';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { bundleDescription, pushedAtFromDescription, storeBundle } from '../../shared/bundle/store.ts';
import { imagesInBundle, readBundle, sha256Hex, zipBundle } from '../../shared/bundle/zip.ts';
import { BundleRenderError } from '../../shared/errors.ts';

const encode = (text: string) => new TextEncoder().encode(text);
const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const digest = `sha256:${'ab'.repeat(32)}`;
const entries = () => ({
  'Dockerrun.aws.json': encode(JSON.stringify({ AWSEBDockerrunVersion: '1', Image: { Name: `${registry}/api@${digest}` } })),
  '.ebextensions/01-env.config': encode('option_settings: {}\n'),
});

describe('zipBundle', () => {
  it('gives the same bytes for the same files whatever their order', () => {
    const a = entries();
    const b = Object.fromEntries(Object.entries(entries()).reverse());
    expect(zipBundle(a)).toEqual(zipBundle(b));
    expect(sha256Hex(zipBundle(a))).toBe(sha256Hex(zipBundle(b)));
  });

  it('writes every entry at 1980-01-01 00:00 in DOS time, whatever the time zone', () => {
    const zip = zipBundle(entries());
    const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
    expect(view.getUint32(0, true)).toBe(0x04034b50);
    expect(view.getUint16(10, true)).toBe(0);
    expect(view.getUint16(12, true)).toBe((1 << 5) | 1);
  });

  it('stores entries sorted by name and reads them back unchanged', () => {
    const zip = zipBundle(entries());
    const files = readBundle(zip);
    expect(Object.keys(files)).toEqual(['.ebextensions/01-env.config', 'Dockerrun.aws.json']);
    expect(new TextDecoder().decode(files['.ebextensions/01-env.config'])).toBe('option_settings: {}\n');
  });

  it('changes the hash when a file changes', () => {
    const changed = { ...entries(), '.ebextensions/01-env.config': encode('option_settings: { a: 1 }\n') };
    expect(sha256Hex(zipBundle(changed))).not.toBe(sha256Hex(zipBundle(entries())));
  });

  it('hashes bytes as hex sha256', () => {
    expect(sha256Hex(encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('refuses bytes that are not a zip', () => {
    expect(() => readBundle(encode('not a zip'))).toThrow(BundleRenderError);
  });
});

describe('imagesInBundle', () => {
  it('finds the images of a v2 Dockerrun', () => {
    const dockerrun = { AWSEBDockerrunVersion: 2, containerDefinitions: [{ name: 'a', image: `${registry}/a@${digest}` }, { name: 'b', image: 'redis:7' }] };
    expect(imagesInBundle(zipBundle({ 'Dockerrun.aws.json': encode(JSON.stringify(dockerrun)) }))).toEqual([`${registry}/a@${digest}`, 'redis:7']);
  });

  it('finds the images of a v1 Dockerrun and of docker-compose.yml', () => {
    expect(imagesInBundle(zipBundle(entries()))).toEqual([`${registry}/api@${digest}`]);
    const compose = `services:\n  web:\n    image: "${registry}/web@${digest}"\n`;
    const zip = zipBundle({ 'Dockerrun.aws.json': encode('{"AWSEBDockerrunVersion":"3"}'), 'docker-compose.yml': encode(compose) });
    expect(imagesInBundle(zip)).toEqual([`${registry}/web@${digest}`]);
  });
});

describe('bundle description', () => {
  it('carries tag, image and push time, and gives the push time back', () => {
    const description = bundleDescription({ tag: 'v1.2.3', images: { api: `${registry}/api@${digest}` }, pushedAt: '2025-03-01T10:00:00.000Z' });
    expect(description).toBe(`greenlight v1.2.3 api@sha256:${'ab'.repeat(6)}… pushedAt=2025-03-01T10:00:00.000Z`);
    expect(pushedAtFromDescription(description)).toBe('2025-03-01T10:00:00.000Z');
  });

  it('keeps the push time when a long tag would exceed 200 characters', () => {
    const description = bundleDescription({ tag: 'x'.repeat(128), images: { ['r'.repeat(100)]: `${registry}/r@${digest}` }, pushedAt: '2025-03-01T10:00:00.000Z' });
    expect(description.length).toBeLessThanOrEqual(200);
    expect(pushedAtFromDescription(description)).toBe('2025-03-01T10:00:00.000Z');
  });

  it('finds no push time in descriptions greenlight did not write', () => {
    expect(pushedAtFromDescription('deployed by hand')).toBeUndefined();
    expect(pushedAtFromDescription(undefined)).toBeUndefined();
    expect(pushedAtFromDescription('pushedAt=yesterday')).toBeUndefined();
  });
});

describe('storeBundle', () => {
  const s3 = mockClient(S3Client);
  const input = { bucket: 'bundles', application: 'api', tag: 'v1.2.3', entries: entries(), images: { api: `${registry}/api@${digest}` }, pushedAt: '2025-03-01T10:00:00.000Z' };
  const zip = zipBundle(entries());
  const sha = sha256Hex(zip);
  const key = `bundles/api/${sha}.zip`;
  const stored = (bytes: Uint8Array) => ({ Body: { transformToByteArray: async () => bytes } as never });

  beforeEach(() => {
    s3.reset();
    s3.on(PutObjectCommand).resolves({});
  });

  it.each([
    ['NoSuchKey', new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } })],
    ['a bare 404', Object.assign(new Error('Not Found'), { name: 'Unknown', $metadata: { httpStatusCode: 404 } })],
  ])('writes a new bundle under its content address when the key is missing (%s)', async (_, error) => {
    s3.on(GetObjectCommand).rejects(error);
    const result = await storeBundle({ s3: new S3Client({}) }, input);
    expect(result).toMatchObject({ bucket: 'bundles', key, sha256: sha, versionLabel: `v1.2.3-${sha.slice(0, 12)}`, written: true });
    expect(result.description).toContain('pushedAt=2025-03-01T10:00:00.000Z');
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'bundles', Key: key });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'bundles', Key: key, ContentType: 'application/zip', Metadata: { sha256: sha, application: 'api' } });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body).toEqual(zip);
  });

  it('does not write a bundle whose stored bytes hash to its key', async () => {
    s3.on(GetObjectCommand, { Bucket: 'bundles', Key: key }).resolves(stored(zipBundle(entries())));
    const result = await storeBundle({ s3: new S3Client({}) }, input);
    expect(result).toMatchObject({ key, sha256: sha, written: false });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('rewrites a stored bundle whose bytes were tampered with', async () => {
    const tampered = zipBundle({ ...entries(), 'Dockerrun.aws.json': encode('{"AWSEBDockerrunVersion":"1","Image":{"Name":"evil/miner"}}') });
    s3.on(GetObjectCommand, { Bucket: 'bundles', Key: key }).resolves(stored(tampered));
    const result = await storeBundle({ s3: new S3Client({}) }, input);
    expect(result.written).toBe(true);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({ Key: key, Body: zip });
  });

  it('rewrites a stored object that has no body', async () => {
    s3.on(GetObjectCommand).resolves({});
    await expect(storeBundle({ s3: new S3Client({}) }, input)).resolves.toMatchObject({ written: true });
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
  });

  it('lets other S3 errors through', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    await expect(storeBundle({ s3: new S3Client({}) }, input)).rejects.toThrow('Access Denied');
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});
