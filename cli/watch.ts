import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { DescribeExecutionCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { readableCause } from '../shared/audit.ts';
import { type EbRequest, ebEventsFor, readExecutionHistory } from '../shared/audit-read.ts';
import { type HealthReport, type PipelineState, type StepError, readPipelineState } from '../shared/contracts.ts';
import { dim, duration, green, red, seconds, yellow } from './output.ts';

/** Every page of an execution's history (GetExecutionHistory); the name the commands and tests know. */
export const readHistory = readExecutionHistory;

/**
 * How a deployment ended, as a person or CI reads it: the audit outcome when the record was written
 * (`succeeded` reads `deployed`), else what the execution's status and last state say; `running` when
 * the watch stopped before the execution did.
 */
export type DeploymentOutcome = 'deployed' | 'already-deployed' | 'superseded' | 'rejected' | 'expired' | 'failed' | 'unverified' | 'aborted' | 'running';

/** One execution as far as it was followed. */
export interface WatchedExecution {
  executionArn: string;
  name: string;
  /** Step Functions' status (RUNNING when the watch stopped first). */
  status: string;
  outcome: DeploymentOutcome;
  /** The final output once it succeeded; otherwise the last state the history showed. */
  state: PipelineState;
  /** The last state entered: the Succeed or Fail state once the execution ended. */
  lastState: string | null;
  error?: string;
  cause?: string;
  startedAt: string;
  stoppedAt: string | null;
  durationMs: number;
}

const isHealthReport = (health: PipelineState['health']): health is HealthReport => Boolean(health && 'verdict' in health);

/** How far a deployment is into its health timeout, when the state says both. */
function healthClock(state: PipelineState, checkedAt: string): string {
  const started = state.deployment?.startedAt;
  const timeoutSeconds = state.plan?.health.timeoutSeconds;
  if (!started || !timeoutSeconds) return '';
  return dim(` (${duration(Math.max(0, Date.parse(checkedAt) - Date.parse(started)))} of ${duration(timeoutSeconds * 1000)})`);
}

/** Formats what a finished state said, for the states where it matters to a person. */
function detailOf(name: string, o: PipelineState): string {
  if (name === 'Resolve Plan') return o.plan ? `${o.plan.application} → ${o.plan.stages.map((s) => s.environment).join(', ')}` : '';
  if (name === 'Prepare Release' || name === 'Release To Approve') {
    return o.bundle ? `${o.bundle.versionLabel} s3://${o.bundle.bucket}/${o.bundle.key}${o.bundle.written === false ? ' (already stored)' : ''}` : '';
  }
  if (name === 'Create Version' || name === 'Check Version') return o.version ? `${o.version.versionLabel}: ${o.version.status}` : '';
  if (name === 'Acquire Environment' && o.lease) {
    return o.lease.status === 'acquired' ? `${o.lease.environment}: ours until ${o.lease.expiresAt}` : `${o.lease.environment}: ${o.lease.holder} deploys there now, waiting`;
  }
  if (name === 'Deploy' && o.deployment) {
    const d = o.deployment;
    return d.requestId === 'already-deployed' ? `${d.environment}: already runs these bytes (${d.versionLabel})` : `${d.environment}: ${d.previousVersionLabel ?? '(none)'} → ${d.versionLabel}`;
  }
  if (name === 'Check Health' || name === 'Check Rollback Health') {
    const h = name === 'Check Health' ? o.health : o.rollbackHealth;
    if (!isHealthReport(h)) return h ? red(`${h.Error}: ${readableCause(h.Cause) ?? ''}`) : '';
    const colour = h.verdict === 'healthy' ? green : h.verdict === 'inProgress' ? yellow : red;
    const clock = name === 'Check Health' ? healthClock(o, h.checkedAt) : '';
    return `${h.environment} ${h.status}/${h.health} ${colour(h.verdict)}${h.causes.length ? dim(` — ${h.causes[0]}`) : ''}${clock}`;
  }
  if (name === 'Request Approval' && o.approval) return `${o.approval.decision} by ${o.approval.approver}${o.approval.comment ? ` “${o.approval.comment}”` : ''}`;
  if (name === 'Roll Back' && o.rollback) return `${o.rollback.deployment.environment}: back to ${o.rollback.deployment.versionLabel}`;
  if (name.startsWith('Record ') && o.audit) return dim(`${o.audit.outcome}, ${o.audit.key}`);
  return '';
}

/** What a state being entered tells a person waiting on it (who may approve, and until when). */
function enteredDetail(name: string, o: PipelineState): string {
  if (name === 'Request Approval' && o.stage?.approval) {
    const { approvers, timeoutSeconds } = o.stage.approval;
    return dim(` ${o.stage.environment}: waits for ${approvers.join(' or ')} (expires after ${duration(timeoutSeconds * 1000)})`);
  }
  return '';
}

/** The EB requests a state's result names: our UpdateEnvironment of Deploy, the rollback's of Roll Back. */
function requestsIn(name: string, o: PipelineState): EbRequest[] {
  const deployment = name === 'Deploy' ? o.deployment : name === 'Roll Back' ? o.rollback?.deployment : undefined;
  if (!deployment || deployment.requestId === 'already-deployed' || deployment.requestId === 'unknown') return [];
  return [{ environment: deployment.environment, requestId: deployment.requestId, kind: name === 'Deploy' ? 'deploy' : 'rollback' }];
}

const endStates: Record<string, DeploymentOutcome> = {
  Deployed: 'deployed',
  Superseded: 'superseded',
  Rejected: 'rejected',
  Expired: 'expired',
  Unverified: 'unverified',
  'Deployment Failed': 'failed',
};
const rejections = new Set(['TagPolicyViolationError', 'ApprovalRejectedError', 'ImageNotFoundError', 'UnknownRepositoryError']);
const recordedOutcomes = new Set<string>(['already-deployed', 'superseded', 'rejected', 'expired', 'failed', 'unverified']);

/**
 * Classifies an execution: the audit record's outcome first (what the pipeline itself concluded), then
 * the Succeed or Fail state it ended in, then its error name (the record could not be written).
 */
export function outcomeOf(execution: { status: string; state: PipelineState; lastState: string | null; error?: string }): DeploymentOutcome {
  const { status, state, lastState, error } = execution;
  if (status === 'RUNNING') return 'running';
  if (status === 'ABORTED') return 'aborted';
  const recorded = state.audit?.outcome;
  if (recorded === 'succeeded') return 'deployed';
  if (recorded && recordedOutcomes.has(recorded)) return recorded as DeploymentOutcome;
  if (status === 'SUCCEEDED') {
    if (lastState === 'Superseded' || state.error?.Error === 'SupersededError') return 'superseded';
    return state.stages?.length && state.stages.every((s) => s.outcome === 'already-deployed') ? 'already-deployed' : 'deployed';
  }
  const ended = lastState ? endStates[lastState] : undefined;
  if (ended && status === 'FAILED') return ended;
  if (error && rejections.has(error)) return 'rejected';
  if (error === 'ApprovalExpiredError') return 'expired';
  if (error === 'DeploymentUnverifiedError') return 'unverified';
  return 'failed';
}

/** Options of `followExecution`. */
export interface FollowOptions {
  /** Where each line goes (stdout by default). */
  write?: (line: string) => void;
  /** How long to wait between two readings. */
  pollMs?: number;
  /** Stop following at this time (ms since the epoch), the execution still running. */
  deadline?: number;
  /** Ask EB for the events of our update and rollback requests and print them as they come. */
  eb?: ElasticBeanstalkClient;
}

const errorOf = (event: HistoryEvent): StepError | undefined => {
  const details = Object.entries(event).find(([key]) => key.endsWith('EventDetails'))?.[1] as { error?: string; cause?: string } | undefined;
  return details?.error ? { Error: details.error, ...(details.cause ? { Cause: details.cause } : {}) } : undefined;
};
const failures = new Set(['LambdaFunctionFailed', 'LambdaFunctionTimedOut', 'TaskFailed', 'TaskTimedOut']);

/**
 * Follows one execution through the public API, as any client would (DescribeExecution, then
 * GetExecutionHistory), printing each state as it starts and ends with its duration and what it
 * found, and EB's events of our requests, until the execution ends or the deadline passes. The one
 * reader of an execution's progress: the demo and `greenlight watch` both print through it.
 */
export async function followExecution(sfn: SFNClient, executionArn: string, options: FollowOptions = {}): Promise<WatchedExecution> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const pollMs = options.pollMs ?? 200;
  const entered = new Map<string, number>();
  // The error of the running task's last attempt, until an attempt succeeds: exiting with it set means caught.
  let failedAttempt: StepError | undefined;
  const requests: EbRequest[] = [];
  const ebSeen = new Set<string>();
  let ebReadable = Boolean(options.eb);
  let state: PipelineState = {};
  let lastState: string | null = null;
  let seen = 0;
  for (;;) {
    // Described first: when it says ended, the history read after it is complete.
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const events = await readHistory(sfn, executionArn);
    // This reading's lines, written in time order once EB's events (read after the history) are in.
    const lines: Array<{ at: number; line: string }> = [];
    const say = (at: number, line: string) => lines.push({ at, line });
    for (const event of events.slice(seen)) {
      const at = event.timestamp?.getTime() ?? Date.now();
      if (event.stateEnteredEventDetails?.name) {
        const name = event.stateEnteredEventDetails.name;
        const input = readPipelineState(event.stateEnteredEventDetails.input ?? 'null');
        entered.set(name, at);
        lastState = name;
        failedAttempt = undefined;
        if (Object.keys(input).length > 0) state = input;
        if (event.type === 'WaitStateEntered') say(at, dim(`  … ${name}`));
        else if (event.type !== 'ChoiceStateEntered' && event.type !== 'PassStateEntered') say(at, `  ▶ ${name}${enteredDetail(name, input)}`);
      } else if (event.stateExitedEventDetails?.name) {
        const name = event.stateExitedEventDetails.name;
        const took = at - (entered.get(name) ?? at);
        const output = readPipelineState(event.stateExitedEventDetails.output ?? 'null');
        if (Object.keys(output).length > 0) state = output;
        if (failedAttempt && (event.type === 'TaskStateExited' || event.type === 'MapStateExited')) {
          say(at, `  ${red('✘')} ${name} ${dim(seconds(took))} ${red(`caught ${output.error?.Error ?? failedAttempt.Error}`)}`);
        } else if (event.type === 'TaskStateExited' || event.type === 'MapStateExited') {
          say(at, `  ${green('✔')} ${name} ${dim(seconds(took))} ${detailOf(name, output)}`);
          requests.push(...requestsIn(name, output));
        }
        failedAttempt = undefined;
      } else if (event.type === 'MapStateFailed') {
        failedAttempt = { Error: 'MapStateFailed' };
      } else if (failures.has(event.type ?? '')) {
        failedAttempt = errorOf(event) ?? { Error: event.type ?? 'failed' };
        const cause = readableCause(failedAttempt.Cause);
        say(at, `  ${red('✘')} ${failedAttempt.Error}${cause ? dim(`: ${cause}`) : ''}`);
      } else if (event.type === 'LambdaFunctionSucceeded' || event.type === 'TaskSucceeded') {
        failedAttempt = undefined;
      }
    }
    seen = events.length;
    if (ebReadable && options.eb && requests.length > 0) {
      try {
        for (const e of await ebEventsFor(options.eb, requests)) {
          const key = `${e.requestId} ${e.at} ${e.message}`;
          if (ebSeen.has(key)) continue;
          ebSeen.add(key);
          const severity = e.severity === 'ERROR' || e.severity === 'FATAL' ? red(e.severity) : e.severity === 'WARN' ? yellow(e.severity) : dim(e.severity);
          say(Date.parse(e.at), `    ${dim(`eb ${e.environment}`)} ${severity} ${e.message}${e.kind === 'rollback' ? dim(' (rollback)') : ''}`);
        }
      } catch (error) {
        // Not allowed or not reachable: the steps alone still tell the story.
        ebReadable = false;
        say(Date.now(), dim(`    (EB events not shown: ${(error as Error).name}: ${(error as Error).message})`));
      }
    }
    for (const { line } of lines.sort((x, y) => x.at - y.at)) write(line);
    const status = description.status ?? 'UNKNOWN';
    const ended = status !== 'RUNNING';
    const stopped = !ended && options.deadline !== undefined && Date.now() >= options.deadline;
    if (ended || stopped) {
      if (ended && description.output) state = readPipelineState(description.output);
      const startedAt = description.startDate ?? new Date();
      const result = { status, state, lastState, ...(description.error ? { error: description.error } : {}) };
      const outcome = outcomeOf(result);
      const succeeded = outcome === 'deployed' || outcome === 'already-deployed' || outcome === 'running';
      const cause = succeeded ? null : (readableCause(description.cause) ?? state.audit?.cause ?? readableCause(state.error?.Cause));
      return {
        executionArn,
        name: description.name ?? executionArn.split(':').pop() ?? executionArn,
        ...result,
        outcome,
        ...(cause ? { cause } : {}),
        startedAt: startedAt.toISOString(),
        stoppedAt: description.stopDate?.toISOString() ?? null,
        durationMs: (description.stopDate?.getTime() ?? Date.now()) - startedAt.getTime(),
      };
    }
    const wait = options.deadline === undefined ? pollMs : Math.max(0, Math.min(pollMs, options.deadline - Date.now()));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
