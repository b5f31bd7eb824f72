import 'aws-sdk-client-mock-vitest/extend';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { DescribeApplicationVersionsCommand, DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { siblingImages } from '../../shared/bundle/siblings.ts';
import { zipBundle } from '../../shared/bundle/zip.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { VerifiedImage } from '../../shared/contracts.ts';
import { type EnvironmentLedger, emptyLedger } from '../../shared/environments/ledger.ts';
import { BundleRenderError } from '../../shared/errors.ts';

const config = parseConfig(`
applications:
  api:
    images: [api]
    bundle: { dockerrun: bundles/api/Dockerrun.aws.json }
    stages: [{ environment: api-dev, tags: ['*'] }]
  shop:
    images: [shop-client, shop-server, shop-worker]
    bundle: { dockerrun: bundles/shop/Dockerrun.aws.json }
    stages:
      - environment: shop-dev
        tags: ['v*', 'semver:>=1.0.0']
`);
const app = config.applications.shop!;
const stage = app.stages[0]!;

const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const hex = (c: string) => `sha256:${c.repeat(64)}`;
const uri = (repository: string) => `${registry}/${repository}`;
const pushed: VerifiedImage = {
  repository: 'shop-client',
  tag: 'v2',
  digest: hex('c'),
  repositoryUri: uri('shop-client'),
  reference: `${uri('shop-client')}@${hex('c')}`,
  pushedAt: '2025-03-01T10:00:00.000Z',
};
const claim = (repository: string, digest: string) => ({ repository, digest, tag: 'v9', pushedAt: '2025-03-01T11:00:00.000Z', execution: `exec-${repository}` });
const ledger = (over: Partial<EnvironmentLedger> = {}): EnvironmentLedger => ({ ...emptyLedger('shop', 'shop-dev'), ...over });
const bundleOf = (images: Record<string, string>) =>
  zipBundle({
    'Dockerrun.aws.json': new TextEncoder().encode(
      JSON.stringify({ AWSEBDockerrunVersion: 2, containerDefinitions: Object.entries(images).map(([name, image]) => ({ name, image })) }),
    ),
  });

const ecr = mockClient(ECRClient);
const eb = mockClient(ElasticBeanstalkClient);
const s3 = mockClient(S3Client);
const clients = { ecr: new ECRClient({}), eb: new ElasticBeanstalkClient({}), s3: new S3Client({}) };
const siblings = (value: EnvironmentLedger) => siblingImages(clients, { application: 'shop', app, stage, pushed, ledger: value });
const nothingRuns = () => eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [] });

beforeEach(() => {
  ecr.reset();
  eb.reset();
  s3.reset();
  ecr.on(DescribeRepositoriesCommand).callsFake((input: { repositoryNames: string[] }) => ({
    repositories: input.repositoryNames.map((name) => ({ repositoryName: name, repositoryUri: uri(name) })),
  }));
});

