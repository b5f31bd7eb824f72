import { createHash } from 'node:crypto';
import {
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  ImageAlreadyExistsException,
  ImageNotFoundException,
  ImageTagAlreadyExistsException,
  InvalidParameterException,
  ListImagesCommand,
  PutImageCommand,
  RepositoryAlreadyExistsException,
  RepositoryNotEmptyException,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FaultInjector, type Faults, testFaults } from '../../local/faults.ts';
import { LocalEventBus, type BusEvent } from '../../local/services/event-bus.ts';
import { LocalEcr, sampleManifest } from '../../local/services/ecr.ts';
import { serve } from './serve.ts';

const ACCOUNT = '000000000000';
let faults: Faults;
let events: BusEvent[];
let trail: BusEvent[];
let ecr: LocalEcr;
let client: ECRClient;
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  // The server reads `ecr` at request time, so each test can start from a fresh registry.
  server = await serve((request) => ecr.handle(request));
  client = new ECRClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  await server.close();
});

beforeEach(() => {
  faults = structuredClone(testFaults);
  events = [];
  trail = [];
  const bus = new LocalEventBus('us-east-1', ACCOUNT);
  ecr = new LocalEcr({ region: 'us-east-1', accountId: ACCOUNT, faults: new FaultInjector(faults), emit: (e) => (e['detail-type'] === 'ECR Image Action' ? events : trail).push(e), envelope: bus.envelope.bind(bus), callerArn: () => 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci' });
});

const digestOf = (manifest: string) => `sha256:${createHash('sha256').update(manifest).digest('hex')}`;

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('repositories', () => {
  it('creates, describes and deletes a repository', async () => {
    const created = await client.send(new CreateRepositoryCommand({ repositoryName: 'team/api', imageTagMutability: 'IMMUTABLE' }));
    expect(created.repository).toMatchObject({
      repositoryName: 'team/api',
      registryId: ACCOUNT,
      repositoryArn: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/team/api`,
      repositoryUri: `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/api`,
      imageTagMutability: 'IMMUTABLE',
    });
    expect(created.repository?.createdAt).toBeInstanceOf(Date);
    expect(ecr.repositoryUri('team/api')).toBe(created.repository?.repositoryUri);

    await client.send(new CreateRepositoryCommand({ repositoryName: 'web' }));
    const all = await client.send(new DescribeRepositoriesCommand({}));
    expect(all.repositories?.map((r) => r.repositoryName)).toEqual(['team/api', 'web']);
    const one = await client.send(new DescribeRepositoriesCommand({ repositoryNames: ['web'] }));
    expect(one.repositories?.map((r) => [r.repositoryName, r.imageTagMutability])).toEqual([['web', 'MUTABLE']]);

    const deleted = await client.send(new DeleteRepositoryCommand({ repositoryName: 'web' }));
    expect(deleted.repository?.repositoryName).toBe('web');
    expect((await client.send(new DescribeRepositoriesCommand({}))).repositories).toHaveLength(1);
  });

  it('refuses a second repository of the same name', async () => {
    ecr.createRepository('api');
    const error = await rejection(client.send(new CreateRepositoryCommand({ repositoryName: 'api' })));
    expect(error).toBeInstanceOf(RepositoryAlreadyExistsException);
    expect(error.message).toBe(`The repository with name 'api' already exists in the registry with id '${ACCOUNT}'`);
  });

  it('answers RepositoryNotFoundException with the text ECR uses', async () => {
    const error = await rejection(client.send(new DescribeRepositoriesCommand({ repositoryNames: ['x'] })));
    expect(error).toBeInstanceOf(RepositoryNotFoundException);
    expect(error.message).toBe(`The repository with name 'x' does not exist in the registry with id '${ACCOUNT}'`);
    expect(error.$metadata?.httpStatusCode).toBe(400);
  });

  it('deletes a repository with images only when forced', async () => {
    ecr.createRepository('api');
    ecr.putImage('api', sampleManifest('a'), 'v1');
    const error = await rejection(client.send(new DeleteRepositoryCommand({ repositoryName: 'api' })));
    expect(error).toBeInstanceOf(RepositoryNotEmptyException);
    await client.send(new DeleteRepositoryCommand({ repositoryName: 'api', force: true }));
    expect(await rejection(client.send(new DescribeImagesCommand({ repositoryName: 'api' })))).toBeInstanceOf(RepositoryNotFoundException);
  });

  it('rejects invalid repository names and mutability values', async () => {
    expect(await rejection(client.send(new CreateRepositoryCommand({ repositoryName: 'Bad Name' })))).toBeInstanceOf(InvalidParameterException);
    const error = await rejection(client.send(new CreateRepositoryCommand({ repositoryName: 'ok', imageTagMutability: 'SOMETIMES' as 'MUTABLE' })));
    expect(error.name).toBe('ValidationException');
  });
});

describe('PutImage', () => {
  it('stores the manifest under the sha256 of its exact bytes and announces the push', async () => {
    ecr.createRepository('api');
    const manifest = sampleManifest('build-1');
    const out = await client.send(new PutImageCommand({ repositoryName: 'api', imageManifest: manifest, imageTag: 'v1' }));
    expect(out.image?.imageId).toEqual({ imageDigest: digestOf(manifest), imageTag: 'v1' });
    expect(out.image?.imageManifestMediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'aws.ecr',
      'detail-type': 'ECR Image Action',
      account: ACCOUNT,
      region: 'us-east-1',
      resources: [`arn:aws:ecr:us-east-1:${ACCOUNT}:repository/api`],
      detail: { result: 'SUCCESS', 'action-type': 'PUSH', 'repository-name': 'api', 'image-digest': digestOf(manifest), 'image-tag': 'v1' },
    });
  });

  it('omits image-tag from the event of a digest-only push', async () => {
    ecr.createRepository('api');
    const { digest } = ecr.putImage('api', sampleManifest('x'));
    expect(events[0]?.detail).toEqual({ result: 'SUCCESS', 'action-type': 'PUSH', 'repository-name': 'api', 'image-digest': digest });
  });

  it('records the PutImage call as CloudTrail does, with who pushed', async () => {
    ecr.createRepository('api');
    const manifest = sampleManifest('trail');
    await client.send(new PutImageCommand({ repositoryName: 'api', imageTag: 'v7', imageManifest: manifest }));
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatchObject({
      source: 'aws.ecr',
      'detail-type': 'AWS API Call via CloudTrail',
      detail: { eventName: 'PutImage', userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci' }, requestParameters: { repositoryName: 'api', imageTag: 'v7' } },
    });
  });

  it('drops as many events as the dropEcrEvents fault says', async () => {
    ecr.createRepository('api');
    faults.dropEcrEvents = 1;
    ecr.putImage('api', sampleManifest('1'), 'v1');
    ecr.putImage('api', sampleManifest('2'), 'v2');
    expect(faults.dropEcrEvents).toBe(0);
    expect(events.map((e) => e.detail['image-tag'])).toEqual(['v2']);
    expect(ecr.images('api')).toHaveLength(2);
  });

  it('accepts a matching imageDigest and rejects a different one', async () => {
    ecr.createRepository('api');
    const manifest = sampleManifest('d');
    await client.send(new PutImageCommand({ repositoryName: 'api', imageManifest: manifest, imageDigest: digestOf(manifest), imageTag: 'a' }));
    const error = await rejection(client.send(new PutImageCommand({ repositoryName: 'api', imageManifest: sampleManifest('e'), imageDigest: digestOf(manifest), imageTag: 'b' })));
    expect(error).toBeInstanceOf(InvalidParameterException);
  });

  it('refuses to move a tag of an immutable repository', async () => {
    ecr.createRepository('api', { immutable: true });
    ecr.putImage('api', sampleManifest('1'), 'v1');
    const error = await rejection(client.send(new PutImageCommand({ repositoryName: 'api', imageManifest: sampleManifest('2'), imageTag: 'v1' })));
    expect(error).toBeInstanceOf(ImageTagAlreadyExistsException);
    expect(error.message).toBe("The image tag 'v1' already exists in the 'api' repository and cannot be overwritten because the repository is immutable.");
    expect(events).toHaveLength(1);
  });

  it('refuses the same manifest under the same tag again', async () => {
    ecr.createRepository('api');
    const manifest = sampleManifest('1');
    const { digest } = ecr.putImage('api', manifest, 'v1');
    const error = await rejection(client.send(new PutImageCommand({ repositoryName: 'api', imageManifest: manifest, imageTag: 'v1' })));
    expect(error).toBeInstanceOf(ImageAlreadyExistsException);
    expect(error.message).toBe(`Image with digest '${digest}' and tag 'v1' already exists in the repository with name 'api' in registry with id '${ACCOUNT}'`);
  });

  it('adds a second tag to an existing image and emits an event for it', async () => {
    ecr.createRepository('api', { immutable: true });
    const manifest = sampleManifest('1');
    const { digest } = ecr.putImage('api', manifest, 'v1');
    await client.send(new PutImageCommand({ repositoryName: 'api', imageManifest: manifest, imageTag: 'prod' }));
    expect(ecr.images('api')).toEqual([expect.objectContaining({ digest, tags: ['v1', 'prod'] })]);
    expect(events.map((e) => e.detail['image-tag'])).toEqual(['v1', 'prod']);
  });

  it('moves a mutable tag to the new digest, leaving the old image untagged', async () => {
    ecr.createRepository('api');
    const first = ecr.putImage('api', sampleManifest('1'), 'latest');
    const second = ecr.putImage('api', sampleManifest('2'), 'latest');
    expect(ecr.images('api').map((i) => [i.digest, i.tags])).toEqual([
      [first.digest, []],
      [second.digest, ['latest']],
    ]);
  });

  it('rejects a manifest that is not JSON and a missing manifest', async () => {
    ecr.createRepository('api');
    expect(await rejection(client.send(new PutImageCommand({ repositoryName: 'api', imageManifest: 'not json' })))).toBeInstanceOf(InvalidParameterException);
    expect(await rejection(client.send(new PutImageCommand({ repositoryName: 'api' } as never)))).toBeInstanceOf(InvalidParameterException);
    expect(await rejection(client.send(new PutImageCommand({ repositoryName: 'nope', imageManifest: '{}' })))).toBeInstanceOf(RepositoryNotFoundException);
  });
});

describe('reading images', () => {
  beforeEach(() => {
    ecr.createRepository('api');
  });

  it('describes images by tag, by digest and all of them, with ECR fields', async () => {
    const manifest = sampleManifest('1');
    const { digest } = ecr.putImage('api', manifest, 'v1');
    const untagged = ecr.putImage('api', sampleManifest('2'));
    const byTag = await client.send(new DescribeImagesCommand({ repositoryName: 'api', imageIds: [{ imageTag: 'v1' }] }));
    const detail = byTag.imageDetails?.[0];
    expect(detail).toMatchObject({ registryId: ACCOUNT, repositoryName: 'api', imageDigest: digest, imageTags: ['v1'], imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
    expect(detail?.imagePushedAt).toBeInstanceOf(Date);
    const layers = (JSON.parse(manifest) as { layers: Array<{ size: number }> }).layers;
    expect(detail?.imageSizeInBytes).toBe(layers.reduce((n, l) => n + l.size, 0));

    const byDigest = await client.send(new DescribeImagesCommand({ repositoryName: 'api', imageIds: [{ imageDigest: untagged.digest }] }));
    expect(byDigest.imageDetails?.map((d) => [d.imageDigest, d.imageTags])).toEqual([[untagged.digest, undefined]]);
    const all = await client.send(new DescribeImagesCommand({ repositoryName: 'api' }));
    expect(all.imageDetails).toHaveLength(2);
    const tagged = await client.send(new DescribeImagesCommand({ repositoryName: 'api', filter: { tagStatus: 'TAGGED' } }));
    expect(tagged.imageDetails?.map((d) => d.imageDigest)).toEqual([digest]);
    const onlyUntagged = await client.send(new DescribeImagesCommand({ repositoryName: 'api', filter: { tagStatus: 'UNTAGGED' } }));
    expect(onlyUntagged.imageDetails?.map((d) => d.imageDigest)).toEqual([untagged.digest]);
  });

  it('pages DescribeImages with maxResults and nextToken', async () => {
    for (const n of [1, 2, 3]) ecr.putImage('api', sampleManifest(String(n)), `v${n}`);
    const first = await client.send(new DescribeImagesCommand({ repositoryName: 'api', maxResults: 2 }));
    expect(first.imageDetails).toHaveLength(2);
    const second = await client.send(new DescribeImagesCommand({ repositoryName: 'api', maxResults: 2, nextToken: first.nextToken }));
    expect(second.imageDetails?.map((d) => d.imageTags?.[0])).toEqual(['v3']);
    expect(second.nextToken).toBeUndefined();
  });

  it('answers ImageNotFoundException naming the image id', async () => {
    const error = await rejection(client.send(new DescribeImagesCommand({ repositoryName: 'api', imageIds: [{ imageTag: 'v9' }] })));
    expect(error).toBeInstanceOf(ImageNotFoundException);
    expect(error.message).toBe(`The image with imageId {imageDigest:'null', imageTag:'v9'} does not exist within the repository with name 'api' in the registry with id '${ACCOUNT}'`);
  });

  it('gets manifests in a batch and reports failures', async () => {
    const manifest = sampleManifest('1');
    const { digest } = ecr.putImage('api', manifest, 'v1');
    const other = ecr.putImage('api', sampleManifest('2'), 'v2');
    const out = await client.send(
      new BatchGetImageCommand({
        repositoryName: 'api',
        imageIds: [{ imageTag: 'v1' }, { imageTag: 'v7' }, { imageDigest: other.digest, imageTag: 'v1' }, { imageDigest: other.digest }],
      }),
    );
    expect(out.images?.map((i) => [i.imageId, i.imageManifest === manifest])).toEqual([
      [{ imageDigest: digest, imageTag: 'v1' }, true],
      [{ imageDigest: other.digest }, false],
    ]);
    expect(out.failures?.map((f) => f.failureCode)).toEqual(['ImageNotFound', 'ImageTagDoesNotMatchDigest']);
  });

  it('lists image ids, one per tag', async () => {
    const a = ecr.putImage('api', sampleManifest('1'), 'v1');
    ecr.putImage('api', sampleManifest('1'), 'stable');
    const b = ecr.putImage('api', sampleManifest('2'));
    const out = await client.send(new ListImagesCommand({ repositoryName: 'api' }));
    expect(out.imageIds).toEqual([
      { imageDigest: a.digest, imageTag: 'v1' },
      { imageDigest: a.digest, imageTag: 'stable' },
      { imageDigest: b.digest },
    ]);
    const untagged = await client.send(new ListImagesCommand({ repositoryName: 'api', filter: { tagStatus: 'UNTAGGED' } }));
    expect(untagged.imageIds).toEqual([{ imageDigest: b.digest }]);
  });

  it('deletes by tag (untag, then the image once no tag is left) and by digest (image and tags)', async () => {
    const a = ecr.putImage('api', sampleManifest('1'), 'v1');
    ecr.putImage('api', sampleManifest('1'), 'stable');
    const b = ecr.putImage('api', sampleManifest('2'), 'v2');
    ecr.putImage('api', sampleManifest('2'), 'old');

    const untag = await client.send(new BatchDeleteImageCommand({ repositoryName: 'api', imageIds: [{ imageTag: 'v1' }] }));
    expect(untag.imageIds).toEqual([{ imageDigest: a.digest, imageTag: 'v1' }]);
    expect(ecr.images('api').find((i) => i.digest === a.digest)?.tags).toEqual(['stable']);

    await client.send(new BatchDeleteImageCommand({ repositoryName: 'api', imageIds: [{ imageTag: 'stable' }] }));
    expect(ecr.images('api').map((i) => i.digest)).toEqual([b.digest]);

    const byDigest = await client.send(new BatchDeleteImageCommand({ repositoryName: 'api', imageIds: [{ imageDigest: b.digest }, { imageTag: 'gone' }] }));
    expect(byDigest.imageIds).toEqual([
      { imageDigest: b.digest, imageTag: 'v2' },
      { imageDigest: b.digest, imageTag: 'old' },
    ]);
    expect(byDigest.failures).toEqual([{ imageId: { imageTag: 'gone' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }]);
    expect(ecr.images('api')).toEqual([]);
  });

  it('throttles read calls at the throttleRate', async () => {
    faults.throttleRate = 1;
    for (const command of [new DescribeImagesCommand({ repositoryName: 'api' }), new DescribeRepositoriesCommand({}), new BatchGetImageCommand({ repositoryName: 'api', imageIds: [{ imageTag: 'x' }] })]) {
      const error = await rejection(client.send(command as never));
      expect([error.name, error.message]).toEqual(['ThrottlingException', 'Rate exceeded']);
    }
    await expect(client.send(new ListImagesCommand({ repositoryName: 'api' }))).resolves.toBeDefined();
  });
});

describe('sampleManifest', () => {
  it('is a Docker v2 manifest, stable for one seed and different across seeds', () => {
    const manifest = JSON.parse(sampleManifest('s')) as { schemaVersion: number; mediaType: string; config: { digest: string }; layers: Array<{ digest: string; size: number }> };
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(manifest.config.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(manifest.layers.length).toBeGreaterThan(0);
    expect(sampleManifest('s')).toBe(sampleManifest('s'));
    expect(sampleManifest('s')).not.toBe(sampleManifest('t'));
  });
});

describe('malformed requests', () => {
  const post = (target: string | undefined, body: string) =>
    fetch(server.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', ...(target ? { 'x-amz-target': target } : {}) }, body });

  it('answers bad JSON with SerializationException', async () => {
    const response = await post('AmazonEC2ContainerRegistry_V20150921.DescribeRepositories', '{nope');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { __type: string }).__type).toBe('SerializationException');
  });

  it('answers an unknown or missing target with UnknownOperationException', async () => {
    for (const target of ['AmazonEC2ContainerRegistry_V20150921.LaunchRockets', 'Other_V1.DescribeRepositories', undefined]) {
      const response = await post(target, '{}');
      expect(response.status).toBe(400);
      expect(((await response.json()) as { __type: string }).__type).toBe('UnknownOperationException');
    }
  });

  it('answers wrongly typed parameters with InvalidParameterException', async () => {
    const response = await post('AmazonEC2ContainerRegistry_V20150921.DescribeImages', JSON.stringify({ repositoryName: 42 }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { __type: string }).__type).toBe('InvalidParameterException');
  });
});
