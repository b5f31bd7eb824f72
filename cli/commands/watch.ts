import { DescribeImagesCommand, ECRClient, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { type LoadedConfig, loadConfig } from '../../shared/config/load.ts';
import { GreenlightError } from '../../shared/errors.ts';
import { executionArn, executionName } from '../../shared/naming.ts';
import { findApplication } from '../../shared/plan.ts';
import { checkTagSyntax, planStages } from '../../shared/tag-policy.ts';
import { applicationOf } from '../../shared/config/applications.ts';
import { bold, dim, duration, green, red, yellow } from '../output.ts';
import { type DeploymentOutcome, type WatchedExecution, followExecution } from '../watch.ts';
import { auditLocation, readerError } from './history.ts';
import { watchExitCodes, watchExitHelp } from './watch-exit.ts';

export { watchExitCodes, watchExitHelp };

export interface WatchOptions {
  timeout: string;
  json?: boolean;
  config: string;
  stateMachine?: string;
}

/** The clients `watch` uses, built as every AWS tool builds them (AWS_REGION, AWS_ENDPOINT_URL, credentials). */
export interface WatchClients {
  ecr: ECRClient;
  sfn: SFNClient;
  eb: ElasticBeanstalkClient;
}

export function watchClients(): WatchClients {
  return { ecr: new ECRClient({}), sfn: new SFNClient({}), eb: new ElasticBeanstalkClient({}) };
}

/** A usage or configuration problem: nothing was watched (exit 5). */
class WatchUsageError extends Error {
  override readonly name = 'WatchUsageError';
}

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Reads `--timeout`: `90s`, `30m`, `1h30m`, `2h`, or seconds as a bare number. */
export function parseTimeout(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new WatchUsageError(`--timeout "${text}" is not a duration: write 90s, 30m, 1h30m or 2h`);
  }
  return parts.reduce((total, p) => total + Number(p[1]) * unitMs[p[2]!]!, 0);
}

/** What the command line names: an image (by tag, digest or both) or one execution. */
export type WatchTarget =
  | { kind: 'image'; repository: string; tag?: string; digest?: string }
  | { kind: 'execution'; name: string; arn?: string };

