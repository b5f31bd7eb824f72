import { type AuditRecord, approvalAudit } from '../../shared/audit.ts';

/** The four colours of the report: what a person needs to know about an outcome at a glance. */
export type OutcomeClass = 'deployed' | 'failed' | 'rejected' | 'superseded';

/** Record outcomes (and stage outcomes) by colour; an outcome this version does not know is grey. */
export function outcomeClass(outcome: string): OutcomeClass {
  switch (outcome) {
    case 'succeeded':
    case 'deployed':
    case 'already-deployed':
      return 'deployed';
    case 'failed':
    case 'unverified':
    case 'rolled-back':
      return 'failed';
    case 'rejected':
    case 'expired':
      return 'rejected';
    default:
      return 'superseded';
  }
}

/** Outcomes that changed (or tried to change) an environment: the denominator of the failure rate. */
const changeOutcomes = new Set(['succeeded', 'failed', 'unverified']);
const failureOutcomes = new Set(['failed', 'unverified']);

/** What the report selects: the period (startedAt in [since, until], as the audit index reads it) and optionally one application. */
export interface ReportSelection {
  since: Date;
  until: Date;
  app?: string;
}

/** One approval decision shown on the timeline and in the table. */
export interface ApprovalMark {
  environment: string | null;
  /** `expired`: nobody decided before the approval timed out. */
  decision: 'approve' | 'reject' | 'expired';
  approver: string;
  comment: string;
  at: string;
}

/** A bar on the timeline: one stage of one deployment (or the whole deployment when no stage was recorded). */
export interface Segment {
  deploymentId: string;
  /** null: the record does not say which environment (a rejection before any plan, for example). */
  environment: string | null;
  start: number;
  end: number;
  outcome: string;
}

/** One deployment as the report shows it, derived from its record once. */
export interface ReportRow {
  record: AuditRecord;
  application: string;
  /** The application is not in the record (rejected before a plan existed); `application` is then `repository <name>`. */
  applicationInferred: boolean;
  environments: string[];
  segments: Segment[];
  approvals: ApprovalMark[];
  /** The version a failed deployment rolled back to, when its cause says so. */
  rolledBackTo: string | null;
  startedAt: number;
  finishedAt: number;
  /** Push → healthy, for deployments that succeeded (pushedAt, or the execution start when the push time is not recorded). */
  leadTimeMs: number | null;
}

/** Lead time and failure rate of one application over the period. */
export interface AppStats {
  application: string;
  total: number;
  byOutcome: Record<string, number>;
  /** succeeded + failed + unverified: deployments that changed or tried to change an environment. */
  changes: number;
  failures: number;
  /** failures / changes, null when nothing was changed. */
  failureRate: number | null;
  leadTimes: number[];
  leadTimeMedian: number | null;
  leadTimeP90: number | null;
}

const time = (iso: string | null | undefined): number => (typeof iso === 'string' ? Date.parse(iso) : Number.NaN);

/** The repositories a record's images come from (the pushed one first). */
function repositoriesOf(record: AuditRecord): string[] {
  const repositories = new Set<string>();
  if (record.image?.repository) repositories.add(record.image.repository);
  for (const name of Object.keys(record.images ?? {})) repositories.add(name);
  return [...repositories];
}

/**
 * The records of the period (and of the application, when one is asked for). A record without an
 * application (refused before any plan) belongs to an application when its repository does.
 */
export function selectRecords(records: AuditRecord[], selection: ReportSelection): AuditRecord[] {
  const since = selection.since.getTime();
  const until = selection.until.getTime();
  const inPeriod = records.filter((r) => {
    const started = time(r.startedAt);
    return started >= since && started <= until;
  });
  const app = selection.app;
  if (app === undefined) return inPeriod;
  const repositories = new Set(records.filter((r) => r.application === app).flatMap(repositoriesOf));
  return inPeriod.filter((r) => r.application === app || (r.application === null && r.image !== null && repositories.has(r.image.repository)));
}

function asApproval(value: unknown, environment: string | null): ApprovalMark | null {
  const decided = approvalAudit(value, environment);
  return decided ? { environment: decided.environment, decision: decided.decision, approver: decided.approver, comment: decided.comment, at: decided.at } : null;
}

/** The execution's steps and approvals as the record keeps them (`timeline`, absent in older records). */
interface KeptTimeline {
  source?: unknown;
  steps: Array<{ name?: unknown; environment?: unknown; startedAt?: unknown; endedAt?: unknown; result?: unknown; detail?: unknown }>;
  approvals: Array<Record<string, unknown>>;
}

function timelineOf(record: AuditRecord): KeptTimeline {
  const t = (record as { timeline?: { source?: unknown; steps?: unknown; approvals?: unknown } }).timeline;
  return {
    source: t?.source,
    steps: Array.isArray(t?.steps) ? t.steps.filter((x) => typeof x === 'object' && x !== null) : [],
    approvals: Array.isArray(t?.approvals) ? t.approvals.filter((x) => typeof x === 'object' && x !== null) : [],
  };
}

