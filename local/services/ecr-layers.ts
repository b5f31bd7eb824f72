import { createHash, randomUUID } from 'node:crypto';

/** `sha256:<64 hex>`: the only digest ECR computes for layers and manifests. */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The digest of bytes, as ECR and every registry client compute it. */
export function blobDigest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** An upload in progress: its parts so far, in order (the registry's PATCH and ECR's UploadLayerPart). */
export interface LayerUpload {
  readonly id: string;
  readonly repository: string;
  readonly startedAt: number;
  readonly parts: Buffer[];
  size: number;
}

/** The largest layer the local ECR keeps (in memory): 2 GiB. */
export const maxLayerBytes = 2 * 1024 * 1024 * 1024;

/** How long an unfinished upload is kept, as a registry expires abandoned uploads. */
const uploadLifetimeMs = 24 * 3600 * 1000;

/**
 * The layer blobs of the local ECR, shared by the Docker Registry HTTP API and the ECR layer API:
 * bytes stored once by digest, linked to the repositories that hold them (a blob is visible in a
 * repository only once pushed or mounted there, as in ECR), and the uploads in progress.
 */
export class LayerStore {
  private readonly blobs = new Map<string, Buffer>();
  private readonly links = new Map<string, Set<string>>();
  private readonly uploads = new Map<string, LayerUpload>();

  constructor(
    /** Called when a blob is stored (persistence writes it through). */
    private readonly onStore: (digest: string, bytes: Buffer) => void = () => undefined,
  ) {}

  /** The bytes of a blob, if the repository holds it. */
  get(repository: string, digest: string): Buffer | undefined {
    return this.links.get(repository)?.has(digest) ? this.blobs.get(digest) : undefined;
  }

  has(repository: string, digest: string): boolean {
    return this.get(repository, digest) !== undefined;
  }

  /** Stores bytes under their digest and links them to the repository; returns the digest. */
  put(repository: string, bytes: Buffer): string {
    const digest = blobDigest(bytes);
    if (!this.blobs.has(digest)) {
      this.blobs.set(digest, bytes);
      this.onStore(digest, bytes);
    }
    this.link(repository, digest);
    return digest;
  }

  /** Makes a blob another repository holds visible in this one (a cross-repository mount). */
  mount(repository: string, from: string, digest: string): boolean {
    if (!this.has(from, digest)) return false;
    this.link(repository, digest);
    return true;
  }

  /** Restores a blob read back from disk (no write-through). */
  restore(repositories: string[], digest: string, bytes: Buffer): void {
    this.blobs.set(digest, bytes);
    for (const repository of repositories) this.link(repository, digest);
  }

  /** The digests a repository holds (for persistence). */
  linked(): Record<string, string[]> {
    return Object.fromEntries([...this.links].map(([repository, digests]) => [repository, [...digests]]));
  }

  startUpload(repository: string): LayerUpload {
    this.expireUploads();
    const upload: LayerUpload = { id: randomUUID(), repository, startedAt: Date.now(), parts: [], size: 0 };
    this.uploads.set(upload.id, upload);
    return upload;
  }

  /** The upload, only in the repository that started it. */
  upload(repository: string, id: string): LayerUpload | undefined {
    const upload = this.uploads.get(id);
    return upload?.repository === repository ? upload : undefined;
  }

  append(upload: LayerUpload, bytes: Buffer): void {
    if (bytes.length === 0) return;
    upload.parts.push(bytes);
    upload.size += bytes.length;
  }

  /** Ends an upload: its bytes become a blob of the repository if they have the digest the client claims. */
  complete(upload: LayerUpload, claimedDigest: string): { ok: true; digest: string } | { ok: false; digest: string } {
    this.uploads.delete(upload.id);
    const bytes = Buffer.concat(upload.parts);
    const digest = blobDigest(bytes);
    if (digest !== claimedDigest) return { ok: false, digest };
    this.put(upload.repository, bytes);
    return { ok: true, digest };
  }

  cancel(id: string): void {
    this.uploads.delete(id);
  }

  /** Forgets a deleted repository's links and uploads (blobs other repositories hold stay). */
  dropRepository(repository: string): void {
    this.links.delete(repository);
    for (const [id, upload] of this.uploads) if (upload.repository === repository) this.uploads.delete(id);
  }

  private link(repository: string, digest: string): void {
    const set = this.links.get(repository) ?? new Set<string>();
    set.add(digest);
    this.links.set(repository, set);
  }

  private expireUploads(): void {
    const oldest = Date.now() - uploadLifetimeMs;
    for (const [id, upload] of this.uploads) if (upload.startedAt < oldest) this.uploads.delete(id);
  }
}
