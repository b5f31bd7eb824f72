import 'aws-sdk-client-mock-vitest/extend';
import { resolve } from 'node:path';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { HeadObjectCommand, NotFound, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { prepareBundle } from '../../shared/bundle/prepare.ts';
import { readBundle } from '../../shared/bundle/zip.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { Plan } from '../../shared/contracts.ts';
import { BundleRenderError } from '../../shared/errors.ts';

const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const hex = (c: string) => `sha256:${c.repeat(64)}`;
const config = parseConfig(`
applications:
  shop:
    images: [shop-client, shop-server, shop-worker, shop-nginx]
    bundle: { dockerrun: shop/Dockerrun.aws.json }
    stages: [{ environment: shop-dev, tags: ['*'] }]
  hello-api:
    images: [hello-api, unused]
    bundle: { dockerrun: hello-api/Dockerrun.aws.json, ebextensions: hello-api/.ebextensions }
    stages: [{ environment: hello-dev, tags: ['*'] }]
`);
const loaded = { path: 'greenlight.yml', baseDir: resolve(import.meta.dirname, '../../examples/bundles'), config };
const plan = (application: string, repository: string): Plan => ({
  deploymentId: 'd-1',
  application,
  image: { repository, tag: 'v1.0.0', digest: hex('a'), repositoryUri: `${registry}/${repository}`, reference: `${registry}/${repository}@${hex('a')}`, pushedAt: '2025-03-01T10:00:00.000Z' },
  stages: [{ environment: `${application}-dev` }],
  skippedStages: [],
  health: { accept: ['Green'], timeoutSeconds: 600 },
});

const ecr = mockClient(ECRClient);
const eb = mockClient(ElasticBeanstalkClient);
const s3 = mockClient(S3Client);
const clients = { ecr: new ECRClient({}), eb: new ElasticBeanstalkClient({}), s3: new S3Client({}) };

beforeEach(() => {
  ecr.reset();
  eb.reset();
  s3.reset();
  eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [] });
  ecr.on(DescribeRepositoriesCommand).callsFake((input: { repositoryNames: string[] }) => ({
    repositories: input.repositoryNames.map((name) => ({ repositoryName: name, repositoryUri: `${registry}/${name}` })),
  }));
  ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: hex('b'), imagePushedAt: new Date('2025-01-01T00:00:00Z') }] });
  s3.on(HeadObjectCommand).rejects(new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }));
  s3.on(PutObjectCommand).resolves({});
});

describe('prepareBundle', () => {
  it('renders a multi-container bundle with the pushed image and the newest of the others, and stores it', async () => {
    const stored = await prepareBundle(clients, { loaded, plan: plan('shop', 'shop-server'), bucket: 'bundles' });
    expect(stored.images).toEqual({
      'shop-client': `${registry}/shop-client@${hex('b')}`,
      'shop-server': `${registry}/shop-server@${hex('a')}`,
      'shop-worker': `${registry}/shop-worker@${hex('b')}`,
      'shop-nginx': `${registry}/shop-nginx@${hex('b')}`,
    });
    expect(stored.description).toMatch(/^greenlight v1\.0\.0 shop-server@sha256:a{12}… pushedAt=2025-03-01T10:00:00\.000Z$/);
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    const files = readBundle(put?.Body as Uint8Array);
    expect(Object.keys(files)).toEqual(['Dockerrun.aws.json']);
  });

  it('refuses an application whose templates never use the pushed repository', async () => {
    await expect(prepareBundle(clients, { loaded, plan: plan('hello-api', 'unused'), bucket: 'bundles' })).rejects.toThrow(BundleRenderError);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});
