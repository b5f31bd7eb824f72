import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { demoFaults, testFaults } from '../../local/faults.ts';
import { sampleManifest } from '../../local/services/ecr.ts';
import { type GreenlightLocal, startGreenlightLocal } from '../../local/stack.ts';
import { callApprovalApi } from '../approval-client.ts';
import { bold, dim, green, red, seconds, yellow } from '../output.ts';
import { type WatchedExecution, followExecution } from '../watch.ts';
import { type Scenario, scenarios } from './demo-scenarios.ts';

export { scenarios, type Scenario };

interface Clients {
  ecr: ECRClient;
  sfn: SFNClient;
  eb: ElasticBeanstalkClient;
}

/** Pushes like CI does (ECR PutImage over the wire) and returns the digest ECR computed. */
async function push({ ecr }: Clients, repository: string, tag: string): Promise<string> {
  const result = await ecr.send(new PutImageCommand({ repositoryName: repository, imageTag: tag, imageManifest: sampleManifest(`${repository}:${tag}`) }));
  const digest = result.image?.imageId?.imageDigest ?? '';
  console.log(`${bold('push')} ${repository}:${tag} ${dim(digest)}`);
  return digest;
}

/** Waits for the execution a push started (EventBridge → on-image-pushed → StartExecution), as a person would find it. */
async function executionFor({ sfn }: Clients, stack: GreenlightLocal, known: Set<string>): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }));
    const fresh = executions.find((e) => e.executionArn && !known.has(e.executionArn));
    if (fresh?.executionArn) {
      known.add(fresh.executionArn);
      return fresh.executionArn;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no execution started within 10 s of the push: is the EventBridge rule of serverless.yml matching?');
}

function summary(result: WatchedExecution): void {
  const { plan, stages = [], audit } = result.state;
  const bundle = stages.find((s) => s.release)?.release;
  const heading = result.outcome === 'already-deployed' ? 'Already deployed' : 'Deployed';
  console.log(`\n${green(bold(heading))} in ${seconds(result.durationMs)}`);
  const rows: Array<[string, string]> = [
    ['application', plan?.application ?? ''],
    ['environments', stages.map((s) => `${s.environment} (${s.health ?? s.outcome})`).join(', ')],
    ['image', plan ? `${plan.image.repository}:${plan.image.tag}` : ''],
    ['digest', plan?.image.digest ?? ''],
    ['version label', bundle?.versionLabel ?? ''],
    ['bundle', bundle ? `s3://${bundle.bucket}/${bundle.key}` : ''],
    ['audit record', audit?.key ?? ''],
  ];
  for (const [name, value] of rows) console.log(`  ${name.padEnd(14)} ${value}`);
}

async function deployOnce(clients: Clients, stack: GreenlightLocal, known: Set<string>, repository: string, tag: string): Promise<WatchedExecution> {
  await push(clients, repository, tag);
  const executionArn = await executionFor(clients, stack, known);
  console.log(dim(`execution ${executionArn}`));
  return followExecution(clients.sfn, executionArn, { eb: clients.eb });
}

/**
 * `npm start`: the whole pipeline on this machine. Starts the local endpoint, pushes a sample image
 * with ECR PutImage and follows the deployment until the environment is Green (or rolled back).
 */
