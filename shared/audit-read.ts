import { DescribeEventsCommand, type ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { ListObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { AuditInput, type AuditRecord, Outcome, auditKey, buildAuditRecord, readableCause } from './audit.ts';
import { type AuditRow, byIdListPrefix, indexPrefix, parseIndexKey, startAfterFor, startedAtOfByIdKey } from './audit-index.ts';
import * as z from './zod.ts';
import {
  ApprovalDecision,
  AuditWritten,
  EnvironmentLease,
  HealthReport,
  Plan,
  type PipelineState,
  RecordedTimeline,
  RollbackStarted,
  StageDeployment,
  StoredBundle,
  type Timeline,
  type TimelineApproval,
  type TimelineEbEvent,
  type TimelineStep,
  VersionStatus,
  readPipelineState,
} from './contracts.ts';
import { readJsonObject } from './s3-objects.ts';

export type { AuditRow } from './audit-index.ts';

/** What `greenlight history` (and the HTML report) may ask of the index; every filter is optional. */
export interface AuditFilters {
  application?: string;
  environment?: string;
  /** Only deployments started at or after this time (the listing stops at the first older one). */
  since?: Date;
  /** Only deployments started at or before this time (the listing starts there). */
  until?: Date;
  /** Outcomes to keep (`running` included); all when empty. */
  outcomes?: readonly string[];
  limit?: number;
}

/** Every value `--outcome` accepts: the audit outcomes, `running`, and `deployed` (= succeeded). */
export function outcomeNames(): string[] {
  // A function, not a constant: audit.ts and this module import each other, so nothing of audit.ts runs at load.
  return [...Outcome.options, 'running', 'deployed'];
}

/** Reads `--outcome a,b`: unknown names fail with the list of known ones; `deployed` means succeeded. */
export function parseOutcomes(text: string): string[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const known = outcomeNames();
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0 || names.length === 0) throw new RangeError(`unknown outcome ${unknown.join(', ') || '""'}: use ${known.join(', ')} (comma-separated)`);
  return [...new Set(names.map((n) => (n === 'deployed' ? 'succeeded' : n)))];
}

const units: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Reads `--since`/`--until`: a duration back from now (`90m`, `12h`, `30d`, `2w`) or a date
 * (`2024-05-01`: the day's start for since, its end for until; or a full ISO time).
 */
export function parseTimeBound(text: string, bound: 'since' | 'until', now = new Date()): Date {
  const trimmed = text.trim();
  const relative = /^(\d+)\s*([mhdw])$/.exec(trimmed);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * units[relative[2]!]!);
  if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) {
    const day = Date.parse(`${trimmed}T00:00:00Z`);
    if (Number.isFinite(day) && new Date(day).toISOString().startsWith(trimmed)) return new Date(bound === 'since' ? day : day + units.d! - 1);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed) && Number.isFinite(Date.parse(trimmed))) {
    return new Date(Date.parse(trimmed));
  }
  throw new RangeError(`--${bound} "${text}" is neither a duration (90m, 12h, 30d, 2w) nor a date (2024-05-01 or 2024-05-01T12:00:00Z)`);
}

/** Whether a row passes the filters (all but `limit`); rows of running executions are filtered with it too. */
export function rowMatches(row: AuditRow, filters: AuditFilters): boolean {
  if (filters.since && Date.parse(row.startedAt) < filters.since.getTime()) return false;
  if (filters.application !== undefined && row.application !== filters.application) return false;
  if (filters.environment !== undefined && !row.environments.includes(filters.environment)) return false;
  if (filters.outcomes?.length && !filters.outcomes.includes(row.outcome)) return false;
  if (filters.until && Date.parse(row.startedAt) > filters.until.getTime()) return false;
  return true;
}


