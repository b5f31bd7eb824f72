import type { LocalRequest, LocalResponse } from '../protocol/types.ts';
import { AwsServiceError } from '../protocol/types.ts';
import type { RegistryCaller } from './ecr-auth.ts';
import { blobDigest, maxLayerBytes, SHA256_DIGEST } from './ecr-layers.ts';
import { IMAGE_TAG, type LocalEcr, REPOSITORY_NAME } from './ecr.ts';

/** The manifest media types ECR stores: Docker v2 schema 2 and OCI, images and indexes. */
export const MANIFEST_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;
const manifestTypes = new Set<string>(Object.values(MANIFEST_TYPES));
const indexTypes = new Set<string>([MANIFEST_TYPES.dockerList, MANIFEST_TYPES.ociIndex]);

/** ECR's limit on a manifest's size. */
const maxManifestBytes = 4 * 1024 * 1024;

/** One error of the registry's JSON error format (`{"errors":[{code,message,detail}]}`), with its HTTP status. */
export class RegistryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = code;
  }
}

const blobUnknown = (digest: string) => new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', 404, { digest });
const digestInvalid = (message: string, digest?: string) => new RegistryError('DIGEST_INVALID', message, 400, digest === undefined ? undefined : { digest });
const unsupported = () => new RegistryError('UNSUPPORTED', 'The operation is unsupported.', 405);

const baseHeaders = { 'docker-distribution-api-version': 'registry/2.0' };

function errorResponse(error: RegistryError, extra: Record<string, string> = {}): LocalResponse {
  const entry = { code: error.code, message: error.message, ...(error.detail === undefined ? {} : { detail: error.detail }) };
  return { status: error.status, headers: { ...baseHeaders, 'content-type': 'application/json; charset=utf-8', ...extra }, body: JSON.stringify({ errors: [entry] }) };
}

function empty(status: number, headers: Record<string, string>): LocalResponse {
  return { status, headers: { ...baseHeaders, 'content-length': '0', ...headers }, body: '' };
}

type Route =
  | { kind: 'base' }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'tags'; name: string }
  | { kind: 'catalog' };

