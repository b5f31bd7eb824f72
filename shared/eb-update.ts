// What deploying a release (deploy.ts) and rolling one back (rollback.ts) share: the UpdateEnvironment
// call, EB's readiness, and the errors that say why an update may not happen. Its own module so Roll
// Back loads neither ECR nor the image checks that only deploying needs (issue 12).
import type { ConfigurationOptionSetting, ElasticBeanstalkClient, EnvironmentDescription } from '@aws-sdk/client-elastic-beanstalk';
import { OperationInProgressException, UpdateEnvironmentCommand } from '@aws-sdk/client-elastic-beanstalk';
import { EnvironmentNotReadyError, SupersededError } from './errors.ts';

export function notReady(environment: string, status: string | undefined, cause?: unknown): EnvironmentNotReadyError {
  return new EnvironmentNotReadyError(
    `environment ${environment} is ${status ?? 'busy'}, not Ready: another operation is running, try again when it ends`,
    { environment, status },
    { cause },
  );
}

export function requireReady(env: EnvironmentDescription, environment: string): void {
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

export async function update(
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

export function window(startedAt: Date, seconds: number): { startedAt: string; deadline: string } {
  return { startedAt: startedAt.toISOString(), deadline: new Date(startedAt.getTime() + seconds * 1000).toISOString() };
}

export function lostEnvironment(environment: string, versionLabel: string, holder: string | null, reason?: string): SupersededError {
  const why = reason ?? (holder ? `execution ${holder} holds it now` : 'our lease ran out');
  return new SupersededError(`${versionLabel} is not deployed to ${environment}: ${why}; nothing goes backwards`, { environment, versionLabel, holder });
}

export function isReadyOn(env: EnvironmentDescription, versionLabel: string | undefined): boolean {
  return versionLabel !== undefined && env.VersionLabel === versionLabel && env.Status === 'Ready' && !env.AbortableOperationInProgress;
}

/** Where a deployment keeps its lease, and whose it is. */
export interface LeaseContext {
  bucket: string;
  execution: string;
}
