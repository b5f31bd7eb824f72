import type { Zippable } from 'fflate';
import { unzipSync, zipSync } from 'fflate';
import { BundleRenderError } from '../errors.ts';
import { imagesInEntries } from './references.ts';

/** The DOS epoch in local time: fflate writes local-time fields, so this is the same bytes in every time zone. */
const fixedMtime = () => new Date(1980, 0, 1);

/** Unix modes written into the zip (regular file 0644, or 0755), whatever the umask of the machine that zips. */
export const fileMode = 0o644;
export const executableMode = 0o755;
const regularFile = 0o100000;
/** "Version made by" Unix: unzip then applies the mode in the external attributes. */
const unixHost = 3;

/**
 * Zips bundle entries deterministically (sorted names, fixed time, fixed modes: 0755 for the names in
 * `executables`, 0644 for the rest), so the same files give the same hash and key on any machine.
 */
export function zipBundle(entries: Record<string, Uint8Array>, executables: Iterable<string> = []): Uint8Array {
  const executable = new Set(executables);
  const zippable: Zippable = {};
  for (const name of Object.keys(entries).sort()) {
    const mode = regularFile | (executable.has(name) ? executableMode : fileMode);
    zippable[name] = [entries[name] as Uint8Array, { mtime: fixedMtime(), level: 6, os: unixHost, attrs: (mode << 16) >>> 0 }];
  }
  return zipSync(zippable, { mtime: fixedMtime() });
}

/** Hashing lives in sha256.ts (no zip code needed to check a bundle); kept here for the callers that zip and hash. */
export { sha256Hex } from './sha256.ts';

/** Unzips a stored bundle, so a deployed version's files can be read back. */
export function readBundle(zipBytes: Uint8Array): Record<string, Uint8Array> {
  try {
    return unzipSync(zipBytes);
  } catch (error) {
    throw new BundleRenderError(`a stored bundle is not a readable zip: ${(error as Error).message}`, {}, { cause: error });
  }
}

const endOfCentralDirectory = 0x06054b50;
const centralDirectoryHeader = 0x02014b50;

/**
 * The Unix permission bits of each entry, from the zip's central directory (fflate's unzip does not
 * expose them); entries written without a Unix mode (another zip tool on Windows, say) are left out.
 */
export function zipEntryModes(zipBytes: Uint8Array): Record<string, number> {
  const view = new DataView(zipBytes.buffer, zipBytes.byteOffset, zipBytes.byteLength);
  let end = -1;
  for (let at = zipBytes.length - 22; at >= Math.max(0, zipBytes.length - 22 - 65535); at--) {
    if (view.getUint32(at, true) === endOfCentralDirectory) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new BundleRenderError('a stored bundle is not a readable zip: no end of central directory', {});
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const decoder = new TextDecoder();
  const modes: Record<string, number> = {};
  for (let index = 0; index < count; index++) {
    if (view.getUint32(at, true) !== centralDirectoryHeader) throw new BundleRenderError('a stored bundle is not a readable zip: broken central directory', {});
    const host = view.getUint8(at + 5);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const external = view.getUint32(at + 38, true);
    const name = decoder.decode(zipBytes.subarray(at + 46, at + 46 + nameLength));
    if (host === unixHost && external >>> 16 !== 0) modes[name] = (external >>> 16) & 0o7777;
    at += 46 + nameLength + extraLength + commentLength;
  }
  return modes;
}

/** The image references a bundle runs, used to keep the other containers' deployed digests on a multi-image push. */
export function imagesInBundle(zipBytes: Uint8Array): string[] {
  return imagesInEntries(readBundle(zipBytes));
}
