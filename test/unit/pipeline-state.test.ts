import { describe, expect, it } from 'vitest';
import { readPipelineState } from '../../shared/contracts.ts';

const digest = `sha256:${'a'.repeat(64)}`;
const image = { repository: 'hello-api', tag: 'v1.2.0', digest };
const plan = {
  deploymentId: 'hello-api-v1-2-0-aaaaaaaaaaaaaaaa',
  application: 'hello-api',
  image: { ...image, repositoryUri: '000000000000.dkr.ecr.us-east-1.amazonaws.com/hello-api', reference: `000000000000.dkr.ecr.us-east-1.amazonaws.com/hello-api@${digest}`, pushedAt: '2026-11-30T10:00:00.000Z' },
  stages: [{ environment: 'hello-api-dev' }, { environment: 'hello-api-prod', approval: { approvers: ['arn:aws:iam::*:role/release-managers'], timeoutSeconds: 259200 } }],
  skippedStages: [],
  health: { accept: ['Green'], timeoutSeconds: 1200 },
};
const bundle = {
  bucket: 'greenlight-bundles',
  key: 'bundles/hello-api/abc.zip',
  sha256: 'abc',
  versionLabel: 'v1.2.0-abcabcabcabc',
  description: 'hello-api v1.2.0',
  images: { 'hello-api': plan.image.reference },
  written: true,
};
const deployment = {
  application: 'hello-api',
  environment: 'hello-api-dev',
  versionLabel: bundle.versionLabel,
  previousVersionLabel: null,
  requestId: 'req-1',
  startedAt: '2026-11-30T10:01:00.000Z',
  deadline: '2026-11-30T10:21:00.000Z',
};

describe('readPipelineState', () => {
  it('reads the execution input alone: only the push is there', () => {
    expect(readPipelineState({ image })).toEqual({ image });
  });

  it('reads JSON text as the history gives it, and answers an empty state for text that is not a JSON object', () => {
    expect(readPipelineState(JSON.stringify({ image, plan }))).toEqual({ image, plan });
    expect(readPipelineState('not json')).toEqual({});
    expect(readPipelineState('null')).toEqual({});
    expect(readPipelineState('[1,2]')).toEqual({});
    expect(readPipelineState(undefined)).toEqual({});
  });

  it('reads a stage half-way: lease waiting, no bundle, no deployment yet', () => {
    const state = readPipelineState({ stage: plan.stages[0], index: 0, plan, approval: { decision: 'not-required' }, lease: { status: 'waiting', environment: 'hello-api-dev', holder: 'other-execution', expiresAt: '2026-11-30T10:30:00.000Z' } });
    expect(state.lease?.status).toBe('waiting');
    expect(state.approval?.decision).toBe('not-required');
    expect(state.bundle).toBeUndefined();
    expect(state.deployment).toBeUndefined();
  });

  it('reads health as a report, or as the error a Catch put in its place when health could not be read', () => {
    const report = { verdict: 'inProgress', environment: 'hello-api-dev', status: 'Updating', health: 'Grey', healthStatus: null, versionLabel: null, causes: [], checkedAt: '2026-11-30T10:01:30.000Z' };
    expect(readPipelineState({ deployment, health: report }).health).toEqual(report);
    const caught = readPipelineState({ deployment, health: { Error: 'States.Timeout', Cause: 'cut short' } });
    expect(caught.health).toEqual({ Error: 'States.Timeout', Cause: 'cut short' });
    expect(caught.deployment).toEqual(deployment);
  });

  it('leaves out a field of the wrong shape and keeps every other one', () => {
    const state = readPipelineState({ image, plan: { application: 'hello-api' }, bundle, deployment: { ...deployment, requestId: 42 } });
    expect(state).toEqual({ image, bundle });
  });

  it('keeps the stage outputs that read and drops the one that does not', () => {
    const deployed = { environment: 'hello-api-dev', outcome: 'deployed', versionLabel: bundle.versionLabel, previousVersionLabel: null, release: bundle, health: 'Green', checkedAt: '2026-11-30T10:02:00.000Z', approval: { decision: 'not-required' } };
    const already = { environment: 'hello-api-prod', outcome: 'already-deployed', versionLabel: bundle.versionLabel, release: bundle, approval: { decision: 'approve', approver: 'arn:aws:sts::000000000000:assumed-role/release-managers/alice', comment: 'ship it', at: '2026-11-30T11:00:00.000Z', pushers: [] } };
    const state = readPipelineState({ plan, stages: [deployed, { environment: 'somewhere', outcome: 'maybe' }, already] });
    expect(state.stages?.map((s) => `${s.environment}:${s.outcome}`)).toEqual(['hello-api-dev:deployed', 'hello-api-prod:already-deployed']);
    expect(state.stages?.[1]?.approval?.approver).toContain('alice');
  });

  it('reads the end of a failed path: the error, the leases let go, the audit answer', () => {
    const state = readPipelineState({
      image,
      plan,
      error: { Error: 'DeploymentFailedError', Cause: 'health Red' },
      letGo: { released: ['hello-api-dev'], unverified: [], anyUnverified: false },
      audit: { key: 'deployments/2026/11/30/x.json', outcome: 'failed', error: 'DeploymentFailedError', cause: 'health Red', finishedAt: '2026-11-30T10:05:00.000Z' },
    });
    expect(state.error?.Error).toBe('DeploymentFailedError');
    expect(state.letGo?.released).toEqual(['hello-api-dev']);
    expect(state.audit?.outcome).toBe('failed');
  });

  it('reads a rejection before any plan: the push and the error only', () => {
    const state = readPipelineState({ image: { ...image, tag: 'latest' }, error: { Error: 'TagPolicyViolationError', Cause: '{"errorMessage":"the tag latest never deploys"}' } });
    expect(state.plan).toBeUndefined();
    expect(state.error?.Error).toBe('TagPolicyViolationError');
  });

  it('keeps what the approval API adds to a decision (who pushed, how separation of duties was applied)', () => {
    const decision = { decision: 'approve', approver: 'arn:aws:sts::000000000000:assumed-role/release-managers/carol', comment: '', at: '2026-11-30T11:00:00.000Z', environment: 'hello-api-prod', separationOfDuties: 'enforced', sameRolePolicy: 'strict', pushers: ['arn:aws:sts::000000000000:assumed-role/ci-pusher/ci'] };
    expect(readPipelineState({ approval: decision }).approval).toEqual(decision);
  });

  it('reads a rollback under way with the health of the version being restored', () => {
    const rollback = { deployment: { ...deployment, versionLabel: 'v1.1.0-000000000000', previousVersionLabel: bundle.versionLabel, requestId: 'req-2' }, failureCause: 'red', rollbackFailureCause: 'red twice' };
    const rollbackHealth = { verdict: 'healthy', environment: 'hello-api-dev', status: 'Ready', health: 'Green', healthStatus: 'Ok', versionLabel: 'v1.1.0-000000000000', causes: [], checkedAt: '2026-11-30T10:04:00.000Z' };
    const state = readPipelineState({ deployment, rollback, rollbackHealth });
    expect(state.rollback?.deployment.requestId).toBe('req-2');
    expect(state.rollbackHealth?.verdict).toBe('healthy');
  });
});
