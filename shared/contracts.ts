import { z } from 'zod';

/**
 * The data that flows between the pipeline's states. Each Lambda parses its input with these schemas,
 * so a drift between the ASL and the code fails loudly at the first run, naming the field.
 */

/** What a push tells us: the execution input written by on-image-pushed. */
export const ImagePush = z.object({
  repository: z.string().min(1),
  tag: z.string().min(1),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'an image digest is sha256: followed by 64 hex digits'),
  pushedBy: z.string().optional(),
});
export type ImagePush = z.infer<typeof ImagePush>;

/** An image verified in ECR: referenced by digest, never by tag. */
export const VerifiedImage = ImagePush.extend({
  /** Repository URI, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/api */
  repositoryUri: z.string(),
  /** The pinned reference that goes into the bundle: `<repositoryUri>@sha256:…` */
  reference: z.string(),
  pushedAt: z.string(),
});
export type VerifiedImage = z.infer<typeof VerifiedImage>;

export const PlannedStage = z.object({
  environment: z.string(),
  approval: z.object({ approvers: z.array(z.string()), timeoutSeconds: z.number().int().positive() }).optional(),
});
export type PlannedStage = z.infer<typeof PlannedStage>;

export const HealthPolicy = z.object({
  accept: z.array(z.enum(['Green', 'Yellow'])),
  timeoutSeconds: z.number().int().positive(),
});
export type HealthPolicy = z.infer<typeof HealthPolicy>;

/** The result of ResolvePlan: which application, which image, which stages, and why not the others. */
export const Plan = z.object({
  deploymentId: z.string(),
  application: z.string(),
  image: VerifiedImage,
  stages: z.array(PlannedStage).min(1),
  skippedStages: z.array(z.object({ environment: z.string(), reason: z.string() })),
  health: HealthPolicy,
});
export type Plan = z.infer<typeof Plan>;

/** The rendered, stored bundle and the version label it will carry. */
export const StoredBundle = z.object({
  bucket: z.string(),
  key: z.string(),
  sha256: z.string(),
  versionLabel: z.string().min(1).max(100),
  description: z.string().max(200),
  /** Every image the bundle runs, repository → pinned reference. */
  images: z.record(z.string(), z.string()),
  /** Whether this call wrote the object (false: the same bytes were already stored). */
  written: z.boolean(),
});
export type StoredBundle = z.infer<typeof StoredBundle>;

export const VersionStatus = z.object({
  application: z.string(),
  versionLabel: z.string(),
  /** Lower-cased EB status: unprocessed, processing, building, processed, failed. */
  status: z.string(),
  created: z.boolean(),
});
export type VersionStatus = z.infer<typeof VersionStatus>;

/** The pushed image as the environment ledger compares pushes (newest wins per repository). */
export const PushedImage = z.object({ repository: z.string(), digest: z.string(), tag: z.string(), pushedAt: z.string() });

/** What Deploy started: enough to check health and to roll back. */
export const StageDeployment = z.object({
  application: z.string(),
  environment: z.string(),
  versionLabel: z.string(),
  previousVersionLabel: z.string().nullable(),
  requestId: z.string(),
  startedAt: z.string(),
  deadline: z.string(),
});
export type StageDeployment = z.infer<typeof StageDeployment>;

/** `replaced`: the environment settled on a version that is neither ours nor the one before it, so it is not ours to judge. */
export const HealthVerdict = z.enum(['healthy', 'inProgress', 'failed', 'timedOut', 'replaced']);
export type HealthVerdict = z.infer<typeof HealthVerdict>;

/** One look at the environment, classified. */
export const HealthReport = z.object({
  verdict: HealthVerdict,
  environment: z.string(),
  status: z.string(),
  health: z.string(),
  healthStatus: z.string().nullable(),
  versionLabel: z.string().nullable(),
  /** Why it is not healthy, in EB's own words (health causes and ERROR events of our request). */
  causes: z.array(z.string()),
  checkedAt: z.string(),
});
export type HealthReport = z.infer<typeof HealthReport>;

/**
 * One step of a deployment as a person reads it: a Task or Fail state, with the polls of a loop
 * (Check Health every 15 s, Acquire Environment while another push holds it) merged into one step.
 */
export const TimelineStep = z.object({
  name: z.string(),
  /** The stage the step belongs to; null for the steps before and after the stages. */
  environment: z.string().nullable(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  result: z.enum(['succeeded', 'failed', 'running']),
  /** How many times the state was entered (polls) — retries after an error are counted in `retries`. */
  attempts: z.number().int().positive(),
  retries: z.number().int().nonnegative(),
  /** What the step found or did, in a line (the version, the health, the lease holder, the decision). */
  detail: z.string(),
  error: z.string().nullable(),
  cause: z.string().nullable(),
});
export type TimelineStep = z.infer<typeof TimelineStep>;

/** A promotion's approval: who could decide, who did, what they said, when. */
export const TimelineApproval = z.object({
  environment: z.string().nullable(),
  requestedAt: z.string().nullable(),
  approvers: z.array(z.string()),
  decision: z.enum(['approve', 'reject', 'expired', 'waiting']),
  approver: z.string().nullable(),
  comment: z.string(),
  at: z.string().nullable(),
  /** Who pushed the image, as the approval step found them (for separation of duties). */
  pushers: z.array(z.string()),
});
export type TimelineApproval = z.infer<typeof TimelineApproval>;

/** An Elastic Beanstalk event of one of our requests (an update or a rollback), as DescribeEvents gives it. */
export const TimelineEbEvent = z.object({
  environment: z.string(),
  requestId: z.string(),
  kind: z.enum(['deploy', 'rollback']),
  at: z.string(),
  severity: z.string(),
  message: z.string(),
});
export type TimelineEbEvent = z.infer<typeof TimelineEbEvent>;

/**
 * What the audit record keeps of an execution's history (Step Functions forgets it after 90 days, EB
 * its events after six weeks). `state`: no history could be read; the steps are rebuilt from the final state.
 */
export const RecordedTimeline = z.object({
  source: z.enum(['execution-history', 'state']),
  steps: z.array(TimelineStep),
  approvals: z.array(TimelineApproval),
  ebEvents: z.array(TimelineEbEvent),
});
export type RecordedTimeline = z.infer<typeof RecordedTimeline>;

/** The whole story of one deployment (`greenlight show`): the same view from a live execution or from its record. */
export const Timeline = RecordedTimeline.extend({
  deploymentId: z.string(),
  executionArn: z.string(),
  /** An audit outcome once recorded; `running` before; an execution status (`aborted`, `timed-out`) when it ended without a record. */
  outcome: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  application: z.string().nullable(),
  image: z.object({ repository: z.string(), tag: z.string(), digest: z.string(), pushedBy: z.string().nullable() }).nullable(),
  environments: z.array(z.string()),
  versionLabel: z.string().nullable(),
  error: z.string().nullable(),
  cause: z.string().nullable(),
  recordKey: z.string().nullable(),
});
export type Timeline = z.infer<typeof Timeline>;
