import 'aws-sdk-client-mock-vitest/extend';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type PushedImage,
  abandonEnvironments,
  acquireEnvironment,
  renewLease,
  isNewerPush,
  recordPendingUpdate,
  releaseEnvironment,
} from '../../shared/environments/lease.ts';
import { type EnvironmentLedger, type PendingUpdate, emptyLedger, ledgerKey, readLedger } from '../../shared/environments/ledger.ts';
import { SupersededError, TransientAwsError } from '../../shared/errors.ts';

const s3 = mockClient(S3Client);
const clients = { s3: new S3Client({}) };

const hex = (c: string) => `sha256:${c.repeat(64)}`;
const bucket = 'greenlight-bundles';
const now = new Date('2025-03-01T12:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(now.getTime() + offsetSeconds * 1000).toISOString();
const target = { bucket, application: 'shop', environment: 'shop-dev' };
const key = ledgerKey('shop', 'shop-dev');

const older: PushedImage = { repository: 'shop-server', digest: hex('a'), tag: 'v1', pushedAt: '2025-03-01T10:00:00.000Z' };
const newer: PushedImage = { repository: 'shop-server', digest: hex('b'), tag: 'v2', pushedAt: '2025-03-01T11:00:00.000Z' };
const acquire = (image: PushedImage, execution: string) => acquireEnvironment(clients, { ...target, image, execution, leaseSeconds: 3600, now });

const ledger = (over: Partial<EnvironmentLedger> = {}): EnvironmentLedger => ({ ...emptyLedger('shop', 'shop-dev'), ...over });
const json = (value: unknown) => ({ transformToString: async () => JSON.stringify(value) }) as never;
const stored = (value: EnvironmentLedger, etag = '"etag-1"') => ({ Body: json(value), ETag: etag });
const storeLedger = (value: EnvironmentLedger, ledgerKeyName = key) => s3.on(GetObjectCommand, { Bucket: bucket, Key: ledgerKeyName }).resolves(stored(value));
const missing = () => new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
const written = (index = 0): EnvironmentLedger => JSON.parse(s3.commandCalls(PutObjectCommand)[index]?.args[0].input.Body as string);
const lostRace = () => Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
const liveLease = (holder: string, update: PendingUpdate | null = null) => ({ holder, acquiredAt: iso(-60), expiresAt: iso(600), update });

beforeEach(() => {
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
});

describe('isNewerPush', () => {
  it('orders pushes by ECR push time', () => {
    expect(isNewerPush(newer, older)).toBe(true);
    expect(isNewerPush(older, newer)).toBe(false);
  });

  it('compares instants, not ISO spellings', () => {
    expect(isNewerPush({ pushedAt: '2025-03-01T10:00:00Z', digest: hex('1') }, { pushedAt: '2025-03-01T10:00:00.000Z', digest: hex('2') })).toBe(false);
    expect(isNewerPush({ pushedAt: '2025-03-01T11:00:00+01:00', digest: hex('2') }, { pushedAt: '2025-03-01T10:00:00.000Z', digest: hex('1') })).toBe(true);
  });

  it('breaks a tie of push times by digest, so every reader agrees on one winner', () => {
    const a = { pushedAt: older.pushedAt, digest: hex('a') };
    const b = { pushedAt: older.pushedAt, digest: hex('b') };
    expect(isNewerPush(b, a)).toBe(true);
    expect(isNewerPush(a, b)).toBe(false);
    expect(isNewerPush(a, a)).toBe(false);
  });
});

describe('readLedger', () => {
  it('reads an empty ledger without an ETag when none was written yet', async () => {
    s3.on(GetObjectCommand).rejects(missing());
    await expect(readLedger(clients.s3, bucket, 'shop', 'shop-dev')).resolves.toEqual({ ledger: emptyLedger('shop', 'shop-dev'), etag: null });
  });

  it('fills the defaults of a minimal ledger and keeps its ETag', async () => {
    s3.on(GetObjectCommand, { Bucket: bucket, Key: key }).resolves({ Body: json({ schemaVersion: 1, application: 'shop', environment: 'shop-dev' }), ETag: '"e"' });
    await expect(readLedger(clients.s3, bucket, 'shop', 'shop-dev')).resolves.toEqual({ ledger: emptyLedger('shop', 'shop-dev'), etag: '"e"' });
  });

  it('lets other S3 errors through', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    await expect(readLedger(clients.s3, bucket, 'shop', 'shop-dev')).rejects.toThrow('Access Denied');
  });

  it('keeps an application name with unsafe characters in one path segment', () => {
    expect(ledgerKey('my app/x', 'env-1')).toBe('environments/my%20app%2Fx/env-1.json');
  });
});

