import { loadConfig } from '../../shared/config/load.ts';
import type { ApplicationConfig, SameRolePolicy } from '../../shared/config/schema.ts';
import type { PlannedStage } from '../../shared/contracts.ts';
import { GreenlightError } from '../../shared/errors.ts';
import { checkTagSyntax, planStages } from '../../shared/tag-policy.ts';
import { applicationOf } from '../../shared/trigger.ts';
import { bold, dim, fail, green, red, yellow } from '../output.ts';

/** `repo:tag` (an optional `@sha256:…` is accepted and ignored: the policy judges tags). */
export function parseImageArgument(image: string): { repository: string; tag: string } | undefined {
  const match = /^([^:@\s]+):([^@\s]+)(?:@sha256:[0-9a-f]{64})?$/.exec(image.replace(/^[^/]+\.amazonaws\.com\//, ''));
  return match ? { repository: match[1]!, tag: match[2]! } : undefined;
}

/** A planned stage with how its approval treats the pusher: enforced unless the configuration says `separationOfDuties: false`. */
function withSeparationOfDuties(stage: PlannedStage, app: ApplicationConfig): PlannedStage & { approval?: { separationOfDuties: 'enforced' | 'off'; sameRolePolicy: SameRolePolicy } } {
  const { approval, ...rest } = stage;
  if (!approval) return rest;
  const configured = app.stages.find((s) => s.environment === stage.environment)?.approval;
  const separationOfDuties = configured?.separationOfDuties === false ? 'off' : 'enforced';
  return { ...rest, approval: { ...approval, separationOfDuties, sameRolePolicy: configured?.sameRolePolicy ?? 'strict' } };
}

/** Dry run of the tag policy: which stages a push of IMAGE would reach, and why not the others. */
export function planCommand(image: string, options: { config: string; json?: boolean }): number {
  const parsed = parseImageArgument(image);
  if (!parsed) return fail(`"${image}" is not an image reference; write REPOSITORY:TAG, e.g. hello-api:v1.2.3`, 2);
  const { config } = loadConfig(options.config);
  const application = applicationOf(config, parsed.repository);
  if (!application) {
    const known = Object.values(config.applications).flatMap((a) => a.images).sort().join(', ');
    return fail(`repository ${parsed.repository} is not part of any application in ${options.config} (configured: ${known})`, 1);
  }
  try {
    checkTagSyntax(parsed.tag);
    const app = config.applications[application]!;
    const planned = planStages(parsed.tag, app.stages, application);
    const plan = { ...planned, stages: planned.stages.map((stage) => withSeparationOfDuties(stage, app)) };
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ image: parsed, application, deploys: true, ...plan }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(`${bold(`${parsed.repository}:${parsed.tag}`)} deploys application ${bold(application)}:\n`);
    for (const stage of plan.stages) {
      let approval = '';
      if (stage.approval) {
        const pusher = stage.approval.separationOfDuties === 'off' ? '' : ', never by a pusher of the image';
        approval = dim(` (after approval by ${stage.approval.approvers.join(' or ')}${pusher}, within ${stage.approval.timeoutSeconds / 3600} h)`);
        if (stage.approval.separationOfDuties === 'off') approval += yellow(' separation of duties OFF (separationOfDuties: false): a pusher may approve their own image');
      }
      process.stdout.write(`  ${green('✔')} ${stage.environment}${approval}\n`);
    }
    for (const skipped of plan.skippedStages) process.stdout.write(`  ${red('✘')} ${skipped.environment}: ${skipped.reason}\n`);
    process.stdout.write(dim('Nothing was deployed (dry run).\n'));
    return 0;
  } catch (error) {
    if (!(error instanceof GreenlightError)) throw error;
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ image: parsed, application, deploys: false, error: error.name, reason: error.message }, null, 2)}\n`);
      return 1;
    }
    process.stdout.write(`${red('✘')} ${parsed.repository}:${parsed.tag} would not deploy: ${error.message}\n`);
    return 1;
  }
}
