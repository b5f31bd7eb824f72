import { queryService } from '../../protocol/query.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from '../../protocol/types.ts';
import { describedLifecycle, lifecycleFromInput, updatedLifecycle } from './version-lifecycle.ts';
import { EB_MESSAGES, EbLifecycle, type Environment, type EventSeverity, invalidValue, missing, type PendingOperation, SEVERITIES } from './lifecycle.ts';

/** Elastic Beanstalk's Query-protocol operations (the wire): parameters in, the lifecycle's answers out. */

type Input = Record<string, unknown>;

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

export abstract class EbWire extends EbLifecycle {
  protected find(input: Input): Environment {
    const name = text(input, 'EnvironmentName');
    const id = text(input, 'EnvironmentId');
    if (!name && !id) throw missing('EnvironmentName');
    const env = id ? this.environments.find((e) => e.id === id && this.refresh(e).status !== 'Terminated') : this.active(name!);
    if (!env) throw invalidValue(id ? `No Environment found for EnvironmentId = '${id}'.` : `No Environment found for EnvironmentName = '${name}'.`);
    return this.refresh(env);
  }

  /** Answers Throttling at the throttleRate fault; called first in an operation, so a throttled write changes nothing. */
  protected throttle(): void {
    this.faults.throttle('elasticbeanstalk');
  }

  /** The OptionSettings UpdateEnvironment gave a live environment (e.g. its environment properties), as given. */
  optionSettings(name: string): Array<{ Namespace: string; OptionName: string; Value: string }> {
    return Object.values(this.active(name)?.optionSettings ?? {});
  }

  /** Reads `aws:elasticbeanstalk:healthreporting:system` SystemType from OptionSettings, when given. */
  protected static healthSetting(input: Input): boolean | undefined {
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
        const lifecycle = input.ResourceLifecycleConfig === undefined ? undefined : updatedLifecycle(undefined, lifecycleFromInput(input.ResourceLifecycleConfig));
        this.createApplication(name, text(input, 'Description'));
        const application = this.application(name);
        if (lifecycle) application.resourceLifecycleConfig = lifecycle;
        return { Application: this.describeApplication(application) };
      },
      UpdateApplicationResourceLifecycle: (input: Input) => {
        const application = this.application(required(input, 'ApplicationName'));
        if (input.ResourceLifecycleConfig === undefined) throw missing('ResourceLifecycleConfig');
        this.updateResourceLifecycle(application.name, lifecycleFromInput(input.ResourceLifecycleConfig));
        return { ApplicationName: application.name, ResourceLifecycleConfig: describedLifecycle(application.resourceLifecycleConfig) };
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
        const enhancedHealth = EbWire.healthSetting(input);
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
        const enhancedHealth = EbWire.healthSetting(input);
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
          until: now + this.faults.timings.ebUpdateSeconds * 1000,
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
        env.operation = { kind: 'terminate', requestId: request.requestId, startedAt: now, until: now + this.faults.timings.ebLaunchSeconds * 1000 };
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
