import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { SameRolePolicy } from '../config/same-role-policy.ts';
import {
  ApprovalAlreadyDecidedError,
  ApprovalExpiredError,
  ApprovalNotFoundError,
  ApproverNotAllowedError,
  InvalidDecisionError,
  PusherUnknownError,
  SelfApprovalError,
} from '../errors.ts';
import { arnMatches, samePrincipal } from './principals.ts';
import { findPushers } from './pushers.ts';
import { type PendingApproval, pendingApprovals } from './records.ts';

export type Decision = 'approve' | 'reject';

/**
 * What is sent to Step Functions and so stands in the execution history and the audit record:
 * who, what, why, when, and how separation of duties was applied.
 */
export interface DecisionRecord {
  decision: Decision;
  approver: string;
  comment: string;
  at: string;
  /** The stage's environment the decision was about. */
  environment: string;
  /** `off`: the configuration let a pusher approve (`separationOfDuties: false`). */
  separationOfDuties: 'enforced' | 'off';
  sameRolePolicy: SameRolePolicy;
  /** Every known pusher of the image's digest; with separation of duties enforced, an approver is none of them. */
  pushers: string[];
}

/** The message that tells people how to make the pusher known, or to do without knowingly. */
function pusherUnknownMessage(pending: PendingApproval, why: string): string {
  return (
    `separation of duties cannot be checked for ${pending.image.repository}:${pending.image.tag} (${pending.image.digest}): ${why}. ` +
    'To record every pusher, set install.cloudTrailRule: true in the greenlight configuration and keep a CloudTrail trail that records ECR management events; ' +
    'greenlight also asks CloudTrail event history (cloudtrail:LookupEvents), so a refusal for lag or throttling passes on a later try. ' +
    `To let approvals through without knowing the pusher, set separationOfDuties: false under the approval of ${pending.targetEnvironment}, knowingly: the pusher may then approve their own image`
  );
}

/**
 * Checks that the caller pushed none of the image's pushes. Enforced unless the stage's
 * configuration says `separationOfDuties: false`; an unknown pusher refuses the approval.
 */
async function checkSeparationOfDuties(
  clients: { s3: S3Client; cloudtrail: CloudTrailClient },
  { bucket, pending, caller, now }: { bucket: string; pending: PendingApproval; caller: string; now: Date },
): Promise<Pick<DecisionRecord, 'separationOfDuties' | 'sameRolePolicy' | 'pushers'>> {
  const separationOfDuties = pending.separationOfDuties ?? 'enforced';
  const sameRolePolicy = pending.sameRolePolicy ?? 'strict';
  const requested = pending.pushers ?? (pending.pushedBy ? [pending.pushedBy] : []);
  if (separationOfDuties === 'off') return { separationOfDuties, sameRolePolicy, pushers: requested };
  const known = await findPushers(clients, { bucket, repository: pending.image.repository, digest: pending.image.digest, pushedAt: pending.image.pushedAt, now });
  const pushers = [...new Set([...requested, ...known.pushers])].sort();
  const self = pushers.find((pusher) => samePrincipal(pusher, caller, sameRolePolicy));
  if (self) {
    const how = self === caller ? '' : sameRolePolicy === 'strict' ? ` (as ${self}: sessions of one role are one person, sameRolePolicy strict)` : ` (as ${self})`;
    throw new SelfApprovalError(
      `${caller} pushed ${pending.image.repository}:${pending.image.tag}${how}; separation of duties wants another approver to decide`,
      { caller, pushers },
    );
  }
  if (known.unknown) throw new PusherUnknownError(pusherUnknownMessage(pending, known.unknown), { caller, pushers, why: known.unknown });
  return { separationOfDuties, sameRolePolicy, pushers };
}

/**
 * Applies an approver's decision to a waiting deployment. The caller's identity comes from the
 * authenticated request, never from its body; it must be on the stage's list and, to approve, must be
 * known to be none of the image's pushers. A rejection never deploys, so it needs no such check.
 * A decision that arrives after another one (or after the timeout) changes nothing.
 */
export async function decide(
  { s3, sfn, cloudtrail }: { s3: S3Client; sfn: SFNClient; cloudtrail: CloudTrailClient },
  input: { bucket: string; id: string; caller: string; decision: Decision; comment?: string; now?: Date },
): Promise<DecisionRecord & { id: string; targetEnvironment: string; executionArn: string }> {
  const now = input.now ?? new Date();
  const comment = input.comment?.trim() ?? '';
  if (input.decision === 'reject' && comment === '') throw new InvalidDecisionError('a rejection needs a reason (--reason "…"), so the audit record says why');
  const pending = await pendingApprovals.get(s3, input.bucket, input.id);
  if (!pending) {
    throw new ApprovalNotFoundError(`no deployment waits for approval under id ${input.id}: it was decided already, expired, or never existed (greenlight pending lists what waits)`, { id: input.id });
  }
  if (now.getTime() > Date.parse(pending.expiresAt)) {
    await pendingApprovals.delete(s3, input.bucket, pending.id);
    throw new ApprovalExpiredError(`the approval of ${pending.id} expired at ${pending.expiresAt}; ${pending.targetEnvironment} was not touched`, { id: pending.id });
  }
  if (!pending.approvers.some((pattern) => arnMatches(pattern, input.caller))) {
    throw new ApproverNotAllowedError(`${input.caller} may not decide deployments to ${pending.targetEnvironment}; its approvers are ${pending.approvers.join(', ')}`, { caller: input.caller });
  }
  const separation =
    input.decision === 'approve'
      ? await checkSeparationOfDuties({ s3, cloudtrail }, { bucket: input.bucket, pending, caller: input.caller, now })
      : {
          separationOfDuties: pending.separationOfDuties ?? 'enforced',
          sameRolePolicy: pending.sameRolePolicy ?? 'strict',
          pushers: pending.pushers ?? (pending.pushedBy ? [pending.pushedBy] : []),
        };
  const record: DecisionRecord = { decision: input.decision, approver: input.caller, comment, at: now.toISOString(), environment: pending.targetEnvironment, ...separation };
  try {
    if (input.decision === 'approve') {
      await sfn.send(new SendTaskSuccessCommand({ taskToken: pending.taskToken, output: JSON.stringify(record) }));
    } else {
      await sfn.send(new SendTaskFailureCommand({ taskToken: pending.taskToken, error: 'ApprovalRejectedError', cause: JSON.stringify(record) }));
    }
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken') {
      await pendingApprovals.delete(s3, input.bucket, pending.id);
      throw new ApprovalAlreadyDecidedError(`the approval of ${pending.id} was already decided or has expired (${name}); nothing changed`, { id: pending.id });
    }
    throw error;
  }
  await pendingApprovals.delete(s3, input.bucket, pending.id);
  return { ...record, id: pending.id, targetEnvironment: pending.targetEnvironment, executionArn: pending.executionArn };
}
