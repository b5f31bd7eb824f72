import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { rowFromTimeline, writeAuditIndex } from './audit-index.ts';
import { readRelease } from './bundle/release.ts';
import { putOnce } from './s3-objects.ts';
import { readAuditRecordAt, recordedTimeline, timelineFromRecord } from './audit-read.ts';
import { type RecordedTimeline, type StoredBundle, readPipelineState } from './contracts.ts';
import * as z from './zod.ts';

/**
 * How a deployment ended. `already-deployed`: every stage found the same bytes running (another tag
 * of the image); `unverified`: an update was made and its health could not be established.
 */
export const Outcome = z.enum(['succeeded', 'already-deployed', 'failed', 'rejected', 'superseded', 'expired', 'unverified']);
export type Outcome = z.infer<typeof Outcome>;

/** What the state machine hands the audit step: its whole state, whatever that holds on this path. */
export const AuditInput = z.object({
  outcome: Outcome,
  executionArn: z.string(),
  startedAt: z.string(),
  state: z.record(z.string(), z.unknown()),
});
export type AuditInput = z.infer<typeof AuditInput>;

/**
 * One approval decision, as the approval API sent it to Step Functions: who decided, and whether the
 * approver was checked against every known pusher (`enforced`) or the configuration said
 * `separationOfDuties: false` (`off`); null for decisions recorded before greenlight said so.
 */
export interface ApprovalAudit {
  environment: string | null;
  decision: 'approve' | 'reject';
  approver: string;
  comment: string;
  at: string;
  separationOfDuties: 'enforced' | 'off' | null;
  sameRolePolicy: string | null;
  pushers: string[];
}

/** One deployment's permanent record, kept after Step Functions forgets the execution (90 days). */
export interface AuditRecord {
  schemaVersion: 1;
  deploymentId: string;
  executionArn: string;
  outcome: Outcome;
  startedAt: string;
  finishedAt: string;
  application: string | null;
  image: { repository: string; tag: string; digest: string; pushedBy: string | null; pushedAt: string | null } | null;
  versionLabel: string | null;
  bundle: { bucket: string; key: string; sha256: string } | null;
  /** Every image the release runs, repository → pinned reference (all containers, not only the pushed one). */
  images: Record<string, string> | null;
  stages: unknown[];
  /** Every approval decision of the deployment (the rejection that ended it included). */
  approvals: ApprovalAudit[];
  error: string | null;
  cause: string | null;
  /** Every step, approval and EB event of the execution (`greenlight show` after Step Functions forgot it); absent in older records. */
  timeline?: RecordedTimeline;
}

/** The human part of a Step Functions Cause: a Lambda error's `errorMessage`, or the text as is. */
export function readableCause(cause: unknown): string | null {
  if (typeof cause !== 'string' || cause === '') return null;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown; decision?: unknown; approver?: unknown; comment?: unknown; at?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
    if (parsed && parsed.decision === 'reject') return `rejected by ${String(parsed.approver)} at ${String(parsed.at)}: ${String(parsed.comment)}`;
  } catch {
    // not JSON: a Fail state's Cause, already readable
  }
  return cause;
}

/** An approval decision as it stands in a stage's output or a rejection's Cause, if it is one (the report reads it the same way). */
export function approvalAudit(value: unknown, environment: string | null): ApprovalAudit | undefined {
  const d = value as Record<string, unknown> | null | undefined;
  if (!d || (d.decision !== 'approve' && d.decision !== 'reject') || typeof d.approver !== 'string') return undefined;
  return {
    environment: typeof d.environment === 'string' ? d.environment : environment,
    decision: d.decision,
    approver: d.approver,
    comment: typeof d.comment === 'string' ? d.comment : '',
    at: typeof d.at === 'string' ? d.at : '',
    separationOfDuties: d.separationOfDuties === 'enforced' || d.separationOfDuties === 'off' ? d.separationOfDuties : null,
    sameRolePolicy: typeof d.sameRolePolicy === 'string' ? d.sameRolePolicy : null,
    pushers: Array.isArray(d.pushers) ? d.pushers.filter((p): p is string => typeof p === 'string') : [],
  };
}

/** The approval decisions an execution's state holds: each stage's, and the rejection's (its Cause). */
export function approvalsOf(stages: unknown[], error: { Error?: string; Cause?: string } | undefined): ApprovalAudit[] {
  const decided = stages.map((stage) => {
    const s = stage as { environment?: unknown; approval?: unknown } | null;
    return approvalAudit(s?.approval, typeof s?.environment === 'string' ? s.environment : null);
  });
  if (error?.Error === 'ApprovalRejectedError' && typeof error.Cause === 'string') {
    try {
      decided.push(approvalAudit(JSON.parse(error.Cause), null));
    } catch {
      // a Cause that is not the decision record: nothing to add
    }
  }
  return decided.filter((a): a is ApprovalAudit => a !== undefined);
}

