import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { XMLBuilder } from 'fast-xml-parser';
import S3rver from 's3rver';

/** The part of s3rver's filesystem store the endpoint reads directly. */
interface S3rverStore {
  getBucket(bucket: string): Promise<unknown>;
  putBucket(bucket: string): Promise<unknown>;
  getMetadata(bucket: string, key: string): Promise<{ etag: string }>;
  getObject(bucket: string, key: string): Promise<{ content: AsyncIterable<Uint8Array> } | null>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

/** One object a request addresses, resolved the way s3rver resolves it (path style or virtual host). */
export interface ObjectAddress {
  bucket: string;
  key: string;
}

/** A conditional request that must not reach s3rver, with what S3 answers instead. */
interface ConditionFailure {
  status: 304 | 404 | 412;
  code?: 'PreconditionFailed' | 'NoSuchKey';
  condition?: 'If-Match' | 'If-None-Match';
}

/**
 * S3 on the shared endpoint, served by s3rver (path-style).
 *
 * The endpoint reads the body first so it can undo `aws-chunked` framing, which current SDKs and the
 * AWS CLI use for streamed uploads and s3rver does not understand; clients then need no special settings.
 * It also answers `If-Match` / `If-None-Match` itself (s3rver ignores them on PUT), checking and writing
 * under a per-key lock so that of N racing conditional writes exactly one wins, as on AWS.
 */
export class LocalS3 {
  private readonly directory: string;
  private readonly server: S3rver;
  private readonly store: S3rverStore;
  private readonly callback: (req: IncomingMessage, res: ServerResponse) => void;
  private readonly locks = new KeyedLock();

  /** Whether close() removes the folder: only a temporary one this made itself (never a `--data` folder). */
  private readonly temporary: boolean;

  constructor(directory?: string) {
    this.temporary = directory === undefined;
    this.directory = directory ?? mkdtempSync(join(tmpdir(), 'greenlight-s3-'));
    this.server = new S3rver({ silent: true, directory: this.directory, allowMismatchedSignatures: true });
    this.store = (this.server as any).store as S3rverStore;
    this.callback = this.server.callback();
  }

  /** Hands one request to s3rver, with the body already read (and de-chunked) and its preconditions checked. */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const method = req.method ?? 'GET';
    const { headers, payload } = normalised(req, body);
    const url = new URL(req.url ?? '/', 'http://local');
    const address = objectAddress(String(req.headers.host ?? ''), url.pathname);
    const forward = () => this.forward(req, res, headers, payload);
    let work: Promise<void>;
    if (address && mutatesObject(method, url.searchParams)) {
      // Deletes and unconditional writes take the lock too: a condition must hold until its own write completes.
      const conditional = isObjectWrite(method, url.searchParams);
      work = this.locks.run(`${address.bucket}/${address.key}`, () => (conditional ? this.conditional(address, method, headers, res, forward) : forward()));
    } else if (address && isObjectRead(method, url.searchParams)) {
      // s3rver writes a file in place: a read under the same lock never sees half an object (S3 reads are atomic).
      work = this.locks.run(`${address.bucket}/${address.key}`, () => this.conditional(address, method, headers, res, forward), 'read');
    } else {
      work = forward();
    }
    work.catch((error: unknown) => {
      if (!res.headersSent) answer(res, method, { status: 500, code: 'InternalError', message: `The local endpoint failed: ${(error as Error).message}` });
    });
  }

