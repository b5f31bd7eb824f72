import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../cli/report/html.ts';
import { appStats, buildRows, environmentsOf, quantile, selectRecords } from '../../cli/report/model.ts';
import type { AuditRecord } from '../../shared/audit.ts';

const t0 = Date.parse('2026-11-20T10:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(t0 + offsetSeconds * 1000).toISOString();
const options = { since: new Date('2026-11-01T00:00:00Z'), until: new Date('2026-12-01T00:00:00Z'), generatedAt: new Date('2026-12-01T08:00:00Z') };
let serial = 0;

/** A record as recordAudit writes it: pushed at `push`, started at `start`, ended `seconds` later. */
function record(fields: Partial<Omit<AuditRecord, 'image'>> & { image?: Partial<NonNullable<AuditRecord['image']>> | null; push?: number; start?: number; seconds?: number } = {}): AuditRecord {
  const { push = 0, start = 5, seconds = 60, image, ...rest } = fields;
  const id = rest.deploymentId ?? `hello-api-v1-0-${++serial}-0123456789abcdef`;
  return {
    schemaVersion: 1,
    deploymentId: id,
    executionArn: `arn:aws:states:eu-west-1:123456789012:execution:greenlight-prod-deploy-pipeline:${id}`,
    outcome: 'succeeded',
    startedAt: iso(start),
    finishedAt: iso(start + seconds),
    application: 'hello-api',
    image:
      image === null
        ? null
        : { repository: 'hello-api', tag: 'v1.0.0', digest: `sha256:${'ab'.repeat(32)}`, pushedBy: 'arn:aws:sts::123456789012:assumed-role/ci-pusher/ci', pushedAt: iso(push), ...image },
    versionLabel: 'v1.0.0-0123456789ab',
    bundle: null,
    images: null,
    stages: [{ environment: 'hello-api-dev', outcome: 'deployed', checkedAt: iso(start + seconds - 1), approval: { decision: 'not-required' } }],
    error: null,
    cause: null,
    ...rest,
  } as AuditRecord;
}

const rows = (html: string) => [...html.matchAll(/<tr data-deployment-id="([^"]*)"/g)].map((m) => m[1]);
const bars = (html: string) => [...html.matchAll(/<rect class="bar o-([a-z]+)"[^>]*data-bar-for="([^"]*)"/g)].map((m) => ({ colour: m[1], id: m[2] }));
const inline = (html: string, tag: 'script' | 'style') => new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)![1]!;
const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('escaping what records carry', () => {
  const hostile = record({
    deploymentId: 'x"><script>alert("id")</script>',
    outcome: 'failed',
    image: { tag: '<script>alert(1)</script>', pushedBy: '"><img src=x onerror=alert(2)>' },
    stages: [{ environment: '<svg onload=alert(3)>', outcome: 'deployed', approval: { decision: 'approve', approver: "<b>mallory</b>' onmouseover='alert(4)", comment: '</title><script>alert(5)</script>', at: iso(10) } }],
    error: 'DeploymentFailedError',
    cause: '<iframe src="https://evil.example/"></iframe> & more',
  });
  const html = renderReport([hostile], options);

  it('renders tags, causes, ARNs, environments and comments as text, never as markup', () => {
    expect(html.match(/<script\b/g)).toHaveLength(1);
    expect(html).not.toMatch(/<(img|iframe|svg onload|b>mallory)/);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('&#60;iframe src=&#34;https://evil.example/&#34;&#62;&#60;/iframe&#62; &#38; more');
    expect(html).toContain('&#60;/title&#62;&#60;script&#62;alert(5)');
  });

  it('keeps attribute values closed (an id with a quote stays one attribute)', () => {
    expect(rows(html)).toEqual(['x&#34;&#62;&#60;script&#62;alert(&#34;id&#34;)&#60;/script&#62;']);
    expect(html).not.toContain(`' onmouseover='`);
  });

  it('allows only its own inline script and style, by hash, and nothing from the network', () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!.replaceAll('&#39;', "'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`script-src ${hash(inline(html, 'script'))}`);
    expect(csp).toContain(`style-src ${hash(inline(html, 'style'))}`);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<style>'));
    expect(html).not.toMatch(/<link\b|src=["']?https?:|href=["']?https?:|@import|url\(/i);
    expect(html).not.toMatch(/\sstyle="/);
  });
});

describe('the empty period', () => {
  it('says that nothing was deployed, for which period and application, without a timeline or a table', () => {
    const html = renderReport([record({ start: -40 * 86_400 })], { ...options, app: 'hello-api' });
    expect(html).toContain('id="empty"');
    expect(html).toContain('No deployments in this period');
    expect(html).toContain('2026-11-01 00:00 and 2026-12-01 00:00 UTC for <b>hello-api</b>');
    expect(html).toContain('data-deployments="0"');
    expect(html).not.toContain('<svg');
    expect(html).not.toContain('<table');
    expect(html).toContain('<script>');
  });
});

describe('what the page counts', () => {
  const records = [
    record({ push: 0, start: 5, seconds: 55 }), // lead 60 s
    record({ push: 100, start: 110, seconds: 110 }), // lead 120 s
    record({ push: 200, start: 200, seconds: 170 }), // lead 170 s
    record({ push: 400, start: 420, seconds: 220 }), // lead 240 s
    record({ outcome: 'failed', start: 700, stages: [], error: 'DeploymentFailedError', cause: 'Deployment of version v2 to environment hello-api-dev (application hello-api) failed. Rolled back to v1.0.0-0123456789ab.' }),
    record({ outcome: 'unverified', start: 800, stages: [], error: 'DeploymentUnverifiedError', cause: 'health unreadable in hello-api-dev' }),
    record({ outcome: 'already-deployed', start: 900, stages: [{ environment: 'hello-api-dev', outcome: 'already-deployed' }] }),
    record({ outcome: 'superseded', start: 1000, stages: [], error: 'SupersededError', cause: 'a newer push is deploying or deployed to hello-api-dev' }),
    record({ outcome: 'rejected', start: 1100, application: null, image: { tag: 'latest' }, stages: [], error: 'TagPolicyViolationError', cause: 'the tag "latest" never deploys' }),
    record({ outcome: 'expired', start: 1200, stages: [], error: 'ApprovalExpiredError', cause: 'Nobody approved' }),
    record({ application: 'reports', image: { repository: 'reports' }, start: 1300, push: 1290, seconds: 30, stages: [{ environment: 'reports-dev', outcome: 'deployed' }] }),
    record({ start: -86_400 * 30 }), // before the period
    record({ start: 86_400 * 30 }), // after it
  ];
  const html = renderReport(records, options);

  it('renders one row and one bar per deployment of the period, each in its outcome colour', () => {
    expect(rows(html)).toHaveLength(11);
    expect(html).toContain('data-deployments="11"');
    const colours = bars(html).map((b) => b.colour);
    expect(colours).toHaveLength(11);
    expect(colours.filter((c) => c === 'deployed')).toHaveLength(5);
    expect(colours.filter((c) => c === 'already')).toHaveLength(1);
    expect(colours.filter((c) => c === 'failed')).toHaveLength(2);
    expect(colours.filter((c) => c === 'rejected')).toHaveLength(2);
    expect(colours.filter((c) => c === 'superseded')).toHaveLength(1);
    expect(html).toMatch(/<b>11<\/b><span>deployments<\/span>/);
    expect(html).toMatch(/<b>6<\/b><span>deployed<\/span>/);
    expect(html).toMatch(/<b>2<\/b><span>failed or unverified<\/span>/);
  });

  it('computes lead time from the push to the end of a successful deployment (median and p90, interpolated)', () => {
    const stats = appStats(buildRows(selectRecords(records, options)));
    const hello = stats.find((s) => s.application === 'hello-api')!;
    expect(hello.leadTimes).toEqual([60_000, 120_000, 170_000, 240_000]);
    expect(hello.leadTimeMedian).toBe(145_000);
    expect(hello.leadTimeP90).toBeCloseTo(219_000);
    expect(html).toContain('data-lead-median="145000">2 min 25 s');
    expect(stats.find((s) => s.application === 'reports')).toMatchObject({ leadTimes: [40_000], leadTimeMedian: 40_000, leadTimeP90: 40_000 });
  });

  it('interpolates quantiles between the closest ranks, and has none of nothing', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7);
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([], 0.5)).toBeNull();
  });

  it('counts failed and unverified over what changed an environment, not rejections, expiries, supersessions or no-ops', () => {
    const stats = appStats(buildRows(selectRecords(records, options)));
    expect(stats.find((s) => s.application === 'hello-api')).toMatchObject({ total: 9, changes: 6, failures: 2, failureRate: 2 / 6 });
    expect(stats.find((s) => s.application === 'reports')).toMatchObject({ changes: 1, failures: 0, failureRate: 0 });
    expect(stats.find((s) => s.application === 'repository hello-api')).toMatchObject({ total: 1, changes: 0, failureRate: null });
    expect(html).toContain('33.3 % <small>(2/6)</small>');
  });

  it('draws a failed or superseded deployment on the environment its cause names, and the rollback', () => {
    const failed = buildRows(records).find((r) => r.record.outcome === 'failed')!;
    expect(failed.environments).toEqual(['hello-api-dev']);
    expect(failed.rolledBackTo).toBe('v1.0.0-0123456789ab');
    expect(html).toContain('<title>rolled back to v1.0.0-0123456789ab</title>');
    expect(buildRows(records).find((r) => r.record.outcome === 'superseded')!.environments).toEqual(['hello-api-dev']);
    expect(buildRows(records).find((r) => r.record.outcome === 'expired')!.environments).toEqual([]);
    expect(html).toContain('environment not recorded');
  });

  it('does not take an environment for another that merely starts with its name', () => {
    const r = record({ outcome: 'failed', stages: [], cause: 'failed in hello-api-dev2' });
    expect(environmentsOf(r, new Set(['hello-api-dev', 'hello-api-dev2']))).toEqual(['hello-api-dev2']);
  });
});

