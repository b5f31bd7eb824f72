import 'aws-sdk-client-mock-vitest/extend';
import { DescribeImagesCommand, ECRClient, ImageNotFoundException } from '@aws-sdk/client-ecr';
import type { EnvironmentDescription } from '@aws-sdk/client-elastic-beanstalk';
import {
  AbortEnvironmentUpdateCommand,
  DescribeEnvironmentsCommand,
  ElasticBeanstalkClient,
  OperationInProgressException,
  UpdateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex, zipBundle } from '../../shared/bundle/zip.ts';
import type { StageDeployment, StoredBundle } from '../../shared/contracts.ts';
import { deployRelease } from '../../shared/deploy.ts';
import { leaseSecondsFor } from '../../shared/environments/lease.ts';
import { rollBack } from '../../shared/rollback.ts';
import type { PushedImage } from '../../shared/environments/lease.ts';
import { type EnvironmentLedger, type PendingUpdate, emptyLedger, ledgerKey } from '../../shared/environments/ledger.ts';
import {
  BundleIntegrityError,
  EnvironmentNotFoundError,
  EnvironmentNotReadyError,
  ImageNotFoundError,
  SupersededError,
} from '../../shared/errors.ts';
import { bundleKey } from '../../shared/naming.ts';

const eb = mockClient(ElasticBeanstalkClient);
const ecr = mockClient(ECRClient);
const s3 = mockClient(S3Client);
const clients = { eb: new ElasticBeanstalkClient({}), ecr: new ECRClient({}), s3: new S3Client({}) };

const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const hex = (c: string) => `sha256:${c.repeat(64)}`;
const bucket = 'greenlight-bundles';
const execution = 'exec-b';
const now = new Date('2025-03-01T12:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(now.getTime() + offsetSeconds * 1000).toISOString();

const zip = zipBundle({
  'Dockerrun.aws.json': new TextEncoder().encode(JSON.stringify({ AWSEBDockerrunVersion: '1', Image: { Name: `${registry}/api@${hex('b')}` } })),
});
const sha = sha256Hex(zip);
const release: StoredBundle = {
  bucket,
  key: bundleKey('api', sha),
  sha256: sha,
  versionLabel: `v2-${sha.slice(0, 12)}`,
  description: 'greenlight v2',
  images: { api: `${registry}/api@${hex('b')}` },
  written: true,
};
const image: PushedImage = { repository: 'api', digest: hex('b'), tag: 'v2', pushedAt: '2025-03-01T11:00:00.000Z' };
const input = { bucket, execution, application: 'api', environment: 'api-dev', release, image, healthTimeoutSeconds: 600, now };

/** The ledger while exec-b holds api-dev, with v1-aaa deployed there before. */
const ledger = (over: Partial<EnvironmentLedger> = {}): EnvironmentLedger => ({
  ...emptyLedger('api', 'api-dev'),
  claims: { api: { ...image, execution } },
  lease: { holder: execution, acquiredAt: iso(-60), expiresAt: iso(3600), update: null },
  deployed: { versionLabel: 'v1-aaa', bundleSha256: 'a'.repeat(64), images: { api: `${registry}/api@${hex('a')}` }, execution: 'exec-a', at: iso(-86400) },
  failed: [],
  ...over,
});
const body = (bytes: Uint8Array) => ({ transformToByteArray: async () => bytes, transformToString: async () => new TextDecoder().decode(bytes) }) as never;
const json = (value: unknown) => body(new TextEncoder().encode(JSON.stringify(value)));
const storeLedger = (value: EnvironmentLedger) =>
  s3.on(GetObjectCommand, { Bucket: bucket, Key: ledgerKey('api', 'api-dev') }).resolves({ Body: json(value), ETag: '"etag-1"' });
const environment = (env: Partial<EnvironmentDescription>) =>
  eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'api-dev', Status: 'Ready', Health: 'Green', ...env }] });
const writtenLedger = (index = 0): EnvironmentLedger => JSON.parse(s3.commandCalls(PutObjectCommand)[index]?.args[0].input.Body as string);
const caught = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

