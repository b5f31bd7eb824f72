import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';

/** How a deployment ended. */
export const Outcome = z.enum(['succeeded', 'failed', 'rejected', 'superseded', 'expired']);
export type Outcome = z.infer<typeof Outcome>;

/** What the state machine hands the audit step: its whole state, whatever that holds on this path. */
export const AuditInput = z.object({
  outcome: Outcome,
  executionArn: z.string(),
  startedAt: z.string(),
  state: z.record(z.string(), z.unknown()),
});
export type AuditInput = z.infer<typeof AuditInput>;

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
  stages: unknown[];
  error: string | null;
  cause: string | null;
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

/** Builds the record from whatever the execution reached (a rejection has no plan, no bundle). */
export function buildAuditRecord(input: AuditInput, finishedAt: Date): AuditRecord {
  const state = input.state as Record<string, any>;
  const deploymentId = input.executionArn.split(':').pop() ?? input.executionArn;
  const image = state.plan?.image ?? state.image ?? null;
  const error = state.error as { Error?: string; Cause?: string } | undefined;
  return {
    schemaVersion: 1,
    deploymentId,
    executionArn: input.executionArn,
    outcome: input.outcome,
    startedAt: input.startedAt,
    finishedAt: finishedAt.toISOString(),
    application: state.plan?.application ?? null,
    image: image ? { repository: image.repository, tag: image.tag, digest: image.digest, pushedBy: image.pushedBy ?? null, pushedAt: image.pushedAt ?? null } : null,
    versionLabel: state.bundle?.versionLabel ?? null,
    bundle: state.bundle ? { bucket: state.bundle.bucket, key: state.bundle.key, sha256: state.bundle.sha256 } : null,
    stages: Array.isArray(state.stages) ? state.stages : [],
    error: error?.Error ?? null,
    cause: readableCause(error?.Cause),
  };
}

/** Where a record lives: by start date, so audits read a day or a month with one prefix. */
export function auditKey(record: Pick<AuditRecord, 'startedAt' | 'deploymentId'>): string {
  const day = record.startedAt.slice(0, 10).replaceAll('-', '/');
  return `deployments/${day}/${record.deploymentId}.json`;
}

/**
 * Writes the audit record of a finished deployment and returns the error and cause the execution
 * ends with, so the last Fail state says in plain words what went wrong.
 */
export async function recordAudit(
  { s3 }: { s3: S3Client },
  { bucket, input, now = new Date() }: { bucket: string; input: AuditInput; now?: Date },
): Promise<{ key: string; outcome: Outcome; error: string; cause: string }> {
  const record = buildAuditRecord(input, now);
  const key = auditKey(record);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${JSON.stringify(record, null, 2)}\n`,
      ContentType: 'application/json',
      Metadata: { outcome: record.outcome, application: record.application ?? '', 'deployment-id': record.deploymentId },
    }),
  );
  return { key, outcome: record.outcome, error: record.error ?? 'None', cause: record.cause ?? `deployment ${record.outcome}` };
}
