import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Faults, testFaults } from './faults.ts';
import { type LocalIdentity, callerArn, localIdentities, verifySigV4 } from './identities.ts';
import { jsonError } from './protocol/json.ts';
import { queryError } from './protocol/query.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from './protocol/types.ts';
import { LocalCloudTrail } from './services/cloudtrail.ts';
import { LocalEcr } from './services/ecr.ts';
import { LocalElasticBeanstalk } from './services/elastic-beanstalk.ts';
import { LocalEventBus } from './services/event-bus.ts';
import { LocalLambda } from './services/lambda.ts';
import { LocalRegistry } from './services/registry.ts';
import { LocalS3 } from './services/s3.ts';
import { LocalSns } from './services/sns.ts';
import { LocalStepFunctions } from './services/step-functions/service.ts';

export interface LocalAwsOptions {
  /** TCP port; 0 picks a free one (tests). */
  readonly port?: number;
  readonly host?: string;
  readonly region?: string;
  readonly accountId?: string;
  /** The folder handler paths are relative to (serverless.yml's folder). */
  readonly projectRoot?: string;
  readonly faults?: Partial<Faults>;
}

type ServiceName = 'ecr' | 'registry' | 'stepfunctions' | 'events' | 'lambda' | 'lambda-url' | 'elasticbeanstalk' | 'sns' | 's3' | 'cloudtrail';

const targetPrefixes: Array<[string, ServiceName]> = [
  ['AmazonEC2ContainerRegistry_V20150921.', 'ecr'],
  ['AWSStepFunctions.', 'stepfunctions'],
  ['AWSEvents.', 'events'],
  ['CloudTrail_20131101.', 'cloudtrail'], // the SDK's target; the AWS CLI's is the long one
  ['com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.', 'cloudtrail'],
];

/** Decides which service a request is for, the way AWS's DNS would: target header, signing scope, path, Action. */
export function serviceOf(headers: IncomingMessage['headers'], path: string, body: Buffer): ServiceName {
  const target = String(headers['x-amz-target'] ?? '');
  for (const [prefix, service] of targetPrefixes) if (target.startsWith(prefix)) return service;
  // The registry API of ECR (no S3 bucket can be called v2: names have 3 characters at least).
  if (path === '/v2' || path.startsWith('/v2/') || path.startsWith('/_ecr-layer/')) return 'registry';
  if (path.startsWith('/2015-03-31/functions/')) return 'lambda';
  if (path.startsWith('/_lambda-url/')) return 'lambda-url';
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ''))?.[1];
  if (scope === 'ecr' || scope === 'events' || scope === 'lambda' || scope === 'elasticbeanstalk' || scope === 'sns' || scope === 's3') return scope;
  if (scope === 'states') return 'stepfunctions';
  const isForm = String(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  if (isForm && path === '/') {
    const version = new URLSearchParams(body.toString('utf8')).get('Version');
    if (version === '2010-03-31') return 'sns';
    if (version === '2010-12-01') return 'elasticbeanstalk';
  }
  return 's3';
}

/**
 * The local AWS endpoint: S3, ECR, Elastic Beanstalk, Step Functions, SNS, EventBridge, Lambda and
 * CloudTrail's event history on one HTTP port, each in its own wire protocol, so unchanged SDK
 * clients and the AWS CLI work.
 */
export class LocalAws {
  readonly region: string;
  readonly accountId: string;
  readonly faults: Faults;
  readonly bus: LocalEventBus;
  readonly lambda: LocalLambda;
  readonly s3: LocalS3;
  readonly ecr: LocalEcr;
  /** The Docker Registry HTTP API v2 of the local ECR, on the same port. */
  readonly registry: LocalRegistry;
  readonly cloudtrail: LocalCloudTrail;
  readonly eb: LocalElasticBeanstalk;
  readonly sns: LocalSns;
  readonly sfn: LocalStepFunctions;
  /** The principals whose keys the endpoint knows (SigV4 is verified for function URLs). */
  readonly identities: LocalIdentity[];
  private server?: Server;
  private port = 0;
  private host = '127.0.0.1';