describe('siblingImages', () => {
  it('returns nothing and calls nothing for a single-image application', async () => {
    const result = await siblingImages(clients, {
      application: 'api',
      app: config.applications.api!,
      stage: config.applications.api!.stages[0]!,
      pushed: { ...pushed, repository: 'api' },
      ledger: emptyLedger('api', 'api-dev'),
    });
    expect(result).toEqual({});
    expect(ecr).not.toHaveReceivedAnyCommand();
    expect(eb).not.toHaveReceivedAnyCommand();
    expect(s3).not.toHaveReceivedAnyCommand();
  });

  const deployed = (images: Record<string, string>) => ({
    versionLabel: 'v1-x',
    bundleSha256: 'a'.repeat(64),
    images,
    execution: 'exec-a',
    at: '2025-03-01T09:00:00.000Z',
  });
  const runs = (images: Record<string, string>) => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'shop-dev', Status: 'Ready', VersionLabel: 'by-hand-1' }] });
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'by-hand-1', SourceBundle: { S3Bucket: 'eb-bucket', S3Key: 'by-hand-1.zip' } }] });
    const running = bundleOf(images);
    s3.on(GetObjectCommand, { Bucket: 'eb-bucket', Key: 'by-hand-1.zip' }).resolves({ Body: { transformToByteArray: async () => running } as never });
  };

  it('keeps what greenlight verified healthy there over a newer pending claim, without asking EB or ECR', async () => {
    const result = await siblings(
      ledger({
        claims: { 'shop-server': claim('shop-server', hex('2')), 'shop-worker': claim('shop-worker', hex('4')) },
        deployed: deployed({ 'shop-server': `${uri('shop-server')}@${hex('1')}`, 'shop-worker': `${uri('shop-worker')}@${hex('3')}` }),
      }),
    );
    expect(result).toEqual({ 'shop-server': `${uri('shop-server')}@${hex('1')}`, 'shop-worker': `${uri('shop-worker')}@${hex('3')}` });
    expect(ecr).toHaveReceivedCommandWith(DescribeRepositoriesCommand, { repositoryNames: ['shop-server', 'shop-worker'] });
    expect(eb).not.toHaveReceivedAnyCommand();
    expect(ecr).not.toHaveReceivedCommand(DescribeImagesCommand);
  });

  it('keeps what runs over a pending claim when greenlight has no verified image of that repository', async () => {
    runs({ server: `${uri('shop-server')}@${hex('5')}`, worker: `${uri('shop-worker')}@${hex('6')}` });
    const result = await siblings(
      ledger({
        claims: { 'shop-server': claim('shop-server', hex('2')) },
        deployed: deployed({ 'shop-worker': `${uri('shop-worker')}@${hex('3')}` }),
      }),
    );
    expect(result).toEqual({ 'shop-server': `${uri('shop-server')}@${hex('5')}`, 'shop-worker': `${uri('shop-worker')}@${hex('3')}` });
  });

  it('takes the claimed push on a first release, when nothing is verified and nothing runs', async () => {
    nothingRuns();
    const result = await siblings(ledger({ claims: { 'shop-server': claim('shop-server', hex('2')), 'shop-worker': claim('shop-worker', hex('4')) } }));
    expect(result).toEqual({ 'shop-server': `${uri('shop-server')}@${hex('2')}`, 'shop-worker': `${uri('shop-worker')}@${hex('4')}` });
    expect(ecr).not.toHaveReceivedCommand(DescribeImagesCommand);
  });

  it('never takes a claimed push that failed on this environment: the newest accepted ECR image instead', async () => {
    nothingRuns();
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: hex('7'), imageTags: ['v1'], imagePushedAt: new Date('2025-02-01T00:00:00Z') }] });
    const result = await siblings(
      ledger({
        claims: { 'shop-server': claim('shop-server', hex('2')), 'shop-worker': claim('shop-worker', hex('4')) },
        failed: [{ repository: 'shop-server', digest: hex('2'), execution: 'exec-shop-server', at: '2025-03-01T11:30:00.000Z' }],
      }),
    );
    expect(result).toEqual({ 'shop-server': `${uri('shop-server')}@${hex('7')}`, 'shop-worker': `${uri('shop-worker')}@${hex('4')}` });
    expect(ecr).toHaveReceivedCommandTimes(DescribeImagesCommand, 1);
    expect(ecr).toHaveReceivedCommandWith(DescribeImagesCommand, { repositoryName: 'shop-server' });
  });

  it('does not mistake a failed digest of another repository for a failed claim', async () => {
    nothingRuns();
    const result = await siblings(
      ledger({
        claims: { 'shop-server': claim('shop-server', hex('2')), 'shop-worker': claim('shop-worker', hex('4')) },
        failed: [{ repository: 'shop-worker', digest: hex('2'), execution: 'exec-x', at: '2025-03-01T11:30:00.000Z' }],
      }),
    );
    expect(result['shop-server']).toBe(`${uri('shop-server')}@${hex('2')}`);
  });

  it('keeps the digests that run on the environment when greenlight has no record of it', async () => {
    runs({
      client: `${uri('shop-client')}@${hex('1')}`,
      server: `${uri('shop-server')}@${hex('2')}`,
      worker: `${uri('shop-worker')}@${hex('3')}`,
    });
    const result = await siblings(ledger());
    expect(result).toEqual({ 'shop-server': `${uri('shop-server')}@${hex('2')}`, 'shop-worker': `${uri('shop-worker')}@${hex('3')}` });
    expect(eb).toHaveReceivedCommandWith(DescribeEnvironmentsCommand, { ApplicationName: 'shop', EnvironmentNames: ['shop-dev'] });
    expect(eb).toHaveReceivedCommandWith(DescribeApplicationVersionsCommand, { ApplicationName: 'shop', VersionLabels: ['by-hand-1'] });
    expect(eb).toHaveReceivedCommandTimes(DescribeEnvironmentsCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 1);
    expect(ecr).not.toHaveReceivedCommand(DescribeImagesCommand);
  });

  it('does not keep a running image pinned by tag: it asks ECR instead', async () => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'shop-dev', Status: 'Ready', VersionLabel: 'by-hand-1' }] });
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'by-hand-1', SourceBundle: { S3Bucket: 'eb-bucket', S3Key: 'by-hand-1.zip' } }] });
    const running = bundleOf({ server: `${uri('shop-server')}:v1`, worker: `${uri('shop-worker')}@${hex('3')}` });
    s3.on(GetObjectCommand).resolves({ Body: { transformToByteArray: async () => running } as never });
    ecr.on(DescribeImagesCommand, { repositoryName: 'shop-server' }).resolves({ imageDetails: [{ imageDigest: hex('5'), imageTags: ['v1'], imagePushedAt: new Date('2025-01-01T00:00:00Z') }] });
    await expect(siblings(ledger())).resolves.toEqual({ 'shop-server': `${uri('shop-server')}@${hex('5')}`, 'shop-worker': `${uri('shop-worker')}@${hex('3')}` });
  });

  it('ignores a terminated environment and takes the newest ECR image whose tag the stage accepts', async () => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'shop-dev', Status: 'Terminated', VersionLabel: 'old' }] });
    const at = (day: number) => new Date(Date.UTC(2025, 1, day));
    ecr.on(DescribeImagesCommand).resolves({
      imageDetails: [
        { imageDigest: hex('1'), imageTags: ['v1.0'], imagePushedAt: at(1) },
        { imageDigest: hex('2'), imageTags: ['1.2.0'], imagePushedAt: at(2) },
        { imageDigest: hex('3'), imageTags: ['latest'], imagePushedAt: at(10) },
        { imageDigest: hex('4'), imageTags: ['feature-x'], imagePushedAt: at(11) },
        { imageDigest: hex('5'), imagePushedAt: at(12) },
        { imageDigest: hex('6'), imageTags: [], imagePushedAt: at(13) },
        { imageDigest: hex('7'), imageTags: ['0.9.0'], imagePushedAt: at(14) },
      ],
    });
    await expect(siblings(ledger())).resolves.toEqual({ 'shop-server': `${uri('shop-server')}@${hex('2')}`, 'shop-worker': `${uri('shop-worker')}@${hex('2')}` });
    expect(eb).not.toHaveReceivedCommand(DescribeApplicationVersionsCommand);
    expect(ecr).toHaveReceivedCommandWith(DescribeImagesCommand, { repositoryName: 'shop-server', filter: { tagStatus: 'TAGGED' } });
  });

  it('never takes an image tagged only latest, even where the stage accepts every tag', async () => {
    nothingRuns();
    ecr.on(DescribeImagesCommand).resolves({
      imageDetails: [
        { imageDigest: hex('1'), imageTags: ['nightly'], imagePushedAt: new Date('2025-02-01T00:00:00Z') },
        { imageDigest: hex('2'), imageTags: ['latest'], imagePushedAt: new Date('2025-02-02T00:00:00Z') },
      ],
    });
    const result = await siblingImages(clients, { application: 'shop', app, stage: { ...stage, tags: ['*'] }, pushed, ledger: ledger() });
    expect(result).toEqual({ 'shop-server': `${uri('shop-server')}@${hex('1')}`, 'shop-worker': `${uri('shop-worker')}@${hex('1')}` });
  });

  it('takes an image that carries latest next to an accepted tag', async () => {
    nothingRuns();
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: hex('8'), imageTags: ['latest', 'v3'], imagePushedAt: new Date('2025-02-01T00:00:00Z') }] });
    await expect(siblings(ledger())).resolves.toMatchObject({ 'shop-server': `${uri('shop-server')}@${hex('8')}` });
  });

  it('names every repository without an image in one BundleRenderError', async () => {
    nothingRuns();
    ecr.on(DescribeImagesCommand, { repositoryName: 'shop-server' }).resolves({ imageDetails: [{ imageDigest: hex('3'), imageTags: ['latest'] }] });
    ecr.on(DescribeImagesCommand, { repositoryName: 'shop-worker' }).rejects(new RepositoryNotFoundException({ message: 'not found', $metadata: {} }));
    const error = await siblings(ledger()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BundleRenderError);
    expect((error as BundleRenderError).detail).toEqual({ application: 'shop', environment: 'shop-dev', missing: ['shop-server', 'shop-worker'] });
    expect((error as Error).message).toContain('shop-server, shop-worker have none');
    expect((error as Error).message).toContain('push shop-server:<tag> and shop-worker:<tag> first');
  });

  it('lets other ECR errors through', async () => {
    nothingRuns();
    ecr.on(DescribeImagesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(siblings(ledger())).rejects.toThrow('denied');
  });
});
