// bench section "domain": the figures that predate issue 12's budgets (endpoint start-up, request
// throughput, rendering, RE2 tag rules, validation, StartExecution) and `greenlight history` over
// 10,000 records, held to issue 10's budget of 3 s.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DescribeEnvironmentsCommand, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { testFaults } from '../local/faults.ts';
import { startLocalAws } from '../local/server.ts';
import { startGreenlightLocal } from '../local/stack.ts';
import { type AuditRow, indexKey } from '../shared/audit-index.ts';
import { listAuditRows } from '../shared/audit-read.ts';
import { renderBundle } from '../shared/bundle/render.ts';
import { sha256Hex, zipBundle } from '../shared/bundle/zip.ts';
import { validateConfigFile } from '../shared/config/validate.ts';
import { matchTagRule } from '../shared/tag-policy.ts';
import { type Figure, median, type Section } from './figures.ts';

const credentials = { accessKeyId: 'ci', secretAccessKey: 'ci-secret' };

async function endpointStartup(): Promise<Figure[]> {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    const aws = await startLocalAws({ port: 0 });
    times.push(performance.now() - started);
    await aws.close();
  }
  const stackTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const stack = await startGreenlightLocal({ faults: testFaults });
    stackTimes.push(performance.now() - started);
    await stack.close();
  }
  return [
    { name: 'local endpoint start (listen, all services)', value: median(times), unit: 'ms', note: 'median of 10, in-process' },
    { name: 'greenlight local start (+ serverless.yml, seed)', value: median(stackTimes), unit: 'ms', note: 'median of 5, in-process' },
  ];
}

async function requestThroughput(): Promise<Figure[]> {
  const stack = await startGreenlightLocal({ faults: testFaults });
  const eb = new ElasticBeanstalkClient({ endpoint: stack.endpoint, region: 'us-east-1', credentials });
  const count = 500;
  const started = performance.now();
  for (let i = 0; i < count; i += 10) {
    await Promise.all(Array.from({ length: 10 }, () => eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev'] }))));
  }
  const seconds = (performance.now() - started) / 1000;
  await stack.close();
  return [{ name: 'EB DescribeEnvironments over HTTP (SDK)', value: count / seconds, unit: 'req/s', note: `${count} requests, 10 in flight, client in the same process` }];
}

/** StartExecution used to re-validate the definition (~150 ms of CPU each); it is validated once, at CreateStateMachine. */
async function executionStarts(): Promise<Figure[]> {
  const aws = await startLocalAws({ port: 0 });
  const sfn = new SFNClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials });
  const definition = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });
  const { stateMachineArn } = await sfn.send(new CreateStateMachineCommand({ name: 'bench', definition, roleArn: 'arn:aws:iam::000000000000:role/bench' }));
  const count = 200;
  const started = performance.now();
  for (let i = 0; i < count; i++) await sfn.send(new StartExecutionCommand({ stateMachineArn, name: `run-${i}` }));
  const each = (performance.now() - started) / count;
  await aws.sfn.settle();
  await aws.close();
  return [{ name: 'SFN StartExecution over HTTP', value: each, unit: 'ms', note: `mean of ${count}, 1 in flight` }];
}

function bundleRendering(): Figure[] {
  const names = ['client', 'server', 'worker', 'nginx'];
  const templates = {
    dockerrun: JSON.stringify({
      AWSEBDockerrunVersion: 2,
      containerDefinitions: names.map((name) => ({ name, image: `{{image:shop-${name}}}`, essential: true, memory: 256 })),
    }),
    ebextensions: { '01-env.config': 'option_settings:\n  aws:elasticbeanstalk:application:environment:\n    LOG_LEVEL: info\n' },
  };
  const images = Object.fromEntries(names.map((name) => [`shop-${name}`, `000000000000.dkr.ecr.us-east-1.amazonaws.com/shop-${name}@sha256:${'a'.repeat(64)}`]));
  const count = 2000;
  const hashes = new Set<string>();
  const started = performance.now();
  for (let i = 0; i < count; i++) hashes.add(sha256Hex(zipBundle(renderBundle(templates, images).entries)));
  const each = (performance.now() - started) / count;
  if (hashes.size !== 1) throw new Error(`rendering is not deterministic: ${hashes.size} different hashes for one input`);
  return [{ name: 'render + zip + sha256, 4-container bundle', value: each * 1000, unit: 'µs', note: `mean of ${count}; one hash for all (deterministic)` }];
}

/** `regex:` tag rules run on RE2 (re2js): `^(a+)+$` took 6 s on a 26-character tag with backtracking RegExp. */
function regexRules(): Figure[] {
  return [26, 128].map((length) => {
    const tag = `${'a'.repeat(length - 1)}!`;
    const runs = 200;
    const started = performance.now();
    for (let i = 0; i < runs; i++) matchTagRule(tag, 'regex:^(a+)+$');
    return { name: `regex:^(a+)+$ on a ${length}-character adversarial tag (RE2)`, value: ((performance.now() - started) / runs) * 1000, unit: 'µs', note: `mean of ${runs}` };
  });
}

/** The one validator over the shipped greenlight.yml: what every cold start and CLI run pays. */
function configValidation(): Figure[] {
  const runs = 50;
  const file = new URL('../greenlight.yml', import.meta.url).pathname;
  const started = performance.now();
  for (let i = 0; i < runs; i++) validateConfigFile(file);
  return [{ name: 'validate greenlight.yml (schema, bundles rendered)', value: (performance.now() - started) / runs, unit: 'ms', note: `mean of ${runs}` }];
}

/**
 * `greenlight history` over 10,000 deployments: the index answers from listing pages alone (issue
 * 10's budget: 3 s on the local endpoint). The index objects go straight into the endpoint's S3 store:
 * PutObject over HTTP costs 3–5 ms of CPU each here (client and endpoint share the process).
 */
async function historyListing(): Promise<Figure[]> {
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
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const row = rowAt(next++);
        await store.putObject({ bucket, key: indexKey(row), content: Buffer.from(JSON.stringify(row)), metadata: { 'content-type': 'application/json' } });
      }
    }),
  );
  // One more through the API, so the listing also sees an object as PutObject stores it.
  const last = rowAt(count);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: indexKey(last), Body: JSON.stringify(last), ContentType: 'application/json' }));
  const figures: Figure[] = [];
  const timed = async (label: string, filters: Parameters<typeof listAuditRows>[2]) => {
    const started = performance.now();
    const rows = await listAuditRows(s3, bucket, filters);
    figures.push({ name: `history of 10,000 records, ${label}`, value: performance.now() - started, unit: 'ms', budget: { max: 3000 }, note: `${rows.length} rows` });
  };
  await timed('no filter', {});
  await timed('--app shop --outcome failed', { application: 'shop', outcomes: ['failed'] });
  await timed('--env hello-api-prod', { environment: 'hello-api-prod' });
  await timed('--since 7d', { since: new Date(newest - 7 * 86_400_000) });
  await aws.close();
  return figures;
}

export const section: Section = {
  name: 'domain',
  async measure() {
    return [
      ...(await endpointStartup()),
      ...(await requestThroughput()),
      ...bundleRendering(),
      ...regexRules(),
      ...configValidation(),
      ...(await executionStarts()),
      ...(await historyListing()),
    ];
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const figure of await section.measure()) console.log(`${figure.name}: ${figure.value.toFixed(2)} ${figure.unit}${figure.note ? ` (${figure.note})` : ''}`);
}
