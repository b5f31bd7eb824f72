import { randomBytes, randomUUID } from 'node:crypto';
import type { FaultInjector } from '../../faults.ts';
import { AwsServiceError } from '../../protocol/types.ts';
import { type BundleInspection, inspectBundle } from './bundle-inspection.ts';
import { describedLifecycle, type ResourceLifecycleConfig, terminatedEnvironmentGraceMs, updatedLifecycle, versionsToDelete } from './version-lifecycle.ts';

/*
 * Environment lifecycle. The settled state is Ready or Terminated; an operation in flight overlays it
 * (Status, Health Grey) until its time has passed, and the environment settles lazily when next read.
 *
 *   from          operation (kind)                    shows                      settles to
 *   (created)     CreateEnvironment     (launch)      Launching  Grey/Pending    Ready Green|Red (bundle read)
 *   Ready         UpdateEnvironment     (update)      Updating   Grey/Info       Ready Green|Red (bundle read)
 *   Ready         busy fault / makeBusy (busy)        Updating   Grey/Info       Ready (health unchanged)
 *   Updating      AbortEnvironmentUpdate              (AWS: Aborting)            Ready at once, the running version kept
 *   Ready         TerminateEnvironment  (terminate)   Terminating Grey/Suspended Terminated Grey/NoData
 *
 * Red: the bundle cannot be deployed, the instances cannot run it, or it names a failing image (faults).
 * Only Ready without an operation accepts UpdateEnvironment; anything but an operation in flight accepts TerminateEnvironment.
 */

/** Event severities in EB's order: DescribeEvents' `Severity` is a minimum. */
export const SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
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


export interface Application {
  readonly name: string;
  readonly description?: string;
  readonly dateCreated: Date;
  dateUpdated: Date;
  readonly versions: Map<string, ApplicationVersion>;
  /** The version lifecycle (UpdateApplicationResourceLifecycle), applied at each CreateApplicationVersion. */
  resourceLifecycleConfig?: ResourceLifecycleConfig;
}

