// npm run soak [-- --pushes N --out FILE --seed S]: many overlapping pushes through the whole local
// pipeline, the way CI traffic overlaps, with AWS misbehaving; then counts what a user would check.
// Exits non-zero unless nothing was lost, doubled, deployed backwards or failed falsely and every
// environment ends on the newest good digest of every container. Not part of npm test (minutes long).
import { writeFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { sampleManifest } from '../local/services/ecr.ts';
import { startGreenlightLocal } from '../local/stack.ts';
import { imagesInBundle } from '../shared/bundle/zip.ts';
import { readExecutionHistory } from '../shared/audit-read.ts';
import { isNewerPush } from '../shared/environments/lease.ts';
import { executionName } from '../shared/naming.ts';

const { values: options } = parseArgs({
  options: {
    pushes: { type: 'string', default: '1000' },
    out: { type: 'string', default: 'soak-results.json' },
    seed: { type: 'string', default: '42' },
    help: { type: 'boolean', default: false },
  },
});
if (options.help) {
  console.log(`npm run soak -- [--pushes N] [--out FILE] [--seed S]
  N pushes (default 1000, at least 200) across 6 applications and 12 environments (dev + staging),
  one of them multi-container (pushed as releases), pairs of tags racing for one digest, 5 % of ECR
  events dropped, 10 % of EB and ECR calls throttled, busy environments and images that fail health.
  Prints the figures, writes them as JSON to FILE, exits 1 if any promise is broken.`);
  process.exit(0);
}

const totalPushes = Math.max(200, Number(options.pushes));
let randomState = Number(options.seed) || 42;
/** A seeded generator, so a failing soak can be replayed with the same choices. */
function random(): number {
  randomState = (randomState * 1103515245 + 12345) % 2 ** 31;
  return randomState / 2 ** 31;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What the soak did to the pipeline, beside the pushes. */
const counters = { dropped: 0, startedByReconciler: 0, busy: 0 };

// ── the applications ────────────────────────────────────────────────────────────────────────────
const singles = ['orders', 'billing', 'search', 'auth', 'mailer'];
const shopRepos = ['shop-web', 'shop-api', 'shop-jobs'];
const apps: Record<string, string[]> = { ...Object.fromEntries(singles.map((name) => [name, [name]])), shop: shopRepos };

function writeConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'greenlight-soak-'));
  for (const [app, repos] of Object.entries(apps)) {
    mkdirSync(join(dir, app));
    const dockerrun =
      repos.length === 1
        ? { AWSEBDockerrunVersion: '1', Image: { Name: `{{image:${repos[0]}}}`, Update: 'false' }, Ports: [{ ContainerPort: 8080 }] }
        : {
            AWSEBDockerrunVersion: 2,
            containerDefinitions: repos.map((repo, i) => ({ name: repo, image: `{{image:${repo}}}`, essential: i === 0, memory: 128 })),
          };
    writeFileSync(join(dir, app, 'Dockerrun.aws.json'), JSON.stringify(dockerrun, null, 2));
  }
  const config = Object.entries(apps)
    .map(
      ([app, repos]) => `  ${app}:
    images: [${repos.join(', ')}]
    bundle: { dockerrun: ${app}/Dockerrun.aws.json }
    stages:
      - { environment: ${app}-dev, tags: ['v*'] }
      - { environment: ${app}-stg, tags: ['semver:>=1.0.0'] }
    health: { timeout: 60s }`,
    )
    .join('\n');
  const path = join(dir, 'greenlight.yml');
  writeFileSync(path, `applications:\n${config}\n`);
  return path;
}

// ── the run ─────────────────────────────────────────────────────────────────────────────────────
interface Push {
  repository: string;
  application: string;
  tag: string;
  digest: string;
  failing: boolean;
}

