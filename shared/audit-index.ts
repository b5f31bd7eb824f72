/**
 * The audit index: besides each record (`deployments/YYYY/MM/DD/<id>.json`), one small object whose
 * KEY is the row `greenlight history` shows, so that a listing alone (1,000 keys a page) answers
 * every filter, newest first, without reading a single body.
 *
 * ```
 * index/by-time/<inverted ms>!<outcome>!<application>!<deployment id>!<repository>!<tag>!<short digest>!<duration ms>!<environments>/<pushed by>!<approved by>!<rejected by>
 * index/by-id/<deployment id>/<inverted ms>
 * ```
 * - `inverted ms` is 9999999999999 minus the start time in epoch milliseconds, 13 digits: S3 lists keys
 *   in byte order, so the listing is newest first; `--until` starts it there (StartAfter/Marker) and
 *   `--since` stops paging at the first older key.
 * - `!` separates fields and `,` the items of a list (environments, approvers). Every field is
 *   percent-encoded except `A-Z a-z 0-9 . _ : @ -`, so neither separator nor `/` (ARNs: `%2F`) nor
 *   `*` ever occurs inside a field; an empty field is null (or an empty list).
 * - Two path segments of at most 220 bytes each: file systems refuse names over 255 bytes (s3rver behind
 *   the local endpoint, `aws s3 sync` of the bucket to a disk), and the principals are the long fields,
 *   so they have the second segment. A key is thus far below S3's 1,024 bytes.
 * - A field that does not fit is written as `*`. The object's body is the whole row as JSON, read only
 *   for such rows (the listing never reads bodies otherwise).
 * - `by-id` lets `greenlight show ID` find the record of an execution Step Functions has forgotten with
 *   one listing (the record's key needs the start date).
 * Both objects are written once (`If-None-Match: *`), after the record, derived from the stored record:
 * an entry never changes, and a retried write finds it in place.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type Outcome, auditKey } from './audit.ts';
import type { Timeline } from './contracts.ts';
import { putOnce } from './s3-objects.ts';

/** One line of `greenlight history`: what the index key carries, plus where the record is. */
export interface AuditRow {
  deploymentId: string;
  startedAt: string;
  /** Null while the deployment runs. */
  finishedAt: string | null;
  durationMs: number | null;
  outcome: Outcome | 'running';
  application: string | null;
  /** The environments the deployment reached or asked approval for, in stage order. */
  environments: string[];
  repository: string | null;
  tag: string | null;
  /** The first 12 hex digits of the image digest. */
  shortDigest: string | null;
  pushedBy: string | null;
  approvedBy: string[];
  rejectedBy: string | null;
  /** The record's key in the audit bucket (null while the deployment runs). */
  recordKey: string | null;
}

export const indexPrefix = 'index/by-time/';
export const byIdPrefix = 'index/by-id/';

/** Path segments stay at most this long (see the module comment). */
export const maxSegmentBytes = 220;
const latestMs = 9_999_999_999_999;
const overflow = '*';

/** Percent-encodes every byte outside `A-Z a-z 0-9 . _ : @ -` (UTF-8), so separators never occur in a field. */
export function encodeField(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._:@-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeField(field: string): string {
  return decodeURIComponent(field);
}

/** The 13-digit key part that sorts newest first. */
export function invertedTime(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms < 0 || ms > latestMs) throw new RangeError(`not a time the audit index can order: ${iso}`);
  return String(latestMs - ms).padStart(13, '0');
}

function timeFromInverted(inverted: string): string {
  return new Date(latestMs - Number(inverted)).toISOString();
}

/** The StartAfter of a listing that begins with the deployments started at or before `until`. */
export function startAfterFor(until: Date): string {
  const inverted = String(latestMs - until.getTime() - 1).padStart(13, '0');
  return `${indexPrefix}${inverted}~`;
}

const list = (items: string[]) => items.map(encodeField).join(',');
const unlist = (field: string) => (field === '' ? [] : field.split(',').map(decodeField));
const nullable = (field: string) => (field === '' ? null : decodeField(field));

/** The row of a deployment, from its timeline (a live execution's, or one rebuilt from its record). */
export function rowFromTimeline(timeline: Timeline): AuditRow {
  const decided = (decision: 'approve' | 'reject') => timeline.approvals.filter((a) => a.decision === decision && a.approver).map((a) => a.approver as string);
  const finishedAt = timeline.outcome === 'running' ? null : timeline.finishedAt;
  return {
    deploymentId: timeline.deploymentId,
    startedAt: timeline.startedAt,
    finishedAt,
    durationMs: finishedAt ? Math.max(0, Date.parse(finishedAt) - Date.parse(timeline.startedAt)) : null,
    outcome: timeline.outcome as AuditRow['outcome'],
    application: timeline.application,
    environments: timeline.environments,
    repository: timeline.image?.repository ?? null,
    tag: timeline.image?.tag ?? null,
    shortDigest: timeline.image ? timeline.image.digest.replace(/^sha256:/, '').slice(0, 12) : null,
    pushedBy: timeline.image?.pushedBy ?? timeline.approvals.flatMap((a) => a.pushers)[0] ?? null,
    approvedBy: [...new Set(decided('approve'))],
    rejectedBy: decided('reject')[0] ?? null,
    recordKey: timeline.recordKey,
  };
}