export async function demoCommand(options: { scenario: Scenario; config: string; port?: number; approveAs?: string; fast?: boolean }): Promise<number> {
  const started = Date.now();
  // The promotion prints a command for another terminal, so it needs a port that person can know.
  const port = options.port ?? (options.scenario === 'promote' ? 4566 : 0);
  const stack = await startGreenlightLocal({ configPath: options.config, faults: options.fast ? testFaults : demoFaults, port });
  // The demo pushes as CI does, with CI's own identity.
  const credentials = { accessKeyId: 'ci', secretAccessKey: 'ci-secret' };
  const clients: Clients = {
    ecr: new ECRClient({ endpoint: stack.endpoint, region: stack.aws.region, credentials }),
    sfn: new SFNClient({ endpoint: stack.endpoint, region: stack.aws.region, credentials }),
    eb: new ElasticBeanstalkClient({ endpoint: stack.endpoint, region: stack.aws.region, credentials }),
  };
  console.log(`${bold('greenlight')} local AWS endpoint on ${stack.endpoint} ${dim(`(started in ${seconds(Date.now() - started)})`)}`);
  const known = new Set<string>();
  try {
    if (options.scenario === 'deploy') {
      const result = await deployOnce(clients, stack, known, 'hello-api', 'v0.1.0');
      return report(result);
    }
    if (options.scenario === 'broken') {
      console.log(dim('First a good version, so there is something to roll back to.'));
      const first = await deployOnce(clients, stack, known, 'hello-api', 'v0.1.0');
      if (first.status !== 'SUCCEEDED') return report(first);
      console.log(`\n${bold('Now a broken image')}: its containers fail their health checks (local fault: failingImages).`);
      const manifest = sampleManifest('hello-api:v0.2.0');
      const { createHash } = await import('node:crypto');
      stack.aws.faults.failingImages = [`sha256:${createHash('sha256').update(manifest).digest('hex')}`];
      const result = await deployOnce(clients, stack, known, 'hello-api', 'v0.2.0');
      const env = stack.aws.eb.environment('hello-api-dev');
      console.log(`\nhello-api-dev is back on ${bold(String(env?.VersionLabel))} (${env?.Status}/${env?.Health}).`);
      return report(result);
    }
    if (options.scenario === 'promote') return report(await promote(clients, stack, known, options.approveAs));
    console.log(dim('shop runs four containers (Dockerrun v2). Its client, worker and nginx images were pushed earlier;'));
    console.log(dim('their events are not replayed (local fault: dropEcrEvents), so only the server push deploys.'));
    stack.aws.faults.dropEcrEvents = 3;
    for (const repository of ['shop-client', 'shop-worker', 'shop-nginx']) await push(clients, repository, 'v1.0.0');
    const result = await deployOnce(clients, stack, known, 'shop-server', 'v1.4.0');
    if (result.status === 'SUCCEEDED') {
      console.log(`\n${bold('Containers in the deployed bundle')} (pinned by digest):`);
      for (const [repository, reference] of Object.entries(result.state.stages?.find((s) => s.release)?.release?.images ?? {})) console.log(`  ${repository.padEnd(12)} ${dim(reference)}`);
    }
    return report(result);
  } finally {
    await stack.close();
  }
}

/**
 * dev → approval → prod. The approval is given by a person in another terminal with their own
 * identity, or, for scripts and tests, by `--approve-as NAME` (a local identity).
 */
async function promote(clients: Clients, stack: GreenlightLocal, known: Set<string>, approveAs?: string): Promise<WatchedExecution> {
  const identity = approveAs ? stack.aws.identities.find((i) => i.accessKeyId === approveAs) : undefined;
  if (approveAs && !identity) throw new Error(`--approve-as ${approveAs}: no such local identity (${stack.aws.identities.map((i) => i.accessKeyId).join(', ')})`);
  stack.aws.sns.onPublish = (message) => {
    console.log(`\n${yellow(bold('Notification'))} ${message.subject ?? ''}\n${dim(message.message)}\n`);
    const id = /greenlight approve (\S+)/.exec(message.message)?.[1];
    if (!id) return;
    if (!identity) {
      console.log(`Approve it in another terminal, as a release manager (local identity alice):`);
      console.log(bold(`  AWS_ACCESS_KEY_ID=alice AWS_SECRET_ACCESS_KEY=alice-secret GREENLIGHT_APPROVAL_URL=${stack.approvalUrl} npx greenlight approve ${id} --comment "ship it"`));
      console.log(dim('  (greenlight reject … --reason "…" ends it instead; `greenlight pending` lists what waits)\n'));
      return;
    }
    console.log(`Approving as ${identity.arn} (--approve-as ${identity.accessKeyId})`);
    void callApprovalApi(stack.approvalUrl!, 'POST', `/approvals/${id}`, { decision: 'approve', comment: 'approved by the demo (--approve-as)' }, identity).catch((error: Error) =>
      console.log(red(`approval refused: ${error.message}`)),
    );
  };
  return deployOnce(clients, stack, known, 'hello-api', 'v1.0.0');
}

function report(result: WatchedExecution): number {
  if (result.outcome === 'deployed' || result.outcome === 'already-deployed') {
    summary(result);
    return 0;
  }
  console.log(`\n${red(bold(`Deployment ${result.outcome}`))} after ${seconds(result.durationMs)}`);
  console.log(`  ${result.error ?? ''}: ${result.cause ?? ''}`);
  return 1;
}
