import { validateConfigFile } from '../../shared/config/validate.ts';
import { bold, green, red, yellow } from '../output.ts';

/**
 * `greenlight validate`: the one validator (the schema every Lambda, `plan`, `local` and
 * `serverless package` use) over a file, naming every problem with its path; exit 1 on any problem,
 * warnings alone exit 0.
 */
export function validateCommand(options: { config: string; json?: boolean }): number {
  const result = validateConfigFile(options.config);
  const valid = result.problems.length === 0;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ file: result.path, valid, problems: result.problems, warnings: result.warnings }, null, 2)}\n`);
    return valid ? 0 : 1;
  }
  for (const problem of result.problems) process.stdout.write(`${red('✘')} ${bold(problem.path)}: ${problem.message}\n`);
  for (const warning of result.warnings) process.stdout.write(`${yellow('!')} ${bold(warning.path)}: ${warning.message}\n`);
  if (valid) {
    const apps = Object.keys(result.config?.applications ?? {});
    const warned = result.warnings.length === 0 ? '' : `, ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'}`;
    process.stdout.write(`${green('✔')} ${result.path} is valid: ${apps.length} application${apps.length === 1 ? '' : 's'} (${apps.join(', ')}), every bundle renders${warned}\n`);
    return 0;
  }
  process.stdout.write(`${red(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`)} in ${result.path}\n`);
  return 1;
}
