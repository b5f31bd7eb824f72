import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import type { GreenlightConfig } from '../config/schema.ts';
import { Plan, PlannedStage, StoredBundle } from '../contracts.ts';
import { describeEnvironment } from '../deploy.ts';
import { findPushers, type KnownPushers } from './pushers.ts';
import { type PendingApproval, pendingApprovals } from './records.ts';

/** The payload of the Request Approval task (`.waitForTaskToken`). */
export const ApprovalRequest = z.object({
  taskToken: z.string().min(1),
  executionArn: z.string(),
  plan: Plan,
  bundle: StoredBundle,
  stage: PlannedStage.required({ approval: true }),
  index: z.number().int().nonnegative(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

/** What the pusher line of the message says: who, or why nobody can say yet, and whether it matters. */
function pushedByLine(record: PendingApproval, unknown: string | undefined): string {
  const who = record.pushers && record.pushers.length > 0 ? record.pushers.join(', ') : (record.pushedBy ?? '(unknown)');
  if (record.separationOfDuties === 'off') return `${who} — separation of duties is OFF for this stage: a pusher may approve`;
  if (unknown) return `${who} — not known for sure yet (${unknown}); approval is refused until it is (install.cloudTrailRule: true records every push)`;
  return `${who} (may not approve)`;
}

/** The message an approver gets: what waits, where it goes, and the command to run. */
export function approvalMessage(record: PendingApproval, unknown?: string): { subject: string; message: string } {
  const subject = `greenlight: ${record.application} ${record.image.tag} waits for approval to ${record.targetEnvironment}`;
  const lines = [
    `${record.application} ${record.image.tag} is healthy${record.sourceEnvironment ? ` in ${record.sourceEnvironment}` : ''} and waits for your approval to deploy to ${record.targetEnvironment}.`,
    '',
    `  image            ${record.image.repository}:${record.image.tag} (${record.image.digest})`,
    `  version          ${record.versionLabel} (the same bundle that runs in ${record.sourceEnvironment ?? 'the previous stage'})`,
    `  running now      ${record.runningInTarget ?? '(nothing yet)'} in ${record.targetEnvironment}`,
    `  pushed by        ${pushedByLine(record, unknown)}`,
    `  approvers        ${record.approvers.join(', ')}`,
    `  expires          ${record.expiresAt}`,
    '',
    'Decide with your own AWS identity:',
    `  greenlight approve ${record.id} --comment "…"`,
    `  greenlight reject ${record.id} --reason "…"`,
  ];
  return { subject, message: lines.join('\n') };
}

/** Who pushed, as far as can be known now: a failure here only leaves the question to the decision. */
async function pushersNow(clients: { s3: S3Client; cloudtrail: CloudTrailClient }, input: Parameters<typeof findPushers>[1]): Promise<KnownPushers> {
  try {
    return await findPushers(clients, input);
  } catch (error) {
    return { pushers: [], unknown: `the pusher records could not be read (${(error as Error).name}: ${(error as Error).message})` };
  }
}

/**
 * Stores the pending approval of a stage (with the task token only the service may use) and tells
 * the approvers, naming who pushed the image (the decision looks again: a re-push may come later).
 * The execution then waits until someone decides or the timeout passes.
 */
export async function requestApproval(
  { s3, sns, eb, cloudtrail }: { s3: S3Client; sns: SNSClient; eb: ElasticBeanstalkClient; cloudtrail: CloudTrailClient },
  { bucket, topicArn, config, request, now = new Date() }: { bucket: string; topicArn: string; config: GreenlightConfig; request: ApprovalRequest; now?: Date },
): Promise<{ id: string; expiresAt: string }> {
  const { plan, bundle, stage, index } = request;
  // The configuration shipped with this function; a stage it does not know keeps the strict defaults.
  const configured = config.applications[plan.application]?.stages.find((s) => s.environment === stage.environment)?.approval;
  const separationOfDuties = configured?.separationOfDuties === false ? 'off' : 'enforced';
  const target = await describeEnvironment(eb, plan.application, stage.environment);
  const known = await pushersNow({ s3, cloudtrail }, { bucket, repository: plan.image.repository, digest: plan.image.digest, pushedAt: plan.image.pushedAt, now });
  const record: PendingApproval = {
    id: plan.deploymentId,
    taskToken: request.taskToken,
    executionArn: request.executionArn,
    application: plan.application,
    image: { repository: plan.image.repository, tag: plan.image.tag, digest: plan.image.digest, reference: plan.image.reference, pushedAt: plan.image.pushedAt },
    versionLabel: bundle.versionLabel,
    sourceEnvironment: plan.stages[index - 1]?.environment ?? null,
    targetEnvironment: stage.environment,
    runningInTarget: target.VersionLabel ?? null,
    pushedBy: known.pushers[0] ?? null,
    pushers: known.pushers,
    separationOfDuties,
    sameRolePolicy: configured?.sameRolePolicy ?? 'strict',
    approvers: stage.approval.approvers,
    requestedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + stage.approval.timeoutSeconds * 1000).toISOString(),
  };
  await pendingApprovals.put(s3, bucket, record);
  const { subject, message } = approvalMessage(record, known.unknown);
  await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject.slice(0, 99), Message: message }));
  return { id: record.id, expiresAt: record.expiresAt };
}
