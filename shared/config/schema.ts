import picomatch from 'picomatch';
import * as z from 'zod';
import { tagRuleProblem } from '../tag-policy.ts';
import { SameRolePolicy } from './same-role-policy.ts';

/** A duration such as `90s`, `20m`, `72h` or `7d`, turned into seconds; never zero. */
export const Duration = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'a duration is a whole number followed by s, m, h or d, e.g. 20m or 72h')
  .transform((text) => {
    const amount = Number(text.slice(0, -1));
    const unit = text.slice(-1) as 's' | 'm' | 'h' | 'd';
    return amount * { s: 1, m: 60, h: 3600, d: 86400 }[unit];
  })
  .refine((seconds) => seconds > 0, 'a duration must be positive: 0s would time out before anything could happen');

/**
 * One tag rule: a glob (`git_*`, `v*`), `semver:<range>` (`semver:>=1.0.0`) or `regex:<pattern>`
 * (RE2 syntax, matched in linear time). `latest` never deploys, whatever the rules say.
 */
/** Whether picomatch can compile a glob. */
function globCompiles(pattern: string): boolean {
  try {
    picomatch.makeRe(pattern);
    return true;
  } catch {
    return false;
  }
}

export const TagRule = z
  .string()
  .min(1)
  .max(200)
  .superRefine((rule, ctx) => {
    const problem = tagRuleProblem(rule);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const ArnPattern = z
  .string()
  .regex(/^arn:aws[a-z-]*:(iam|sts)::(\d{12}|\*):[^\s]+$/, 'an approver is an IAM role, user or assumed-role ARN (globs allowed after the account)');

/** How sessions of one role compare (its own module, so approval records load no tag-rule code). */
export { SameRolePolicy };

export const Approval = z.strictObject({
  approvers: z.array(ArnPattern).min(1, 'name at least one approver'),
  timeout: Duration.prefault('72h'),
  separationOfDuties: z
    .boolean()
    .optional()
    .describe(
      'true (default): an approval needs a known pusher (CloudTrail) and an approver who is none of them; false lets anyone on the list approve, the pusher too (greenlight plan and the audit record say so)',
    ),
  sameRolePolicy: z.optional(SameRolePolicy).describe(
    'strict (default): two sessions of one IAM role are one person; per-session: session names tell people apart (only for roles whose session names an identity provider such as IAM Identity Center sets)',
  ),
});

/** EB keeps every environment property of an environment as NAME=value, 4096 bytes in all. */
export const environmentPropertiesMaxBytes = 4096;

/**
 * Environment properties a stage's environment gets with each deployment (the bundle stays the
 * same for every stage). Never secrets: the values are in the plan, the execution history and
 * the environment's configuration, so store a Secrets Manager or SSM Parameter Store name instead.
 */
export const EnvironmentVariables = z
  .record(
    z.string(),
    z.string().max(environmentPropertiesMaxBytes, `an environment variable value is at most ${environmentPropertiesMaxBytes} characters`),
  )
  .superRefine((variables, ctx) => {
    // A record's key schema would only say "Invalid key in record": name the key and the rule instead.
    for (const name of Object.keys(variables)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `${JSON.stringify(name)}: an environment variable name is 1–128 letters, digits and underscores, not starting with a digit` });
      }
    }
    const bytes = Object.entries(variables).reduce((sum, [name, value]) => sum + Buffer.byteLength(`${name}=${value}`), 0);
    if (bytes > environmentPropertiesMaxBytes) {
      ctx.addIssue({ code: 'custom', message: `Elastic Beanstalk keeps at most ${environmentPropertiesMaxBytes} bytes of environment properties (NAME=value, all together) per environment; these take ${bytes}` });
    }
  });

export const Stage = z.strictObject({
  environment: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$/, 'an EB environment name is 4–40 letters, digits and hyphens, not starting or ending with a hyphen'),
  tags: z.array(TagRule).min(1, 'a stage needs at least one tag rule'),
  approval: Approval.optional(),
  environmentVariables: EnvironmentVariables.optional().describe(
    'environment properties (NAME: value) set on this stage\'s environment in the same UpdateEnvironment call that deploys the version: every stage runs the same bundle, only these differ; no secrets (store a Secrets Manager or SSM parameter name instead)',
  ),
});

