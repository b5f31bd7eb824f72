import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import S3rver from 's3rver';

/**
 * S3 on the shared endpoint, served by s3rver (path-style).
 *
 * The endpoint reads the body first so it can undo `aws-chunked` framing, which current SDKs and the
 * AWS CLI use for streamed uploads and s3rver does not understand; clients then need no special settings.
 */
export class LocalS3 {
  private readonly directory: string;
  private readonly server: S3rver;
  private readonly callback: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(directory?: string) {
    this.directory = directory ?? mkdtempSync(join(tmpdir(), 'greenlight-s3-'));
    this.server = new S3rver({ silent: true, directory: this.directory, allowMismatchedSignatures: true });
    this.callback = this.server.callback();
  }

  /** Hands one request to s3rver, with the body already read (and de-chunked). */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
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
  }

  /** Reads an object straight from the store (for the local Elastic Beanstalk, which fetches bundles). */
  async readObject(bucket: string, key: string): Promise<Buffer | undefined> {
    const store = (this.server as any).store;
    try {
      const object = await store.getObject(bucket, key);
      if (!object) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of object.content) chunks.push(Buffer.from(chunk));
      return Buffer.concat(chunks);
    } catch {
      return undefined;
    }
  }

  /** Creates a bucket without going through the API (used when seeding the local stack). */
  async createBucket(name: string): Promise<void> {
    const store = (this.server as any).store;
    if (!(await store.getBucket(name))) await store.putBucket(name);
  }

  close(): void {
    rmSync(this.directory, { recursive: true, force: true });
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
