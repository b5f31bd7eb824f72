import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BatchCheckLayerAvailabilityCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  ECRClient,
  EmptyUploadException,
  GetAuthorizationTokenCommand,
  GetDownloadUrlForLayerCommand,
  InitiateLayerUploadCommand,
  InvalidLayerException,
  InvalidLayerPartException,
  LayerAlreadyExistsException,
  LayerInaccessibleException,
  LayersNotFoundException,
  UploadLayerPartCommand,
  UploadNotFoundException,
} from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../local/services/event-bus.ts';
import { type LocalAws, startLocalAws } from '../../local/server.ts';
import { writeOciLayout } from './oci-layout.ts';
import { installed } from '../tools.ts';

const run = promisify(execFile);
const hasAwsCli = installed('aws');
const hasSkopeo = installed('skopeo');
const ci = { accessKeyId: 'ci', secretAccessKey: 'ci-secret' };
const digestOf = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let aws: LocalAws;
let ecr: ECRClient;
let events: BusEvent[];
/** `Basic base64(AWS:<password>)`, from GetAuthorizationToken as ci. */
let basic: string;
/** `AWS:<password>`, what skopeo's --creds takes. */
let credentials: string;
let work: string;

beforeAll(async () => {
  aws = await startLocalAws({ port: 0 });
  ecr = new ECRClient({ endpoint: aws.endpoint, region: aws.region, credentials: ci, maxAttempts: 1 });
  for (const name of ['team/api', 'team/web', 'immutable']) await ecr.send(new CreateRepositoryCommand({ repositoryName: name, imageTagMutability: name === 'immutable' ? 'IMMUTABLE' : 'MUTABLE' }));
  events = [];
  aws.bus.addRule({ name: 'all-ecr', pattern: { source: ['aws.ecr'] }, target: async (event) => events.push(event) });
  const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;
  basic = `Basic ${token}`;
  credentials = Buffer.from(token, 'base64').toString('utf8');
  work = mkdtempSync(join(tmpdir(), 'greenlight-registry-'));
});

afterAll(async () => {
  ecr?.destroy();
  await aws?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  events.length = 0;
});

async function registry(path: string, init: RequestInit & { auth?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.auth !== null) headers.set('authorization', init.auth ?? basic);
  return fetch(`${aws.endpoint}${path}`, { ...init, headers, redirect: 'manual' });
}

async function errorsOf(response: Response): Promise<Array<{ code: string; message: string; detail?: unknown }>> {
  return ((await response.json()) as { errors: Array<{ code: string; message: string }> }).errors;
}

/** Uploads a blob in one POST ?digest= (monolithic). */
async function uploadBlob(repository: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const response = await registry(`/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  expect(response.status).toBe(201);
  return digest;
}

function imageManifest(config: string, layers: Array<{ digest: string; size: number }>, mediaType = 'application/vnd.oci.image.manifest.v1+json'): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
  });
}

describe('authentication', () => {
  it('challenges an anonymous /v2/ the way ECR does', async () => {
    const response = await registry('/v2/', { auth: null });
    expect(response.status).toBe(401);
    const host = new URL(aws.endpoint).host;
    expect(response.headers.get('www-authenticate')).toBe(`Basic realm="https://${host}/",service="ecr.amazonaws.com"`);
    expect(response.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect((await errorsOf(response))[0]!.code).toBe('UNAUTHORIZED');
  });

  it('accepts Basic AWS:<token> from GetAuthorizationToken, valid 12 hours, with the proxy endpoint', async () => {
    const before = Date.now();
    const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
    const data = authorizationData![0]!;
    expect(data.proxyEndpoint).toBe(aws.endpoint);
    expect(Buffer.from(data.authorizationToken!, 'base64').toString('utf8')).toMatch(/^AWS:.+/);
    expect(data.expiresAt!.getTime() - before).toBeGreaterThan(12 * 3600 * 1000 - 5_000);
    expect(data.expiresAt!.getTime() - before).toBeLessThanOrEqual(12 * 3600 * 1000 + 1_000);
    const response = await registry('/v2/', { auth: `Basic ${data.authorizationToken}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('refuses a forged password, another user name and an expired token', async () => {
    const forged = Buffer.from(`${credentials}x`).toString('base64');
    expect((await registry('/v2/', { auth: `Basic ${forged}` })).status).toBe(401);
    const otherUser = Buffer.from(credentials.replace(/^AWS:/, 'admin:')).toString('base64');
    expect((await registry('/v2/team/api/tags/list', { auth: `Basic ${otherUser}` })).status).toBe(401);
    const expired = aws.ecr.tokens.issue({ arn: 'arn:aws:iam::000000000000:user/old' }, Date.now() - 13 * 3600 * 1000);
    const response = await registry('/v2/', { auth: `Basic ${expired.authorizationToken}` });
    expect(response.status).toBe(403);
    expect((await errorsOf(response))[0]).toMatchObject({ code: 'DENIED', message: 'Your authorization token has expired. Reauthenticate and try again.' });
  });

  it.skipIf(!hasAwsCli)('gives the AWS CLI its password: aws ecr get-login-password', async () => {
    const { stdout } = await run('aws', ['ecr', 'get-login-password', '--endpoint-url', aws.endpoint, '--region', aws.region], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'ci', AWS_SECRET_ACCESS_KEY: 'ci-secret', AWS_PAGER: '' },
    });
    const password = stdout.trim();
    const response = await registry('/v2/', { auth: `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}` });
    expect(response.status).toBe(200);
  });
});