  /** Reads an object straight from the store (for the local Elastic Beanstalk, which fetches bundles). */
  async readObject(bucket: string, key: string): Promise<Buffer | undefined> {
    try {
      const object = await this.store.getObject(bucket, key);
      if (!object) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of object.content) chunks.push(Buffer.from(chunk));
      return Buffer.concat(chunks);
    } catch {
      return undefined;
    }
  }

  /** Deletes an object straight from the store, under its key's lock (for the EB version lifecycle's DeleteSourceFromS3). */
  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.locks.run(`${bucket}/${key}`, () => this.store.deleteObject(bucket, key));
  }

  /** Creates a bucket without going through the API (used when seeding the local stack). */
  async createBucket(name: string): Promise<void> {
    if (!(await this.store.getBucket(name))) await this.store.putBucket(name);
  }

  close(): void {
    if (this.temporary) rmSync(this.directory, { recursive: true, force: true });
  }

  /** Answers a failed precondition itself, or hands the request on without the headers it has evaluated. */
  private async conditional(address: ObjectAddress, method: string, headers: IncomingHttpHeaders, res: ServerResponse, forward: () => Promise<void>): Promise<void> {
    const ifMatch = headers['if-match'];
    const ifNoneMatch = headers['if-none-match'];
    if (ifMatch === undefined && ifNoneMatch === undefined) return forward();
    // A missing bucket is s3rver's to answer (NoSuchBucket), conditions or not.
    if (!(await this.store.getBucket(address.bucket))) return forward();
    const kind = method === 'GET' || method === 'HEAD' ? 'read' : 'write';
    const failure = preconditionFailure({ ifMatch, ifNoneMatch }, await this.currentEtag(address), kind);
    if (failure) {
      answer(res, method, { ...failure, key: address.key });
      return;
    }
    // s3rver compares If-None-Match on GET without normalising quotes; the answer is already known.
    delete headers['if-match'];
    delete headers['if-none-match'];
    return forward();
  }

  private async currentEtag(address: ObjectAddress): Promise<string | undefined> {
    try {
      return (await this.store.getMetadata(address.bucket, address.key)).etag;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Replays the request into s3rver; resolves once the response is written, so a lock covers the whole write. */
  private forward(req: IncomingMessage, res: ServerResponse, headers: IncomingHttpHeaders, payload: Buffer): Promise<void> {
    const finished = new Promise<void>((resolve) => {
      res.once('finish', resolve);
      res.once('close', resolve);
    });
    const replay = Object.assign(Readable.from(payload.length > 0 ? [payload] : []), {
      headers,
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      httpVersionMajor: req.httpVersionMajor,
      httpVersionMinor: req.httpVersionMinor,
      socket: req.socket,
      connection: req.socket,
      rawHeaders: req.rawHeaders,
    });
    this.callback(replay as unknown as IncomingMessage, res);
    return finished;
  }
}

/** The headers and body s3rver understands: aws-chunked framing removed, the signature dropped. */
function normalised(req: IncomingMessage, body: Buffer): { headers: IncomingHttpHeaders; payload: Buffer } {
  const headers = { ...req.headers };
  let payload = body;
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  const encoding = String(headers['content-encoding'] ?? '');
  if (sha.startsWith('STREAMING-') || encoding.includes('aws-chunked')) {
    payload = decodeAwsChunked(body);
    const rest = encoding.split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked');
    if (rest.length > 0) headers['content-encoding'] = rest.join(',');
    else delete headers['content-encoding'];
    delete headers['x-amz-decoded-content-length'];
    delete headers['x-amz-trailer'];
  }
  // s3rver knows only its own keys and does not check SigV4 anyway: serve every caller as its account.
  delete headers.authorization;
  headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  if (req.method !== 'GET' && req.method !== 'HEAD') headers['content-length'] = String(payload.length);
  return { headers, payload };
}

/**
 * The bucket and key of an object request, found as s3rver finds them: `<bucket>.s3….amazonaws.com` and
 * any host name that is not an IP address or localhost name the bucket; otherwise the first path segment does.
 */
export function objectAddress(host: string, pathname: string): ObjectAddress | undefined {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':')[0]!;
  let path = pathname;
  const service = /^(?:(.+)\.)?s3(?:-website)?(?:[-.].+)?\.amazonaws\.com$/.exec(name);
  if (service) {
    if (service[1]) path = `/${service[1]}${path}`;
  } else if (name && !isIP(name) && name !== 'localhost' && name !== hostname()) {
    path = `/${name}${path}`;
  }
  const match = /^\/([^/]+)\/(.+)$/.exec(path);
  if (!match) return undefined;
  return { bucket: decoded(match[1]!), key: decoded(match[2]!) };
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** PutObject, CopyObject and CompleteMultipartUpload: the writes S3 evaluates If-Match / If-None-Match on. */
function isObjectWrite(method: string, query: URLSearchParams): boolean {
  if (method === 'POST') return query.has('uploadId');
  return method === 'PUT' && [...query.keys()].every((name) => name === 'x-id');
}

/** Requests that change an object or its subresources (UploadPart only stages a part, so it is left out). */
function mutatesObject(method: string, query: URLSearchParams): boolean {
  if (method === 'PUT') return !query.has('uploadId');
  return method === 'DELETE' || (method === 'POST' && query.has('uploadId'));
}

/** GetObject and HeadObject (a version, a part or response header overrides do not make them another call). */
function isObjectRead(method: string, query: URLSearchParams): boolean {
  return (method === 'GET' || method === 'HEAD') && [...query.keys()].every((name) => ['x-id', 'versionId', 'partNumber'].includes(name) || name.startsWith('response-'));
}

/** What S3 answers instead of the request when a precondition fails; undefined when the request may proceed. */
export function preconditionFailure(
  conditions: { ifMatch?: string | undefined; ifNoneMatch?: string | undefined },
  currentEtag: string | undefined,
  kind: 'read' | 'write',
): ConditionFailure | undefined {
  const { ifMatch, ifNoneMatch } = conditions;
  if (ifMatch !== undefined) {
    // A read of a missing key is left to s3rver, which answers NoSuchKey (404) as S3 does.
    if (currentEtag === undefined) return kind === 'write' ? { status: 404, code: 'NoSuchKey' } : undefined;
    if (!etagListMatches(ifMatch, currentEtag)) return { status: 412, code: 'PreconditionFailed', condition: 'If-Match' };
  }
  if (ifNoneMatch !== undefined && currentEtag !== undefined && etagListMatches(ifNoneMatch, currentEtag)) {
    return kind === 'write' ? { status: 412, code: 'PreconditionFailed', condition: 'If-None-Match' } : { status: 304 };
  }
  return undefined;
}

/** Whether a conditional header (`*`, or ETags quoted or not, comma-separated) names the current ETag. */
function etagListMatches(header: string, currentEtag: string): boolean {
  const bare = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return header.split(',').some((candidate) => candidate.trim() === '*' || bare(candidate) === bare(currentEtag));
}

const messages: Record<string, string> = {
  PreconditionFailed: 'At least one of the pre-conditions you specified did not hold',
  NoSuchKey: 'The specified key does not exist.',
};

const xml = new XMLBuilder({ processEntities: true });

/** Writes an S3 answer: the XML error document, or only the status for HEAD and 304 (S3 sends no body there). */
function answer(res: ServerResponse, method: string, failure: { status: number; code?: string; condition?: string; key?: string; message?: string }): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const headers: Record<string, string> = { 'x-amz-request-id': requestId, 'x-amz-id-2': randomBytes(24).toString('base64') };
  if (method === 'HEAD' || failure.status === 304 || !failure.code) {
    if (failure.code) headers['x-amz-error-code'] = failure.code;
    res.writeHead(failure.status, headers).end();
    return;
  }
  const detail = failure.condition ? { Condition: failure.condition } : failure.code === 'NoSuchKey' ? { Key: failure.key } : {};
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml.build({ Error: { Code: failure.code, Message: failure.message ?? messages[failure.code], ...detail, RequestId: requestId } })}`;
  res.writeHead(failure.status, { ...headers, 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) }).end(body);
}

/**
 * A readers-writer lock per key: a write waits for the write before it and every read begun before
 * it; a read waits only for writes queued before it, so reads run side by side, as S3 serves them,
 * yet never see an object half written.
 */
class KeyedLock {
  private readonly writes = new Map<string, Promise<void>>();
  private readonly reads = new Map<string, Set<Promise<void>>>();

  async run(key: string, task: () => Promise<void>, mode: 'read' | 'write' = 'write'): Promise<void> {
    const previousWrite = this.writes.get(key) ?? Promise.resolve();
    if (mode === 'read') {
      const read = previousWrite.then(task);
      const settled = read.catch(() => undefined);
      const active = this.reads.get(key) ?? new Set<Promise<void>>();
      this.reads.set(key, active);
      active.add(settled);
      try {
        await read;
      } finally {
        active.delete(settled);
        if (active.size === 0 && this.reads.get(key) === active) this.reads.delete(key);
      }
      return;
    }
    const readsBefore = [...(this.reads.get(key) ?? [])];
    this.reads.delete(key);
    const write = Promise.all([previousWrite, ...readsBefore]).then(task);
    const settled = write.catch(() => undefined);
    this.writes.set(key, settled);
    try {
      await write;
    } finally {
      if (this.writes.get(key) === settled) this.writes.delete(key);
    }
  }
}

/** Decodes an `aws-chunked` body: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0\r\n<trailers>\r\n`. */
export function decodeAwsChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const sizeText = body.subarray(offset, lineEnd).toString('latin1').split(';')[0]!.trim();
    const size = Number.parseInt(sizeText, 16);
    if (!Number.isFinite(size)) break;
    if (size === 0) break;
    const start = lineEnd + 2;
    parts.push(body.subarray(start, start + size));
    offset = start + size + 2;
  }
  return Buffer.concat(parts);
}