describe('acquireEnvironment', () => {
  it('creates the ledger of a new environment with If-None-Match and takes its lease', async () => {
    s3.on(GetObjectCommand).rejects(missing());
    await expect(acquire(newer, 'exec-b')).resolves.toEqual({ status: 'acquired', environment: 'shop-dev', holder: 'exec-b', expiresAt: iso(3600) });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: bucket, Key: key, IfNoneMatch: '*' });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).not.toHaveProperty('IfMatch');
    expect(written()).toEqual({
      ...emptyLedger('shop', 'shop-dev'),
      claims: { 'shop-server': { ...newer, execution: 'exec-b' } },
      lease: { holder: 'exec-b', acquiredAt: now.toISOString(), expiresAt: iso(3600), update: null },
    });
  });

  it('waits for a live lease held by another execution and records its newer claim', async () => {
    storeLedger(ledger({ claims: { 'shop-server': { ...older, execution: 'exec-a' } }, lease: liveLease('exec-a') }));
    await expect(acquire(newer, 'exec-b')).resolves.toEqual({ status: 'waiting', environment: 'shop-dev', holder: 'exec-a', expiresAt: iso(600) });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: key, IfMatch: '"etag-1"' });
    expect(written()).toMatchObject({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } }, lease: liveLease('exec-a') });
  });

  it('waits without writing when its claim is already recorded', async () => {
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } }, lease: liveLease('exec-a') }));
    await expect(acquire(newer, 'exec-b')).resolves.toMatchObject({ status: 'waiting', holder: 'exec-a' });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('records a claim of another repository while it waits, keeping the claims of the others', async () => {
    const worker: PushedImage = { repository: 'shop-worker', digest: hex('c'), tag: 'w1', pushedAt: '2025-03-01T09:00:00.000Z' };
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-a' } }, lease: liveLease('exec-a') }));
    await expect(acquire(worker, 'exec-w')).resolves.toMatchObject({ status: 'waiting' });
    expect(written().claims).toEqual({ 'shop-server': { ...newer, execution: 'exec-a' }, 'shop-worker': { ...worker, execution: 'exec-w' } });
  });

  it('takes over an expired lease', async () => {
    storeLedger(ledger({ claims: { 'shop-server': { ...older, execution: 'exec-a' } }, lease: { holder: 'exec-a', acquiredAt: iso(-7200), expiresAt: iso(-1), update: null } }));
    await expect(acquire(newer, 'exec-b')).resolves.toEqual({ status: 'acquired', environment: 'shop-dev', holder: 'exec-b', expiresAt: iso(3600) });
    expect(written().lease).toEqual({ holder: 'exec-b', acquiredAt: now.toISOString(), expiresAt: iso(3600), update: null });
  });

  it('gives the holder its lease again without writing when nothing changed', async () => {
    const lease = liveLease('exec-b', { kind: 'deploy', versionLabel: 'v2-x', previousVersionLabel: null, startedAt: iso(-30) });
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } }, lease }));
    await expect(acquire(newer, 'exec-b')).resolves.toEqual({ status: 'acquired', environment: 'shop-dev', holder: 'exec-b', expiresAt: lease.expiresAt });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('gives the holder its lease again even after it expired, when nobody took it, without dropping its pending update', async () => {
    const pending: PendingUpdate = { kind: 'deploy', versionLabel: 'v2-x', previousVersionLabel: 'v1-x', startedAt: iso(-7000) };
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } }, lease: { holder: 'exec-b', acquiredAt: iso(-7200), expiresAt: iso(-1), update: pending } }));
    await expect(acquire(newer, 'exec-b')).resolves.toMatchObject({ status: 'acquired', holder: 'exec-b' });
    const updates = s3.commandCalls(PutObjectCommand).map((call) => JSON.parse(call.args[0].input.Body as string).lease?.update);
    expect(updates).toEqual(updates.map(() => pending));
  });

  it('supersedes a push older than the claim of its repository, without writing', async () => {
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } } }));
    const error = await acquire(older, 'exec-a').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SupersededError);
    expect((error as SupersededError).detail).toMatchObject({ environment: 'shop-dev', digest: older.digest, newer: { digest: newer.digest, execution: 'exec-b' } });
    expect((error as Error).message).toContain('v2');
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('never supersedes the same digest pushed under another tag', async () => {
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } } }));
    const retag: PushedImage = { ...newer, tag: 'release-7', pushedAt: '2025-03-01T10:30:00.000Z' };
    await expect(acquire(retag, 'exec-r')).resolves.toMatchObject({ status: 'acquired', holder: 'exec-r' });
  });

  it('keeps the first claim of a digest when it comes again under another tag', async () => {
    const claim = { ...newer, execution: 'exec-b' };
    storeLedger(ledger({ claims: { 'shop-server': claim }, lease: liveLease('exec-b') }));
    const retag: PushedImage = { ...newer, tag: 'release-7', pushedAt: '2025-03-01T11:30:00.000Z' };
    await expect(acquire(retag, 'exec-r')).resolves.toMatchObject({ status: 'waiting', holder: 'exec-b' });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('decides again on the ledger that won a lost race', async () => {
    s3.on(GetObjectCommand, { Key: key })
      .resolvesOnce(stored(ledger(), '"etag-1"'))
      .resolves(stored(ledger({ claims: { 'shop-server': { ...older, execution: 'exec-a' } }, lease: liveLease('exec-a') }), '"etag-2"'));
    s3.on(PutObjectCommand).rejectsOnce(lostRace()).resolves({});
    await expect(acquire(newer, 'exec-b')).resolves.toMatchObject({ status: 'waiting', holder: 'exec-a' });
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 2);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 2);
    expect(s3).toHaveReceivedNthCommandWith(PutObjectCommand, 2, { IfMatch: '"etag-2"' });
    expect(written(1)).toMatchObject({ lease: { holder: 'exec-a' }, claims: { 'shop-server': { digest: newer.digest, execution: 'exec-b' } } });
  });

  it('is superseded when the race was lost to a newer push of its repository', async () => {
    s3.on(GetObjectCommand, { Key: key })
      .resolvesOnce(stored(ledger(), '"etag-1"'))
      .resolves(stored(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } }, lease: liveLease('exec-b') }), '"etag-2"'));
    s3.on(PutObjectCommand).rejectsOnce(lostRace()).resolves({});
    await expect(acquire(older, 'exec-a')).rejects.toThrow(SupersededError);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
  });

  it.each([
    ['412 by status only', Object.assign(new Error('precondition'), { name: 'Unknown', $metadata: { httpStatusCode: 412 } })],
    ['PreconditionFailed by name only', Object.assign(new Error('precondition'), { name: 'PreconditionFailed' })],
    ['409 ConditionalRequestConflict', Object.assign(new Error('conflict'), { name: 'ConditionalRequestConflict', $metadata: { httpStatusCode: 409 } })],
  ])('counts %s as a lost race', async (_, error) => {
    s3.on(GetObjectCommand).rejects(missing());
    s3.on(PutObjectCommand).rejectsOnce(error).resolves({});
    await expect(acquire(newer, 'exec-b')).resolves.toMatchObject({ status: 'acquired' });
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 2);
  });

  it('hands the retry to the state machine after 8 lost races', async () => {
    s3.on(GetObjectCommand).rejects(missing());
    s3.on(PutObjectCommand).rejects(lostRace());
    await expect(acquire(newer, 'exec-b')).rejects.toThrow(TransientAwsError);
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 8);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 8);
  });

  it('lets other write errors through at once', async () => {
    s3.on(GetObjectCommand).rejects(missing());
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    await expect(acquire(newer, 'exec-b')).rejects.toThrow('Access Denied');
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
  });
});

