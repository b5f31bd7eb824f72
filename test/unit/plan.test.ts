import 'aws-sdk-client-mock-vitest/extend';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { ImageNotFoundError, TagPolicyViolationError, UnknownRepositoryError } from '../../shared/errors.ts';
import { verifyImagesExist } from '../../shared/ecr-images.ts';
import { resolvePlan } from '../../shared/plan.ts';

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
const clients = { ecr: new ECRClient({}) };

beforeEach(() => {
  ecr.reset();
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

describe('verifyImagesExist', () => {
  const images = { api: `${registry}/api@${hex('a')}`, worker: `${registry}/worker@${hex('b')}` };

  it('answers when ECR says each pinned digest was pushed', async () => {
    ecr.on(DescribeImagesCommand, { repositoryName: 'api' }).resolves({ imageDetails: [{ imageDigest: hex('a'), imagePushedAt: pushedAt }] });
    ecr.on(DescribeImagesCommand, { repositoryName: 'worker' }).resolves({ imageDetails: [{ imageDigest: hex('b') }] });
    await expect(verifyImagesExist(clients.ecr, images)).resolves.toEqual({ api: '2025-03-01T10:00:00.000Z', worker: '1970-01-01T00:00:00.000Z' });
    expect(ecr).toHaveReceivedCommandWith(DescribeImagesCommand, { repositoryName: 'worker', imageIds: [{ imageDigest: hex('b') }] });
  });

  it.each([
    ['ECR answers with another digest', () => ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: hex('f') }] })],
    ['the image was deleted', () => ecr.on(DescribeImagesCommand).rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }))],
    ['the repository was deleted', () => ecr.on(DescribeImagesCommand).rejects(new RepositoryNotFoundException({ message: 'not found', $metadata: {} }))],
  ])('refuses a release whose image is gone when %s', async (_, arrange) => {
    arrange();
    await expect(verifyImagesExist(clients.ecr, images)).rejects.toThrow(ImageNotFoundError);
  });
});
