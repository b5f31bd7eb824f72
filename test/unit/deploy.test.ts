import 'aws-sdk-client-mock-vitest/extend';
import type { EnvironmentDescription } from '@aws-sdk/client-elastic-beanstalk';
import {
  DescribeApplicationVersionsCommand,
  DescribeEnvironmentsCommand,
  ElasticBeanstalkClient,
  OperationInProgressException,
  UpdateEnvironmentCommand,
} from '@aws-sdk/client-elastic-beanstalk';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { StageDeployment } from '../../shared/contracts.ts';
import { deployToEnvironment, rollBack } from '../../shared/deploy.ts';
import { EnvironmentNotFoundError, EnvironmentNotReadyError, SupersededError } from '../../shared/errors.ts';

const eb = mockClient(ElasticBeanstalkClient);
const clients = { eb: new ElasticBeanstalkClient({}) };
const now = new Date('2025-03-01T12:00:00.000Z');
const input = { application: 'api', environment: 'api-dev', versionLabel: 'v2-bbb', pushedAt: '2025-03-01T11:00:00.000Z', healthTimeoutSeconds: 600, now };
const environment = (env: Partial<EnvironmentDescription>) => eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'api-dev', ...env }] });
const previousPushedAt = (iso: string) =>
  eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'v1-aaa', Description: `greenlight v1 api@sha256:aaa… pushedAt=${iso}` }] });

beforeEach(() => {
  eb.reset();
});

