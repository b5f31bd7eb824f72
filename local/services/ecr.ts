import { createHash, randomUUID } from 'node:crypto';
import type { FaultInjector } from '../faults.ts';
import { jsonService } from '../protocol/json.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from '../protocol/types.ts';
import type { CloudTrailRecord } from './cloudtrail.ts';
import { EcrTokens, type RegistryCaller } from './ecr-auth.ts';
import { LayerStore, maxLayerBytes, SHA256_DIGEST } from './ecr-layers.ts';
import type { BusEvent, LocalEventBus } from './event-bus.ts';

/** One image of a repository, as ECR stores it: the manifest decides the digest, tags point at it. */
export interface EcrImage {
  readonly digest: string;
  readonly manifest: string;
  readonly mediaType: string;
  readonly artifactMediaType?: string;
  readonly sizeInBytes: number;
  readonly pushedAt: Date;
  tags: string[];
}

interface Repository {
  readonly name: string;
  readonly arn: string;
  readonly uri: string;
  readonly createdAt: Date;
  readonly immutable: boolean;
  /** Images by digest, in push order. */
  readonly images: Map<string, EcrImage>;
}

/** What `--data` keeps of ECR (layer bytes are files beside it). */
export interface EcrState {
  repositories: Array<{ name: string; createdAt: Date; immutable: boolean; images: EcrImage[] }>;
  layers: Record<string, string[]>;
}

interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
/** What ECR reports as a layer's media type in BatchCheckLayerAvailability. */
const LAYER_MEDIA_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** InitiateLayerUpload's advice, and UploadLayerPart's limit (20 MiB). */
const PART_SIZE = 10 * 1024 * 1024;
const MAX_PART_SIZE = 20 * 1024 * 1024;
/** How long a GetDownloadUrlForLayer URL works (a presigned S3 URL in AWS). */
const downloadUrlSeconds = 3600;
export const REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const IMAGE_TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;

/** `sha256:` + hex digest of the manifest bytes, exactly as ECR (and the registry API) compute it. */
export function manifestDigest(manifest: string): string {
  return `sha256:${createHash('sha256').update(manifest, 'utf8').digest('hex')}`;
}

/** A realistic Docker image manifest v2 whose config and layer digests derive from `seed`, so each seed is one image. */
export function sampleManifest(seed: string): string {
  const hash = (part: string) => createHash('sha256').update(`${seed}:${part}`).digest('hex');
  const size = (part: string, min: number, span: number) => min + (Number.parseInt(hash(`${part}:size`).slice(0, 8), 16) % span);
  const manifest = {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST_V2,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: size('config', 1_500, 6_000), digest: `sha256:${hash('config')}` },
    layers: [0, 1, 2].map((i) => ({
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      size: size(`layer${i}`, 200_000, 30_000_000),
      digest: `sha256:${hash(`layer${i}`)}`,
    })),
  };
  return JSON.stringify(manifest, null, 3);
}

function invalid(parameter: string, constraint: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterException', `Invalid parameter at '${parameter}' failed to satisfy constraint: '${constraint}'`);
}

function requiredString(input: Record<string, unknown>, key: string): string {
  const value = input[key];
  if (value === undefined || value === null) throw invalid(key, 'Member must not be null');
  if (typeof value !== 'string' || value === '') throw invalid(key, 'Member must have length greater than or equal to 1');
  return value;
}

function optionalString(input: Record<string, unknown>, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(key, 'Member must be a string');
  return value;
}

function imageIdList(input: Record<string, unknown>, key: string, required: boolean): ImageId[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) {
    if (required) throw invalid(key, 'Member must not be null');
    return undefined;
  }
  if (!Array.isArray(value) || value.some((id) => !id || typeof id !== 'object')) throw invalid(key, 'Member must be a list of image identifiers');
  if (required && value.length === 0) throw invalid(key, 'Member must have length greater than or equal to 1');
  if (value.length > 100) throw invalid(key, 'Member must have length less than or equal to 100');
  return value.map((id: Record<string, unknown>) => ({
    ...(typeof id.imageDigest === 'string' ? { imageDigest: id.imageDigest } : {}),
    ...(typeof id.imageTag === 'string' ? { imageTag: id.imageTag } : {}),
  }));
}

