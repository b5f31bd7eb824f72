import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from '../zod.ts';
import { TransientAwsError } from '../errors.ts';
import { isLostRace, isNotFound } from '../s3-objects.ts';

/**
 * The environment ledger: one S3 object per Elastic Beanstalk environment, changed only with
 * conditional writes (`If-None-Match: *` to create, `If-Match: <etag>` to replace), so concurrent
 * executions serialise on it without a database. It holds who may change the environment now (the
 * lease), the newest push of every repository that asked for it (claims), the newest image of every
 * container an update carried there, what greenlight last deployed there, and which images failed.
 */

/** The newest push of one repository that asked for this environment; claims only move forward. */
export const Claim = z.object({
  repository: z.string(),
  digest: z.string(),
  tag: z.string(),
  pushedAt: z.string(),
  execution: z.string(),
});
export type Claim = z.infer<typeof Claim>;

/** An UpdateEnvironment the holder issued and has not verified yet (write-ahead, so a retry never repeats it). */
export const PendingUpdate = z.object({
  kind: z.enum(['deploy', 'rollback']),
  versionLabel: z.string(),
  previousVersionLabel: z.nullable(z.string()),
  startedAt: z.string(),
  /** The carried images this update replaced, put back if it is rolled back (a failed image is no floor). */
  carriedBefore: z.optional(z.record(z.string(), z.nullable(Claim))),
});
export type PendingUpdate = z.infer<typeof PendingUpdate>;

/** Who may change the environment until when. */
export const Lease = z.object({
  holder: z.string(),
  acquiredAt: z.string(),
  expiresAt: z.string(),
  update: z._default(z.nullable(PendingUpdate), null),
});
export type Lease = z.infer<typeof Lease>;

/** What greenlight last saw healthy on the environment. */
export const DeployedRelease = z.object({
  versionLabel: z.string(),
  bundleSha256: z.string(),
  images: z.record(z.string(), z.string()),
  execution: z.string(),
  at: z.string(),
});
export type DeployedRelease = z.infer<typeof DeployedRelease>;

/** A pushed image whose deployment failed health here: never pulled in again as a sibling. */
export const FailedImage = z.object({ repository: z.string(), digest: z.string(), execution: z.string(), at: z.string() });
export type FailedImage = z.infer<typeof FailedImage>;

export const EnvironmentLedger = z.object({
  schemaVersion: z.literal(1),
  application: z.string(),
  environment: z.string(),
  claims: z._default(z.record(z.string(), Claim), {}),
  /** The newest image of each container that an update here has carried: no later update may carry an older one. */
  carried: z._default(z.record(z.string(), Claim), {}),
  lease: z._default(z.nullable(Lease), null),
  deployed: z._default(z.nullable(DeployedRelease), null),
  failed: z._default(z.array(FailedImage), []),
  /**
   * How long greenlight's recent successful updates here took to be healthy (oldest first, at most
   * learnedUpdatesKept): the health checks' first look waits about that long (shared/health-schedule.ts).
   */
  learnedUpdates: z._default(z.array(z.object({ seconds: z.number().check(z.nonnegative()), waitedSeconds: z.number().check(z.nonnegative()) })), []),
});
export type EnvironmentLedger = z.infer<typeof EnvironmentLedger>;

/** How many failed images a ledger remembers (the newest). */
const failedKept = 50;
/** Conditional-write races one call absorbs before handing the retry to the state machine. */
const casAttempts = 8;

/** Where an environment's ledger lives in the bundle bucket. */
export function ledgerKey(application: string, environment: string): string {
  return `environments/${encodeURIComponent(application)}/${environment}.json`;
}

/** An empty ledger: nothing claimed, nobody holds it, nothing deployed by greenlight yet. */
export function emptyLedger(application: string, environment: string): EnvironmentLedger {
  return { schemaVersion: 1, application, environment, claims: {}, carried: {}, lease: null, deployed: null, failed: [], learnedUpdates: [] };
}


/** A body cut short in transit reads as no JSON: a read to retry, never a reason to start the ledger anew. */
function parseLedger(text: string, environment: string): EnvironmentLedger {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TransientAwsError(`the ledger of environment ${environment} was read incompletely (${text.length} bytes); read it again`, { environment }, { cause: error });
  }
  return EnvironmentLedger.parse(raw);
}

/** The ledger and its ETag (null: not written yet). */
export async function readLedger(
  s3: S3Client,
  bucket: string,
  application: string,
  environment: string,
): Promise<{ ledger: EnvironmentLedger; etag: string | null }> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: ledgerKey(application, environment) }));
    const text = (await object.Body?.transformToString()) ?? '';
    return { ledger: parseLedger(text, environment), etag: object.ETag ?? null };
  } catch (error) {
    if (isNotFound(error)) return { ledger: emptyLedger(application, environment), etag: null };
    throw error;
  }
}

/** What a change decides: the ledger to write (or null to leave it as it is) and the answer to return. */
export interface LedgerChange<T> {
  next: EnvironmentLedger | null;
  result: T;
}

/**
 * Reads, changes and writes back the ledger as one compare-and-swap: a write that lost the race is
 * re-read and the change decided again on what won, so every decision is made on the latest state.
 */
export async function changeLedger<T>(
  s3: S3Client,
  target: { bucket: string; application: string; environment: string },
  decide: (ledger: EnvironmentLedger) => LedgerChange<T>,
): Promise<T> {
  for (let attempt = 1; attempt <= casAttempts; attempt++) {
    const { ledger, etag } = await readLedger(s3, target.bucket, target.application, target.environment);
    const { next, result } = decide(structuredClone(ledger));
    if (next === null) return result;
    next.failed = next.failed.slice(-failedKept);
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: ledgerKey(target.application, target.environment),
          Body: `${JSON.stringify(next, null, 2)}\n`,
          ContentType: 'application/json',
          ...(etag === null ? { IfNoneMatch: '*' } : { IfMatch: etag }),
        }),
      );
      return result;
    } catch (error) {
      if (!isLostRace(error)) throw error;
    }
  }
  throw new TransientAwsError(`the ledger of environment ${target.environment} changed ${casAttempts} times while this step tried to update it; try again`, {
    environment: target.environment,
  });
}
