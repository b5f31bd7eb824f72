import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRecord, auditKey } from '../../shared/audit.ts';
import { rowFromTimeline, writeAuditIndex } from '../../shared/audit-index.ts';
import { timelineFromRecord } from '../../shared/audit-read.ts';
import { type Pipeline, digestOfSample, startPipeline } from '../workflow/harness.ts';
import { runGreenlightWith } from './in-process.ts';

/**
 * `greenlight report --html` over real audit records: deployments run through the local pipeline
 * (deployed, failed and rolled back, rejected, superseded), plus a hostile record and one from before
 * the period, read back by the CLI (in this process, over the SDK like any user) from the local audit
 * bucket and opened in headless Chromium.
 */
const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
const chromium = ['chromium', 'chromium-browser'].find((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0);

let pipeline: Pipeline;
let dir: string;
let expectedIds: string[];
const hostileId = 'hello-api-hostile-0000000000000001';
const oldId = 'hello-api-v0-0-1-before-the-period';

/** Runs Chromium without blocking this process. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The CLI as a user runs it against `greenlight local` (only AWS_ENDPOINT_URL set: the local bucket name is the default), in this process. */
function greenlight(...args: string[]) {
  return runGreenlightWith(
    {
      AWS_ENDPOINT_URL: pipeline.stack.endpoint,
      AWS_REGION: pipeline.stack.aws.region,
      AWS_ACCESS_KEY_ID: 'ci',
      AWS_SECRET_ACCESS_KEY: 'ci-secret',
      GREENLIGHT_AUDIT_BUCKET: '',
    },
    ...args,
  );
}

function chromiumArgs(...extra: string[]): string[] {
  return ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', `--user-data-dir=${join(dir, 'profile')}`, ...extra];
}

const rowIds = (html: string) => [...html.matchAll(/<tr data-deployment-id="([^"]*)"/g)].map((m) => m[1]!);
const barIds = (html: string) => [...new Set([...html.matchAll(/<rect [^>]*data-bar-for="([^"]*)"/g)].map((m) => m[1]!))];

/** Stores a record and its index entries the way recordAudit does. */
async function putRecord(record: AuditRecord): Promise<void> {
  await pipeline.s3.send(new PutObjectCommand({ Bucket: pipeline.stack.auditBucket, Key: auditKey(record), Body: JSON.stringify(record), ContentType: 'application/json' }));
  await writeAuditIndex(pipeline.s3, pipeline.stack.auditBucket, rowFromTimeline(timelineFromRecord(record)));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'greenlight-report-'));
  pipeline = await startPipeline({ configPath });
  await pipeline.deploy('hello-api', 'v0.1.0');
  pipeline.stack.aws.faults.failingImages = [digestOfSample('hello-api:v0.2.0')];
  await pipeline.deploy('hello-api', 'v0.2.0'); // health Red → rolled back → failed
  pipeline.stack.aws.faults.failingImages = [];
  await pipeline.deploy('hello-api', 'latest'); // tag policy → rejected
  await pipeline.deploy('hello-api', 'v0.12.0', 'old-bytes');
  await pipeline.deploy('hello-api', 'v1.0.0', 'new-bytes'); // dev, then staging
  await pipeline.deploy('hello-api', 'v0.12.1', 'old-bytes'); // an older push → superseded
  await pipeline.deploy('reports', 'v1.0.0');
  const executions = await pipeline.executions();

  const keys = (await pipeline.objectKeys(pipeline.stack.auditBucket)).filter((key) => key.startsWith('deployments/'));
  const real: AuditRecord[] = await Promise.all(keys.map(async (key) => JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.auditBucket, key)))));
  const deployed = real.find((r) => r.outcome === 'succeeded' && r.application === 'hello-api')!;
  const at = (offsetMs: number) => new Date(Date.parse(deployed.startedAt) + offsetMs).toISOString();
  const hostile = {
    ...deployed,
    deploymentId: hostileId,
    executionArn: `${deployed.executionArn.split(':').slice(0, -1).join(':')}:${hostileId}`,
    outcome: 'failed',
    startedAt: at(300),
    finishedAt: at(900),
    image: {
      ...deployed.image!,
      tag: '<script>document.body.dataset.pwned="tag"</script>',
      pushedBy: '"><img src=x onerror="document.body.dataset.pwned=\'pusher\'">',
    },
    stages: [
      {
        environment: 'hello-api-dev"><svg onload="document.body.dataset.pwned=\'env\'">',
        outcome: 'deployed',
        approval: { decision: 'approve', approver: 'arn:aws:sts::000000000000:assumed-role/release-managers/<b>mallory</b>', comment: '</title><script>alert(1)</script>', at: at(400) },
      },
    ],
    error: 'DeploymentFailedError',
    cause: '<script>alert(1)</script><img src=x onerror="document.body.dataset.pwned=\'cause\'"> Rolled back to v0.1.0-000000000000.',
  } as AuditRecord;
  const old = { ...deployed, deploymentId: oldId, startedAt: new Date(Date.now() - 40 * 86_400_000).toISOString(), finishedAt: new Date(Date.now() - 40 * 86_400_000 + 60_000).toISOString() } as AuditRecord;
  await putRecord(hostile);
  await putRecord(old);
  expectedIds = [...executions.map((e) => e.description.name!), hostileId].sort();
  expect(new Set(real.map((r) => r.outcome))).toEqual(new Set(['succeeded', 'failed', 'rejected', 'superseded']));
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('greenlight report --html', () => {
  it('writes one page with a row and a bar for every deployment of the period, and none from before it', async () => {
    const file = join(dir, 'report.html');
    const result = await greenlight('report', '--html', file, '--since', '30d');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${expectedIds.length} deployments`);
    expect(result.stdout).toContain('s3://greenlight-local-audit, through its audit index');
    const html = readFileSync(file, 'utf8');
    expect(rowIds(html).sort()).toEqual(expectedIds);
    expect(barIds(html).sort()).toEqual(expectedIds);
    expect(html).not.toContain(oldId);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed)\b|src=["']?https?:|@import|url\(/i);
  });

  it('keeps only the asked application (a refused push of its repository included)', async () => {
    const file = join(dir, 'reports.html');
    expect((await greenlight('report', '--html', file, '--app', 'reports')).code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(rowIds(html)).toHaveLength(1);
    expect(html).toContain('reports-dev');
    const hello = join(dir, 'hello.html');
    expect((await greenlight('report', '--html', hello, '--app', 'hello-api')).code).toBe(0);
    expect(rowIds(readFileSync(hello, 'utf8'))).toHaveLength(expectedIds.length - 1);
  });

  it('names what is wrong: a period it cannot read, no bucket, a bucket that does not exist', async () => {
    const file = join(dir, 'never.html');
    const since = await greenlight('report', '--html', file, '--since', 'last tuesday');
    const order = await greenlight('report', '--html', file, '--since', '2026-12-01', '--until', '2026-11-01');
    const bucket = await greenlight('report', '--html', file, '--bucket', 'no-such-audit-bucket');
    const noBucket = await runGreenlightWith({ AWS_ENDPOINT_URL: '', GREENLIGHT_AUDIT_BUCKET: '' }, 'report', '--html', file);
    const noFile = await greenlight('report');
    expect(since).toMatchObject({ code: 2, stderr: expect.stringContaining('--since "last tuesday" is neither a duration') });
    expect(order).toMatchObject({ code: 2, stderr: expect.stringContaining('is after --until') });
    expect(bucket).toMatchObject({ code: 1, stderr: expect.stringContaining('the audit bucket no-such-audit-bucket does not exist') });
    expect(noBucket).toMatchObject({ code: 2, stderr: expect.stringContaining('GREENLIGHT_AUDIT_BUCKET') });
    expect(noFile).toMatchObject({ code: 1, stderr: expect.stringContaining("required option '--html <file>'") });
    expect(existsSync(file)).toBe(false);
  });

  it.skipIf(!chromium)('renders every deployment in Chromium, runs its own script to the end, and no script from a record', async () => {
    const file = join(dir, 'report.html');
    const dumped = await run(chromium!, chromiumArgs('--enable-logging=stderr', '--v=0', '--dump-dom', `file://${file}`));
    expect(dumped.code, dumped.stderr).toBe(0);
    const dom = dumped.stdout;
    expect(dom).toMatch(/<body[^>]* data-ok="1"/);
    expect(rowIds(dom).sort()).toEqual(expectedIds);
    expect(barIds(dom).sort()).toEqual(expectedIds);
    expect(dom).not.toContain('data-pwned');
    expect(dom.match(/<script\b/g)).toHaveLength(1);
    expect(dom).toContain('&lt;script&gt;document.body.dataset.pwned="tag"&lt;/script&gt;');
    // Chromium logs every console message (errors, uncaught exceptions, CSP refusals) as a CONSOLE line.
    const console = dumped.stderr.split('\n').filter((line) => /:CONSOLE|Uncaught|Content Security Policy/.test(line));
    expect(console).toEqual([]);
  });

  it.skipIf(!chromium)('gives Chromium a page it can draw (a screenshot of 1400 × 1000)', async () => {
    const png = join(dir, 'report.png');
    const shot = await run(chromium!, chromiumArgs('--hide-scrollbars', `--screenshot=${png}`, '--window-size=1400,1000', `file://${join(dir, 'report.html')}`));
    expect(shot.code, shot.stderr).toBe(0);
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1400, 1000]);
    expect(bytes.length).toBeGreaterThan(30_000); // a blank page is a few kB
  });
});
