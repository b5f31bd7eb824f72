// The local endpoint's own overhead and memory (issue 12): how long the pipeline takes from PutImage to
// UpdateEnvironment when Elastic Beanstalk and the Wait states take no time, how many deployments it
// completes per second, and whether its memory stays flat over 2,000 deployments.
//
//   node --expose-gc --import tsx bench/endpoint.ts           (npm run bench -- --only endpoint)
//   BENCH_ENDPOINT_DEPLOYMENTS=500 node --import tsx bench/endpoint.ts   (a shorter run)
//   BENCH_ENDPOINT_PROFILE=out.cpuprofile …   (a CPU profile of the throughput run only, for DevTools)
//   BENCH_ENDPOINT_HEAP_SNAPSHOTS=DIR …       (a heap snapshot at each memory checkpoint, to compare in DevTools)
//
// The workload: 100 applications, each with one repository and one environment (single stage). A
// "lane" pushes a new image of its repository, waits until that push's execution has ended, and pushes
// the next: every push is the newest of its environment and finds the environment free, so each one is
// a full deployment (plan, lease, bundle, version, UpdateEnvironment, health, release, audit), never
// superseded or "already deployed". Lanes are separate environments because a deployment holds its
// environment's lease: pushes to one environment serialise by design, and a throughput measured on
// one environment would measure the lease, not the endpoint. 100 lanes is the "100 in flight" case.
//
// Everything runs in this process (the endpoint, the handlers, the SDK clients of the pushes), as
// `greenlight local` does; the pushes go over HTTP like any client's.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { sampleManifest } from '../local/services/ecr.ts';
import { type GreenlightLocal, startGreenlightLocal } from '../local/stack.ts';
import { executionName } from '../shared/naming.ts';
import { type Figure, median, percentile, type Section } from './figures.ts';

const lanes = 100;
/** Deployments in the throughput and memory run (the issue's 2,000; an environment variable shortens it). */
const totalDeployments = Number(process.env.BENCH_ENDPOINT_DEPLOYMENTS ?? 2000);
/** Finished executions the endpoint keeps in this run: fewer than the first checkpoint, so the checkpoints see the steady state. */
const keepExecutions = 200;
/** Application versions each application keeps (install.maxVersions): 100 applications share EB's quota of 1,000. */
const maxVersions = 5;

/** `global.gc`, with or without --expose-gc. */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function writeConfig(): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'greenlight-bench-endpoint-'));
  const apps: string[] = [];
  for (let lane = 0; lane < lanes; lane++) {
    const app = `lane${lane}`;
    mkdirSync(join(dir, app));
    writeFileSync(join(dir, app, 'Dockerrun.aws.json'), JSON.stringify({ AWSEBDockerrunVersion: '1', Image: { Name: `{{image:${app}-web}}`, Update: 'false' }, Ports: [{ ContainerPort: 8080 }] }));
    apps.push(`  ${app}:\n    images: [${app}-web]\n    bundle: { dockerrun: ${app}/Dockerrun.aws.json }\n    stages:\n      - { environment: ${app}-dev, tags: ['v*'] }\n    health: { timeout: 60s }`);
  }
  const path = join(dir, 'greenlight.yml');
  writeFileSync(path, `install:\n  maxVersions: ${maxVersions}\napplications:\n${apps.join('\n')}\n`);
  return { path, dir };
}

interface Outcome {
  status: string;
  /** ms from PutImage sent to the environment's "Environment update is starting." (UpdateEnvironment), if measured. */
  toUpdate?: number;
}

class Bench {
  private sequence = 0;
  /** Ended executions not yet awaited, by name (removed when taken, so the bench holds nothing per deployment). */
  private readonly ended = new Map<string, string>();
  private readonly waiting = new Map<string, (status: string) => void>();
  readonly ecr: ECRClient;

  constructor(readonly stack: GreenlightLocal) {
    this.ecr = new ECRClient({ endpoint: stack.endpoint, region: stack.aws.region, credentials: { accessKeyId: 'ci', secretAccessKey: 'ci-secret' } });
    stack.aws.bus.addRule({
      name: 'bench-execution-ends',
      pattern: { source: ['aws.states'], 'detail-type': ['Step Functions Execution Status Change'] },
      target: async (event) => {
        const { name, status } = event.detail as { name: string; status: string };
        if (status === 'RUNNING') return;
        const waiter = this.waiting.get(name);
        if (waiter) {
          this.waiting.delete(name);
          waiter(status);
        } else this.ended.set(name, status);
      },
    });
  }

