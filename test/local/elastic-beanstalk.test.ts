import {
  AbortEnvironmentUpdateCommand,
  CreateApplicationCommand,
  CreateApplicationVersionCommand,
  CreateEnvironmentCommand,
  DeleteApplicationVersionCommand,
  DescribeApplicationsCommand,
  DescribeApplicationVersionsCommand,
  DescribeEnvironmentHealthCommand,
  DescribeEnvironmentsCommand,
  DescribeEventsCommand,
  ElasticBeanstalkClient,
  InvalidRequestException,
  TerminateEnvironmentCommand,
  UpdateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FaultInjector, type Faults, testFaults } from '../../local/faults.ts';
import { bundleImages, EB_MESSAGES, LocalElasticBeanstalk } from '../../local/services/elastic-beanstalk/index.ts';
import { serve } from './serve.ts';

const ACCOUNT = '000000000000';
const IMAGE_OK = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/api@sha256:${'a'.repeat(64)}`;
const IMAGE_BAD = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/api@sha256:${'b'.repeat(64)}`;

let faults: Faults;
let objects: Map<string, Buffer>;
let eb: LocalElasticBeanstalk;
let client: ElasticBeanstalkClient;
let server: Awaited<ReturnType<typeof serve>>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function dockerrun(image: string): Buffer {
  const doc = { AWSEBDockerrunVersion: '1', Image: { Name: image, Update: 'true' }, Ports: [{ ContainerPort: 8080 }] };
  return Buffer.from(zipSync({ 'Dockerrun.aws.json': strToU8(JSON.stringify(doc)) }));
}

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

/** Polls DescribeEnvironments until the environment leaves a transitional status. */
async function settled(name: string): Promise<NonNullable<Awaited<ReturnType<typeof describeOne>>>> {
  for (let i = 0; i < 100; i++) {
    const env = await describeOne(name);
    if (env && (env.Status === 'Ready' || env.Status === 'Terminated')) return env;
    await sleep(25);
  }
  throw new Error(`${name} did not settle`);
}

async function describeOne(name: string) {
  const out = await client.send(new DescribeEnvironmentsCommand({ EnvironmentNames: [name], IncludeDeleted: false }));
  return out.Environments?.[0];
}

/** An application `app` with versions v1 (healthy image) and v2 (the image that the faults can make fail), and env `app-prod` on v1. */
async function seed(): Promise<void> {
  eb.createApplication('app');
  objects.set('bundles/v1.zip', dockerrun(IMAGE_OK));
  objects.set('bundles/v2.zip', dockerrun(IMAGE_BAD));
  await eb.createApplicationVersion('app', 'v1', { bucket: 'b', key: 'bundles/v1.zip' });
  await eb.createApplicationVersion('app', 'v2', { bucket: 'b', key: 'bundles/v2.zip' });
  eb.createEnvironment('app', 'app-prod', { versionLabel: 'v1' });
  await settled('app-prod');
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
  faults = { ...structuredClone(testFaults), ebUpdateSeconds: 0.2, ebVersionProcessingSeconds: 0.1 };
  objects = new Map();
  eb = new LocalElasticBeanstalk({ region: 'us-east-1', accountId: ACCOUNT, faults: new FaultInjector(faults), readObject: async (bucket, key) => (bucket === 'b' ? objects.get(key) : undefined) });
});