describe('approvals and stages on the timeline', () => {
  const promoted = record({
    start: 0,
    seconds: 3600,
    stages: [
      { environment: 'hello-api-dev', outcome: 'deployed', checkedAt: iso(120), approval: { decision: 'not-required' } },
      { environment: 'hello-api-prod', outcome: 'deployed', checkedAt: iso(3590), approval: { decision: 'approve', approver: 'arn:aws:sts::123456789012:assumed-role/release-managers/alice', comment: 'release notes reviewed', at: iso(3400) } },
    ],
  });
  const rejected = {
    ...record({ start: 4000, outcome: 'rejected', stages: [], error: 'ApprovalRejectedError', cause: 'rejected by arn:aws:sts::123456789012:assumed-role/release-managers/carol at 2026-11-20T11:10:00Z: breaks the API' }),
    approvals: [{ environment: 'hello-api-prod', decision: 'reject', approver: 'arn:aws:sts::123456789012:assumed-role/release-managers/carol', comment: 'breaks the API', at: iso(4100) }],
  } as AuditRecord;

  it('gives each stage its own bar: the promotion starts when it was approved, not when dev started', () => {
    const [row] = buildRows([promoted]);
    expect(row!.segments.map((s) => [s.environment, (s.start - t0) / 1000, (s.end - t0) / 1000])).toEqual([
      ['hello-api-dev', 0, 120],
      ['hello-api-prod', 3400, 3600],
    ]);
  });

  it('marks approvals and rejections with who and why, from the record’s approvals or its stages', () => {
    const html = renderReport([promoted, rejected], options);
    expect(html.match(/class="mark m-approve"/g)).toHaveLength(1);
    expect(html.match(/class="mark m-reject"/g)).toHaveLength(1);
    expect(html).toContain('approved by arn:aws:sts::123456789012:assumed-role/release-managers/alice at 2026-11-20T10:56:40.000Z\n“release notes reviewed”');
    expect(html).toContain('✗ assumed-role/release-managers/carol');
    expect(buildRows([rejected])[0]!.environments).toEqual(['hello-api-prod']);
  });

  it('reads a rejection from the cause of a record written before records listed their approvals', () => {
    const { approvals: _, ...older } = rejected as AuditRecord & { approvals: unknown };
    const [row] = buildRows([older as AuditRecord]);
    expect(row!.approvals).toEqual([{ environment: null, decision: 'reject', approver: 'arn:aws:sts::123456789012:assumed-role/release-managers/carol', comment: 'breaks the API', at: '2026-11-20T11:10:00Z' }]);
  });
});

