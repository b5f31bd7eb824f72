import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { DescribeEnvironmentHealthCommand, DescribeEventsCommand, InvalidRequestException } from '@aws-sdk/client-elastic-beanstalk';
import type { HealthPolicy, HealthReport, LookPlan, StageDeployment } from './contracts.ts';
import { alreadyDeployed, describeEnvironment } from './eb-environment.ts';
import { afterLook, firstLook, learnedUpdate } from './health-schedule.ts';

/** What one look at an environment saw, before any judgement. */
export interface EnvironmentSnapshot {
  status: string;
  health: string;
  healthStatus: string | null;
  versionLabel: string | null;
  abortableOperationInProgress: boolean;
  /** Enhanced-health causes (empty without enhanced health). */
  healthCauses: string[];
  /** ERROR events of our request, newest first. */
  errorEvents: string[];
}

function dedupe(texts: string[]): string[] {
  return [...new Set(texts.filter((text) => text.trim() !== ''))];
}

/**
 * Judges a snapshot against the health policy; EB ERROR events and a version that silently did not
 * change count as failures even when EB calls the environment Ready.
 */
export function classifyHealth(snapshot: EnvironmentSnapshot, policy: HealthPolicy, deployment: StageDeployment, now: Date): HealthReport {
  const ready = snapshot.status === 'Ready';
  const settled = ready && !snapshot.abortableOperationInProgress;
  const ours = snapshot.versionLabel === deployment.versionLabel;
  // Settled on a third version: somebody else deployed it after ours; judging it is not ours to do.
  const replaced = settled && !ours && snapshot.versionLabel !== deployment.previousVersionLabel;
  const healthy = settled && ours && (policy.accept as string[]).includes(snapshot.health);
  const failed = snapshot.errorEvents.length > 0 || (ready && ours && snapshot.health === 'Red') || (settled && !ours);
  const timedOut = now.getTime() > Date.parse(deployment.deadline);
  const verdict = replaced ? 'replaced' : failed ? 'failed' : healthy ? 'healthy' : timedOut ? 'timedOut' : 'inProgress';
  return {
    verdict,
    environment: deployment.environment,
    status: snapshot.status,
    health: snapshot.health,
    healthStatus: snapshot.healthStatus,
    versionLabel: snapshot.versionLabel,
    causes: dedupe([...snapshot.errorEvents, ...snapshot.healthCauses]),
    checkedAt: now.toISOString(),
  };
}

function isNotSupported(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return (error instanceof InvalidRequestException || e?.name === 'InvalidRequestException') && /not supported/i.test(e.message ?? '');
}

/**
 * The look after this one: the waits so far and the next Wait's seconds, from the plan this look
 * followed (the previous look's, or Deploy's first); and once healthy, how long the update took.
 */
export function nextLook(
  report: HealthReport,
  deployment: StageDeployment,
  previous: HealthReport | null | undefined,
  /** When EB last changed the environment (its DateUpdated): on a healthy look, when the update finished. */
  updatedAt?: Date,
): NonNullable<HealthReport['look']> {
  const followed: LookPlan = previous?.look ?? deployment.look ?? firstLook([]);
  const startedAt = Date.parse(deployment.startedAt);
  const plan = afterLook(followed, (Date.parse(report.checkedAt) - startedAt) / 1000);
  const doneClockSeconds = updatedAt ? (updatedAt.getTime() - startedAt) / 1000 : null;
  return { ...plan, learned: report.verdict === 'healthy' ? learnedUpdate(followed, plan, doneClockSeconds) : null };
}

/** Looks at the environment once (status, enhanced health, ERROR events of our update) for the state machine's wait loop. */
export async function checkHealth(
  { eb }: { eb: ElasticBeanstalkClient },
  input: { deployment: StageDeployment; policy: HealthPolicy; previous?: HealthReport | null; now?: Date },
): Promise<HealthReport> {
  const { deployment } = input;
  const env = await describeEnvironment(eb, deployment.application, deployment.environment);

  let healthStatus: string | null = env.HealthStatus ?? null;
  let healthCauses: string[] = [];
  try {
    const enhanced = await eb.send(new DescribeEnvironmentHealthCommand({ EnvironmentName: deployment.environment, AttributeNames: ['All'] }));
    healthStatus = enhanced.HealthStatus ?? healthStatus;
    healthCauses = enhanced.Causes ?? [];
  } catch (error) {
    if (!isNotSupported(error)) throw error;
  }

  const ownRequest = deployment.requestId !== alreadyDeployed && deployment.requestId !== 'unknown';
  const { Events = [] } = await eb.send(
    new DescribeEventsCommand({
      ApplicationName: deployment.application,
      EnvironmentName: deployment.environment,
      ...(ownRequest ? { RequestId: deployment.requestId } : {}),
      Severity: 'ERROR',
      StartTime: new Date(deployment.startedAt),
    }),
  );
  const errorEvents = [...Events]
    .sort((a, b) => (b.EventDate?.getTime() ?? 0) - (a.EventDate?.getTime() ?? 0))
    .map((event) => event.Message ?? '')
    .filter((message) => message !== '');

  const snapshot: EnvironmentSnapshot = {
    status: env.Status ?? 'Unknown',
    health: env.Health ?? 'Grey',
    healthStatus,
    versionLabel: env.VersionLabel ?? null,
    abortableOperationInProgress: env.AbortableOperationInProgress ?? false,
    healthCauses,
    errorEvents,
  };
  const report = classifyHealth(snapshot, input.policy, deployment, input.now ?? new Date());
  return { ...report, look: nextLook(report, deployment, input.previous, env.DateUpdated) };
}

/** Why health could not be judged: the error of the last Check Health, as Step Functions caught it. */
export interface HealthCheckError {
  Error: string;
  Cause?: string;
}

/** The one-paragraph cause of a DeploymentFailedError: where, which version, and what EB said. */
export function failureMessage(report: HealthReport | HealthCheckError, deployment: StageDeployment): string {
  if (!('verdict' in report)) {
    return `Deployment of version ${deployment.versionLabel} to environment ${deployment.environment} (application ${deployment.application}) could not be verified: checking its health kept failing (${report.Error}${report.Cause ? `: ${report.Cause.slice(0, 300)}` : ''}).`;
  }
  const what = report.verdict === 'timedOut' ? `did not become healthy by ${deployment.deadline}` : 'failed';
  const health = report.healthStatus ? `${report.health} (${report.healthStatus})` : report.health;
  const running = report.versionLabel === deployment.versionLabel ? 'it runs our version' : `it runs ${report.versionLabel ?? 'no version'}`;
  const said = report.causes.length > 0 ? `EB said: ${report.causes.map((cause) => JSON.stringify(cause)).join('; ')}.` : 'EB reported no error events or health causes.';
  return `Deployment of version ${deployment.versionLabel} to environment ${deployment.environment} (application ${deployment.application}) ${what}: status ${report.status}, health ${health}, ${running}. ${said}`;
}
