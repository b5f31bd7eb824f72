import { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { rowFromTimeline } from '../../shared/audit-index.ts';
import { type AuditFilters, type AuditRow, auditRows, parseOutcomes, parseTimeBound, rowMatches, timelineFromExecution } from '../../shared/audit-read.ts';
import { dim, duration, fail, green, principalName, red, table, csv, yellow } from '../output.ts';
import { readHistory } from '../watch.ts';

/** The clients the audit readers use, built from the environment (AWS_REGION, AWS_ENDPOINT_URL, credentials). */
export interface ReaderClients {
  s3: S3Client;
  sfn: SFNClient;
  eb: ElasticBeanstalkClient;
}

/** SDK clients as every AWS tool builds them; a custom endpoint (the local one) is addressed path-style. */
export function readerClients(): ReaderClients {
  return { s3: new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) }), sfn: new SFNClient({}), eb: new ElasticBeanstalkClient({}) };
}

/** Where the audit records and executions are: flags, else environment, else `greenlight local`'s names when AWS_ENDPOINT_URL is set. */
export function auditLocation(options: { bucket?: string; stateMachine?: string }): { bucket?: string; stateMachineArn?: string } {
  const local = Boolean(process.env.AWS_ENDPOINT_URL);
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return {
    bucket: options.bucket || process.env.GREENLIGHT_AUDIT_BUCKET || (local ? 'greenlight-local-audit' : undefined),
    stateMachineArn:
      options.stateMachine || process.env.GREENLIGHT_STATE_MACHINE_ARN || (local ? `arn:aws:states:${region}:000000000000:stateMachine:greenlight-local-deploy-pipeline` : undefined),
  };
}

export const missingBucket =
  'no audit bucket: pass --bucket or set GREENLIGHT_AUDIT_BUCKET (the AuditBucketName output of the stack; with AWS_ENDPOINT_URL set, `greenlight local`\u2019s greenlight-local-audit)';

/** What went wrong talking to AWS, in words the user can act on (undefined: not an error we know). */
export function readerError(error: unknown, where: { bucket?: string; stateMachineArn?: string }): string | undefined {
  const e = error as { name?: string; message?: string; code?: string; cause?: { code?: string }; $metadata?: { httpStatusCode?: number } };
  const at = process.env.AWS_ENDPOINT_URL ?? `region ${process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'unset'}`;
  if (e?.name === 'NoSuchBucket') return `the audit bucket ${where.bucket} does not exist here (${at}); check --bucket / GREENLIGHT_AUDIT_BUCKET`;
  if (e?.name === 'StateMachineDoesNotExist') return `the state machine ${where.stateMachineArn} does not exist here (${at}); check --state-machine / GREENLIGHT_STATE_MACHINE_ARN`;
  if (e?.name === 'AccessDenied' || e?.name === 'AccessDeniedException' || e?.$metadata?.httpStatusCode === 403) {
    return `not allowed (${e.message}); reading history needs s3:ListBucket and s3:GetObject on the audit bucket, states:ListExecutions, states:DescribeExecution and states:GetExecutionHistory, elasticbeanstalk:DescribeEvents`;
  }
  if (e?.name === 'CredentialsProviderError') return `no AWS credentials found (${e.message})`;
  if (/Region is missing/i.test(e?.message ?? '')) return 'no AWS region: set AWS_REGION';
  if (e?.code === 'ECONNREFUSED' || e?.cause?.code === 'ECONNREFUSED') return `${process.env.AWS_ENDPOINT_URL ?? 'the AWS endpoint'} does not answer (is \`greenlight local\` running?)`;
  return undefined;
}

export interface HistoryOptions {
  app?: string;
  env?: string;
  since?: string;
  until?: string;
  outcome?: string;
  limit?: string;
  json?: boolean;
  csv?: boolean;
  bucket?: string;
  stateMachine?: string;
  /** commander's `--no-running`: false leaves running executions out. */
  running?: boolean;
}

/** Reads the options into filters; a message (exit 2) when one is not understood. */
function filtersOf(options: HistoryOptions, now: Date): AuditFilters | string {
  try {
    const filters: AuditFilters = {};
    if (options.app) filters.application = options.app;
    if (options.env) filters.environment = options.env;
    if (options.since) filters.since = parseTimeBound(options.since, 'since', now);
    if (options.until) filters.until = parseTimeBound(options.until, 'until', now);
    if (options.outcome) filters.outcomes = parseOutcomes(options.outcome);
    if (options.limit !== undefined) {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) return `--limit ${options.limit} is not a positive whole number`;
      filters.limit = limit;
    }
    if (filters.since && filters.until && filters.since > filters.until) return `--since ${filters.since.toISOString()} is after --until ${filters.until.toISOString()}`;
    return filters;
  } catch (error) {
    if (error instanceof RangeError) return error.message;
    throw error;
  }
}

