import { randomBytes, randomUUID } from 'node:crypto';
import { unzipSync } from 'fflate';
import { parse as parseYaml } from 'yaml';
import type { Faults } from '../faults.ts';
import { queryService } from '../protocol/query.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from '../protocol/types.ts';

/** Event severities in EB's order: DescribeEvents' `Severity` is a minimum. */
const SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type EventSeverity = (typeof SEVERITIES)[number];

/** The texts EB writes to the event stream, as seen in real deployments. */
export const EB_MESSAGES = {
  updateStarting: 'Environment update is starting.',
  deployingNewVersion: 'Deploying new version to instance(s).',
  instanceDeploymentCompleted: 'Instance deployment completed successfully.',
  newVersionDeployed: 'New application version was deployed to running EC2 instances.',
  updateCompleted: 'Environment update completed successfully.',
  instanceDeploymentFailed: "Instance deployment failed. For details, see 'eb-engine.log'.",
  commandFailedSummary: 'Command execution completed on all instances. Summary: [Successful: 0, Failed: 1].',
  failedToDeploy: 'Failed to deploy application.',
  updateCompletedWithErrors: 'Update environment operation is complete, but with errors. For more information, see troubleshooting documentation.',
  createStarting: 'createEnvironment is starting.',
  createCompletedWithErrors: 'Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.',
  terminateStarting: 'terminateEnvironment is starting.',
  terminateCompleted: 'terminateEnvironment completed successfully.',
} as const;

/** One entry of the event stream (DescribeEvents). */
export interface EbEvent {
  readonly EventDate: Date;
  readonly Message: string;
  readonly ApplicationName: string;
  readonly EnvironmentName?: string;
  readonly VersionLabel?: string;
  readonly RequestId?: string;
  readonly Severity: EventSeverity;
  readonly seq: number;
}

/** What EB found in a source bundle: whether it can deploy it, and the images it would pull. */
export interface BundleInspection {
  readonly ok: boolean;
  readonly images: string[];
  readonly reason?: string;
  /** Why the instances cannot run a bundle EB processed fine (a hook that cannot execute, a mount of nothing). */
  readonly runFailure?: string;
}

interface Application {
  readonly name: string;
  readonly description?: string;
  readonly dateCreated: Date;
  dateUpdated: Date;
  readonly versions: Map<string, ApplicationVersion>;
}

interface ApplicationVersion {
  readonly label: string;
  readonly application: string;
  readonly description?: string;
  readonly sourceBundle?: { S3Bucket: string; S3Key: string };
  readonly dateCreated: Date;
  /** Set when created with Process=true: the status is PROCESSING until then, and the outcome after. */
  readonly processedAt?: number;
  readonly processOutcome?: 'PROCESSED' | 'FAILED';
}

/** An operation in flight on an environment; the environment settles lazily once `until` has passed. */
interface PendingOperation {
  readonly kind: 'launch' | 'update' | 'busy' | 'terminate';
  readonly requestId: string;
  readonly startedAt: number;
  until: number;
  readonly versionLabel?: string;
  /** Filled once the bundle is read; an update does not settle before. */
  inspection?: BundleInspection;
}

interface Environment {
  readonly id: string;
  readonly name: string;
  readonly application: string;
  readonly cnamePrefix: string;
  readonly solutionStackName?: string;
  readonly platformArn: string;
  readonly dateCreated: Date;
  readonly instanceId: string;
  dateUpdated: Date;
  versionLabel?: string;
  /** The settled state; a pending operation overlays it. */
  status: 'Ready' | 'Terminated';
  health: 'Green' | 'Yellow' | 'Red' | 'Grey';
  healthStatus: 'Ok' | 'Severe' | 'NoData' | 'Pending' | 'Info';
  causes: string[];
  enhancedHealth: boolean;
  deployments: number;
  terminatedAt?: number;
  operation?: PendingOperation;
  /** OptionSettings given to UpdateEnvironment, by `Namespace:OptionName` (kept, not acted on). */
  optionSettings?: Record<string, { Namespace: string; OptionName: string; Value: string }>;
}

/** A point-in-time view of an environment, shaped as DescribeEnvironments answers. */
export interface EnvironmentSnapshot {
  EnvironmentName: string;
  EnvironmentId: string;
  ApplicationName: string;
  VersionLabel?: string;
  SolutionStackName?: string;
  PlatformArn: string;
  EndpointURL?: string;
  CNAME?: string;
  DateCreated: Date;
  DateUpdated: Date;
  Status: 'Launching' | 'Updating' | 'Ready' | 'Terminating' | 'Terminated';
  AbortableOperationInProgress: boolean;
  Health: 'Green' | 'Yellow' | 'Red' | 'Grey';
  HealthStatus?: string;
  Tier: { Name: string; Type: string; Version: string };
  EnvironmentArn: string;
}

/** What `--data` keeps of Elastic Beanstalk. */
export interface EbState {
  applications: Array<Omit<Application, 'versions'> & { versions: ApplicationVersion[] }>;
  environments: Environment[];
  events: EbEvent[];
  seq: number;
}

type Input = Record<string, unknown>;

const DEFAULT_STACK = '64bit Amazon Linux 2023 v4.4.0 running Docker';
const ENVIRONMENT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]{2,38}[a-zA-Z0-9]$/;
const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789';

function missing(name: string): AwsServiceError {
  return new AwsServiceError('MissingParameter', `The request must contain the parameter ${name}`);
}

function invalidValue(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterValue', message);
}

/** A Query string parameter; botocore sends empty values as `Key=`, which counts as absent. */
function text(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidValue(`Invalid value for parameter ${key}.`);
  return value;
}

function required(input: Input, key: string): string {
  const value = text(input, key);
  if (value === undefined) throw missing(key);
  return value;
}