  constructor(options: LocalAwsOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.faults = { ...structuredClone(testFaults), ...options.faults };
    const { region, accountId, faults } = this;
    this.identities = localIdentities(accountId);
    this.bus = new LocalEventBus(region, accountId);
    this.lambda = new LocalLambda(options.projectRoot ?? process.cwd(), region, accountId, faults);
    this.s3 = new LocalS3();
    this.cloudtrail = new LocalCloudTrail();
    this.ecr = new LocalEcr({
      region,
      accountId,
      faults,
      emit: (event) => this.bus.put(event),
      envelope: (...args) => this.bus.envelope(...args),
      callerArn: (request) => callerArn(this.identities, accountId, request.headers),
      trail: (record) => this.cloudtrail.record(record),
    });
    this.registry = new LocalRegistry(this.ecr);
    this.eb = new LocalElasticBeanstalk({ region, accountId, faults, readObject: (bucket, key) => this.s3.readObject(bucket, key) });
    this.sns = new LocalSns({ region, accountId });
    this.sfn = new LocalStepFunctions({
      region,
      accountId,
      faults,
      lambda: this.lambda,
      emit: (source, detailType, detail, resources) => this.bus.put(this.bus.envelope(source, detailType, detail, resources)),
    });
    this.port = options.port ?? 4566;
    this.host = options.host ?? '127.0.0.1';
  }

  /** The URL to give clients as `AWS_ENDPOINT_URL` / `--endpoint-url`. */
  get endpoint(): string {
    return `http://${this.host}:${this.port}`;
  }

  async listen(): Promise<this> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, this.host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops running executions, closes the port and removes the S3 files. */
  async close(): Promise<void> {
    this.sfn.stopAll();
    await this.sfn.settle();
    await this.bus.settle();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
    this.s3.close();
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://local');
    const service = serviceOf(req.headers, url.pathname, body);
    if (service === 's3') {
      this.s3.handle(req, res, body);
      return;
    }
    const request: LocalRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, requestId: randomUUID() };
    let response: LocalResponse;
    try {
      response = service === 'lambda-url' ? await this.functionUrl(request) : await this.dispatch(service, request);
    } catch (error) {
      // A bug in an emulator must look like an AWS 500, never take the endpoint down.
      const fault = new AwsServiceError('InternalFailure', `The local endpoint failed: ${(error as Error).message}`, 500);
      response = service === 'elasticbeanstalk' || service === 'sns' ? queryError('', request.requestId, fault) : jsonError('1.1', fault);
    }
    // A HEAD answer names the length of what GET would send.
    res.writeHead(response.status, { 'content-length': String(Buffer.byteLength(response.body)), ...response.headers });
    res.end(response.body);
  }

  /**
   * Function URLs with AWS_IAM auth: only a request SigV4-signed by a known identity, for service
   * `lambda` in this region, over the body that arrived, reaches the handler; a refusal looks like AWS's.
   */
  private async functionUrl(request: LocalRequest): Promise<LocalResponse> {
    const verified = await verifySigV4(this.identities, { ...request, host: String(request.headers.host ?? '') }, { service: 'lambda', region: this.region });
    if (!verified.ok) {
      const body = verified.code === 'AccessDeniedException' ? { Message: verified.message } : { message: verified.message };
      return {
        status: verified.status,
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': verified.code, 'x-amzn-requestid': request.requestId },
        body: JSON.stringify(body),
      };
    }
    return this.lambda.handleUrl(request, verified.identity);
  }

  private dispatch(service: Exclude<ServiceName, 's3' | 'lambda-url'>, request: LocalRequest): Promise<LocalResponse> {
    switch (service) {
      case 'ecr':
        return this.ecr.handle(request);
      case 'registry':
        return this.registry.handle(request);
      case 'stepfunctions':
        return this.sfn.handle(request);
      case 'events':
        return this.bus.handle(request);
      case 'lambda':
        return this.lambda.handle(request, callerArn(this.identities, this.accountId, request.headers));
      case 'elasticbeanstalk':
        return this.eb.handle(request);
      case 'sns':
        return this.sns.handle(request);
      case 'cloudtrail':
        return this.cloudtrail.handle(request);
    }
  }
}

/** Starts the endpoint and resolves once it listens. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  return new LocalAws(options).listen();
}
