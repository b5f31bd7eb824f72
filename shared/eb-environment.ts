import { DescribeEnvironmentsCommand, type ElasticBeanstalkClient, type EnvironmentDescription } from '@aws-sdk/client-elastic-beanstalk';
import { EnvironmentNotFoundError } from './errors.ts';

// Reading an environment, apart from deploy.ts: Check Health and Request Approval need only this and EB,
// not the lease, the ledger, S3 or ECR that deploying loads (each SDK client is cold-start time).

/** The requestId of a deployment that found its version already running (an idempotent retry). */
export const alreadyDeployed = 'already-deployed';

/** The environment as EB describes it now, or EnvironmentNotFoundError when it is missing or terminated. */
export async function describeEnvironment(eb: ElasticBeanstalkClient, application: string, environment: string): Promise<EnvironmentDescription> {
  const { Environments = [] } = await eb.send(new DescribeEnvironmentsCommand({ ApplicationName: application, EnvironmentNames: [environment] }));
  const found = Environments.find((env) => env.EnvironmentName === environment && env.Status !== 'Terminated');
  if (!found) {
    throw new EnvironmentNotFoundError(`Elastic Beanstalk environment ${environment} of application ${application} does not exist or is terminated`, {
      application,
      environment,
    });
  }
  return found;
}