/** A Query list (`Key.member.N`); botocore sends an empty list as `Key=`. */
function list(input: Input, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (value === '') return [];
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalidValue(`Invalid value for parameter ${key}.`);
  return value as string[];
}

function flag(input: Input, key: string): boolean | undefined {
  const value = text(input, key);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw invalidValue(`Invalid value '${value}' for parameter ${key}: must be true or false.`);
  return value === 'true';
}

function date(input: Input, key: string): number | undefined {
  const value = text(input, key);
  if (value === undefined) return undefined;
  const parsed = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (Number.isNaN(parsed)) throw invalidValue(`Invalid value '${value}' for parameter ${key}.`);
  return parsed;
}

function paginate<T>(items: T[], input: Input, limit: number): { page: T[]; NextToken?: string } {
  const max = text(input, 'MaxRecords') === undefined ? limit : Number(text(input, 'MaxRecords'));
  if (!Number.isInteger(max) || max < 1 || max > limit) throw invalidValue(`Invalid value for parameter MaxRecords: must be between 1 and ${limit}.`);
  const token = text(input, 'NextToken');
  const start = token === undefined ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(start) || start < 0) throw invalidValue('Invalid NextToken.');
  const page = items.slice(start, start + max);
  return start + max < items.length ? { page, NextToken: Buffer.from(String(start + max)).toString('base64url') } : { page };
}