export interface ApplicationVersion {
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
export interface PendingOperation {
  readonly kind: 'launch' | 'update' | 'busy' | 'terminate';
  readonly requestId: string;
  readonly startedAt: number;
  until: number;
  readonly versionLabel?: string;
  /** Filled once the bundle is read; an update does not settle before. */
  inspection?: BundleInspection;
}

export interface Environment {
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

/** Events the local event stream keeps, newest; five times what one DescribeEvents page (MaxRecords) can return. */
export const keptEvents = 5000;
/** Application versions per region, every application together (Elastic Beanstalk's quota). */
export const applicationVersionQuota = 1000;
const DEFAULT_STACK = '64bit Amazon Linux 2023 v4.4.0 running Docker';
const ENVIRONMENT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]{2,38}[a-zA-Z0-9]$/;
const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function missing(name: string): AwsServiceError {
  return new AwsServiceError('MissingParameter', `The request must contain the parameter ${name}`);
}

export function invalidValue(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterValue', message);
}

function randomId(length: number): string {
  return [...randomBytes(length)].map((b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join('');
}

/** Elastic Beanstalk's state: applications, versions, environments and their operations, the event stream. */
export abstract class EbLifecycle {
  protected readonly applications = new Map<string, Application>();
  protected readonly environments: Environment[] = [];
  protected readonly eventLog: EbEvent[] = [];
  protected seq = 0;
  protected readonly region: string;
  protected readonly accountId: string;
  protected readonly faults: FaultInjector;
  protected readonly readObject: (bucket: string, key: string) => Promise<Buffer | undefined>;
  /** Deletes a source bundle (the lifecycle's DeleteSourceFromS3). */
  protected readonly deleteObject: (bucket: string, key: string) => Promise<void>;

  constructor(options: {
    region: string;
    accountId: string;
    faults: FaultInjector;
    readObject: (bucket: string, key: string) => Promise<Buffer | undefined>;
    deleteObject?: (bucket: string, key: string) => Promise<void>;
  }) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.faults = options.faults;
    this.readObject = options.readObject;
    this.deleteObject = options.deleteObject ?? (async () => undefined);
  }

  /** Creates an application (seeding). */
  createApplication(name: string, description?: string): void {
    if (this.applications.has(name)) throw invalidValue(`Application ${name} already exists.`);
    const now = new Date();
    this.applications.set(name, { name, ...(description ? { description } : {}), dateCreated: now, dateUpdated: now, versions: new Map() });
  }

  /** Sets an application's version lifecycle (UpdateApplicationResourceLifecycle); it applies from the next CreateApplicationVersion. */
  updateResourceLifecycle(applicationName: string, change: ResourceLifecycleConfig): ResourceLifecycleConfig {
    const application = this.application(applicationName);
    application.resourceLifecycleConfig = updatedLifecycle(application.resourceLifecycleConfig, change);
    application.dateUpdated = new Date();
    return describedLifecycle(application.resourceLifecycleConfig);
  }

  // ---- state ----------------------------------------------------------------------------------

  protected arn(kind: string, path: string): string {
    return `arn:aws:elasticbeanstalk:${this.region}:${this.accountId}:${kind}/${path}`;
  }

  protected application(name: string): Application {
    const application = this.applications.get(name);
    if (!application) throw invalidValue(`No Application named '${name}' found.`);
    return application;
  }

  protected active(name: string): Environment | undefined {
    return this.environments.find((e) => e.name === name && this.refresh(e).status !== 'Terminated');
  }


  protected log(at: number, env: Environment | { application: string; name?: string }, severity: EventSeverity, message: string, extra: { requestId?: string; versionLabel?: string } = {}): void {
    // EB keeps six weeks of events; here the newest keptEvents, so a long run does not grow with every deployment.
    if (this.eventLog.length >= keptEvents) this.eventLog.splice(0, this.eventLog.length - keptEvents + 1);
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

  protected async addVersion(applicationName: string, label: string, options: { sourceBundle?: { S3Bucket: string; S3Key: string }; process: boolean; description?: string }): Promise<ApplicationVersion> {
    const application = this.application(applicationName);
    if (label.length < 1 || label.length > 100) throw invalidValue('Version label must be between 1 and 100 characters.');
    if (options.description !== undefined && options.description.length > 200) throw invalidValue('Description must be at most 200 characters.');
    if (application.versions.has(label)) throw invalidValue(`Application Version ${label} already exists.`);
    const total = [...this.applications.values()].reduce((n, a) => n + a.versions.size, 0);
    if (total >= applicationVersionQuota) {
      throw new AwsServiceError('TooManyApplicationVersionsException', `You cannot have more than ${applicationVersionQuota} Application Versions. Either remove some Application Versions or request a limit increase.`);
    }
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
      ...(outcome ? { processedAt: now + this.faults.timings.ebVersionProcessingSeconds * 1000, processOutcome: outcome } : {}),
    };
    application.versions.set(label, version);
    application.dateUpdated = new Date(now);
    this.applyVersionLifecycle(application, version);
    return version;
  }

  /** Applies the application's version lifecycle after a version was created (see version-lifecycle.ts). */
  private applyVersionLifecycle(application: Application, created: ApplicationVersion): void {
    const config = application.resourceLifecycleConfig;
    if (!config?.VersionLifecycleConfig) return;
    const now = Date.now();
    const inUse = new Set<string>();
    for (const env of this.environments) {
      if (env.application !== application.name) continue;
      const live = this.refresh(env).status !== 'Terminated';
      if (!live && (env.terminatedAt ?? 0) < now - terminatedEnvironmentGraceMs) continue;
      if (env.versionLabel !== undefined) inUse.add(env.versionLabel);
      if (live && env.operation?.versionLabel !== undefined) inUse.add(env.operation.versionLabel);
    }
    const older = [...application.versions.values()].filter((v) => v !== created);
    for (const { version, deleteSource } of versionsToDelete(older, config, (label) => inUse.has(label), now)) {
      application.versions.delete(version.label);
      const bundle = version.sourceBundle;
      // As EB's service role would; a bundle already gone is no failure of the lifecycle.
      if (deleteSource && bundle) void this.deleteObject(bundle.S3Bucket, bundle.S3Key).catch(() => undefined);
    }
  }

  protected version(applicationName: string, label: string): ApplicationVersion {
    const version = this.applications.get(applicationName)?.versions.get(label);
    if (!version) throw invalidValue(`No Application Version named '${label}' found.`);
    return version;
  }

  protected versionStatus(version: ApplicationVersion): string {
    if (version.processOutcome === undefined || version.processedAt === undefined) return 'UNPROCESSED';
    return Date.now() < version.processedAt ? 'PROCESSING' : version.processOutcome;
  }

  protected async inspectVersion(version: ApplicationVersion | undefined): Promise<BundleInspection> {
    // Without a bundle EB deploys its sample application.
    if (!version?.sourceBundle) return { ok: true, images: [] };
    return this.readBundle(version.sourceBundle);
  }

  /** Reads and inspects a bundle; a failing read counts as a missing bundle, never as a stuck operation. */
  protected async readBundle(location: { S3Bucket: string; S3Key: string }): Promise<BundleInspection> {
    let bundle: Buffer | undefined;
    try {
      bundle = await this.readObject(location.S3Bucket, location.S3Key);
    } catch {
      bundle = undefined;
    }
    return inspectBundle(bundle, location);
  }

  protected launch(
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
      operation: { kind: 'launch', requestId: options.requestId, startedAt: now, until: now + this.faults.timings.ebLaunchSeconds * 1000 },
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

  protected busy(env: Environment, seconds: number): void {
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
  protected refresh(env: Environment): Environment {
    const busySeconds = env.status === 'Terminated' ? undefined : this.faults.takeBusy(env.name);
    if (busySeconds !== undefined) this.busy(env, busySeconds);
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
  protected deployed(env: Environment, operation: PendingOperation, at: number): void {
    const inspection = operation.inspection ?? { ok: true, images: [] };
    const failed = !inspection.ok || inspection.runFailure !== undefined || inspection.images.some((image) => this.faults.failingImage(image));
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

  protected describe(env: Environment): EnvironmentSnapshot {
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

  protected describeVersion(version: ApplicationVersion): Record<string, unknown> {
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

  protected describeApplication(application: Application): Record<string, unknown> {
    return {
      ApplicationArn: this.arn('application', application.name),
      ApplicationName: application.name,
      ...(application.description ? { Description: application.description } : {}),
      DateCreated: application.dateCreated,
      DateUpdated: application.dateUpdated,
      Versions: [...application.versions.keys()],
      ConfigurationTemplates: [],
      ResourceLifecycleConfig: describedLifecycle(application.resourceLifecycleConfig),
    };
  }


  protected notReady(env: Environment): AwsServiceError {
    return invalidValue(`Environment named ${env.name} is in an invalid state for this operation. Must be Ready.`);
  }
}
