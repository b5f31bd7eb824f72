import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';

/** A deployment waiting for a person: what it is, where it goes, who may decide, until when. */
export const PendingApproval = z.object({
  id: z.string(),
  taskToken: z.string(),
  executionArn: z.string(),
  application: z.string(),
  image: z.object({ repository: z.string(), tag: z.string(), digest: z.string(), reference: z.string() }),
  versionLabel: z.string(),
  sourceEnvironment: z.string().nullable(),
  targetEnvironment: z.string(),
  runningInTarget: z.string().nullable(),
  pushedBy: z.string().nullable(),
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
const pusherKey = (repository: string, digest: string) => `pushers/${repository}/${digest.replace(/^sha256:/, '')}.json`;

async function readJson(s3: S3Client, bucket: string, key: string): Promise<unknown | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await got.Body!.transformToString());
  } catch (error) {
    if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
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

/** Who pushed an image, as CloudTrail told us; kept so an approver can never be the pusher. */
export const pushers = {
  put: (s3: S3Client, bucket: string, push: { repository: string; digest: string; pushedBy: string; at: string }) => writeJson(s3, bucket, pusherKey(push.repository, push.digest), push),
  async get(s3: S3Client, bucket: string, repository: string, digest: string): Promise<string | undefined> {
    const raw = (await readJson(s3, bucket, pusherKey(repository, digest))) as { pushedBy?: string } | undefined;
    return raw?.pushedBy;
  },
};