export const HealthColour = z.enum(['Green', 'Yellow']);

/**
 * The longest a deployment (and then its rollback) may take to be healthy. Bounded so an execution's
 * history stays far below Step Functions' 25,000 events however long the wait (see
 * shared/health-schedule.ts: the looks back off to one every 5 minutes).
 */
export const maxHealthTimeoutSeconds = 12 * 3600;

export const Health = z.strictObject({
  accept: z.array(HealthColour).min(1).default(['Green']),
  timeout: Duration.prefault('20m').refine((seconds) => seconds <= maxHealthTimeoutSeconds, 'a health timeout is at most 12h'),
});

export const Bundle = z.strictObject({
  dockerrun: z.string().min(1).describe('path of the Dockerrun.aws.json template, relative to the config file'),
  compose: z.string().min(1).optional().describe('docker-compose.yml template, required with Dockerrun v3'),
  ebextensions: z.string().min(1).optional().describe('folder of .config files copied to .ebextensions/'),
  include: z
    .array(z.string().min(1))
    .optional()
    .describe(
      'files and folders (relative to the config file, inside the Dockerrun template\'s folder) copied into the bundle at their paths relative to that folder, e.g. .platform/ or proxy/; never a Dockerfile',
    ),
  exclude: z
    .array(
      z
        .string()
        .min(1)
        .refine((pattern) => globCompiles(pattern.replace(/^!/, '')), 'an exclude pattern is a glob, e.g. *.pyc, tests/ or /docs/*.md'),
    )
    .optional()
    .describe('.ebignore-style patterns (relative to the Dockerrun template\'s folder) of included files to leave out; the last matching pattern wins, ! re-includes'),
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

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days. */
export const logRetentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** How greenlight is installed into AWS (read by deploy/greenlight-vars.cjs for serverless.yml). */
export const Install = z.strictObject({
  cloudTrailRule: z.boolean().optional().describe('also start deployments from CloudTrail PutImage, which says who pushed (needs a trail)'),
  maxVersions: z.number().int().min(2).max(1000).optional().describe('application versions EB keeps per application (lifecycle)'),
  auditRetention: z
    .strictObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']).optional(), years: z.number().int().min(1).max(100).optional() })
    .optional()
    .describe('Object Lock of the audit records'),
  logRetentionDays: z
    .literal(logRetentionDays, { error: `CloudWatch Logs keeps logs for one of ${logRetentionDays.join(', ')} days` })
    .optional()
    .describe('CloudWatch Logs retention in days (default 90)'),
  reconciler: Reconciler.optional().describe('the scheduled sweep that starts pushes whose ECR event was lost (default every 5m, window 1h)'),
});

/** One problem of an application's bundle on disk, its path relative to the application. */
export interface BundleIssue {
  path: PropertyKey[];
  message: string;
}

/**
 * Checks an application's bundle files. They live next to the configuration file, so only a reader
 * that knows where the file is can check them (shared/config/validate.ts passes one).
 */
export type BundleCheck = (app: z.output<typeof Application>) => BundleIssue[];

/**
 * The schema of the configuration file: the one validator the Lambdas, the CLI and serverless.yml
 * use. With `checkBundle`, every application's bundle is checked on disk as part of the same parse.
 */
export function greenlightConfigSchema(options: { checkBundle?: BundleCheck } = {}) {
  const { checkBundle } = options;
  // Both refinements also run when another setting is wrong (`when`), so one reading names every problem.
  const application = checkBundle
    ? Application.superRefine(
        (app, ctx) => {
          for (const issue of checkBundle(app)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
        },
        { when: ({ value }) => isObject(value) && Array.isArray(value.images) && isObject(value.bundle) && typeof value.bundle.dockerrun === 'string' },
      )
    : Application;
  return z
    .strictObject({
      install: Install.optional(),
      applications: z.record(z.string().regex(/^[^/]{1,100}$/, 'an EB application name is 1–100 characters without /'), application),
    })
    .superRefine(
      (config, ctx) => {
        const ownerOfRepository = new Map<string, string>();
        const ownerOfEnvironment = new Map<string, string>();
        for (const [app, spec] of Object.entries(config.applications)) {
          if (/[*?]/.test(app)) {
            // Application names become parts of IAM resource patterns (S3 prefixes, EB ARNs) when installed.
            ctx.addIssue({ code: 'custom', path: ['applications', app], message: `application name ${JSON.stringify(app)} contains * or ?, which IAM reads as wildcards: every permission scoped to the application would reach others` });
          }
          if (!isObject(spec)) continue;
          for (const [index, repository] of (Array.isArray(spec.images) ? spec.images : []).entries()) {
            const other = ownerOfRepository.get(repository);
            if (other === app) {
              ctx.addIssue({ code: 'custom', path: ['applications', app, 'images', index], message: `repository ${repository} is listed twice` });
            } else if (other) {
              ctx.addIssue({ code: 'custom', path: ['applications', app, 'images'], message: `repository ${repository} is already used by application ${other}; a repository deploys one application` });
            }
            ownerOfRepository.set(repository, app);
          }
          const stages = Array.isArray(spec.stages) ? spec.stages : [];
          for (const [index, stage] of stages.entries()) {
            if (typeof stage?.environment !== 'string') continue;
            const other = ownerOfEnvironment.get(stage.environment);
            if (other) {
              const where = other === app ? 'an earlier stage of this application' : `already a stage of ${other}`;
              ctx.addIssue({ code: 'custom', path: ['applications', app, 'stages', index, 'environment'], message: `environment ${stage.environment} is ${where}; an environment belongs to one stage` });
            }
            ownerOfEnvironment.set(stage.environment, app);
          }
          if (stages[0]?.approval) {
            ctx.addIssue({ code: 'custom', path: ['applications', app, 'stages', 0, 'approval'], message: 'the first stage deploys on push; approvals guard the later stages' });
          }
        }
      },
      { when: ({ value }) => isObject(value) && isObject(value.applications) },
    );
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const GreenlightConfig = greenlightConfigSchema();

/** The validated configuration, durations in seconds and defaults filled in. */
export type GreenlightConfig = z.output<typeof GreenlightConfig>;
export type ApplicationConfig = z.output<typeof Application>;
export type StageConfig = z.output<typeof Stage>;
export type HealthConfig = z.output<typeof Health>;
export type LinksConfig = z.output<typeof Links>;
/** Reconciler period and window, in seconds. */
export type ReconcilerConfig = z.output<typeof Reconciler>;

/** What `install:` means when a setting is left out. */
export const installDefaults = {
  cloudTrailRule: false,
  /** EB allows 1,000 application versions per region, for every application together. */
  maxVersions: 200,
  /** COMPLIANCE cannot be shortened by anyone, root included. */
  auditRetention: { mode: 'GOVERNANCE', years: 7 },
  logRetentionDays: 90,
} as const;

/** The installation settings of a configuration with every default filled in (serverless.yml reads these). */
export function installSettings(config: GreenlightConfig) {
  const install = config.install ?? {};
  return {
    cloudTrailRule: install.cloudTrailRule ?? installDefaults.cloudTrailRule,
    maxVersions: install.maxVersions ?? installDefaults.maxVersions,
    auditRetention: {
      mode: install.auditRetention?.mode ?? installDefaults.auditRetention.mode,
      years: install.auditRetention?.years ?? installDefaults.auditRetention.years,
    },
    logRetentionDays: install.logRetentionDays ?? installDefaults.logRetentionDays,
    reconciler: reconcilerSettings(config),
  };
}

/** The reconciler settings of a configuration, defaults filled in when `install.reconciler` is absent. */
export function reconcilerSettings(config: GreenlightConfig): ReconcilerConfig {
  return config.install?.reconciler ?? Reconciler.parse({});
}
