import 'aws-sdk-client-mock-vitest/extend';
import { resolve } from 'node:path';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { prepareRelease } from '../../shared/bundle/prepare.ts';
import { readBundle } from '../../shared/bundle/zip.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { Plan, StoredBundle } from '../../shared/contracts.ts';
import { type EnvironmentLedger, emptyLedger, ledgerKey } from '../../shared/environments/ledger.ts';
import { BundleRenderError, ConfigurationError } from '../../shared/errors.ts';
import { releaseKey } from '../../shared/naming.ts';

const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const hex = (c: string) => `sha256:${c.repeat(64)}`;
const config = parseConfig(`
applications:
  shop:
    images: [shop-client, shop-server, shop-worker, shop-nginx]
    bundle: { dockerrun: shop/Dockerrun.aws.json }
    stages: [{ environment: shop-dev, tags: ['*'] }, { environment: shop-prod, tags: ['v*'] }]
  webhooks:
    images: [webhooks]
    bundle: { dockerrun: webhooks/Dockerrun.aws.json }
    stages: [{ environment: webhooks-dev, tags: ['*'] }]
  hello-api:
    images: [hello-api, unused]
    bundle: { dockerrun: hello-api/Dockerrun.aws.json, ebextensions: hello-api/.ebextensions }
    stages: [{ environment: hello-api-dev, tags: ['*'] }]
`);
const loaded = { path: 'greenlight.yml', baseDir: resolve(import.meta.dirname, '../../examples/bundles'), config };
const bucket = 'greenlight-bundles';
const execution = 'shop-v1-0-0-aaaaaaaaaaaaaaaa';
const ref = (repository: string, c: string) => `${registry}/${repository}@${hex(c)}`;
const plan = (application: string, repository: string, environment: string): Plan => ({
  deploymentId: 'd-1',
  application,
  image: { repository, tag: 'v1.0.0', digest: hex('a'), repositoryUri: `${registry}/${repository}`, reference: ref(repository, 'a'), pushedAt: '2025-03-01T10:00:00.000Z' },
  stages: [{ environment }],
  skippedStages: [],
  health: { accept: ['Green'], timeoutSeconds: 600 },
});
const prepare = (application: string, repository: string, environment: string, index = 0) =>
  prepareRelease(clients, { loaded, plan: plan(application, repository, environment), stage: { environment }, index, execution, bucket });

const ecr = mockClient(ECRClient);
const eb = mockClient(ElasticBeanstalkClient);
const s3 = mockClient(S3Client);
const clients = { ecr: new ECRClient({}), eb: new ElasticBeanstalkClient({}), s3: new S3Client({}) };

const json = (value: unknown) => ({ transformToString: async () => JSON.stringify(value) }) as never;
const missing = () => new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
const storeLedger = (application: string, environment: string, over: Partial<EnvironmentLedger>) =>
  s3.on(GetObjectCommand, { Bucket: bucket, Key: ledgerKey(application, environment) }).resolves({ Body: json({ ...emptyLedger(application, environment), ...over }), ETag: '"l1"' });
const puts = () => s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
const recordPut = (application: string) => puts().find((input) => input.Key === releaseKey(application, execution));

beforeEach(() => {
  ecr.reset();
  eb.reset();
  s3.reset();
  eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [] });
  ecr.on(DescribeRepositoriesCommand).callsFake((input: { repositoryNames: string[] }) => ({
    repositories: input.repositoryNames.map((name) => ({ repositoryName: name, repositoryUri: `${registry}/${name}` })),
  }));
  ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: hex('e'), imageTags: ['v0.1.0'], imagePushedAt: new Date('2025-01-01T00:00:00Z') }] });
  s3.on(GetObjectCommand).rejects(missing());
  s3.on(PutObjectCommand).resolves({});
});

