import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import type { HealthReport, StageDeployment } from './contracts.ts';
import { type LeaseContext, rollBack } from './deploy.ts';
import { DeploymentFailedError } from './errors.ts';
import { type HealthCheckError, failureMessage } from './health.ts';

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
