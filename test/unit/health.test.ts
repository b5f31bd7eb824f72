import 'aws-sdk-client-mock-vitest/extend';
import type { EnvironmentDescription } from '@aws-sdk/client-elastic-beanstalk';
import {
  DescribeEnvironmentHealthCommand,
  DescribeEnvironmentsCommand,
  DescribeEventsCommand,
  ElasticBeanstalkClient,
  InvalidRequestException,
} from '@aws-sdk/client-elastic-beanstalk';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { HealthPolicy, StageDeployment } from '../../shared/contracts.ts';
import type { EnvironmentSnapshot } from '../../shared/health.ts';
import { checkHealth, classifyHealth, failureMessage } from '../../shared/health.ts';

const deployment: StageDeployment = {
  application: 'api',
  environment: 'api-dev',
  versionLabel: 'v2-bbb',
  previousVersionLabel: 'v1-aaa',
  requestId: 'req-1',
  startedAt: '2025-03-01T12:00:00.000Z',
  deadline: '2025-03-01T12:10:00.000Z',
};
const policy: HealthPolicy = { accept: ['Green'], timeoutSeconds: 600 };
const during = new Date('2025-03-01T12:05:00.000Z');
const after = new Date('2025-03-01T12:11:00.000Z');
const snapshot = (over: Partial<EnvironmentSnapshot>): EnvironmentSnapshot => ({
  status: 'Ready',
  health: 'Green',
  healthStatus: 'Ok',
  versionLabel: 'v2-bbb',
  abortableOperationInProgress: false,
  healthCauses: [],
  errorEvents: [],
  ...over,
});

describe('classifyHealth', () => {
  it('is healthy when Ready, on our version, with an accepted colour', () => {
    expect(classifyHealth(snapshot({}), policy, deployment, during).verdict).toBe('healthy');
  });

  it('accepts Yellow only when the policy says so', () => {
    expect(classifyHealth(snapshot({ health: 'Yellow' }), policy, deployment, during).verdict).toBe('inProgress');
    expect(classifyHealth(snapshot({ health: 'Yellow' }), { ...policy, accept: ['Green', 'Yellow'] }, deployment, during).verdict).toBe('healthy');
  });

  it('keeps waiting while the environment updates', () => {
    expect(classifyHealth(snapshot({ status: 'Updating', health: 'Grey', abortableOperationInProgress: true, versionLabel: 'v1-aaa' }), policy, deployment, during).verdict).toBe('inProgress');
  });

  it('fails on ERROR events of our request even if EB says Green', () => {
    const report = classifyHealth(snapshot({ errorEvents: ['Failed to deploy application.'] }), policy, deployment, during);
    expect(report.verdict).toBe('failed');
    expect(report.causes).toEqual(['Failed to deploy application.']);
  });

  it('fails when Ready and Red', () => {
    expect(classifyHealth(snapshot({ health: 'Red' }), policy, deployment, during).verdict).toBe('failed');
  });

  it('fails when EB is Ready again on the previous version (success reported after a failed deploy)', () => {
    expect(classifyHealth(snapshot({ versionLabel: 'v1-aaa' }), policy, deployment, during).verdict).toBe('failed');
  });

  it('is replaced when the environment settled on a third version, even after the deadline', () => {
    expect(classifyHealth(snapshot({ versionLabel: 'v3-ccc' }), policy, deployment, during).verdict).toBe('replaced');
    expect(classifyHealth(snapshot({ versionLabel: 'v3-ccc', health: 'Red' }), policy, deployment, after).verdict).toBe('replaced');
  });

  it('leaves judging a third version to its own deployment even with ERROR events of our request', () => {
    const report = classifyHealth(snapshot({ versionLabel: 'v3-ccc', errorEvents: ['Failed to deploy application.'] }), policy, deployment, during);
    expect(report).toMatchObject({ verdict: 'replaced', versionLabel: 'v3-ccc', causes: ['Failed to deploy application.'] });
  });

  it('is replaced by any version when nothing ran before ours', () => {
    expect(classifyHealth(snapshot({ versionLabel: 'v3-ccc' }), policy, { ...deployment, previousVersionLabel: null }, during).verdict).toBe('replaced');
  });

  it('keeps waiting while a third version is still being deployed', () => {
    expect(classifyHealth(snapshot({ status: 'Updating', versionLabel: 'v3-ccc' }), policy, deployment, during).verdict).toBe('inProgress');
    expect(classifyHealth(snapshot({ versionLabel: 'v3-ccc', abortableOperationInProgress: true }), policy, deployment, during).verdict).toBe('inProgress');
  });

  it('fails a rollback that settled back on the version it replaced, not replaced', () => {
    const rollback: StageDeployment = { ...deployment, versionLabel: 'v1-aaa', previousVersionLabel: 'v2-bbb' };
    expect(classifyHealth(snapshot({ versionLabel: 'v2-bbb' }), policy, rollback, during).verdict).toBe('failed');
    expect(classifyHealth(snapshot({ versionLabel: 'v1-aaa' }), policy, rollback, during).verdict).toBe('healthy');
  });

  it('times out after the deadline when not healthy', () => {
    expect(classifyHealth(snapshot({ health: 'Yellow' }), policy, deployment, after).verdict).toBe('timedOut');
    expect(classifyHealth(snapshot({}), policy, deployment, after).verdict).toBe('healthy');
  });

  it('lists ERROR events first, then health causes, without duplicates', () => {
    const report = classifyHealth(snapshot({ health: 'Red', errorEvents: ['b', 'a'], healthCauses: ['a', 'c'] }), policy, deployment, during);
    expect(report.causes).toEqual(['b', 'a', 'c']);
  });
});

