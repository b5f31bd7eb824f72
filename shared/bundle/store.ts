import type { S3Client } from '@aws-sdk/client-s3';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { StoredBundle } from '../contracts.ts';
import { bundleKey, versionLabel } from '../naming.ts';
import { sha256Hex } from './sha256.ts';
import { storedSha256 } from './stored-sha256.ts';
import { zipBundle } from './zip.ts';

/** What to store: the rendered entries and what they were rendered for. */
export interface StoreBundleInput {
  bucket: string;
  application: string;
  tag: string;
  entries: Record<string, Uint8Array>;
  /** Entries written executable (0755); every other entry is 0644. */
  executables?: string[];
  images: Record<string, string>;
  /** Push time of the image (ISO), carried in the description so Deploy can refuse going backwards. */
  pushedAt: string;
  /** The pushed repository; defaults to the only one in `images`. */
  repository?: string;
  /** The pushed digest; defaults to the digest in the repository's reference. */
  digest?: string;
}

const descriptionMax = 200;

/** The version description: who people recognise (tag, image) and the push time Deploy compares. */
export function bundleDescription(input: Pick<StoreBundleInput, 'tag' | 'images' | 'pushedAt' | 'repository' | 'digest'>): string {
  const repositories = Object.keys(input.images);
  const repository = input.repository ?? (repositories.length === 1 ? repositories[0] : undefined);
  const digest = input.digest ?? (repository ? input.images[repository]?.split('@')[1] : undefined);
  const image = repository ? ` ${repository}@${(digest ?? 'unknown').slice(0, 'sha256:'.length + 12)}…` : '';
  const suffix = ` pushedAt=${input.pushedAt}`;
  const head = `greenlight ${input.tag}${image}`;
  return `${head.slice(0, descriptionMax - suffix.length)}${suffix}`;
}

/** Reads the image push time back from a version description written by greenlight (undefined for others). */
export function pushedAtFromDescription(description: string | undefined): string | undefined {
  const text = /(?:^|\s)pushedAt=(\S+)/.exec(description ?? '')?.[1];
  if (text === undefined) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
}


/**
 * Stores a bundle under its content address (safe to retry). An object already there is reused only
 * when its bytes hash to its name; anything else under that key was tampered with or corrupted and
 * is replaced by the bytes the name stands for.
 */
export async function storeBundle({ s3 }: { s3: S3Client }, input: StoreBundleInput): Promise<StoredBundle> {
  const zip = zipBundle(input.entries, input.executables);
  const sha256 = sha256Hex(zip);
  const key = bundleKey(input.application, sha256);
  const result: StoredBundle = {
    bucket: input.bucket,
    key,
    sha256,
    versionLabel: versionLabel(input.tag, sha256),
    description: bundleDescription(input),
    images: { ...input.images },
    written: false,
  };
  if ((await storedSha256(s3, input.bucket, key)) === sha256) return result;
  await s3.send(
    new PutObjectCommand({
      Bucket: input.bucket,
      Key: key,
      Body: zip,
      ContentType: 'application/zip',
      Metadata: { sha256, application: input.application },
    }),
  );
  return { ...result, written: true };
}
