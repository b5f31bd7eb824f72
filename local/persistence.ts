import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The version of state.json this code writes and reads. */
const stateVersion = 1;

/** Dates survive the round trip as `{"$date": ISO}` (the services keep Date objects). */
function replacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Date ? { $date: raw.toISOString() } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$date') return new Date(String((value as { $date: unknown }).$date));
  }
  return value;
}

/** A state folder this code cannot read (another version, or a damaged file): said plainly, never overwritten. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/**
 * The folder of `greenlight local --data DIR`: state.json (repositories and images, EB applications,
 * versions, environments and events, executions and their histories, CloudTrail's event history),
 * the layer blobs (ecr/blobs/sha256/…), the S3 objects (s3/, s3rver's own layout) and the key that
 * seals ECR tokens (so a token outlives a restart, as it would in AWS).
 */
export class DataDir {
  constructor(readonly path: string) {
    mkdirSync(join(path, 'ecr', 'blobs', 'sha256'), { recursive: true });
    mkdirSync(join(path, 's3'), { recursive: true });
  }

  get s3Directory(): string {
    return join(this.path, 's3');
  }

  private get statePath(): string {
    return join(this.path, 'state.json');
  }

  /** The saved state, or undefined on a first start. */
  read<T>(): T | undefined {
    if (!existsSync(this.statePath)) return undefined;
    let state: { version?: unknown };
    try {
      state = JSON.parse(readFileSync(this.statePath, 'utf8'), reviver);
    } catch (error) {
      throw new DataDirError(`${this.statePath} cannot be read (${(error as Error).message}); move it away to start afresh`);
    }
    if (state.version !== stateVersion) throw new DataDirError(`${this.statePath} is of version ${String(state.version)}, this greenlight reads version ${stateVersion}`);
    return state as T;
  }

  /** Writes the state whole, atomically (a crash mid-write leaves the previous file). */
  write(state: object): void {
    const temporary = `${this.statePath}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ version: stateVersion, savedAt: new Date(), ...state }, replacer));
    renameSync(temporary, this.statePath);
  }

  private blobPath(digest: string): string {
    return join(this.path, 'ecr', 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  writeBlob(digest: string, bytes: Buffer): void {
    const path = this.blobPath(digest);
    if (existsSync(path)) return;
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  }

  readBlob(digest: string): Buffer | undefined {
    const path = this.blobPath(digest);
    return existsSync(path) ? readFileSync(path) : undefined;
  }

  /** The key that seals ECR tokens, made on first use and kept (readable by this user only). */
  tokenKey(): Buffer {
    const path = join(this.path, 'ecr', 'token-key');
    if (existsSync(path)) return readFileSync(path);
    const key = randomBytes(32);
    writeFileSync(path, key, { mode: 0o600 });
    return key;
  }
}