describe('applications and versions', () => {
  it('creates and describes applications, refusing duplicates', async () => {
    const created = await client.send(new CreateApplicationCommand({ ApplicationName: 'app', Description: 'demo' }));
    expect(created.Application).toMatchObject({ ApplicationName: 'app', Description: 'demo', ApplicationArn: `arn:aws:elasticbeanstalk:us-east-1:${ACCOUNT}:application/app` });
    eb.createApplication('other');
    const all = await client.send(new DescribeApplicationsCommand({}));
    expect(all.Applications?.map((a) => a.ApplicationName)).toEqual(['app', 'other']);
    const some = await client.send(new DescribeApplicationsCommand({ ApplicationNames: ['other'] }));
    expect(some.Applications?.map((a) => a.ApplicationName)).toEqual(['other']);
    const error = await rejection(client.send(new CreateApplicationCommand({ ApplicationName: 'app' })));
    expect([error.name, error.message]).toEqual(['InvalidParameterValue', 'Application app already exists.']);
  });

  it('processes a version: PROCESSING, then PROCESSED for a Docker bundle', async () => {
    eb.createApplication('app');
    objects.set('ok.zip', dockerrun(IMAGE_OK));
    const created = await client.send(
      new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v1', Description: 'first', SourceBundle: { S3Bucket: 'b', S3Key: 'ok.zip' }, Process: true }),
    );
    expect(created.ApplicationVersion).toMatchObject({
      ApplicationName: 'app',
      VersionLabel: 'v1',
      Description: 'first',
      SourceBundle: { S3Bucket: 'b', S3Key: 'ok.zip' },
      Status: 'PROCESSING',
      ApplicationVersionArn: `arn:aws:elasticbeanstalk:us-east-1:${ACCOUNT}:applicationversion/app/v1`,
    });
    expect(created.ApplicationVersion?.DateCreated).toBeInstanceOf(Date);
    await sleep(150);
    const described = await client.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'app', VersionLabels: ['v1'] }));
    expect(described.ApplicationVersions?.map((v) => v.Status)).toEqual(['PROCESSED']);
  });

  it('fails processing for a missing bundle, a non-zip and a zip without a Dockerrun at its root', async () => {
    eb.createApplication('app');
    objects.set('text.zip', Buffer.from('hello'));
    objects.set('nested.zip', Buffer.from(zipSync({ 'app/Dockerrun.aws.json': strToU8('{}') })));
    for (const [label, key] of [['missing', 'nope.zip'], ['text', 'text.zip'], ['nested', 'nested.zip']] as const) {
      await client.send(new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: label, SourceBundle: { S3Bucket: 'b', S3Key: key }, Process: true }));
    }
    await client.send(new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'raw', SourceBundle: { S3Bucket: 'b', S3Key: 'nope.zip' } }));
    await sleep(150);
    const described = await client.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'app' }));
    expect(Object.fromEntries(described.ApplicationVersions?.map((v) => [v.VersionLabel, v.Status]) ?? [])).toEqual({
      missing: 'FAILED',
      text: 'FAILED',
      nested: 'FAILED',
      raw: 'UNPROCESSED',
    });
    expect(described.ApplicationVersions?.[0]?.VersionLabel).toBe('raw');
  });

  it('refuses a duplicate label and an unknown application', async () => {
    eb.createApplication('app');
    await client.send(new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v1' }));
    const duplicate = await rejection(client.send(new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v1' })));
    expect([duplicate.name, duplicate.message, duplicate.$metadata?.httpStatusCode]).toEqual(['InvalidParameterValue', 'Application Version v1 already exists.', 400]);
    const noApp = await rejection(client.send(new CreateApplicationVersionCommand({ ApplicationName: 'ghost', VersionLabel: 'v1' })));
    expect([noApp.name, noApp.message]).toEqual(['InvalidParameterValue', "No Application named 'ghost' found."]);
  });

  it('deletes a version unless an environment runs it', async () => {
    await seed();
    const error = await rejection(client.send(new DeleteApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v1' })));
    expect([error.name, error.message]).toEqual(['InvalidParameterValue', 'Unable to delete application version v1 because it is being used by an environment']);
    await client.send(new DeleteApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v2' }));
    const left = await client.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'app' }));
    expect(left.ApplicationVersions?.map((v) => v.VersionLabel)).toEqual(['v1']);
  });
});

describe('environments', () => {
  it('launches an environment: Launching, then Ready and Green', async () => {
    faults.ebLaunchSeconds = 0.1;
    eb.createApplication('app');
    const created = await client.send(
      new CreateEnvironmentCommand({ ApplicationName: 'app', EnvironmentName: 'app-dev', SolutionStackName: '64bit Amazon Linux 2023 v4.4.0 running Docker', CNAMEPrefix: 'my-app-dev' }),
    );
    expect(created).toMatchObject({ EnvironmentName: 'app-dev', ApplicationName: 'app', Status: 'Launching', Health: 'Grey', CNAME: 'my-app-dev.us-east-1.elasticbeanstalk.com' });
    expect(created.EnvironmentId).toMatch(/^e-[a-z0-9]{10}$/);
    const env = await settled('app-dev');
    expect(env).toMatchObject({
      EnvironmentId: created.EnvironmentId,
      Status: 'Ready',
      Health: 'Green',
      HealthStatus: 'Ok',
      AbortableOperationInProgress: false,
      SolutionStackName: '64bit Amazon Linux 2023 v4.4.0 running Docker',
      Tier: { Name: 'WebServer', Type: 'Standard', Version: '1.0' },
    });
    expect(env.DateCreated).toBeInstanceOf(Date);
    expect(env.EndpointURL).toBeTruthy();
    const duplicate = await rejection(client.send(new CreateEnvironmentCommand({ ApplicationName: 'app', EnvironmentName: 'app-dev', SolutionStackName: 'x' })));
    expect([duplicate.name, duplicate.message]).toEqual(['InvalidParameterValue', 'Environment app-dev already exists.']);
  });

  it('filters DescribeEnvironments by application, name and id', async () => {
    await seed();
    eb.createApplication('other');
    const other = eb.createEnvironment('other', 'other-prod');
    const byApp = await client.send(new DescribeEnvironmentsCommand({ ApplicationName: 'other' }));
    expect(byApp.Environments?.map((e) => e.EnvironmentName)).toEqual(['other-prod']);
    const byId = await client.send(new DescribeEnvironmentsCommand({ EnvironmentIds: [other.EnvironmentId] }));
    expect(byId.Environments?.map((e) => e.EnvironmentName)).toEqual(['other-prod']);
    const all = await client.send(new DescribeEnvironmentsCommand({}));
    expect(all.Environments?.map((e) => e.EnvironmentName)).toEqual(['app-prod', 'other-prod']);
  });

  it('terminates an environment, which stays visible only with IncludeDeleted', async () => {
    await seed();
    const out = await client.send(new TerminateEnvironmentCommand({ EnvironmentName: 'app-prod' }));
    expect(out.Status).toBe('Terminating');
    expect(await describeOne('app-prod')).toBeUndefined();
    const withDeleted = await client.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['app-prod'] }));
    expect(withDeleted.Environments?.map((e) => e.Status)).toEqual(['Terminated']);
    const error = await rejection(client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' })));
    expect([error.name, error.message]).toEqual(['InvalidParameterValue', "No Environment found for EnvironmentName = 'app-prod'."]);
  });
});

