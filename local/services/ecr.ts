import { createHash, randomUUID } from 'node:crypto';
import type { Faults } from '../faults.ts';
import { jsonService } from '../protocol/json.ts';
import { AwsServiceError, type LocalRequest, type LocalResponse } from '../protocol/types.ts';
import type { CloudTrailRecord } from './cloudtrail.ts';
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

interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/;
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

/**
 * Amazon ECR, locally: repositories and image manifests in memory (no layer blobs), with
 * immutability, digest arithmetic, EventBridge push events and ECR's own error texts.
 */
/** An entry of `failures` in BatchGetImage/BatchDeleteImage, with ECR's reason texts. */
function imageFailure(imageId: unknown, failureCode: string | undefined): Record<string, unknown> {
  const failureReason =
    failureCode === 'ImageTagDoesNotMatchDigest' ? 'Invalid image tag for digest' : failureCode === 'MissingDigestAndTag' ? 'Invalid request parameters: both tag and digest cannot be null' : 'Requested image not found';
  return { imageId, failureCode, failureReason };
}

export class LocalEcr {
  private readonly repositories = new Map<string, Repository>();
  private readonly region: string;
  private readonly accountId: string;
  private readonly faults: Faults;
  private readonly emit: (event: BusEvent) => void;
  private readonly envelope: LocalEventBus['envelope'];
  private readonly callerArn: (request: LocalRequest) => string;
  private readonly trail: (record: CloudTrailRecord) => void;

  constructor(options: {
    region: string;
    accountId: string;
    faults: Faults;
    emit: (event: BusEvent) => void;
    envelope: LocalEventBus['envelope'];
    callerArn?: (request: LocalRequest) => string;
    /** CloudTrail's event history, which keeps every PutImage whether or not a rule listens. */
    trail?: (record: CloudTrailRecord) => void;
  }) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.faults = options.faults;
    this.emit = options.emit;
    this.envelope = options.envelope;
    this.callerArn = options.callerArn ?? (() => `arn:aws:iam::${this.accountId}:root`);
    this.trail = options.trail ?? (() => undefined);
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

  private throttle(): void {
    if (this.faults.throttleRate > 0 && Math.random() < this.faults.throttleRate) throw new AwsServiceError('ThrottlingException', 'Rate exceeded');
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
    this.announce(repository, digest, tag);
    return image;
  }

  /** EventBridge "ECR Image Action": best effort, so the dropEcrEvents fault can lose it. */
  private announce(repository: Repository, digest: string, tag: string | undefined): void {
    if (this.faults.dropEcrEvents > 0) {
      this.faults.dropEcrEvents -= 1;
      return;
    }
    const detail: Record<string, unknown> = { result: 'SUCCESS', 'action-type': 'PUSH', 'repository-name': repository.name, 'image-digest': digest };
    if (tag !== undefined) detail['image-tag'] = tag;
    this.emit(this.envelope('aws.ecr', 'ECR Image Action', detail, [repository.arn]));
  }

  /**
   * CloudTrail's record of a PutImage, as EventBridge delivers it ("AWS API Call via CloudTrail"):
   * the one event that says who pushed. Not subject to dropEcrEvents (a different delivery path).
   * CloudTrail's event history keeps the same record (LookupEvents finds it without any rule).
   */
  private recordApiCall(request: LocalRequest, repository: Repository, digest: string, tag: string | undefined): void {
    const arn = this.callerArn(request);
    const type = arn.includes(':assumed-role/') ? 'AssumedRole' : arn.endsWith(':root') ? 'Root' : 'IAMUser';
    const accessKeyId = /Credential=([^/,\s]+)\//.exec(String(request.headers.authorization ?? ''))?.[1];
    const detail = {
      eventVersion: '1.08',
      userIdentity: { type, arn, accountId: this.accountId, ...(accessKeyId ? { accessKeyId } : {}) },
      eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource: 'ecr.amazonaws.com',
      eventName: 'PutImage',
      awsRegion: this.region,
      requestParameters: { repositoryName: repository.name, registryId: this.accountId, ...(tag === undefined ? {} : { imageTag: tag }) },
      responseElements: { image: { repositoryName: repository.name, registryId: this.accountId, imageId: { imageDigest: digest, ...(tag === undefined ? {} : { imageTag: tag }) } } },
      requestID: request.requestId,
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
        this.throttle();
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
        this.recordApiCall(request, repository, image.digest, tag);
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
      DescribeImages: (input: Record<string, unknown>) => {
        this.throttle();
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
        this.throttle();
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
