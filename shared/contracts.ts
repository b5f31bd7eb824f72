import * as z from './zod.ts';

/**
 * The data that flows between the pipeline's states. Each Lambda parses its input with these schemas,
 * so a drift between the ASL and the code fails loudly at the first run, naming the field.
 */

/** What a push tells us: the execution input written by on-image-pushed. */
export const ImagePush = z.object({
  repository: z.string().check(z.minLength(1)),
  tag: z.string().check(z.minLength(1)),
  digest: z.string().check(z.regex(/^sha256:[0-9a-f]{64}$/, 'an image digest is sha256: followed by 64 hex digits')),
  pushedBy: z.optional(z.string()),
});
export type ImagePush = z.infer<typeof ImagePush>;

/** An image verified in ECR: referenced by digest, never by tag. */
export const VerifiedImage = z.extend(ImagePush, {
  /** Repository URI, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/api */
  repositoryUri: z.string(),
  /** The pinned reference that goes into the bundle: `<repositoryUri>@sha256:…` */
  reference: z.string(),
  pushedAt: z.string(),
});
export type VerifiedImage = z.infer<typeof VerifiedImage>;

export const PlannedStage = z.object({
  environment: z.string(),
  approval: z.optional(z.object({ approvers: z.array(z.string()), timeoutSeconds: z.int().check(z.positive()) })),
  /** Environment properties set on the environment with the deployment (the bundle is the same for every stage). */
  environmentVariables: z.optional(z.record(z.string(), z.string())),
});
export type PlannedStage = z.infer<typeof PlannedStage>;

export const HealthPolicy = z.object({
  accept: z.array(z.enum(['Green', 'Yellow'])),
  timeoutSeconds: z.int().check(z.positive()),
});
export type HealthPolicy = z.infer<typeof HealthPolicy>;

/** The result of ResolvePlan: which application, which image, which stages, and why not the others. */
export const Plan = z.object({
  deploymentId: z.string(),
  application: z.string(),
  image: VerifiedImage,
  stages: z.array(PlannedStage).check(z.minLength(1)),
  skippedStages: z.array(z.object({ environment: z.string(), reason: z.string() })),
  health: HealthPolicy,
});
export type Plan = z.infer<typeof Plan>;

