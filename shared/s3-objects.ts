import { GetObjectCommand, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';

/**
 * The few S3 object rules every store here relies on: what "missing" looks like, what losing a
 * conditional write looks like, reading a JSON object, and writing an object once.
 */

type S3ErrorLike = { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;

/** Whether an S3 error says the key (or, for HEAD, the object) is not there. */
export function isNotFound(error: unknown): boolean {
  const e = error as S3ErrorLike;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** How a conditional write lost: 412 (the condition did not hold) or 409 (another write of the key was in flight). */
export function conditionFailed(error: unknown): 412 | 409 | undefined {
  const e = error as S3ErrorLike;
  if (e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412) return 412;
  if (e?.name === 'ConditionalRequestConflict' || e?.$metadata?.httpStatusCode === 409) return 409;
  return undefined;
}

/** Whether an S3 error is the loss of a conditional-write race (412, or 409 while another write is in flight). */
export function isLostRace(error: unknown): boolean {
  return conditionFailed(error) !== undefined;
}

/** A JSON object's parsed body, or null when there is no object under the key. */
export async function readJsonObject(s3: S3Client, bucket: string, key: string): Promise<unknown> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await object.Body?.transformToString()) ?? 'null');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/**
 * Writes an object only if the key is free (`If-None-Match: *`); false when it was already there:
 * a lost race or a retry, never an overwrite.
 */
export async function putOnce(s3: S3Client, input: Omit<PutObjectCommandInput, 'IfNoneMatch'>): Promise<boolean> {
  try {
    await s3.send(new PutObjectCommand({ ...input, IfNoneMatch: '*' }));
    return true;
  } catch (error) {
    if (conditionFailed(error) === 412) return false;
    throw error;
  }
}