  private end(name: string): Promise<string> {
    const status = this.ended.get(name);
    if (status !== undefined) {
      this.ended.delete(name);
      return Promise.resolve(status);
    }
    return new Promise((resolve) => this.waiting.set(name, resolve));
  }

  /** One deployment on a lane: push a new image, wait for its execution to end. */
  async deploy(lane: number, measureUpdate: boolean): Promise<Outcome> {
    const application = `lane${lane}`;
    const tag = `v1.${++this.sequence}.0`;
    const sent = Date.now();
    let digest: string;
    try {
      const pushed = await this.ecr.send(new PutImageCommand({ repositoryName: `${application}-web`, imageTag: tag, imageManifest: sampleManifest(`${application}:${this.sequence}`) }));
      digest = pushed.image!.imageId!.imageDigest!;
    } catch (error) {
      return { status: `PutImage failed: ${(error as Error).message}` };
    }
    const status = await this.end(executionName(application, { tag, digest }));
    if (!measureUpdate) return { status };
    const started = this.stack.aws.eb
      .events(`${application}-dev`)
      .find((e) => e.Message === 'Environment update is starting.' && e.EventDate.getTime() >= sent);
    return { status, ...(started ? { toUpdate: started.EventDate.getTime() - sent } : {}) };
  }
}

function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