describe('UpdateEnvironment', () => {
  it('deploys a version: Updating/Grey with an abortable operation, then Ready/Green with the new label and events under its RequestId', async () => {
    await seed();
    const update = await client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' }));
    const requestId = update.$metadata.requestId;
    expect(requestId).toBeTruthy();
    expect(update).toMatchObject({ Status: 'Updating', Health: 'Grey', AbortableOperationInProgress: true });
    const during = await describeOne('app-prod');
    expect(during).toMatchObject({ Status: 'Updating', AbortableOperationInProgress: true });

    const env = await settled('app-prod');
    expect(env).toMatchObject({ Status: 'Ready', Health: 'Green', HealthStatus: 'Ok', VersionLabel: 'v2', AbortableOperationInProgress: false });
    const events = await client.send(new DescribeEventsCommand({ EnvironmentName: 'app-prod', RequestId: requestId }));
    const messages = events.Events?.map((e) => e.Message);
    expect(messages?.[0]).toBe(EB_MESSAGES.updateCompleted);
    expect(messages).toContain(EB_MESSAGES.newVersionDeployed);
    expect(messages?.at(-1)).toBe(EB_MESSAGES.updateStarting);
    expect(events.Events?.every((e) => e.RequestId === requestId && e.ApplicationName === 'app' && e.EventDate instanceof Date)).toBe(true);
  });

  it('refuses an update while the environment is not Ready, with the exact AWS text', async () => {
    await seed();
    faults.ebUpdateSeconds = 5; // still Updating when the second call arrives, however loaded the machine
    await client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' }));
    const error = await rejection(client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v1' })));
    // The SDK does not model InvalidParameterValue: it is a synthetic ServiceException, recognised by name and message.
    expect((error as { $fault?: string }).$fault).toBe('client');
    expect([error.name, error.message, error.$metadata?.httpStatusCode]).toEqual([
      'InvalidParameterValue',
      'Environment named app-prod is in an invalid state for this operation. Must be Ready.',
      400,
    ]);
  });

  it('refuses an unknown version', async () => {
    await seed();
    const error = await rejection(client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v9' })));
    expect([error.name, error.message]).toEqual(['InvalidParameterValue', "No Application Version named 'v9' found."]);
  });

  it('settles Red/Severe with ERROR events when the bundle references a failing image', async () => {
    await seed();
    faults.failingImages = [`sha256:${'b'.repeat(64)}`];
    const update = await client.send(new UpdateEnvironmentCommand({ EnvironmentId: (await describeOne('app-prod'))?.EnvironmentId, VersionLabel: 'v2' }));
    const env = await settled('app-prod');
    expect(env).toMatchObject({ Status: 'Ready', Health: 'Red', HealthStatus: 'Severe', VersionLabel: 'v2' });
    const errors = await client.send(new DescribeEventsCommand({ EnvironmentName: 'app-prod', RequestId: update.$metadata.requestId, Severity: 'ERROR' }));
    const messages = errors.Events?.map((e) => e.Message) ?? [];
    expect(messages[0]).toBe(EB_MESSAGES.updateCompletedWithErrors);
    expect(messages).toContain(EB_MESSAGES.failedToDeploy);
    expect(messages).toContain(EB_MESSAGES.instanceDeploymentFailed);
    expect(messages.some((m) => /^Unsuccessful command execution on instance id\(s\) 'i-0abc[0-9a-f]+'\. Aborting the operation\.$/.test(m ?? ''))).toBe(true);
    expect(errors.Events?.every((e) => e.Severity === 'ERROR')).toBe(true);

    const health = await client.send(new DescribeEnvironmentHealthCommand({ EnvironmentName: 'app-prod', AttributeNames: ['All'] }));
    expect(health).toMatchObject({ EnvironmentName: 'app-prod', HealthStatus: 'Severe', Status: 'Ready', Color: 'Red', InstancesHealth: { Severe: 1, Ok: 0 } });
    expect(health.Causes).toContain('100.0 % of the requests are failing with HTTP 5xx.');
    expect(health.RefreshedAt).toBeInstanceOf(Date);
    expect(health.ApplicationMetrics?.StatusCodes?.Status5xx).toBeGreaterThan(0);
  });

  it('fails a deployment whose bundle cannot be read', async () => {
    await seed();
    await eb.createApplicationVersion('app', 'v3', { bucket: 'b', key: 'missing.zip' });
    await client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v3' }));
    expect(await settled('app-prod')).toMatchObject({ Health: 'Red', HealthStatus: 'Severe' });
  });

  it('aborts an update in progress, keeping the running version', async () => {
    await seed();
    await client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' }));
    await client.send(new AbortEnvironmentUpdateCommand({ EnvironmentName: 'app-prod' }));
    expect(await describeOne('app-prod')).toMatchObject({ Status: 'Ready', VersionLabel: 'v1', AbortableOperationInProgress: false });
    const error = await rejection(client.send(new AbortEnvironmentUpdateCommand({ EnvironmentName: 'app-prod' })));
    expect(error.name).toBe('InvalidParameterValue');
  });
});

describe('busy environments', () => {
  it('keeps an environment Updating for the seconds of the busyEnvironments fault', async () => {
    await seed();
    faults.busyEnvironments['app-prod'] = 0.2;
    expect(await describeOne('app-prod')).toMatchObject({ Status: 'Updating', AbortableOperationInProgress: true });
    const error = await rejection(client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' })));
    expect(error.message).toBe('Environment named app-prod is in an invalid state for this operation. Must be Ready.');
    expect(await settled('app-prod')).toMatchObject({ Status: 'Ready', Health: 'Green', VersionLabel: 'v1' });
  });

  it('makeBusy does the same in process', async () => {
    await seed();
    eb.makeBusy('app-prod', 0.1);
    expect(eb.environment('app-prod')).toMatchObject({ Status: 'Updating', Health: 'Grey' });
    await sleep(150);
    expect(eb.environment('app-prod')).toMatchObject({ Status: 'Ready', Health: 'Green' });
  });
});

describe('DescribeEvents', () => {
  it('returns newest first, filtered by minimum severity, time and MaxRecords', async () => {
    await seed();
    faults.failingImages = ['api@sha256:bbbb'];
    const before = new Date();
    await client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' }));
    await settled('app-prod');
    const all = await client.send(new DescribeEventsCommand({ ApplicationName: 'app' }));
    const dates = all.Events?.map((e) => e.EventDate?.getTime() ?? 0) ?? [];
    expect(dates).toEqual([...dates].sort((a, b) => b - a));
    expect(all.Events?.at(-1)?.Message).toBe(EB_MESSAGES.createStarting);
    const warnings = await client.send(new DescribeEventsCommand({ EnvironmentName: 'app-prod', Severity: 'WARN' }));
    expect(warnings.Events?.length).toBeGreaterThan(0);
    expect(warnings.Events?.every((e) => e.Severity === 'WARN' || e.Severity === 'ERROR')).toBe(true);
    const recent = await client.send(new DescribeEventsCommand({ EnvironmentName: 'app-prod', StartTime: before }));
    expect(recent.Events?.some((e) => e.Message === EB_MESSAGES.createStarting)).toBe(false);
    const page = await client.send(new DescribeEventsCommand({ EnvironmentName: 'app-prod', MaxRecords: 2 }));
    expect(page.Events).toHaveLength(2);
    const next = await client.send(new DescribeEventsCommand({ EnvironmentName: 'app-prod', MaxRecords: 2, NextToken: page.NextToken }));
    expect(next.Events?.[0]?.Message).toBe(all.Events?.[2]?.Message);
    expect(eb.events('app-prod').map((e) => e.Message)).toEqual([...(all.Events ?? [])].reverse().map((e) => e.Message));
  });
});

describe('DescribeEnvironmentHealth', () => {
  it('reports Ok with no causes, and only the attributes asked for', async () => {
    await seed();
    const health = await client.send(new DescribeEnvironmentHealthCommand({ EnvironmentName: 'app-prod', AttributeNames: ['HealthStatus', 'Causes'] }));
    expect(health.HealthStatus).toBe('Ok');
    expect(health.Causes ?? []).toEqual([]);
    expect(health.InstancesHealth).toBeUndefined();
  });

  it('is not supported with basic health', async () => {
    eb.createApplication('app');
    eb.createEnvironment('app', 'app-basic', { enhancedHealth: false });
    const error = await rejection(client.send(new DescribeEnvironmentHealthCommand({ EnvironmentName: 'app-basic' })));
    expect(error).toBeInstanceOf(InvalidRequestException);
    expect(error.message).toBe('DescribeEnvironmentHealth is not supported.');
    expect((await describeOne('app-basic'))?.HealthStatus).toBeUndefined();
  });
});

describe('throttling', () => {
  it('answers Throttling "Rate exceeded" for the polled reads at the throttleRate', async () => {
    await seed();
    faults.throttleRate = 1;
    for (const command of [
      new DescribeEnvironmentsCommand({}),
      new DescribeEventsCommand({ EnvironmentName: 'app-prod' }),
      new DescribeEnvironmentHealthCommand({ EnvironmentName: 'app-prod' }),
    ]) {
      const error = await rejection(client.send(command as never));
      expect([error.name, error.message, error.$metadata?.httpStatusCode]).toEqual(['Throttling', 'Rate exceeded', 400]);
    }
    await expect(client.send(new DescribeApplicationsCommand({}))).resolves.toBeDefined();
  });

  it('throttles the write calls too, before they change anything; at rate 0 the same update goes through', async () => {
    await seed();
    const before = await describeOne('app-prod');
    faults.throttleRate = 1;
    for (const command of [
      new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' }),
      new CreateApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v3', SourceBundle: { S3Bucket: 'b', S3Key: 'bundles/v1.zip' } }),
      new DeleteApplicationVersionCommand({ ApplicationName: 'app', VersionLabel: 'v2' }),
      new AbortEnvironmentUpdateCommand({ EnvironmentName: 'app-prod' }),
      new DescribeApplicationVersionsCommand({ ApplicationName: 'app' }),
    ]) {
      const error = await rejection(client.send(command as never));
      expect([command.constructor.name, error.name, error.message, error.$metadata?.httpStatusCode]).toEqual([command.constructor.name, 'Throttling', 'Rate exceeded', 400]);
    }
    faults.throttleRate = 0;
    expect(await describeOne('app-prod')).toEqual(before);
    const { ApplicationVersions = [] } = await client.send(new DescribeApplicationVersionsCommand({ ApplicationName: 'app' }));
    expect(ApplicationVersions.map((v) => v.VersionLabel).sort()).toEqual(['v1', 'v2']);
    const { Events = [] } = await client.send(new DescribeEventsCommand({ EnvironmentName: 'app-prod' }));
    expect(Events.map((e) => e.Message)).not.toContain(EB_MESSAGES.updateStarting);

    const update = await client.send(new UpdateEnvironmentCommand({ EnvironmentName: 'app-prod', VersionLabel: 'v2' }));
    expect(update.Status).toBe('Updating');
    expect((await settled('app-prod')).VersionLabel).toBe('v2');
  });
});

describe('bundleImages', () => {
  it('reads images from Dockerrun v1, v2 and docker-compose.yml', () => {
    const v2 = { AWSEBDockerrunVersion: 2, containerDefinitions: [{ name: 'web', image: 'repo/web:1' }, { name: 'worker', image: 'repo/worker:1' }] };
    expect(bundleImages({ 'Dockerrun.aws.json': strToU8(JSON.stringify(v2)) }).images).toEqual(['repo/web:1', 'repo/worker:1']);
    const compose = 'services:\n  web:\n    image: "repo/web@sha256:abc"\n    ports: ["80:8080"]\n';
    expect(bundleImages({ 'docker-compose.yml': strToU8(compose), 'Dockerrun.aws.json': strToU8('{"AWSEBDockerrunVersion":"3"}') }).images).toEqual(['repo/web@sha256:abc']);
    expect(bundleImages({ 'Dockerfile': strToU8('FROM x') }).ok).toBe(false);
  });
});

describe('malformed requests', () => {
  const post = (body: string) => fetch(server.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('answers a missing or unknown Action as AWS errors', async () => {
    const missingAction = await post('Version=2010-12-01');
    expect(missingAction.status).toBe(400);
    expect(await missingAction.text()).toContain('<Code>MissingAction</Code>');
    const unknown = await post('Action=LaunchRockets&Version=2010-12-01');
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('<Code>InvalidAction</Code>');
  });

  it('answers a missing parameter with MissingParameter', async () => {
    const response = await post('Action=UpdateEnvironment&Version=2010-12-01&VersionLabel=v1');
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<Code>MissingParameter</Code>');
  });

  it('answers a parameter given both as a value and as a list with MalformedQueryString', async () => {
    const response = await post('Action=DescribeEnvironments&Version=2010-12-01&EnvironmentNames=a&EnvironmentNames.member.1=b');
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<Code>MalformedQueryString</Code>');
  });

  it('treats the empty values botocore sends for empty lists as no filter', async () => {
    await seed();
    const response = await post('Action=DescribeEnvironments&Version=2010-12-01&EnvironmentNames=&IncludeDeleted=false');
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<EnvironmentName>app-prod</EnvironmentName>');
  });
});
