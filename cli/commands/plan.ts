import { loadConfig } from '../../shared/config/load.ts';
import { GreenlightError } from '../../shared/errors.ts';
import { checkTagSyntax, planStages } from '../../shared/tag-policy.ts';
import { applicationOf } from '../../shared/trigger.ts';
import { bold, dim, fail, green, red } from '../output.ts';

/** `repo:tag` (an optional `@sha256:…` is accepted and ignored: the policy judges tags). */
export function parseImageArgument(image: string): { repository: string; tag: string } | undefined {
  const match = /^([^:@\s]+):([^@\s]+)(?:@sha256:[0-9a-f]{64})?$/.exec(image.replace(/^[^/]+\.amazonaws\.com\//, ''));
  return match ? { repository: match[1]!, tag: match[2]! } : undefined;
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
    const plan = planStages(parsed.tag, config.applications[application]!.stages, application);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ image: parsed, application, deploys: true, ...plan }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(`${bold(`${parsed.repository}:${parsed.tag}`)} deploys application ${bold(application)}:\n`);
    for (const stage of plan.stages) {
      const approval = stage.approval ? dim(` (after approval by ${stage.approval.approvers.join(' or ')}, within ${stage.approval.timeoutSeconds / 3600} h)`) : '';
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