describe('blobs', () => {
  it('uploads monolithically and serves HEAD and GET with the digest', async () => {
    const bytes = Buffer.from('a monolithic layer');
    const digest = await uploadBlob('team/api', bytes);
    const head = await registry(`/v2/team/api/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect(head.headers.get('docker-content-digest')).toBe(digest);
    const get = await registry(`/v2/team/api/blobs/${digest}`);
    expect(Buffer.from(await get.arrayBuffer())).toEqual(bytes);
  });

  it('uploads in chunks (POST, PATCH, PATCH, PUT ?digest=) and reports the range received', async () => {
    const started = await registry('/v2/team/api/blobs/uploads/', { method: 'POST' });
    expect(started.status).toBe(202);
    const location = started.headers.get('location')!;
    expect(location).toMatch(/^\/v2\/team\/api\/blobs\/uploads\/[0-9a-f-]{36}$/);
    expect(started.headers.get('docker-upload-uuid')).toBe(location.split('/').at(-1));
    const first = await registry(location, { method: 'PATCH', body: 'chunk one, ', headers: { 'content-range': '0-10' } });
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe('0-10');
    const outOfOrder = await registry(location, { method: 'PATCH', body: 'again', headers: { 'content-range': '0-4' } });
    expect(outOfOrder.status).toBe(416);
    expect((await errorsOf(outOfOrder))[0]!.code).toBe('BLOB_UPLOAD_INVALID');
    await registry(location, { method: 'PATCH', body: 'chunk two' });
    const status = await registry(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-19');
    const digest = digestOf('chunk one, chunk two');
    const done = await registry(`${location}?digest=${digest}`, { method: 'PUT' });
    expect(done.status).toBe(201);
    expect(done.headers.get('location')).toBe(`/v2/team/api/blobs/${digest}`);
    expect(done.headers.get('docker-content-digest')).toBe(digest);
    expect(await (await registry(`/v2/team/api/blobs/${digest}`)).text()).toBe('chunk one, chunk two');
    expect((await registry(location)).status).toBe(404);
  });

  it('refuses bytes that do not have the digest claimed (DIGEST_INVALID) and keeps nothing', async () => {
    const wrong = digestOf('something else');
    const response = await registry(`/v2/team/api/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: 'these bytes' });
    expect(response.status).toBe(400);
    expect((await errorsOf(response))[0]).toMatchObject({ code: 'DIGEST_INVALID' });
    expect((await registry(`/v2/team/api/blobs/${wrong}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('answers BLOB_UNKNOWN, BLOB_UPLOAD_UNKNOWN, NAME_UNKNOWN and NAME_INVALID in the registry error format', async () => {
    const missing = await registry(`/v2/team/api/blobs/${digestOf('never uploaded')}`);
    expect(missing.status).toBe(404);
    expect((await errorsOf(missing))[0]).toMatchObject({ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' });
    const upload = await registry('/v2/team/api/blobs/uploads/00000000-0000-0000-0000-000000000000', { method: 'PATCH', body: 'x' });
    expect(upload.status).toBe(404);
    expect((await errorsOf(upload))[0]!.code).toBe('BLOB_UPLOAD_UNKNOWN');
    const unknown = await registry('/v2/nobody/here/tags/list');
    expect(unknown.status).toBe(404);
    expect((await errorsOf(unknown))[0]).toMatchObject({ code: 'NAME_UNKNOWN', message: "The repository with name 'nobody/here' does not exist in the registry with id '000000000000'" });
    const invalid = await registry('/v2/Upper_Case/tags/list');
    expect(invalid.status).toBe(400);
    expect((await errorsOf(invalid))[0]!.code).toBe('NAME_INVALID');
  });

  it('mounts a blob from another repository, and starts an upload when the source lacks it', async () => {
    const digest = await uploadBlob('team/api', Buffer.from('shared base layer'));
    expect((await registry(`/v2/team/web/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    const mounted = await registry(`/v2/team/web/blobs/uploads/?mount=${digest}&from=team/api`, { method: 'POST' });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('docker-content-digest')).toBe(digest);
    expect((await registry(`/v2/team/web/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);
    const fallback = await registry(`/v2/team/web/blobs/uploads/?mount=${digestOf('not anywhere')}&from=team/api`, { method: 'POST' });
    expect(fallback.status).toBe(202);
    expect(fallback.headers.get('location')).toMatch(/\/blobs\/uploads\//);
  });
});

describe('manifests', () => {
  it('stores a manifest under the sha256 of the bytes sent, serves it by tag and digest, and announces the push as PutImage does', async () => {
    const config = await uploadBlob('team/api', Buffer.from('{}'));
    const layerBytes = Buffer.from('layer of v1');
    const layer = await uploadBlob('team/api', layerBytes);
    // Unusual whitespace: the digest must be of these exact bytes, not of a re-serialisation.
    const manifest = imageManifest(config, [{ digest: layer, size: layerBytes.length }]).replace('{', '{\n  ');
    const put = await registry('/v2/team/api/manifests/v1.0.0', { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    expect(put.status).toBe(201);
    const digest = digestOf(manifest);
    expect(put.headers.get('docker-content-digest')).toBe(digest);
    expect(put.headers.get('location')).toBe(`/v2/team/api/manifests/${digest}`);

    for (const reference of ['v1.0.0', digest]) {
      const got = await registry(`/v2/team/api/manifests/${reference}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(got.headers.get('docker-content-digest')).toBe(digest);
      expect(await got.text()).toBe(manifest);
    }
    const head = await registry('/v2/team/api/manifests/v1.0.0', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(manifest)));

    await aws.bus.settle();
    const push = events.find((e) => e['detail-type'] === 'ECR Image Action');
    expect(push?.detail).toEqual({ result: 'SUCCESS', 'action-type': 'PUSH', 'repository-name': 'team/api', 'image-digest': digest, 'image-tag': 'v1.0.0' });
    const call = events.find((e) => e['detail-type'] === 'AWS API Call via CloudTrail');
    expect(call?.detail).toMatchObject({ eventName: 'PutImage', userIdentity: { arn: 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci', accessKeyId: 'ci' } });
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'team/api', imageIds: [{ imageTag: 'v1.0.0' }] }));
    expect(described.imageDetails?.[0]).toMatchObject({ imageDigest: digest, imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json', imageSizeInBytes: layerBytes.length });
  });

  it('takes the same manifest under the same tag again without a second push event', async () => {
    const config = await uploadBlob('team/api', Buffer.from('{"again":1}'));
    const manifest = imageManifest(config, []);
    const headers = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
    expect((await registry('/v2/team/api/manifests/again', { method: 'PUT', body: manifest, headers })).status).toBe(201);
    expect((await registry('/v2/team/api/manifests/again', { method: 'PUT', body: manifest, headers })).status).toBe(201);
    expect((await registry('/v2/team/api/manifests/again-too', { method: 'PUT', body: manifest, headers })).status).toBe(201);
    await aws.bus.settle();
    expect(events.filter((e) => e['detail-type'] === 'ECR Image Action').map((e) => e.detail['image-tag'])).toEqual(['again', 'again-too']);
  });

  it('accepts a Docker v2 manifest and an OCI index of manifests pushed by digest', async () => {
    const config = await uploadBlob('team/web', Buffer.from('{"docker":true}'));
    const docker = imageManifest(config, [], 'application/vnd.docker.distribution.manifest.v2+json');
    const childDigest = digestOf(docker);
    const byDigest = await registry(`/v2/team/web/manifests/${childDigest}`, { method: 'PUT', body: docker, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' } });
    expect(byDigest.status).toBe(201);
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: childDigest, size: docker.length, platform: { architecture: 'amd64', os: 'linux' } }],
    });
    const put = await registry('/v2/team/web/manifests/multi', { method: 'PUT', body: index, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
    expect(put.status).toBe(201);
    const got = await registry('/v2/team/web/manifests/multi');
    expect(got.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
    expect(got.headers.get('docker-content-digest')).toBe(digestOf(index));
    await aws.bus.settle();
    expect(events.filter((e) => e['detail-type'] === 'ECR Image Action').map((e) => e.detail['image-tag'] ?? null)).toEqual([null, 'multi']);
  });

  it('refuses manifests naming blobs the repository lacks, a digest reference that differs, and broken JSON', async () => {
    const layer = digestOf('a layer nobody uploaded');
    const config = await uploadBlob('team/api', Buffer.from('{"c":2}'));
    const missing = await registry('/v2/team/api/manifests/broken', { method: 'PUT', body: imageManifest(config, [{ digest: layer, size: 3 }]) });
    expect(missing.status).toBe(400);
    expect((await errorsOf(missing))[0]).toMatchObject({ code: 'MANIFEST_BLOB_UNKNOWN', detail: { digest: layer } });
    const manifest = imageManifest(config, []);
    const otherDigest = await registry(`/v2/team/api/manifests/${digestOf('another manifest')}`, { method: 'PUT', body: manifest });
    expect((await errorsOf(otherDigest))[0]!.code).toBe('DIGEST_INVALID');
    const notJson = await registry('/v2/team/api/manifests/broken', { method: 'PUT', body: '{not json' });
    expect((await errorsOf(notJson))[0]!.code).toBe('MANIFEST_INVALID');
    const unknown = await registry('/v2/team/api/manifests/never-pushed');
    expect(unknown.status).toBe(404);
    expect((await errorsOf(unknown))[0]!.code).toBe('MANIFEST_UNKNOWN');
    await aws.bus.settle();
    expect(events).toEqual([]);
  });

  it('refuses to move a tag of an immutable repository with TAG_INVALID', async () => {
    const headers = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
    for (const [i, expected] of [
      [1, 201],
      [2, 400],
    ] as const) {
      const config = await uploadBlob('immutable', Buffer.from(`{"i":${i}}`));
      const response = await registry('/v2/immutable/manifests/v1', { method: 'PUT', body: imageManifest(config, []), headers });
      expect(response.status).toBe(expected);
      if (expected === 400) expect((await errorsOf(response))[0]!.code).toBe('TAG_INVALID');
    }
  });

  it('lists tags, sorted, in pages with a Link header', async () => {
    const config = await uploadBlob('team/web', Buffer.from('{"tags":1}'));
    for (const tag of ['b', 'a', 'c']) await registry(`/v2/team/web/manifests/${tag}`, { method: 'PUT', body: imageManifest(config, []) });
    const all = (await (await registry('/v2/team/web/tags/list')).json()) as { name: string; tags: string[] };
    expect(all.name).toBe('team/web');
    expect(all.tags).toEqual(expect.arrayContaining(['a', 'b', 'c', 'multi']));
    expect(all.tags).toEqual([...all.tags].sort());
    const page = await registry('/v2/team/web/tags/list?n=2');
    expect(((await page.json()) as { tags: string[] }).tags).toEqual(['a', 'b']);
    expect(page.headers.get('link')).toBe('</v2/team/web/tags/list?n=2&last=b>; rel="next"');
  });
});

describe('the ECR layer API', () => {
  it('uploads a layer in parts, checks it, and hands out a download URL that serves it', async () => {
    const bytes = Buffer.from('0123456789abcdefghij');
    const digest = digestOf(bytes);
    const { uploadId, partSize } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'team/api' }));
    expect(partSize).toBe(10 * 1024 * 1024);
    const first = await ecr.send(new UploadLayerPartCommand({ repositoryName: 'team/api', uploadId, partFirstByte: 0, partLastByte: 9, layerPartBlob: bytes.subarray(0, 10) }));
    expect(first.lastByteReceived).toBe(9);
    await expect(ecr.send(new UploadLayerPartCommand({ repositoryName: 'team/api', uploadId, partFirstByte: 0, partLastByte: 9, layerPartBlob: bytes.subarray(0, 10) }))).rejects.toBeInstanceOf(InvalidLayerPartException);
    await ecr.send(new UploadLayerPartCommand({ repositoryName: 'team/api', uploadId, partFirstByte: 10, partLastByte: 19, layerPartBlob: bytes.subarray(10) }));
    const completed = await ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'team/api', uploadId, layerDigests: [digest] }));
    expect(completed).toMatchObject({ layerDigest: digest, repositoryName: 'team/api', registryId: '000000000000', uploadId });

    const checked = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'team/api', layerDigests: [digest, digestOf('absent'), 'not-a-digest'] }));
    expect(checked.layers).toEqual([{ layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: 20, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }]);
    expect(checked.failures?.map((f) => f.failureCode)).toEqual(['MissingLayerDigest', 'InvalidLayerDigest']);
    // The registry API sees the same blob.
    expect((await registry(`/v2/team/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);

    // A layer no image refers to is inaccessible; once a manifest names it, it can be downloaded.
    await expect(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'team/api', layerDigest: digest }))).rejects.toBeInstanceOf(LayerInaccessibleException);
    const config = await uploadBlob('team/api', Buffer.from('{"layer-api":1}'));
    await registry('/v2/team/api/manifests/layer-api', { method: 'PUT', body: imageManifest(config, [{ digest, size: 20 }]) });
    const { downloadUrl } = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'team/api', layerDigest: digest }));
    const download = await fetch(downloadUrl!);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(bytes);
    expect((await fetch(downloadUrl!.replace('signature=', 'signature=x'))).status).toBe(403);
    await expect(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'team/web', layerDigest: digest }))).rejects.toBeInstanceOf(LayersNotFoundException);
  });

  it('answers ECR exceptions for a wrong digest, an empty upload, an unknown upload and an existing layer', async () => {
    const start = async () => (await ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'team/web' }))).uploadId!;
    const empty = await start();
    await expect(ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'team/web', uploadId: empty, layerDigests: [digestOf('')] }))).rejects.toBeInstanceOf(EmptyUploadException);
    const wrong = await start();
    await ecr.send(new UploadLayerPartCommand({ repositoryName: 'team/web', uploadId: wrong, partFirstByte: 0, partLastByte: 2, layerPartBlob: Buffer.from('abc') }));
    await expect(ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'team/web', uploadId: wrong, layerDigests: [digestOf('abd')] }))).rejects.toBeInstanceOf(InvalidLayerException);
    await expect(ecr.send(new UploadLayerPartCommand({ repositoryName: 'team/web', uploadId: 'no-such-upload', partFirstByte: 0, partLastByte: 0, layerPartBlob: Buffer.from('a') }))).rejects.toBeInstanceOf(
      UploadNotFoundException,
    );
    const twice = await start();
    await ecr.send(new UploadLayerPartCommand({ repositoryName: 'team/web', uploadId: twice, partFirstByte: 0, partLastByte: 2, layerPartBlob: Buffer.from('abc') }));
    await ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'team/web', uploadId: twice, layerDigests: [digestOf('abc')] }));
    const again = await start();
    await ecr.send(new UploadLayerPartCommand({ repositoryName: 'team/web', uploadId: again, partFirstByte: 0, partLastByte: 2, layerPartBlob: Buffer.from('abc') }));
    await expect(ecr.send(new CompleteLayerUploadCommand({ repositoryName: 'team/web', uploadId: again, layerDigests: [digestOf('abc')] }))).rejects.toBeInstanceOf(LayerAlreadyExistsException);
  });
});

describe('a registry client nobody here wrote', () => {
  it.skipIf(!hasSkopeo)('skopeo pushes an OCI image and pulls it back byte for byte', async () => {
    const image = writeOciLayout(join(work, 'push'), 'v2.0.0', 'skopeo-local');
    const host = new URL(aws.endpoint).host;
    await run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', credentials, `oci:${image.dir}:${image.tag}`, `docker://${host}/team/api:${image.tag}`], { timeout: 60_000 });
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'team/api', imageIds: [{ imageTag: 'v2.0.0' }] }));
    expect(described.imageDetails?.[0]?.imageDigest).toBe(image.manifestDigest);
    await aws.bus.settle();
    expect(events.find((e) => e['detail-type'] === 'ECR Image Action')?.detail).toMatchObject({ 'image-digest': image.manifestDigest, 'image-tag': 'v2.0.0' });

    const back = join(work, 'pulled');
    await run('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', credentials, `docker://${host}/team/api:${image.tag}`, `oci:${back}:copy`], { timeout: 60_000 });
    const blob = (digest: string) => readFileSync(join(back, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    expect(blob(image.manifestDigest)).toEqual(image.manifest);
    expect(blob(image.layerDigest)).toEqual(image.layer);
  });
});