/**
 * The index rows matching the filters, newest first, one listing page (1,000 keys) at a time; only
 * rows too long for their key (`*` fields, rare) cost a GetObject of their index entry.
 *
 * Pages are read with ListObjects and Marker = the last key read: the same pages as ListObjectsV2 with
 * StartAfter, same permission (s3:ListBucket). The local endpoint's s3rver cannot answer a truncated
 * ListObjectsV2 on Node 20 (it encrypts continuation tokens with DES, which OpenSSL 3 no longer offers).
 */
export async function* auditRows(s3: S3Client, bucket: string, filters: AuditFilters = {}): AsyncGenerator<AuditRow> {
  let marker = filters.until ? startAfterFor(filters.until) : undefined;
  let yielded = 0;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: indexPrefix, MaxKeys: 1000, ...(marker ? { Marker: marker } : {}) }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    const entries = keys.flatMap((key) => {
      const parsed = parseIndexKey(key);
      return parsed ? [{ key, ...parsed }] : [];
    });
    const rows = await Promise.all(entries.map(async (e) => (e.complete ? e.row : (((await readJsonObject(s3, bucket, e.key)) as AuditRow | null) ?? e.row))));
    for (const row of rows) {
      if (filters.since && Date.parse(row.startedAt) < filters.since.getTime()) return;
      if (!rowMatches(row, filters)) continue;
      yield row;
      yielded += 1;
      if (filters.limit !== undefined && yielded >= filters.limit) return;
    }
    if (!page.IsTruncated || keys.length === 0) return;
    marker = keys.at(-1);
  }
}

/** `auditRows`, collected: the rows of `greenlight history` and of the HTML report. */
export async function listAuditRows(s3: S3Client, bucket: string, filters: AuditFilters = {}): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  for await (const row of auditRows(s3, bucket, filters)) rows.push(row);
  return rows;
}

/** The record keys of a deployment id, newest first (one, unless Step Functions reused the name after 90 days). */
export async function findRecordKeys(s3: S3Client, bucket: string, deploymentId: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: byIdListPrefix(deploymentId) }));
  return (page.Contents ?? []).flatMap((o) => {
    const startedAt = o.Key ? startedAtOfByIdKey(o.Key) : undefined;
    return startedAt ? [auditKey({ startedAt, deploymentId })] : [];
  });
}

/** A record by its key; null when there is none. */
export async function readAuditRecordAt(s3: S3Client, bucket: string, key: string): Promise<AuditRecord | null> {
  const record = (await readJsonObject(s3, bucket, key)) as AuditRecord | null;
  if (record && (record.schemaVersion !== 1 || typeof record.deploymentId !== 'string')) throw new Error(`s3://${bucket}/${key} is not an audit record`);
  return record;
}

/** The newest record of a deployment id (the execution name), found through the by-id index; null when there is none. */
export async function readAuditRecord(s3: S3Client, bucket: string, deploymentId: string): Promise<AuditRecord | null> {
  const [key] = await findRecordKeys(s3, bucket, deploymentId);
  return key ? readAuditRecordAt(s3, bucket, key) : null;
}

// ——— Timelines: one view of a deployment, from its execution history or from its record ———

/** An Elastic Beanstalk request of ours: an update or a rollback, named by the RequestId EB returned. */
export interface EbRequest {
  environment: string;
  requestId: string;
  kind: 'deploy' | 'rollback';
}

/** What the history of an execution says, up to its audit step (the part its record keeps). */
export interface HistoryParts {
  steps: TimelineStep[];
  approvals: TimelineApproval[];
  requests: EbRequest[];
  /** The execution input, read as a pipeline state. */
  input: PipelineState | null;
  plan: Plan | null;
  /** The first bundle a stage prepared (the release every stage deploys). */
  release: StoredBundle | null;
  /** The audit step, once reached: what it was given and what it answered (the record's key). */
  audit: { input: unknown; output: AuditWritten | null } | null;
}

const parse = (text: string | undefined): unknown => {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};

const str = (value: unknown) => (typeof value === 'string' ? value : '');

