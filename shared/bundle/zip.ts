import { createHash } from 'node:crypto';
import type { Zippable } from 'fflate';
import { unzipSync, zipSync } from 'fflate';
import { BundleRenderError } from '../errors.ts';
import { imagesInEntries } from './references.ts';

/** The DOS epoch in local time: fflate writes local-time fields, so this is the same bytes in every time zone. */
const fixedMtime = () => new Date(1980, 0, 1);

/** Zips bundle entries deterministically (sorted names, fixed time), so the same files give the same hash and key. */
export function zipBundle(entries: Record<string, Uint8Array>): Uint8Array {
  const zippable: Zippable = {};
  for (const name of Object.keys(entries).sort()) {
    zippable[name] = [entries[name] as Uint8Array, { mtime: fixedMtime(), level: 6 }];
  }
  return zipSync(zippable, { mtime: fixedMtime() });
}

/** Hex SHA-256 of bytes: the identity of a bundle. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Unzips a stored bundle, so a deployed version's files can be read back. */
export function readBundle(zipBytes: Uint8Array): Record<string, Uint8Array> {
  try {
    return unzipSync(zipBytes);
  } catch (error) {
    throw new BundleRenderError(`a stored bundle is not a readable zip: ${(error as Error).message}`, {}, { cause: error });
  }
}

/** The image references a bundle runs, used to keep the other containers' deployed digests on a multi-image push. */
export function imagesInBundle(zipBytes: Uint8Array): string[] {
  return imagesInEntries(readBundle(zipBytes));
}
