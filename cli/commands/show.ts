import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { readAuditRecord, readAuditRecordAt, timelineFromExecution, timelineFromRecord } from '../../shared/audit-read.ts';
import type { Timeline } from '../../shared/contracts.ts';
import { executionArn } from '../../shared/naming.ts';
import { bold, dim, duration, fail, green, red, yellow } from '../output.ts';
import { readHistory } from '../watch.ts';
import { type ReaderClients, auditLocation, readerClients, readerError } from './history.ts';

export interface ShowOptions {
  json?: boolean;
  /** Read the audit record even while the execution exists (what `show` sees after Step Functions forgot it). */
  fromRecord?: boolean;
  bucket?: string;
  stateMachine?: string;
}

/** Where a timeline was read: the execution (while Step Functions keeps it, 90 days) or the audit record. */
export type TimelineSource = 'execution' | 'record';

/**
 * One deployment's timeline, from its execution while it exists, else from its audit record: ID is the
 * execution name, an execution ARN, or a record key (`deployments/…json`). Undefined when neither exists.
 */
export async function readTimeline(
  clients: ReaderClients,
  id: string,
  where: { bucket?: string; stateMachineArn?: string },
  fromRecord = false,
): Promise<{ timeline: Timeline; readFrom: TimelineSource } | undefined> {
  const isArn = id.startsWith('arn:');
  const name = isArn ? (id.split(':').pop() ?? id) : id;
  const arn = isArn ? id : where.stateMachineArn && !id.startsWith('deployments/') ? executionArn(where.stateMachineArn, name) : undefined;
  if (arn && !fromRecord) {
    try {
      const [description, events] = await Promise.all([clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn })), readHistory(clients.sfn, arn)]);
      return { timeline: await timelineFromExecution({ eb: clients.eb }, description, events), readFrom: 'execution' };
    } catch (error) {
      if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
    }
  }
  if (!where.bucket) return undefined;
  const record = id.startsWith('deployments/') ? await readAuditRecordAt(clients.s3, where.bucket, id) : await readAuditRecord(clients.s3, where.bucket, name);
  return record ? { timeline: timelineFromRecord(record), readFrom: 'record' } : undefined;
}

const mark = { succeeded: green('✔'), failed: red('✘'), running: yellow('…') } as const;
const clock = (iso: string) => iso.slice(11, 23);

function outcomeColour(outcome: string): (text: string) => string {
  if (outcome === 'succeeded' || outcome === 'already-deployed') return green;
  return outcome === 'running' || outcome === 'superseded' ? yellow : red;
}

