import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { projectRoot } from '../local/project-root.ts';
import { GreenlightError } from '../shared/errors.ts';
import { type Scenario, scenarios } from './commands/demo-scenarios.ts';
import { watchExitCodes, watchExitHelp } from './commands/watch-exit.ts';
import { prepareForHandlers } from './handler-sources.ts';
import { fail } from './output.ts';

// Each command's module (and what it pulls in: the SDK clients, zod and the configuration loader, the
// whole local endpoint) is imported in its action, when that command runs: `greenlight --help` and
// `greenlight plan` load only what they use. Nothing at the top of this file may import local/stack.ts,
// local/services/*, cli/commands/<command>.ts or an @aws-sdk package (test/cli/package.test.ts checks the
// build: nothing main.js loads before an action imports a package, a command module or local/).

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
    .option('--data <dir>', 'keep the state in DIR and take it back on the next start: repositories and layers, EB applications, versions and environments, S3 objects, executions and their histories (running ones end ABORTED)')
    .option('--keep-executions <n>', 'finished executions kept, newest first (default 1000); older ones answer ExecutionDoesNotExist, as AWS after its 90 days, and their names stay taken')
    .option('--faults <file>', 'fault knobs from a YAML file (the keys GET /_greenlight/faults shows; flags below win over it)')
    .option('--fail-image <ref>', 'deployments of this image fail (Health Red, ERROR events, rollback): a repository, REPO:TAG or a digest; repeatable', (value: string, all: string[]) => [...all, value], [])
    .option('--busy <env=seconds>', 'the environment is busy (Updating, someone else\u2019s operation) for SECONDS from the start; repeatable', (value: string, all: string[]) => [...all, value], [])
    .option('--throttle <rate>', 'share (0 to 1) of ECR and Elastic Beanstalk read calls answered with a throttling error')
    .option('--drop-events <n>', 'lose the next N ECR push events (EventBridge is best effort; the reconciler finds those pushes)')
    .option('--eb-update-seconds <s>', 'seconds an Elastic Beanstalk update keeps the environment Updating (default 6; 0.3 with --fast)')
    .addHelpText(
      'after',
      '\nWhile it runs, the knobs can be read and changed from this machine:\n' +
        '  curl -s http://127.0.0.1:4566/_greenlight/faults\n' +
        '  curl -s -X POST -H content-type:application/json -d \'{"throttleRate":0.3,"busyEnvironments":{"hello-api-dev":60}}\' http://127.0.0.1:4566/_greenlight/faults\n' +
        '  curl -s -X DELETE http://127.0.0.1:4566/_greenlight/faults   # back to how it started\n' +
        'A --faults file holds the same keys, e.g.\n  failingImages: [hello-api:v1.3.0]\n  throttleRate: 0.2\n  busyEnvironments: { hello-api-prod: 120 }',
    )
    .action(async (options) => {
      for (const path of ['config', 'data', 'faults'] as const) if (options[path]) options[path] = resolve(options[path]);
      await prepareForHandlers();
      const { localCommand } = await import('./commands/local.ts');
      exitCode = await localCommand(options);
    });

  program
    .command('plan')
    .description('dry run: which stages a push of IMAGE would reach, and why (nothing is deployed)')
    .argument('<image>', 'REPOSITORY:TAG, e.g. hello-api:v1.2.3')
    .addOption(configOption())
    .option('--json', 'machine-readable output')
    .option('--render', 'also render the bundle the push would deploy: its Dockerrun, files and modes, with the digests it would use for the other containers')
    .option('--diff', 'with --render (implied): a unified diff against the bundle each target environment runs now')
    .option('--bucket <name>', 'the bundle bucket, where greenlight records what each environment runs (default: $GREENLIGHT_BUNDLE_BUCKET; greenlight-local-bundles when $AWS_ENDPOINT_URL is set)')
    .option('--offline', 'do not ask AWS: placeholder digests, no diff')
    .addHelpText('after', '\nWith --render, asks ECR (the pushed tag, the other containers) and EB/S3 (what runs) with your AWS credentials; AWS_REGION and AWS_ENDPOINT_URL decide where. When nothing answers it says so and renders with placeholder digests.')
    .action(async (image: string, options) => {
      const { planCommand } = await import('./commands/plan.ts');
      exitCode = await planCommand(image, options);
    });

  program
    .command('validate')
    .description('check the configuration file as every part of greenlight reads it: all problems at once, with their paths, and warnings')
    .addOption(configOption())
    .option('--json', 'machine-readable output: { file, valid, problems, warnings }')
    .action(async (options) => {
      const { validateCommand } = await import('./commands/validate.ts');
      exitCode = validateCommand(options);
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
      const config = resolve(options.config);
      await prepareForHandlers();
      const { demoCommand } = await import('./commands/demo.ts');
      exitCode = await demoCommand({ scenario, config, port, approveAs: options.approveAs, fast: options.fast });
    });

  const urlOption = () => new Option('--url <url>', 'approval API URL (default: $GREENLIGHT_APPROVAL_URL)');
  program
    .command('pending')
    .description('deployments waiting for approval: what, where, for how long, for whom')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action(async (options) => {
      const { pendingCommand } = await import('./commands/approvals.ts');
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
      const { decideCommand } = await import('./commands/approvals.ts');
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
      const { decideCommand } = await import('./commands/approvals.ts');
      exitCode = await decideCommand('reject', id, options);
    });

  program
    .command('report')
    .description('the audit records of a period as one self-contained HTML page: timeline per environment, lead time, failure rate, table')
    .requiredOption('--html <file>', 'write the page here')
    .option('--since <when>', 'deployments started since: a duration back from now (90m, 12h, 30d, 2w) or a date (2026-11-01, UTC; or an ISO time)', '30d')
    .option('--until <when>', 'deployments started until: a date (2026-11-30 includes that day), an ISO time or a duration back from now (default: now)')
    .option('--app <name>', 'only this application')
    .option('--bucket <name>', 'the audit bucket (default: $GREENLIGHT_AUDIT_BUCKET, the AuditBucketName output of the stack; greenlight-local-audit when $AWS_ENDPOINT_URL is set)')
    .addHelpText('after', '\nLists the period in s3://BUCKET/index/by-time/, then reads each record (deployments/YYYY/MM/DD/ID.json) with your AWS credentials: s3:ListBucket and s3:GetObject on the audit bucket; AWS_REGION and AWS_ENDPOINT_URL decide where.')
    .action(async (options) => {
      const { reportCommand } = await import('./commands/report.ts');
      exitCode = await reportCommand(options);
    });

  const whereOptions = (command: Command) =>
    command
      .option('--bucket <name>', 'the audit bucket (default: $GREENLIGHT_AUDIT_BUCKET, the AuditBucketName output of the stack; greenlight-local-audit when $AWS_ENDPOINT_URL is set)')
      .option('--state-machine <arn>', 'the deploy pipeline (default: $GREENLIGHT_STATE_MACHINE_ARN, the DeployPipelineArn output of the stack; the local one when $AWS_ENDPOINT_URL is set)');
  const readsWith =
    '\nReads with your AWS credentials; AWS_REGION and AWS_ENDPOINT_URL decide where (against `greenlight local`: AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local).\n' +
    'Needs s3:ListBucket and s3:GetObject on the audit bucket; states:ListExecutions, states:DescribeExecution, states:GetExecutionHistory; elasticbeanstalk:DescribeEvents (show).';

  whereOptions(
    program
      .command('history')
      .description('who deployed what, where, when, approved by whom, with what outcome: newest first, from the audit index and the executions still running'),
  )
    .option('--app <name>', 'only this application')
    .option('--env <name>', 'only deployments that reached (or asked approval for) this environment')
    .option('--since <when>', 'only deployments started since: a duration back from now (90m, 12h, 30d, 2w) or a date (2026-11-01, UTC; or an ISO time)')
    .option('--until <when>', 'only deployments started until: a date (2026-11-30 includes that day), an ISO time or a duration back from now')
    .option('--outcome <names>', 'only these outcomes, comma-separated: deployed (= succeeded), already-deployed, failed, rejected, superseded, expired, unverified, running')
    .option('--limit <n>', 'at most n deployments (the newest)')
    .option('--no-running', 'leave out executions still running (no ListExecutions call)')
    .addOption(new Option('--json', 'machine-readable output: an array of rows').conflicts('csv'))
    .addOption(new Option('--csv', 'CSV with a header line, for spreadsheets').conflicts('json'))
    .addHelpText('after', `\nRows come from s3://BUCKET/index/by-time/ (one listing call per 1,000 deployments, no record read).${readsWith}`)
    .action(async (options) => {
      const { historyCommand } = await import('./commands/history.ts');
      exitCode = await historyCommand(options);
    });

  whereOptions(
    program
      .command('show')
      .description('the whole timeline of one deployment: every step with its time and result, approvals with comments, EB events of our requests')
      .argument('<id>', 'the deployment id (the execution name, as history lists it), an execution ARN, or a record key deployments/…/ID.json'),
  )
    .option('--json', 'machine-readable output (the Timeline, and readFrom: execution | record)')
    .option('--from-record', 'read the audit record even while the execution exists (what show reads once Step Functions forgot it, after 90 days)')
    .addHelpText('after', `\nReads the execution while Step Functions keeps it, else the audit record (found through s3://BUCKET/index/by-id/).${readsWith}`)
    .action(async (id: string, options) => {
      const { showCommand } = await import('./commands/show.ts');
      exitCode = await showCommand(id, options);
    });

  program
    .command('watch')
    .description('for CI after docker push: follow the deployment of IMAGE (or execution ID) live and exit with how it ended')
    .argument('<image|id>', 'REPOSITORY:TAG, REPOSITORY@sha256:DIGEST or REPOSITORY:TAG@sha256:DIGEST (a registry host in front is fine), or an execution name or ARN')
    .option('--timeout <duration>', 'give up waiting after this long (90s, 30m, 1h30m): exit 4, the deployment goes on', '30m')
    .option('--json', 'print one JSON object at the end, nothing else on stdout (progress goes to stderr)')
    .option('--state-machine <arn>', 'the deploy pipeline (default: $GREENLIGHT_STATE_MACHINE_ARN, the DeployPipelineArn output of the stack; the local one when $AWS_ENDPOINT_URL is set)')
    .addOption(configOption())
    .addHelpText('after', watchExitHelp)
    .showHelpAfterError('(greenlight watch --help lists the forms of IMAGE|ID and the exit codes)')
    // A usage error is exit 5 here: 1 to 4 are answers CI acts on.
    .exitOverride((error) => {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help') throw error;
      throw new CommanderError(watchExitCodes.usage, error.code, error.message);
    })
    .action(async (target: string, options) => {
      const { watchCommand } = await import('./commands/watch.ts');
      exitCode = await watchCommand(target, options);
    });

  program
    .command('sample-manifest')
    .description('print a realistic Docker image manifest, for pushing with `aws ecr put-image`')
    .argument('[seed]', 'different seeds give different digests', String(Date.now()))
    .action(async (seed: string) => {
      const { sampleManifest } = await import('../local/services/ecr.ts');
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