describe('a busy month', () => {
  it('draws 5,000 deployments with one shape each, quickly', () => {
    const many = Array.from({ length: 5000 }, (_, i) =>
      record({ start: i * 150, seconds: 90 + (i % 7) * 30, ...(i % 13 === 0 ? { outcome: 'failed', stages: [] } : {}) }),
    );
    const started = performance.now();
    const html = renderReport(many, options);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(rows(html)).toHaveLength(5000);
    expect(bars(html)).toHaveLength(5000);
    expect(html.length).toBeLessThan(15_000_000);
  });
});

describe('what the report selects', () => {
  it('keeps the period, both ends included, as the audit index reads it', () => {
    const first = record({ start: 0 });
    const last = record({ start: 60 });
    const selected = selectRecords([first, last, record({ start: 61 }), record({ start: -1 })], { since: new Date(t0), until: new Date(t0 + 60_000) });
    expect(selected.map((r) => r.deploymentId)).toEqual([first.deploymentId, last.deploymentId]);
  });

  it('keeps a refused push of an application’s repository with that application', () => {
    const refused = record({ application: null, stages: [], outcome: 'rejected' });
    const other = record({ application: null, image: { repository: 'billing' }, stages: [], outcome: 'rejected' });
    expect(selectRecords([record(), refused, other], { ...options, app: 'hello-api' })).toHaveLength(2);
  });
});