async function main(): Promise<void> {
  const started = performance.now();
  const stack = await startGreenlightLocal({
    configPath: writeConfig(),
    faults: { ebUpdateSeconds: 0.2, ebVersionProcessingSeconds: 0.05, waitScale: 0.01 },
    // The soak counts every execution at the end: keep them all (the endpoint drops finished ones beyond 1,000 by default).
    keepExecutions: Number.MAX_SAFE_INTEGER,
  });
  const faults = stack.aws.faults;
  const client = { endpoint: stack.endpoint, region: stack.aws.region, credentials: { accessKeyId: 'ci', secretAccessKey: 'ci-secret' } };
  const ecr = new ECRClient({ ...client, maxAttempts: 10 });
  const sfn = new SFNClient({ ...client, maxAttempts: 10 });
  const pushes: Push[] = [];
  let sequence = 0;

  async function push(application: string, repository: string, tags: string[], failing: boolean, dropChance: number): Promise<void> {
    const seed = `${repository}:${++sequence}`;
    const manifest = sampleManifest(seed);
    for (const tag of tags) {
      if (random() < dropChance) {
        faults.dropEcrEvents += 1;
        counters.dropped += 1;
      }
      const result = await ecr.send(new PutImageCommand({ repositoryName: repository, imageTag: tag, imageManifest: manifest }));
      const digest = result.image!.imageId!.imageDigest!;
      if (failing && !faults.failingImages.includes(digest)) faults.failingImages.push(digest);
      pushes.push({ repository, application, tag, digest, failing });
    }
  }

  // A first good release of every application, settled, so first-release rules do not blur the figures.
  for (const [application, repos] of Object.entries(apps)) await Promise.all(repos.map((repo) => push(application, repo, ['v1.0.0'], false, 0)));
  await drain(stack, sfn);

  // The traffic: bursts of overlapping pushes, the AWS misbehaviour switched on.
  faults.throttleRate = 0.1;
  let version = 1;
  let bursts = 0;
  // As its schedule does in AWS: a run that fails (timed out on a loaded machine) is simply followed by the next one.
  let sweeping = false;
  const reconciler = setInterval(() => {
    if (sweeping) return; // one run at a time, like a schedule whose runs do not overlap
    sweeping = true;
    reconcile(stack)
      .catch((error: Error) => console.log(`\nreconciler run failed, the next one sweeps again: ${error.message}`))
      .finally(() => {
        sweeping = false;
      });
  }, 1500);
  while (pushes.length < totalPushes) {
    const burst: Array<Promise<void>> = [];
    for (let i = 0; i < 2 && pushes.length + burst.length < totalPushes; i++) {
      const application = Object.keys(apps)[Math.floor(random() * 6)]!;
      const repos = apps[application]!;
      version += 1;
      const failing = random() < 0.06;
      const kind = random();
      if (repos.length > 1 && kind < 0.6) {
        // `docker compose push`: every container of the release at once.
        for (const repo of repos) burst.push(push(application, repo, [`v1.${version}.0`], failing && repo === repos[0], 0.05));
      } else if (kind < 0.8) {
        // One build tags one image twice, back to back: two tags racing for one environment.
        const repo = repos[Math.floor(random() * repos.length)]!;
        burst.push(push(application, repo, [`v1.${version}.0`, `v1.${version}.1`], failing, 0.05));
      } else {
        const repo = repos[Math.floor(random() * repos.length)]!;
        burst.push(push(application, repo, [`v1.${version}.0`], failing, 0.05));
      }
    }
    if (random() < 0.2) {
      const application = Object.keys(apps)[Math.floor(random() * 6)]!;
      stack.aws.eb.makeBusy(`${application}-${random() < 0.5 ? 'dev' : 'stg'}`, 0.3 + random());
      counters.busy += 1;
    }
    await Promise.all(burst);
    bursts += 1;
    if (bursts % 10 === 0) process.stdout.write(`\r${pushes.length}/${totalPushes} pushes, ${(await executionsSoFar(stack, sfn)).length} executions…`);
    // Some bursts land mid-deployment, some after it, and now and then a quiet spell lets everything
    // deploy (so failing images reach health checks and roll back): every case must hold.
    await sleep(bursts % 40 === 0 ? 3000 : 150 + random() * 900);
  }
  process.stdout.write('\n');

  // The last push of every repository is a good one, so "newest" is well defined for every environment.
  for (const [application, repos] of Object.entries(apps)) {
    version += 1;
    await Promise.all(repos.map((repo) => push(application, repo, [`v1.${version}.0`], false, 0.05)));
  }
  await drain(stack, sfn);
  clearInterval(reconciler);
  faults.throttleRate = 0;
  for (let round = 0; round < 5; round++) {
    const before = (await executionsSoFar(stack, sfn)).length;
    await reconcile(stack);
    await drain(stack, sfn);
    if ((await executionsSoFar(stack, sfn)).length === before) break;
  }

  const figures = await measure(stack, sfn, pushes);
  const seconds = (performance.now() - started) / 1000;
  const result = { ...figures, eventsDropped: counters.dropped, startedByReconciler: counters.startedByReconciler, busyEnvironments: counters.busy, seconds: Math.round(seconds), command: `npm run soak -- --pushes ${totalPushes} --seed ${options.seed}` };
  const out = resolve(options.out!);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.table({
    pushes: figures.pushes,
    executions: figures.executions,
    deployed: figures.deployed,
    superseded: figures.superseded,
    'already-deployed': figures.alreadyDeployed,
    'rolled back (bad images)': figures.rolledBack,
    'refused (bad image, failed before)': figures.refusedAgain,
    lost: figures.lost,
    doubled: figures.doubled,
    backwards: figures.backwards,
    'false failures': figures.falseFailures,
    'environments on newest': `${figures.environmentsOnNewest}/${figures.environments}`,
    'ECR events dropped': counters.dropped,
    'started by the reconciler': counters.startedByReconciler,
    'environments made busy': counters.busy,
    seconds: Math.round(seconds),
  });
  if (figures.problems.length > 0) console.log(`problems:\n  ${figures.problems.slice(0, 30).join('\n  ')}`);
  console.log(`written to ${out}`);
  await stack.close();
  const ok = figures.lost === 0 && figures.doubled === 0 && figures.backwards === 0 && figures.falseFailures === 0 && figures.environmentsOnNewest === figures.environments;
  console.log(ok ? 'soak: every promise held' : 'soak: a promise was broken (see problems above)');
  process.exit(ok ? 0 : 1);
}