describe('deployToEnvironment', () => {
  it('updates a Ready environment and remembers the version it ran before', async () => {
    environment({ Status: 'Ready', Health: 'Green', VersionLabel: 'v1-aaa' });
    previousPushedAt('2025-03-01T10:00:00.000Z');
    eb.on(UpdateEnvironmentCommand).resolves({ $metadata: { requestId: 'req-1' } });
    await expect(deployToEnvironment(clients, input)).resolves.toEqual({
      application: 'api',
      environment: 'api-dev',
      versionLabel: 'v2-bbb',
      previousVersionLabel: 'v1-aaa',
      requestId: 'req-1',
      startedAt: '2025-03-01T12:00:00.000Z',
      deadline: '2025-03-01T12:10:00.000Z',
    });
    expect(eb).toHaveReceivedCommandWith(UpdateEnvironmentCommand, { ApplicationName: 'api', EnvironmentName: 'api-dev', VersionLabel: 'v2-bbb' });
  });

  it('does not redeploy a version that already runs Ready (idempotent retry)', async () => {
    environment({ Status: 'Ready', VersionLabel: 'v2-bbb' });
    await expect(deployToEnvironment(clients, input)).resolves.toMatchObject({ requestId: 'already-deployed', versionLabel: 'v2-bbb' });
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it('refuses to go backwards when the running version was pushed later', async () => {
    environment({ Status: 'Ready', VersionLabel: 'v1-aaa' });
    previousPushedAt('2025-03-01T11:30:00.000Z');
    const error = await deployToEnvironment(clients, input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SupersededError);
    expect((error as Error).message).toMatch(/v1-aaa.*v2-bbb/);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it('deploys over a version greenlight did not write', async () => {
    environment({ Status: 'Ready', VersionLabel: 'v1-aaa' });
    eb.on(DescribeApplicationVersionsCommand).resolves({ ApplicationVersions: [{ VersionLabel: 'v1-aaa', Description: 'by hand' }] });
    eb.on(UpdateEnvironmentCommand).resolves({ $metadata: { requestId: 'req-2' } });
    await expect(deployToEnvironment(clients, input)).resolves.toMatchObject({ requestId: 'req-2' });
  });

  it('deploys to an environment that runs no version yet', async () => {
    environment({ Status: 'Ready' });
    eb.on(UpdateEnvironmentCommand).resolves({ $metadata: { requestId: 'req-3' } });
    await expect(deployToEnvironment(clients, input)).resolves.toMatchObject({ previousVersionLabel: null, requestId: 'req-3' });
    expect(eb).not.toHaveReceivedCommand(DescribeApplicationVersionsCommand);
  });

  it.each([
    [{ Status: 'Updating' as const }],
    [{ Status: 'Ready' as const, AbortableOperationInProgress: true }],
  ])('says the environment is not ready when it is busy (%j)', async (state) => {
    environment({ VersionLabel: 'v1-aaa', ...state });
    previousPushedAt('2025-03-01T10:00:00.000Z');
    await expect(deployToEnvironment(clients, input)).rejects.toThrow(EnvironmentNotReadyError);
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it('recognises "invalid state for this operation" by code and message', async () => {
    environment({ Status: 'Ready' });
    eb.on(UpdateEnvironmentCommand).rejects(
      Object.assign(new Error('Environment named api-dev is in an invalid state for this operation. Must be Ready.'), {
        name: 'InvalidParameterValue',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(deployToEnvironment(clients, input)).rejects.toThrow(EnvironmentNotReadyError);
  });

  it('lets other InvalidParameterValue errors through unchanged', async () => {
    environment({ Status: 'Ready' });
    eb.on(UpdateEnvironmentCommand).rejects(Object.assign(new Error('No Application Version named v2-bbb found.'), { name: 'InvalidParameterValue' }));
    const error = await deployToEnvironment(clients, input).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(EnvironmentNotReadyError);
    expect((error as Error).name).toBe('InvalidParameterValue');
  });

  it('treats OperationInProgressException as not ready', async () => {
    environment({ Status: 'Ready' });
    eb.on(UpdateEnvironmentCommand).rejects(new OperationInProgressException({ message: 'busy', $metadata: {} }));
    await expect(deployToEnvironment(clients, input)).rejects.toThrow(EnvironmentNotReadyError);
  });

  it('reports a missing or terminated environment', async () => {
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'api-dev', Status: 'Terminated' }] });
    await expect(deployToEnvironment(clients, input)).rejects.toThrow(EnvironmentNotFoundError);
    eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [] });
    await expect(deployToEnvironment(clients, input)).rejects.toThrow(EnvironmentNotFoundError);
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

  it('puts the previous version back with the same health window', async () => {
    environment({ Status: 'Ready', Health: 'Red', VersionLabel: 'v2-bbb' });
    eb.on(UpdateEnvironmentCommand).resolves({ $metadata: { requestId: 'req-back' } });
    await expect(rollBack(clients, { deployment: failed, now })).resolves.toEqual({
      application: 'api',
      environment: 'api-dev',
      versionLabel: 'v1-aaa',
      previousVersionLabel: 'v2-bbb',
      requestId: 'req-back',
      startedAt: '2025-03-01T12:00:00.000Z',
      deadline: '2025-03-01T12:10:00.000Z',
    });
    expect(eb).toHaveReceivedCommandWith(UpdateEnvironmentCommand, { EnvironmentName: 'api-dev', VersionLabel: 'v1-aaa' });
  });

  it('returns null when nothing ran before', async () => {
    await expect(rollBack(clients, { deployment: { ...failed, previousVersionLabel: null }, now })).resolves.toBeNull();
    expect(eb).not.toHaveReceivedCommand(DescribeEnvironmentsCommand);
  });

  it('does not update again when the previous version already runs', async () => {
    environment({ Status: 'Ready', VersionLabel: 'v1-aaa' });
    await expect(rollBack(clients, { deployment: failed, now })).resolves.toMatchObject({ versionLabel: 'v1-aaa', requestId: 'already-deployed' });
    expect(eb).not.toHaveReceivedCommand(UpdateEnvironmentCommand);
  });

  it('says the environment is not ready while it is still updating', async () => {
    environment({ Status: 'Updating', VersionLabel: 'v2-bbb' });
    await expect(rollBack(clients, { deployment: failed, now })).rejects.toThrow(EnvironmentNotReadyError);
  });
});
