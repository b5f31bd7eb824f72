import type { FaultInjector } from '../faults.ts';
import { createHash, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { principalIds } from '../identities.ts';
import { jsonError } from '../protocol/json.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from '../protocol/types.ts';

/** A function as serverless.yml declares it: `handler: functions/deploy/handler.handler`. */
export interface LocalFunction {
  readonly name: string;
  /** `aws_iam` when serverless.yml gives the function a URL with IAM auth. */
  readonly url?: 'aws_iam' | 'none';
  /** The module path (without extension) and the export, split from serverless.yml's `handler`. */
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
}

/** Outcome of one invocation, shaped like Lambda's: a payload, or an error payload with its type. */
export type InvocationResult =
  | { ok: true; payload: unknown; durationMs: number }
  | { ok: false; error: { errorType: string; errorMessage: string; trace: string[] }; durationMs: number };

/** Observer of invocations (the Step Functions emulator records them in the execution history). */
export type InvocationListener = (name: string, result: InvocationResult) => void;

/**
 * Lambda, locally: the real handler modules run in this process with a Lambda-like context,
 * reachable in-process and over the Invoke API (`aws lambda invoke` works).
 */
export class LocalLambda {
  private readonly functions = new Map<string, LocalFunction>();
  private readonly modules = new Map<string, Promise<Record<string, unknown>>>();

  constructor(
    private readonly projectRoot: string,
    private readonly region: string,
    private readonly accountId: string,
    private readonly faults?: FaultInjector,
  ) {}

  /** Whether this invocation is one a fault says times out after running (counted down per function key). */
  private timesOut(fn: LocalFunction): boolean {
    return this.faults?.lambdaTimesOut(fn.name) ?? false;
  }

  register(fn: LocalFunction): void {
    this.functions.set(fn.name, fn);
  }

  arnOf(name: string): string {
    return `arn:aws:lambda:${this.region}:${this.accountId}:function:${name}`;
  }

  /** The host AWS would give a function's URL, `<url-id>.lambda-url.<region>.on.aws` (the id stable per function). */
  urlDomainOf(name: string): string {
    const urlId = createHash('sha256').update(this.arnOf(name)).digest('hex').slice(0, 32);
    return `${urlId}.lambda-url.${this.region}.on.aws`;
  }

  /** Finds a function by name or ARN (with or without a qualifier). */
  find(nameOrArn: string): LocalFunction | undefined {
    const name = nameOrArn.startsWith('arn:') ? (nameOrArn.split(':')[6] ?? '') : nameOrArn.split(':')[0]!;
    return this.functions.get(name);
  }

  names(): string[] {
    return [...this.functions.keys()];
  }

  /** Runs a handler as Lambda would; a thrown error becomes `{ errorType: error.name, errorMessage }`. */
  async invoke(nameOrArn: string, payload: unknown): Promise<InvocationResult> {
    const fn = this.find(nameOrArn);
    if (!fn) throw new AwsServiceError('ResourceNotFoundException', `Function not found: ${nameOrArn}`, 404);
    const started = Date.now();
    const context = this.context(fn, started);
    try {
      const handler = await this.load(fn);
      // The payload as Lambda delivers it: JSON (Dates become strings, undefined goes), and a copy the handler may change.
      const event = JSON.parse(JSON.stringify(payload ?? {}));
      const output = await withDeadline(handler(event, context), fn.timeoutSeconds * 1000);
      if (output === timedOut) {
        // As the Lambda runtime reports a function that ran out of time (the handler's work is abandoned).
        const message = `${new Date().toISOString()} ${context.awsRequestId} Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`;
        return { ok: false, error: { errorType: 'Sandbox.Timedout', errorMessage: message, trace: [] }, durationMs: Date.now() - started };
      }
      if (this.timesOut(fn)) {
        const message = `${new Date().toISOString()} ${context.awsRequestId} Task timed out after ${fn.timeoutSeconds}.00 seconds`;
        return { ok: false, error: { errorType: 'Sandbox.Timedout', errorMessage: message, trace: [] }, durationMs: Date.now() - started };
      }
      return { ok: true, payload: output === undefined ? null : JSON.parse(JSON.stringify(output)), durationMs: Date.now() - started };
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      return {
        ok: false,
        error: { errorType: error.name || 'Error', errorMessage: error.message, trace: (error.stack ?? '').split('\n') },
        durationMs: Date.now() - started,
      };
    }
  }

  /**
   * A function URL, as AWS serves it but under a path: `/_lambda-url/<function name>/<path>`.
   * The caller is already authenticated (SigV4) by the server; the handler gets the 2.0 event with
   * the domain name and caller identity AWS would put in it.
   */
  async handleUrl(request: LocalRequest, caller: { accessKeyId: string; arn: string } | undefined): Promise<LocalResponse> {
    const match = /^\/_lambda-url\/([^/]+)(\/.*)?$/.exec(request.path);
    const fn = match ? this.find(decodeURIComponent(match[1]!)) : undefined;
    if (!fn?.url) return { status: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Message: 'Function URL not found' }) };
    const rawPath = match![2] ?? '/';
    const now = new Date();
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
    const domainName = this.urlDomainOf(fn.name);
    const urlId = domainName.split('.')[0]!;
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString: request.query.toString(),
      headers,
      queryStringParameters: request.query.size > 0 ? Object.fromEntries(request.query) : undefined,
      requestContext: {
        accountId: this.accountId,
        apiId: urlId,
        authorizer: caller ? { iam: { accessKey: caller.accessKeyId, accountId: caller.arn.split(':')[4], ...principalIds(caller.arn), userArn: caller.arn } } : undefined,
        domainName,
        domainPrefix: urlId,
        http: { method: request.method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        requestId: request.requestId,
        routeKey: '$default',
        stage: '$default',
        time: now.toISOString(),
        timeEpoch: now.getTime(),
      },
      body: request.body.length > 0 ? request.body.toString('utf8') : undefined,
      isBase64Encoded: false,
    };
    const result = await this.invoke(fn.name, event);
    if (!result.ok) return { status: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Message: 'Internal Server Error' }) };
    const out = result.payload as { statusCode?: number; headers?: Record<string, string>; body?: string } | null;
    if (out && typeof out === 'object' && typeof out.statusCode === 'number') {
      return { status: out.statusCode, headers: { 'content-type': 'application/json', ...(out.headers ?? {}) }, body: out.body ?? '' };
    }
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(out) };
  }

  /**
   * The Invoke API: POST /2015-03-31/functions/{name}/invocations. A function served by an IAM
   * function URL answers as AWS does when no policy grants `caller` lambda:InvokeFunction outside
   * the URL (the approval API's resource policy); in-process invokes (Step Functions, EventBridge)
   * stand for the service principals its policy allows.
   */
  async handle(request: LocalRequest, caller: string): Promise<LocalResponse> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(request.path);
    try {
      if (!match || request.method !== 'POST') throw new AwsServiceError('UnknownOperationException', `Unknown operation ${request.method} ${request.path}`);
      const name = decodeURIComponent(match[1]!);
      const fn = this.find(name);
      if (fn?.url === 'aws_iam') {
        const message = `User: ${caller} is not authorized to perform: lambda:InvokeFunction on resource: ${this.arnOf(fn.name)} because no resource-based policy allows the lambda:InvokeFunction action`;
        return { status: 403, headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException', 'x-amzn-requestid': request.requestId }, body: JSON.stringify({ Type: 'User', Message: message }) };
      }
      let payload: unknown = {};
      const text = request.body.toString('utf8');
      if (text.trim() !== '') {
        try {
          payload = JSON.parse(text);
        } catch {
          throw new AwsServiceError('InvalidRequestContentException', 'Could not parse request body into json');
        }
      }
      const result = await this.invoke(name, payload);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST', 'x-amzn-requestid': request.requestId };
      if (!result.ok) headers['x-amz-function-error'] = 'Unhandled';
      return { status: 200, headers, body: JSON.stringify(result.ok ? result.payload : result.error) };
    } catch (error) {
      if (error instanceof AwsServiceError) return jsonError('1.1', error);
      throw error;
    }
  }

  private async load(fn: LocalFunction): Promise<(event: unknown, context: Context) => Promise<unknown>> {
    const dot = fn.handler.lastIndexOf('.');
    const modulePath = fn.handler.slice(0, dot);
    const exportName = fn.handler.slice(dot + 1);
    let loaded = this.modules.get(modulePath);
    if (!loaded) {
      loaded = import(pathToFileURL(resolve(this.projectRoot, `${modulePath}.ts`)).href) as Promise<Record<string, unknown>>;
      this.modules.set(modulePath, loaded);
    }
    const handler = (await loaded)[exportName];
    if (typeof handler !== 'function') throw new Error(`${fn.handler}: the module has no exported function ${exportName}`);
    return handler as (event: unknown, context: Context) => Promise<unknown>;
  }

  private context(fn: LocalFunction, started: number): Context {
    const deadline = started + fn.timeoutSeconds * 1000;
    return {
      callbackWaitsForEmptyEventLoop: false,
      functionName: fn.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.arnOf(fn.name),
      memoryLimitInMB: String(fn.memorySize),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: `local/${fn.name}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  }
}

const timedOut = Symbol('timed out');

/** The handler's result, or `timedOut` once the function's timeout has passed (the timer never keeps the process alive). */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | typeof timedOut> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
