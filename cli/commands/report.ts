import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { parseTimeBound } from '../../shared/audit-read.ts';
import { renderReport } from '../report/html.ts';
import { loadAuditRecords } from '../report/load.ts';
import { selectRecords } from '../report/model.ts';
import { bold, dim, fail, yellow } from '../output.ts';

const s3 = new S3Client({});

/** The audit bucket of `greenlight local` (the local stack's name for the stage `local`). */
export const localAuditBucket = 'greenlight-local-audit';

export interface ReportOptions {
  html: string;
  since?: string;
  until?: string;
  app?: string;
  bucket?: string;
}

/** --bucket, else GREENLIGHT_AUDIT_BUCKET, else the local stack's bucket when AWS_ENDPOINT_URL points at an endpoint. */
function auditBucket(options: ReportOptions): string | undefined {
  return options.bucket || process.env.GREENLIGHT_AUDIT_BUCKET || (process.env.AWS_ENDPOINT_URL ? localAuditBucket : undefined);
}

const missingBucket =
  'no audit bucket: pass --bucket or set GREENLIGHT_AUDIT_BUCKET (the AuditBucketName output of the stack; with AWS_ENDPOINT_URL set, `greenlight local`\u2019s greenlight-local-audit)';

/** What went wrong reading the bucket, in words the user can act on (undefined: not an error we know). */
function readError(error: unknown, bucket: string): string | undefined {
  const e = error as { name?: string; message?: string; code?: string; cause?: { code?: string }; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'NoSuchBucket') return `the audit bucket ${bucket} does not exist here (${process.env.AWS_ENDPOINT_URL ?? `region ${process.env.AWS_REGION ?? 'unset'}`}); check --bucket / GREENLIGHT_AUDIT_BUCKET`;
  if (e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403)
    return `not allowed to read s3://${bucket} (${e.message}); the report needs s3:ListBucket on the bucket and s3:GetObject on deployments/*`;
  if (e.name === 'CredentialsProviderError') return `no AWS credentials found (${e.message})`;
  if (e.message?.includes('Region is missing')) return 'no AWS region: set AWS_REGION (the region of the stack)';
  if (e.code === 'ECONNREFUSED' || e.cause?.code === 'ECONNREFUSED') return `${process.env.AWS_ENDPOINT_URL ?? 'the S3 endpoint'} does not answer (is \`greenlight local\` running?)`;
  return undefined;
}

/** `greenlight report --html FILE`: the audit records of a period as one self-contained HTML page. */
export async function reportCommand(options: ReportOptions, now = new Date()): Promise<number> {
  let period: { since: Date; until: Date };
  try {
    // The same reading of --since/--until as `greenlight history`: durations back from now, dates in UTC, an --until day included.
    period = { since: parseTimeBound(options.since ?? '30d', 'since', now), until: options.until === undefined ? now : parseTimeBound(options.until, 'until', now) };
  } catch (error) {
    if (error instanceof RangeError) return fail(error.message, 2);
    throw error;
  }
  if (period.since.getTime() > period.until.getTime()) return fail(`--since ${period.since.toISOString()} is after --until ${period.until.toISOString()}`, 2);
  const bucket = auditBucket(options);
  if (!bucket) return fail(missingBucket, 2);

  let loaded: Awaited<ReturnType<typeof loadAuditRecords>>;
  try {
    loaded = await loadAuditRecords({ s3 }, { bucket, ...period });
  } catch (error) {
    const message = readError(error, bucket);
    if (message) return fail(message);
    throw error;
  }
  for (const { key, reason } of loaded.unreadable) process.stderr.write(`${yellow('skipped')} s3://${bucket}/${key}: ${reason}\n`);

  const selected = selectRecords(loaded.records, { ...period, app: options.app });
  const html = renderReport(selected, { ...period, app: options.app, generatedAt: now });
  const file = resolve(options.html);
  try {
    await writeFile(file, html);
  } catch (error) {
    return fail(`cannot write ${file}: ${(error as Error).message}`);
  }
  const range = `${period.since.toISOString().slice(0, 16)}Z → ${period.until.toISOString().slice(0, 16)}Z`;
  process.stdout.write(
    `wrote ${bold(file)}: ${selected.length} deployment${selected.length === 1 ? '' : 's'}${options.app ? ` of ${options.app}` : ''}, ${range} ${dim(`(s3://${bucket}, through its audit index)`)}\n`,
  );
  return 0;
}
