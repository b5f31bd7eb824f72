import type { ElasticBeanstalkClient, EnvironmentDescription } from '@aws-sdk/client-elastic-beanstalk';
import {
  AbortEnvironmentUpdateCommand,
  DescribeApplicationVersionsCommand,
  DescribeEnvironmentsCommand,
  OperationInProgressException,
  UpdateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import { pushedAtFromDescription } from './bundle/store.ts';
import type { StageDeployment } from './contracts.ts';
import { EnvironmentNotFoundError, EnvironmentNotReadyError, SupersededError } from './errors.ts';

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

async function update(eb: ElasticBeanstalkClient, application: string, environment: string, versionLabel: string, status: string | undefined): Promise<string> {
  try {
    const output = await eb.send(new UpdateEnvironmentCommand({ ApplicationName: application, EnvironmentName: environment, VersionLabel: versionLabel }));
    return output.$metadata?.requestId ?? 'unknown';
  } catch (error) {
    if (isBusy(error)) throw notReady(environment, status, error);
    throw error;
  }
}

function window(now: Date, seconds: number): { startedAt: string; deadline: string } {
  return { startedAt: now.toISOString(), deadline: new Date(now.getTime() + seconds * 1000).toISOString() };
}

async function pushedAtOf(eb: ElasticBeanstalkClient, application: string, versionLabel: string): Promise<string | undefined> {
  const { ApplicationVersions = [] } = await eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: application, VersionLabels: [versionLabel] }));
  return pushedAtFromDescription(ApplicationVersions.find((v) => v.VersionLabel === versionLabel)?.Description);
}

/**
 * Starts the deployment of a version to one environment, refusing to go backwards past a newer push
 * and treating "already running it" as success so a retried Deploy never redeploys.
 */
export async function deployToEnvironment(
  { eb }: { eb: ElasticBeanstalkClient },
  input: { application: string; environment: string; versionLabel: string; pushedAt: string; healthTimeoutSeconds: number; now?: Date },
): Promise<StageDeployment> {
  const { application, environment, versionLabel } = input;
  const now = input.now ?? new Date();
  const env = await describeEnvironment(eb, application, environment);
  const current = env.VersionLabel ?? null;

  if (current === versionLabel && env.Status === 'Ready' && !env.AbortableOperationInProgress) {
    return { application, environment, versionLabel, previousVersionLabel: null, requestId: alreadyDeployed, ...window(now, input.healthTimeoutSeconds) };
  }
  if (current !== null && current !== versionLabel) {
    const currentPushedAt = await pushedAtOf(eb, application, current);
    if (currentPushedAt !== undefined && Date.parse(currentPushedAt) > Date.parse(input.pushedAt)) {
      throw new SupersededError(
        `environment ${environment} runs ${current} (image pushed ${currentPushedAt}), newer than ${versionLabel} (pushed ${input.pushedAt}); deploying ours would go backwards`,
        { application, environment, versionLabel, currentVersionLabel: current, pushedAt: input.pushedAt, currentPushedAt },
      );
    }
  }
  requireReady(env, environment);
  const requestId = await update(eb, application, environment, versionLabel, env.Status);
  return { application, environment, versionLabel, previousVersionLabel: current, requestId, ...window(now, input.healthTimeoutSeconds) };
}

/**
 * Puts the version that ran before a failed deployment back, with the same health window; null when
 * there was nothing before to go back to.
 */
export async function rollBack(
  { eb }: { eb: ElasticBeanstalkClient },
  input: { deployment: StageDeployment; now?: Date },
): Promise<StageDeployment | null> {
  const { deployment } = input;
  const previous = deployment.previousVersionLabel;
  if (previous === null || previous === deployment.versionLabel) return null;
  const now = input.now ?? new Date();
  const seconds = Math.max(1, Math.round((Date.parse(deployment.deadline) - Date.parse(deployment.startedAt)) / 1000));
  const env = await describeEnvironment(eb, deployment.application, deployment.environment);
  const base = { application: deployment.application, environment: deployment.environment, versionLabel: previous, previousVersionLabel: deployment.versionLabel };
  if (env.VersionLabel === previous && env.Status === 'Ready' && !env.AbortableOperationInProgress) {
    return { ...base, requestId: alreadyDeployed, ...window(now, seconds) };
  }
  if (env.AbortableOperationInProgress) {
    // A deployment that timed out may still be rolling out: stop it, and EB puts the previous version back.
    await eb.send(new AbortEnvironmentUpdateCommand({ EnvironmentName: deployment.environment }));
    throw notReady(deployment.environment, 'aborting the timed-out update');
  }
  requireReady(env, deployment.environment);
  const requestId = await update(eb, deployment.application, deployment.environment, previous, env.Status);
  return { ...base, requestId, ...window(now, seconds) };
}