/** Splits a `/v2/…` path into the route and its repository name (names may hold slashes). */
function route(path: string): Route | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  const patterns: Array<[RegExp, (m: string[]) => Route]> = [
    [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
    [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, id: m[2]! })],
    [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
    [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
    [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  ];
  for (const [pattern, make] of patterns) {
    const match = pattern.exec(path);
    if (match) return make(match.map((part) => decodeURIComponent(part)));
  }
  return undefined;
}

/** The digests an image manifest or an index refers to, checked before the manifest is stored. */
function references(parsed: Record<string, unknown>, mediaType: string): { blobs: string[]; manifests: string[] } {
  const digestOf = (entry: unknown, field: string): string => {
    const digest = (entry as { digest?: unknown } | undefined)?.digest;
    if (typeof digest !== 'string' || !SHA256_DIGEST.test(digest)) throw new RegistryError('MANIFEST_INVALID', `manifest invalid: ${field} has no valid digest`, 400);
    return digest;
  };
  if (indexTypes.has(mediaType)) {
    if (!Array.isArray(parsed.manifests)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: an index needs a manifests list', 400);
    return { blobs: [], manifests: parsed.manifests.map((entry, i) => digestOf(entry, `manifests[${i}]`)) };
  }
  if (!Array.isArray(parsed.layers)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: an image manifest needs a layers list', 400);
  // Foreign layers (with `urls`) live elsewhere, as registries allow.
  const layers = parsed.layers.filter((layer) => !Array.isArray((layer as { urls?: unknown })?.urls));
  return { blobs: [digestOf(parsed.config, 'config'), ...layers.map((layer, i) => digestOf(layer, `layers[${i}]`))], manifests: [] };
}

/**
 * The Docker Registry HTTP API v2 (OCI distribution spec) of the local ECR, on the endpoint's port:
 * ECR's Basic auth challenge and tokens, blobs (HEAD/GET, monolithic and chunked uploads,
 * cross-repository mount), manifests by tag and digest (Docker v2 and OCI, images and indexes), tags
 * list, and the registry's JSON errors. A manifest push is a PutImage: same digest, push event and
 * CloudTrail record. Also serves the URLs GetDownloadUrlForLayer hands out (`/_ecr-layer/…`).
 */
export class LocalRegistry {
  constructor(private readonly ecr: LocalEcr) {}

  async handle(request: LocalRequest): Promise<LocalResponse> {
    try {
      if (request.path.startsWith('/_ecr-layer/')) return this.download(request);
      return this.serve(request);
    } catch (error) {
      if (error instanceof RegistryError) return errorResponse(error);
      if (error instanceof AwsServiceError && error.code === 'ThrottlingException') return errorResponse(new RegistryError('TOOMANYREQUESTS', 'Rate exceeded', 429));
      throw error;
    }
  }

  private download(request: LocalRequest): LocalResponse {
    const digest = decodeURIComponent(request.path.slice('/_ecr-layer/'.length));
    const bytes = request.method === 'GET' || request.method === 'HEAD' ? this.ecr.download(digest, request.query) : undefined;
    // What S3 answers a presigned URL that expired or was altered.
    if (!bytes) return { status: 403, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired or the signature does not match</Message></Error>' };
    return { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), etag: `"${digest}"` }, body: request.method === 'HEAD' ? '' : bytes };
  }

  private serve(request: LocalRequest): LocalResponse {
    const host = String(request.headers.host ?? '127.0.0.1');
    const check = this.ecr.tokens.verify(request.headers.authorization);
    if (!check.ok) {
      const challenge = { 'www-authenticate': `Basic realm="https://${host}/",service="ecr.amazonaws.com"` };
      if (check.reason === 'expired') return errorResponse(new RegistryError('DENIED', 'Your authorization token has expired. Reauthenticate and try again.', 403));
      return errorResponse(new RegistryError('UNAUTHORIZED', 'authentication required', 401), challenge);
    }
    let target: Route | undefined;
    try {
      target = route(request.path);
    } catch {
      throw new RegistryError('NAME_INVALID', 'invalid repository name', 400);
    }
    if (!target) throw new RegistryError('NAME_INVALID', 'invalid repository name', 400);
    if (target.kind === 'base') return { status: 200, headers: { ...baseHeaders, 'content-type': 'application/json; charset=utf-8' }, body: '{}' };
    // ECR has no catalog: listing repositories is DescribeRepositories.
    if (target.kind === 'catalog') throw unsupported();
    const { name } = target;
    if (name.length < 2 || name.length > 256 || !REPOSITORY_NAME.test(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', 400, { name });
    if (!this.ecr.hasRepository(name)) throw new RegistryError('NAME_UNKNOWN', this.ecr.repositoryNotFound(name), 404, { name });
    switch (target.kind) {
      case 'uploads':
        if (request.method !== 'POST') throw unsupported();
        return this.startUpload(name, request);
      case 'upload':
        return this.continueUpload(name, target.id, request);
      case 'blob':
        return this.blob(name, target.digest, request);
      case 'manifest':
        return this.manifest(name, target.reference, request, check.caller);
      case 'tags':
        if (request.method !== 'GET') throw unsupported();
        return this.tags(name, request);
    }
  }

  private blob(name: string, digest: string, request: LocalRequest): LocalResponse {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw unsupported();
    if (!SHA256_DIGEST.test(digest)) throw digestInvalid('provided digest did not match uploaded content', digest);
    const bytes = this.ecr.layers.get(name, digest);
    if (!bytes) throw blobUnknown(digest);
    const headers = { ...baseHeaders, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'docker-content-digest': digest };
    return { status: 200, headers, body: request.method === 'HEAD' ? '' : bytes };
  }

  private created(name: string, digest: string): LocalResponse {
    return empty(201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
  }

  private uploadState(name: string, id: string, size: number, status: number): LocalResponse {
    return empty(status, { location: `/v2/${name}/blobs/uploads/${id}`, 'docker-upload-uuid': id, range: `0-${Math.max(0, size - 1)}` });
  }

  private startUpload(name: string, request: LocalRequest): LocalResponse {
    const mount = request.query.get('mount');
    const from = request.query.get('from');
    if (mount !== null && from !== null && SHA256_DIGEST.test(mount) && this.ecr.layers.mount(name, from, mount)) return this.created(name, mount);
    const digest = request.query.get('digest');
    if (digest !== null) {
      // A monolithic upload: the whole blob in the POST.
      if (!SHA256_DIGEST.test(digest)) throw digestInvalid('invalid digest', digest);
      if (blobDigest(request.body) !== digest) throw digestInvalid('provided digest did not match uploaded content', digest);
      this.ecr.layers.put(name, request.body);
      return this.created(name, digest);
    }
    const upload = this.ecr.layers.startUpload(name);
    return this.uploadState(name, upload.id, 0, 202);
  }

  private continueUpload(name: string, id: string, request: LocalRequest): LocalResponse {
    const upload = this.ecr.layers.upload(name, id);
    if (!upload) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', 404, { uuid: id });
    if (upload.size + request.body.length > maxLayerBytes) {
      this.ecr.layers.cancel(id);
      throw new RegistryError('SIZE_INVALID', `blob larger than the ${maxLayerBytes} bytes the local registry keeps`, 413, { limit: maxLayerBytes });
    }
    switch (request.method) {
      case 'GET':
        return this.uploadState(name, id, upload.size, 204);
      case 'DELETE':
        this.ecr.layers.cancel(id);
        return empty(204, {});
      case 'PATCH': {
        const range = request.headers['content-range'];
        if (range !== undefined) {
          const match = /^(\d+)-(\d+)$/.exec(String(range).replace(/^bytes[ =]/, ''));
          if (!match || Number(match[1]) !== upload.size || Number(match[2]) - Number(match[1]) + 1 !== request.body.length) {
            return errorResponse(new RegistryError('BLOB_UPLOAD_INVALID', 'blob upload invalid: the chunk does not continue the upload', 416), { location: `/v2/${name}/blobs/uploads/${id}`, range: `0-${Math.max(0, upload.size - 1)}` });
          }
        }
        this.ecr.layers.append(upload, request.body);
        return this.uploadState(name, id, upload.size, 202);
      }
      case 'PUT': {
        const digest = request.query.get('digest');
        if (digest === null || !SHA256_DIGEST.test(digest)) throw digestInvalid('invalid digest', digest ?? undefined);
        this.ecr.layers.append(upload, request.body);
        const result = this.ecr.layers.complete(upload, digest);
        if (!result.ok) throw digestInvalid('provided digest did not match uploaded content', digest);
        return this.created(name, digest);
      }
      default:
        throw unsupported();
    }
  }

  private manifest(name: string, reference: string, request: LocalRequest, caller: RegistryCaller): LocalResponse {
    const byDigest = reference.includes(':');
    if (byDigest ? !SHA256_DIGEST.test(reference) : !IMAGE_TAG.test(reference)) {
      throw byDigest ? digestInvalid('invalid digest', reference) : new RegistryError('TAG_INVALID', 'manifest tag did not match URI', 400, { tag: reference });
    }
    if (request.method === 'PUT') return this.putManifest(name, reference, byDigest, request, caller);
    if (request.method !== 'GET' && request.method !== 'HEAD') throw unsupported();
    this.ecr.throttleRead();
    const image = this.ecr.findImage(name, reference);
    if (!image) throw new RegistryError('MANIFEST_UNKNOWN', `Requested image not found`, 404, byDigest ? { digest: reference } : { tag: reference });
    const body = Buffer.from(image.manifest, 'utf8');
    const headers = { ...baseHeaders, 'content-type': image.mediaType, 'content-length': String(body.length), 'docker-content-digest': image.digest };
    return { status: 200, headers, body: request.method === 'HEAD' ? '' : body };
  }

  private putManifest(name: string, reference: string, byDigest: boolean, request: LocalRequest, caller: RegistryCaller): LocalResponse {
    if (request.body.length > maxManifestBytes) throw new RegistryError('MANIFEST_INVALID', `manifest invalid: larger than ${maxManifestBytes} bytes`, 400);
    const manifest = request.body.toString('utf8');
    // The digest is of the bytes as sent: a body that is not UTF-8 would not survive being stored as text.
    if (!Buffer.from(manifest, 'utf8').equals(request.body)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: not UTF-8', 400);
    let parsed: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(manifest);
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
      parsed = value as Record<string, unknown>;
    } catch {
      throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: not a JSON object', 400);
    }
    if (parsed.schemaVersion !== 2) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: schemaVersion must be 2 (schema 1 is not supported)', 400);
    const contentType = String(request.headers['content-type'] ?? '').split(';')[0]!.trim();
    const declared = typeof parsed.mediaType === 'string' ? parsed.mediaType : undefined;
    const mediaType = declared ?? (contentType || (Array.isArray(parsed.manifests) ? MANIFEST_TYPES.ociIndex : MANIFEST_TYPES.ociManifest));
    if (!manifestTypes.has(mediaType)) throw new RegistryError('MANIFEST_INVALID', `manifest invalid: unsupported media type ${mediaType}`, 400);
    if (declared && contentType && contentType !== declared && manifestTypes.has(contentType)) {
      throw new RegistryError('MANIFEST_INVALID', `manifest invalid: Content-Type ${contentType} differs from the manifest's mediaType ${declared}`, 400);
    }
    const digest = blobDigest(request.body);
    if (byDigest && reference !== digest) throw digestInvalid('provided digest did not match uploaded content', reference);
    const { blobs, manifests } = references(parsed, mediaType);
    for (const blob of blobs) if (!this.ecr.layers.has(name, blob)) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', 400, { digest: blob });
    for (const child of manifests) if (!this.ecr.findImage(name, child)) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest unknown to registry', 400, { digest: child });
    try {
      this.ecr.pushManifest(name, manifest, { ...(byDigest ? {} : { tag: reference }), mediaType }, caller, request.requestId);
    } catch (error) {
      if (error instanceof AwsServiceError && error.code === 'ImageTagAlreadyExistsException') throw new RegistryError('TAG_INVALID', `tag invalid: ${error.message}`, 400, { tag: reference });
      if (error instanceof AwsServiceError) throw new RegistryError('MANIFEST_INVALID', `manifest invalid: ${error.message}`, 400);
      throw error;
    }
    return empty(201, { location: `/v2/${name}/manifests/${digest}`, 'docker-content-digest': digest });
  }

  private tags(name: string, request: LocalRequest): LocalResponse {
    this.ecr.throttleRead();
    let tags = this.ecr.tagsOf(name);
    const last = request.query.get('last');
    if (last !== null) tags = tags.filter((tag) => tag > last);
    const n = request.query.get('n');
    let link: Record<string, string> = {};
    if (n !== null) {
      const count = Number(n);
      if (!Number.isInteger(count) || count < 0 || count > 1000) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', 400, { n });
      if (tags.length > count) {
        tags = tags.slice(0, count);
        link = { link: `</v2/${name}/tags/list?${new URLSearchParams({ n: String(count), last: tags.at(-1) ?? '' })}>; rel="next"` };
      }
    }
    return { status: 200, headers: { ...baseHeaders, 'content-type': 'application/json; charset=utf-8', ...link }, body: JSON.stringify({ name, tags }) };
  }
}
