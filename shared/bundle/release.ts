import type { S3Client } from '@aws-sdk/client-s3';
import { StoredBundle } from '../contracts.ts';
import { releaseKey } from '../naming.ts';
import { readJsonObject } from '../s3-objects.ts';

/** The release an execution's first stage prepared (null before it got that far, or if unreadable). */
export async function readRelease(s3: S3Client, bucket: string, application: string, execution: string): Promise<StoredBundle | null> {
  const read = StoredBundle.safeParse(await readJsonObject(s3, bucket, releaseKey(application, execution)));
  return read.success ? read.data : null;
}