/**
 * Every approval decision of a record: its `approvals` list when it has one, otherwise what its
 * stages carry and, for a rejection, what the cause says (`rejected by WHO at WHEN: WHY`); plus the
 * approvals its timeline saw expire.
 */
export function approvalsOf(record: AuditRecord): ApprovalMark[] {
  const listed = (record as { approvals?: unknown }).approvals;
  const marks = Array.isArray(listed)
    ? listed.map((a) => asApproval(a, null)).filter((a): a is ApprovalMark => a !== null)
    : stagesOf(record)
        .map((s) => asApproval(s.approval, typeof s.environment === 'string' ? s.environment : null))
        .filter((a): a is ApprovalMark => a !== null);
  const rejected = !Array.isArray(listed) && record.error === 'ApprovalRejectedError' ? /^rejected by (\S+) at (\S+): ([\s\S]*)$/.exec(record.cause ?? '') : null;
  if (rejected) marks.push({ environment: null, decision: 'reject', approver: rejected[1]!, comment: rejected[3]!, at: rejected[2]! });
  for (const a of timelineOf(record).approvals) {
    if (a.decision !== 'expired') continue;
    marks.push({ environment: typeof a.environment === 'string' ? a.environment : null, decision: 'expired', approver: '', comment: '', at: typeof a.requestedAt === 'string' ? a.requestedAt : '' });
  }
  return marks;
}

type StageLike = Record<string, unknown>;

