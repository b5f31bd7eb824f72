import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoute } from './admin.ts';
import { applyFaults, copyFaults, FaultInjector, type Faults, FaultsError, type FaultsChange, testFaults } from './faults.ts';
import { type LocalIdentity, callerArn, localIdentities, verifySigV4 } from './identities.ts';
import { jsonError } from './protocol/json.ts';
import { queryError } from './protocol/query.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from './protocol/types.ts';
import { bodyLimits, readBody, type ServiceName, tooLarge } from './limits.ts';
import { DataDir } from './persistence.ts';
import { type CloudTrailRecord, LocalCloudTrail } from './services/cloudtrail.ts';
import { type EcrState, LocalEcr } from './services/ecr.ts';
import { EcrTokens } from './services/ecr-auth.ts';
import { LayerStore } from './services/ecr-layers.ts';
import { type EbState, LocalElasticBeanstalk } from './services/elastic-beanstalk/index.ts';
import { LocalEventBus } from './services/event-bus.ts';
import { LocalLambda } from './services/lambda.ts';
import { LocalRegistry } from './services/registry.ts';
import { LocalS3 } from './services/s3.ts';
import { LocalSns } from './services/sns.ts';
import { checkedKeepExecutions, LocalStepFunctions, type SfnState } from './services/step-functions/service.ts';

export interface LocalAwsOptions {
  /** TCP port; 0 picks a free one (tests). */
  readonly port?: number;
  readonly host?: string;
  readonly region?: string;
  readonly accountId?: string;
  /** The folder handler paths are relative to (serverless.yml's folder). */
  readonly projectRoot?: string;
  readonly faults?: Partial<Faults>;
  /**
   * Keep state in this folder and take it back on the next start (`greenlight local --data`):
   * ECR repositories, images and layers, EB applications, versions, environments and events, S3
   * objects, executions and their histories, CloudTrail's event history.
   */
  readonly dataDir?: string;
  /** Finished executions kept; older finished ones are dropped (`greenlight local --keep-executions`, default 1,000). */
  readonly keepExecutions?: number;
}

/** What state.json of a `--data` folder holds. */
interface SavedState {
  ecr: EcrState;
  eb: EbState;
  sfn: SfnState;
  cloudtrail: CloudTrailRecord[];
}

/** What a start with `--data` found and took back. */
export interface RestoredState {
  readonly repositories: number;
  readonly images: number;
  readonly environments: number;
  readonly executions: number;
  /** Executions found running (the endpoint had been killed): ended ABORTED with greenlight.Shutdown. */
  readonly aborted: number;
}


const targetPrefixes: Array<[string, ServiceName]> = [
  ['AmazonEC2ContainerRegistry_V20150921.', 'ecr'],
  ['AWSStepFunctions.', 'stepfunctions'],
  ['AWSEvents.', 'events'],
  ['CloudTrail_20131101.', 'cloudtrail'], // the SDK's target; the AWS CLI's is the long one
  ['com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.', 'cloudtrail'],
];

/**
 * Decides which service a request is for from what arrives before its body, the way AWS's DNS would:
 * target header, path, signing scope; undefined when only the body can tell (a Query form at `/`).
 */
function serviceOfHeaders(headers: IncomingMessage['headers'], path: string): ServiceName | undefined {
  const target = String(headers['x-amz-target'] ?? '');
  for (const [prefix, service] of targetPrefixes) if (target.startsWith(prefix)) return service;
  // The registry API of ECR (no S3 bucket can be called v2: names have 3 characters at least).
  if (path === '/v2' || path.startsWith('/v2/') || path.startsWith('/_ecr-layer/')) return 'registry';
  if (path.startsWith('/2015-03-31/functions/')) return 'lambda';
  if (path.startsWith('/_lambda-url/')) return 'lambda-url';
  if (path === '/_greenlight' || path.startsWith('/_greenlight/')) return 'admin';
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ''))?.[1];
  if (scope === 'ecr' || scope === 'events' || scope === 'lambda' || scope === 'elasticbeanstalk' || scope === 'sns' || scope === 's3') return scope;
  if (scope === 'states') return 'stepfunctions';
  const isForm = String(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  return isForm && path === '/' ? undefined : 's3';
}

