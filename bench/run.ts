// npm run bench: speed and memory figures of greenlight's local endpoint and domain code.
// Figures, not assertions: the machines are shared and noisy, so nothing here fails a build.
import { performance } from 'node:perf_hooks';
import { DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { testFaults } from '../local/faults.ts';
import { startLocalAws } from '../local/server.ts';
import { sampleManifest } from '../local/services/ecr.ts';
import { startGreenlightLocal } from '../local/stack.ts';
import { type AuditRow, indexKey } from '../shared/audit-index.ts';
import { listAuditRows } from '../shared/audit-read.ts';
import { renderBundle } from '../shared/bundle/render.ts';
import { sha256Hex, zipBundle } from '../shared/bundle/zip.ts';
import { validateConfigFile } from '../shared/config/validate.ts';
import { matchTagRule } from '../shared/tag-policy.ts';

const credentials = { accessKeyId: 'ci', secretAccessKey: 'ci-secret' };
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function endpointStartup(): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    const aws = await startLocalAws({ port: 0 });
    times.push(performance.now() - started);
    await aws.close();
  }
  console.log(`local endpoint start (listen, all services)   median ${ms(median(times))}  max ${ms(Math.max(...times))}  (10 runs)`);
  const stackTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const stack = await startGreenlightLocal({ faults: testFaults });
    stackTimes.push(performance.now() - started);
    await stack.close();
  }
  console.log(`greenlight local start (+ serverless.yml, seed) median ${ms(median(stackTimes))}  (5 runs)`);
}

async function requestThroughput(): Promise<void> {
  const stack = await startGreenlightLocal({ faults: testFaults });
  const eb = new ElasticBeanstalkClient({ endpoint: stack.endpoint, region: 'us-east-1', credentials });
  const count = 500;
  const started = performance.now();
  for (let i = 0; i < count; i += 10) {
    await Promise.all(Array.from({ length: 10 }, () => eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }))));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`EB DescribeEnvironments over HTTP (SDK, 10 in flight)  ${(count / seconds).toFixed(0)} req/s  (${count} requests)`);
  await stack.close();
}

/** StartExecution used to re-validate the definition (~150 ms of CPU each); it is validated once, at CreateStateMachine. */
async function executionStarts(): Promise<void> {
  const aws = await startLocalAws({ port: 0 });
  const sfn = new SFNClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials });
  const definition = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });
  const created = performance.now();
  const { stateMachineArn } = await sfn.send(new CreateStateMachineCommand({ name: 'bench', definition, roleArn: 'arn:aws:iam::000000000000:role/bench' }));
  const createMs = performance.now() - created;
  const count = 200;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) await sfn.send(new StartExecutionCommand({ stateMachineArn, name: `run-${i}` }));
  const each = (performance.now() - started) / count;
  const cpu = process.cpuUsage(cpuBefore);
  await aws.sfn.settle();
  console.log(`SFN StartExecution over HTTP (1 in flight)  ${ms(each)} each, ${ms((cpu.user + cpu.system) / 1000 / count)} CPU each  (${count} runs; CreateStateMachine with validation ${ms(createMs)}, ${aws.sfn.validations} validation)`);
  await aws.close();
}

async function pipelineRun(): Promise<void> {
  const stack = await startGreenlightLocal({ faults: testFaults });
  const ecr = new ECRClient({ endpoint: stack.endpoint, region: 'us-east-1', credentials });
  const durations: number[] = [];
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await ecr.send(new PutImageCommand({ repositoryName: 'webhooks', imageTag: `git_${String(i).padStart(7, '0')}`, imageManifest: sampleManifest(`bench-${i}`) }));
    await stack.aws.bus.settle();
    await stack.aws.sfn.settle();
    durations.push(performance.now() - started);
  }
  const failed = stack.aws.sfn.listExecutions().filter((e) => e.status !== 'SUCCEEDED').length;
  console.log(`whole pipeline, push → Green (test timings: EB update 0.3 s, waits 1/100)  median ${ms(median(durations))}  (10 runs, ${failed} not SUCCEEDED)`);
  const history = stack.aws.sfn.listExecutions()[0]?.history ?? [];
  const transitions = history.filter((e) => e.type.endsWith('StateEntered')).length;
  console.log(`one healthy single-stage deployment: ${history.length} history events (limit 25,000), ${transitions} state transitions ($${((transitions * 0.025) / 1000).toFixed(5)} at $0.025 per 1,000)`);
  console.log(`heap growth over 10 deployments  ${((process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024).toFixed(1)} MiB`);
  await stack.close();
}

function bundleRendering(): void {
  const templates = {
    dockerrun: JSON.stringify({
      AWSEBDockerrunVersion: 2,
      containerDefinitions: ['client', 'server', 'worker', 'nginx'].map((name) => ({ name, image: `{{image:shop-${name}}}`, essential: true, memory: 256 })),
    }),
    ebextensions: { '01-env.config': 'option_settings:\n  aws:elasticbeanstalk:application:environment:\n    LOG_LEVEL: info\n' },
  };
  const images = Object.fromEntries(['client', 'server', 'worker', 'nginx'].map((name) => [`shop-${name}`, `000000000000.dkr.ecr.us-east-1.amazonaws.com/shop-${name}@sha256:${'a'.repeat(64)}`]));
  const count = 2000;
  const started = performance.now();
  let last = '';
  for (let i = 0; i < count; i++) last = sha256Hex(zipBundle(renderBundle(templates, images).entries));
  const each = (performance.now() - started) / count;
  console.log(`render + zip + sha256 of a 4-container bundle  ${(each * 1000).toFixed(0)} µs each  (${count} runs, same hash every time: ${last.slice(0, 12)})`);
}