describe('recordPendingUpdate', () => {
  const update: PendingUpdate = { kind: 'deploy', versionLabel: 'v2-x', previousVersionLabel: 'v1-x', startedAt: now.toISOString() };
  const record = (over: { pushed?: PushedImage; images?: PushedImage[]; execution?: string; update?: PendingUpdate } = {}) =>
    recordPendingUpdate(clients, { ...target, execution: 'exec-b', pushed: newer, images: [newer], update, leaseSeconds: 2100, now, ...over });
  const worker: PushedImage = { repository: 'shop-worker', digest: hex('5'), tag: '(in v2-x)', pushedAt: '2025-03-01T09:00:00.000Z' };

  it('records the carried images it replaced, to put them back after a rollback', async () => {
    const carried = { ...older, execution: 'exec-a' };
    storeLedger(ledger({ lease: liveLease('exec-b'), carried: { 'shop-server': carried } }));
    await recordPendingUpdate(clients, { ...target, execution: 'exec-b', images: [newer], update: { kind: 'deploy', versionLabel: 'v2-x', previousVersionLabel: 'v1-x', startedAt: iso(0) }, leaseSeconds: 60, now });
    expect(written().lease?.update?.carriedBefore).toEqual({ 'shop-server': carried });
  });

  it('writes the intent and extends the lease for the holder', async () => {
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } }, lease: liveLease('exec-b') }));
    await expect(record()).resolves.toEqual({ kind: 'update' });
    expect(written().lease).toMatchObject({ ...liveLease('exec-b'), expiresAt: iso(2100), update });
  });

  it('raises the carried floor to every image of the release', async () => {
    storeLedger(ledger({ lease: liveLease('exec-b'), carried: { 'shop-server': { ...older, execution: 'exec-a' } } }));
    await expect(record({ images: [newer, worker] })).resolves.toEqual({ kind: 'update' });
    expect(written().carried).toEqual({ 'shop-server': { ...newer, execution: 'exec-b' }, 'shop-worker': { ...worker, execution: 'exec-b' } });
  });

  it('is not stopped by, and keeps, the carried entry of the same digest under another tag and push time', async () => {
    const carried = { ...worker, tag: 'w1', pushedAt: '2025-03-01T10:00:00.000Z', execution: 'exec-a' };
    storeLedger(ledger({ lease: liveLease('exec-b'), carried: { 'shop-worker': carried } }));
    await expect(record({ images: [newer, worker] })).resolves.toEqual({ kind: 'update' });
    expect(written().carried['shop-worker']).toEqual(carried);
  });

  it('frees the lease and says lost when a container of the release is older than one already carried here', async () => {
    const carried = { ...worker, digest: hex('6'), tag: 'w6', pushedAt: '2025-03-01T10:00:00.000Z', execution: 'exec-w' };
    storeLedger(ledger({ lease: liveLease('exec-b'), carried: { 'shop-worker': carried } }));
    await expect(record({ images: [newer, worker] })).resolves.toMatchObject({ kind: 'lost', holder: 'exec-w' });
    expect(written()).toMatchObject({ lease: null, carried: { 'shop-worker': carried } });
  });

  it('is not stopped by a newer claim of a sibling repository', async () => {
    storeLedger(ledger({ lease: liveLease('exec-b'), claims: { 'shop-worker': { ...worker, digest: hex('7'), pushedAt: iso(-10), execution: 'exec-w' } } }));
    await expect(record({ images: [newer, worker] })).resolves.toEqual({ kind: 'update' });
  });

  it('resumes an intent of the same kind and label already recorded, without writing', async () => {
    const earlier = { ...update, startedAt: iso(-300) };
    storeLedger(ledger({ lease: liveLease('exec-b', earlier) }));
    await expect(record()).resolves.toEqual({ kind: 'resume', update: earlier });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('replaces the recorded deploy by a rollback of the same execution', async () => {
    storeLedger(ledger({ lease: liveLease('exec-b', update) }));
    const rollback: PendingUpdate = { kind: 'rollback', versionLabel: 'v1-x', previousVersionLabel: 'v2-x', startedAt: now.toISOString() };
    await expect(record({ update: rollback, pushed: undefined, images: undefined })).resolves.toEqual({ kind: 'update' });
    expect(written().lease?.update).toMatchObject(rollback);
  });

  it('never stops a rollback for newer claims or carried images', async () => {
    const newest = { ...newer, digest: hex('9'), pushedAt: iso(-10), execution: 'exec-z' };
    storeLedger(ledger({ lease: liveLease('exec-b', update), claims: { 'shop-server': newest }, carried: { 'shop-server': newest } }));
    const rollback: PendingUpdate = { kind: 'rollback', versionLabel: 'v1-x', previousVersionLabel: 'v2-x', startedAt: now.toISOString() };
    await expect(record({ update: rollback, pushed: undefined, images: undefined })).resolves.toEqual({ kind: 'update' });
    expect(written().lease).toMatchObject({ holder: 'exec-b', update: rollback });
  });

  it('says lost, without writing, to an execution that no longer holds the lease', async () => {
    storeLedger(ledger({ lease: liveLease('exec-c') }));
    await expect(record()).resolves.toMatchObject({ kind: 'lost', holder: 'exec-c' });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('frees the lease and says lost to the newer claim of the same repository', async () => {
    storeLedger(ledger({ claims: { 'shop-server': { ...newer, execution: 'exec-b' } }, lease: liveLease('exec-a') }));
    await expect(record({ pushed: older, images: [older], execution: 'exec-a' })).resolves.toMatchObject({ kind: 'lost', holder: 'exec-b' });
    expect(written().lease).toBeNull();
  });
});

describe('renewLease', () => {
  it('extends the holder\'s lease, and only the holder\'s', async () => {
    storeLedger(ledger({ lease: liveLease('exec-b') }));
    await expect(renewLease(clients, { ...target, execution: 'exec-b', leaseSeconds: 3600, now })).resolves.toBe(true);
    expect(written().lease?.expiresAt).toBe(iso(3600));
    s3.resetHistory();
    await expect(renewLease(clients, { ...target, execution: 'exec-a', leaseSeconds: 3600, now })).resolves.toBe(false);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});

describe('releaseEnvironment', () => {
  const release = { versionLabel: 'v2-x', bundleSha256: 'b'.repeat(64), images: { 'shop-server': `reg/shop-server@${newer.digest}` } };
  const previouslyDeployed = { versionLabel: 'v1-x', bundleSha256: 'a'.repeat(64), images: {}, execution: 'exec-a', at: iso(-86400) };

  it('writes the healthy release as deployed and frees the lease', async () => {
    storeLedger(ledger({ lease: liveLease('exec-b'), deployed: previouslyDeployed }));
    await expect(releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'deployed', release })).resolves.toEqual({ released: true, environment: 'shop-dev' });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: key, IfMatch: '"etag-1"' });
    expect(written()).toMatchObject({ lease: null, deployed: { ...release, execution: 'exec-b', at: now.toISOString() }, failed: [] });
  });

  it('remembers the image that failed after a rollback and keeps what was deployed', async () => {
    storeLedger(ledger({ lease: liveLease('exec-b'), deployed: previouslyDeployed }));
    const failedImage = { repository: 'shop-server', digest: newer.digest };
    await expect(releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'rolled-back', failedImage })).resolves.toMatchObject({ released: true });
    expect(written()).toMatchObject({ lease: null, deployed: previouslyDeployed, failed: [{ ...failedImage, execution: 'exec-b', at: now.toISOString() }] });
  });

  it('puts the carried floor back after a rollback, so a failed image never blocks the other containers', async () => {
    const before = { ...older, execution: 'exec-a' };
    const worker = { repository: 'shop-worker', digest: hex('w'), tag: 'v1', pushedAt: older.pushedAt };
    const pending: PendingUpdate = { kind: 'rollback', versionLabel: 'v1-x', previousVersionLabel: 'v2-x', startedAt: iso(-30), carriedBefore: { 'shop-server': before, 'shop-worker': null } };
    storeLedger(ledger({ lease: liveLease('exec-b', pending), carried: { 'shop-server': { ...newer, execution: 'exec-b' }, 'shop-worker': { ...worker, execution: 'exec-b' } } }));
    await releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'rolled-back', failedImage: { repository: 'shop-server', digest: newer.digest } });
    expect(written().carried).toEqual({ 'shop-server': before });
  });

  it('keeps the newest 50 failed images', async () => {
    const failed = Array.from({ length: 50 }, (_, i) => ({ repository: 'shop-server', digest: `sha256:${String(i).padStart(64, '0')}`, execution: `e${i}`, at: iso(-1000 + i) }));
    storeLedger(ledger({ lease: liveLease('exec-b'), failed }));
    await releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'rolled-back', failedImage: { repository: 'shop-server', digest: newer.digest } });
    const kept = written().failed;
    expect(kept).toHaveLength(50);
    expect(kept[0]?.execution).toBe('e1');
    expect(kept[49]?.digest).toBe(newer.digest);
  });

  it('only frees the lease when the version was already deployed', async () => {
    storeLedger(ledger({ lease: liveLease('exec-b'), deployed: previouslyDeployed }));
    await releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'already-deployed' });
    expect(written()).toMatchObject({ lease: null, deployed: previouslyDeployed, failed: [] });
  });

  it('learns how long its healthy update took, keeping the newest 5', async () => {
    const pending: PendingUpdate = { kind: 'deploy', versionLabel: 'v2-x', previousVersionLabel: 'v1-x', startedAt: iso(-300) };
    const before = [1, 2, 3, 4, 5].map((i) => ({ seconds: 290 + i, waitedSeconds: 289 + i }));
    storeLedger(ledger({ lease: liveLease('exec-b', pending), learnedUpdates: before }));
    await releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'deployed', release, learned: { seconds: 301, waitedSeconds: 300 } });
    expect(written().learnedUpdates).toEqual([...before.slice(1), { seconds: 301, waitedSeconds: 300 }]);
  });

  it('learns nothing from an update it did not make, a rollback, or already-deployed bytes', async () => {
    const learnedUpdates = [{ seconds: 120, waitedSeconds: 118 }];
    const learned = { seconds: 5, waitedSeconds: 5 };
    // Healthy, but no update of ours was pending (a retried release after the intent was cleared).
    storeLedger(ledger({ lease: liveLease('exec-b'), learnedUpdates }));
    await releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'deployed', release, learned });
    expect(written(0).learnedUpdates).toEqual(learnedUpdates);
    const rollback: PendingUpdate = { kind: 'rollback', versionLabel: 'v1-x', previousVersionLabel: 'v2-x', startedAt: iso(-60) };
    storeLedger(ledger({ lease: liveLease('exec-b', rollback), learnedUpdates }));
    await releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'rolled-back', failedImage: { repository: 'shop-server', digest: newer.digest } });
    expect(written(1).learnedUpdates).toEqual(learnedUpdates);
    await releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'already-deployed' });
    expect(written(2).learnedUpdates).toEqual(learnedUpdates);
  });

  it('reads a ledger written before it learned durations as having learned none', async () => {
    const { learnedUpdates: _, ...old } = ledger();
    s3.on(GetObjectCommand).resolves(stored(old as EnvironmentLedger));
    await expect(readLedger(clients.s3, bucket, 'shop', 'shop-dev')).resolves.toMatchObject({ ledger: { learnedUpdates: [] } });
  });

  it('leaves the ledger alone for an execution that does not hold the lease', async () => {
    storeLedger(ledger({ lease: liveLease('exec-c') }));
    await expect(releaseEnvironment(clients, { ...target, execution: 'exec-b', now, outcome: 'deployed', release })).resolves.toEqual({ released: false, environment: 'shop-dev' });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});

