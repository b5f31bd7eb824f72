import type { S3Client } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import {
  ApprovalAlreadyDecidedError,
  ApprovalExpiredError,
  ApprovalNotFoundError,
  ApproverNotAllowedError,
  InvalidDecisionError,
  SelfApprovalError,
} from '../errors.ts';
import { arnMatches, samePrincipal } from './principals.ts';
import { pendingApprovals, pushers } from './records.ts';

export type Decision = 'approve' | 'reject';

/** What is sent to Step Functions and so stands in the execution history: who, what, why, when. */
export interface DecisionRecord {
  decision: Decision;
  approver: string;
  comment: string;
  at: string;
}

/**
 * Applies an approver's decision to a waiting deployment. The caller's identity comes from the
 * authenticated request, never from its body; it must be on the stage's list and must not be the
 * pusher. A decision that arrives after another one (or after the timeout) changes nothing.
 */
export async function decide(
  { s3, sfn }: { s3: S3Client; sfn: SFNClient },
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
  const pusher = pending.pushedBy ?? (await pushers.get(s3, input.bucket, pending.image.repository, pending.image.digest));
  if (pusher && samePrincipal(pusher, input.caller)) {
    throw new SelfApprovalError(`${input.caller} pushed ${pending.image.repository}:${pending.image.tag}; separation of duties wants another approver to decide`, { caller: input.caller });
  }
  const record: DecisionRecord = { decision: input.decision, approver: input.caller, comment, at: now.toISOString() };
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
