import 'aws-sdk-client-mock-vitest/extend';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { DescribeApplicationVersionsCommand, DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { zipBundle } from '../../shared/bundle/zip.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { VerifiedImage } from '../../shared/contracts.ts';
import { BundleRenderError, ImageNotFoundError, TagPolicyViolationError, UnknownRepositoryError } from '../../shared/errors.ts';
import { otherImagesForBundle, resolvePlan } from '../../shared/plan.ts';

const config = parseConfig(`
applications:
  api:
    images: [api]
    bundle: { dockerrun: bundles/api/Dockerrun.aws.json }
    stages:
      - environment: api-dev
        tags: ['git_*', 'v*']
      - environment: api-prod
        tags: ['semver:>=1.0.0']
        approval: { approvers: ['arn:aws:iam::123456789012:role/release'], timeout: 2h }
    health: { accept: [Green, Yellow], timeout: 15m }
  shop:
    images: [shop-client, shop-server, shop-worker]
    bundle: { dockerrun: bundles/shop/Dockerrun.aws.json }
    stages:
      - environment: shop-dev
        tags: ['*']
`);

const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const hex = (c: string) => `sha256:${c.repeat(64)}`;
const pushedAt = new Date('2025-03-01T10:00:00Z');

const ecr = mockClient(ECRClient);
const eb = mockClient(ElasticBeanstalkClient);
const s3 = mockClient(S3Client);
const clients = { ecr: new ECRClient({}), eb: new ElasticBeanstalkClient({}), s3: new S3Client({}) };

beforeEach(() => {
  ecr.reset();
  eb.reset();
  s3.reset();
});

describe('resolvePlan', () => {
  const image = { repository: 'api', tag: 'v1.2.3', digest: hex('a'), pushedBy: 'arn:aws:iam::123456789012:user/ci' };

  it('pins the pushed digest and plans every matching stage', async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: hex('a'), imagePushedAt: pushedAt, imageTags: ['v1.2.3'] }] });
    ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'api', repositoryUri: `${registry}/api` }] });
    const plan = await resolvePlan(clients, { config, image, deploymentId: 'd-1' });
    expect(plan).toEqual({
      deploymentId: 'd-1',
      application: 'api',
      image: { ...image, repositoryUri: `${registry}/api`, reference: `${registry}/api@${hex('a')}`, pushedAt: '2025-03-01T10:00:00.000Z' },
      stages: [{ environment: 'api-dev' }, { environment: 'api-prod', approval: { approvers: ['arn:aws:iam::123456789012:role/release'], timeoutSeconds: 7200 } }],
      skippedStages: [],
      health: { accept: ['Green', 'Yellow'], timeoutSeconds: 900 },
    });
    expect(ecr).toHaveReceivedCommandWith(DescribeImagesCommand, { repositoryName: 'api', imageIds: [{ imageDigest: hex('a') }] });
  });

  it('refuses a repository no application owns', async () => {
    await expect(resolvePlan(clients, { config, image: { ...image, repository: 'other' }, deploymentId: 'd' })).rejects.toThrow(UnknownRepositoryError);
    expect(ecr).not.toHaveReceivedCommand(DescribeImagesCommand);
  });

  it('refuses latest before asking ECR', async () => {
    await expect(resolvePlan(clients, { config, image: { ...image, tag: 'latest' }, deploymentId: 'd' })).rejects.toThrow(TagPolicyViolationError);
    expect(ecr).not.toHaveReceivedCommand(DescribeImagesCommand);
  });

  it('explains an image deleted after the push', async () => {
    ecr.on(DescribeImagesCommand).rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }));
    const error = await resolvePlan(clients, { config, image, deploymentId: 'd' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageNotFoundError);
    expect((error as Error).message).toMatch(/deleted .* after the push/);
  });

  it('explains a repository deleted after the push', async () => {
    ecr.on(DescribeImagesCommand).rejects(new RepositoryNotFoundException({ message: 'not found', $metadata: {} }));
    await expect(resolvePlan(clients, { config, image, deploymentId: 'd' })).rejects.toThrow(/repository api no longer exists/);
  });
});

describe('otherImagesForBundle', () => {
  const pushed: VerifiedImage = {
    repository: 'shop-client',
    tag: 'v2',
    digest: hex('c'),
    repositoryUri: `${registry}/shop-client`,
    reference: `${registry}/shop-client@${hex('c')}`,
    pushedAt: pushedAt.toISOString(),
  };
  const app = config.applications.shop!;
  const bundleOf = (images: Record<string, string>) =>
    zipBundle({
      'Dockerrun.aws.json': new TextEncoder().encode(
        JSON.stringify({ AWSEBDockerrunVersion: 2, containerDefinitions: Object.entries(images).map(([name, image]) => ({ name, image })) }),
      ),
    });

  beforeEach(() => {
    ecr.on(DescribeRepositoriesCommand).resolves({
      repositories: ['shop-server', 'shop-worker'].map((name) => ({ repositoryName: name, repositoryUri: `${registry}/${name}` })),
    });
  });

  it('returns nothing and calls nothing for a single-image application', async () => {
    const result = await otherImagesForBundle(clients, { application: 'api', app: config.applications.api!, pushed: { ...pushed, repository: 'api' }, firstEnvironment: 'api-dev' });
    expect(result).toEqual({});
    expect(ecr).not.toHaveReceivedCommand(DescribeRepositoriesCommand);
  });

  it('keeps what runs on the first stage and takes the newest ECR image for a repository never deployed', async () => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'shop-dev', Status: 'Ready', VersionLabel: 'v1-abc' }] });
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'v1-abc', SourceBundle: { S3Bucket: 'b', S3Key: 'k.zip' } }] });
    const deployedBundle = bundleOf({ client: `${registry}/shop-client@${hex('1')}`, server: `${registry}/shop-server@${hex('2')}` });
    s3.on(GetObjectCommand, { Bucket: 'b', Key: 'k.zip' }).resolves({ Body: { transformToByteArray: async () => deployedBundle } as never });
    ecr.on(DescribeImagesCommand, { repositoryName: 'shop-worker' }).resolves({
      imageDetails: [
        { imageDigest: hex('3'), imagePushedAt: new Date('2025-01-01T00:00:00Z') },
        { imageDigest: hex('4'), imagePushedAt: new Date('2025-02-01T00:00:00Z') },
        { imageDigest: hex('5'), imagePushedAt: new Date('2024-12-01T00:00:00Z'), imageTags: ['v9'] },
      ],
    });
    const result = await otherImagesForBundle(clients, { application: 'shop', app, pushed, firstEnvironment: 'shop-dev' });
    expect(result).toEqual({ 'shop-server': `${registry}/shop-server@${hex('2')}`, 'shop-worker': `${registry}/shop-worker@${hex('4')}` });
  });

  it('asks to push an image first when a repository is empty and nothing is deployed', async () => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [] });
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [] });
    const error = await otherImagesForBundle(clients, { application: 'shop', app, pushed, firstEnvironment: 'shop-dev' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleRenderError);
    expect((error as Error).message).toContain('push an image to shop-server first');
  });
});