/** The rendered, stored bundle and the version label it will carry. */
export const StoredBundle = z.object({
  bucket: z.string(),
  key: z.string(),
  sha256: z.string(),
  versionLabel: z.string().check(z.minLength(1), z.maxLength(100)),
  description: z.string().check(z.maxLength(200)),
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

/**
 * When the state machine looks at health next (shared/health-schedule.ts): what the environment's
 * recent updates took (waited and clock seconds), how long was waited and how long it has been by
 * this look, and the next Wait's seconds.
 */
export const LookPlan = z.object({
  expectedSeconds: z.nullable(z.number().check(z.nonnegative())),
  expectedClockSeconds: z.nullable(z.number().check(z.nonnegative())),
  waitedSeconds: z.number().check(z.nonnegative()),
  clockSeconds: z.number(),
  nextSeconds: z.int().check(z.nonnegative()),
});
export type LookPlan = z.infer<typeof LookPlan>;

/** How long one successful update took to be healthy: clock seconds, and the state machine's waited seconds. */
export const LearnedUpdate = z.object({ seconds: z.number().check(z.nonnegative()), waitedSeconds: z.number().check(z.nonnegative()) });

/** What Deploy started: enough to check health and to roll back. */
export const StageDeployment = z.object({
  application: z.string(),
  environment: z.string(),
  versionLabel: z.string(),
  previousVersionLabel: z.nullable(z.string()),
  requestId: z.string(),
  startedAt: z.string(),
  deadline: z.string(),
  /** The first look (absent on an already-deployed stage, which is not looked at). */
  look: z.optional(LookPlan),
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
  healthStatus: z.nullable(z.string()),
  versionLabel: z.nullable(z.string()),
  /** Why it is not healthy, in EB's own words (health causes and ERROR events of our request). */
  causes: z.array(z.string()),
  checkedAt: z.string(),
  /** The next look; `learned`: how long the update took, once healthy (else null). */
  look: z.optional(z.extend(LookPlan, { learned: z.nullable(LearnedUpdate) })),
});
export type HealthReport = z.infer<typeof HealthReport>;

/**
 * One step of a deployment as a person reads it: a Task or Fail state, with the polls of a loop
 * (Check Health on its look schedule, Acquire Environment while another push holds it) merged into one step.
 */
export const TimelineStep = z.object({
  name: z.string(),
  /** The stage the step belongs to; null for the steps before and after the stages. */
  environment: z.nullable(z.string()),
  startedAt: z.string(),
  endedAt: z.nullable(z.string()),
  result: z.enum(['succeeded', 'failed', 'running']),
  /** How many times the state was entered (polls) — retries after an error are counted in `retries`. */
  attempts: z.int().check(z.positive()),
  retries: z.int().check(z.nonnegative()),
  /** What the step found or did, in a line (the version, the health, the lease holder, the decision). */
  detail: z.string(),
  error: z.nullable(z.string()),
  cause: z.nullable(z.string()),
});
export type TimelineStep = z.infer<typeof TimelineStep>;

/** A promotion's approval: who could decide, who did, what they said, when. */
export const TimelineApproval = z.object({
  environment: z.nullable(z.string()),
  requestedAt: z.nullable(z.string()),
  approvers: z.array(z.string()),
  decision: z.enum(['approve', 'reject', 'expired', 'waiting']),
  approver: z.nullable(z.string()),
  comment: z.string(),
  at: z.nullable(z.string()),
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
export const Timeline = z.extend(RecordedTimeline, {
  deploymentId: z.string(),
  executionArn: z.string(),
  /** An audit outcome once recorded; `running` before; an execution status (`aborted`, `timed-out`) when it ended without a record. */
  outcome: z.string(),
  startedAt: z.string(),
  finishedAt: z.nullable(z.string()),
  application: z.nullable(z.string()),
  image: z.nullable(z.object({ repository: z.string(), tag: z.string(), digest: z.string(), pushedBy: z.nullable(z.string()) })),
  environments: z.array(z.string()),
  versionLabel: z.nullable(z.string()),
  error: z.nullable(z.string()),
  cause: z.nullable(z.string()),
  recordKey: z.nullable(z.string()),
});
export type Timeline = z.infer<typeof Timeline>;

// ——— The pipeline state: what the state machine carries from state to state ———

/** A step's error as a Catch writes it (`ResultPath: $.error`, or `$.health` when health could not be read). */
export const StepError = z.object({ Error: z.string(), Cause: z.optional(z.string()) });
export type StepError = z.infer<typeof StepError>;

/** A stage's approval: `not-required` (set when the stage starts, see Deploy Stages' ItemSelector), or a person's decision as the approval API sent it. */
export const ApprovalDecision = z.object({
  decision: z.enum(['not-required', 'approve', 'reject']),
  approver: z.optional(z.string()),
  comment: z.optional(z.string()),
  at: z.optional(z.string()),
  environment: z.optional(z.string()),
  separationOfDuties: z.optional(z.enum(['enforced', 'off'])),
  sameRolePolicy: z.optional(z.string()),
  pushers: z.optional(z.array(z.string())),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/** Acquire Environment's answer: the lease is ours, or another execution holds it until `expiresAt`. */
export const EnvironmentLease = z.object({
  status: z.enum(['acquired', 'waiting']),
  environment: z.string(),
  holder: z.string(),
  expiresAt: z.string(),
});
export type EnvironmentLease = z.infer<typeof EnvironmentLease>;

/** Roll Back's answer: the rollback EB is making, and the causes the execution ends with either way. */
export const RollbackStarted = z.object({
  deployment: StageDeployment,
  failureCause: z.string(),
  rollbackFailureCause: z.string(),
});
export type RollbackStarted = z.infer<typeof RollbackStarted>;

/** What one finished stage hands on (the Pass states Stage Deployed and Stage Already Deployed). */
export const StageOutput = z.object({
  environment: z.string(),
  outcome: z.enum(['deployed', 'already-deployed']),
  versionLabel: z.string(),
  previousVersionLabel: z.optional(z.nullable(z.string())),
  release: z.optional(StoredBundle),
  /** EB's health colour when the stage was judged healthy (absent when the bytes already ran). */
  health: z.optional(z.string()),
  checkedAt: z.optional(z.string()),
  approval: z.optional(ApprovalDecision),
});
export type StageOutput = z.infer<typeof StageOutput>;

/** Let Go Of Environments' answer: the leases given back, and the updates nobody verified. */
export const LetGo = z.object({
  released: z.array(z.string()),
  unverified: z.array(z.looseObject({ environment: z.string() })),
  anyUnverified: z.optional(z.boolean()),
});
export type LetGo = z.infer<typeof LetGo>;

/** The audit step's answer: where the record is, the outcome it says, and the error and cause the execution ends with. */
export const AuditWritten = z.object({
  key: z.string(),
  /** An audit outcome: succeeded, already-deployed, failed, rejected, superseded, expired, unverified. */
  outcome: z.string(),
  error: z.string(),
  cause: z.string(),
  finishedAt: z.optional(z.string()),
});
export type AuditWritten = z.infer<typeof AuditWritten>;

/**
 * The state of one execution at any point of its path: the top level (image → plan → stages → error →
 * audit) or one stage's iteration (stage, approval, lease, bundle, version, deployment, health,
 * rollback). Every field is optional because each appears only once the path has reached it.
 */
export const PipelineState = z.partial(
  z.object({
    /** The execution input: the push. */
    image: ImagePush,
    plan: Plan,
    stage: PlannedStage,
    index: z.int().check(z.nonnegative()),
    /** The release (rendered bundle) this stage deploys or asks approval for. */
    bundle: StoredBundle,
    approval: ApprovalDecision,
    lease: EnvironmentLease,
    version: VersionStatus,
    deployment: StageDeployment,
    /** A health report, or the error that kept health from being read (then a rollback follows). */
    health: z.union([HealthReport, StepError]),
    rollback: RollbackStarted,
    rollbackHealth: HealthReport,
    released: z.object({ released: z.boolean(), environment: z.string() }),
    stages: z.array(StageOutput),
    error: StepError,
    letGo: LetGo,
    letGoError: StepError,
    audit: AuditWritten,
    auditError: StepError,
  }),
);
export type PipelineState = z.infer<typeof PipelineState>;

/**
 * Reads a state (JSON text or a parsed value) as far as it goes: each field that has its expected shape
 * is kept, one that does not is left out (and so are stage outputs that do not read), so a reader of
 * a partial or newer state gets every part it can trust and never a wrongly typed one.
 */
export function readPipelineState(json: unknown): PipelineState {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return {};
    }
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const raw = value as Record<string, unknown>;
  const state: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(PipelineState.shape)) {
    if (raw[field] === undefined) continue;
    if (field === 'stages' && Array.isArray(raw.stages)) {
      state.stages = raw.stages.flatMap((stage) => {
        const parsed = StageOutput.safeParse(stage);
        return parsed.success ? [parsed.data] : [];
      });
      continue;
    }
    const parsed = schema.safeParse(raw[field]);
    if (parsed.success) state[field] = parsed.data;
  }
  return state as PipelineState;
}
