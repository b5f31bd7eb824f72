import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ImagePush } from './contracts.ts';
import { executionName } from './naming.ts';

/** The image one execution deploys: all the execution input holds. */
export type PushedImage = Pick<ImagePush, 'repository' | 'tag' | 'digest'>;

/** A push's execution: started now, or already there (ExecutionAlreadyExists). */
export type PushExecution = { started: true; executionName: string; executionArn: string } | { started: false; executionName: string };

/**
 * Starts the execution of one push under its deterministic name. Every path that starts one (the
 * ECR event, CloudTrail's PutImage, the reconciler) goes through here, so the input is byte-identical
 * and Step Functions itself answers a second start of the same push.
 */
export async function startPushExecution(
  { sfn }: { sfn: SFNClient },
  { stateMachineArn, application, image }: { stateMachineArn: string; application: string; image: PushedImage },
): Promise<PushExecution> {
  const name = executionName(application, image);
  // Only what every source of this push knows goes in (who pushed is recorded on the side).
  const input = JSON.stringify({ image: { repository: image.repository, tag: image.tag, digest: image.digest } });
  try {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
    return { started: true, executionName: name, executionArn: started.executionArn! };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return { started: false, executionName: name };
    throw error;
  }
}
