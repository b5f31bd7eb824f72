import { createHash } from 'node:crypto';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from '../zod.ts';
import { SameRolePolicy } from '../config/same-role-policy.ts';
import { conditionFailed, readJsonObject } from '../s3-objects.ts';

/** A deployment waiting for a person: what it is, where it goes, who may decide, until when. */
export const PendingApproval = z.object({
  id: z.string(),
  taskToken: z.string(),
  executionArn: z.string(),
  application: z.string(),
  /** `pushedAt` is ECR's first push of the digest: where CloudTrail starts looking for its pushers. */
  image: z.object({ repository: z.string(), tag: z.string(), digest: z.string(), reference: z.string(), pushedAt: z.optional(z.string()) }),
  versionLabel: z.string(),
  sourceEnvironment: z.nullable(z.string()),
  targetEnvironment: z.string(),
  runningInTarget: z.nullable(z.string()),
  /** One known pusher, for people to read (`pushers` holds them all). */
  pushedBy: z.nullable(z.string()),
  /** Every principal known to have pushed the digest when the approval was requested (the decision looks again). */
  pushers: z.optional(z.array(z.string())),
  /** Whether the approver must be known not to be a pusher; absent (older records) means enforced. */
  separationOfDuties: z.optional(z.enum(['enforced', 'off'])),
  /** How sessions of one role compare; absent (older records) means strict. */
  sameRolePolicy: z.optional(SameRolePolicy),
  approvers: z.array(z.string()),
  requestedAt: z.string(),
  expiresAt: z.string(),
});
export type PendingApproval = z.infer<typeof PendingApproval>;

/** What people see of a pending approval: everything but the task token, which only the service may use. */
export type PendingView = Omit<PendingApproval, 'taskToken'>;

export function publicView({ taskToken: _token, ...view }: PendingApproval): PendingView {
  return view;
}

const pendingKey = (id: string) => `pending/${encodeURIComponent(id)}.json`;
/** Pushers of a digest: one object per principal, so a second pusher never replaces the first. */
const pusherPrefix = (repository: string, digest: string) => `pushers/${repository}/${digest.replace(/^sha256:/, '')}/`;
const pusherKey = (repository: string, digest: string, principal: string) => `${pusherPrefix(repository, digest)}${createHash('sha256').update(principal).digest('hex')}.json`;
/** Where versions before append-only records kept the one (last) pusher of a digest; still read. */
const legacyPusherKey = (repository: string, digest: string) => `pushers/${repository}/${digest.replace(/^sha256:/, '')}.json`;

/** A record's body, or undefined when there is none. */
async function readJson(s3: S3Client, bucket: string, key: string): Promise<unknown | undefined> {
  return (await readJsonObject(s3, bucket, key)) ?? undefined;
}

async function writeJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value, null, 2), ContentType: 'application/json' }));
}

export const pendingApprovals = {
  put: (s3: S3Client, bucket: string, record: PendingApproval) => writeJson(s3, bucket, pendingKey(record.id), record),
  async get(s3: S3Client, bucket: string, id: string): Promise<PendingApproval | undefined> {
    const raw = await readJson(s3, bucket, pendingKey(id));
    return raw === undefined ? undefined : PendingApproval.parse(raw);
  },
  async delete(s3: S3Client, bucket: string, id: string): Promise<void> {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: pendingKey(id) }));
  },
  async list(s3: S3Client, bucket: string): Promise<PendingApproval[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'pending/', ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    const records = await Promise.all(keys.map((key) => readJson(s3, bucket, key)));
    return records.filter((r) => r !== undefined).map((r) => PendingApproval.parse(r));
  },
};

/** One push of a digest by one principal, as CloudTrail told it. */
export interface PusherRecord {
  repository: string;
  digest: string;
  pushedBy: string;
  at: string;
}


/**
 * Who pushed an image, kept so an approver can never be a pusher. Append-only: every pusher of a
 * digest gets its own object, written only if absent (`If-None-Match: *`), never overwritten or deleted.
 */
export const pushers = {
  async add(s3: S3Client, bucket: string, push: PusherRecord): Promise<void> {
    const command = new PutObjectCommand({
      Bucket: bucket,
      Key: pusherKey(push.repository, push.digest, push.pushedBy),
      Body: JSON.stringify(push, null, 2),
      ContentType: 'application/json',
      IfNoneMatch: '*',
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await s3.send(command);
        return;
      } catch (error) {
        const lost = conditionFailed(error);
        if (lost === 412) return; // this principal is recorded already
        // 409: the same record is being written right now; make sure one of the writes lands.
        if (lost !== 409 || attempt >= 3) throw error;
      }
    }
  },
  /** Every recorded pusher of a digest (ARNs as CloudTrail wrote them), oldest record format included. */
  async list(s3: S3Client, bucket: string, repository: string, digest: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: pusherPrefix(repository, digest), ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    const records = await Promise.all([legacyPusherKey(repository, digest), ...keys].map((key) => readJson(s3, bucket, key)));
    const found = records.map((r) => (r as { pushedBy?: unknown } | undefined)?.pushedBy).filter((arn): arn is string => typeof arn === 'string' && arn !== '');
    return [...new Set(found)].sort();
  },
};