/** The timeline as a person reads it: the header, every step, the approvals, EB's events, the error. */
export function renderTimeline(t: Timeline, readFrom: TimelineSource, bucket?: string): string {
  const lines: string[] = [];
  const elapsed = t.finishedAt ? ` (${duration(Date.parse(t.finishedAt) - Date.parse(t.startedAt))})` : '';
  const pushers = [...new Set([t.image?.pushedBy, ...t.approvals.flatMap((a) => a.pushers)].filter(Boolean))];
  lines.push(`${bold(t.deploymentId)}  ${outcomeColour(t.outcome)(t.outcome)}`);
  const rows: Array<[string, string]> = [
    ['application', t.application ?? '—'],
    ['image', t.image ? `${t.image.repository}:${t.image.tag} ${dim(t.image.digest)}` : '—'],
    ['pushed by', pushers.join(', ') || '—'],
    ['environments', t.environments.join(' → ') || '—'],
    ['version', t.versionLabel ?? '—'],
    ['started', t.startedAt],
    ['finished', t.finishedAt ? `${t.finishedAt}${elapsed}` : 'not yet'],
    ['execution', t.executionArn],
    ['record', t.recordKey ? `s3://${bucket ?? '<audit bucket>'}/${t.recordKey}` : 'not written yet'],
    ['read from', readFrom === 'execution' ? 'the execution history' : `the audit record${t.source === 'state' ? ' (its steps rebuilt from the final state: no execution history was kept)' : ''}`],
  ];
  for (const [label, value] of rows) lines.push(`  ${label.padEnd(13)} ${value}`);

  lines.push('', bold('Steps'));
  if (t.steps.length === 0) lines.push(dim('  none'));
  for (const step of t.steps) {
    const took = step.endedAt ? dim(duration(Date.parse(step.endedAt) - Date.parse(step.startedAt))) : '';
    const times = step.attempts > 1 ? dim(` ×${step.attempts}`) : '';
    const retries = step.retries > 0 ? dim(` (${step.retries} ${step.retries === 1 ? 'retry' : 'retries'})`) : '';
    const stage = step.environment ? `${dim(`[${step.environment}]`)} ` : '';
    lines.push(`  ${dim(clock(step.startedAt))}  ${mark[step.result]} ${stage}${step.name}${times}${retries} ${took}${step.detail ? `  ${step.detail}` : ''}`);
    if (step.result === 'failed' && (step.error || step.cause)) lines.push(`      ${red(step.error ?? '')}${step.cause ? `: ${step.cause}` : ''}`);
  }

  if (t.approvals.length > 0) {
    lines.push('', bold('Approvals'));
    for (const a of t.approvals) {
      const asked = a.requestedAt ? `asked ${a.requestedAt}` : 'asked';
      const decided =
        a.decision === 'approve'
          ? `${green('approved')} by ${a.approver} at ${a.at}`
          : a.decision === 'reject'
            ? `${red('rejected')} by ${a.approver} at ${a.at}`
            : a.decision === 'expired'
              ? `${red('expired')} at ${a.at ?? '—'} (nobody decided)`
              : yellow('waiting');
      lines.push(`  ${a.environment ?? '—'}  ${decided}${a.comment ? `  “${a.comment}”` : ''}`);
      lines.push(dim(`    ${asked}; may approve: ${a.approvers.join(', ') || '—'}`));
    }
  }

  if (t.ebEvents.length > 0) {
    lines.push('', bold('Elastic Beanstalk events'));
    for (const e of t.ebEvents) {
      const severity = e.severity === 'ERROR' || e.severity === 'FATAL' ? red(e.severity.padEnd(5)) : e.severity === 'WARN' ? yellow(e.severity.padEnd(5)) : dim(e.severity.padEnd(5));
      lines.push(`  ${dim(clock(e.at))}  ${e.environment}  ${severity}  ${e.message}${e.kind === 'rollback' ? dim(' (rollback)') : ''}`);
    }
  }

  if (t.error || t.cause) lines.push('', `${red(bold(t.error ?? 'cause'))}${t.cause ? `: ${t.cause}` : ''}`);
  return lines.join('\n');
}

/** `greenlight show ID`: the whole timeline of one deployment, the same view from its execution or its record. */
export async function showCommand(id: string, options: ShowOptions, clients: ReaderClients = readerClients()): Promise<number> {
  const where = auditLocation(options);
  let found: Awaited<ReturnType<typeof readTimeline>>;
  try {
    found = await readTimeline(clients, id, where, options.fromRecord);
  } catch (error) {
    const message = readerError(error, where) ?? (/not a state machine ARN/.test((error as Error).message) ? `${(error as Error).message} (check --state-machine / GREENLIGHT_STATE_MACHINE_ARN)` : undefined);
    if (message) return fail(message);
    throw error;
  }
  if (!found) {
    const looked = [
      !options.fromRecord && (id.startsWith('arn:') || where.stateMachineArn) ? 'no such execution' : undefined,
      where.bucket ? `no audit record in s3://${where.bucket}` : 'no audit bucket to look in (pass --bucket or set GREENLIGHT_AUDIT_BUCKET)',
      !id.startsWith('arn:') && !where.stateMachineArn ? 'executions not asked (pass --state-machine or set GREENLIGHT_STATE_MACHINE_ARN)' : undefined,
    ].filter(Boolean);
    return fail(`no deployment ${id}: ${looked.join('; ')}`);
  }
  if (options.json) process.stdout.write(`${JSON.stringify({ readFrom: found.readFrom, ...found.timeline }, null, 2)}\n`);
  else process.stdout.write(`${renderTimeline(found.timeline, found.readFrom, where.bucket)}\n`);
  return 0;
}