/** A value read with a schema of the pipeline's contracts; null when it does not have that shape. */
function read<S extends z.ZodMiniType>(schema: S, value: unknown): z.output<S> | null {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** What lambda:invoke answers around the function's own answer (`{Payload, StatusCode}`). */
function payloadOf(value: unknown): unknown {
  return value && typeof value === 'object' && 'Payload' in value ? (value.Payload ?? null) : null;
}

// What a step's answer is read as for its one line: the contract's fields, each optional (a stage
// output reads as a deployment), so that a line says what is there.
const PlanLine = z.partial(Plan);
const BundleLine = z.partial(StoredBundle);
const VersionLine = z.partial(VersionStatus);
const LeaseLine = z.partial(EnvironmentLease);
const DeploymentLine = z.partial(StageDeployment);
const HealthLine = z.partial(HealthReport);
const DecisionLine = z.partial(ApprovalDecision);
const RollbackLine = z.partial(RollbackStarted);

/** One line of what a task returned, for the states where it tells a person something. */
export function stepDetail(name: string, result: unknown): string {
  if (!result || typeof result !== 'object') return '';
  switch (name) {
    case 'Resolve Plan': {
      const plan = read(PlanLine, result);
      if (!plan) return '';
      const skipped = (plan.skippedStages ?? []).map((s) => `${s.environment}: ${s.reason}`);
      return `${plan.application} → ${(plan.stages ?? []).map((s) => s.environment).join(', ')}${skipped.length ? ` (not ${skipped.join('; ')})` : ''}`;
    }
    case 'Release To Approve':
    case 'Prepare Release': {
      const bundle = read(BundleLine, result);
      return bundle ? `${bundle.versionLabel}${bundle.written === false ? ' (already stored)' : ''}` : '';
    }
    case 'Create Version':
    case 'Check Version': {
      const version = read(VersionLine, result);
      return version ? `${version.versionLabel}: ${version.status}` : '';
    }
    case 'Acquire Environment': {
      const lease = read(LeaseLine, result);
      if (!lease) return '';
      return lease.status === 'acquired' ? `ours until ${lease.expiresAt}` : `held by ${lease.holder ?? 'another deployment'}, waiting`;
    }
    case 'Deploy': {
      const deployment = read(DeploymentLine, result);
      if (!deployment) return '';
      return deployment.requestId === 'already-deployed'
        ? `already runs ${deployment.versionLabel}`
        : `${deployment.previousVersionLabel ?? '(none)'} → ${deployment.versionLabel}`;
    }
    case 'Check Health':
    case 'Check Rollback Health': {
      const health = read(HealthLine, result);
      return health ? `${health.status}/${health.health}: ${health.verdict}${health.causes?.length ? ` — ${health.causes[0]}` : ''}` : '';
    }
    case 'Request Approval': {
      const decision = read(DecisionLine, result);
      if (!decision) return '';
      return decision.decision === 'approve' ? `approved by ${decision.approver}${decision.comment ? `: “${decision.comment}”` : ''}` : str(decision.decision);
    }
    case 'Roll Back': {
      const rollback = read(RollbackLine, result);
      return rollback ? `back to ${rollback.deployment?.versionLabel}` : '';
    }
    default:
      return '';
  }
}

function requestOf(name: string, result: unknown): EbRequest | undefined {
  const deployment = name === 'Deploy' ? read(DeploymentLine, result) : name === 'Roll Back' ? read(RollbackLine, result)?.deployment : undefined;
  const requestId = str(deployment?.requestId);
  if (!deployment || !requestId || requestId === 'already-deployed' || requestId === 'unknown') return undefined;
  return { environment: str(deployment.environment), requestId, kind: name === 'Deploy' ? 'deploy' : 'rollback' };
}

function decisionOf(value: unknown, approval: TimelineApproval): void {
  const decided = read(DecisionLine, value);
  if (!decided || (decided.decision !== 'approve' && decided.decision !== 'reject')) return;
  approval.decision = decided.decision;
  approval.approver = str(decided.approver) || null;
  approval.comment = str(decided.comment);
  approval.at = str(decided.at) || null;
  approval.pushers = decided.pushers ?? [];
}

const failureTypes = new Set([
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
  'LambdaFunctionStartFailed',
  'LambdaFunctionScheduleFailed',
  'TaskFailed',
  'TaskTimedOut',
  'TaskStartFailed',
  'TaskSubmitFailed',
]);

function failureOf(event: HistoryEvent): { error: string; cause: string | null } {
  const details = Object.entries(event).find(([k]) => k.endsWith('EventDetails'))?.[1] as { error?: string; cause?: string } | undefined;
  return { error: details?.error || 'States.TaskFailed', cause: readableCause(details?.cause) };
}

/**
 * Reads an execution history into steps, approvals and EB requests, stopping at the audit step
 * (`Record …`): the record made during that step keeps exactly what a later reading finds.
 */
export function historyParts(events: HistoryEvent[]): HistoryParts {
  const parts: HistoryParts = { steps: [], approvals: [], requests: [], input: null, plan: null, release: null, audit: null };
  const failures = new Map<TimelineStep, number>();
  let open: TimelineStep | null = null;
  let approval: TimelineApproval | null = null;
  let lastFail: TimelineStep | null = null;
  const iterations = new Set<number>(); // open Map iterations (the next may start before the last is reported done)
  let inIteration = false;
  const close = (result: 'succeeded' | 'failed', at: string, failure?: { error: string; cause: string | null }) => {
    if (!open) return;
    const failed = failures.get(open) ?? 0;
    open.result = result;
    open.endedAt = at;
    open.retries = result === 'succeeded' ? failed : Math.max(0, failed - 1);
    if (result === 'succeeded') {
      open.error = null;
      open.cause = null;
    } else if (!open.error && failure) {
      open.error = failure.error;
      open.cause = failure.cause;
    }
    open = null;
  };
  for (const event of events) {
    const at = (event.timestamp ?? new Date(0)).toISOString();
    const type = event.type ?? '';
    if (parts.audit) {
      // Past the cut: only the audit step's own input and answer matter.
      if (type === 'LambdaFunctionScheduled' && parts.audit.input === null) parts.audit.input = parse(event.lambdaFunctionScheduledEventDetails?.input);
      if (type === 'TaskScheduled' && parts.audit.input === null) parts.audit.input = payloadOf(parse(event.taskScheduledEventDetails?.parameters));
      if (type === 'LambdaFunctionSucceeded' && !parts.audit.output) parts.audit.output = read(AuditWritten, parse(event.lambdaFunctionSucceededEventDetails?.output));
      if (type === 'TaskSucceeded' && !parts.audit.output) parts.audit.output = read(AuditWritten, payloadOf(parse(event.taskSucceededEventDetails?.output)));
      continue;
    }
    if (type === 'ExecutionStarted') parts.input = readPipelineState(event.executionStartedEventDetails?.input ?? null);
    else if (type === 'MapIterationStarted') {
      iterations.add(event.mapIterationStartedEventDetails?.index ?? -1);
      inIteration = true;
    } else if (type === 'MapIterationSucceeded' || type === 'MapIterationFailed' || type === 'MapIterationAborted') {
      if (type !== 'MapIterationSucceeded') close('failed', at);
      const details = event.mapIterationSucceededEventDetails ?? event.mapIterationFailedEventDetails ?? event.mapIterationAbortedEventDetails;
      iterations.delete(details?.index ?? -1);
      inIteration = iterations.size > 0;
    } else if (type.endsWith('StateEntered')) {
      const name = event.stateEnteredEventDetails?.name ?? '';
      const kind = type.slice(0, -'StateEntered'.length);
      close('failed', at); // entered another state without leaving the last one: caught
      const input = readPipelineState(event.stateEnteredEventDetails?.input ?? null);
      if (!inIteration && input.error?.Error && lastFail && !lastFail.error) {
        lastFail.error = input.error.Error;
        lastFail.cause = readableCause(input.error.Cause);
      }
      if (!inIteration && kind === 'Task' && name.startsWith('Record ')) {
        parts.audit = { input: null, output: null };
        continue;
      }
      const environment = inIteration ? input.stage?.environment || null : null;
      if (kind === 'Fail') {
        const step: TimelineStep = { name, environment, startedAt: at, endedAt: at, result: 'failed', attempts: 1, retries: 0, detail: '', error: null, cause: null };
        parts.steps.push(step);
        lastFail = step;
        continue;
      }
      if (kind !== 'Task') continue;
      const last = parts.steps.at(-1);
      if (last && last.name === name && last.environment === environment && last.result === 'succeeded') {
        last.attempts += 1;
        last.result = 'running';
        last.endedAt = null;
        open = last;
      } else {
        open = { name, environment, startedAt: at, endedAt: null, result: 'running', attempts: 1, retries: 0, detail: '', error: null, cause: null };
        parts.steps.push(open);
      }
      if (name === 'Request Approval') {
        approval = { environment, requestedAt: null, approvers: input.stage?.approval?.approvers ?? [], decision: 'waiting', approver: null, comment: '', at: null, pushers: [] };
        parts.approvals.push(approval);
      }
    } else if (type.endsWith('StateExited')) {
      if (open && event.stateExitedEventDetails?.name === open.name) close('succeeded', at);
    } else if (type === 'TaskScheduled' && approval && open?.name === 'Request Approval' && !approval.requestedAt) {
      approval.requestedAt = at;
    } else if (type === 'LambdaFunctionSucceeded' || type === 'TaskSucceeded') {
      const output = parse(type === 'TaskSucceeded' ? event.taskSucceededEventDetails?.output : event.lambdaFunctionSucceededEventDetails?.output);
      // lambda:invoke answers {Payload, StatusCode}; a task token's answer is the value itself.
      const result = type === 'TaskSucceeded' && event.taskSucceededEventDetails?.resource === 'invoke' ? payloadOf(output) : output;
      if (!open) continue;
      open.detail = stepDetail(open.name, result);
      const request = requestOf(open.name, result);
      if (request) parts.requests.push(request);
      if (open.name === 'Resolve Plan') parts.plan = read(Plan, result);
      if ((open.name === 'Prepare Release' || open.name === 'Release To Approve') && !parts.release) parts.release = read(StoredBundle, result);
      if (open.name === 'Request Approval' && approval) decisionOf(result, approval);
    } else if (failureTypes.has(type)) {
      const failure = failureOf(event);
      if (open) {
        failures.set(open, (failures.get(open) ?? 0) + 1);
        open.error = failure.error;
        open.cause = failure.cause;
      }
      if (approval && open?.name === 'Request Approval') {
        if (type === 'TaskTimedOut') Object.assign(approval, { decision: 'expired', at });
        else if (failure.error === 'ApprovalRejectedError') {
          const details = event.taskFailedEventDetails ?? event.lambdaFunctionFailedEventDetails;
          decisionOf(parse(details?.cause), approval);
        }
      }
    } else if (type === 'ExecutionFailed' || type === 'ExecutionAborted' || type === 'ExecutionTimedOut') {
      close('failed', at, failureOf(event));
    }
  }
  return parts;
}

/** The events of our EB requests, oldest first (EB keeps them six weeks; the record keeps them for good). */
export async function ebEventsFor(eb: ElasticBeanstalkClient, requests: EbRequest[]): Promise<TimelineEbEvent[]> {
  const events: TimelineEbEvent[] = [];
  const seen = new Set<string>();
  for (const request of requests) {
    if (seen.has(request.requestId)) continue;
    seen.add(request.requestId);
    const mine: TimelineEbEvent[] = [];
    let token: string | undefined;
    do {
      const page = await eb.send(new DescribeEventsCommand({ RequestId: request.requestId, MaxRecords: 1000, NextToken: token }));
      for (const e of page.Events ?? []) {
        mine.push({ environment: e.EnvironmentName ?? request.environment, requestId: request.requestId, kind: request.kind, at: (e.EventDate ?? new Date(0)).toISOString(), severity: e.Severity ?? 'INFO', message: e.Message ?? '' });
      }
      token = page.NextToken;
    } while (token);
    events.push(...mine.reverse()); // EB answers newest first
  }
  return events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** Every page of an execution's history (GetExecutionHistory). */
export async function readExecutionHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Approval decisions as the final state holds them: each stage's, the rejection's Cause, an expiry. */
function approvalsFromState(state: PipelineState): TimelineApproval[] {
  const plannedStages = state.plan?.stages ?? [];
  const planned = (environment: string | null) => plannedStages.find((s) => s.environment === environment)?.approval?.approvers ?? [];
  const approvals: TimelineApproval[] = [];
  const add = (environment: string | null, value: unknown, decision?: 'expired') => {
    const approval: TimelineApproval = { environment, requestedAt: null, approvers: planned(environment), decision: decision ?? 'waiting', approver: null, comment: '', at: null, pushers: [] };
    decisionOf(value, approval);
    if (approval.decision !== 'waiting') approvals.push(approval);
  };
  const finished = state.stages ?? [];
  for (const stage of finished) add(stage.environment || null, stage.approval);
  // The stages run in order: the one that waited is the first with an approval and no outcome.
  const waited = () => plannedStages.find((s) => s.approval && !finished.some((f) => f.environment === s.environment))?.environment || null;
  const error = state.error;
  if (error?.Error === 'ApprovalRejectedError') {
    const rejection = parse(error.Cause);
    add(str(read(DecisionLine, rejection)?.environment) || waited(), rejection);
  }
  if (error?.Error === 'ApprovalExpiredError') add(waited(), null, 'expired');
  return approvals;
}

/**
 * The timeline a record keeps when no execution history could be read: rebuilt from the final state
 * (what the plan, each finished stage and the error say), without the steps' own times.
 */
export function timelineFromState(value: unknown, startedAt: string): RecordedTimeline {
  const state = readPipelineState(value);
  const steps: TimelineStep[] = [];
  const step = (name: string, environment: string | null, at: string | null, detail: string, failure?: { error: string | null; cause: string | null }) =>
    steps.push({ name, environment, startedAt: at || startedAt, endedAt: at || startedAt, result: failure ? 'failed' : 'succeeded', attempts: 1, retries: 0, detail, error: failure?.error ?? null, cause: failure?.cause ?? null });
  const error = state.error;
  const failure = error?.Error ? { error: error.Error, cause: readableCause(error.Cause) } : undefined;
  if (state.plan) step('Resolve Plan', null, null, stepDetail('Resolve Plan', state.plan));
  else if (failure) step('Resolve Plan', null, null, '', failure);
  for (const stage of state.stages ?? []) {
    const environment = stage.environment || null;
    if (stage.approval?.decision === 'approve') step('Request Approval', environment, str(stage.approval.at), stepDetail('Request Approval', stage.approval));
    const deployed = stage.outcome === 'already-deployed' ? { requestId: 'already-deployed', versionLabel: stage.versionLabel } : stage;
    step('Deploy', environment, null, stepDetail('Deploy', deployed));
    if (stage.health) step('Check Health', environment, str(stage.checkedAt), `${stage.health}: healthy`);
  }
  if (state.plan && failure) step('Deploy Stages', null, null, '', failure);
  return { source: 'state', steps, approvals: approvalsFromState(state), ebEvents: [] };
}

/**
 * What recordAudit keeps of the execution: its history read into a timeline with EB's events of our
 * requests; when the history cannot be read (no client given, no permission), the final state's account.
 */
export async function recordedTimeline(clients: { sfn?: SFNClient; eb?: ElasticBeanstalkClient }, input: AuditInput): Promise<RecordedTimeline> {
  if (!clients.sfn) return timelineFromState(input.state, input.startedAt);
  try {
    const parts = historyParts(await readExecutionHistory(clients.sfn, input.executionArn));
    const ebEvents = clients.eb ? await ebEventsFor(clients.eb, parts.requests).catch(() => []) : [];
    return { source: 'execution-history', steps: parts.steps, approvals: parts.approvals, ebEvents };
  } catch {
    return timelineFromState(input.state, input.startedAt);
  }
}

/** The environments a timeline touched, in the order it reached them. */
function environmentsOf(recorded: RecordedTimeline): string[] {
  const names = [...recorded.steps.map((s) => s.environment), ...recorded.approvals.map((a) => a.environment)];
  return [...new Set(names.filter((n): n is string => typeof n === 'string' && n !== ''))];
}

function fromRecord(record: AuditRecord, recorded: RecordedTimeline, recordKey: string | null): Timeline {
  return {
    deploymentId: record.deploymentId,
    executionArn: record.executionArn,
    outcome: record.outcome,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    application: record.application,
    image: record.image ? { repository: record.image.repository, tag: record.image.tag, digest: record.image.digest, pushedBy: record.image.pushedBy } : null,
    environments: environmentsOf(recorded),
    versionLabel: record.versionLabel,
    error: record.error,
    cause: record.cause,
    recordKey,
    ...recorded,
  };
}

/** A deployment's timeline from its audit record (after Step Functions forgot the execution). */
export function timelineFromRecord(record: AuditRecord): Timeline {
  const kept = RecordedTimeline.safeParse(record.timeline);
  const recorded = kept.success ? kept.data : timelineFromState({ stages: record.stages, error: record.error ? { Error: record.error, Cause: record.cause } : undefined }, record.startedAt);
  return fromRecord(record, recorded, auditKey(record));
}

/** What DescribeExecution says of an execution (the fields a timeline needs). */
export interface ExecutionDescription {
  executionArn?: string;
  name?: string;
  status?: string;
  startDate?: Date;
  stopDate?: Date;
  error?: string;
  cause?: string;
}

/**
 * A deployment's timeline from its execution: once the audit step ran, the header is the record that
 * step built from the same input (so the view equals the one read from the record later); before, or
 * when the execution ended without a record, what the execution knows.
 */
export async function timelineFromExecution(
  clients: { eb?: ElasticBeanstalkClient },
  execution: ExecutionDescription,
  events: HistoryEvent[],
): Promise<Timeline> {
  const parts = historyParts(events);
  const ebEvents = clients.eb ? await ebEventsFor(clients.eb, parts.requests) : [];
  const recorded: RecordedTimeline = { source: 'execution-history', steps: parts.steps, approvals: parts.approvals, ebEvents };
  const auditInput = parts.audit ? AuditInput.safeParse(parts.audit.input) : undefined;
  if (auditInput?.success) {
    const output = parts.audit?.output;
    const finishedAt = str(output?.finishedAt) || (execution.stopDate ?? new Date()).toISOString();
    const record = buildAuditRecord(auditInput.data, new Date(finishedAt), parts.release);
    const outcome = Outcome.safeParse(output?.outcome);
    if (outcome.success) record.outcome = outcome.data;
    return fromRecord(record, recorded, str(output?.key) || null);
  }
  const executionArn = execution.executionArn ?? '';
  const image = parts.plan?.image ?? parts.input?.image ?? null;
  const running = execution.status === 'RUNNING';
  return {
    deploymentId: execution.name ?? executionArn.split(':').pop() ?? executionArn,
    executionArn,
    outcome: running ? 'running' : (execution.status ?? 'unknown').toLowerCase().replace('_', '-'),
    startedAt: (execution.startDate ?? new Date(0)).toISOString(),
    finishedAt: running ? null : (execution.stopDate?.toISOString() ?? null),
    application: parts.plan?.application ?? null,
    image: image ? { repository: image.repository, tag: image.tag, digest: image.digest, pushedBy: image.pushedBy || null } : null,
    environments: environmentsOf(recorded),
    versionLabel: parts.release?.versionLabel ?? null,
    error: execution.error ?? null,
    cause: readableCause(execution.cause),
    recordKey: null,
    ...recorded,
  };
}