describe('checkHealth', () => {
  const eb = mockClient(ElasticBeanstalkClient);
  const clients = { eb: new ElasticBeanstalkClient({}) };
  const environment = (env: Partial<EnvironmentDescription>) => eb.on(DescribeEnvironmentsCommand).resolves({ Environments: [{ EnvironmentName: 'api-dev', ...env }] });

  beforeEach(() => {
    eb.reset();
  });

  it('reads enhanced health and the ERROR events of our own request', async () => {
    environment({ Status: 'Ready', Health: 'Red', VersionLabel: 'v2-bbb' });
    eb.on(DescribeEnvironmentHealthCommand).resolves({ HealthStatus: 'Severe', Causes: ['100 % of the requests are failing with HTTP 5xx.'] });
    eb.on(DescribeEventsCommand).resolves({
      Events: [
        { Message: 'Failed to deploy application.', EventDate: new Date('2025-03-01T12:03:00Z') },
        { Message: 'Instance deployment failed.', EventDate: new Date('2025-03-01T12:04:00Z') },
      ],
    });
    const report = await checkHealth(clients, { deployment, policy, now: during });
    expect(report).toEqual({
      verdict: 'failed',
      environment: 'api-dev',
      status: 'Ready',
      health: 'Red',
      healthStatus: 'Severe',
      versionLabel: 'v2-bbb',
      causes: ['Instance deployment failed.', 'Failed to deploy application.', '100 % of the requests are failing with HTTP 5xx.'],
      checkedAt: during.toISOString(),
      // A deployment without a plan of its own looks as a first deployment does: 10 s, then growing.
      look: { expectedSeconds: null, expectedClockSeconds: null, waitedSeconds: 10, clockSeconds: 300, nextSeconds: 10, learned: null },
    });
    expect(eb).toHaveReceivedCommandWith(DescribeEnvironmentHealthCommand, { EnvironmentName: 'api-dev', AttributeNames: ['All'] });
    expect(eb).toHaveReceivedCommandWith(DescribeEventsCommand, {
      ApplicationName: 'api',
      EnvironmentName: 'api-dev',
      RequestId: 'req-1',
      Severity: 'ERROR',
      StartTime: new Date(deployment.startedAt),
    });
  });

  it('falls back to DescribeEnvironments when enhanced health is not supported', async () => {
    environment({ Status: 'Ready', Health: 'Green', VersionLabel: 'v2-bbb' });
    eb.on(DescribeEnvironmentHealthCommand).rejects(new InvalidRequestException({ message: 'DescribeEnvironmentHealth is not supported.', $metadata: {} }));
    eb.on(DescribeEventsCommand).resolves({ Events: [] });
    await expect(checkHealth(clients, { deployment, policy, now: during })).resolves.toMatchObject({ verdict: 'healthy', healthStatus: null });
  });

  it('lets other DescribeEnvironmentHealth errors through', async () => {
    environment({ Status: 'Ready', Health: 'Green', VersionLabel: 'v2-bbb' });
    eb.on(DescribeEnvironmentHealthCommand).rejects(new InvalidRequestException({ message: 'Environment is terminated.', $metadata: {} }));
    await expect(checkHealth(clients, { deployment, policy, now: during })).rejects.toThrow('Environment is terminated.');
  });

  it.each([
    ['the version was already deployed', 'already-deployed'],
    ['a retry resumed an update whose request id was lost', 'unknown'],
  ])('does not filter events by request when %s', async (_, requestId) => {
    environment({ Status: 'Ready', Health: 'Green', VersionLabel: 'v2-bbb' });
    eb.on(DescribeEnvironmentHealthCommand).resolves({ HealthStatus: 'Ok', Causes: [] });
    eb.on(DescribeEventsCommand).resolves({ Events: [] });
    await checkHealth(clients, { deployment: { ...deployment, requestId }, policy, now: during });
    const call = eb.commandCalls(DescribeEventsCommand)[0];
    expect(call?.args[0].input).not.toHaveProperty('RequestId');
    expect(call?.args[0].input).toMatchObject({ EnvironmentName: 'api-dev', Severity: 'ERROR', StartTime: new Date(deployment.startedAt) });
  });

  describe('when to look next', () => {
    const planned: StageDeployment = { ...deployment, look: { expectedSeconds: 290, expectedClockSeconds: 295, waitedSeconds: 0, clockSeconds: 0, nextSeconds: 292 } };
    const updating = () => {
      environment({ Status: 'Updating', Health: 'Grey', VersionLabel: 'v2-bbb', AbortableOperationInProgress: true, DateUpdated: new Date(deployment.startedAt) });
      eb.on(DescribeEnvironmentHealthCommand).resolves({ HealthStatus: 'Info', Causes: [] });
      eb.on(DescribeEventsCommand).resolves({ Events: [] });
    };
    const at = (seconds: number) => new Date(Date.parse(deployment.startedAt) + seconds * 1000);

    it('follows Deploy’s plan at the first look, and aims at the expected time when it is early', async () => {
      updating();
      const report = await checkHealth(clients, { deployment: planned, policy, previous: null, now: at(293) });
      expect(report.verdict).toBe('inProgress');
      // 292 s waited in 293 s of clock: the expected 295 s (+3 s) is 5 s away.
      expect(report.look).toEqual({ expectedSeconds: 290, expectedClockSeconds: 295, waitedSeconds: 292, clockSeconds: 293, nextSeconds: 5, learned: null });
    });

    it('adds up the waits from the previous look, and once healthy learns how long the update took from EB’s own date', async () => {
      updating();
      const previous = await checkHealth(clients, { deployment: planned, policy, previous: null, now: at(293) });
      environment({ Status: 'Ready', Health: 'Green', VersionLabel: 'v2-bbb', DateUpdated: at(295.25) });
      eb.on(DescribeEnvironmentHealthCommand).resolves({ HealthStatus: 'Ok', Causes: [] });
      const report = await checkHealth(clients, { deployment: planned, policy, previous, now: at(297.5) });
      expect(report.verdict).toBe('healthy');
      // EB finished half way between the looks (293 s and 297.5 s of clock; 292 and 297 s waited).
      expect(report.look).toMatchObject({ waitedSeconds: 297, clockSeconds: 297.5, learned: { seconds: 295.3, waitedSeconds: 294.5 } });
    });

    it('learns nothing from a look that is not healthy', async () => {
      environment({ Status: 'Ready', Health: 'Red', VersionLabel: 'v2-bbb', DateUpdated: at(200) });
      eb.on(DescribeEnvironmentHealthCommand).resolves({ HealthStatus: 'Severe', Causes: [] });
      eb.on(DescribeEventsCommand).resolves({ Events: [] });
      const report = await checkHealth(clients, { deployment: planned, policy, previous: null, now: at(293) });
      expect(report.verdict).toBe('failed');
      expect(report.look?.learned).toBeNull();
    });
  });

  it('reports replaced when the environment settled on a version deployed after ours', async () => {
    environment({ Status: 'Ready', Health: 'Green', VersionLabel: 'v3-ccc' });
    eb.on(DescribeEnvironmentHealthCommand).resolves({ HealthStatus: 'Ok', Causes: [] });
    eb.on(DescribeEventsCommand).resolves({ Events: [] });
    await expect(checkHealth(clients, { deployment, policy, now: during })).resolves.toMatchObject({ verdict: 'replaced', versionLabel: 'v3-ccc' });
  });
});

