import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { pushers } from './approval/records.ts';
import { applicationOf } from './config/applications.ts';
import type { GreenlightConfig } from './config/schema.ts';
import { ImagePush } from './contracts.ts';
import { startPushExecution } from './push-execution.ts';

/** A push event we act on, or the reason we do not. */
export type PushReading = { push: ImagePush } | { ignored: string };

/**
 * Reads an EventBridge event: the ECR "Image Action" event, or CloudTrail's PutImage (which also
 * says who pushed). Anything that is not a successful, tagged push is ignored with a reason.
 */
export function readPushEvent(event: unknown): PushReading {
  const e = (event ?? {}) as { source?: string; 'detail-type'?: string; detail?: Record<string, any> };
  const detail = e.detail ?? {};
  let candidate: Record<string, unknown>;
  if (e.source === 'aws.ecr' && e['detail-type'] === 'ECR Image Action') {
    if (detail['action-type'] !== 'PUSH') return { ignored: `action ${String(detail['action-type'])} is not a push` };
    if (detail.result !== 'SUCCESS') return { ignored: `push result ${String(detail.result)} is not SUCCESS` };
    candidate = { repository: detail['repository-name'], tag: detail['image-tag'], digest: detail['image-digest'] };
  } else if (e.source === 'aws.ecr' && e['detail-type'] === 'AWS API Call via CloudTrail') {
    if (detail.eventName !== 'PutImage') return { ignored: `CloudTrail ${String(detail.eventName)} is not PutImage` };
    if (detail.errorCode) return { ignored: `PutImage failed with ${String(detail.errorCode)}` };
    candidate = {
      repository: detail.requestParameters?.repositoryName,
      tag: detail.requestParameters?.imageTag,
      digest: detail.responseElements?.image?.imageId?.imageDigest,
      pushedBy: detail.userIdentity?.arn,
    };
  } else {
    return { ignored: `not an ECR push event (source ${String(e.source)}, detail-type ${String(e['detail-type'])})` };
  }
  if (!candidate.tag) return { ignored: 'a digest-only push has no tag to check against the tag policy' };
  const parsed = ImagePush.safeParse(candidate);
  if (!parsed.success) return { ignored: `malformed push event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { push: parsed.data };
}

/**
 * Remembers who pushed an image (CloudTrail knows, the ECR event does not) for separation of duties:
 * one more record per pusher, so a re-push of the digest by someone else keeps both.
 */
export async function recordPusher({ s3 }: { s3: S3Client }, { bucket, push, at }: { bucket: string; push: ImagePush; at: Date }): Promise<void> {
  if (push.pushedBy) await pushers.add(s3, bucket, { repository: push.repository, digest: push.digest, pushedBy: push.pushedBy, at: at.toISOString() });
}

export type TriggerOutcome =
  | { started: true; executionArn: string; executionName: string; application: string }
  | { started: false; reason: string; executionName?: string };

/**
 * Starts the deployment of one push. The execution name is derived from app, tag and digest, so a
 * repeated delivery of the same event is answered by Step Functions itself, never deployed twice.
 */
export async function startDeployment(
  { sfn }: { sfn: SFNClient },
  { config, stateMachineArn, push }: { config: GreenlightConfig; stateMachineArn: string; push: ImagePush },
): Promise<TriggerOutcome> {
  const application = applicationOf(config, push.repository);
  if (!application) return { started: false, reason: `repository ${push.repository} is not part of any configured application` };
  const execution = await startPushExecution({ sfn }, { stateMachineArn, application, image: push });
  if (!execution.started) return { started: false, reason: 'this push already has a deployment (repeated event)', executionName: execution.executionName };
  return { ...execution, application };
}