describe('records that kept their execution history', () => {
  const step = (name: string, environment: string | null, from: number, to: number, result = 'succeeded', detail = '') => ({
    name,
    environment,
    startedAt: iso(from),
    endedAt: iso(to),
    result,
    attempts: 1,
    retries: 0,
    detail,
    error: null,
    cause: null,
  });
  const failedInProd = {
    ...record({ outcome: 'failed', start: 0, seconds: 900, stages: [], error: 'DeploymentFailedError', cause: 'health Red' }),
    timeline: {
      source: 'execution-history',
      steps: [
        step('Resolve Plan', null, 0, 1),
        step('Deploy', 'hello-api-dev', 2, 3),
        step('Check Health', 'hello-api-dev', 20, 120),
        step('Request Approval', 'hello-api-prod', 121, 400),
        step('Deploy', 'hello-api-prod', 401, 402),
        step('Check Health', 'hello-api-prod', 420, 600),
        step('Roll Back', 'hello-api-prod', 601, 602, 'succeeded', 'back to v0.9.0-0123456789ab'),
        step('Deployment Rolled Back', 'hello-api-prod', 890, 890, 'failed'),
      ],
      approvals: [],
      ebEvents: [],
    },
  } as AuditRecord;
  const expired = {
    ...record({ outcome: 'expired', start: 1000, seconds: 3600, stages: [], error: 'ApprovalExpiredError', cause: 'Nobody approved' }),
    timeline: { source: 'state', steps: [], approvals: [{ environment: 'hello-api-prod', requestedAt: iso(1100), approvers: [], decision: 'expired', approver: null, comment: '', at: null, pushers: [] }], ebEvents: [] },
  } as AuditRecord;

  it('draws each environment from its first step to its last, the failing one in red, with the version it rolled back to', () => {
    const [row] = buildRows([failedInProd]);
    expect(row!.environments).toEqual(['hello-api-dev', 'hello-api-prod']);
    expect(row!.segments.map((s) => [s.environment, (s.start - t0) / 1000, (s.end - t0) / 1000, s.outcome])).toEqual([
      ['hello-api-dev', 2, 120, 'deployed'],
      ['hello-api-prod', 401, 890, 'failed'],
    ]);
    expect(row!.rolledBackTo).toBe('v0.9.0-0123456789ab');
  });

  it('marks an approval that expired on its environment', () => {
    const html = renderReport([expired], options);
    expect(buildRows([expired])[0]!.environments).toEqual(['hello-api-prod']);
    expect(html).toContain('<title>approval expired: nobody decided (requested 2026-11-20T10:18:20.000Z)</title>');
    expect(html).toContain('✗ expired, nobody decided');
  });
});