function randomId(length: number): string {
  return [...randomBytes(length)].map((b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join('');
}

/** The images a Docker bundle would pull: Dockerrun v1 `Image.Name`, v2 `containerDefinitions[].image`, compose `image:`. */
export function bundleImages(files: Record<string, Uint8Array>): BundleInspection {
  const dockerrun = files['Dockerrun.aws.json'];
  const compose = files['docker-compose.yml'] ?? files['docker-compose.yaml'];
  if (!dockerrun && !compose) return { ok: false, images: [], reason: 'Neither Dockerrun.aws.json nor docker-compose.yml was found at the root of the source bundle.' };
  const images: string[] = [];
  if (dockerrun) {
    try {
      const doc = JSON.parse(Buffer.from(dockerrun).toString('utf8')) as { Image?: { Name?: unknown }; containerDefinitions?: Array<{ image?: unknown }> };
      if (typeof doc.Image?.Name === 'string') images.push(doc.Image.Name);
      for (const container of Array.isArray(doc.containerDefinitions) ? doc.containerDefinitions : []) {
        if (typeof container?.image === 'string') images.push(container.image);
      }
    } catch {
      return { ok: false, images: [], reason: 'Dockerrun.aws.json is not valid JSON.' };
    }
  }
  if (compose) {
    const source = Buffer.from(compose).toString('utf8');
    try {
      const doc = parseYaml(source) as { services?: Record<string, { image?: unknown }> } | null;
      for (const service of Object.values(doc?.services ?? {})) if (typeof service?.image === 'string') images.push(service.image);
    } catch {
      for (const match of source.matchAll(/^\s*image:\s*["']?([^"'\s#]+)/gm)) images.push(match[1]!);
    }
  }
  return { ok: true, images };
}

/** Unix modes of a zip's entries (external attributes of the central directory; none for entries without one). */
function entryModes(zip: Uint8Array): Record<string, number> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const modes: Record<string, number> = {};
  let end = zip.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) return modes;
  let at = view.getUint32(end + 16, true);
  for (let i = view.getUint16(end + 10, true); i > 0 && view.getUint32(at, true) === 0x02014b50; i--) {
    const nameLength = view.getUint16(at + 28, true);
    const name = Buffer.from(zip.subarray(at + 46, at + 46 + nameLength)).toString('utf8');
    if (view.getUint8(at + 5) === 3) modes[name] = view.getUint32(at + 38, true) >>> 16;
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return modes;
}

/**
 * What keeps instances from running a bundle EB accepted: a platform hook without its executable bit
 * (platform versions before 29 April 2022 run hooks as they are, and fail with EB's message), or a
 * Dockerrun v2 volume whose host.sourcePath in /var/app/current/ is not in the bundle (the containers
 * would start on an empty folder, e.g. an nginx without its configuration).
 */
function runFailure(files: Record<string, Uint8Array>, zip: Uint8Array): string | undefined {
  const modes = entryModes(zip);
  for (const name of Object.keys(files).sort()) {
    if (!/^\.platform\/(hooks|confighooks)\/[^/]+\/[^/]+$/.test(name)) continue;
    const mode = modes[name];
    if (mode !== undefined && (mode & 0o100) === 0) {
      const stage = name.includes('/confighooks/') ? 'RunConfigDeployPreDeployHooks' : 'RunAppDeployPreDeployHooks';
      return `An error occurred during execution of command [app-deploy] - [${stage}]. Stop running the command. Error: Command ${name} failed with error fork/exec ${name}: permission denied`;
    }
  }
  const dockerrun = files['Dockerrun.aws.json'];
  if (!dockerrun) return undefined;
  let volumes: unknown;
  try {
    volumes = JSON.parse(Buffer.from(dockerrun).toString('utf8')).volumes;
  } catch {
    return undefined;
  }
  for (const volume of Array.isArray(volumes) ? volumes : []) {
    const source = volume?.host?.sourcePath;
    if (typeof source !== 'string' || !source.startsWith('/var/app/current/')) continue;
    const inside = source.slice('/var/app/current/'.length).replace(/\/+$/, '');
    if (!Object.keys(files).some((name) => name === inside || name.startsWith(`${inside}/`))) {
      return `Volume ${String(volume?.name)} mounts ${source}, which the source bundle does not contain: the containers started on an empty folder and stopped`;
    }
  }
  return undefined;
}

/** Reads a zip bundle as EB would: the deployable files must sit at its root. */
export function inspectBundle(bundle: Buffer | undefined, location: { S3Bucket: string; S3Key: string }): BundleInspection {
  if (!bundle) return { ok: false, images: [], reason: `Unable to download from S3 location (Bucket: ${location.S3Bucket} Key: ${location.S3Key}). Reason: Not Found` };
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(bundle));
  } catch {
    return { ok: false, images: [], reason: 'The source bundle is not a valid zip file.' };
  }
  const inspection = bundleImages(files);
  const failure = inspection.ok ? runFailure(files, new Uint8Array(bundle)) : undefined;
  return failure ? { ...inspection, runFailure: failure } : inspection;
}

/**
 * Elastic Beanstalk, locally: applications, versions (with bundle processing from the local S3),
 * environments whose launches and updates take time and settle lazily from timestamps, an event stream,
 * and enhanced health; failing images and busy environments come from the faults.
 */
export class LocalElasticBeanstalk {
  private readonly applications = new Map<string, Application>();
  private readonly environments: Environment[] = [];
  private readonly eventLog: EbEvent[] = [];
  private seq = 0;
  private readonly region: string;
  private readonly accountId: string;
  private readonly faults: Faults;
  private readonly readObject: (bucket: string, key: string) => Promise<Buffer | undefined>;

  constructor(options: { region: string; accountId: string; faults: Faults; readObject: (bucket: string, key: string) => Promise<Buffer | undefined> }) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.faults = options.faults;
    this.readObject = options.readObject;
  }

  // ---- in-process API -------------------------------------------------------------------------

  /** Creates an application (seeding). */
  createApplication(name: string, description?: string): void {
    if (this.applications.has(name)) throw invalidValue(`Application ${name} already exists.`);
    const now = new Date();
    this.applications.set(name, { name, ...(description ? { description } : {}), dateCreated: now, dateUpdated: now, versions: new Map() });
  }

  /** Registers an application version (seeding); with `process` the bundle is checked as CreateApplicationVersion Process=true does. */
  async createApplicationVersion(application: string, label: string, options: { bucket?: string; key?: string; process?: boolean; description?: string } = {}): Promise<void> {
    await this.addVersion(application, label, {
      ...(options.bucket && options.key ? { sourceBundle: { S3Bucket: options.bucket, S3Key: options.key } } : {}),
      process: options.process ?? false,
      ...(options.description ? { description: options.description } : {}),
    });
  }

  /** Creates an environment (seeding); it is Launching for `faults.ebLaunchSeconds` (and until its bundle is read), then Ready. */
  createEnvironment(
    application: string,
    name: string,
    options: { versionLabel?: string; solutionStackName?: string; cnamePrefix?: string; enhancedHealth?: boolean } = {},
  ): EnvironmentSnapshot {
    return this.describe(this.launch(application, name, { ...options, requestId: randomUUID() }));
  }

  /** The environment by name as DescribeEnvironments would show it now (the live one, else the last terminated), if any. */
  environment(name: string): EnvironmentSnapshot | undefined {
    const env = this.active(name) ?? this.environments.filter((e) => e.name === name).at(-1);
    return env ? this.describe(env) : undefined;
  }

  /** The events of one environment, oldest first. */
  events(name: string): EbEvent[] {
    for (const env of this.environments) this.refresh(env);
    return this.eventLog.filter((e) => e.EnvironmentName === name);
  }

  /** An application version as stored (its source bundle), if it exists. */
  storedVersion(application: string, label: string): ApplicationVersion | undefined {
    return this.applications.get(application)?.versions.get(label);
  }

  /** Makes an environment busy with someone else's update (Updating, abortable) for `seconds` from now. */
  makeBusy(name: string, seconds: number): void {
    const env = this.active(name);
    if (!env) throw invalidValue(`No Environment found for EnvironmentName = '${name}'.`);
    this.busy(this.refresh(env), seconds);
  }

  hasApplication(name: string): boolean {
    return this.applications.has(name);
  }

  /** Applications, versions, environments (with any operation in flight) and events, to keep across a restart (`--data`). */
  snapshot(): EbState {
    return structuredClone({
      applications: [...this.applications.values()].map(({ versions, ...application }) => ({ ...application, versions: [...versions.values()] })),
      environments: this.environments,
      events: this.eventLog,
      seq: this.seq,
    });
  }

  /** Takes back what snapshot() gave; an operation whose bundle was still being read reads it again. */
  restore(state: EbState): void {
    const kept = structuredClone(state);
    for (const { versions, ...application } of kept.applications) this.applications.set(application.name, { ...application, versions: new Map(versions.map((v) => [v.label, v])) });
    this.environments.push(...kept.environments);
    this.eventLog.push(...kept.events);
    this.seq = Math.max(this.seq, kept.seq);
    for (const env of this.environments) {
      const operation = env.operation;
      if (!operation || operation.inspection || (operation.kind !== 'launch' && operation.kind !== 'update')) continue;
      const label = operation.versionLabel ?? env.versionLabel;
      const version = label === undefined ? undefined : this.applications.get(env.application)?.versions.get(label);
      void this.inspectVersion(version).then((inspection) => {
        operation.inspection = inspection;
      });
    }
  }

  // ---- state ----------------------------------------------------------------------------------

  private arn(kind: string, path: string): string {
    return `arn:aws:elasticbeanstalk:${this.region}:${this.accountId}:${kind}/${path}`;
  }

  private application(name: string): Application {
    const application = this.applications.get(name);
    if (!application) throw invalidValue(`No Application named '${name}' found.`);
    return application;
  }

  private active(name: string): Environment | undefined {
    return this.environments.find((e) => e.name === name && this.refresh(e).status !== 'Terminated');
  }

  private find(input: Input): Environment {
    const name = text(input, 'EnvironmentName');
    const id = text(input, 'EnvironmentId');
    if (!name && !id) throw missing('EnvironmentName');
    const env = id ? this.environments.find((e) => e.id === id && this.refresh(e).status !== 'Terminated') : this.active(name!);
    if (!env) throw invalidValue(id ? `No Environment found for EnvironmentId = '${id}'.` : `No Environment found for EnvironmentName = '${name}'.`);
    return this.refresh(env);
  }

  private log(at: number, env: Environment | { application: string; name?: string }, severity: EventSeverity, message: string, extra: { requestId?: string; versionLabel?: string } = {}): void {
    this.eventLog.push({
      EventDate: new Date(Math.min(at, Date.now())),
      Message: message,
      ApplicationName: env.application,
      ...(env.name ? { EnvironmentName: env.name } : {}),
      ...(extra.versionLabel ? { VersionLabel: extra.versionLabel } : {}),
      ...(extra.requestId ? { RequestId: extra.requestId } : {}),
      Severity: severity,
      seq: this.seq++,
    });
  }

  private async addVersion(applicationName: string, label: string, options: { sourceBundle?: { S3Bucket: string; S3Key: string }; process: boolean; description?: string }): Promise<ApplicationVersion> {
    const application = this.application(applicationName);
    if (label.length < 1 || label.length > 100) throw invalidValue('Version label must be between 1 and 100 characters.');
    if (options.description !== undefined && options.description.length > 200) throw invalidValue('Description must be at most 200 characters.');
    if (application.versions.has(label)) throw invalidValue(`Application Version ${label} already exists.`);
    const total = [...this.applications.values()].reduce((n, a) => n + a.versions.size, 0);
    if (total >= 1000) throw new AwsServiceError('TooManyApplicationVersionsException', 'You cannot have more than 1000 Application Versions.');
    const now = Date.now();
    let outcome: ApplicationVersion['processOutcome'];
    if (options.process) {
      const inspection = options.sourceBundle ? await this.readBundle(options.sourceBundle) : { ok: true };
      outcome = inspection.ok ? 'PROCESSED' : 'FAILED';
    }
    if (application.versions.has(label)) throw invalidValue(`Application Version ${label} already exists.`);
    const version: ApplicationVersion = {
      label,
      application: applicationName,
      ...(options.description ? { description: options.description } : {}),
      ...(options.sourceBundle ? { sourceBundle: options.sourceBundle } : {}),
      dateCreated: new Date(now),
      ...(outcome ? { processedAt: now + this.faults.ebVersionProcessingSeconds * 1000, processOutcome: outcome } : {}),
    };
    application.versions.set(label, version);
    application.dateUpdated = new Date(now);
    return version;
  }

  private version(applicationName: string, label: string): ApplicationVersion {
    const version = this.applications.get(applicationName)?.versions.get(label);
    if (!version) throw invalidValue(`No Application Version named '${label}' found.`);
    return version;
  }

  private versionStatus(version: ApplicationVersion): string {
    if (version.processOutcome === undefined || version.processedAt === undefined) return 'UNPROCESSED';
    return Date.now() < version.processedAt ? 'PROCESSING' : version.processOutcome;
  }

  private async inspectVersion(version: ApplicationVersion | undefined): Promise<BundleInspection> {
    // Without a bundle EB deploys its sample application.
    if (!version?.sourceBundle) return { ok: true, images: [] };
    return this.readBundle(version.sourceBundle);
  }

  /** Reads and inspects a bundle; a failing read counts as a missing bundle, never as a stuck operation. */
  private async readBundle(location: { S3Bucket: string; S3Key: string }): Promise<BundleInspection> {
    let bundle: Buffer | undefined;
    try {
      bundle = await this.readObject(location.S3Bucket, location.S3Key);
    } catch {
      bundle = undefined;
    }
    return inspectBundle(bundle, location);
  }

  private launch(
    applicationName: string,
    name: string,
    options: { versionLabel?: string; solutionStackName?: string; platformArn?: string; cnamePrefix?: string; enhancedHealth?: boolean; requestId: string },
  ): Environment {
    this.application(applicationName);
    if (!ENVIRONMENT_NAME.test(name)) {
      throw invalidValue(`Value ${name} at 'EnvironmentName' failed to satisfy constraint: Member must be 4 to 40 letters, digits or hyphens, and must not start or end with a hyphen.`);
    }
    for (const env of this.environments) this.refresh(env);
    if (this.active(name)) throw invalidValue(`Environment ${name} already exists.`);
    const version = options.versionLabel === undefined ? undefined : this.version(applicationName, options.versionLabel);
    const cnamePrefix = options.cnamePrefix ?? name.toLowerCase();
    if (this.environments.some((e) => e.status !== 'Terminated' && e.cnamePrefix === cnamePrefix)) {
      throw invalidValue(`DNS name (${cnamePrefix}.${this.region}.elasticbeanstalk.com) is not available.`);
    }
    const now = Date.now();
    const solutionStackName = options.platformArn ? undefined : (options.solutionStackName ?? DEFAULT_STACK);
    const env: Environment = {
      id: `e-${randomId(10)}`,
      name,
      application: applicationName,
      cnamePrefix,
      ...(solutionStackName ? { solutionStackName } : {}),
      platformArn: options.platformArn ?? `arn:aws:elasticbeanstalk:${this.region}::platform/Docker running on 64bit Amazon Linux 2023/4.4.0`,
      dateCreated: new Date(now),
      dateUpdated: new Date(now),
      instanceId: `i-0abc${randomBytes(7).toString('hex').slice(0, 13)}`,
      ...(options.versionLabel ? { versionLabel: options.versionLabel } : {}),
      status: 'Ready',
      health: 'Grey',
      healthStatus: 'Pending',
      causes: [],
      enhancedHealth: options.enhancedHealth ?? true,
      deployments: 1,
      operation: { kind: 'launch', requestId: options.requestId, startedAt: now, until: now + this.faults.ebLaunchSeconds * 1000 },
    };
    this.environments.push(env);
    this.log(now, env, 'INFO', EB_MESSAGES.createStarting, { requestId: options.requestId });
    const operation = env.operation;
    // The launch settles only once the bundle is read; reading never rejects.
    void this.inspectVersion(version).then((inspection) => {
      if (operation) operation.inspection = inspection;
    });
    return env;
  }

  private busy(env: Environment, seconds: number): void {
    const now = Date.now();
    const until = now + seconds * 1000;
    if (env.status === 'Terminated') return;
    if (env.operation) {
      env.operation.until = Math.max(env.operation.until, until);
      return;
    }
    const requestId = randomUUID();
    env.operation = { kind: 'busy', requestId, startedAt: now, until };
    env.dateUpdated = new Date(now);
    this.log(now, env, 'INFO', EB_MESSAGES.updateStarting, { requestId });
  }

  /** Brings an environment up to date: picks up the busy fault and settles an operation whose time has come. */
  private refresh(env: Environment): Environment {
    const busySeconds = this.faults.busyEnvironments[env.name];
    if (busySeconds !== undefined && env.status !== 'Terminated') {
      delete this.faults.busyEnvironments[env.name];
      this.busy(env, busySeconds);
    }
    const operation = env.operation;
    if (!operation || Date.now() < operation.until) return env;
    if ((operation.kind === 'update' || operation.kind === 'launch') && !operation.inspection) return env;
    env.operation = undefined;
    const at = operation.until;
    env.dateUpdated = new Date(Math.min(at, Date.now()));
    if (operation.kind === 'busy') {
      env.status = 'Ready';
      this.log(at, env, 'INFO', EB_MESSAGES.updateCompleted, { requestId: operation.requestId });
    } else if (operation.kind === 'terminate') {
      env.status = 'Terminated';
      env.terminatedAt = at;
      env.health = 'Grey';
      env.healthStatus = 'NoData';
      env.causes = [];
      this.log(at, env, 'INFO', EB_MESSAGES.terminateCompleted, { requestId: operation.requestId });
    } else {
      this.deployed(env, operation, at);
    }
    return env;
  }

  /** Settles a launch or an update: green, or red with the events EB writes when the instances cannot run the images. */
  private deployed(env: Environment, operation: PendingOperation, at: number): void {
    const inspection = operation.inspection ?? { ok: true, images: [] };
    const failing = this.faults.failingImages.filter((f) => f !== '');
    const failed = !inspection.ok || inspection.runFailure !== undefined || inspection.images.some((image) => failing.some((f) => image.includes(f)));
    const previous = env.healthStatus;
    const launch = operation.kind === 'launch';
    if (operation.versionLabel !== undefined) env.versionLabel = operation.versionLabel;
    env.status = 'Ready';
    const extra = { requestId: operation.requestId, ...(env.versionLabel ? { versionLabel: env.versionLabel } : {}) };
    let t = at;
    if (failed) {
      env.health = 'Red';
      env.healthStatus = 'Severe';
      env.causes = [
        `Incorrect application version found on all instances. Expected version "${env.versionLabel ?? 'Sample Application'}" (deployment ${env.deployments}).`,
        '100.0 % of the requests are failing with HTTP 5xx.',
        'Command failed on all instances.',
      ];
      this.log(t++, env, 'ERROR', EB_MESSAGES.instanceDeploymentFailed, extra);
      if (inspection.runFailure) this.log(t++, env, 'ERROR', `[Instance: ${env.instanceId}] ${inspection.runFailure}`, extra);
      this.log(t++, env, 'ERROR', `[Instance: ${env.instanceId}] Command failed on instance. Return code: 1 Output: Engine execution has encountered an error..`, extra);
      this.log(t++, env, 'INFO', EB_MESSAGES.commandFailedSummary, extra);
      this.log(t++, env, 'ERROR', `Unsuccessful command execution on instance id(s) '${env.instanceId}'. Aborting the operation.`, extra);
      this.log(t++, env, 'ERROR', EB_MESSAGES.failedToDeploy, extra);
      this.log(t++, env, 'ERROR', launch ? EB_MESSAGES.createCompletedWithErrors : EB_MESSAGES.updateCompletedWithErrors, extra);
      if (previous !== 'Severe') {
        this.log(t++, env, 'WARN', `Environment health has transitioned from ${previous === 'Info' ? 'Ok' : previous} to Severe. ${env.causes.slice(1).join(' ')}`);
      }
    } else {
      env.health = 'Green';
      env.healthStatus = 'Ok';
      env.causes = [];
      this.log(t++, env, 'INFO', EB_MESSAGES.instanceDeploymentCompleted, extra);
      if (launch) {
        this.log(t++, env, 'INFO', `Successfully launched environment: ${env.name}`, extra);
      } else {
        this.log(t++, env, 'INFO', EB_MESSAGES.newVersionDeployed, extra);
        this.log(t++, env, 'INFO', EB_MESSAGES.updateCompleted, extra);
      }
      if (previous !== 'Ok') this.log(t++, env, 'INFO', `Environment health has transitioned from ${previous} to Ok.`);
    }
  }

  private describe(env: Environment): EnvironmentSnapshot {
    const op = env.operation;
    const status = op ? (op.kind === 'launch' ? 'Launching' : op.kind === 'terminate' ? 'Terminating' : 'Updating') : env.status;
    const health = op ? 'Grey' : env.health;
    const healthStatus = op?.kind === 'launch' ? 'Pending' : op?.kind === 'terminate' ? 'Suspended' : op ? 'Info' : env.healthStatus;
    const live = status !== 'Terminated' && status !== 'Launching';
    return {
      EnvironmentName: env.name,
      EnvironmentId: env.id,
      ApplicationName: env.application,
      // As in AWS, an update names the version it deploys while it runs; an abort goes back to the running one.
      ...((op?.kind === 'update' && op.versionLabel) || env.versionLabel ? { VersionLabel: (op?.kind === 'update' && op.versionLabel) || env.versionLabel } : {}),
      ...(env.solutionStackName ? { SolutionStackName: env.solutionStackName } : {}),
      PlatformArn: env.platformArn,
      ...(live ? { EndpointURL: `awseb-${env.id}-AWSEBLoa-${env.id.slice(2, 12).toUpperCase()}-1234567890.${this.region}.elb.amazonaws.com` } : {}),
      ...(status !== 'Terminated' ? { CNAME: `${env.cnamePrefix}.${this.region}.elasticbeanstalk.com` } : {}),
      DateCreated: env.dateCreated,
      DateUpdated: env.dateUpdated,
      Status: status,
      AbortableOperationInProgress: op?.kind === 'update' || op?.kind === 'busy',
      Health: health,
      ...(env.enhancedHealth ? { HealthStatus: healthStatus } : {}),
      Tier: { Name: 'WebServer', Type: 'Standard', Version: '1.0' },
      EnvironmentArn: this.arn('environment', `${env.application}/${env.name}`),
    };
  }

  private describeVersion(version: ApplicationVersion): Record<string, unknown> {
    return {
      ApplicationVersionArn: this.arn('applicationversion', `${version.application}/${version.label}`),
      ApplicationName: version.application,
      ...(version.description ? { Description: version.description } : {}),
      VersionLabel: version.label,
      ...(version.sourceBundle ? { SourceBundle: version.sourceBundle } : {}),
      DateCreated: version.dateCreated,
      DateUpdated: version.dateCreated,
      Status: this.versionStatus(version),
    };
  }

  private describeApplication(application: Application): Record<string, unknown> {
    return {
      ApplicationArn: this.arn('application', application.name),
      ApplicationName: application.name,
      ...(application.description ? { Description: application.description } : {}),
      DateCreated: application.dateCreated,
      DateUpdated: application.dateUpdated,
      Versions: [...application.versions.keys()],
      ConfigurationTemplates: [],
    };
  }

  /** Answers Throttling at faults.throttleRate; called first in an operation, so a throttled write changes nothing. */
  private throttle(): void {
    if (this.faults.throttleRate > 0 && Math.random() < this.faults.throttleRate) throw new AwsServiceError('Throttling', 'Rate exceeded');
  }

  private notReady(env: Environment): AwsServiceError {
    return invalidValue(`Environment named ${env.name} is in an invalid state for this operation. Must be Ready.`);
  }

  /** The OptionSettings UpdateEnvironment gave a live environment (e.g. its environment properties), as given. */
  optionSettings(name: string): Array<{ Namespace: string; OptionName: string; Value: string }> {
    return Object.values(this.active(name)?.optionSettings ?? {});
  }

  /** Reads `aws:elasticbeanstalk:healthreporting:system` SystemType from OptionSettings, when given. */
  private static healthSetting(input: Input): boolean | undefined {
    const settings = Array.isArray(input.OptionSettings) ? (input.OptionSettings as Array<Record<string, unknown>>) : [];
    const setting = settings.find((s) => s?.Namespace === 'aws:elasticbeanstalk:healthreporting:system' && s?.OptionName === 'SystemType');
    return typeof setting?.Value === 'string' ? setting.Value !== 'basic' : undefined;
  }

  readonly handle: (request: LocalRequest) => Promise<LocalResponse> = queryService({
    xmlns: 'https://elasticbeanstalk.amazonaws.com/docs/2010-12-01/',
    operations: {
      CreateApplication: (input: Input) => {
        const name = required(input, 'ApplicationName');
        if (name.length > 100) throw invalidValue('Application name must be at most 100 characters.');
        this.createApplication(name, text(input, 'Description'));
        return { Application: this.describeApplication(this.application(name)) };
      },
      DescribeApplications: (input: Input) => {
        const names = list(input, 'ApplicationNames');
        const applications = [...this.applications.values()].filter((a) => !names || names.length === 0 || names.includes(a.name));
        return { Applications: applications.map((a) => this.describeApplication(a)) };
      },
      CreateApplicationVersion: async (input: Input) => {
        this.throttle();
        const applicationName = required(input, 'ApplicationName');
        const label = required(input, 'VersionLabel');
        const bundle = (input.SourceBundle ?? {}) as Input;
        const bucket = text(bundle, 'S3Bucket');
        const key = text(bundle, 'S3Key');
        if ((bucket === undefined) !== (key === undefined)) throw new AwsServiceError('InvalidParameterCombination', 'Both S3 bucket and key must be specified.');
        if (flag(input, 'AutoCreateApplication') && !this.applications.has(applicationName)) this.createApplication(applicationName);
        const description = text(input, 'Description');
        const version = await this.addVersion(applicationName, label, {
          ...(bucket && key ? { sourceBundle: { S3Bucket: bucket, S3Key: key } } : {}),
          process: flag(input, 'Process') ?? false,
          ...(description === undefined ? {} : { description }),
        });
        return { ApplicationVersion: this.describeVersion(version) };
      },
      DescribeApplicationVersions: (input: Input) => {
        this.throttle();
        const applicationName = text(input, 'ApplicationName');
        const labels = list(input, 'VersionLabels');
        const versions = [...this.applications.values()]
          .filter((a) => applicationName === undefined || a.name === applicationName)
          .flatMap((a) => [...a.versions.values()])
          .filter((v) => !labels || labels.length === 0 || labels.includes(v.label))
          .reverse();
        const { page, NextToken } = paginate(versions, input, 1000);
        return { ApplicationVersions: page.map((v) => this.describeVersion(v)), ...(NextToken ? { NextToken } : {}) };
      },
      DeleteApplicationVersion: (input: Input) => {
        this.throttle();
        const applicationName = required(input, 'ApplicationName');
        const label = required(input, 'VersionLabel');
        this.application(applicationName);
        this.version(applicationName, label);
        const inUse = this.environments
          .map((e) => this.refresh(e))
          .some((e) => e.application === applicationName && e.status !== 'Terminated' && (e.versionLabel === label || e.operation?.versionLabel === label));
        if (inUse) throw invalidValue(`Unable to delete application version ${label} because it is being used by an environment`);
        this.applications.get(applicationName)?.versions.delete(label);
        return {};
      },
      CreateEnvironment: (input: Input, request: LocalRequest) => {
        const applicationName = required(input, 'ApplicationName');
        const name = required(input, 'EnvironmentName');
        const solutionStackName = text(input, 'SolutionStackName');
        const platformArn = text(input, 'PlatformArn');
        if (!solutionStackName && !platformArn && !text(input, 'TemplateName')) {
          throw new AwsServiceError('InvalidParameterCombination', 'One of the following parameters must be specified: SolutionStackName, PlatformArn, TemplateName.');
        }
        if (solutionStackName && platformArn) throw new AwsServiceError('InvalidParameterCombination', 'You cannot specify both SolutionStackName and PlatformArn.');
        const versionLabel = text(input, 'VersionLabel');
        const cnamePrefix = text(input, 'CNAMEPrefix');
        const enhancedHealth = LocalElasticBeanstalk.healthSetting(input);
        const env = this.launch(applicationName, name, {
          requestId: request.requestId,
          ...(versionLabel ? { versionLabel } : {}),
          ...(solutionStackName ? { solutionStackName } : {}),
          ...(platformArn ? { platformArn } : {}),
          ...(cnamePrefix ? { cnamePrefix } : {}),
          ...(enhancedHealth === undefined ? {} : { enhancedHealth }),
        });
        return this.describe(env);
      },
      DescribeEnvironments: (input: Input) => {
        this.throttle();
        const applicationName = text(input, 'ApplicationName');
        const versionLabel = text(input, 'VersionLabel');
        const names = list(input, 'EnvironmentNames');
        const ids = list(input, 'EnvironmentIds');
        const includeDeleted = flag(input, 'IncludeDeleted') ?? true;
        const deletedBackTo = date(input, 'IncludedDeletedBackTo') ?? Date.now() - 3_600_000;
        const environments = this.environments
          .map((e) => this.refresh(e))
          .filter(
            (e) =>
              (applicationName === undefined || e.application === applicationName) &&
              (versionLabel === undefined || e.versionLabel === versionLabel) &&
              (!names || names.length === 0 || names.includes(e.name)) &&
              (!ids || ids.length === 0 || ids.includes(e.id)) &&
              (e.status !== 'Terminated' || (includeDeleted && (e.terminatedAt ?? 0) >= deletedBackTo)),
          );
        const { page, NextToken } = paginate(environments, input, 1000);
        return { Environments: page.map((e) => this.describe(e)), ...(NextToken ? { NextToken } : {}) };
      },
      UpdateEnvironment: async (input: Input, request: LocalRequest) => {
        this.throttle();
        const env = this.find(input);
        const applicationName = text(input, 'ApplicationName');
        if (applicationName !== undefined && applicationName !== env.application) {
          throw invalidValue(`No Environment found for EnvironmentName = '${env.name}' in application '${applicationName}'.`);
        }
        const versionLabel = text(input, 'VersionLabel');
        const version = versionLabel === undefined ? undefined : this.version(env.application, versionLabel);
        if (env.operation || env.status !== 'Ready') throw this.notReady(env);
        const enhancedHealth = LocalElasticBeanstalk.healthSetting(input);
        if (enhancedHealth !== undefined) env.enhancedHealth = enhancedHealth;
        for (const { Namespace, OptionName, Value } of Array.isArray(input.OptionSettings) ? (input.OptionSettings as Input[]) : []) {
          if (typeof Namespace === 'string' && typeof OptionName === 'string' && typeof Value === 'string') {
            env.optionSettings = { ...env.optionSettings, [`${Namespace}:${OptionName}`]: { Namespace, OptionName, Value } };
          }
        }
        const now = Date.now();
        const operation: PendingOperation = {
          kind: 'update',
          requestId: request.requestId,
          startedAt: now,
          until: now + this.faults.ebUpdateSeconds * 1000,
          ...(versionLabel ? { versionLabel } : {}),
        };
        env.operation = operation;
        env.dateUpdated = new Date(now);
        if (version) env.deployments += 1;
        const extra = { requestId: request.requestId, ...(versionLabel ? { versionLabel } : {}) };
        this.log(now, env, 'INFO', EB_MESSAGES.updateStarting, extra);
        if (version) this.log(now, env, 'INFO', EB_MESSAGES.deployingNewVersion, extra);
        const snapshot = this.describe(env);
        operation.inspection = await this.inspectVersion(version ?? (env.versionLabel ? this.applications.get(env.application)?.versions.get(env.versionLabel) : undefined));
        return snapshot;
      },
      TerminateEnvironment: (input: Input, request: LocalRequest) => {
        const env = this.find(input);
        if (env.operation) throw this.notReady(env);
        const now = Date.now();
        env.operation = { kind: 'terminate', requestId: request.requestId, startedAt: now, until: now + this.faults.ebLaunchSeconds * 1000 };
        env.dateUpdated = new Date(now);
        this.log(now, env, 'INFO', EB_MESSAGES.terminateStarting, { requestId: request.requestId });
        return this.describe(env);
      },
      AbortEnvironmentUpdate: (input: Input, request: LocalRequest) => {
        this.throttle();
        const env = this.find(input);
        const operation = env.operation;
        if (!operation || (operation.kind !== 'update' && operation.kind !== 'busy')) {
          throw invalidValue(`Environment named ${env.name} is in an invalid state for this operation. Must be Updating.`);
        }
        // The version only switches when an update settles, so aborting keeps the running one.
        env.operation = undefined;
        env.status = 'Ready';
        env.dateUpdated = new Date();
        this.log(Date.now(), env, 'INFO', 'Environment update is being aborted.', { requestId: request.requestId });
        this.log(Date.now() + 1, env, 'WARN', 'Environment update was aborted.', { requestId: operation.requestId });
        return {};
      },
      DescribeEnvironmentHealth: (input: Input) => {
        this.throttle();
        const name = text(input, 'EnvironmentName');
        const id = text(input, 'EnvironmentId');
        if (!name && !id) throw new AwsServiceError('InvalidRequestException', 'You must specify either EnvironmentName or EnvironmentId.');
        const env = this.environments.map((e) => this.refresh(e)).find((e) => (id ? e.id === id : e.name === name) && e.status !== 'Terminated');
        if (!env) throw new AwsServiceError('InvalidRequestException', id ? `No Environment found for EnvironmentId = '${id}'.` : `No Environment found for EnvironmentName = '${name}'.`);
        if (!env.enhancedHealth) throw new AwsServiceError('InvalidRequestException', 'DescribeEnvironmentHealth is not supported.');
        const snapshot = this.describe(env);
        const op = env.operation;
        const healthStatus = snapshot.HealthStatus ?? 'NoData';
        const causes = op?.kind === 'update' || op?.kind === 'busy'
          ? [`Performing application deployment (running for ${Math.round((Date.now() - op.startedAt) / 1000)} seconds).`]
          : op?.kind === 'launch'
            ? ['Initialization in progress.']
            : env.causes;
        const instances = { NoData: 0, Unknown: 0, Pending: 0, Ok: 0, Info: 0, Warning: 0, Degraded: 0, Severe: 0 };
        if (healthStatus in instances) instances[healthStatus as keyof typeof instances] = 1;
        const all = {
          Status: snapshot.Status,
          HealthStatus: healthStatus,
          Color: snapshot.Health,
          Causes: causes,
          ApplicationMetrics: {
            Duration: 10,
            RequestCount: 600,
            StatusCodes: env.healthStatus === 'Severe' && !op ? { Status2xx: 0, Status3xx: 0, Status4xx: 0, Status5xx: 600 } : { Status2xx: 600, Status3xx: 0, Status4xx: 0, Status5xx: 0 },
          },
          InstancesHealth: instances,
          RefreshedAt: new Date(),
        };
        const wanted = list(input, 'AttributeNames') ?? [];
        const allowed = ['Status', 'Color', 'Causes', 'ApplicationMetrics', 'InstancesHealth', 'All', 'HealthStatus', 'RefreshedAt'];
        const bad = wanted.find((w) => !allowed.includes(w));
        if (bad) throw invalidValue(`Invalid attribute name '${bad}'. Valid values: ${allowed.join(', ')}.`);
        const picked = wanted.length === 0 || wanted.includes('All') ? all : Object.fromEntries(Object.entries(all).filter(([k]) => wanted.includes(k)));
        return { EnvironmentName: env.name, ...picked };
      },
      DescribeEvents: (input: Input) => {
        this.throttle();
        for (const env of this.environments) this.refresh(env);
        const applicationName = text(input, 'ApplicationName');
        const environmentName = text(input, 'EnvironmentName');
        const environmentId = text(input, 'EnvironmentId');
        const versionLabel = text(input, 'VersionLabel');
        const requestId = text(input, 'RequestId');
        const severity = text(input, 'Severity');
        const minimum = severity === undefined ? 0 : SEVERITIES.indexOf(severity as EventSeverity);
        if (minimum < 0) throw invalidValue(`Invalid value '${severity}' for parameter Severity. Valid values: ${SEVERITIES.join(', ')}.`);
        const idName = environmentId === undefined ? undefined : (this.environments.find((e) => e.id === environmentId)?.name ?? '');
        const start = date(input, 'StartTime');
        const end = date(input, 'EndTime');
        const events = this.eventLog
          .filter(
            (e) =>
              (applicationName === undefined || e.ApplicationName === applicationName) &&
              (environmentName === undefined || e.EnvironmentName === environmentName) &&
              (idName === undefined || e.EnvironmentName === idName) &&
              (versionLabel === undefined || e.VersionLabel === versionLabel) &&
              (requestId === undefined || e.RequestId === requestId) &&
              SEVERITIES.indexOf(e.Severity) >= minimum &&
              (start === undefined || e.EventDate.getTime() >= start) &&
              (end === undefined || e.EventDate.getTime() < end),
          )
          .sort((a, b) => b.EventDate.getTime() - a.EventDate.getTime() || b.seq - a.seq);
        const { page, NextToken } = paginate(events, input, 1000);
        return { Events: page.map(({ seq: _seq, ...event }) => event), ...(NextToken ? { NextToken } : {}) };
      },
    },
  });
}
