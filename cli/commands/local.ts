import { copyFaults, demoFaults, type FaultsChange, FaultsError, parseFaultsChange, readFaultsFile, testFaults } from '../../local/faults.ts';
import { DataDirError } from '../../local/persistence.ts';
import { type GreenlightLocal, startGreenlightLocal } from '../../local/stack.ts';
import { bold, dim, green, red, yellow } from '../output.ts';

/** What to tell a person whose port cannot be opened, instead of a stack trace (undefined: not that). */
export function listenFailure(error: unknown, port: number): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return `port ${port} on 127.0.0.1 is already in use (another greenlight local, LocalStack?). Stop what listens there, or choose another port: greenlight local --port ${port === 65535 ? 4567 : port + 1}`;
  }
  if (code === 'EACCES') return `no permission to listen on port ${port} (ports below 1024 need privileges): choose another with --port, e.g. --port 4566`;
  if (code === 'EADDRNOTAVAIL') return 'cannot listen on 127.0.0.1: this machine has no loopback address';
  return undefined;
}

/** The options of `greenlight local` that set fault knobs. */
export interface FaultOptions {
  faults?: string;
  failImage?: string[];
  busy?: string[];
  throttle?: string;
  dropEvents?: string;
  ebUpdateSeconds?: string;
}

/** The knobs a person asked for: the `--faults` file, then the flags on top; throws FaultsError naming what is wrong. */
export function faultsFromOptions(options: FaultOptions): FaultsChange {
  const fromFile = options.faults ? readFaultsFile(options.faults) : {};
  const number = (flag: string, value: string) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) throw new FaultsError(`${flag} ${value}: not a number`);
    return parsed;
  };
  const busy: Record<string, number> = {};
  for (const entry of options.busy ?? []) {
    const match = /^([^=]+)=(.+)$/.exec(entry);
    if (!match) throw new FaultsError(`--busy ${entry}: write ENVIRONMENT=SECONDS, e.g. --busy hello-api-prod=120`);
    busy[match[1]!] = number('--busy', match[2]!);
  }
  const flags: Record<string, unknown> = {
    ...(options.failImage?.length ? { failingImages: [...(fromFile.failingImages ?? []), ...options.failImage] } : {}),
    ...(Object.keys(busy).length ? { busyEnvironments: { ...fromFile.busyEnvironments, ...busy } } : {}),
    ...(options.throttle === undefined ? {} : { throttleRate: number('--throttle', options.throttle) }),
    ...(options.dropEvents === undefined ? {} : { dropEcrEvents: number('--drop-events', options.dropEvents) }),
    ...(options.ebUpdateSeconds === undefined ? {} : { ebUpdateSeconds: number('--eb-update-seconds', options.ebUpdateSeconds) }),
  };
  return parseFaultsChange({ ...fromFile, ...flags }, options.faults ? `${options.faults} and the flags` : 'the flags');
}

/**
 * `--keep-executions N`: how many finished executions the endpoint keeps (older ones are dropped, as
 * AWS forgets them after 90 days); undefined when not given. Returns a message when N is not a whole number ≥ 1.
 */
export function keepExecutionsOption(value: string | undefined): { keepExecutions?: number; error?: string } {
  if (value === undefined) return {};
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isInteger(parsed) || parsed < 1) return { error: `--keep-executions ${value}: not a whole number of at least 1` };
  return { keepExecutions: parsed };
}