/**
 * Fits the fields into a segment of at most `maxSegmentBytes`: the longest field that may be left out
 * becomes `*` until it does (the row is then read from the body).
 */
function segment(fields: Array<{ value: string; droppable: boolean }>): string {
  const values = fields.map((f) => f.value);
  const length = () => values.join('!').length;
  while (length() > maxSegmentBytes) {
    let longest = -1;
    for (const [i, field] of fields.entries()) {
      if (field.droppable && values[i] !== overflow && (longest < 0 || values[i]!.length > values[longest]!.length)) longest = i;
    }
    if (longest < 0) throw new RangeError(`an audit index segment cannot be shortened below ${length()} bytes`);
    values[longest] = overflow;
  }
  return values.join('!');
}

/** The by-time key of a row (see the module comment for the layout). */
export function indexKey(row: AuditRow): string {
  const first = segment([
    { value: invertedTime(row.startedAt), droppable: false },
    { value: encodeField(row.outcome), droppable: false },
    { value: encodeField(row.application ?? ''), droppable: true },
    { value: encodeField(row.deploymentId), droppable: false },
    { value: encodeField(row.repository ?? ''), droppable: true },
    { value: encodeField(row.tag ?? ''), droppable: true },
    { value: encodeField(row.shortDigest ?? ''), droppable: false },
    { value: row.durationMs === null ? '' : String(row.durationMs), droppable: false },
    { value: list(row.environments), droppable: true },
  ]);
  const second = segment([
    { value: encodeField(row.pushedBy ?? ''), droppable: true },
    { value: list(row.approvedBy), droppable: true },
    { value: encodeField(row.rejectedBy ?? ''), droppable: true },
  ]);
  return `${indexPrefix}${first}/${second}`;
}

/** A row read back from its key; `complete: false` when a field was too long for it (`*`): read the body. */
export interface ParsedIndexKey {
  row: AuditRow;
  complete: boolean;
}

/**
 * Reads a by-time key back into its row; undefined for a key of another layout. The record key is
 * computed as `auditKey` does (start date and id). Extra trailing fields (a later layout) are ignored.
 */
export function parseIndexKey(key: string): ParsedIndexKey | undefined {
  try {
    return parsed(key);
  } catch {
    return undefined; // not percent-encoding of ours
  }
}

function parsed(key: string): ParsedIndexKey | undefined {
  if (!key.startsWith(indexPrefix)) return undefined;
  const segments = key.slice(indexPrefix.length).split('/');
  if (segments.length !== 2) return undefined;
  const first = segments[0]!.split('!');
  const second = segments[1]!.split('!');
  if (first.length < 9 || second.length < 3 || !/^\d{13}$/.test(first[0]!)) return undefined;
  const [inverted, outcome, application, id, repository, tag, shortDigest, duration, environments] = first as [string, ...string[]];
  const [pushedBy, approvedBy, rejectedBy] = second as [string, string, string];
  const complete = ![...first.slice(0, 9), pushedBy, approvedBy, rejectedBy].includes(overflow);
  const field = (f: string | undefined) => (f === overflow ? '' : (f ?? ''));
  const startedAt = timeFromInverted(inverted);
  const deploymentId = decodeField(id!);
  const durationMs = duration ? Number(duration) : null;
  return {
    complete,
    row: {
      deploymentId,
      startedAt,
      finishedAt: durationMs === null ? null : new Date(Date.parse(startedAt) + durationMs).toISOString(),
      durationMs,
      outcome: decodeField(outcome!) as AuditRow['outcome'],
      application: nullable(field(application)),
      environments: unlist(field(environments)),
      repository: nullable(field(repository)),
      tag: nullable(field(tag)),
      shortDigest: nullable(field(shortDigest)),
      pushedBy: nullable(field(pushedBy)),
      approvedBy: unlist(field(approvedBy)),
      rejectedBy: nullable(field(rejectedBy)),
      recordKey: auditKey({ startedAt, deploymentId }),
    },
  };
}

/** The by-id key of a deployment (several when Step Functions reused the name after 90 days). */
export function byIdKey(deploymentId: string, startedAt: string): string {
  return `${byIdPrefix}${encodeField(deploymentId)}/${invertedTime(startedAt)}`;
}

/** The listing prefix of one deployment's by-id keys. */
export function byIdListPrefix(deploymentId: string): string {
  return `${byIdPrefix}${encodeField(deploymentId)}/`;
}

/** The start time a by-id key carries. */
export function startedAtOfByIdKey(key: string): string | undefined {
  const inverted = key.split('/').pop() ?? '';
  return /^\d{13}$/.test(inverted) ? timeFromInverted(inverted) : undefined;
}


/** Writes the two index objects of a stored record's row (each once; an existing one is left as is). */
export async function writeAuditIndex(s3: S3Client, bucket: string, row: AuditRow): Promise<{ indexKey: string; byIdKey: string }> {
  const keys = { indexKey: indexKey(row), byIdKey: byIdKey(row.deploymentId, row.startedAt) };
  const json = { ContentType: 'application/json', Bucket: bucket };
  await putOnce(s3, { ...json, Key: keys.indexKey, Body: JSON.stringify(row) });
  await putOnce(s3, { ...json, Key: keys.byIdKey, Body: JSON.stringify({ recordKey: row.recordKey, indexKey: keys.indexKey }) });
  return keys;
}
