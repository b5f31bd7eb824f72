import { type ECRClient, paginateDescribeImages, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { DescribeExecutionCommand, ExecutionDoesNotExist, type SFNClient } from '@aws-sdk/client-sfn';
import type { GreenlightConfig } from './config/schema.ts';
import { ImagePush } from './contracts.ts';
import { executionArn, executionName } from './naming.ts';
import { type PushedImage, startPushExecution } from './push-execution.ts';

/** A push the reconciler started because no execution had handled it. */
export interface ReconciledPush extends PushedImage {
  readonly executionName: string;
}

/** Something the reconciler looked at and left alone, and why. */
export interface ReconcileSkip {
  readonly reason: string;
  readonly repository: string;
  readonly digest?: string;
  readonly tag?: string;
}

/** What one reconciler run saw and did; the Lambda returns it, so a run can be read in its logs. */
export interface ReconcileSummary {
  readonly window: { readonly from: string; readonly to: string };
  /** Images pushed within the window. */
  readonly images: number;
  /** Their tags: each tag of an image is its own push, with its own execution. */
  readonly tags: number;
  /** Pushes that already had an execution (their event arrived, or a run before this one started it). */
  readonly alreadyHandled: number;
  readonly started: ReconciledPush[];
  readonly skipped: ReconcileSkip[];
}

/**
 * Starts the pushes of the configured repositories made within the window that no execution handled,
 * under the names the event path gives them (ECR events are best effort, Step Functions names are
 * unique): a push is never started twice, whoever gets there first.
 */
export async function reconcilePushes(
  { ecr, sfn }: { ecr: ECRClient; sfn: SFNClient },
  { config, stateMachineArn, now, windowSeconds }: { config: GreenlightConfig; stateMachineArn: string; now: Date; windowSeconds: number },
): Promise<ReconcileSummary> {
  const from = new Date(now.getTime() - windowSeconds * 1000);
  const summary = { window: { from: from.toISOString(), to: now.toISOString() }, images: 0, tags: 0, alreadyHandled: 0, started: [] as ReconciledPush[], skipped: [] as ReconcileSkip[] };
  const candidates: Array<{ application: string; image: { repository: string; tag: string; digest: string } }> = [];
  for (const [application, app] of Object.entries(config.applications)) {
    for (const repository of app.images) {
      let images: Array<{ digest: string; tags: string[] }>;
      try {
        images = await imagesPushedSince({ ecr }, repository, from);
      } catch (error) {
        // One repository deleted (or not yet created) must not stop the sweep of the others.
        if (!(error instanceof RepositoryNotFoundException)) throw error;
        summary.skipped.push({ repository, reason: `repository ${repository} does not exist in ECR` });
        continue;
      }
      for (const { digest, tags } of images) {
        summary.images += 1;
        if (tags.length === 0) {
          summary.skipped.push({ repository, digest, reason: 'untagged image: no tag to check against the tag policy (the event path ignores it too)' });
          continue;
        }
        for (const tag of tags) {
          summary.tags += 1;
          const image = { repository, tag, digest };
          const valid = ImagePush.safeParse(image);
          if (!valid.success) {
            // The event path ignores what its schema refuses; starting it here would only fail in Resolve Plan.
            summary.skipped.push({ repository, digest, tag, reason: `not a deployable push: ${valid.error.issues.map((issue) => issue.message).join('; ')}` });
            continue;
          }
          candidates.push({ application, image });
        }
      }
    }
  }
  // A busy hour holds hundreds of tags: look them up a few at a time, so a run ends well within its timeout.
  const outcomes = await inBatches(candidates, checksInFlight, async ({ application, image }) => {
    if (await hasExecution({ sfn }, executionArn(stateMachineArn, executionName(application, image)))) return null;
    const execution = await startPushExecution({ sfn }, { stateMachineArn, application, image });
    // Not started: the event (or another run) started it between our look and our start.
    return execution.started ? { executionName: execution.executionName, ...image } : null;
  });
  for (const started of outcomes) {
    if (started) summary.started.push(started);
    else summary.alreadyHandled += 1;
  }
  return summary;
}

/** How many pushes are looked up (DescribeExecution, StartExecution) at once. */
const checksInFlight = 8;

/** Runs `work` over the items with at most `limit` in flight, answers in the items' order. */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The tagged images of a repository pushed at or after `from` (ECR has no server-side time filter). */
async function imagesPushedSince({ ecr }: { ecr: ECRClient }, repository: string, from: Date): Promise<Array<{ digest: string; tags: string[] }>> {
  const found: Array<{ digest: string; tags: string[] }> = [];
  const pages = paginateDescribeImages({ client: ecr, pageSize: 1000 }, { repositoryName: repository, filter: { tagStatus: 'TAGGED' } });
  for await (const page of pages) {
    for (const detail of page.imageDetails ?? []) {
      if (!detail.imageDigest || !detail.imagePushedAt || detail.imagePushedAt.getTime() < from.getTime()) continue;
      found.push({ digest: detail.imageDigest, tags: detail.imageTags ?? [] });
    }
  }
  return found;
}

/** Whether Step Functions knows an execution of this ARN, in any status. */
async function hasExecution({ sfn }: { sfn: SFNClient }, arn: string): Promise<boolean> {
  try {
    await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    return true;
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return false;
    throw error;
  }
}