describe('abandonEnvironments', () => {
  it('frees what the execution holds and reports the updates nobody verified', async () => {
    const pending: PendingUpdate = { kind: 'deploy', versionLabel: 'v2-x', previousVersionLabel: 'v1-x', startedAt: iso(-300) };
    storeLedger(ledger({ lease: liveLease('exec-b', pending) }), ledgerKey('shop', 'shop-dev'));
    storeLedger(ledger({ environment: 'shop-staging', lease: liveLease('exec-b') }), ledgerKey('shop', 'shop-staging'));
    storeLedger(ledger({ environment: 'shop-prod', lease: liveLease('exec-c') }), ledgerKey('shop', 'shop-prod'));
    await expect(
      abandonEnvironments(clients, { bucket, application: 'shop', environments: ['shop-dev', 'shop-staging', 'shop-prod'], execution: 'exec-b' }),
    ).resolves.toEqual({ released: ['shop-dev', 'shop-staging'], unverified: [{ environment: 'shop-dev', update: pending }] });
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 2);
    expect(s3).toHaveReceivedNthCommandWith(PutObjectCommand, 1, { Key: ledgerKey('shop', 'shop-dev') });
    expect(s3).toHaveReceivedNthCommandWith(PutObjectCommand, 2, { Key: ledgerKey('shop', 'shop-staging') });
    expect(written(0).lease).toBeNull();
    expect(written(1).lease).toBeNull();
  });

  it('reports an environment once, from the write that won, when its first write lost a race', async () => {
    const pending: PendingUpdate = { kind: 'deploy', versionLabel: 'v2-x', previousVersionLabel: 'v1-x', startedAt: iso(-300) };
    s3.on(GetObjectCommand).resolves(stored(ledger({ lease: liveLease('exec-b', pending) })));
    s3.on(PutObjectCommand).rejectsOnce(lostRace()).resolves({});
    await expect(abandonEnvironments(clients, { bucket, application: 'shop', environments: ['shop-dev'], execution: 'exec-b' })).resolves.toEqual({
      released: ['shop-dev'],
      unverified: [{ environment: 'shop-dev', update: pending }],
    });
  });

  it('releases nothing where no ledger exists', async () => {
    s3.on(GetObjectCommand).rejects(missing());
    await expect(abandonEnvironments(clients, { bucket, application: 'shop', environments: ['shop-dev'], execution: 'exec-b' })).resolves.toEqual({ released: [], unverified: [] });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});
