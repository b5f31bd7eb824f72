import { describe, expect, it } from 'vitest';
import { buildAuditRecord } from '../../shared/audit.ts';
import { stepDetail, timelineFromState } from '../../shared/audit-read.ts';

const digest = `sha256:${'b'.repeat(64)}`;
const reference = `000000000000.dkr.ecr.us-east-1.amazonaws.com/hello-api@${digest}`;
const plan = {
  deploymentId: 'hello-api-v1-bbbbbbbbbbbbbbbb',
  application: 'hello-api',
  image: { repository: 'hello-api', tag: 'v1', digest, repositoryUri: '000000000000.dkr.ecr.us-east-1.amazonaws.com/hello-api', reference, pushedAt: '2026-11-30T10:00:00.000Z' },
  stages: [{ environment: 'hello-api-dev' }, { environment: 'hello-api-prod', approval: { approvers: ['release-managers'], timeoutSeconds: 3600 } }],
  skippedStages: [],
  health: { accept: ['Green'], timeoutSeconds: 1200 },
};
const release = { bucket: 'bundles', key: 'bundles/hello-api/b.zip', sha256: 'b', versionLabel: 'v1-bbbbbbbbbbbb', description: 'hello-api v1', images: { 'hello-api': reference }, written: true };
const approval = { decision: 'approve', approver: 'alice', comment: 'ship it', at: '2026-11-30T11:00:00.000Z', environment: 'hello-api-prod', separationOfDuties: 'enforced', sameRolePolicy: 'strict', pushers: ['ci'] };
const stages = [
  { environment: 'hello-api-dev', outcome: 'deployed', versionLabel: release.versionLabel, previousVersionLabel: null, release, health: 'Green', checkedAt: '2026-11-30T10:05:00.000Z', approval: { decision: 'not-required' } },
  // A field of a newer version: the record keeps the stage as written.
  { environment: 'hello-api-prod', outcome: 'deployed', versionLabel: release.versionLabel, previousVersionLabel: 'v0', release, health: 'Green', checkedAt: '2026-11-30T11:05:00.000Z', approval, extra: { kept: true } },
];
const input = { outcome: 'succeeded' as const, executionArn: 'arn:aws:states:us-east-1:000000000000:execution:p:hello-api-v1', startedAt: '2026-11-30T10:00:00.000Z', state: { image: { repository: 'hello-api', tag: 'v1', digest }, plan, stages } };

describe('the audit record read from a typed pipeline state', () => {
  it('writes the stage outputs as written, and the image, release and approvals as before', () => {
    const record = buildAuditRecord(input, new Date('2026-11-30T11:06:00.000Z'), release);
    expect(JSON.stringify(record.stages)).toBe(JSON.stringify(stages));
    expect(record.image).toEqual({ repository: 'hello-api', tag: 'v1', digest, pushedBy: null, pushedAt: '2026-11-30T10:00:00.000Z' });
    expect(record).toMatchObject({ application: 'hello-api', versionLabel: release.versionLabel, bundle: { bucket: 'bundles', key: release.key, sha256: 'b' }, images: release.images, outcome: 'succeeded', error: null });
    expect(record.approvals).toEqual([approval]);
  });

  it('says already-deployed only when every stage read found the bytes running', () => {
    const already = stages.map((s) => ({ ...s, outcome: 'already-deployed' }));
    expect(buildAuditRecord({ ...input, state: { ...input.state, stages: already } }, new Date()).outcome).toBe('already-deployed');
    expect(buildAuditRecord({ ...input, state: { ...input.state, stages: [...already, { outcome: 'maybe' }] } }, new Date()).outcome).toBe('succeeded');
  });

  it('rebuilds the timeline from the state, and a rejection from its Cause', () => {
    const timeline = timelineFromState(input.state, input.startedAt);
    expect(timeline.steps.map((s) => `${s.name}@${s.environment}: ${s.detail}`)).toEqual([
      'Resolve Plan@null: hello-api → hello-api-dev, hello-api-prod',
      'Deploy@hello-api-dev: (none) → v1-bbbbbbbbbbbb',
      'Check Health@hello-api-dev: Green: healthy',
      'Request Approval@hello-api-prod: approved by alice: “ship it”',
      'Deploy@hello-api-prod: v0 → v1-bbbbbbbbbbbb',
      'Check Health@hello-api-prod: Green: healthy',
    ]);
    const rejection = { ...approval, decision: 'reject', comment: 'not now' };
    const rejected = timelineFromState({ plan, stages: [stages[0]], error: { Error: 'ApprovalRejectedError', Cause: JSON.stringify(rejection) } }, input.startedAt);
    expect(rejected.approvals).toEqual([{ environment: 'hello-api-prod', requestedAt: null, approvers: ['release-managers'], decision: 'reject', approver: 'alice', comment: 'not now', at: approval.at, pushers: ['ci'] }]);
    expect(stepDetail('Deploy', { requestId: 42 })).toBe('');
  });
});
