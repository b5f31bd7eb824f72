import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { Plan, PlannedStage, StoredBundle } from '../contracts.ts';
import { describeEnvironment } from '../deploy.ts';
import { type PendingApproval, pendingApprovals, pushers } from './records.ts';

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

/** The message an approver gets: what waits, where it goes, and the command to run. */
export function approvalMessage(record: PendingApproval): { subject: string; message: string } {
  const subject = `greenlight: ${record.application} ${record.image.tag} waits for approval to ${record.targetEnvironment}`;
  const lines = [
    `${record.application} ${record.image.tag} is healthy${record.sourceEnvironment ? ` in ${record.sourceEnvironment}` : ''} and waits for your approval to deploy to ${record.targetEnvironment}.`,
    '',
    `  image            ${record.image.repository}:${record.image.tag} (${record.image.digest})`,
    `  version          ${record.versionLabel} (the same bundle that runs in ${record.sourceEnvironment ?? 'the previous stage'})`,
    `  running now      ${record.runningInTarget ?? '(nothing yet)'} in ${record.targetEnvironment}`,
    `  pushed by        ${record.pushedBy ?? '(unknown: enable the CloudTrail rule to record it)'}`,
    `  approvers        ${record.approvers.join(', ')}`,
    `  expires          ${record.expiresAt}`,
    '',
    'Decide with your own AWS identity:',
    `  greenlight approve ${record.id} --comment "…"`,
    `  greenlight reject ${record.id} --reason "…"`,
  ];
  return { subject, message: lines.join('\n') };
}

/**
 * Stores the pending approval of a stage (with the task token only the service may use) and tells
 * the approvers; the execution then waits until someone decides or the timeout passes.
 */
export async function requestApproval(
  { s3, sns, eb }: { s3: S3Client; sns: SNSClient; eb: ElasticBeanstalkClient },
  { bucket, topicArn, request, now = new Date() }: { bucket: string; topicArn: string; request: ApprovalRequest; now?: Date },
): Promise<{ id: string; expiresAt: string }> {
  const { plan, bundle, stage, index } = request;
  const target = await describeEnvironment(eb, plan.application, stage.environment);
  const record: PendingApproval = {
    id: plan.deploymentId,
    taskToken: request.taskToken,
    executionArn: request.executionArn,
    application: plan.application,
    image: { repository: plan.image.repository, tag: plan.image.tag, digest: plan.image.digest, reference: plan.image.reference },
    versionLabel: bundle.versionLabel,
    sourceEnvironment: plan.stages[index - 1]?.environment ?? null,
    targetEnvironment: stage.environment,
    runningInTarget: target.VersionLabel ?? null,
    pushedBy: (await pushers.get(s3, bucket, plan.image.repository, plan.image.digest)) ?? null,
    approvers: stage.approval.approvers,
    requestedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + stage.approval.timeoutSeconds * 1000).toISOString(),
  };
  await pendingApprovals.put(s3, bucket, record);
  const { subject, message } = approvalMessage(record);
  await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject.slice(0, 99), Message: message }));
  return { id: record.id, expiresAt: record.expiresAt };
}