type Stack = Awaited<ReturnType<typeof startGreenlightLocal>>;

/** Runs the reconciler the way its schedule does (a Lambda invoke), as a lost event would be found. */
async function reconcile(stack: Stack): Promise<void> {
  const fn = stack.manifest.functions.find((f) => f.key === 'reconcile');
  if (!fn) throw new Error('serverless.yml declares no reconcile function');
  const result = await stack.aws.lambda.invoke(fn.name, { source: 'aws.scheduler', 'detail-type': 'Scheduled Event' });
  if (result.ok) counters.startedByReconciler += (result.payload as { started?: unknown[] } | null)?.started?.length ?? 0;
  if (!result.ok && result.error.errorType !== 'TransientAwsError') throw new Error(`reconciler failed: ${result.error.errorType}: ${result.error.errorMessage}`);
}

async function executionsSoFar(stack: Stack, sfn: SFNClient): Promise<Array<{ executionArn: string; name: string; status: string }>> {
  const all: Array<{ executionArn: string; name: string; status: string }> = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn, maxResults: 1000, nextToken }));
    for (const e of page.executions ?? []) all.push({ executionArn: e.executionArn!, name: e.name!, status: e.status! });
    nextToken = page.nextToken;
  } while (nextToken);
  return all;
}

/** Waits until no execution runs (new ones may start while others end). */
async function drain(stack: Stack, sfn: SFNClient): Promise<void> {
  for (;;) {
    await stack.aws.bus.settle();
    const running = (await executionsSoFar(stack, sfn)).filter((e) => e.status === 'RUNNING');
    if (running.length === 0) return;
    await Promise.all(running.map((e) => stack.aws.sfn.execution(e.executionArn).done));
  }
}