function stagesOf(record: AuditRecord): StageLike[] {
  return (Array.isArray(record.stages) ? record.stages : []).filter((s): s is StageLike => typeof s === 'object' && s !== null);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The environments a deployment touched, in stage order: its stages', its timeline's steps' and its
 * approvals'; for a record that kept none (a failed or superseded execution loses its stages), the
 * known environments of its application its cause names.
 */
export function environmentsOf(record: AuditRecord, known: ReadonlySet<string> = new Set()): string[] {
  const named = new Set<string>();
  for (const stage of stagesOf(record)) if (typeof stage.environment === 'string') named.add(stage.environment);
  for (const step of timelineOf(record).steps) if (typeof step.environment === 'string' && step.environment) named.add(step.environment);
  for (const approval of approvalsOf(record)) if (approval.environment) named.add(approval.environment);
  if (named.size > 0 || !record.cause) return [...named];
  const cause = record.cause;
  return [...known].filter((environment) => new RegExp(`(^|[^\\w-])${escapeRegExp(environment)}($|[^\\w-])`).test(cause));
}

const waitingSteps = new Set(['Release To Approve', 'Request Approval']);

/**
 * Bars from the steps of an execution history: each environment from its first step to its last, the
 * wait for a person left out (the approval is marked) unless the deployment went no further.
 */
function segmentsFromSteps(record: AuditRecord, finished: number): Segment[] {
  const steps = timelineOf(record).steps.filter((step) => typeof step.environment === 'string' && step.environment);
  const working = new Set(steps.filter((step) => !waitingSteps.has(String(step.name))).map((step) => step.environment));
  const spans = new Map<string, { start: number; end: number; failed: boolean }>();
  for (const step of steps) {
    if (typeof step.environment !== 'string' || (working.has(step.environment) && waitingSteps.has(String(step.name)))) continue;
    const start = time(typeof step.startedAt === 'string' ? step.startedAt : null);
    if (Number.isNaN(start)) continue;
    const ended = time(typeof step.endedAt === 'string' ? step.endedAt : null);
    const end = Number.isNaN(ended) ? finished : ended;
    const span = spans.get(step.environment) ?? { start, end, failed: false };
    spans.set(step.environment, { start: Math.min(span.start, start), end: Math.max(span.end, end), failed: span.failed || step.result === 'failed' || step.name === 'Roll Back' });
  }
  const stageOutcome = new Map(stagesOf(record).map((s) => [s.environment, s.outcome]));
  const entries = [...spans.entries()];
  return entries.map(([environment, span], index) => {
    const stage = stageOutcome.get(environment);
    const last = index === entries.length - 1;
    const outcome = typeof stage === 'string' ? stage : span.failed || last ? record.outcome : 'deployed';
    return { deploymentId: record.deploymentId, environment, start: span.start, end: last ? Math.max(span.end, span.start) : span.end, outcome };
  });
}

/**
 * The bars of a deployment: from the execution history's steps when the record kept them; else a
 * stage runs from the previous stage's health check (or its approval, or the start) to its own health
 * check; a record without stages is one bar per environment it names.
 */
export function segmentsOf(record: AuditRecord, environments: string[]): Segment[] {
  const started = time(record.startedAt);
  const finished = Math.max(started, time(record.finishedAt) || started);
  if (timelineOf(record).source === 'execution-history') {
    const fromSteps = segmentsFromSteps(record, finished);
    if (fromSteps.length > 0) return fromSteps;
  }
  const stages = stagesOf(record).filter((s) => typeof s.environment === 'string');
  if (stages.length === 0) {
    const envs = environments.length > 0 ? environments : [null];
    return envs.map((environment) => ({ deploymentId: record.deploymentId, environment, start: started, end: finished, outcome: record.outcome }));
  }
  let cursor = started;
  return stages.map((stage, index) => {
    const approvedAt = time(asApproval(stage.approval, null)?.at);
    const start = Math.min(Math.max(cursor, Number.isNaN(approvedAt) ? cursor : approvedAt), finished);
    const checked = time(typeof stage.checkedAt === 'string' ? stage.checkedAt : null);
    const last = index === stages.length - 1;
    const end = last ? finished : Number.isNaN(checked) ? start : Math.min(Math.max(checked, start), finished);
    cursor = end;
    const outcome = typeof stage.outcome === 'string' ? stage.outcome : record.outcome;
    return { deploymentId: record.deploymentId, environment: stage.environment as string, start, end, outcome };
  });
}

/** The version a failed deployment went back to: its Roll Back step's, or its cause's `Rolled back to X.` */
function rolledBackTo(record: AuditRecord): string | null {
  const step = timelineOf(record).steps.find((s) => s.name === 'Roll Back' && s.result === 'succeeded');
  const fromStep = typeof step?.detail === 'string' ? /^back to (\S+)$/.exec(step.detail)?.[1] : undefined;
  return fromStep ?? /Rolled back to (\S+?)\.?$/m.exec(record.cause ?? '')?.[1] ?? null;
}

/** Every row of the report, newest first, with environments inferred from the other records of the same application. */
export function buildRows(records: AuditRecord[]): ReportRow[] {
  const knownByApp = new Map<string, Set<string>>();
  for (const record of records) {
    if (!record.application) continue;
    const known = knownByApp.get(record.application) ?? new Set<string>();
    for (const environment of environmentsOf(record)) known.add(environment);
    knownByApp.set(record.application, known);
  }
  const rows = records.map((record): ReportRow => {
    const environments = environmentsOf(record, knownByApp.get(record.application ?? '') ?? new Set());
    const startedAt = time(record.startedAt);
    const finishedAt = Math.max(startedAt, time(record.finishedAt) || startedAt);
    const pushedAt = time(record.image?.pushedAt);
    const from = Number.isNaN(pushedAt) ? startedAt : pushedAt;
    return {
      record,
      application: record.application ?? (record.image ? `repository ${record.image.repository}` : 'unknown'),
      applicationInferred: record.application === null,
      environments,
      segments: segmentsOf(record, environments),
      approvals: approvalsOf(record),
      rolledBackTo: rolledBackTo(record),
      startedAt,
      finishedAt,
      leadTimeMs: record.outcome === 'succeeded' ? Math.max(0, finishedAt - from) : null,
    };
  });
  return rows.sort((a, b) => b.startedAt - a.startedAt || a.record.deploymentId.localeCompare(b.record.deploymentId));
}

/** The q-quantile of ascending values, interpolating between the closest ranks (the median of 1,2,3,4 is 2.5). */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  const low = sorted[below]!;
  return low + (sorted[above]! - low) * (position - below);
}

/** Lead time (median, p90) and failure rate per application, by name. */
export function appStats(rows: ReportRow[]): AppStats[] {
  const byApp = new Map<string, ReportRow[]>();
  for (const row of rows) byApp.set(row.application, [...(byApp.get(row.application) ?? []), row]);
  const inferred = (appRows: ReportRow[]) => Number(appRows[0]!.applicationInferred);
  return [...byApp.entries()]
    .sort(([a, ra], [b, rb]) => inferred(ra) - inferred(rb) || a.localeCompare(b))
    .map(([application, appRows]) => {
      const byOutcome: Record<string, number> = {};
      for (const row of appRows) byOutcome[row.record.outcome] = (byOutcome[row.record.outcome] ?? 0) + 1;
      const changes = appRows.filter((r) => changeOutcomes.has(r.record.outcome)).length;
      const failures = appRows.filter((r) => failureOutcomes.has(r.record.outcome)).length;
      const leadTimes = appRows.flatMap((r) => (r.leadTimeMs === null ? [] : [r.leadTimeMs])).sort((a, b) => a - b);
      return {
        application,
        total: appRows.length,
        byOutcome,
        changes,
        failures,
        failureRate: changes === 0 ? null : failures / changes,
        leadTimes,
        leadTimeMedian: quantile(leadTimes, 0.5),
        leadTimeP90: quantile(leadTimes, 0.9),
      };
    });
}

/** A duration as a person reads it: 850 ms, 12.3 s, 4 min 05 s, 3 h 12 min, 2 d 4 h. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