/**
 * `regex:` tag rules run on RE2 (re2js): time grows with the tag's length, not exponentially with a
 * pattern's nesting. `^(a+)+$` took 6 s on a 26-character tag with JavaScript's backtracking RegExp.
 */
function regexRules(): void {
  for (const length of [26, 128]) {
    const tag = `${'a'.repeat(length - 1)}!`;
    const runs = 200;
    const started = performance.now();
    for (let i = 0; i < runs; i++) matchTagRule(tag, 'regex:^(a+)+$');
    console.log(`regex:^(a+)+$ on a ${length}-character adversarial tag (RE2)  ${(((performance.now() - started) / runs) * 1000).toFixed(0)} µs each  (${runs} runs)`);
  }
}

/** The one validator over the shipped greenlight.yml: schema, bundle files, rendering, warnings (what every cold start and CLI run pays). */
function configValidation(): void {
  const runs = 50;
  const started = performance.now();
  for (let i = 0; i < runs; i++) validateConfigFile(new URL('../greenlight.yml', import.meta.url).pathname);
  console.log(`greenlight validate of greenlight.yml (5 applications, bundles rendered)  ${ms((performance.now() - started) / runs)} each  (${runs} runs)`);
}

/**
 * `greenlight history` over 10,000 deployments: the index answers from listing pages alone (budget
 * 3 s on the local endpoint). The index objects go straight into the endpoint's S3 store: PutObject
 * over HTTP costs 3–5 ms of CPU each here (client and endpoint share the process), 30–45 s for 10,000.
 */
async function historyListing(): Promise<void> {
  const aws = await startLocalAws({ port: 0 });
  const bucket = 'bench-audit';
  await aws.s3.createBucket(bucket);
  const s3 = new S3Client({ endpoint: aws.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  const count = 9_999;
  const apps = ['hello-api', 'shop', 'reports', 'webhooks'];
  const outcomes = ['succeeded', 'succeeded', 'succeeded', 'failed', 'rejected', 'superseded', 'already-deployed'] as const;
  const newest = Date.parse('2026-06-01T00:00:00.000Z');
  const rowAt = (i: number): AuditRow => {
    const app = apps[i % apps.length]!;
    const startedAt = new Date(newest - i * 777_000).toISOString(); // one every ~13 min: 10,000 span ~90 days
    const id = `${app}-v1-${i}-${i.toString(16).padStart(16, '0')}`;
    return {
      deploymentId: id,
      startedAt,
      finishedAt: new Date(Date.parse(startedAt) + 95_000).toISOString(),
      durationMs: 95_000,
      outcome: outcomes[i % outcomes.length]!,
      application: app,
      environments: i % 3 === 0 ? [`${app}-dev`, `${app}-prod`] : [`${app}-dev`],
      repository: app,
      tag: `v1.${i}.0`,
      shortDigest: i.toString(16).padStart(12, '0'),
      pushedBy: 'arn:aws:sts::123456789012:assumed-role/ci-pusher/github-actions',
      approvedBy: i % 3 === 0 ? ['arn:aws:sts::123456789012:assumed-role/release-managers/alice'] : [],
      rejectedBy: null,
      recordKey: `deployments/${startedAt.slice(0, 10).replaceAll('-', '/')}/${id}.json`,
    };
  };
  // s3rver's store behind LocalS3 (what PutObject ends in): bucket, key, content, metadata.
  const store = (aws.s3 as unknown as { store: { putObject(object: { bucket: string; key: string; content: Buffer; metadata: Record<string, string> }): Promise<unknown> } }).store;
  const written = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const row = rowAt(next++);
        await store.putObject({ bucket, key: indexKey(row), content: Buffer.from(JSON.stringify(row)), metadata: { 'content-type': 'application/json' } });
      }
    }),
  );
  const writeSeconds = (performance.now() - written) / 1000;
  // One more through the API, so the listing also sees an object as PutObject stores it.
  const last = rowAt(count);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: indexKey(last), Body: JSON.stringify(last), ContentType: 'application/json' }));
  const timed = async (label: string, filters: Parameters<typeof listAuditRows>[2]) => {
    const started = performance.now();
    const rows = await listAuditRows(s3, bucket, filters);
    const took = performance.now() - started;
    console.log(`history: list 10,000 records, ${label.padEnd(34)} ${ms(took).padStart(10)}  ${String(rows.length).padStart(5)} rows  ${took <= 3000 ? 'within' : 'OVER'} the 3 s budget`);
  };
  console.log(`history: 10,000 index objects written (into the local S3 store, 32 at a time) in ${writeSeconds.toFixed(1)} s`);
  await timed('no filter', {});
  await timed('--app shop --outcome failed', { application: 'shop', outcomes: ['failed'] });
  await timed('--env hello-api-prod', { environment: 'hello-api-prod' });
  await timed('--since 7d (stops paging early)', { since: new Date(newest - 7 * 86_400_000) });
  await timed('--until 30 days ago (starts there)', { until: new Date(newest - 30 * 86_400_000) });
  await aws.close();
}

await endpointStartup();
await requestThroughput();
bundleRendering();
regexRules();
configValidation();
await executionStarts();
await pipelineRun();
await historyListing();
