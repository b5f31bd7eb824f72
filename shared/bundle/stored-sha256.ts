import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isNotFound } from '../s3-objects.ts';
import { sha256Hex } from './sha256.ts';

/**
 * The sha256 of the object stored under a key, or null when there is none. Apart from storing bundles
 * (store.ts), so Deploy, Check Health and Roll Back verify a bundle without loading fflate and YAML.
 */
export async function storedSha256(s3: S3Client, bucket: string, key: string): Promise<string | null> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return sha256Hex((await object.Body?.transformToByteArray()) ?? new Uint8Array());
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}
