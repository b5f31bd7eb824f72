import 'aws-sdk-client-mock-vitest/extend';
import { GetObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { type AuditInput, type AuditRecord, recordAudit } from '../../shared/audit.ts';
import {
  type AuditRow,
  byIdKey,
  decodeField,
  encodeField,
  indexKey,
  indexPrefix,
  maxSegmentBytes,
  parseIndexKey,
  startAfterFor,
} from '../../shared/audit-index.ts';
import { putOnce } from '../../shared/s3-objects.ts';
import { findRecordKeys, listAuditRows, parseOutcomes, parseTimeBound } from '../../shared/audit-read.ts';

const s3 = mockClient(S3Client);
const client = new S3Client({});
const bucket = 'greenlight-audit';

const row = (over: Partial<AuditRow> = {}): AuditRow => {
  const base: AuditRow = {
    deploymentId: 'hello-api-v1-2-0-0123456789abcdef',
    startedAt: '2026-05-04T10:11:12.345Z',
    finishedAt: '2026-05-04T10:14:12.345Z',
    durationMs: 180_000,
    outcome: 'succeeded',
    application: 'hello-api',
    environments: ['hello-api-dev', 'hello-api-prod'],
    repository: 'hello-api',
    tag: 'v1.2.0',
    shortDigest: '0123456789ab',
    pushedBy: 'arn:aws:sts::123456789012:assumed-role/ci-pusher/ci',
    approvedBy: ['arn:aws:sts::123456789012:assumed-role/release-managers/alice'],
    rejectedBy: null,
    recordKey: 'deployments/2026/05/04/hello-api-v1-2-0-0123456789abcdef.json',
  };
  const merged = { ...base, ...over };
  const finishedAt = merged.durationMs === null ? null : new Date(Date.parse(merged.startedAt) + merged.durationMs).toISOString();
  return { ...merged, finishedAt, recordKey: `deployments/${merged.startedAt.slice(0, 10).replaceAll('-', '/')}/${merged.deploymentId}.json` };
};

const lostRace = () => Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
const body = (value: unknown) => ({ Body: { transformToString: async () => JSON.stringify(value) } as never });
const listed = (keys: string[], truncated = false) => ({ Contents: keys.map((Key) => ({ Key })), IsTruncated: truncated });

beforeEach(() => {
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
});

describe('the index key', () => {
  it('carries the whole row: parsing the key gives back what was written', () => {
    const original = row();
    const parsed = parseIndexKey(indexKey(original));
    expect(parsed).toEqual({ complete: true, row: original });
  });

  it('keeps nulls and empty lists apart from values (a tag-policy rejection has no application, environment or approver)', () => {
    const rejected = row({ outcome: 'rejected', application: null, environments: [], pushedBy: null, approvedBy: [], tag: 'latest' });
    expect(parseIndexKey(indexKey(rejected))?.row).toEqual(rejected);
  });

  it('lists newest first in S3 byte order, across days, years and within one second', () => {
    const times = ['2025-12-31T23:59:59.999Z', '2026-01-01T00:00:00.000Z', '2026-05-04T10:11:12.345Z', '2026-05-04T10:11:12.346Z', '2031-01-01T00:00:00.000Z', '2001-09-09T01:46:40.000Z'];
    const keys = times.map((startedAt, i) => indexKey(row({ startedAt, deploymentId: `d${i}` })));
    const listedOrder = [...keys].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)).map((k) => parseIndexKey(k)!.row.startedAt);
    expect(listedOrder).toEqual([...times].sort().reverse());
  });

  it('encodes odd tags, ARNs and names so that no separator, slash or star occurs inside a field', () => {
    const odd = row({
      application: 'hello api/β',
      tag: 'git_abc.1-2',
      environments: ['env,with,commas', 'env!bang'],
      pushedBy: 'arn:aws:iam::123456789012:user/path/with+plus=eq,comma@at',
      approvedBy: ['arn:aws:sts::123456789012:assumed-role/rm/alice*', 'arn:aws:sts::1:assumed-role/r/100%'],
      rejectedBy: 'arn:aws:sts::123456789012:assumed-role/x/~tilde',
    });
    const key = indexKey(odd);
    expect(key.slice(indexPrefix.length).split('/')).toHaveLength(2);
    expect(key).not.toMatch(/[*~ ]/);
    expect(key).toContain('git_abc.1-2'); // the common tag characters stay readable
    expect(key).toContain('user%2Fpath%2Fwith%2Bplus%3Deq%2Ccomma@at');
    expect(parseIndexKey(key)).toEqual({ complete: true, row: odd });
  });

  it('round-trips any text through the field encoding', () => {
    for (const text of ['', 'a', '%41', 'ünïcödé ✓', 'a/b!c,d*e', '\u0000\n']) expect(decodeField(encodeField(text))).toBe(text);
  });

  it('leaves out (as *) the fields that do not fit, keeping every segment short enough for a file name', () => {
    const long = (who: string) => `arn:aws:sts::123456789012:assumed-role/${'r'.repeat(64)}/${who}${'s'.repeat(60)}`;
    const crowded = row({ pushedBy: long('ci'), approvedBy: [long('alice'), long('carol')], tag: 't'.repeat(128) });
    const key = indexKey(crowded);
    for (const segment of key.slice(indexPrefix.length).split('/')) expect(segment.length).toBeLessThanOrEqual(maxSegmentBytes);
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
    const parsed = parseIndexKey(key)!;
    expect(parsed.complete).toBe(false);
    expect(parsed.row).toMatchObject({ deploymentId: crowded.deploymentId, outcome: 'succeeded', startedAt: crowded.startedAt, durationMs: 180_000 });
  });

  it('ignores keys of another layout', () => {
    for (const key of ['index/by-time/not-a-time!x/y', 'index/by-time/1234567890123!a', 'deployments/2026/05/04/x.json', `${indexPrefix}1234567890123!a!b!c!d!e!f!1!g/%ZZ!!`]) {
      expect(parseIndexKey(key)).toBeUndefined();
    }
  });

  it('starts an --until listing right after the newer deployments', () => {
    const until = new Date('2026-05-04T10:11:12.345Z');
    const at = (startedAt: string) => indexKey(row({ startedAt }));
    const startAfter = startAfterFor(until);
    expect(at('2026-05-04T10:11:12.346Z') <= startAfter).toBe(true);
    expect(at('2026-05-04T10:11:12.345Z') > startAfter).toBe(true);
    expect(at('2026-05-03T00:00:00.000Z') > startAfter).toBe(true);
  });
});

