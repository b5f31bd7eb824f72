import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { GreenlightError } from '../shared/errors.ts';
import { projectRoot } from '../local/stack.ts';
import { sampleManifest } from '../local/services/ecr.ts';
import { decideCommand, pendingCommand } from './commands/approvals.ts';
import { demoCommand, scenarios, type Scenario } from './commands/demo.ts';
import { localCommand } from './commands/local.ts';
import { planCommand } from './commands/plan.ts';
import { fail } from './output.ts';

const defaultConfig = process.env.GREENLIGHT_CONFIG ? resolve(process.env.GREENLIGHT_CONFIG) : resolve(projectRoot, 'greenlight.yml');

/** Runs the CLI and returns the exit code (errors the user can fix are printed, not thrown). */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name('greenlight')
    .description('ECR push → healthy Elastic Beanstalk environment: the pipeline, locally and in AWS')
    .showHelpAfterError()
    .exitOverride();
  const configOption = () => new Option('-c, --config <file>', 'greenlight configuration file').default(defaultConfig, 'greenlight.yml');

  program
    .command('local')
    .description('run the local AWS endpoint with the pipeline installed, until interrupted')
    .option('-p, --port <port>', 'TCP port on 127.0.0.1', '4566')
    .addOption(configOption())
    .option('--fast', 'test timings (EB updates in 0.3 s, Wait states at 1/100)')
    .option('--lambda-logs', 'print the handlers\u2019 structured logs')
    .action(async (options) => {
      exitCode = await localCommand(options);
    });

  program
    .command('plan')
    .description('dry run: which stages a push of IMAGE would reach, and why (nothing is deployed)')
    .argument('<image>', 'REPOSITORY:TAG, e.g. hello-api:v1.2.3')
    .addOption(configOption())
    .option('--json', 'machine-readable output')
    .action((image: string, options) => {
      exitCode = planCommand(image, options);
    });

  program
    .command('demo')
    .description('the whole pipeline on this machine: push a sample image and follow the deployment (npm start)')
    .addOption(new Option('-s, --scenario <name>', 'deploy (healthy), broken (health Red → rollback), multi (Dockerrun v2), promote (dev → approval → prod)').choices(scenarios).default('deploy'))
    .option('--broken', 'same as --scenario broken')
    .option('--multi', 'same as --scenario multi')
    .option('--promote', 'same as --scenario promote')
    .option('--approve-as <identity>', 'with --promote: approve as this local identity (alice, carol) instead of waiting for a person')
    .option('-p, --port <port>', 'TCP port of the local endpoint (default: 4566 with --promote, any free port otherwise)')
    .option('--fast', 'test timings (EB updates in 0.3 s, Wait states at 1/100)')
    .addOption(configOption())
    .action(async (options: { scenario: Scenario; broken?: boolean; multi?: boolean; promote?: boolean; approveAs?: string; port?: string; fast?: boolean; config: string }) => {
      const scenario = options.broken ? 'broken' : options.multi ? 'multi' : options.promote ? 'promote' : options.scenario;
      const port = options.port === undefined ? undefined : Number(options.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new InvalidArgumentError(`--port ${options.port} is not a TCP port number`);
      exitCode = await demoCommand({ scenario, config: options.config, port, approveAs: options.approveAs, fast: options.fast });
    });

  const urlOption = () => new Option('--url <url>', 'approval API URL (default: $GREENLIGHT_APPROVAL_URL)');
  program
    .command('pending')
    .description('deployments waiting for approval: what, where, for how long, for whom')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action(async (options) => {
      exitCode = await pendingCommand(options);
    });

  program
    .command('approve')
    .description('approve a waiting promotion, signed with your AWS identity')
    .argument('<id>', 'the deployment id (greenlight pending lists them)')
    .option('-m, --comment <text>', 'why (kept in the execution history and the audit record)')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action(async (id: string, options) => {
      exitCode = await decideCommand('approve', id, options);
    });

  program
    .command('reject')
    .description('reject a waiting promotion, signed with your AWS identity')
    .argument('<id>', 'the deployment id (greenlight pending lists them)')
    .requiredOption('-r, --reason <text>', 'why (required: the audit record says it)')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action(async (id: string, options) => {
      exitCode = await decideCommand('reject', id, options);
    });

  program
    .command('sample-manifest')
    .description('print a realistic Docker image manifest, for pushing with `aws ecr put-image`')
    .argument('[seed]', 'different seeds give different digests', String(Date.now()))
    .action((seed: string) => {
      process.stdout.write(`${sampleManifest(seed)}\n`);
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    const code = (error as { code?: string; exitCode?: number }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (code?.startsWith('commander.')) return (error as { exitCode?: number }).exitCode ?? 2;
    if (error instanceof GreenlightError) return fail(error.message);
    if (error instanceof InvalidArgumentError) return fail(error.message, 2);
    throw error;
  }
}
