import {
  CreateApplicationCommand,
  CreateApplicationVersionCommand,
  DescribeApplicationsCommand,
  DescribeApplicationVersionsCommand,
  ElasticBeanstalkClient,
  TooManyApplicationVersionsException,
  UpdateApplicationResourceLifecycleCommand,
  UpdateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/load.ts';
import { installSettings } from '../../shared/config/schema.ts';
import { FaultInjector, type Faults, testFaults } from '../../local/faults.ts';
import { LocalElasticBeanstalk } from '../../local/services/elastic-beanstalk/index.ts';
import { projectRoot, startGreenlightLocal } from '../../local/stack.ts';
import { serve } from './serve.ts';

// Elastic Beanstalk's application version lifecycle: set by UpdateApplicationResourceLifecycle, applied
// after every CreateApplicationVersion (the new version not counted), never to a version in use.

const ACCOUNT = '000000000000';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/version-lifecycle`;
let objects: Map<string, Buffer>;
let faults: Faults;
let eb: LocalElasticBeanstalk;
let client: ElasticBeanstalkClient;
let server: Awaited<ReturnType<typeof serve>>;

function bundle(label: string): Buffer {
  const doc = { AWSEBDockerrunVersion: '1', Image: { Name: `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/api:${label}`, Update: 'true' }, Ports: [{ ContainerPort: 8080 }] };
  return Buffer.from(zipSync({ 'Dockerrun.aws.json': strToU8(JSON.stringify(doc)) }));
}

async function createVersion(label: string): Promise<void> {
  objects.set(`bundles/${label}.zip`, bundle(label));
  await client.send(new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: label, SourceBundle: { S3Bucket: 'b', S3Key: `bundles/${label}.zip` } }));
}

async function labels(): Promise<string[]> {
  const { ApplicationVersions = [] } = await client.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'app' }));
  return ApplicationVersions.map((v) => v.VersionLabel!).sort();
}

async function keepNewest(maxCount: number, deleteSourceFromS3: boolean): Promise<void> {
  await client.send(
    new UpdateApplicationResourceLifecycleCommand({
      ApplicationName: 'app',
      ResourceLifecycleConfig: { ServiceRole: ROLE, VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: maxCount, DeleteSourceFromS3: deleteSourceFromS3 }, MaxAgeRule: { Enabled: false } } },
    }),
  );
}

beforeAll(async () => {
  server = await serve((request) => eb.handle(request));
  client = new ElasticBeanstalkClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  await server.close();
});

beforeEach(() => {
  objects = new Map();
  faults = { ...structuredClone(testFaults), ebUpdateSeconds: 0 };
  eb = new LocalElasticBeanstalk({
    region: 'us-east-1',
    accountId: ACCOUNT,
    faults: new FaultInjector(faults),
    readObject: async (bucket, key) => (bucket === 'b' ? objects.get(key) : undefined),
    deleteObject: async (bucket, key) => {
      if (bucket === 'b') objects.delete(key);
    },
  });
  eb.createApplication('app');
});

describe('the application version lifecycle', () => {
  it('is shown by DescribeApplications: off until set, then as UpdateApplicationResourceLifecycle set it', async () => {
    const before = await client.send(new DescribeApplicationsCommand({ ApplicationNames: ['app'] }));
    expect(before.Applications?.[0]?.ResourceLifecycleConfig?.VersionLifecycleConfig?.MaxCountRule?.Enabled).toBe(false);

    const updated = await client.send(
      new UpdateApplicationResourceLifecycleCommand({ ApplicationName: 'app', ResourceLifecycleConfig: { ServiceRole: ROLE, VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: 3, DeleteSourceFromS3: true } } } }),
    );
    expect(updated).toMatchObject({ ApplicationName: 'app', ResourceLifecycleConfig: { ServiceRole: ROLE, VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: 3, DeleteSourceFromS3: true } } } });
    const after = await client.send(new DescribeApplicationsCommand({ ApplicationNames: ['app'] }));
    expect(after.Applications?.[0]?.ResourceLifecycleConfig).toMatchObject({ ServiceRole: ROLE, VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: 3, DeleteSourceFromS3: true }, MaxAgeRule: { Enabled: false } } });

    // The role is kept when a later update leaves it out, as EB persists it.
    await client.send(new UpdateApplicationResourceLifecycleCommand({ ApplicationName: 'app', ResourceLifecycleConfig: { VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: 5 } } } }));
    const kept = await client.send(new DescribeApplicationsCommand({ ApplicationNames: ['app'] }));
    expect(kept.Applications?.[0]?.ResourceLifecycleConfig).toMatchObject({ ServiceRole: ROLE, VersionLifecycleConfig: { MaxCountRule: { MaxCount: 5 } } });
  });

  it('keeps MaxCount versions besides the new one, deleting the oldest and their bundles (DeleteSourceFromS3)', async () => {
    for (const label of ['v1', 'v2', 'v3']) await createVersion(label);
    await keepNewest(2, true);
    expect(await labels()).toEqual(['v1', 'v2', 'v3']); // applied at the next creation, not when set

    await createVersion('v4');
    expect(await labels()).toEqual(['v3', 'v4', 'v2'].sort());
    expect([...objects.keys()].sort()).toEqual(['bundles/v2.zip', 'bundles/v3.zip', 'bundles/v4.zip']);
    await createVersion('v5');
    expect(await labels()).toEqual(['v3', 'v4', 'v5']);
  });

  it('leaves the bundles in S3 without DeleteSourceFromS3', async () => {
    for (const label of ['v1', 'v2']) await createVersion(label);
    await keepNewest(1, false);
    await createVersion('v3');
    expect(await labels()).toEqual(['v2', 'v3']);
    expect(objects.has('bundles/v1.zip')).toBe(true);
  });

  it('never deletes the version an environment runs, nor the one it is being updated to', async () => {
    await createVersion('v1');
    eb.createEnvironment('app', 'app-prod', { versionLabel: 'v1' });
    for (const label of ['v2', 'v3']) await createVersion(label);
    await keepNewest(1, true);
    faults.ebUpdateSeconds = 60;
    await client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' }));
    // While the update runs, v1 (running) and v2 (deploying) are both in use: only v3 can go.
    await createVersion('v4');
    expect(await labels()).toEqual(['v1', 'v2', 'v4']);
    expect(objects.has('bundles/v1.zip')).toBe(true);
  });

  it('refuses a version beyond the quota with AWS’s error, and applies nothing then', async () => {
    // 1,000 versions in all applications of the region: the quota is the account's, not the application's.
    eb.createApplication('other');
    for (let i = 0; i < 999; i++) await eb.createApplicationVersion('other', `o${i}`);
    await createVersion('v1');
    await keepNewest(0, true);
    const refused = await client.send(new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v2' })).catch((error: Error) => error);
    expect(refused).toBeInstanceOf(TooManyApplicationVersionsException);
    expect((refused as Error).message).toBe('You cannot have more than 1000 Application Versions. Either remove some Application Versions or request a limit increase.');
    expect(await labels()).toEqual(['v1']);
  });

  it('takes the rules at CreateApplication too, and refuses rules without a service role', async () => {
    await client.send(new CreateApplicationCommand({ ApplicationName: 'made', ResourceLifecycleConfig: { ServiceRole: ROLE, VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: 7 } } } }));
    const made = await client.send(new DescribeApplicationsCommand({ ApplicationNames: ['made'] }));
    expect(made.Applications?.[0]?.ResourceLifecycleConfig?.VersionLifecycleConfig?.MaxCountRule).toMatchObject({ Enabled: true, MaxCount: 7 });
    const refused = await client
      .send(new UpdateApplicationResourceLifecycleCommand({ ApplicationName: 'app', ResourceLifecycleConfig: { VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: 2 } } } }))
      .catch((error: Error) => error);
    expect((refused as Error).name).toBe('InvalidParameterValue');
  });
});

describe('greenlight local', () => {
  it('installs the lifecycle the stack sets: install.maxVersions per configured application, bundles deleted, a service role', async () => {
    const stack = await startGreenlightLocal({});
    try {
      const expected = installSettings(loadConfig(`${projectRoot}/greenlight.yml`).config).maxVersions;
      const local = new ElasticBeanstalkClient({ endpoint: stack.endpoint, region: stack.aws.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      const { Applications = [] } = await local.send(new DescribeApplicationsCommand({}));
      expect(Applications.map((a) => a.ApplicationName).sort()).toEqual(Object.keys(stack.config.applications).sort());
      for (const application of Applications) {
        expect(application.ResourceLifecycleConfig?.ServiceRole).toMatch(/^arn:aws:iam::\d{12}:role\//);
        expect(application.ResourceLifecycleConfig?.VersionLifecycleConfig?.MaxCountRule).toEqual({ Enabled: true, MaxCount: expected, DeleteSourceFromS3: true });
      }
    } finally {
      await stack.close();
    }
  });
});