const imagePattern = /^(?<repository>[a-z0-9][a-z0-9._/-]*?)(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/;

/**
 * Reads IMAGE|ID: `repo:tag`, `repo@sha256:…`, `repo:tag@sha256:…` (a registry host in front is
 * dropped), an execution ARN, or an execution name (what `greenlight history` lists).
 */
export function parseWatchTarget(text: string): WatchTarget {
  const trimmed = text.trim();
  if (trimmed.startsWith('arn:')) {
    const parts = trimmed.split(':');
    if (parts.length !== 8 || parts[2] !== 'states' || parts[5] !== 'execution') throw new WatchUsageError(`${trimmed} is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)`);
    return { kind: 'execution', name: parts[7]!, arn: trimmed };
  }
  if (!/[:@]/.test(trimmed)) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(trimmed)) throw new WatchUsageError(`"${text}" is neither an image (REPOSITORY:TAG or REPOSITORY@sha256:DIGEST) nor an execution name`);
    return { kind: 'execution', name: trimmed };
  }
  const match = imagePattern.exec(trimmed.replace(/^[^/]+\.amazonaws\.com(?:\.cn)?\//, ''));
  if (!match?.groups) throw new WatchUsageError(`"${text}" is not an image reference: write REPOSITORY:TAG, REPOSITORY@sha256:DIGEST or REPOSITORY:TAG@sha256:DIGEST`);
  const { repository, tag, digest } = match.groups;
  return { kind: 'image', repository: repository!, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Whether the tag policy would deploy this tag anywhere (a push also tagged `latest` is deployed by its other tag). */
function tagDeploys(loaded: LoadedConfig, application: string, tag: string): boolean {
  try {
    checkTagSyntax(tag);
    planStages(tag, loaded.config.applications[application]?.stages ?? [], application);
    return true;
  } catch {
    return false;
  }
}

/** The execution(s) a push started: one per tag of the digest, named as on-image-pushed names them. */
async function executionsOfImage(
  { ecr }: Pick<WatchClients, 'ecr'>,
  loaded: LoadedConfig,
  image: { repository: string; tag?: string; digest?: string },
): Promise<{ application: string; image: { repository: string; tag: string; digest: string }; names: string[]; tags: string[] }> {
  let application: string;
  try {
    application = findApplication(loaded.config, image.repository).application;
  } catch (error) {
    if (error instanceof GreenlightError) throw new WatchUsageError(`${error.message} (${loaded.path})`);
    throw error;
  }
  let tags = image.tag ? [image.tag] : [];
  let digest = image.digest;
  if (!digest || tags.length === 0) {
    const imageId = digest ? { imageDigest: digest } : { imageTag: image.tag! };
    try {
      const { imageDetails = [] } = await ecr.send(new DescribeImagesCommand({ repositoryName: image.repository, imageIds: [imageId] }));
      const detail = imageDetails[0];
      digest ??= detail?.imageDigest;
      if (tags.length === 0) tags = detail?.imageTags ?? [];
    } catch (error) {
      if (error instanceof ImageNotFoundException || error instanceof RepositoryNotFoundException) {
        throw new WatchUsageError(`no image ${image.repository}${image.tag ? `:${image.tag}` : `@${image.digest}`} in ECR (${error.message}): push it first`);
      }
      throw error;
    }
  }
  if (!digest) throw new WatchUsageError(`ECR gave no digest for ${image.repository}:${image.tag}`);
  if (tags.length === 0) throw new WatchUsageError(`${image.repository}@${digest} has no tag: an untagged push never deploys (the tag policy judges tags)`);
  // A digest pushed as v1.2.3 and latest deploys under v1.2.3; follow the tags that deploy (all, if none does).
  const deploying = tags.filter((tag) => tagDeploys(loaded, application, tag));
  const followed = deploying.length > 0 ? deploying : tags;
  const names = followed.map((tag) => executionName(application, { tag, digest }));
  return { application, image: { repository: image.repository, tag: followed[0]!, digest }, names, tags: followed };
}

/** What one followed execution ended as (or where it stood when the watch stopped). */
interface ExecutionResult {
  name: string;
  executionArn: string;
  /** Step Functions' status; null when the execution never appeared. */
  status: string | null;
  outcome: DeploymentOutcome | 'not-started';
  exitCode: number;
  startedAt: string | null;
  stoppedAt: string | null;
  durationMs: number | null;
  /** The state the execution was in when the watch stopped (running), or ended in. */
  lastState: string | null;
  error: string | null;
  cause: string | null;
  versionLabel: string | null;
  environments: Array<{ environment: string; outcome: string; versionLabel: string; health: string | null }>;
  auditRecord: string | null;
}

/** The exit code of one outcome. */
export function exitCodeOf(outcome: DeploymentOutcome | 'not-started'): number {
  switch (outcome) {
    case 'deployed':
    case 'already-deployed':
      return watchExitCodes.deployed;
    case 'rejected':
    case 'expired':
      return watchExitCodes.rejected;
    case 'superseded':
      return watchExitCodes.superseded;
    case 'running':
    case 'not-started':
      return watchExitCodes.timedOut;
    default:
      return watchExitCodes.failed;
  }
}

/** The most serious of several exit codes: failed, timed out, rejected, superseded, deployed. */
function worstOf(codes: number[]): number {
  const order = [watchExitCodes.failed, watchExitCodes.timedOut, watchExitCodes.rejected, watchExitCodes.superseded];
  return order.find((code) => codes.includes(code)) ?? watchExitCodes.deployed;
}

function resultOf(watched: WatchedExecution): ExecutionResult {
  const { state } = watched;
  const stages = state.stages ?? [];
  return {
    name: watched.name,
    executionArn: watched.executionArn,
    status: watched.status,
    outcome: watched.outcome,
    exitCode: exitCodeOf(watched.outcome),
    startedAt: watched.startedAt,
    stoppedAt: watched.stoppedAt,
    durationMs: watched.durationMs,
    lastState: watched.lastState,
    error: watched.error ?? (watched.outcome === 'superseded' ? (state.error?.Error ?? 'SupersededError') : null),
    cause: watched.cause ?? null,
    versionLabel: stages.find((s) => s.release)?.release?.versionLabel ?? stages[0]?.versionLabel ?? state.bundle?.versionLabel ?? null,
    environments: stages.map((s) => ({ environment: s.environment, outcome: s.outcome, versionLabel: s.versionLabel, health: s.health ?? null })),
    auditRecord: state.audit?.key ?? null,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the execution exists (the push's event starts it within seconds), or the deadline passes. */
async function appeared({ sfn }: Pick<WatchClients, 'sfn'>, arn: string, deadline: number, pollMs: number): Promise<boolean> {
  for (;;) {
    try {
      await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      return true;
    } catch (error) {
      if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
    }
    if (Date.now() >= deadline) return false;
    await sleep(Math.max(0, Math.min(pollMs, deadline - Date.now())));
  }
}

const paintOf = (outcome: string) => (outcome === 'deployed' || outcome === 'already-deployed' ? green : outcome === 'superseded' || outcome === 'running' || outcome === 'not-started' ? yellow : red);

/** One line saying how an execution ended; `plain` leaves out colour (for the JSON cause). */
function verdictLine(result: ExecutionResult, timeoutMs: number, plain = false): string {
  const paint = (colour: (text: string) => string) => (plain ? (text: string) => text : colour);
  const [strong, good, warn] = [paint(bold), paint(green), paint(yellow)];
  const took = result.durationMs === null ? '' : ` after ${duration(result.durationMs)}`;
  const where = result.environments.map((e) => `${e.environment}${e.health ? ` (${e.health})` : ''}`).join(', ');
  switch (result.outcome) {
    case 'deployed':
    case 'already-deployed':
      return `${good(strong(result.outcome === 'deployed' ? 'deployed' : 'already deployed'))} ${result.versionLabel ?? ''}${where ? ` to ${where}` : ''}${took}`;
    case 'not-started':
      return `${warn(strong('timed out'))}: no execution ${result.name} appeared within ${duration(timeoutMs)}; was the push event lost? (the reconciler starts missed pushes on its next run)`;
    case 'running':
      return `${warn(strong('timed out'))}: ${result.name} still running after ${duration(timeoutMs)}${result.lastState ? `, at ${result.lastState}` : ''}; the deployment goes on (greenlight show ${result.name})`;
    default:
      return `${paint(paintOf(result.outcome))(strong(result.outcome))}${took}: ${result.error ?? ''}${result.cause ? `: ${result.cause}` : ''}`;
  }
}

/**
 * `greenlight watch IMAGE|ID`: for CI after `docker push`. Finds the execution(s) of the push by their
 * deterministic names, waits for them to appear, follows them live and exits with a code that says
 * how they ended (watchExitCodes); --json prints one object at the end and nothing else on stdout.
 */
export async function watchCommand(target: string, options: WatchOptions, clients: WatchClients = watchClients()): Promise<number> {
  const started = Date.now();
  const out = options.json ? process.stderr : process.stdout;
  const write = (line: string) => out.write(`${line}\n`);
  const where = auditLocation(options);
  let timeoutMs = 0;
  let image: { repository: string; tag: string; digest: string } | null = null;
  let application: string | null = null;
  let executions: Array<{ name: string; arn: string }> = [];
  try {
    timeoutMs = parseTimeout(options.timeout);
    const parsed = parseWatchTarget(target);
    const stateMachineArn = where.stateMachineArn;
    const arnGiven = parsed.kind === 'execution' ? parsed.arn : undefined;
    if (!arnGiven && !stateMachineArn) {
      throw new WatchUsageError('no state machine: pass --state-machine or set GREENLIGHT_STATE_MACHINE_ARN (the DeployPipelineArn output of the stack; with AWS_ENDPOINT_URL set, `greenlight local`\u2019s)');
    }
    if (parsed.kind === 'execution') {
      const loaded = tryLoad(options.config);
      if (!parsed.arn && loaded && applicationOf(loaded.config, parsed.name)) {
        throw new WatchUsageError(`${parsed.name} is a repository: name the image with its tag (${parsed.name}:TAG) or digest (${parsed.name}@sha256:…)`);
      }
      executions = [{ name: parsed.name, arn: parsed.arn ?? executionArn(stateMachineArn!, parsed.name) }];
    } else {
      let loaded: LoadedConfig;
      try {
        loaded = loadConfig(options.config);
      } catch (error) {
        if (error instanceof GreenlightError) throw new WatchUsageError(error.message);
        throw error;
      }
      const found = await executionsOfImage(clients, loaded, parsed);
      image = found.image;
      application = found.application;
      executions = found.names.map((name) => ({ name, arn: executionArn(stateMachineArn!, name) }));
      write(dim(`${parsed.repository}@${found.image.digest} (${found.tags.join(', ')}) deploys application ${found.application}`));
    }
  } catch (error) {
    if (error instanceof WatchUsageError) return finish(options, { target, image, application, executions: [], cause: error.message, exitCode: watchExitCodes.usage }, write);
    const message = watchError(error, where) ?? (/not a state machine ARN/.test((error as Error).message) ? `${(error as Error).message} (check --state-machine / GREENLIGHT_STATE_MACHINE_ARN)` : undefined);
    if (message) return finish(options, { target, image, application, executions: [], cause: message, exitCode: watchExitCodes.usage }, write);
    throw error;
  }

  const deadline = started + timeoutMs;
  // The local endpoint answers at once and costs nothing; AWS throttles DescribeExecution, so ask less often there.
  const pollMs = process.env.AWS_ENDPOINT_URL ? 200 : 2000;
  const results: ExecutionResult[] = [];
  try {
    for (const { name, arn } of executions) {
      write(`${bold('execution')} ${name}${executions.length === 1 ? '' : dim(` (${results.length + 1} of ${executions.length})`)}`);
      let result: ExecutionResult;
      if (await appeared(clients, arn, deadline, pollMs)) {
        const watched = await followExecution(clients.sfn, arn, { write, pollMs, deadline, eb: clients.eb });
        result = resultOf(watched);
        application ??= watched.state.plan?.application ?? null;
        const pushed = watched.state.plan?.image ?? watched.state.image;
        image ??= pushed ? { repository: pushed.repository, tag: pushed.tag, digest: pushed.digest } : null;
      } else {
        result = notStarted(name, arn);
      }
      results.push(result);
      write(`${paintOf(result.outcome)('■')} ${verdictLine(result, timeoutMs)}`);
    }
  } catch (error) {
    const message = watchError(error, where);
    if (message) return finish(options, { target, image, application, executions: results, cause: message, exitCode: watchExitCodes.usage }, write);
    throw error;
  }
  const exitCode = worstOf(results.map((r) => r.exitCode));
  const deciding = results.find((r) => r.exitCode === exitCode);
  const cause = deciding && exitCode !== watchExitCodes.deployed ? verdictLine(deciding, timeoutMs, true) : null;
  return finish(options, { target, image, application, executions: results, cause, exitCode }, write);
}

/** What went wrong asking AWS, in words CI's owner can act on (undefined: not an error we know). */
function watchError(error: unknown, where: { stateMachineArn?: string }): string | undefined {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'AccessDenied' || e?.name === 'AccessDeniedException' || e?.$metadata?.httpStatusCode === 403) {
    return `not allowed (${e.message}); watch needs ecr:DescribeImages, states:DescribeExecution and states:GetExecutionHistory on the pipeline's executions, and elasticbeanstalk:DescribeEvents`;
  }
  return readerError(error, where);
}

function tryLoad(path: string): LoadedConfig | undefined {
  try {
    return loadConfig(path);
  } catch {
    return undefined;
  }
}

function notStarted(name: string, arn: string): ExecutionResult {
  return {
    name,
    executionArn: arn,
    status: null,
    outcome: 'not-started',
    exitCode: watchExitCodes.timedOut,
    startedAt: null,
    stoppedAt: null,
    durationMs: null,
    lastState: null,
    error: null,
    cause: null,
    versionLabel: null,
    environments: [],
    auditRecord: null,
  };
}

const outcomeNames: Record<number, string> = { 0: 'deployed', 1: 'failed', 2: 'rejected', 3: 'superseded', 4: 'timed-out', 5: 'usage-error' };

/** The one answer: a JSON object on stdout (--json), or the cause on stderr; returns the exit code. */
function finish(
  options: WatchOptions,
  answer: { target: string; image: unknown; application: string | null; executions: ExecutionResult[]; cause: string | null; exitCode: number },
  write: (line: string) => void,
): number {
  const only = answer.executions.length === 1 ? answer.executions[0] : undefined;
  const outcome = only && only.outcome !== 'not-started' && only.outcome !== 'running' ? only.outcome : (outcomeNames[answer.exitCode] ?? 'failed');
  if (answer.exitCode === watchExitCodes.usage && answer.cause) process.stderr.write(`${red('error:')} ${answer.cause}\n`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ target: answer.target, outcome, exitCode: answer.exitCode, cause: answer.cause, application: answer.application, image: answer.image, executions: answer.executions }, null, 2)}\n`);
  }
  if (answer.executions.length > 1) write(dim(`${answer.executions.length} executions; exit ${answer.exitCode} (${outcome})`));
  return answer.exitCode;
}
