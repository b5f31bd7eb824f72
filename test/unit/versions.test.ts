import 'aws-sdk-client-mock-vitest/extend';
import {
  CreateApplicationVersionCommand,
  DescribeApplicationVersionsCommand,
  DescribeEventsCommand,
  ElasticBeanstalkClient,
} from '@aws-sdk/client-elastic-beanstalk';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { StoredBundle } from '../../shared/contracts.ts';
import { VersionConflictError, VersionProcessingFailedError } from '../../shared/errors.ts';
import { checkVersion, createVersion } from '../../shared/versions.ts';

const eb = mockClient(ElasticBeanstalkClient);
const clients = { eb: new ElasticBeanstalkClient({}) };
const bundle: StoredBundle = {
  bucket: 'bundles',
  key: 'bundles/api/abc.zip',
  sha256: 'abc',
  versionLabel: 'v1.2.3-abc',
  description: 'greenlight v1.2.3 pushedAt=2025-03-01T10:00:00.000Z',
  images: {},
  written: true,
};
// EB answers in UPPER case although the SDK's enum says Title case.
const upper = (status: string) => status as never;

beforeEach(() => {
  eb.reset();
});

describe('createVersion', () => {
  it('creates and processes a new version from the stored bundle', async () => {
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [] });
    eb.on(CreateApplicationVersionCommand).resolves({ ApplicationVersion: { VersionLabel: bundle.versionLabel, Status: upper('PROCESSING') } });
    await expect(createVersion(clients, { application: 'api', bundle })).resolves.toEqual({ application: 'api', versionLabel: 'v1.2.3-abc', status: 'processing', created: true });
    expect(eb).toHaveReceivedCommandWith(CreateApplicationVersionCommand, {
      ApplicationName: 'api',
      VersionLabel: 'v1.2.3-abc',
      Description: bundle.description,
      SourceBundle: { S3Bucket: 'bundles', S3Key: 'bundles/api/abc.zip' },
      Process: true,
    });
  });

  it('reuses an existing version with the same bundle', async () => {
    eb.on(DescribeApplicationVersionsCommand).resolves({
      ApplicationVersions: [{ VersionLabel: bundle.versionLabel, Status: upper('PROCESSED'), SourceBundle: { S3Bucket: 'bundles', S3Key: bundle.key } }],
    });
    await expect(createVersion(clients, { application: 'api', bundle })).resolves.toMatchObject({ status: 'processed', created: false });
    expect(eb).not.toHaveReceivedCommand(CreateApplicationVersionCommand);
  });

  it('refuses a label that points at another bundle', async () => {
    eb.on(DescribeApplicationVersionsCommand).resolves({
      ApplicationVersions: [{ VersionLabel: bundle.versionLabel, Status: 'Processed', SourceBundle: { S3Bucket: 'bundles', S3Key: 'bundles/api/other.zip' } }],
    });
    await expect(createVersion(clients, { application: 'api', bundle })).rejects.toThrow(VersionConflictError);
  });

  it('reuses the version a concurrent run created first', async () => {
    eb.on(DescribeApplicationVersionsCommand)
      .resolvesOnce({ ApplicationVersions: [] })
      .resolves({ ApplicationVersions: [{ VersionLabel: bundle.versionLabel, Status: upper('PROCESSING'), SourceBundle: { S3Bucket: 'bundles', S3Key: bundle.key } }] });
    eb.on(CreateApplicationVersionCommand).rejects(
      Object.assign(new Error('Application Version v1.2.3-abc already exists.'), { name: 'InvalidParameterValue' }),
    );
    await expect(createVersion(clients, { application: 'api', bundle })).resolves.toMatchObject({ status: 'processing', created: false });
  });
});

describe('checkVersion', () => {
  it('lower-cases the UPPER-case status EB returns', async () => {
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'v1-abc', Status: upper('BUILDING') }] });
    await expect(checkVersion(clients, { application: 'api', versionLabel: 'v1-abc' })).resolves.toEqual({ application: 'api', versionLabel: 'v1-abc', status: 'building', created: false });
  });

  it('treats the Title-case status of the SDK enum the same way', async () => {
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'v1-abc', Status: 'Processed' }] });
    await expect(checkVersion(clients, { application: 'api', versionLabel: 'v1-abc' })).resolves.toMatchObject({ status: 'processed' });
  });

  it('fails a version EB could not process, naming the label, the events and what EB validates', async () => {
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'v1-abc', Status: upper('FAILED') }] });
    eb.on(DescribeEventsCommand).resolves({ Events: [{ Message: 'Invalid option specification in .ebextensions/01-env.config' }] });
    const error = await checkVersion(clients, { application: 'api', versionLabel: 'v1-abc' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VersionProcessingFailedError);
    expect((error as Error).message).toMatch(/v1-abc.*Invalid option specification.*\.ebextensions/s);
  });

  it('fails a version that no longer exists', async () => {
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [] });
    await expect(checkVersion(clients, { application: 'api', versionLabel: 'v1-abc' })).rejects.toThrow(VersionProcessingFailedError);
  });
});
