import type { IncomingHttpHeaders } from 'node:http';

/** One HTTP request as the endpoint received it, body fully read. */
export interface LocalRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly requestId: string;
  /** The client's address (the admin routes answer only loopback). */
  readonly remoteAddress?: string;
}

/** What a service answers; the server writes it as is. */
export interface LocalResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** An AWS error as the service would return it: a code (`__type` / `<Code>`), a message and an HTTP status. */
export class AwsServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Query protocol `<Type>`: Sender for caller mistakes, Receiver for service faults. */
    readonly fault: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
    this.name = code;
  }
}

/** An operation of a service: takes the decoded input, returns the output object (or throws AwsServiceError). */
export type Operation<I = any, O = unknown> = (input: I, request: LocalRequest) => O | Promise<O>;