/** Pages through a list with an opaque token (the offset), as ECR's maxResults/nextToken do. */
function paginate<T>(items: T[], input: Record<string, unknown>, defaultMax: number, limit = 1000): { page: T[]; nextToken?: string } {
  const max = input.maxResults === undefined ? defaultMax : Number(input.maxResults);
  if (!Number.isInteger(max) || max < 1 || max > limit) throw invalid('maxResults', `Member must have value between 1 and ${limit}`);
  let start = 0;
  if (typeof input.nextToken === 'string' && input.nextToken !== '') {
    start = Number(Buffer.from(input.nextToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new AwsServiceError('InvalidParameterException', 'Invalid NextToken');
  }
  const page = items.slice(start, start + max);
  return start + max < items.length ? { page, nextToken: Buffer.from(String(start + max)).toString('base64url') } : { page };
}

function describeId(id: ImageId): string {
  return `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;
}

/** What ECR reports as the image size: the compressed layers (plus config) the manifest lists, else the manifest itself. */
function imageSize(parsed: Record<string, unknown>, manifest: string): number {
  const layers = Array.isArray(parsed.layers) ? parsed.layers : [];
  const sizes = layers.map((layer: { size?: unknown }) => (typeof layer?.size === 'number' ? layer.size : 0));
  const total = sizes.reduce((a, b) => a + b, 0);
  return total > 0 ? total : Buffer.byteLength(manifest);
}

/** An entry of `failures` in BatchGetImage/BatchDeleteImage, with ECR's reason texts. */
function imageFailure(imageId: unknown, failureCode: string | undefined): Record<string, unknown> {
  const failureReason =
    failureCode === 'ImageTagDoesNotMatchDigest' ? 'Invalid image tag for digest' : failureCode === 'MissingDigestAndTag' ? 'Invalid request parameters: both tag and digest cannot be null' : 'Requested image not found';
  return { imageId, failureCode, failureReason };
}

/**
 * Amazon ECR, locally: repositories, image manifests and layer blobs in memory, with immutability,
 * digest arithmetic, EventBridge push events, CloudTrail's PutImage record, authorization tokens,
 * the layer API and ECR's own error texts. The Docker Registry HTTP API (`registry.ts`) works on it.
 */
export class LocalEcr {
  /** Layer blobs, shared by the layer API and the registry API. */
  readonly layers: LayerStore;
  /** GetAuthorizationToken's tokens, which the registry API accepts. */
  readonly tokens: EcrTokens;
  private readonly repositories = new Map<string, Repository>();
  private readonly region: string;
  private readonly accountId: string;
  private readonly faults: FaultInjector;
  private readonly emit: (event: BusEvent) => void;
  private readonly envelope: LocalEventBus['envelope'];
  private readonly callerArn: (request: LocalRequest) => string;
  private readonly trail: (record: CloudTrailRecord) => void;

  constructor(options: {
    region: string;
    accountId: string;
    faults: FaultInjector;
    emit: (event: BusEvent) => void;
    envelope: LocalEventBus['envelope'];
    callerArn?: (request: LocalRequest) => string;
    /** CloudTrail's event history, which keeps every PutImage whether or not a rule listens. */
    trail?: (record: CloudTrailRecord) => void;
    layers?: LayerStore;
    tokens?: EcrTokens;
  }) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.faults = options.faults;
    this.emit = options.emit;
    this.envelope = options.envelope;
    this.callerArn = options.callerArn ?? (() => `arn:aws:iam::${this.accountId}:root`);
    this.trail = options.trail ?? (() => undefined);
    this.layers = options.layers ?? new LayerStore();
    this.tokens = options.tokens ?? new EcrTokens();
  }

  /** The registry host and path a `docker push` would use. */
  repositoryUri(name: string): string {
    return `${this.accountId}.dkr.ecr.${this.region}.amazonaws.com/${name}`;
  }

  /** Creates a repository (seeding); throws RepositoryAlreadyExistsException as the API does. */
  createRepository(name: string, options: { immutable?: boolean } = {}): { repositoryArn: string; repositoryUri: string } {
    if (name.length < 2) throw invalid('repositoryName', 'Member must have length greater than or equal to 2');
    if (name.length > 256) throw invalid('repositoryName', 'Member must have length less than or equal to 256');
    if (!REPOSITORY_NAME.test(name)) throw invalid('repositoryName', "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'");
    if (this.repositories.has(name)) {
      throw new AwsServiceError('RepositoryAlreadyExistsException', `The repository with name '${name}' already exists in the registry with id '${this.accountId}'`);
    }
    const repository: Repository = {
      name,
      arn: `arn:aws:ecr:${this.region}:${this.accountId}:repository/${name}`,
      uri: this.repositoryUri(name),
      createdAt: new Date(),
      immutable: options.immutable ?? false,
      images: new Map(),
    };
    this.repositories.set(name, repository);
    return { repositoryArn: repository.arn, repositoryUri: repository.uri };
  }

  /**
   * Pushes a manifest as `docker push` would end (PutImage), emitting the push event; returns the digest.
   * `pushedAt` seeds an image pushed in the past (a test of what is older than the reconciler's window).
   */
  putImage(repository: string, manifest: string, tag?: string, options: { pushedAt?: Date } = {}): { digest: string } {
    const image = this.put(this.repository(repository), manifest, { ...(tag === undefined ? {} : { tag }), ...options });
    return { digest: image.digest };
  }

  /** A snapshot of a repository's images, oldest push first. */
  images(repository: string): EcrImage[] {
    return [...this.repository(repository).images.values()].map((image) => ({ ...image, tags: [...image.tags] }));
  }

  private repository(name: string, registryId?: string): Repository {
    const repository = registryId === undefined || registryId === this.accountId ? this.repositories.get(name) : undefined;
    if (!repository) {
      throw new AwsServiceError('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${registryId ?? this.accountId}'`);
    }
    return repository;
  }

  /** The throttleRate fault, for ECR's read calls (the registry's reads too). */
  throttleRead(): void {
    this.faults.throttle('ecr');
  }

  private tagged(repository: Repository, tag: string): EcrImage | undefined {
    for (const image of repository.images.values()) if (image.tags.includes(tag)) return image;
    return undefined;
  }

  /** Resolves an image id the way ECR does: by digest, by tag, or both (which must agree). */
  private resolve(repository: Repository, id: ImageId): { image?: EcrImage; failure?: 'ImageNotFound' | 'ImageTagDoesNotMatchDigest' | 'MissingDigestAndTag' } {
    if (id.imageDigest === undefined && id.imageTag === undefined) return { failure: 'MissingDigestAndTag' };
    const byDigest = id.imageDigest === undefined ? undefined : repository.images.get(id.imageDigest);
    const byTag = id.imageTag === undefined ? undefined : this.tagged(repository, id.imageTag);
    if (id.imageDigest !== undefined && id.imageTag !== undefined) {
      if (!byDigest || !byTag) return { failure: 'ImageNotFound' };
      return byDigest === byTag ? { image: byDigest } : { failure: 'ImageTagDoesNotMatchDigest' };
    }
    const image = byDigest ?? byTag;
    return image ? { image } : { failure: 'ImageNotFound' };
  }

  private put(repository: Repository, manifest: string, options: { tag?: string; mediaType?: string; digest?: string; pushedAt?: Date }): EcrImage {
    let parsed: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(manifest);
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
      parsed = value as Record<string, unknown>;
    } catch {
      throw invalid('imageManifest', 'Invalid JSON syntax');
    }
    const { tag } = options;
    if (tag !== undefined && !IMAGE_TAG.test(tag)) throw invalid('imageTag', "must satisfy regular expression '[a-zA-Z0-9-_.]+'");
    const digest = manifestDigest(manifest);
    if (options.digest !== undefined && options.digest !== digest) {
      throw new AwsServiceError('InvalidParameterException', `Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The digest '${options.digest}' does not match the digest '${digest}' of the image manifest'`);
    }
    const manifestType = typeof parsed.mediaType === 'string' ? parsed.mediaType : undefined;
    const mediaType = options.mediaType ?? manifestType ?? DOCKER_MANIFEST_V2;
    if (options.mediaType && manifestType && options.mediaType !== manifestType) {
      throw new AwsServiceError('InvalidParameterException', `Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'The provided media type '${options.mediaType}' does not match the media type '${manifestType}' in the manifest'`);
    }
    const existing = repository.images.get(digest);
    const holder = tag === undefined ? undefined : this.tagged(repository, tag);
    if (existing && (tag === undefined || holder === existing)) {
      throw new AwsServiceError(
        'ImageAlreadyExistsException',
        `Image with digest '${digest}' and tag '${tag ?? 'null'}' already exists in the repository with name '${repository.name}' in registry with id '${this.accountId}'`,
      );
    }
    if (tag !== undefined && holder && repository.immutable) {
      throw new AwsServiceError(
        'ImageTagAlreadyExistsException',
        `The image tag '${tag}' already exists in the '${repository.name}' repository and cannot be overwritten because the repository is immutable.`,
      );
    }
    // A mutable tag moves: the old image keeps its other tags, or stays untagged.
    if (tag !== undefined && holder) holder.tags = holder.tags.filter((t) => t !== tag);
    const config = parsed.config as { mediaType?: unknown } | undefined;
    const image: EcrImage = existing ?? {
      digest,
      manifest,
      mediaType,
      ...(typeof config?.mediaType === 'string' ? { artifactMediaType: config.mediaType } : {}),
      sizeInBytes: imageSize(parsed, manifest),
      pushedAt: options.pushedAt ?? new Date(),
      tags: [],
    };
    if (tag !== undefined) image.tags.push(tag);
    repository.images.set(digest, image);
    // A failing `repo:tag` fails the digest pushed under it (deployments name digests, not tags).
    if (tag !== undefined) this.faults.imagePushed(`${repository.name}:${tag}`, digest);
    this.announce(repository, digest, tag);
    return image;
  }

  /** EventBridge "ECR Image Action": best effort, so the dropEcrEvents fault can lose it. */
  private announce(repository: Repository, digest: string, tag: string | undefined): void {
    if (this.faults.dropEvent()) return;
    const detail: Record<string, unknown> = { result: 'SUCCESS', 'action-type': 'PUSH', 'repository-name': repository.name, 'image-digest': digest };
    if (tag !== undefined) detail['image-tag'] = tag;
    this.emit(this.envelope('aws.ecr', 'ECR Image Action', detail, [repository.arn]));
  }

  /**
   * CloudTrail's record of a PutImage, as EventBridge delivers it ("AWS API Call via CloudTrail"):
   * the one event that says who pushed. Not subject to dropEcrEvents (a different delivery path).
   * CloudTrail's event history keeps the same record (LookupEvents finds it without any rule).
   */
  private recordApiCall(caller: RegistryCaller, requestId: string, repository: Repository, digest: string, tag: string | undefined): void {
    const { arn, accessKeyId } = caller;
    const type = arn.includes(':assumed-role/') ? 'AssumedRole' : arn.endsWith(':root') ? 'Root' : 'IAMUser';
    const detail = {
      eventVersion: '1.08',
      userIdentity: { type, arn, accountId: this.accountId, ...(accessKeyId ? { accessKeyId } : {}) },
      eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource: 'ecr.amazonaws.com',
      eventName: 'PutImage',
      awsRegion: this.region,
      requestParameters: { repositoryName: repository.name, registryId: this.accountId, ...(tag === undefined ? {} : { imageTag: tag }) },
      responseElements: { image: { repositoryName: repository.name, registryId: this.accountId, imageId: { imageDigest: digest, ...(tag === undefined ? {} : { imageTag: tag }) } } },
      requestID: requestId,
      eventID: randomUUID(),
      readOnly: false,
      resources: [{ ARN: repository.arn, accountId: this.accountId, type: 'AWS::ECR::Repository' }],
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: this.accountId,
      eventCategory: 'Management',
    };
    this.trail(detail);
    this.emit(this.envelope('aws.ecr', 'AWS API Call via CloudTrail', detail, []));
  }

  /** The principal of a SigV4-signed call, as CloudTrail names it. */
  private callerOf(request: LocalRequest): RegistryCaller {
    const accessKeyId = /Credential=([^/,\s]+)\//.exec(String(request.headers.authorization ?? ''))?.[1];
    return { arn: this.callerArn(request), ...(accessKeyId ? { accessKeyId } : {}) };
  }

  /** Repositories, images and which layers each repository holds, to keep across a restart (`--data`; blobs are files). */
  snapshot(): EcrState {
    return {
      repositories: [...this.repositories.values()].map((r) => ({ name: r.name, createdAt: r.createdAt, immutable: r.immutable, images: [...r.images.values()].map((image) => ({ ...image, tags: [...image.tags] })) })),
      layers: this.layers.linked(),
    };
  }

  /** Takes back what snapshot() gave; `readBlob` finds a layer's bytes (one that is gone is left out). */
  restore(state: EcrState, readBlob: (digest: string) => Buffer | undefined): void {
    for (const kept of state.repositories) {
      const images = new Map(kept.images.map((image) => [image.digest, { ...image, tags: [...image.tags] }]));
      this.repositories.set(kept.name, { name: kept.name, arn: `arn:aws:ecr:${this.region}:${this.accountId}:repository/${kept.name}`, uri: this.repositoryUri(kept.name), createdAt: kept.createdAt, immutable: kept.immutable, images });
    }
    const holders = new Map<string, string[]>();
    for (const [repository, digests] of Object.entries(state.layers)) for (const digest of digests) holders.set(digest, [...(holders.get(digest) ?? []), repository]);
    for (const [digest, repositories] of holders) {
      const bytes = readBlob(digest);
      if (bytes) this.layers.restore(repositories, digest, bytes);
    }
  }

  /** ECR's message for a repository that does not exist (the registry API says it too). */
  repositoryNotFound(name: string): string {
    return `The repository with name '${name}' does not exist in the registry with id '${this.accountId}'`;
  }

  hasRepository(name: string): boolean {
    return this.repositories.has(name);
  }

  /** An image by tag or by digest, for the registry API. */
  findImage(repository: string, reference: string): EcrImage | undefined {
    const repo = this.repositories.get(repository);
    if (!repo) return undefined;
    return reference.includes(':') ? repo.images.get(reference) : this.tagged(repo, reference);
  }

  /** Every tag of a repository, sorted as the registry's tags/list sorts them. */
  tagsOf(repository: string): string[] {
    const repo = this.repository(repository);
    return [...repo.images.values()].flatMap((image) => image.tags).sort();
  }

  /**
   * A manifest pushed through the registry API: stored as PutImage stores it, with the same push event
   * and CloudTrail PutImage record, for the principal whose token authorised the push. Pushing the
   * same manifest under the same tag again changes nothing and says so (`created: false`).
   */
  pushManifest(repository: string, manifest: string, options: { tag?: string; mediaType?: string }, caller: RegistryCaller, requestId: string): { digest: string; created: boolean } {
    const repo = this.repository(repository);
    const digest = manifestDigest(manifest);
    const existing = repo.images.get(digest);
    if (existing && (options.tag === undefined || existing.tags.includes(options.tag))) return { digest, created: false };
    const image = this.put(repo, manifest, options);
    this.recordApiCall(caller, requestId, repo, image.digest, options.tag);
    return { digest: image.digest, created: true };
  }

  /**
   * The digests that `repo:tag` references name now (for the failingImages fault: a deployment pins
   * digests, so a failing tag must fail the digest it names). Other references are left out.
   */
  digestsOfTags(references: string[]): string[] {
    const digests: string[] = [];
    for (const reference of references) {
      const match = /^([^@:]+):([^@:]+)$/.exec(reference);
      const image = match ? this.findImage(match[1]!, match[2]!) : undefined;
      if (image) digests.push(image.digest);
    }
    return digests;
  }

  /** The blobs the repository's manifests refer to: a layer nothing refers to is inaccessible, as in ECR. */
  private referencedBlobs(repository: Repository): Set<string> {
    const digests = new Set<string>();
    for (const image of repository.images.values()) {
      try {
        const parsed = JSON.parse(image.manifest) as { config?: { digest?: unknown }; layers?: Array<{ digest?: unknown }> };
        for (const entry of [parsed.config, ...(Array.isArray(parsed.layers) ? parsed.layers : [])]) if (typeof entry?.digest === 'string') digests.add(entry.digest);
      } catch {
        // PutImage stored only JSON; nothing to collect from anything else.
      }
    }
    return digests;
  }

  /** A GetDownloadUrlForLayer URL: served by this endpoint, signed, for an hour (a presigned S3 URL in AWS). */
  private downloadUrl(host: string, repository: string, digest: string): string {
    const expires = Math.floor(Date.now() / 1000) + downloadUrlSeconds;
    const query = new URLSearchParams({ repository, expires: String(expires) });
    query.set('signature', this.tokens.sign(`${digest}\n${repository}\n${expires}`));
    return `http://${host}/_ecr-layer/${digest}?${query}`;
  }

  /** The bytes a download URL names, if it is this endpoint's, unexpired and unchanged. */
  download(digest: string, query: URLSearchParams): Buffer | undefined {
    const repository = query.get('repository') ?? '';
    const expires = Number(query.get('expires'));
    if (!Number.isInteger(expires) || expires * 1000 < Date.now()) return undefined;
    if (query.get('signature') !== this.tokens.sign(`${digest}\n${repository}\n${expires}`)) return undefined;
    return this.layers.get(repository, digest);
  }

  private layerUpload(repository: Repository, uploadId: string) {
    const upload = this.layers.upload(repository.name, uploadId);
    if (!upload) {
      throw new AwsServiceError('UploadNotFoundException', `The upload with id '${uploadId}' does not exist in the repository '${repository.name}' in the registry with id '${this.accountId}'`);
    }
    return upload;
  }

  private describeRepository(repository: Repository): Record<string, unknown> {
    return {
      repositoryArn: repository.arn,
      registryId: this.accountId,
      repositoryName: repository.name,
      repositoryUri: repository.uri,
      createdAt: repository.createdAt,
      imageTagMutability: repository.immutable ? 'IMMUTABLE' : 'MUTABLE',
      imageScanningConfiguration: { scanOnPush: false },
      encryptionConfiguration: { encryptionType: 'AES256' },
    };
  }

  private describeImage(repository: Repository, image: EcrImage): Record<string, unknown> {
    return {
      registryId: this.accountId,
      repositoryName: repository.name,
      imageDigest: image.digest,
      ...(image.tags.length > 0 ? { imageTags: [...image.tags] } : {}),
      imageSizeInBytes: image.sizeInBytes,
      imagePushedAt: image.pushedAt,
      imageManifestMediaType: image.mediaType,
      ...(image.artifactMediaType ? { artifactMediaType: image.artifactMediaType } : {}),
    };
  }

  private tagStatus(input: Record<string, unknown>): 'TAGGED' | 'UNTAGGED' | 'ANY' {
    const filter = input.filter as { tagStatus?: unknown } | undefined;
    const status = filter?.tagStatus ?? 'ANY';
    if (status !== 'TAGGED' && status !== 'UNTAGGED' && status !== 'ANY') {
      throw new AwsServiceError('ValidationException', `1 validation error detected: Value '${String(status)}' at 'filter.tagStatus' failed to satisfy constraint: Member must satisfy enum value set: [TAGGED, ANY, UNTAGGED]`);
    }
    return status;
  }

  readonly handle: (request: LocalRequest) => Promise<LocalResponse> = jsonService({
    targetPrefix: 'AmazonEC2ContainerRegistry_V20150921',
    version: '1.1',
    operations: {
      CreateRepository: (input: Record<string, unknown>) => {
        const name = requiredString(input, 'repositoryName');
        const mutability = input.imageTagMutability ?? 'MUTABLE';
        if (mutability !== 'MUTABLE' && mutability !== 'IMMUTABLE') {
          throw new AwsServiceError('ValidationException', `1 validation error detected: Value '${String(mutability)}' at 'imageTagMutability' failed to satisfy constraint: Member must satisfy enum value set: [IMMUTABLE, MUTABLE]`);
        }
        this.createRepository(name, { immutable: mutability === 'IMMUTABLE' });
        return { repository: this.describeRepository(this.repository(name)) };
      },
      DescribeRepositories: (input: Record<string, unknown>) => {
        this.throttleRead();
        const registryId = optionalString(input, 'registryId');
        const names = input.repositoryNames;
        if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) throw invalid('repositoryNames', 'Member must be a list of strings');
        if (Array.isArray(names) && names.length > 0 && input.nextToken !== undefined) {
          throw new AwsServiceError('InvalidParameterException', 'Invalid parameter: nextToken and repositoryNames cannot be used together');
        }
        const repositories = Array.isArray(names) && names.length > 0 ? names.map((n: string) => this.repository(n, registryId)) : registryId && registryId !== this.accountId ? [] : [...this.repositories.values()];
        const { page, nextToken } = paginate(repositories, input, 1000);
        return { repositories: page.map((r) => this.describeRepository(r)), ...(nextToken ? { nextToken } : {}) };
      },
      DeleteRepository: (input: Record<string, unknown>) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        if (repository.images.size > 0 && input.force !== true) {
          throw new AwsServiceError(
            'RepositoryNotEmptyException',
            `The repository with name '${repository.name}' in registry with id '${this.accountId}' cannot be deleted because it still contains images`,
          );
        }
        this.repositories.delete(repository.name);
        this.layers.dropRepository(repository.name);
        return { repository: this.describeRepository(repository) };
      },
      PutImage: (input: Record<string, unknown>, request: LocalRequest) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const manifest = requiredString(input, 'imageManifest');
        const tag = optionalString(input, 'imageTag');
        const mediaType = optionalString(input, 'imageManifestMediaType');
        const digest = optionalString(input, 'imageDigest');
        if (digest !== undefined && !DIGEST.test(digest)) throw new AwsServiceError('InvalidParameterException', `Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Invalid image digest format'`);
        const image = this.put(repository, manifest, {
          ...(tag === undefined ? {} : { tag }),
          ...(mediaType === undefined ? {} : { mediaType }),
          ...(digest === undefined ? {} : { digest }),
        });
        this.recordApiCall(this.callerOf(request), request.requestId, repository, image.digest, tag);
        return {
          image: {
            registryId: this.accountId,
            repositoryName: repository.name,
            imageId: { imageDigest: image.digest, ...(tag === undefined ? {} : { imageTag: tag }) },
            imageManifest: image.manifest,
            imageManifestMediaType: image.mediaType,
          },
        };
      },
      GetAuthorizationToken: (input: Record<string, unknown>, request: LocalRequest) => {
        const ids = input.registryIds;
        if (ids !== undefined && (!Array.isArray(ids) || ids.length < 1 || ids.length > 10 || ids.some((id) => typeof id !== 'string' || !/^[0-9]{12}$/.test(id)))) {
          throw invalid('registryIds', 'Member must be a list of 1 to 10 registry ids of 12 digits');
        }
        const { authorizationToken, expiresAt } = this.tokens.issue(this.callerOf(request));
        // Every registry here is this endpoint's: the proxy endpoint is the address the call came to.
        const proxyEndpoint = `http://${String(request.headers.host ?? '127.0.0.1')}`;
        return { authorizationData: ((ids as string[] | undefined) ?? [this.accountId]).map(() => ({ authorizationToken, expiresAt, proxyEndpoint })) };
      },
      BatchCheckLayerAvailability: (input: Record<string, unknown>) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const digests = input.layerDigests;
        if (!Array.isArray(digests) || digests.length < 1 || digests.length > 100 || digests.some((d) => typeof d !== 'string')) {
          throw invalid('layerDigests', 'Member must have length less than or equal to 100 and greater than or equal to 1');
        }
        const layers: unknown[] = [];
        const failures: unknown[] = [];
        for (const layerDigest of digests as string[]) {
          if (!DIGEST.test(layerDigest)) failures.push({ layerDigest, failureCode: 'InvalidLayerDigest', failureReason: 'Invalid layer digest' });
          else {
            const bytes = this.layers.get(repository.name, layerDigest);
            if (bytes) layers.push({ layerDigest, layerAvailability: 'AVAILABLE', layerSize: bytes.length, mediaType: LAYER_MEDIA_TYPE });
            else failures.push({ layerDigest, failureCode: 'MissingLayerDigest', failureReason: 'Could not find layer' });
          }
        }
        return { layers, failures };
      },
      InitiateLayerUpload: (input: Record<string, unknown>) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        return { uploadId: this.layers.startUpload(repository.name).id, partSize: PART_SIZE };
      },
      UploadLayerPart: (input: Record<string, unknown>) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const upload = this.layerUpload(repository, requiredString(input, 'uploadId'));
        const first = input.partFirstByte;
        const last = input.partLastByte;
        if (!Number.isSafeInteger(first) || (first as number) < 0) throw invalid('partFirstByte', 'Member must have value greater than or equal to 0');
        if (!Number.isSafeInteger(last) || (last as number) < 0) throw invalid('partLastByte', 'Member must have value greater than or equal to 0');
        const blob = Buffer.from(requiredString(input, 'layerPartBlob'), 'base64');
        const partError = (why: string) =>
          new AwsServiceError('InvalidLayerPartException', `The layer part ${first}-${last} of upload '${upload.id}' is not valid: ${why}. Last valid byte received: ${upload.size - 1}`);
        if (first !== upload.size) throw partError(`parts must follow each other (the next part starts at byte ${upload.size})`);
        if ((last as number) - (first as number) + 1 !== blob.length) throw partError(`the blob has ${blob.length} bytes`);
        if (blob.length > MAX_PART_SIZE) throw partError(`a part may have at most ${MAX_PART_SIZE} bytes`);
        if (upload.size + blob.length > maxLayerBytes) throw partError(`the local ECR keeps layers of at most ${maxLayerBytes} bytes`);
        this.layers.append(upload, blob);
        return { registryId: this.accountId, repositoryName: repository.name, uploadId: upload.id, lastByteReceived: upload.size - 1 };
      },
      CompleteLayerUpload: (input: Record<string, unknown>) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const upload = this.layerUpload(repository, requiredString(input, 'uploadId'));
        const digests = input.layerDigests;
        if (!Array.isArray(digests) || digests.length < 1 || digests.length > 100 || digests.some((d) => typeof d !== 'string')) {
          throw invalid('layerDigests', 'Member must have length less than or equal to 100 and greater than or equal to 1');
        }
        const claimed = digests[0] as string;
        if (!SHA256_DIGEST.test(claimed)) throw new AwsServiceError('InvalidLayerException', `The layer digest '${claimed}' is not a valid sha256 digest.`);
        if (upload.size === 0) throw new AwsServiceError('EmptyUploadException', 'The specified layer upload does not contain any layer parts.');
        if (this.layers.has(repository.name, claimed)) {
          this.layers.cancel(upload.id);
          throw new AwsServiceError('LayerAlreadyExistsException', 'The image layer already exists in the associated repository.');
        }
        const result = this.layers.complete(upload, claimed);
        if (!result.ok) {
          throw new AwsServiceError('InvalidLayerException', 'The layer digest calculation performed by Amazon ECR upon receipt of the image layer does not match the digest specified.');
        }
        return { registryId: this.accountId, repositoryName: repository.name, uploadId: upload.id, layerDigest: result.digest };
      },
      GetDownloadUrlForLayer: (input: Record<string, unknown>, request: LocalRequest) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const layerDigest = requiredString(input, 'layerDigest');
        if (!this.layers.has(repository.name, layerDigest)) {
          throw new AwsServiceError('LayersNotFoundException', 'The specified layers could not be found, or the specified layer is not valid for this repository.');
        }
        if (!this.referencedBlobs(repository).has(layerDigest)) {
          throw new AwsServiceError('LayerInaccessibleException', 'The specified layer is not available because it is not associated with an image. Unassociated image layers may be cleaned up at any time.');
        }
        return { downloadUrl: this.downloadUrl(String(request.headers.host ?? '127.0.0.1'), repository.name, layerDigest), layerDigest };
      },
      DescribeImages: (input: Record<string, unknown>) => {
        this.throttleRead();
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const ids = imageIdList(input, 'imageIds', false);
        const status = this.tagStatus(input);
        let images: EcrImage[];
        if (ids && ids.length > 0) {
          images = ids.map((id) => {
            const { image } = this.resolve(repository, id);
            if (!image) {
              throw new AwsServiceError(
                'ImageNotFoundException',
                `The image with imageId ${describeId(id)} does not exist within the repository with name '${repository.name}' in the registry with id '${this.accountId}'`,
              );
            }
            return image;
          });
          images = [...new Set(images)];
        } else {
          images = [...repository.images.values()].filter((i) => status === 'ANY' || (status === 'TAGGED') === i.tags.length > 0);
        }
        const { page, nextToken } = paginate(images, input, 100, 1000);
        return { imageDetails: page.map((i) => this.describeImage(repository, i)), ...(nextToken ? { nextToken } : {}) };
      },
      BatchGetImage: (input: Record<string, unknown>) => {
        this.throttleRead();
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const ids = imageIdList(input, 'imageIds', true) ?? [];
        const accepted = Array.isArray(input.acceptedMediaTypes) ? (input.acceptedMediaTypes as unknown[]) : undefined;
        const images: unknown[] = [];
        const failures: unknown[] = [];
        for (const id of ids) {
          const { image, failure } = this.resolve(repository, id);
          if (!image) {
            failures.push(imageFailure(id, failure));
          } else if (accepted && accepted.length > 0 && !accepted.includes(image.mediaType)) {
            failures.push({ imageId: id, failureCode: 'UnsupportedImageType', failureReason: 'Image manifest media type not supported' });
          } else {
            images.push({
              registryId: this.accountId,
              repositoryName: repository.name,
              imageId: { imageDigest: image.digest, ...(id.imageTag === undefined ? {} : { imageTag: id.imageTag }) },
              imageManifest: image.manifest,
              imageManifestMediaType: image.mediaType,
            });
          }
        }
        return { images, failures };
      },
      ListImages: (input: Record<string, unknown>) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const status = this.tagStatus(input);
        const ids: ImageId[] = [];
        for (const image of repository.images.values()) {
          if (image.tags.length === 0) {
            if (status !== 'TAGGED') ids.push({ imageDigest: image.digest });
          } else if (status !== 'UNTAGGED') {
            for (const tag of image.tags) ids.push({ imageDigest: image.digest, imageTag: tag });
          }
        }
        const { page, nextToken } = paginate(ids, input, 100, 1000);
        return { imageIds: page, ...(nextToken ? { nextToken } : {}) };
      },
      BatchDeleteImage: (input: Record<string, unknown>) => {
        const repository = this.repository(requiredString(input, 'repositoryName'), optionalString(input, 'registryId'));
        const ids = imageIdList(input, 'imageIds', true) ?? [];
        const deleted: ImageId[] = [];
        const failures: unknown[] = [];
        for (const id of ids) {
          const { image, failure } = this.resolve(repository, id);
          if (!image) {
            failures.push(imageFailure(id, failure));
            continue;
          }
          if (id.imageDigest === undefined && id.imageTag !== undefined) {
            // By tag: only the tag goes, and the image with it once no tag is left.
            image.tags = image.tags.filter((t) => t !== id.imageTag);
            if (image.tags.length === 0) repository.images.delete(image.digest);
            deleted.push({ imageDigest: image.digest, imageTag: id.imageTag });
          } else {
            repository.images.delete(image.digest);
            if (image.tags.length === 0) deleted.push({ imageDigest: image.digest });
            for (const tag of image.tags) deleted.push({ imageDigest: image.digest, imageTag: tag });
            image.tags = [];
          }
        }
        return { imageIds: deleted, failures };
      },
    },
  });
}