/** Rows of the executions still running (no record yet): their input names the image, their history the rest. */
export async function runningRows({ sfn }: Pick<ReaderClients, 'sfn'>, stateMachineArn: string, filters: AuditFilters): Promise<AuditRow[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 1000, nextToken }));
    arns.push(...(page.executions ?? []).flatMap((e) => (e.executionArn ? [e.executionArn] : [])));
    nextToken = page.nextToken;
  } while (nextToken);
  const rows = await Promise.all(
    arns.map(async (executionArn) => {
      const [description, events] = await Promise.all([sfn.send(new DescribeExecutionCommand({ executionArn })), readHistory(sfn, executionArn)]);
      return rowFromTimeline(await timelineFromExecution({}, description, events));
    }),
  );
  return rows.filter((row) => rowMatches(row, filters));
}

/** The index rows and the running ones, newest first; a running execution that has a record by now is shown once, from the record. */
export async function historyRows(clients: ReaderClients, where: { bucket: string; stateMachineArn?: string }, filters: AuditFilters): Promise<AuditRow[]> {
  // Running ones first: one that ends meanwhile is then found in the index, not lost between the two.
  const running = where.stateMachineArn ? await runningRows(clients, where.stateMachineArn, filters) : [];
  const recorded: AuditRow[] = [];
  for await (const row of auditRows(clients.s3, where.bucket, filters)) recorded.push(row);
  const ids = new Set(recorded.map((r) => r.deploymentId));
  const merged = [...recorded, ...running.filter((r) => !ids.has(r.deploymentId))].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  return filters.limit === undefined ? merged : merged.slice(0, filters.limit);
}

const outcomePaint = (outcome: string) =>
  outcome === 'succeeded' || outcome === 'already-deployed' ? green : outcome === 'running' || outcome === 'superseded' ? yellow : red;

const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;

/** The table a person reads: principals shortened, durations in words; --json and --csv keep every value as is. */
export function historyTable(rows: AuditRow[], now = Date.now()): string {
  return table(
    ['STARTED (UTC)', 'APP', 'ENVIRONMENTS', 'TAG', 'DIGEST', 'OUTCOME', 'PUSHED BY', 'APPROVED BY', 'DURATION', 'ID'],
    rows.map((r) => [
      { text: when(r.startedAt) },
      { text: r.application ?? r.repository ?? '—' },
      { text: r.environments.join(',') || '—' },
      { text: r.tag ?? '—' },
      { text: r.shortDigest ?? '—', paint: dim },
      { text: r.outcome, paint: outcomePaint(r.outcome) },
      { text: r.pushedBy ? principalName(r.pushedBy) : '—' },
      { text: r.approvedBy.map(principalName).join(',') || (r.rejectedBy ? `rejected: ${principalName(r.rejectedBy)}` : '—') },
      { text: r.durationMs === null ? `${duration(Math.max(0, now - Date.parse(r.startedAt)))} so far` : duration(r.durationMs) },
      { text: r.deploymentId, paint: dim },
    ]),
  );
}

export const csvHeader = ['started_at', 'finished_at', 'duration_ms', 'application', 'environments', 'repository', 'tag', 'short_digest', 'outcome', 'pushed_by', 'approved_by', 'rejected_by', 'deployment_id', 'record_key'];

/** CSV for spreadsheets: one row per deployment, lists space-separated. */
export function historyCsv(rows: AuditRow[]): string {
  return csv(
    csvHeader,
    rows.map((r) => [r.startedAt, r.finishedAt, r.durationMs, r.application, r.environments.join(' '), r.repository, r.tag, r.shortDigest, r.outcome, r.pushedBy, r.approvedBy.join(' '), r.rejectedBy, r.deploymentId, r.recordKey]),
  );
}

/**
 * `greenlight history`: who deployed what, where, when, approved by whom, with what outcome — from the
 * audit index (a listing, no record read) merged with the executions still running.
 */
export async function historyCommand(options: HistoryOptions, clients: ReaderClients = readerClients(), now = new Date()): Promise<number> {
  const filters = filtersOf(options, now);
  if (typeof filters === 'string') return fail(filters, 2);
  const where = auditLocation(options);
  if (!where.bucket) return fail(missingBucket, 2);
  const bucket = where.bucket;
  const stateMachineArn = options.running === false ? undefined : where.stateMachineArn;
  let rows: AuditRow[];
  try {
    rows = await historyRows(clients, { bucket, ...(stateMachineArn ? { stateMachineArn } : {}) }, filters);
  } catch (error) {
    const message = readerError(error, where);
    if (message) return fail(message);
    throw error;
  }
  if (options.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else if (options.csv) process.stdout.write(`${historyCsv(rows)}\r\n`);
  else if (rows.length === 0) process.stdout.write(`No deployments match ${dim(`(s3://${bucket}/index/by-time/)`)}\n`);
  else {
    process.stdout.write(`${historyTable(rows, now.getTime())}\n`);
    const note = stateMachineArn ? '' : ' · running deployments not shown (set GREENLIGHT_STATE_MACHINE_ARN)';
    process.stdout.write(dim(`${rows.length} deployment${rows.length === 1 ? '' : 's'}, newest first${note} · greenlight show ID for one\n`));
  }
  return 0;
}