/** `greenlight local`: the endpoint with the config's apps, environments and repositories, until interrupted. */
export async function localCommand(options: { port: string; config: string; fast?: boolean; lambdaLogs?: boolean; data?: string; keepExecutions?: string } & FaultOptions): Promise<number> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`error: --port ${options.port} is not a TCP port number\n`);
    return 2;
  }
  const { keepExecutions, error: keepError } = keepExecutionsOption(options.keepExecutions);
  if (keepError) {
    process.stderr.write(`error: ${keepError}\n`);
    return 2;
  }
  let change: FaultsChange;
  try {
    change = faultsFromOptions(options);
  } catch (error) {
    if (!(error instanceof FaultsError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  let stack: GreenlightLocal;
  try {
    stack = await startGreenlightLocal({
      configPath: options.config,
      port,
      // People get AWS's PutEvents: aws.* sources refused (tests replay deliveries; a --faults file may too).
      faults: copyFaults(options.fast ? testFaults : demoFaults, { replayAwsEvents: false }),
      lambdaLogLevel: options.lambdaLogs ? 'INFO' : 'SILENT',
      schedules: true,
      ...(options.data ? { dataDir: options.data } : {}),
      ...(keepExecutions === undefined ? {} : { keepExecutions }),
    });
  } catch (error) {
    const message = error instanceof DataDirError ? `--data ${options.data}: ${error.message}` : listenFailure(error, port);
    if (!message) throw error;
    process.stderr.write(`error: ${message}\n`);
    return 1;
  }
  try {
    stack.aws.setFaults(change);
  } catch (error) {
    await stack.close();
    if (!(error instanceof FaultsError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  const { endpoint } = stack;
  stack.aws.bus.addRule({
    name: 'greenlight-local-console',
    pattern: { source: ['aws.states', 'aws.ecr'], 'detail-type': ['ECR Image Action', 'Step Functions Execution Status Change'] },
    target: async (event) => {
      const d = event.detail as Record<string, any>;
      if (event.source === 'aws.ecr') console.log(`${dim(event.time)} push ${d['repository-name']}:${d['image-tag'] ?? '(no tag)'} ${dim(d['image-digest'])}`);
      else {
        const colour = d.status === 'SUCCEEDED' ? green : d.status === 'RUNNING' ? yellow : red;
        console.log(`${dim(event.time)} execution ${d.name} ${colour(d.status)}${d.error ? ` ${d.error}: ${d.cause ?? ''}` : ''}`);
      }
    },
  });
  stack.aws.sns.onPublish = (message) => console.log(`${dim(message.at.toISOString())} notification: ${message.subject ?? ''}\n${message.message}`);
  console.log(`${bold('greenlight local')} endpoint on ${bold(endpoint)} (S3, ECR and its registry, Elastic Beanstalk, Step Functions, SNS, EventBridge, Lambda, CloudTrail)`);
  console.log(`\n  export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=${stack.aws.region} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n`);
  for (const warning of stack.warnings) console.log(`  ${yellow('warning:')} ${warning.path}: ${warning.message}`);
  for (const [name, app] of Object.entries(stack.config.applications)) {
    console.log(`  ${bold(name)}: ${app.stages.map((s) => s.environment).join(' → ')}  ${dim(`repositories: ${app.images.join(', ')}`)}`);
  }
  console.log(`\n  state machine ${stack.stateMachineArn}`);
  if (stack.approvalUrl) {
    console.log(`  approvals     export GREENLIGHT_APPROVAL_URL=${stack.approvalUrl}`);
    console.log(dim(`  identities    ${stack.aws.identities.map((i) => `${i.accessKeyId}/${i.secretAccessKey} (${i.arn.split(':').pop()})`).join(', ')}`));
  }
  console.log(`  bundles s3://${stack.bundleBucket}  audit s3://${stack.auditBucket}`);
  if (stack.aws.data) {
    const restored = stack.aws.restored;
    const found = restored
      ? `taken back: ${restored.repositories} repositories, ${restored.images} images, ${restored.environments} environments, ${restored.executions} executions${restored.aborted ? ` (${restored.aborted} were running and ended ABORTED, greenlight.Shutdown: executions do not resume)` : ''}`
      : 'empty: a first start';
    console.log(`  state         ${stack.aws.data.path} ${dim(`(${found})`)}`);
  }
  console.log(`  executions    the newest ${stack.aws.sfn.keepExecutions} finished ones are kept ${dim('(--keep-executions; older ones answer ExecutionDoesNotExist, as AWS after 90 days)')}`);
  const knobs = describeFaults(change);
  console.log(`  faults        ${knobs || dim('none')}  ${dim(`(change while running: curl -X POST -H content-type:application/json -d '{"throttleRate":0.2}' ${endpoint}/_greenlight/faults)`)}`);
  for (const fn of stack.manifest.functions) {
    for (const schedule of fn.schedules) {
      const seconds = schedule.periodSeconds * stack.aws.faults.waitScale;
      console.log(`  schedule      ${fn.name} ${schedule.expression} ${dim(`(here every ${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s; on demand: aws lambda invoke --function-name ${fn.name} out.json)`)}`);
    }
  }
  const registry = new URL(endpoint).host;
  console.log(
    dim(
      `\nPush an image and watch it deploy:\n  greenlight sample-manifest > m.json\n  aws --endpoint-url ${endpoint} ecr put-image --repository-name hello-api --image-tag v0.1.0 --image-manifest file://m.json\n` +
        `or with a registry client (plain HTTP):\n  aws --endpoint-url ${endpoint} ecr get-login-password | docker login -u AWS --password-stdin ${registry}\n  docker push ${registry}/hello-api:v0.1.0\n\nCtrl-C stops.`,
    ),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log('stopping…');
  await stack.close();
  return 0;
}

/** One line naming the knobs a person set, as they set them. */
function describeFaults(change: FaultsChange): string {
  const parts: string[] = [];
  if (change.failingImages?.length) parts.push(`failing ${change.failingImages.join(', ')}`);
  for (const [name, seconds] of Object.entries(change.busyEnvironments ?? {})) parts.push(`${name} busy ${seconds} s`);
  if (change.throttleRate !== undefined) parts.push(`throttle ${change.throttleRate}`);
  if (change.dropEcrEvents !== undefined) parts.push(`drop ${change.dropEcrEvents} push events`);
  if (change.ebUpdateSeconds !== undefined) parts.push(`EB updates ${change.ebUpdateSeconds} s`);
  const shown = new Set(['failingImages', 'busyEnvironments', 'throttleRate', 'dropEcrEvents', 'ebUpdateSeconds']);
  for (const [key, value] of Object.entries(change)) if (!shown.has(key) && value !== undefined) parts.push(`${key} ${JSON.stringify(value)}`);
  return parts.join(', ');
}