/**
 * Builds the record from whatever the execution reached (a rejection has no plan, no release);
 * `release` is the bundle its first stage prepared, which a failed stage no longer carries in its state.
 */
export function buildAuditRecord(input: AuditInput, finishedAt: Date, release: StoredBundle | null = null): AuditRecord {
  const state = readPipelineState(input.state);
  const deploymentId = input.executionArn.split(':').pop() ?? input.executionArn;
  const pushed = state.plan?.image ?? state.image;
  const error = state.error;
  // The stage outputs go into the record as the state machine wrote them; what is read of them, typed.
  const stages = writtenStages(input);
  const read = state.stages ?? [];
  const nothingChanged = stages.length > 0 && read.length === stages.length && read.every((stage) => stage.outcome === 'already-deployed');
  const outcome = input.outcome === 'succeeded' && nothingChanged ? 'already-deployed' : input.outcome;
  return {
    schemaVersion: 1,
    deploymentId,
    executionArn: input.executionArn,
    outcome,
    startedAt: input.startedAt,
    finishedAt: finishedAt.toISOString(),
    application: state.plan?.application ?? null,
    image: pushed
      ? { repository: pushed.repository, tag: pushed.tag, digest: pushed.digest, pushedBy: pushed.pushedBy ?? null, pushedAt: state.plan?.image.pushedAt ?? null }
      : null,
    versionLabel: release?.versionLabel ?? null,
    bundle: release ? { bucket: release.bucket, key: release.key, sha256: release.sha256 } : null,
    images: release?.images ?? null,
    stages,
    approvals: approvalsOf(stages, error),
    error: outcome === 'unverified' ? 'DeploymentUnverifiedError' : (error?.Error ?? null),
    cause: readableCause(error?.Cause),
  };
}

/** Where a record lives: by start date, so audits read a day or a month with one prefix. */
export function auditKey(record: Pick<AuditRecord, 'startedAt' | 'deploymentId'>): string {
  const day = record.startedAt.slice(0, 10).replaceAll('-', '/');
  return `deployments/${day}/${record.deploymentId}.json`;
}

/** The stage outputs as the state holds them (the record keeps them as written, fields of newer versions included). */
function writtenStages(input: AuditInput): unknown[] {
  const stages: unknown = input.state.stages;
  return Array.isArray(stages) ? (stages as unknown[]) : [];
}

function error(input: AuditInput): string | undefined {
  return readPipelineState(input.state).error?.Error;
}

/**
 * Writes the audit record of a finished deployment and returns the error and cause the execution
 * ends with, so the last Fail state says in plain words what went wrong.
 */
export async function recordAudit(
  { s3, sfn, eb }: { s3: S3Client; sfn?: SFNClient; eb?: ElasticBeanstalkClient },
  { bucket, releaseBucket, input, now = new Date() }: { bucket: string; releaseBucket: string; input: AuditInput; now?: Date },
): Promise<{ key: string; outcome: Outcome; error: string; cause: string; finishedAt: string }> {
  const state = readPipelineState(input.state);
  const execution = input.executionArn.split(':').pop() ?? input.executionArn;
  const fromStages = state.stages?.find((stage) => stage.release)?.release;
  const application = state.plan?.application;
  const release = fromStages ?? (application ? await readRelease(s3, releaseBucket, application, execution) : null);
  const built: AuditRecord = { ...buildAuditRecord(input, now, release), timeline: await recordedTimeline({ sfn, eb }, input) };
  const key = auditKey(built);
  const written = await putOnce(s3, {
    Bucket: bucket,
    Key: key,
    Body: `${JSON.stringify(built, null, 2)}\n`,
    ContentType: 'application/json',
    Metadata: { outcome: built.outcome, application: built.application ?? '', 'deployment-id': built.deploymentId },
  });
  // Never overwritten: a retry or a lost race keeps the first record, and indexes that one.
  const record = written ? built : ((await readAuditRecordAt(s3, bucket, key)) ?? built);
  await writeAuditIndex(s3, bucket, rowFromTimeline(timelineFromRecord(record)));
  const cause =
    record.outcome === 'unverified'
      ? `An update was made and could not be verified (${error(input) ?? 'unknown error'}: ${record.cause ?? 'no cause'}); the environment needs a person to look at it now.`
      : (record.cause ?? `deployment ${record.outcome}`);
  return { key, outcome: record.outcome, error: record.error ?? 'None', cause, finishedAt: record.finishedAt };
}