describe('prepareRelease', () => {
  it('renders the first stage with the siblings of its environment, stores the bundle and records the release once', async () => {
    storeLedger('shop', 'shop-dev', {
      claims: { 'shop-nginx': { repository: 'shop-nginx', digest: hex('4'), tag: 'n1', pushedAt: '2025-03-01T09:00:00.000Z', execution: 'exec-n' } },
      deployed: {
        versionLabel: 'v0.9.0-abc',
        bundleSha256: 'f'.repeat(64),
        images: { 'shop-client': ref('shop-client', '1'), 'shop-server': ref('shop-server', '2'), 'shop-worker': ref('shop-worker', '3') },
        execution: 'exec-0',
        at: '2025-03-01T08:00:00.000Z',
      },
    });
    const release = await prepare('shop', 'shop-server', 'shop-dev');
    expect(release.images).toEqual({
      'shop-client': ref('shop-client', '1'),
      'shop-server': ref('shop-server', 'a'),
      'shop-worker': ref('shop-worker', '3'),
      'shop-nginx': ref('shop-nginx', '4'),
    });
    expect(release).toMatchObject({ bucket, key: `bundles/shop/${release.sha256}.zip`, versionLabel: `v1.0.0-${release.sha256.slice(0, 12)}`, written: true });
    expect(release.description).toMatch(/^greenlight v1\.0\.0 shop-server@sha256:a{12}… pushedAt=2025-03-01T10:00:00\.000Z$/);

    const [bundle, record] = puts();
    expect(bundle?.Key).toBe(release.key);
    const dockerrun = JSON.parse(new TextDecoder().decode(readBundle(bundle?.Body as Uint8Array)['Dockerrun.aws.json']));
    expect(dockerrun.containerDefinitions.map((c: { image: string }) => c.image)).toEqual([
      ref('shop-client', '1'),
      ref('shop-server', 'a'),
      ref('shop-worker', '3'),
      ref('shop-nginx', '4'),
    ]);
    expect(record).toMatchObject({ Bucket: bucket, Key: `releases/shop/${execution}.json`, IfNoneMatch: '*', ContentType: 'application/json' });
    expect(JSON.parse(record?.Body as string)).toEqual(release);
    expect(ecr).not.toHaveReceivedCommand(DescribeImagesCommand);
  });

  it('returns a recorded release as it is, without rendering or storing anything', async () => {
    const recorded: StoredBundle = {
      bucket,
      key: `bundles/shop/${'9'.repeat(64)}.zip`,
      sha256: '9'.repeat(64),
      versionLabel: 'v1.0.0-999999999999',
      description: 'greenlight v1.0.0',
      images: { 'shop-server': ref('shop-server', '9') },
      written: true,
    };
    s3.on(GetObjectCommand, { Bucket: bucket, Key: releaseKey('shop', execution) }).resolves({ Body: json(recorded) });
    await expect(prepare('shop', 'shop-server', 'shop-dev')).resolves.toEqual(recorded);
    await expect(prepare('shop', 'shop-server', 'shop-prod', 1)).resolves.toEqual(recorded);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 2);
    expect(ecr).not.toHaveReceivedAnyCommand();
  });

  it('refuses a later stage when the first stage recorded no release', async () => {
    const error = await prepare('shop', 'shop-server', 'shop-prod', 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BundleRenderError);
    expect((error as Error).message).toContain(execution);
    expect((error as Error).message).toContain('shop-prod');
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    expect(ecr).not.toHaveReceivedAnyCommand();
  });

  it('reuses the version label of the same bytes already deployed there', async () => {
    const first = await prepare('webhooks', 'webhooks', 'webhooks-dev');
    expect(first.versionLabel).toBe(`v1.0.0-${first.sha256.slice(0, 12)}`);
    s3.reset();
    s3.on(GetObjectCommand).rejects(missing());
    s3.on(PutObjectCommand).resolves({});
    storeLedger('webhooks', 'webhooks-dev', {
      deployed: { versionLabel: 'release-7-abc', bundleSha256: first.sha256, images: first.images, execution: 'exec-0', at: '2025-03-01T08:00:00.000Z' },
    });
    const again = await prepare('webhooks', 'webhooks', 'webhooks-dev');
    expect(again).toEqual({ ...first, versionLabel: 'release-7-abc' });
    expect(JSON.parse(recordPut('webhooks')?.Body as string).versionLabel).toBe('release-7-abc');
  });

  it('keeps its own version label when other bytes are deployed there', async () => {
    storeLedger('webhooks', 'webhooks-dev', {
      deployed: { versionLabel: 'release-7-abc', bundleSha256: 'f'.repeat(64), images: {}, execution: 'exec-0', at: '2025-03-01T08:00:00.000Z' },
    });
    const release = await prepare('webhooks', 'webhooks', 'webhooks-dev');
    expect(release.versionLabel).toBe(`v1.0.0-${release.sha256.slice(0, 12)}`);
  });

  it('returns the release another attempt recorded first when it loses the race to record it', async () => {
    const winner: StoredBundle = {
      bucket,
      key: `bundles/webhooks/${'8'.repeat(64)}.zip`,
      sha256: '8'.repeat(64),
      versionLabel: 'v1.0.0-888888888888',
      description: 'greenlight v1.0.0',
      images: { webhooks: ref('webhooks', 'a') },
      written: true,
    };
    s3.on(GetObjectCommand, { Bucket: bucket, Key: releaseKey('webhooks', execution) }).rejectsOnce(missing()).resolves({ Body: json(winner) });
    s3.on(PutObjectCommand, { Key: releaseKey('webhooks', execution) }).rejects(
      Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } }),
    );
    await expect(prepare('webhooks', 'webhooks', 'webhooks-dev')).resolves.toEqual(winner);
  });

  it('refuses an application whose templates never use the pushed repository', async () => {
    const error = await prepare('hello-api', 'unused', 'hello-api-dev').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BundleRenderError);
    expect((error as Error).message).toContain('{{image:unused}}');
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it.each([
    ['an application', 'gone', 'shop-server', 'gone-dev', /application gone is no longer in the configuration greenlight.yml/],
    ['a stage', 'shop', 'shop-server', 'shop-qa', /environment shop-qa is no longer a stage of shop/],
  ])('names %s removed from the configuration since the push', async (_, application, repository, environment, message) => {
    await expect(prepare(application, repository, environment)).rejects.toThrow(message);
    await expect(prepare(application, repository, environment)).rejects.toBeInstanceOf(ConfigurationError);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});
