import { AwsServiceError } from '../../protocol/types.ts';

const invalidValue = (message: string) => new AwsServiceError('InvalidParameterValue', message);

/*
 * Elastic Beanstalk's application version lifecycle (UpdateApplicationResourceLifecycle), as the
 * developer guide describes it ("Configuring application version lifecycle settings"):
 *  - the policy is applied each time a version is created, after it is created: the new version does
 *    not count towards MaxCount, and a creation refused by the quota applies nothing;
 *  - at most 100 versions are deleted per application each time; more go at the next creation;
 *  - a version an environment runs (or is being updated to) is never deleted, nor one deployed to an
 *    environment terminated less than ten weeks before;
 *  - DeleteSourceFromS3 deletes the version's source bundle too; otherwise it stays in S3.
 */

export interface MaxCountRule {
  Enabled: boolean;
  MaxCount?: number;
  DeleteSourceFromS3?: boolean;
}

export interface MaxAgeRule {
  Enabled: boolean;
  MaxAgeInDays?: number;
  DeleteSourceFromS3?: boolean;
}

/** ApplicationResourceLifecycleConfig, as CreateApplication and UpdateApplicationResourceLifecycle take it and DescribeApplications shows it. */
export interface ResourceLifecycleConfig {
  ServiceRole?: string;
  VersionLifecycleConfig?: { MaxCountRule?: MaxCountRule; MaxAgeRule?: MaxAgeRule };
}

/** What DescribeApplications shows for an application whose lifecycle was never set: both rules off, the console's defaults. */
export const defaultVersionLifecycle = {
  MaxCountRule: { Enabled: false, MaxCount: 200, DeleteSourceFromS3: false },
  MaxAgeRule: { Enabled: false, MaxAgeInDays: 180, DeleteSourceFromS3: false },
} as const;

/** EB deletes at most this many versions of an application each time it applies the policy. */
export const maxDeletionsPerRun = 100;
/** Versions deployed to an environment terminated this recently are kept. */
export const terminatedEnvironmentGraceMs = 10 * 7 * 86_400_000;

type Input = Record<string, unknown>;

function flag(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'true' || value === true) return true;
  if (value === 'false' || value === false) return false;
  throw invalidValue(`Invalid value '${String(value)}' for parameter ${name}: must be true or false.`);
}

function count(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw invalidValue(`Invalid value '${String(value)}' for parameter ${name}: must be a whole number.`);
  return number;
}

function rule<R extends MaxCountRule | MaxAgeRule>(input: unknown, name: string, limit: 'MaxCount' | 'MaxAgeInDays'): R | undefined {
  if (input === undefined) return undefined;
  if (!input || typeof input !== 'object') throw invalidValue(`Invalid value for parameter ${name}.`);
  const fields = input as Input;
  const enabled = flag(fields.Enabled, `${name}.Enabled`);
  if (enabled === undefined) throw invalidValue(`The request must contain the parameter ${name}.Enabled`);
  const bound = count(fields[limit], `${name}.${limit}`);
  const deleteSource = flag(fields.DeleteSourceFromS3, `${name}.DeleteSourceFromS3`);
  return { Enabled: enabled, ...(bound === undefined ? {} : { [limit]: bound }), ...(deleteSource === undefined ? {} : { DeleteSourceFromS3: deleteSource }) } as R;
}