// ── the figures ─────────────────────────────────────────────────────────────────────────────────
async function measure(stack: Stack, sfn: SFNClient, pushes: Push[]) {
  const problems: string[] = [];
  const executions = await executionsSoFar(stack, sfn);
  const byName = new Map(executions.map((e) => [e.name, e]));
  const failing = new Set(pushes.filter((p) => p.failing).map((p) => p.digest));
  const pushedAt = new Map<string, string>(); // digest → imagePushedAt (ECR's own)
  for (const repo of Object.values(apps).flat()) {
    for (const image of stack.aws.ecr.images(repo)) pushedAt.set(image.digest, image.pushedAt.toISOString());
  }

  let lost = 0;
  for (const p of pushes) {
    if (!byName.has(executionName(p.application, p))) {
      lost += 1;
      problems.push(`lost: ${p.repository}:${p.tag} (${p.digest.slice(7, 19)}) has no execution`);
    }
  }

  let deployed = 0;
  let superseded = 0;
  let alreadyDeployed = 0;
  let rolledBack = 0;
  let refusedAgain = 0;
  let falseFailures = 0;
  /** `${environment}/${label}` of every rollback a Roll Back step started (its requestId may be unknown after a retry). */
  const rollbackTargets = new Set<string>();
  /** requestId → the execution whose step made that UpdateEnvironment (to explain a problem). */
  const requestOwners = new Map<string, string>();
  const paths = new Map<string, string[]>();
  for (const e of executions) {
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    const input = JSON.parse(description.input ?? '{}').image as { repository: string; digest: string; tag: string };
    const history = await readExecutionHistory(sfn, e.executionArn);
    const entered = history.filter((h) => h.stateEnteredEventDetails).map((h) => h.stateEnteredEventDetails!.name!);
    paths.set(e.name, history.filter((h) => h.stateEnteredEventDetails).map((h) => `${h.timestamp?.toISOString().slice(17, 23)} ${h.stateEnteredEventDetails!.name}`));
    for (const h of history) {
      const output = h.lambdaFunctionSucceededEventDetails?.output;
      const requestId = output ? /"requestId":"([^"]+)"/.exec(output)?.[1] : undefined;
      if (requestId) requestOwners.set(requestId, `${e.name}${output?.includes('"failureCause"') ? ' (rollback)' : ''}`);
      if (output?.includes('"failureCause"')) {
        const deployment = JSON.parse(output).deployment;
        rollbackTargets.add(`${deployment?.environment}/${deployment?.versionLabel}`);
      }
    }
    if (description.status === 'SUCCEEDED') {
      if (entered.includes('Superseded')) superseded += 1;
      else if (entered.includes('Stage Deployed')) deployed += 1;
      else alreadyDeployed += 1;
    } else if (failing.has(input.digest)) {
      // A bad image: rolled back, or refused because another tag of the same bytes already failed there.
      if (entered.includes('Deployment Rolled Back') || entered.includes('Nothing To Roll Back')) rolledBack += 1;
      else refusedAgain += 1;
    } else {
      falseFailures += 1;
      const failedTask = [...history].reverse().find((h) => h.lambdaFunctionFailedEventDetails)?.lambdaFunctionFailedEventDetails;
      const where = failedTask ? ` (last task failure: ${failedTask.error}: ${failedTask.cause?.slice(0, 400)})` : '';
      problems.push(`false failure: ${e.name} ${description.status} ${description.error}: ${description.cause?.slice(0, 200)}${where}`);
    }
  }

  // Every UpdateEnvironment that deployed (not a rollback), per environment, with the images its bundle pins.
  const bundleImages = new Map<string, string[]>();
  async function imagesOf(application: string, label: string): Promise<string[]> {
    const key = `${application}/${label}`;
    if (!bundleImages.has(key)) {
      const version = stack.aws.eb.storedVersion(application, label);
      const bytes = version?.sourceBundle ? await stack.aws.s3.readObject(version.sourceBundle.S3Bucket, version.sourceBundle.S3Key) : undefined;
      bundleImages.set(key, bytes ? imagesInBundle(bytes) : []);
    }
    return bundleImages.get(key)!;
  }
  const digestOf = (reference: string) => reference.split('@')[1] ?? '';
  const repoOf = (reference: string) => (reference.split('@')[0] ?? '').split('/').pop() ?? '';

  let doubled = 0;
  let backwards = 0;
  let environmentsOnNewest = 0;
  const environments: string[] = [];
  for (const [application, repos] of Object.entries(apps)) {
    // The newest good push of every repository: what every environment must end on.
    const newest: Record<string, string> = {};
    for (const repo of repos) {
      const candidates = pushes.filter((p) => p.repository === repo && !p.failing);
      let best: { digest: string; pushedAt: string } | undefined;
      for (const c of candidates) {
        const at = pushedAt.get(c.digest)!;
        if (!best || isNewerPush({ digest: c.digest, pushedAt: at }, best)) best = { digest: c.digest, pushedAt: at };
      }
      newest[repo] = best!.digest;
    }
    for (const environment of [`${application}-dev`, `${application}-stg`]) {
      environments.push(environment);
      const updates = stack.aws.eb
        .events(environment)
        .filter((event) => event.Message === 'Deploying new version to instance(s).')
        .sort((a, b) => a.seq - b.seq);
      const seenBundles = new Map<string, string>();
      const seenLabels = new Set<string>();
      const lastAt: Record<string, number> = {};
      for (const update of updates) {
        const label = update.VersionLabel ?? '';
        // Putting back what ran before a failed deployment is the one way back, and it is not a new deployment.
        if (seenLabels.has(label) && rollbackTargets.has(`${environment}/${label}`)) continue;
        seenLabels.add(label);
        const images = await imagesOf(application, label);
        const identity = images.slice().sort().join(',');
        if (seenBundles.has(identity)) {
          doubled += 1;
          const second = requestOwners.get(update.RequestId ?? '') ?? 'an unknown request';
          const first = seenBundles.get(identity) ?? '';
          problems.push(`doubled: ${environment} got ${label} a second time (by ${second}; first by ${first})`);
          if (process.env.SOAK_DEBUG) for (const name of [first, second]) console.log(name, (paths.get(name.split(' ')[0]!) ?? []).join(' | '));
        }
        seenBundles.set(identity, requestOwners.get(update.RequestId ?? '') ?? 'an unknown request');
        for (const reference of images) {
          const at = Date.parse(pushedAt.get(digestOf(reference)) ?? '');
          const repo = repoOf(reference);
          if (lastAt[repo] !== undefined && at < lastAt[repo]!) {
            backwards += 1;
            problems.push(`backwards: ${environment} went to an older ${repo} with ${update.VersionLabel}`);
          }
          // A bad image is rolled back: what follows may (must) carry that container's last good image again.
          if (!failing.has(digestOf(reference))) lastAt[repo] = Math.max(lastAt[repo] ?? 0, at);
        }
      }
      const running = stack.aws.eb.environment(environment);
      const runningImages = running?.VersionLabel ? await imagesOf(application, running.VersionLabel) : [];
      const onNewest = repos.every((repo) => runningImages.some((reference) => repoOf(reference) === repo && digestOf(reference) === newest[repo]));
      if (onNewest && running?.Status === 'Ready' && running.Health === 'Green') environmentsOnNewest += 1;
      else problems.push(`not on newest: ${environment} runs ${running?.VersionLabel} (${running?.Status}/${running?.Health}), newest ${repos.map((r) => `${r}@${newest[r]!.slice(7, 19)}`).join(' ')}`);
    }
  }
  return {
    pushes: pushes.length,
    executions: executions.length,
    deployed,
    superseded,
    alreadyDeployed,
    rolledBack,
    refusedAgain,
    lost,
    doubled,
    backwards,
    falseFailures,
    environments: environments.length,
    environmentsOnNewest,
    problems,
  };
}

await main();