beforeEach(() => {
  eb.reset();
  ecr.reset();
  s3.reset();
  environment({ VersionLabel: 'v1-aaa' });
  storeLedger(ledger());
  s3.on(GetObjectCommand, { Bucket: bucket, Key: release.key }).resolves({ Body: body(zip) });
  s3.on(PutObjectCommand).resolves({});
  ecr.on(DescribeImagesCommand).callsFake((call: { imageIds: Array<{ imageDigest: string }> }) => ({
    imageDetails: call.imageIds.map(({ imageDigest }) => ({ imageDigest })),
  }));
  eb.on(UpdateEnvironmentCommand).resolves({ $metadata: { requestId: 'req-1' } });
});

/** Nothing learned about the environment yet: the first look after 10 s. */
const coldLook = { expectedSeconds: null, expectedClockSeconds: null, waitedSeconds: 0, clockSeconds: 0, nextSeconds: 10 };
const learnedUpdates = [
  { seconds: 310, waitedSeconds: 305 },
  { seconds: 290, waitedSeconds: 288 },
  { seconds: 300, waitedSeconds: 298 },
];

describe('deployRelease', () => {
  it('plans the first look at health from how long the environment’s recent updates took (the median)', async () => {
    storeLedger(ledger({ learnedUpdates }));
    const deployment = await deployRelease(clients, input);
    expect(deployment.look).toEqual({ expectedSeconds: 298, expectedClockSeconds: 300, waitedSeconds: 0, clockSeconds: 0, nextSeconds: 301 });
  });

  it('updates the environment while it holds the lease and remembers the version that ran before', async () => {
    await expect(deployRelease(clients, input)).resolves.toEqual({
      application: 'api',
      environment: 'api-dev',
      versionLabel: release.versionLabel,
      previousVersionLabel: 'v1-aaa',
      requestId: 'req-1',
      startedAt: '2025-03-01T12:00:00.000Z',
      deadline: '2025-03-01T12:10:00.000Z',
      look: coldLook,
    });
    expect(eb).toHaveReceivedCommandWith(UpdateEnvironmentCommand, { ApplicationName: 'api', EnvironmentName: 'api-dev', VersionLabel: release.versionLabel });
    expect(eb).toHaveReceivedCommandTimes(UpdateEnvironmentCommand, 1);
    expect(ecr).toHaveReceivedCommandWith(DescribeImagesCommand, { repositoryName: 'api', imageIds: [{ imageDigest: hex('b') }] });
  });

  it("sets the stage's environment variables in the same UpdateEnvironment call, with the same version label", async () => {
    await deployRelease(clients, { ...input, environmentVariables: { LOG_LEVEL: 'debug', API_URL: 'https://dev.example.com' } });
    expect(eb).toHaveReceivedCommandTimes(UpdateEnvironmentCommand, 1);
    expect(eb.commandCalls(UpdateEnvironmentCommand)[0]?.args[0].input).toEqual({
      ApplicationName: 'api',
      EnvironmentName: 'api-dev',
      VersionLabel: release.versionLabel,
      OptionSettings: [
        { Namespace: 'aws:elasticbeanstalk:application:environment', OptionName: 'API_URL', Value: 'https://dev.example.com' },
        { Namespace: 'aws:elasticbeanstalk:application:environment', OptionName: 'LOG_LEVEL', Value: 'debug' },
      ],
    });
  });

  it.each([
    ['no environment variables', undefined],
    ['an empty set', {}],
  ])('sends no OptionSettings for a stage with %s', async (_, environmentVariables) => {
    await deployRelease(clients, { ...input, environmentVariables });
    const sent = eb.commandCalls(UpdateEnvironmentCommand)[0]?.args[0].input;
    expect(sent).toEqual({ ApplicationName: 'api', EnvironmentName: 'api-dev', VersionLabel: release.versionLabel });
    expect(sent).not.toHaveProperty('OptionSettings');
  });

  it('records the pending update in the ledger, with If-Match, before calling UpdateEnvironment', async () => {
    await deployRelease(clients, input);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: bucket, Key: ledgerKey('api', 'api-dev'), IfMatch: '"etag-1"' });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).not.toHaveProperty('IfNoneMatch');
    const lease = writtenLedger().lease;
    expect(lease).toMatchObject({
      holder: execution,
      acquiredAt: iso(-60),
      expiresAt: iso(2100),
      update: { kind: 'deploy', versionLabel: release.versionLabel, previousVersionLabel: 'v1-aaa', startedAt: now.toISOString() },
    });
    const put = s3.commandCalls(PutObjectCommand)[0];
    const update = eb.commandCalls(UpdateEnvironmentCommand)[0];
    expect(put && update && put.calledBefore(update)).toBe(true);
  });

  it.each([
    ['another execution holds it', { holder: 'exec-c', acquiredAt: iso(-60), expiresAt: iso(3600), update: null }, /execution exec-c holds it now/],
    ['nobody holds it (the lease expired and was released)', null, /our lease ran out/],
  ])('is superseded and changes nothing when %s', async (_, lease, message) => {
    storeLedger(ledger({ lease }));
    const error = await caught(deployRelease(clients, input));
    expect(error).toBeInstanceOf(SupersededError);
    expect((error as Error).message).toMatch(message);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('ends as already deployed when the same bytes run Ready under the label greenlight deployed them with', async () => {
    storeLedger(ledger({ deployed: { versionLabel: 'v2-rc1-same', bundleSha256: sha, images: release.images, execution: 'exec-a', at: iso(-600) } }));
    environment({ VersionLabel: 'v2-rc1-same' });
    await expect(deployRelease(clients, input)).resolves.toMatchObject({ versionLabel: 'v2-rc1-same', previousVersionLabel: 'v2-rc1-same', requestId: 'already-deployed' });
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    expect(ecr).not.toHaveReceivedCommand(DescribeImagesCommand);
  });

  it('ends as already deployed when our label already runs Ready', async () => {
    environment({ VersionLabel: release.versionLabel });
    await expect(deployRelease(clients, input)).resolves.toMatchObject({ versionLabel: release.versionLabel, requestId: 'already-deployed' });
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it('deploys the same bytes again when the environment no longer runs the label greenlight recorded', async () => {
    storeLedger(ledger({ deployed: { versionLabel: 'v2-rc1-same', bundleSha256: sha, images: release.images, execution: 'exec-a', at: iso(-600) } }));
    environment({ VersionLabel: 'hand-made' });
    await expect(deployRelease(clients, input)).resolves.toMatchObject({ previousVersionLabel: 'hand-made', requestId: 'req-1' });
    expect(eb).toHaveReceivedCommandTimes(UpdateEnvironmentCommand, 1);
  });

  describe('a retry after the step was cut short', () => {
    const pending: PendingUpdate = { kind: 'deploy', versionLabel: release.versionLabel, previousVersionLabel: 'v0-first', startedAt: iso(-300) };
    const withPending = () => ledger({ lease: { holder: execution, acquiredAt: iso(-600), expiresAt: iso(3600), update: pending } });

    it.each<[string, Partial<EnvironmentDescription>]>([
      ['the environment already moved to our label', { Status: 'Updating', VersionLabel: release.versionLabel, AbortableOperationInProgress: true }],
      ['the environment reached our label and is Ready', { Status: 'Ready', VersionLabel: release.versionLabel }],
    ])('follows its own pending update without updating again when %s', async (_, env) => {
      storeLedger(withPending());
      environment(env);
      await expect(deployRelease(clients, input)).resolves.toEqual({
        application: 'api',
        environment: 'api-dev',
        versionLabel: release.versionLabel,
        previousVersionLabel: 'v0-first',
        requestId: 'unknown',
        startedAt: iso(-300),
        deadline: iso(300),
        look: coldLook,
      });
      expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    });

    it('says not ready, without updating, while another operation runs on the environment', async () => {
      storeLedger(withPending());
      environment({ Status: 'Updating', VersionLabel: 'v1-aaa', AbortableOperationInProgress: true });
      await expect(deployRelease(clients, input)).rejects.toThrow(EnvironmentNotReadyError);
      expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    });

    it('issues the update once when its pending update never reached EB, keeping the recorded previous version', async () => {
      storeLedger(withPending());
      await expect(deployRelease(clients, input)).resolves.toMatchObject({ previousVersionLabel: 'v0-first', requestId: 'req-1', startedAt: iso(-300) });
      expect(eb).toHaveReceivedCommandTimes(UpdateEnvironmentCommand, 1);
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    });

    it('resumes the update another attempt recorded between its read and its write', async () => {
      s3.on(GetObjectCommand, { Bucket: bucket, Key: ledgerKey('api', 'api-dev') })
        .resolvesOnce({ Body: json(ledger()), ETag: '"etag-1"' })
        .resolves({ Body: json(withPending()), ETag: '"etag-2"' });
      await expect(deployRelease(clients, input)).resolves.toMatchObject({ previousVersionLabel: 'v0-first', requestId: 'req-1', startedAt: iso(-300) });
      expect(eb).toHaveReceivedCommandTimes(UpdateEnvironmentCommand, 1);
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    });
  });

  it('is superseded by a newer push of the same repository that arrived while it held the lease, and frees the lease', async () => {
    const newer = { repository: 'api', digest: hex('c'), tag: 'v3', pushedAt: '2025-03-01T11:30:00.000Z', execution: 'exec-c' };
    storeLedger(ledger({ claims: { api: newer } }));
    const error = await caught(deployRelease(clients, input));
    expect(error).toBeInstanceOf(SupersededError);
    expect((error as Error).message).toContain('exec-c');
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(writtenLedger()).toMatchObject({ lease: null, claims: { api: newer } });
  });

  it('records every container it carries in the ledger, with its push time', async () => {
    await deployRelease(clients, input);
    expect(writtenLedger().carried).toEqual({ api: { ...image, execution } });
  });

  it('is superseded when an earlier update here already carried a newer image of its repository, and frees the lease', async () => {
    const carried = { repository: 'api', digest: hex('c'), tag: 'v3', pushedAt: '2025-03-01T11:30:00.000Z', execution: 'exec-c' };
    storeLedger(ledger({ carried: { api: carried } }));
    const error = await caught(deployRelease(clients, input));
    expect(error).toBeInstanceOf(SupersededError);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(writtenLedger()).toMatchObject({ lease: null, carried: { api: carried } });
  });

  describe('a release of several containers', () => {
    const multiZip = zipBundle({
      'Dockerrun.aws.json': new TextEncoder().encode(
        JSON.stringify({
          AWSEBDockerrunVersion: 2,
          containerDefinitions: [
            { name: 'api', image: `${registry}/api@${hex('b')}` },
            { name: 'worker', image: `${registry}/worker@${hex('5')}` },
          ],
        }),
      ),
    });
    const multiSha = sha256Hex(multiZip);
    const multi: StoredBundle = {
      ...release,
      key: bundleKey('api', multiSha),
      sha256: multiSha,
      versionLabel: `v2-${multiSha.slice(0, 12)}`,
      images: { api: `${registry}/api@${hex('b')}`, worker: `${registry}/worker@${hex('5')}` },
    };
    const workerPushedAt = new Date('2025-03-01T09:00:00.000Z');

    beforeEach(() => {
      s3.on(GetObjectCommand, { Bucket: bucket, Key: multi.key }).resolves({ Body: body(multiZip) });
      ecr.on(DescribeImagesCommand).callsFake((call: { repositoryName: string; imageIds: Array<{ imageDigest: string }> }) => ({
        imageDetails: call.imageIds.map(({ imageDigest }) => ({ imageDigest, imagePushedAt: call.repositoryName === 'worker' ? workerPushedAt : new Date(0) })),
      }));
    });

    it('verifies every image and carries the siblings with their ECR push time', async () => {
      await expect(deployRelease(clients, { ...input, release: multi })).resolves.toMatchObject({ requestId: 'req-1' });
      expect(ecr).toHaveReceivedCommandWith(DescribeImagesCommand, { repositoryName: 'worker', imageIds: [{ imageDigest: hex('5') }] });
      expect(writtenLedger().carried).toEqual({
        api: { ...image, execution },
        worker: { repository: 'worker', digest: hex('5'), tag: `(in ${multi.versionLabel})`, pushedAt: workerPushedAt.toISOString(), execution },
      });
    });

    it('is superseded when it would carry a sibling older than one already carried here', async () => {
      const carried = { repository: 'worker', digest: hex('6'), tag: 'w6', pushedAt: '2025-03-01T10:00:00.000Z', execution: 'exec-w' };
      storeLedger(ledger({ carried: { worker: carried } }));
      const error = await caught(deployRelease(clients, { ...input, release: multi }));
      expect(error).toBeInstanceOf(SupersededError);
      expect((error as Error).message).toContain('exec-w');
      expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
      expect(writtenLedger().lease).toBeNull();
    });

    it('is not stopped by a newer claim of a sibling that only waits', async () => {
      const waiting = { repository: 'worker', digest: hex('6'), tag: 'w6', pushedAt: '2025-03-01T11:45:00.000Z', execution: 'exec-w' };
      storeLedger(ledger({ claims: { api: { ...image, execution }, worker: waiting } }));
      await expect(deployRelease(clients, { ...input, release: multi })).resolves.toMatchObject({ requestId: 'req-1' });
      expect(writtenLedger().claims.worker).toEqual(waiting);
    });

    it('refuses to deploy when a sibling image was deleted', async () => {
      ecr.on(DescribeImagesCommand, { repositoryName: 'worker' }).rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }));
      const error = await caught(deployRelease(clients, { ...input, release: multi }));
      expect(error).toBeInstanceOf(ImageNotFoundError);
      expect((error as ImageNotFoundError).detail).toEqual({ repository: 'worker', digest: hex('5') });
      expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    });
  });

  it('is not superseded by a claim of the same digest under another tag', async () => {
    storeLedger(ledger({ claims: { api: { ...image, tag: 'v2-retag', pushedAt: '2025-03-01T11:59:00.000Z', execution: 'exec-d' } } }));
    await expect(deployRelease(clients, input)).resolves.toMatchObject({ requestId: 'req-1' });
  });

  it.each([
    ['ECR no longer has the image', () => ecr.on(DescribeImagesCommand).rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }))],
    ['ECR answers without the digest', () => ecr.on(DescribeImagesCommand).resolves({ imageDetails: [] })],
  ])('refuses to deploy when %s', async (_, arrange) => {
    arrange();
    const error = await caught(deployRelease(clients, input));
    expect(error).toBeInstanceOf(ImageNotFoundError);
    expect((error as Error).message).toContain(hex('b'));
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('refuses a stored bundle whose bytes no longer hash to the release', async () => {
    const tampered = zipBundle({ 'Dockerrun.aws.json': new TextEncoder().encode('{"AWSEBDockerrunVersion":"1","Image":{"Name":"evil/miner"}}') });
    s3.on(GetObjectCommand, { Bucket: bucket, Key: release.key }).resolves({ Body: body(tampered) });
    const error = await caught(deployRelease(clients, input));
    expect(error).toBeInstanceOf(BundleIntegrityError);
    expect((error as Error).message).toContain(`hashes to ${sha256Hex(tampered)}, not ${sha}`);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('refuses a stored bundle that was deleted', async () => {
    s3.on(GetObjectCommand, { Bucket: bucket, Key: release.key }).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));
    const error = await caught(deployRelease(clients, input));
    expect(error).toBeInstanceOf(BundleIntegrityError);
    expect((error as BundleIntegrityError).detail).toMatchObject({ expected: sha, actual: null });
    expect((error as Error).message).toContain('is gone');
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it.each([
    [{ Status: 'Updating' as const, VersionLabel: 'v1-aaa' }],
    [{ Status: 'Ready' as const, VersionLabel: 'v1-aaa', AbortableOperationInProgress: true }],
    [{ Status: 'Launching' as const }],
  ])('says the environment is not ready when it is busy (%j), recording nothing', async (env) => {
    environment(env);
    await expect(deployRelease(clients, input)).rejects.toThrow(EnvironmentNotReadyError);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('recognises "invalid state for this operation" from UpdateEnvironment as not ready', async () => {
    const busy = Object.assign(new Error('Environment named api-dev is in an invalid state for this operation. Must be Ready.'), {
      name: 'InvalidParameterValue',
      $metadata: { httpStatusCode: 400 },
    });
    eb.on(UpdateEnvironmentCommand).rejects(busy);
    const error = await caught(deployRelease(clients, input));
    expect(error).toBeInstanceOf(EnvironmentNotReadyError);
    expect((error as Error).cause).toBe(busy);
  });

  it('treats OperationInProgressException from UpdateEnvironment as not ready', async () => {
    eb.on(UpdateEnvironmentCommand).rejects(new OperationInProgressException({ message: 'busy', $metadata: {} }));
    await expect(deployRelease(clients, input)).rejects.toThrow(EnvironmentNotReadyError);
  });

  it('lets other InvalidParameterValue errors through unchanged', async () => {
    eb.on(UpdateEnvironmentCommand).rejects(Object.assign(new Error('No Application Version named v2 found.'), { name: 'InvalidParameterValue' }));
    const error = await caught(deployRelease(clients, input));
    expect(error).not.toBeInstanceOf(EnvironmentNotReadyError);
    expect((error as Error).name).toBe('InvalidParameterValue');
    expect((error as Error).message).toBe('No Application Version named v2 found.');
  });

  it.each([
    ['terminated', [{ EnvironmentName: 'api-dev', Status: 'Terminated' as const }]],
    ['missing', []],
    ['only another environment exists', [{ EnvironmentName: 'api-dev-old', Status: 'Ready' as const }]],
  ])('reports an environment that is %s', async (_, Environments) => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments });
    await expect(deployRelease(clients, input)).rejects.toThrow(EnvironmentNotFoundError);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});

describe('leaseSecondsFor', () => {
  it('covers the health wait of the deployment, the one of its rollback, and a quarter hour of margin', () => {
    expect(leaseSecondsFor(600)).toBe(2100);
    expect(leaseSecondsFor(1800)).toBe(4500);
  });
});

describe('rollBack', () => {
  const failed: StageDeployment = {
    application: 'api',
    environment: 'api-dev',
    versionLabel: 'v2-bbb',
    previousVersionLabel: 'v1-aaa',
    requestId: 'req-1',
    startedAt: '2025-03-01T11:00:00.000Z',
    deadline: '2025-03-01T11:10:00.000Z',
  };
  const ours: PendingUpdate = { kind: 'deploy', versionLabel: 'v2-bbb', previousVersionLabel: 'v1-aaa', startedAt: failed.startedAt };
  const rollbackInput = { bucket, execution, deployment: failed, now };

  beforeEach(() => {
    storeLedger(ledger({ lease: { holder: execution, acquiredAt: iso(-3600), expiresAt: iso(600), update: ours } }));
    environment({ Health: 'Red', VersionLabel: 'v2-bbb' });
    eb.on(UpdateEnvironmentCommand).resolves({ $metadata: { requestId: 'req-back' } });
  });

  it('puts the previous version back while it holds the lease, with the same health window', async () => {
    await expect(rollBack(clients, rollbackInput)).resolves.toEqual({
      application: 'api',
      environment: 'api-dev',
      versionLabel: 'v1-aaa',
      previousVersionLabel: 'v2-bbb',
      requestId: 'req-back',
      startedAt: '2025-03-01T12:00:00.000Z',
      deadline: '2025-03-01T12:10:00.000Z',
      look: coldLook,
    });
    expect(eb).toHaveReceivedCommandWith(UpdateEnvironmentCommand, { ApplicationName: 'api', EnvironmentName: 'api-dev', VersionLabel: 'v1-aaa' });
  });

  it('looks at the rollback’s health on the environment’s learned schedule, at once when it is back already', async () => {
    storeLedger(ledger({ learnedUpdates, lease: { holder: execution, acquiredAt: iso(-3600), expiresAt: iso(600), update: ours } }));
    await expect(rollBack(clients, rollbackInput)).resolves.toMatchObject({ requestId: 'req-back', look: { expectedSeconds: 298, nextSeconds: 301 } });
    environment({ Health: 'Green', VersionLabel: 'v1-aaa' });
    await expect(rollBack(clients, rollbackInput)).resolves.toMatchObject({ requestId: 'already-deployed', look: { expectedSeconds: 298, nextSeconds: 0 } });
  });

  it('records the rollback in the ledger before calling UpdateEnvironment', async () => {
    await rollBack(clients, rollbackInput);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: ledgerKey('api', 'api-dev'), IfMatch: '"etag-1"' });
    expect(writtenLedger().lease).toMatchObject({
      holder: execution,
      expiresAt: iso(2100),
      update: { kind: 'rollback', versionLabel: 'v1-aaa', previousVersionLabel: 'v2-bbb', startedAt: now.toISOString() },
    });
    const put = s3.commandCalls(PutObjectCommand)[0];
    const update = eb.commandCalls(UpdateEnvironmentCommand)[0];
    expect(put && update && put.calledBefore(update)).toBe(true);
  });

  it.each([
    ['nothing ran before', null],
    ['the previous version is ours', 'v2-bbb'],
  ])('returns null without looking when %s', async (_, previousVersionLabel) => {
    await expect(rollBack(clients, { ...rollbackInput, deployment: { ...failed, previousVersionLabel } })).resolves.toBeNull();
    expect(eb).not.toHaveReceivedCommand(DescribeEnvironmentsCommand);
    expect(s3).not.toHaveReceivedCommand(GetObjectCommand);
  });

  it('refuses to roll back a version somebody deployed after ours', async () => {
    environment({ VersionLabel: 'v3-ccc' });
    const error = await caught(rollBack(clients, rollbackInput));
    expect(error).toBeInstanceOf(SupersededError);
    expect((error as Error).message).toContain('v3-ccc');
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(eb).not.toHaveReceivedCommand(AbortEnvironmentUpdateCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('refuses to roll back once another execution holds the environment', async () => {
    storeLedger(ledger({ lease: { holder: 'exec-c', acquiredAt: iso(-60), expiresAt: iso(3600), update: null } }));
    const error = await caught(rollBack(clients, rollbackInput));
    expect(error).toBeInstanceOf(SupersededError);
    expect((error as Error).message).toContain('exec-c');
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('never aborts an update once another execution holds the environment', async () => {
    storeLedger(ledger({ lease: { holder: 'exec-c', acquiredAt: iso(-60), expiresAt: iso(3600), update: null } }));
    environment({ Status: 'Updating', VersionLabel: 'v2-bbb', AbortableOperationInProgress: true });
    await expect(rollBack(clients, rollbackInput)).rejects.toThrow(SupersededError);
    expect(eb).not.toHaveReceivedCommand(AbortEnvironmentUpdateCommand);
  });

  it('does not update again when the previous version already runs Ready', async () => {
    environment({ VersionLabel: 'v1-aaa' });
    await expect(rollBack(clients, rollbackInput)).resolves.toMatchObject({ versionLabel: 'v1-aaa', previousVersionLabel: 'v2-bbb', requestId: 'already-deployed' });
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('aborts our own update that is still rolling out, then says not ready', async () => {
    environment({ Status: 'Updating', VersionLabel: 'v2-bbb', AbortableOperationInProgress: true });
    await expect(rollBack(clients, rollbackInput)).rejects.toThrow(EnvironmentNotReadyError);
    expect(eb).toHaveReceivedCommandWith(AbortEnvironmentUpdateCommand, { EnvironmentName: 'api-dev' });
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('does not abort while the environment is already on its way back to the previous version', async () => {
    environment({ Status: 'Updating', VersionLabel: 'v1-aaa', AbortableOperationInProgress: true });
    await expect(rollBack(clients, rollbackInput)).rejects.toThrow(EnvironmentNotReadyError);
    expect(eb).not.toHaveReceivedCommand(AbortEnvironmentUpdateCommand);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it('says not ready while the environment updates without an abortable operation', async () => {
    environment({ Status: 'Updating', VersionLabel: 'v2-bbb' });
    await expect(rollBack(clients, rollbackInput)).rejects.toThrow(EnvironmentNotReadyError);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it('is not superseded by a newer claim of the repository: a rollback only restores what ran', async () => {
    const newer = { repository: 'api', digest: hex('c'), tag: 'v3', pushedAt: '2025-03-01T11:30:00.000Z', execution: 'exec-c' };
    storeLedger(ledger({ claims: { api: newer }, lease: { holder: execution, acquiredAt: iso(-3600), expiresAt: iso(600), update: ours } }));
    await expect(rollBack(clients, rollbackInput)).resolves.toMatchObject({ versionLabel: 'v1-aaa', requestId: 'req-back' });
    expect(writtenLedger().lease?.holder).toBe(execution);
  });

  it('issues a recorded rollback that never reached EB without recording it again', async () => {
    const recorded: PendingUpdate = { kind: 'rollback', versionLabel: 'v1-aaa', previousVersionLabel: 'v2-bbb', startedAt: iso(-120) };
    storeLedger(ledger({ lease: { holder: execution, acquiredAt: iso(-3600), expiresAt: iso(600), update: recorded } }));
    await expect(rollBack(clients, rollbackInput)).resolves.toMatchObject({ versionLabel: 'v1-aaa', requestId: 'req-back' });
    expect(eb).toHaveReceivedCommandTimes(UpdateEnvironmentCommand, 1);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('reports a terminated environment', async () => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'api-dev', Status: 'Terminated' }] });
    await expect(rollBack(clients, rollbackInput)).rejects.toThrow(EnvironmentNotFoundError);
  });
});