export async function measureEndpoint(log: (line: string) => void = () => undefined): Promise<Figure[]> {
  const gc = collector();
  const { path, dir } = writeConfig();
  const stack = await startGreenlightLocal({
    configPath: path,
    // EB at zero and the Wait states scaled to ~0: what is left is the pipeline's own overhead.
    faults: { ebUpdateSeconds: 0, ebLaunchSeconds: 0, ebVersionProcessingSeconds: 0, waitScale: 0.0001, replayAwsEvents: false },
    keepExecutions,
  });
  const bench = new Bench(stack);
  const failures: string[] = [];
  const check = (outcome: Outcome, what: string) => {
    if (outcome.status !== 'SUCCEEDED') failures.push(`${what}: ${outcome.status}`);
    return outcome;
  };
  try {
    // Warm-up: every environment's first deployment (modules load, the JIT warms up).
    await Promise.all(Array.from({ length: lanes }, (_, lane) => bench.deploy(lane, false).then((o) => check(o, 'warm-up'))));
    log('warm-up done');

    // One push in flight.
    const single: number[] = [];
    for (let i = 0; i < 40; i++) {
      const outcome = check(await bench.deploy(0, true), 'single');
      if (outcome.toUpdate !== undefined) single.push(outcome.toUpdate);
    }
    log(`single: p95 ${percentile(single, 95)} ms`);

    // 100 pushes in flight (one per environment), three rounds.
    const hundred: number[] = [];
    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.all(Array.from({ length: lanes }, (_, lane) => bench.deploy(lane, true).then((o) => check(o, '100 in flight'))));
      for (const outcome of outcomes) if (outcome.toUpdate !== undefined) hundred.push(outcome.toUpdate);
    }
    log(`100 in flight: p95 ${percentile(hundred, 95)} ms`);

    // Throughput and memory: lanes push back to back; at each checkpoint the lanes drain, then GC and measure.
    const checkpoints = [0.25, 0.5, 0.75, 1].map((share) => Math.round(totalDeployments * share));
    const profiler = process.env.BENCH_ENDPOINT_PROFILE ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const memory: Array<{ deployments: number; heap: number; rss: number; kept: number }> = [];
    // What AWS keeps too, by design: every pushed image (ECR), 90 days of CloudTrail event history.
    const keptByAws = () => JSON.stringify(stack.aws.ecr.snapshot()).length + JSON.stringify(stack.aws.cloudtrail.snapshot()).length;
    let done = 0;
    let launched = 0;
    let activeMs = 0;
    let cpuMs = 0;
    for (const checkpoint of checkpoints) {
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      await Promise.all(
        Array.from({ length: lanes }, async (_, lane) => {
          while (launched < checkpoint) {
            launched += 1;
            check(await bench.deploy(lane, false), 'throughput');
            done += 1;
          }
        }),
      );
      activeMs += performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      cpuMs += (cpu.user + cpu.system) / 1000;
      await stack.aws.bus.settle();
      for (let i = 0; i < 3; i++) gc();
      const usage = process.memoryUsage();
      memory.push({ deployments: done, heap: usage.heapUsed, rss: usage.rss, kept: keptByAws() });
      if (process.env.BENCH_ENDPOINT_HEAP_SNAPSHOTS) writeHeapSnapshot(join(process.env.BENCH_ENDPOINT_HEAP_SNAPSHOTS, `endpoint-${done}.heapsnapshot`));
      log(`${done} deployments: heap ${(usage.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(usage.rss / 2 ** 20).toFixed(1)} MiB, ${(done / (activeMs / 1000)).toFixed(1)}/s`);
    }
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(process.env.BENCH_ENDPOINT_PROFILE!, JSON.stringify(profile));
      profiler.disconnect();
    }
    const heapSlope = slope(memory.map((m) => [m.deployments, m.heap])) / 1000;
    const rssSlope = slope(memory.map((m) => [m.deployments, m.rss])) / 1000;
    const keptSlope = slope(memory.map((m) => [m.deployments, m.kept])) / 1000;
    const kept = stack.aws.sfn.listExecutions();
    const packed = kept.map((e) => e.history.packedBytes).filter((b): b is number => b !== undefined);
    const memoryNote = memory.map((m) => `${m.deployments}: heap ${(m.heap / 2 ** 20).toFixed(1)} MiB, RSS ${(m.rss / 2 ** 20).toFixed(1)} MiB`).join('; ');

    const figures: Figure[] = [
      { name: 'endpoint: PutImage → UpdateEnvironment, 1 in flight (p95)', value: percentile(single, 95), unit: 'ms', budget: { max: 150 }, note: `40 sequential pushes to one environment, EB update 0 s, waits ×0.0001; median ${median(single)} ms` },
      { name: 'endpoint: PutImage → UpdateEnvironment, 100 in flight (p95)', value: percentile(hundred, 95), unit: 'ms', budget: { max: 1000 }, note: `3 rounds of 100 simultaneous pushes, one per environment; median ${median(hundred)} ms` },
      { name: 'endpoint: deployments completed', value: Number((done / (activeMs / 1000)).toFixed(1)), unit: '/s', budget: { min: 25 }, note: `${done} deployments (push → execution SUCCEEDED, single stage) on ${lanes} environments, each lane pushing its next image when its last deployment ended` },
      { name: 'endpoint: CPU per deployment', value: Number((cpuMs / done).toFixed(1)), unit: 'ms', note: 'user + system CPU of this process over the throughput run, divided by deployments: the handlers, their SDK clients, the HTTP on both sides, the endpoint; 25/s needs ≤ 40 ms on one core' },
      { name: 'endpoint: heap growth per deployment after GC', value: Number(heapSlope.toFixed(2)), unit: 'KB', budget: { max: 1 }, note: `least-squares slope of heapUsed after gc() at ${checkpoints.join(', ')} deployments, --keep-executions ${keepExecutions}; ${memoryNote}` },
      { name: 'endpoint: ECR images + CloudTrail history per deployment (JSON)', value: Number(keptSlope.toFixed(2)), unit: 'KB', note: 'the pushed image (manifest) and its PutImage event, which AWS keeps too (ECR until deleted, CloudTrail 90 days): part of the heap growth above, as objects' },
      { name: 'endpoint: RSS growth per deployment after GC', value: Number(rssSlope.toFixed(2)), unit: 'KB', note: 'same points; RSS includes memory V8 keeps after a collection, so it is context, the heap is the budget' },
      { name: 'endpoint: kept finished execution history (median, deflated)', value: Number((median(packed) / 1000).toFixed(1)), unit: 'KB', note: `${kept.length} executions kept; a running execution's history stays a plain array` },
    ];
    if (failures.length > 0) {
      figures.push({ name: 'endpoint: deployments that did not succeed', value: failures.length, unit: 'count', budget: { max: 0 }, note: failures.slice(0, 5).join('; ') });
    }
    return figures;
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const section: Section = { name: 'endpoint', measure: () => measureEndpoint() };

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await measureEndpoint((line) => process.stderr.write(`${line}\n`));
  for (const f of figures) {
    const budget = f.budget ? ` (budget ${f.budget.max !== undefined ? `≤ ${f.budget.max}` : `≥ ${f.budget.min}`})` : '';
    console.log(`${f.name}: ${f.value} ${f.unit}${budget}${f.note ? `\n    ${f.note}` : ''}`);
  }
}
