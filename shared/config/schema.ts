import { z } from 'zod';

/** A duration such as `90s`, `20m`, `72h` or `7d`, turned into seconds. */
export const Duration = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'a duration is a whole number followed by s, m, h or d, e.g. 20m or 72h')
  .transform((text) => {
    const amount = Number(text.slice(0, -1));
    const unit = text.slice(-1) as 's' | 'm' | 'h' | 'd';
    return amount * { s: 1, m: 60, h: 3600, d: 86400 }[unit];
  });

/**
 * One tag rule: a glob (`git_*`, `v*`), `semver:<range>` (`semver:>=1.0.0`) or `regex:<pattern>`.
 * `latest` never deploys, whatever the rules say.
 */
export const TagRule = z.string().min(1).max(200);

const ArnPattern = z
  .string()
  .regex(/^arn:aws[a-z-]*:(iam|sts)::(\d{12}|\*):[^\s]+$/, 'an approver is an IAM role, user or assumed-role ARN (globs allowed after the account)');

/**
 * How two sessions of one IAM role compare when the approver is checked against the pushers.
 * `strict`: one role is one person (whoever may assume a role picks the session name);
 * `per-session`: session names tell people apart (only where an identity provider sets them).
 */
export const SameRolePolicy = z.enum(['strict', 'per-session']);
export type SameRolePolicy = z.infer<typeof SameRolePolicy>;

export const Approval = z.strictObject({
  approvers: z.array(ArnPattern).min(1, 'name at least one approver'),
  timeout: Duration.prefault('72h'),
  separationOfDuties: z
    .boolean()
    .optional()
    .describe(
      'true (default): an approval needs a known pusher (CloudTrail) and an approver who is none of them; false lets anyone on the list approve, the pusher too (greenlight plan and the audit record say so)',
    ),
  sameRolePolicy: SameRolePolicy.optional().describe(
    'strict (default): two sessions of one IAM role are one person; per-session: session names tell people apart (only for roles whose session names an identity provider such as IAM Identity Center sets)',
  ),
});

export const Stage = z.strictObject({
  environment: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$/, 'an EB environment name is 4–40 letters, digits and hyphens, not starting or ending with a hyphen'),
  tags: z.array(TagRule).min(1, 'a stage needs at least one tag rule'),
  approval: Approval.optional(),
});

export const HealthColour = z.enum(['Green', 'Yellow']);

export const Health = z.strictObject({
  accept: z.array(HealthColour).min(1).default(['Green']),
  timeout: Duration.prefault('20m'),
});

export const Bundle = z.strictObject({
  dockerrun: z.string().min(1).describe('path of the Dockerrun.aws.json template, relative to the config file'),
  compose: z.string().min(1).optional().describe('docker-compose.yml template, required with Dockerrun v3'),
  ebextensions: z.string().min(1).optional().describe('folder of .config files copied to .ebextensions/'),
});

const RepositoryName = z
  .string()
  .regex(/^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'an ECR repository name: lower case letters, digits, . _ - and /');

/** The placeholders a link template may use, filled in from the pushed image. */
export const linkPlaceholders = ['tag', 'digest', 'repository'] as const;

const LinkTemplate = z
  .string()
  .regex(/^https:\/\/[^\s]+$/, 'a link is an https:// URL without spaces')
  .refine((template) => [...template.matchAll(/\{([^{}]*)\}/g)].every(([, name]) => (linkPlaceholders as readonly string[]).includes(name!)), {
    message: `a link template may only use the placeholders ${linkPlaceholders.map((p) => `{${p}}`).join(', ')}`,
  });

/** Links the notifications of an application carry, besides the console's. */
export const Links = z.strictObject({
  change: LinkTemplate.optional().describe(
    'what changed in a pushed image, e.g. https://github.com/org/repo/commit/{tag} or …/releases/tag/{tag}; {tag}, {digest} and {repository} are filled in from the push',
  ),
});

export const Application = z.strictObject({
  images: z.array(RepositoryName).min(1, 'list the ECR repositories whose pushes deploy this application'),
  bundle: Bundle,
  stages: z.array(Stage).min(1, 'an application needs at least one stage'),
  health: Health.prefault({}),
  links: Links.optional().describe('links in the approval and outcome notifications (the Step Functions and ECR console links are always there)'),
});

