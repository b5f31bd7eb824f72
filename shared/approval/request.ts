import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import * as z from '../zod.ts';
import type { GreenlightConfig } from '../config/schema.ts';
import { Plan, PlannedStage, StoredBundle } from '../contracts.ts';
import { describeEnvironment } from '../eb-environment.ts';
import { approvalNotification, publish } from '../notify.ts';
import { findPushers, type KnownPushers } from './pushers.ts';
import { type PendingApproval, pendingApprovals } from './records.ts';

/** The payload of the Request Approval task (`.waitForTaskToken`). */
export const ApprovalRequest = z.object({
  taskToken: z.string().check(z.minLength(1)),
  executionArn: z.string(),
  plan: Plan,
  bundle: StoredBundle,
  stage: z.required(PlannedStage, { approval: true }),
  index: z.int().check(z.nonnegative()),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

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
 * the approvers (shared/notify.ts: text, chat and filterable attributes, with links to the execution,
 * the image and the change), naming who pushed the image (the decision looks again: a re-push may come later).
 * The execution then waits until someone decides or the timeout passes.
 */
export async function requestApproval(
  { s3, sns, eb, cloudtrail }: { s3: S3Client; sns: SNSClient; eb: ElasticBeanstalkClient; cloudtrail: CloudTrailClient },
  { bucket, topicArn, config, request, now = new Date() }: { bucket: string; topicArn: string; config: GreenlightConfig; request: ApprovalRequest; now?: Date },
): Promise<{ id: string; expiresAt: string }> {
  const { plan, bundle, stage, index } = request;
  // The configuration shipped with this function; a stage it does not know keeps the strict defaults.
  const application = config.applications[plan.application];
  const configured = application?.stages.find((s) => s.environment === stage.environment)?.approval;
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
  await publish(sns, topicArn, approvalNotification(record, { unknownPusher: known.unknown, links: application?.links }));
  return { id: record.id, expiresAt: record.expiresAt };
}