describe('failureMessage', () => {
  it('names the environment, the version and what EB said', () => {
    const report = classifyHealth(snapshot({ health: 'Red', healthStatus: 'Severe', errorEvents: ['Failed to deploy application.'] }), policy, deployment, during);
    const message = failureMessage(report, deployment);
    expect(message).toContain('v2-bbb');
    expect(message).toContain('api-dev');
    expect(message).toContain('Red (Severe)');
    expect(message).toContain('"Failed to deploy application."');
  });

  it('says when the deployment timed out', () => {
    const report = classifyHealth(snapshot({ health: 'Yellow' }), policy, deployment, after);
    expect(failureMessage(report, deployment)).toMatch(/did not become healthy by 2025-03-01T12:10:00.000Z.*no error events/);
  });

  it('names the version the environment runs when it is not ours', () => {
    const report = classifyHealth(snapshot({ versionLabel: 'v1-aaa', healthStatus: null }), policy, deployment, during);
    expect(failureMessage(report, deployment)).toContain('health Green, it runs v1-aaa.');
  });

  it('says the deployment could not be verified when checking its health kept failing', () => {
    const message = failureMessage({ Error: 'AccessDeniedException', Cause: 'not authorized to perform elasticbeanstalk:DescribeEnvironments' }, deployment);
    expect(message).toBe(
      'Deployment of version v2-bbb to environment api-dev (application api) could not be verified: checking its health kept failing (AccessDeniedException: not authorized to perform elasticbeanstalk:DescribeEnvironments).',
    );
  });

  it('keeps a health check error without a cause to its name, and a long cause to 300 characters', () => {
    expect(failureMessage({ Error: 'States.Timeout' }, deployment)).toMatch(/checking its health kept failing \(States\.Timeout\)\.$/);
    const message = failureMessage({ Error: 'Lambda.Unknown', Cause: 'x'.repeat(1000) }, deployment);
    expect(message).toContain(`(Lambda.Unknown: ${'x'.repeat(300)}).`);
    expect(message).not.toContain('x'.repeat(301));
  });
});