/** Step Functions keeps execution history 90 days; a window reaching further would redeploy old pushes. */
const reconcilerWindowMax = 30 * 86400;

/**
 * The reconciler: every `every` it starts the pushes of the last `window` that no execution handled
 * (ECR events are best effort). The window spans at least two periods, so one failed run loses nothing.
 */
export const Reconciler = z
  .strictObject({
    every: Duration.refine((seconds) => seconds >= 60 && seconds % 60 === 0, 'the reconciler period is whole minutes (EventBridge Scheduler rates count minutes), at least 1m')
      .prefault('5m')
      .describe('how often the reconciler runs (whole minutes: 5m, 1h)'),
    window: Duration.refine((seconds) => seconds <= reconcilerWindowMax, 'the reconciler window is at most 30d (Step Functions forgets executions after 90 days)')
      .prefault('1h')
      .describe('how far back it looks for pushes; at least twice the period'),
  })
  .refine(({ every, window }) => window >= 2 * every, { path: ['window'], message: 'the reconciler window must be at least twice its period, so a failed run is covered by the next' });

/** How greenlight is installed into AWS (read by deploy/greenlight-vars.cjs for serverless.yml). */
export const Install = z.strictObject({
  cloudTrailRule: z.boolean().optional().describe('also start deployments from CloudTrail PutImage, which says who pushed (needs a trail)'),
  maxVersions: z.number().int().min(2).max(1000).optional().describe('application versions EB keeps per application (lifecycle)'),
  auditRetention: z
    .strictObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']).optional(), years: z.number().int().min(1).max(100).optional() })
    .optional()
    .describe('Object Lock of the audit records'),
  logRetentionDays: z.number().int().positive().optional().describe('CloudWatch Logs retention'),
  reconciler: Reconciler.optional().describe('the scheduled sweep that starts pushes whose ECR event was lost (default every 5m, window 1h)'),
});

export const GreenlightConfig = z
  .strictObject({
    install: Install.optional(),
    applications: z.record(
      z.string().regex(/^[^/]{1,100}$/, 'an EB application name is 1–100 characters without /'),
      Application,
    ),
  })
  .superRefine((config, ctx) => {
    const ownerOfRepository = new Map<string, string>();
    const ownerOfEnvironment = new Map<string, string>();
    for (const [app, spec] of Object.entries(config.applications)) {
      for (const repository of spec.images) {
        const other = ownerOfRepository.get(repository);
        if (other) {
          ctx.addIssue({ code: 'custom', path: ['applications', app, 'images'], message: `repository ${repository} is already used by application ${other}; a repository deploys one application` });
        }
        ownerOfRepository.set(repository, app);
      }
      for (const [index, stage] of spec.stages.entries()) {
        const other = ownerOfEnvironment.get(stage.environment);
        if (other) {
          ctx.addIssue({ code: 'custom', path: ['applications', app, 'stages', index, 'environment'], message: `environment ${stage.environment} is already a stage of ${other}` });
        }
        ownerOfEnvironment.set(stage.environment, app);
      }
      if (spec.stages[0]?.approval) {
        ctx.addIssue({ code: 'custom', path: ['applications', app, 'stages', 0, 'approval'], message: 'the first stage deploys on push; approvals guard the later stages' });
      }
    }
  });

/** The validated configuration, durations in seconds and defaults filled in. */
export type GreenlightConfig = z.output<typeof GreenlightConfig>;
export type ApplicationConfig = z.output<typeof Application>;
export type StageConfig = z.output<typeof Stage>;
export type HealthConfig = z.output<typeof Health>;
export type LinksConfig = z.output<typeof Links>;
/** Reconciler period and window, in seconds. */
export type ReconcilerConfig = z.output<typeof Reconciler>;

/** The reconciler settings of a configuration, defaults filled in when `install.reconciler` is absent. */
export function reconcilerSettings(config: GreenlightConfig): ReconcilerConfig {
  return config.install?.reconciler ?? Reconciler.parse({});
}
