import type { HealthReport, StageDeployment } from './contracts.ts';
import { failureMessage } from './health.ts';
import { DeploymentFailedError } from './errors.ts';
import { rollBack } from './deploy.ts';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';

/** What the state machine carries while it waits for the rollback to be healthy. */
export interface RollbackStarted {
  deployment: StageDeployment;
  /** The cause the execution fails with once the environment is back on the previous version. */
  failureCause: string;
  /** The cause if the previous version does not come back healthy either. */
  rollbackFailureCause: string;
}

/**
 * Starts the rollback of a failed stage deployment; with nothing to roll back to (a first deploy),
 * fails at once with the original cause, since there is no healthier state to return to.
 */
export async function rollBackFailedDeployment(
  { eb }: { eb: ElasticBeanstalkClient },
  { deployment, failure }: { deployment: StageDeployment; failure: HealthReport },
): Promise<RollbackStarted> {
  const cause = failureMessage(failure, deployment);
  const rollback = await rollBack({ eb }, { deployment });
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
