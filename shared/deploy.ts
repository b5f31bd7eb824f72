import type { ConfigurationOptionSetting, ElasticBeanstalkClient, EnvironmentDescription } from '@aws-sdk/client-elastic-beanstalk';
import {
  AbortEnvironmentUpdateCommand,
  OperationInProgressException,
  UpdateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { S3Client } from '@aws-sdk/client-s3';
import { storedSha256 } from './bundle/stored-sha256.ts';
import type { StageDeployment, StoredBundle } from './contracts.ts';
import { leaseSecondsFor, type PushedImage, type UpdatePermission, recordPendingUpdate, renewLease } from './environments/lease.ts';
import { readLedger } from './environments/ledger.ts';
import { firstLook } from './health-schedule.ts';
import { BundleIntegrityError, EnvironmentNotReadyError, SupersededError } from './errors.ts';
import { alreadyDeployed, describeEnvironment } from './eb-environment.ts';
import { verifyImagesExist } from './ecr-images.ts';

/** Reading an environment lives in eb-environment.ts (Check Health needs it without what deploying loads). */
export { alreadyDeployed, describeEnvironment };

function notReady(environment: string, status: string | undefined, cause?: unknown): EnvironmentNotReadyError {
  return new EnvironmentNotReadyError(
    `environment ${environment} is ${status ?? 'busy'}, not Ready: another operation is running, try again when it ends`,
    { environment, status },
    { cause },
  );
}

function requireReady(env: EnvironmentDescription, environment: string): void {
  if (env.Status !== 'Ready' || env.AbortableOperationInProgress) {
    throw notReady(environment, env.AbortableOperationInProgress ? `${env.Status ?? 'Updating'} (an update is in progress)` : env.Status);
  }
}

/** EB answers "invalid state for this operation" as InvalidParameterValue, not a class of its own. */
function isBusy(error: unknown): boolean {
  if (error instanceof OperationInProgressException) return true;
  const e = error as { name?: string; Code?: string; message?: string };
  return (e?.name === 'InvalidParameterValue' || e?.Code === 'InvalidParameterValue') && /invalid state for this operation/i.test(e.message ?? '');
}

/** Where EB keeps an environment's environment properties (the variables its containers get). */
export const environmentPropertiesNamespace = 'aws:elasticbeanstalk:application:environment';

/** A stage's environment variables as UpdateEnvironment option settings; none when the stage has none. */
export function environmentOptionSettings(variables: Record<string, string> | undefined): ConfigurationOptionSetting[] {
  return Object.entries(variables ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([OptionName, Value]) => ({ Namespace: environmentPropertiesNamespace, OptionName, Value }));
}

async function update(
  eb: ElasticBeanstalkClient,
  application: string,
  environment: string,
  versionLabel: string,
  status: string | undefined,
  variables?: Record<string, string>,
): Promise<string> {
  const optionSettings = environmentOptionSettings(variables);
  try {
    const output = await eb.send(
      new UpdateEnvironmentCommand({
        ApplicationName: application,
        EnvironmentName: environment,
        VersionLabel: versionLabel,
        // The same version in every stage; only the environment's own settings differ.
        ...(optionSettings.length > 0 ? { OptionSettings: optionSettings } : {}),
      }),
    );
    return output.$metadata?.requestId ?? 'unknown';
  } catch (error) {
    if (isBusy(error)) throw notReady(environment, status, error);
    throw error;
  }
}

function window(startedAt: Date, seconds: number): { startedAt: string; deadline: string } {
  return { startedAt: startedAt.toISOString(), deadline: new Date(startedAt.getTime() + seconds * 1000).toISOString() };
}

/** How long a holder keeps an environment (in lease.ts: Acquire Environment needs it without EB and ECR). */
export { leaseSecondsFor };

function lostEnvironment(environment: string, versionLabel: string, holder: string | null, reason?: string): SupersededError {
  const why = reason ?? (holder ? `execution ${holder} holds it now` : 'our lease ran out');
  return new SupersededError(`${versionLabel} is not deployed to ${environment}: ${why}; nothing goes backwards`, { environment, versionLabel, holder });
}

function isReadyOn(env: EnvironmentDescription, versionLabel: string | undefined): boolean {
  return versionLabel !== undefined && env.VersionLabel === versionLabel && env.Status === 'Ready' && !env.AbortableOperationInProgress;
}

/** Where a deployment keeps its lease, and whose it is. */
export interface LeaseContext {
  bucket: string;
  execution: string;
}

/**
 * Deploys a release to one environment while this execution holds its lease: bytes already running
 * there end as already deployed; otherwise the images and the stored bundle are verified, the update
 * is recorded in the ledger before it is made (a retry after a timeout resumes it instead of
 * updating twice), and a newer push of the same repository that arrived meanwhile supersedes us.
 */
export async function deployRelease(
  { eb, ecr, s3 }: { eb: ElasticBeanstalkClient; ecr: ECRClient; s3: S3Client },
  input: LeaseContext & {
    application: string;
    environment: string;
    release: StoredBundle;
    image: PushedImage;
    healthTimeoutSeconds: number;
    /** The stage's environment properties, set in the same UpdateEnvironment call as the version. */
    environmentVariables?: Record<string, string>;
    now?: Date;
  },
): Promise<StageDeployment> {
  const { application, environment, release, execution } = input;
  const versionLabel = release.versionLabel;
  const now = input.now ?? new Date();
  const env = await describeEnvironment(eb, application, environment);
  const { ledger } = await readLedger(s3, input.bucket, application, environment);
  if (ledger.lease?.holder !== execution) throw lostEnvironment(environment, versionLabel, ledger.lease?.holder ?? null);
  const base = { application, environment, versionLabel };

  // The health checks' first look: about as long as this environment's recent updates took.
  const look = firstLook(ledger.learnedUpdates);
  let pending = ledger.lease.update?.kind === 'deploy' && ledger.lease.update.versionLabel === versionLabel ? ledger.lease.update : null;
  if (!pending) {
    const sameBytesRun = ledger.deployed?.bundleSha256 === release.sha256 && isReadyOn(env, ledger.deployed.versionLabel);
    if (sameBytesRun || isReadyOn(env, versionLabel)) {
      return { ...base, versionLabel: env.VersionLabel ?? versionLabel, previousVersionLabel: env.VersionLabel ?? null, requestId: alreadyDeployed, ...window(now, input.healthTimeoutSeconds) };
    }
    const pushedAt = await verifyImagesExist(ecr, release.images);
    const images = Object.entries(release.images).map(([repository, reference]) => ({
      repository,
      digest: reference.split('@')[1] ?? '',
      tag: repository === input.image.repository ? input.image.tag : `(in ${release.versionLabel})`,
      pushedAt: repository === input.image.repository ? input.image.pushedAt : (pushedAt[repository] as string),
    }));
    const sha = await storedSha256(s3, release.bucket, release.key);
    if (sha !== release.sha256) {
      throw new BundleIntegrityError(
        `the bundle s3://${release.bucket}/${release.key} ${sha === null ? 'is gone' : `hashes to ${sha}, not ${release.sha256}`}: it was changed or deleted after it was rendered, so it is not deployed; push again to render it anew`,
        { bucket: release.bucket, key: release.key, expected: release.sha256, actual: sha },
      );
    }
    if (env.Status !== 'Ready' || env.AbortableOperationInProgress) {
      // Someone else's operation runs there: keep the environment ours while the state machine waits.
      await renewLease({ s3 }, { bucket: input.bucket, application, environment, execution, leaseSeconds: leaseSecondsFor(input.healthTimeoutSeconds), now });
      requireReady(env, environment);
    }
    const permission: UpdatePermission = await recordPendingUpdate({ s3 }, {
      bucket: input.bucket,
      application,
      environment,
      execution,
      pushed: input.image,
      images,
      update: { kind: 'deploy', versionLabel, previousVersionLabel: env.VersionLabel ?? null, startedAt: now.toISOString() },
      leaseSeconds: leaseSecondsFor(input.healthTimeoutSeconds),
      now,
    });
    if (permission.kind === 'lost') throw lostEnvironment(environment, versionLabel, permission.holder, permission.reason);
    if (permission.kind === 'resume') pending = permission.update;
  }
  if (pending) {
    const resumed = { ...base, previousVersionLabel: pending.previousVersionLabel, ...window(new Date(pending.startedAt), input.healthTimeoutSeconds), look };
    // The update reached EB before the step was cut short: follow it rather than start it again.
    if (env.VersionLabel === versionLabel) return { ...resumed, requestId: 'unknown' };
    requireReady(env, environment);
    return { ...resumed, requestId: await update(eb, application, environment, versionLabel, env.Status, input.environmentVariables) };
  }
  const requestId = await update(eb, application, environment, versionLabel, env.Status, input.environmentVariables);
  return { ...base, previousVersionLabel: env.VersionLabel ?? null, requestId, ...window(now, input.healthTimeoutSeconds), look };
}

/**
 * Puts back the version that ran before our failed deployment, only while this execution holds the
 * environment and it still runs our version (or is on its way back): never another execution's
 * deployment, never a version someone deployed since. Null when there was nothing before.
 */
export async function rollBack(
  { eb, s3 }: { eb: ElasticBeanstalkClient; s3: S3Client },
  input: LeaseContext & { deployment: StageDeployment; now?: Date },
): Promise<StageDeployment | null> {
  const { deployment, execution } = input;
  const previous = deployment.previousVersionLabel;
  if (previous === null || previous === deployment.versionLabel) return null;
  const now = input.now ?? new Date();
  const seconds = Math.max(1, Math.round((Date.parse(deployment.deadline) - Date.parse(deployment.startedAt)) / 1000));
  const { application, environment } = deployment;
  const env = await describeEnvironment(eb, application, environment);
  const { ledger } = await readLedger(s3, input.bucket, application, environment);
  if (ledger.lease?.holder !== execution) throw lostEnvironment(environment, deployment.versionLabel, ledger.lease?.holder ?? null);
  if (env.VersionLabel !== deployment.versionLabel && env.VersionLabel !== previous) {
    throw new SupersededError(
      `${environment} runs ${env.VersionLabel ?? 'no version'}, deployed outside this execution after ours: it is not ours to roll back`,
      { environment, versionLabel: deployment.versionLabel, running: env.VersionLabel },
    );
  }
  // A rollback is an update too: its health is looked at on the environment's learned schedule.
  const base = { application, environment, versionLabel: previous, previousVersionLabel: deployment.versionLabel, look: firstLook(ledger.learnedUpdates) };
  // Back already: the first look at once.
  if (isReadyOn(env, previous)) return { ...base, look: { ...base.look, nextSeconds: 0 }, requestId: alreadyDeployed, ...window(now, seconds) };
  if (env.AbortableOperationInProgress) {
    // Our own update is still rolling out (we hold the lease): stop it, and EB puts the previous version back.
    if (env.VersionLabel === deployment.versionLabel) await eb.send(new AbortEnvironmentUpdateCommand({ EnvironmentName: environment }));
    throw notReady(environment, 'aborting our timed-out update');
  }
  requireReady(env, environment);
  const permission = await recordPendingUpdate({ s3 }, {
    bucket: input.bucket,
    application,
    environment,
    execution,
    update: { kind: 'rollback', versionLabel: previous, previousVersionLabel: deployment.versionLabel, startedAt: now.toISOString() },
    leaseSeconds: leaseSecondsFor(seconds),
    now,
  });
  if (permission.kind === 'lost') throw lostEnvironment(environment, deployment.versionLabel, permission.holder, permission.reason);
  // 'resume' here means the rollback was recorded but never reached EB (it would be Updating or on `previous` by now).
  const requestId = await update(eb, application, environment, previous, env.Status);
  return { ...base, requestId, ...window(now, seconds) };
}
