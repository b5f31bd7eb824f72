import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { AbortEnvironmentUpdateCommand } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import type { HealthReport, StageDeployment } from './contracts.ts';
import { alreadyDeployed, describeEnvironment } from './eb-environment.ts';
import { isReadyOn, type LeaseContext, lostEnvironment, notReady, requireReady, update, window } from './eb-update.ts';
import { leaseSecondsFor, recordPendingUpdate } from './environments/lease.ts';
import { readLedger } from './environments/ledger.ts';
import { DeploymentFailedError, SupersededError } from './errors.ts';
import { type HealthCheckError, failureMessage } from './health.ts';
import { firstLook } from './health-schedule.ts';

/** What the state machine carries while it waits for the rollback to be healthy. */
export interface RollbackStarted {
  deployment: StageDeployment;
  /** The cause the execution fails with once the environment is back on the previous version. */
  failureCause: string;
  /** The cause if the previous version does not come back healthy either. */
  rollbackFailureCause: string;
}

/**
 * Starts the rollback of a failed (or unverifiable) stage deployment of our own; with nothing to
 * roll back to (a first deploy), fails at once with the original cause.
 */
export async function rollBackFailedDeployment(
  clients: { eb: ElasticBeanstalkClient; s3: S3Client },
  input: LeaseContext & { deployment: StageDeployment; failure: HealthReport | HealthCheckError },
): Promise<RollbackStarted> {
  const { deployment, failure } = input;
  const cause = failureMessage(failure, deployment);
  const rollback = await rollBack(clients, { bucket: input.bucket, execution: input.execution, deployment });
  if (!rollback) {
    throw new DeploymentFailedError(`${cause} There is no previous version to roll back to; ${deployment.environment} stays on ${deployment.versionLabel}.`, {
      environment: deployment.environment,
      versionLabel: deployment.versionLabel,
    });
  }
  return {
    deployment: rollback,
    failureCause: `${cause} Rolled back to ${rollback.versionLabel}.`,
    rollbackFailureCause: `${cause} The rollback to ${rollback.versionLabel} did not become healthy either: ${deployment.environment} needs a person now.`,
  };
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