/** Reads a ResourceLifecycleConfig from a Query request (`ResourceLifecycleConfig.VersionLifecycleConfig.MaxCountRule.Enabled=true`, …). */
export function lifecycleFromInput(input: unknown): ResourceLifecycleConfig {
  if (!input || typeof input !== 'object') throw invalidValue('Invalid value for parameter ResourceLifecycleConfig.');
  const { ServiceRole, VersionLifecycleConfig } = input as Input;
  if (ServiceRole !== undefined && typeof ServiceRole !== 'string') throw invalidValue('Invalid value for parameter ResourceLifecycleConfig.ServiceRole.');
  const versions = VersionLifecycleConfig as Input | undefined;
  if (versions !== undefined && (!versions || typeof versions !== 'object')) throw invalidValue('Invalid value for parameter ResourceLifecycleConfig.VersionLifecycleConfig.');
  const maxCount = rule<MaxCountRule>(versions?.MaxCountRule, 'ResourceLifecycleConfig.VersionLifecycleConfig.MaxCountRule', 'MaxCount');
  const maxAge = rule<MaxAgeRule>(versions?.MaxAgeRule, 'ResourceLifecycleConfig.VersionLifecycleConfig.MaxAgeRule', 'MaxAgeInDays');
  return {
    ...(ServiceRole ? { ServiceRole } : {}),
    ...(versions ? { VersionLifecycleConfig: { ...(maxCount ? { MaxCountRule: maxCount } : {}), ...(maxAge ? { MaxAgeRule: maxAge } : {}) } } : {}),
  };
}

/**
 * The configuration after an update: a new VersionLifecycleConfig replaces the old one; the service role
 * is kept when not given (EB persists it), and is needed once rules are set.
 */
export function updatedLifecycle(current: ResourceLifecycleConfig | undefined, change: ResourceLifecycleConfig): ResourceLifecycleConfig {
  const ServiceRole = change.ServiceRole ?? current?.ServiceRole;
  const VersionLifecycleConfig = change.VersionLifecycleConfig ?? current?.VersionLifecycleConfig;
  if (VersionLifecycleConfig && !ServiceRole) {
    throw invalidValue('ServiceRole is required the first time a VersionLifecycleConfig is given for an application.');
  }
  return { ...(ServiceRole ? { ServiceRole } : {}), ...(VersionLifecycleConfig ? { VersionLifecycleConfig } : {}) };
}

/** What DescribeApplications and UpdateApplicationResourceLifecycle answer: the rules as set, the defaults for rules never set. */
export function describedLifecycle(config: ResourceLifecycleConfig | undefined): ResourceLifecycleConfig {
  return {
    ...(config?.ServiceRole ? { ServiceRole: config.ServiceRole } : {}),
    VersionLifecycleConfig: {
      MaxCountRule: { ...defaultVersionLifecycle.MaxCountRule, ...config?.VersionLifecycleConfig?.MaxCountRule },
      MaxAgeRule: { ...defaultVersionLifecycle.MaxAgeRule, ...config?.VersionLifecycleConfig?.MaxAgeRule },
    },
  };
}

export interface LifecycleVersion {
  readonly label: string;
  readonly dateCreated: Date;
}

/**
 * The versions the policy deletes now, each with whether its source bundle goes too. `older` is every
 * version of the application but the one just created, oldest first; `kept` says whether a version is
 * in use (never deleted).
 */
export function versionsToDelete<V extends LifecycleVersion>(older: readonly V[], config: ResourceLifecycleConfig | undefined, kept: (label: string) => boolean, now: number): Array<{ version: V; deleteSource: boolean }> {
  const rules = config?.VersionLifecycleConfig;
  const chosen = new Map<V, boolean>();
  const maxCount = rules?.MaxCountRule;
  if (maxCount?.Enabled && maxCount.MaxCount !== undefined) {
    let excess = older.length - maxCount.MaxCount;
    for (const version of older) {
      if (excess <= 0) break;
      if (kept(version.label)) continue;
      chosen.set(version, maxCount.DeleteSourceFromS3 ?? false);
      excess -= 1;
    }
  }
  const maxAge = rules?.MaxAgeRule;
  if (maxAge?.Enabled && maxAge.MaxAgeInDays !== undefined) {
    const oldest = now - maxAge.MaxAgeInDays * 86_400_000;
    for (const version of older) {
      if (version.dateCreated.getTime() >= oldest || kept(version.label)) continue;
      chosen.set(version, (chosen.get(version) ?? false) || (maxAge.DeleteSourceFromS3 ?? false));
    }
  }
  return older
    .filter((version) => chosen.has(version))
    .slice(0, maxDeletionsPerRun)
    .map((version) => ({ version, deleteSource: chosen.get(version) ?? false }));
}