describe('listAuditRows', () => {
  const rows = [
    row({ deploymentId: 'a', startedAt: '2026-05-04T12:00:00.000Z', outcome: 'failed', environments: ['hello-api-dev'] }),
    row({ deploymentId: 'b', startedAt: '2026-05-03T12:00:00.000Z', application: 'shop', environments: ['shop-dev'] }),
    row({ deploymentId: 'c', startedAt: '2026-05-02T12:00:00.000Z', outcome: 'superseded' }),
    row({ deploymentId: 'd', startedAt: '2026-04-01T12:00:00.000Z' }),
  ];
  const keys = rows.map(indexKey);

  it('reads every row from the listing alone, newest first, across pages', async () => {
    s3.on(ListObjectsCommand, { Prefix: indexPrefix, Marker: undefined }).resolves(listed(keys.slice(0, 2), true));
    s3.on(ListObjectsCommand, { Prefix: indexPrefix, Marker: keys[1] }).resolves(listed(keys.slice(2)));
    expect(await listAuditRows(client, bucket)).toEqual(rows);
    expect(s3).toHaveReceivedCommandTimes(ListObjectsCommand, 2);
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 0);
  });

  it('filters by application, environment and outcome', async () => {
    s3.on(ListObjectsCommand).resolves(listed(keys));
    expect((await listAuditRows(client, bucket, { application: 'shop' })).map((r) => r.deploymentId)).toEqual(['b']);
    expect((await listAuditRows(client, bucket, { environment: 'hello-api-prod' })).map((r) => r.deploymentId)).toEqual(['c', 'd']);
    expect((await listAuditRows(client, bucket, { outcomes: ['failed', 'superseded'] })).map((r) => r.deploymentId)).toEqual(['a', 'c']);
    expect((await listAuditRows(client, bucket, { limit: 2 })).map((r) => r.deploymentId)).toEqual(['a', 'b']);
  });

  it('stops paging at the first deployment older than --since', async () => {
    s3.on(ListObjectsCommand, { Marker: undefined }).resolves(listed(keys.slice(0, 3), true));
    s3.on(ListObjectsCommand, { Marker: keys[2] }).resolves(listed(keys.slice(3)));
    const found = await listAuditRows(client, bucket, { since: new Date('2026-05-03T00:00:00.000Z') });
    expect(found.map((r) => r.deploymentId)).toEqual(['a', 'b']);
    expect(s3).toHaveReceivedCommandTimes(ListObjectsCommand, 1);
  });

  it('starts the listing at --until', async () => {
    s3.on(ListObjectsCommand).resolves(listed(keys.slice(1)));
    const until = new Date('2026-05-03T23:59:59.999Z');
    await listAuditRows(client, bucket, { until });
    expect(s3).toHaveReceivedCommandWith(ListObjectsCommand, { Bucket: bucket, Prefix: indexPrefix, Marker: startAfterFor(until) });
  });

  it('reads the body of a row whose key could not hold it', async () => {
    const crowded = row({ deploymentId: 'long', approvedBy: Array.from({ length: 4 }, (_, i) => `arn:aws:sts::123456789012:assumed-role/release-managers/approver-${i}-${'x'.repeat(40)}`) });
    const key = indexKey(crowded);
    s3.on(ListObjectsCommand).resolves(listed([key]));
    s3.on(GetObjectCommand, { Key: key }).resolves(body(crowded));
    expect(await listAuditRows(client, bucket)).toEqual([crowded]);
  });

  it('finds the record of a deployment id through its by-id key', async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'index/by-id/a/' }).resolves(listed([byIdKey('a', '2026-05-04T12:00:00.000Z')]));
    expect(await findRecordKeys(client, bucket, 'a')).toEqual(['deployments/2026/05/04/a.json']);
  });
});