/** Decides which service a request is for, the way AWS's DNS would: target header, signing scope, path, Action. */
export function serviceOf(headers: IncomingMessage['headers'], path: string, body: Buffer): ServiceName {
  const known = serviceOfHeaders(headers, path);
  if (known) return known;
  const version = new URLSearchParams(body.toString('utf8')).get('Version');
  if (version === '2010-03-31') return 'sns';
  if (version === '2010-12-01') return 'elasticbeanstalk';
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
  private readonly initialFaults: Faults;
  /** The `--data` folder, if state is kept. */
  readonly data?: DataDir;
  /** What was taken back from the `--data` folder at start, if anything. */
  readonly restored?: RestoredState;
  private changed = false;
  private saver?: NodeJS.Timeout;
  private server?: Server;
  private port = 0;
  private host = '127.0.0.1';

  constructor(options: LocalAwsOptions = {}) {
    // Checked before anything is made (the S3 folder), so a wrong value leaves nothing behind.
    if (options.keepExecutions !== undefined) checkedKeepExecutions(options.keepExecutions);
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    // A private deep copy: another endpoint in this process, or the caller's object, never shares a knob.
    this.faults = copyFaults(testFaults, options.faults);
    this.initialFaults = copyFaults(this.faults);
    const { region, accountId } = this;
    // One injector over the knobs: the services ask it; setFaults/resetFaults change the knobs it reads.
    const faults = new FaultInjector(this.faults);
    this.identities = localIdentities(accountId);
    this.bus = new LocalEventBus(region, accountId, () => faults.acceptsAwsEvents());
    this.lambda = new LocalLambda(options.projectRoot ?? process.cwd(), region, accountId, faults);
    const data = options.dataDir === undefined ? undefined : new DataDir(options.dataDir);
    this.data = data;
    this.s3 = new LocalS3(data?.s3Directory);
    this.cloudtrail = new LocalCloudTrail();
    this.ecr = new LocalEcr({
      region,
      accountId,
      faults,
      emit: (event) => this.bus.put(event),
      envelope: (...args) => this.bus.envelope(...args),
      callerArn: (request) => callerArn(this.identities, accountId, request.headers),
      trail: (record) => this.cloudtrail.record(record),
      ...(data ? { layers: new LayerStore((digest, bytes) => data.writeBlob(digest, bytes)), tokens: new EcrTokens(data.tokenKey()) } : {}),
    });
    this.registry = new LocalRegistry(this.ecr);
    this.eb = new LocalElasticBeanstalk({
      region,
      accountId,
      faults,
      readObject: (bucket, key) => this.s3.readObject(bucket, key),
      deleteObject: (bucket, key) => this.s3.deleteObject(bucket, key),
    });
    this.sns = new LocalSns({ region, accountId });
    this.sfn = new LocalStepFunctions({
      region,
      accountId,
      faults,
      lambda: this.lambda,
      emit: (source, detailType, detail, resources) => this.bus.put(this.bus.envelope(source, detailType, detail, resources)),
      ...(options.keepExecutions === undefined ? {} : { keepExecutions: options.keepExecutions }),
    });
    if (data) {
      const saved = data.read<SavedState>();
      if (saved) this.restored = this.restore(saved, data);
      // Requests change state; so do executions between requests (Wait states): save what changed twice a second.
      this.saver = setInterval(() => this.saveIfChanged(), 500);
      this.saver.unref();
    }
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

  /** Stops running executions, closes the port and removes the S3 files (with `--data`: saves the state and keeps them). */
  async close(): Promise<void> {
    this.sfn.stopAll();
    await this.sfn.settle();
    await this.bus.settle();
    if (this.saver) clearInterval(this.saver);
    if (this.data) this.save();
    if (this.server?.listening) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
    this.s3.close();
  }

  /** Answers one request; nothing a client does (a huge body, a dropped connection) escapes as an unhandled error. */
  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.answer(req, res);
    } catch (error) {
      // Whatever went wrong, the endpoint keeps serving: answer if the client still listens.
      if (!res.headersSent && !res.destroyed) res.writeHead(500, { 'content-type': 'text/plain' }).end(`The local endpoint failed: ${(error as Error).message}`);
      else res.destroy();
    }
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://local');
    const requestId = randomUUID();
    const early = serviceOfHeaders(req.headers, url.pathname);
    const limitFor = early ?? 'query';
    const limit = bodyLimits[limitFor];
    const read = await readBody(req, limit);
    if (!read.ok) {
      if (read.reason === 'aborted') return;
      // The rest of the body is not read: answer, then close the connection.
      const response = tooLarge(limitFor, limit, requestId);
      res.shouldKeepAlive = false;
      res.writeHead(response.status, { 'content-length': String(Buffer.byteLength(response.body)), connection: 'close', ...response.headers });
      res.end(response.body);
      return;
    }
    const { body } = read;
    const service = early ?? serviceOf(req.headers, url.pathname, body);
    if (service === 's3') {
      this.s3.handle(req, res, body);
      return;
    }
    const request: LocalRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, requestId, ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}) };
    let response: LocalResponse;
    try {
      response = service === 'lambda-url' ? await this.functionUrl(request) : await this.dispatch(service, request);
    } catch (error) {
      // A bug in an emulator must look like an AWS 500, never take the endpoint down.
      const fault = new AwsServiceError('InternalFailure', `The local endpoint failed: ${(error as Error).message}`, 500);
      response = service === 'elasticbeanstalk' || service === 'sns' ? queryError('', request.requestId, fault) : jsonError('1.1', fault);
    }
    this.changed = true;
    if (res.destroyed) return;
    // A HEAD answer names the length of what GET would send.
    res.writeHead(response.status, { 'content-length': String(Buffer.byteLength(response.body)), ...response.headers });
    res.end(response.body);
  }

  /**
   * Changes the fault knobs of the running endpoint, as a person asks (flags, a file, the admin
   * route): busy environments become busy at once (an unknown one is refused), a failing `repo:tag`
   * also fails the digest that tag names now; the rest is applied in place. Returns the knobs.
   */
  setFaults(change: FaultsChange): Faults {
    const { busyEnvironments, ...rest } = change;
    for (const name of Object.keys(busyEnvironments ?? {})) {
      const environment = this.eb.environment(name);
      if (!environment || environment.Status === 'Terminated') throw new FaultsError(`busyEnvironments: there is no environment ${name}`);
    }
    applyFaults(this.faults, rest);
    if (rest.failingImages) this.faults.failingImages.push(...this.ecr.digestsOfTags(rest.failingImages));
    for (const [name, seconds] of Object.entries(busyEnvironments ?? {})) this.eb.makeBusy(name, seconds);
    return this.faults;
  }

  /** Puts the knobs back to what the endpoint started with. */
  resetFaults(): Faults {
    const initial = copyFaults(this.initialFaults);
    for (const key of Object.keys(this.faults) as Array<keyof Faults>) delete this.faults[key];
    return Object.assign(this.faults, initial);
  }

  private restore(saved: SavedState, data: DataDir): RestoredState {
    this.ecr.restore(saved.ecr, (digest) => data.readBlob(digest));
    this.eb.restore(saved.eb);
    this.cloudtrail.restore(saved.cloudtrail);
    const aborted = this.sfn.restore(saved.sfn);
    return {
      repositories: saved.ecr.repositories.length,
      images: saved.ecr.repositories.reduce((n, r) => n + r.images.length, 0),
      environments: saved.eb.environments.filter((e) => e.status !== 'Terminated').length,
      executions: saved.sfn.executions.length,
      aborted,
    };
  }

  /** Writes the state to the `--data` folder now. */
  save(): void {
    if (!this.data) return;
    this.changed = false;
    const state: SavedState = { ecr: this.ecr.snapshot(), eb: this.eb.snapshot(), sfn: this.sfn.snapshot(), cloudtrail: this.cloudtrail.snapshot() };
    try {
      this.data.write(state);
    } catch (error) {
      // A full disk must not stop the endpoint; the next save tries again.
      this.changed = true;
      process.stderr.write(`greenlight local: could not save the state to ${this.data.path}: ${(error as Error).message}\n`);
    }
  }

  private saveIfChanged(): void {
    if (this.changed || this.sfn.listExecutions().some((e) => e.status === 'RUNNING')) this.save();
  }

  /** The admin routes of the endpoint itself (`/_greenlight/…`). */
  private admin(request: LocalRequest): Promise<LocalResponse> {
    return adminRoute(this, request);
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
    if (service === 'admin') return this.admin(request);
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
  const aws = new LocalAws(options);
  try {
    return await aws.listen();
  } catch (error) {
    // A busy port: leave nothing behind (the S3 folder), and let the caller say what happened.
    await aws.close();
    throw error;
  }
}
