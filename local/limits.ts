import type { IncomingMessage } from 'node:http';
import { jsonError } from './protocol/json.ts';
import { queryError } from './protocol/query.ts';
import { AwsServiceError, type LocalResponse } from './protocol/types.ts';

/** The services of the endpoint, as the router names them. */
export type ServiceName = 'ecr' | 'registry' | 'stepfunctions' | 'events' | 'lambda' | 'lambda-url' | 'elasticbeanstalk' | 'sns' | 's3' | 'cloudtrail' | 'admin';

const KiB = 1024;
const MiB = 1024 * KiB;

/** What AWS documents for a payload (checked by the operations themselves, on the decoded value). */
export const payloadLimits = {
  /** Step Functions: execution input, task output (UTF-8 bytes). */
  stepFunctionsData: 256 * KiB,
  /** EventBridge: one PutEvents request, all its entries together. */
  putEventsEntries: 256 * KiB,
  /** Lambda: a synchronous invocation's request payload. */
  lambdaPayload: 6 * MiB,
} as const;

/**
 * The largest HTTP body the endpoint reads for each service, before any parsing. Above a service's
 * payload limit (escaping, base64 and form encoding make the body larger than the value), but
 * bounded, so one request cannot grow the process: a larger body is refused before it is read.
 */
export const bodyLimits: Record<ServiceName | 'query', number> = {
  stepfunctions: 2 * MiB,
  events: 2 * MiB,
  cloudtrail: 1 * MiB,
  // UploadLayerPart carries a part of up to 20 MiB as base64.
  ecr: 32 * MiB,
  // One blob request (a monolithic upload or one PATCH chunk); larger layers go up in chunks.
  registry: 512 * MiB,
  lambda: payloadLimits.lambdaPayload,
  'lambda-url': payloadLimits.lambdaPayload,
  elasticbeanstalk: 2 * MiB,
  sns: 2 * MiB,
  query: 2 * MiB,
  // Objects live in a temporary folder; 512 MiB is plenty for bundles and audit records.
  s3: 512 * MiB,
  admin: 1 * MiB,
};

/** The answer, in the service's own protocol, to a body over its limit. */
export function tooLarge(service: ServiceName | 'query', limit: number, requestId: string): LocalResponse {
  const message = `Request must be smaller than ${limit} bytes for this operation`;
  switch (service) {
    case 'lambda':
    case 'lambda-url':
      return {
        status: 413,
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'RequestTooLargeException', 'x-amzn-requestid': requestId },
        body: JSON.stringify({ Type: 'User', message: `Request must be smaller than ${limit} bytes for the InvokeFunction operation` }),
      };
    case 'elasticbeanstalk':
    case 'sns':
    case 'query':
      return { ...queryError('', requestId, new AwsServiceError('RequestEntityTooLarge', message, 413)) };
    case 's3':
      return {
        status: 400,
        headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><MaxSizeAllowed>${limit}</MaxSizeAllowed><RequestId>${requestId}</RequestId></Error>`,
      };
    case 'registry':
      return {
        status: 413,
        headers: { 'content-type': 'application/json; charset=utf-8', 'docker-distribution-api-version': 'registry/2.0' },
        body: JSON.stringify({ errors: [{ code: 'SIZE_INVALID', message: `request body larger than ${limit} bytes: upload the blob in chunks (PATCH)`, detail: { limit } }] }),
      };
    default: {
      const error = jsonError('1.1', new AwsServiceError('RequestEntityTooLarge', message, 413));
      return { ...error, headers: { ...error.headers, 'x-amzn-requestid': requestId } };
    }
  }
}

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: 'too-large' | 'aborted' };

/**
 * Reads a request body up to `limit` bytes. A declared or actual length over the limit stops
 * reading (the rest is discarded, never kept); a client that goes away mid-body is reported, not thrown.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve({ ok: false, reason: 'too-large' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: BodyResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle({ ok: false, reason: 'too-large' });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle({ ok: true, body: Buffer.concat(chunks) }));
    req.on('aborted', () => settle({ ok: false, reason: 'aborted' }));
    req.on('error', () => settle({ ok: false, reason: 'aborted' }));
    req.on('close', () => settle(req.complete ? { ok: true, body: Buffer.concat(chunks) } : { ok: false, reason: 'aborted' }));
  });
}