describe('writing once', () => {
  it('writes with If-None-Match: * and says whether it wrote', async () => {
    expect(await putOnce(client, { Bucket: bucket, Key: 'k', Body: 'x' })).toBe(true);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: 'k', IfNoneMatch: '*' });
    s3.on(PutObjectCommand).rejects(lostRace());
    expect(await putOnce(client, { Bucket: bucket, Key: 'k', Body: 'y' })).toBe(false);
  });

  it('passes on other errors (the state machine retries them)', async () => {
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
    await expect(putOnce(client, { Bucket: bucket, Key: 'k', Body: 'x' })).rejects.toThrow('slow down');
  });
});

describe('recordAudit', () => {
  const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:greenlight-deploy-pipeline:hello-api-v1-2-0-0123456789abcdef';
  const image = { repository: 'hello-api', tag: 'v1.2.0', digest: `sha256:${'0123456789abcdef'.repeat(4)}` };
  const input = (outcome: AuditInput['outcome']): AuditInput => ({ outcome, executionArn, startedAt: '2026-05-04T10:11:12.345Z', state: { image, error: { Error: 'TagPolicyViolationError', Cause: 'no' } } });
  const put = (key: string) => s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key === key)?.args[0].input;

  it('writes the record once, then its index entries, each with If-None-Match: *', async () => {
    const { key } = await recordAudit({ s3: client }, { bucket, releaseBucket: 'bundles', input: input('rejected'), now: new Date('2026-05-04T10:11:13.000Z') });
    const record = JSON.parse(put(key)!.Body as string) as AuditRecord;
    expect(record.timeline?.source).toBe('state');
    const writes = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(writes.map((w) => [w.Key?.split('/').slice(0, 2).join('/'), w.IfNoneMatch])).toEqual([
      ['deployments/2026', '*'],
      ['index/by-time', '*'],
      ['index/by-id', '*'],
    ]);
    expect(parseIndexKey(writes[1]!.Key!)?.row).toMatchObject({ outcome: 'rejected', tag: 'v1.2.0', durationMs: 655, recordKey: key });
  });

  it('never overwrites a record: a second write for the same id keeps the first, and indexes the first', async () => {
    const first = await recordAudit({ s3: client }, { bucket, releaseBucket: 'bundles', input: input('rejected'), now: new Date('2026-05-04T10:11:13.000Z') });
    const stored = put(first.key)!.Body as string;
    s3.reset();
    s3.on(PutObjectCommand).resolves({});
    s3.on(PutObjectCommand, { Key: first.key }).rejects(lostRace());
    s3.on(GetObjectCommand, { Key: first.key }).resolves({ Body: { transformToString: async () => stored } as never });
    const second = await recordAudit({ s3: client }, { bucket, releaseBucket: 'bundles', input: input('failed'), now: new Date('2026-05-04T10:20:00.000Z') });
    expect(second).toMatchObject({ key: first.key, outcome: 'rejected', finishedAt: '2026-05-04T10:11:13.000Z' });
    const index = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key!).find((k) => k.startsWith(indexPrefix))!;
    expect(parseIndexKey(index)?.row).toMatchObject({ outcome: 'rejected', durationMs: 655 });
  });
});

describe('the command-line filters', () => {
  const now = new Date('2026-05-04T12:00:00.000Z');

  it('reads durations back from now and dates as whole UTC days', () => {
    expect(parseTimeBound('30d', 'since', now).toISOString()).toBe('2026-04-04T12:00:00.000Z');
    expect(parseTimeBound('90m', 'since', now).toISOString()).toBe('2026-05-04T10:30:00.000Z');
    expect(parseTimeBound('2026-05-01', 'since', now).toISOString()).toBe('2026-05-01T00:00:00.000Z');
    expect(parseTimeBound('2026-05-01', 'until', now).toISOString()).toBe('2026-05-01T23:59:59.999Z');
    expect(parseTimeBound('2026-05-01T08:00:00+02:00', 'until', now).toISOString()).toBe('2026-05-01T06:00:00.000Z');
  });

  it('refuses what it cannot read, naming the forms it can', () => {
    for (const text of ['yesterday', '30', '2026-13-45', '2026-02-30', '-3d']) expect(() => parseTimeBound(text, 'since', now)).toThrow(/--since .* duration \(90m, 12h, 30d, 2w\) nor a date/);
  });

  it('takes outcomes comma-separated, deployed meaning succeeded, and names the valid ones', () => {
    expect(parseOutcomes('deployed,failed')).toEqual(['succeeded', 'failed']);
    expect(() => parseOutcomes('deployed,broken')).toThrow(/unknown outcome broken: use succeeded, already-deployed, .*running, deployed/);
  });
});
