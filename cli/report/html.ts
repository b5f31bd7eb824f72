import { createHash } from 'node:crypto';
import type { AuditRecord } from '../../shared/audit.ts';
import { type AppStats, type ApprovalMark, type ReportRow, type Segment, appStats, buildRows, formatDuration, outcomeClass, quantile, selectRecords } from './model.ts';
import { reportScript, reportStyle } from './page-assets.ts';

/** What the page says about itself: its period, its application filter, when it was made. */
export interface ReportOptions {
  since: Date;
  until: Date;
  app?: string;
  generatedAt: Date;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Nothing loads from anywhere; only the page's own style and script run, pinned by hash. */
const contentSecurityPolicy = [
  "default-src 'none'",
  `style-src ${sha256(reportStyle)}`,
  `script-src ${sha256(reportScript)}`,
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Text as HTML: every string from a record goes through here (tags, causes, ARNs and comments come from users). */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const e = escapeHtml;

const pad = (n: number) => String(n).padStart(2, '0');
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `2026-11-30 03:49:12` in UTC (the records' time zone). */
function utc(ms: number, seconds = true): string {
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${seconds ? `:${pad(d.getUTCSeconds())}` : ''}`;
}

/** ARNs shortened to what a person recognises (`assumed-role/release-managers/alice`). */
function who(arn: string | null | undefined): string {
  if (!arn) return '';
  return arn.replace(/^arn:aws[a-z-]*:(sts|iam)::\d{12}:/, '');
}

function shortDigest(digest: string | null | undefined): string {
  if (!digest) return '';
  return digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]*$/, '$1');
}

const outcomeLabels: Record<string, string> = {
  succeeded: 'deployed',
  'already-deployed': 'already deployed',
  failed: 'failed',
  unverified: 'unverified',
  rejected: 'rejected',
  expired: 'expired',
  superseded: 'superseded',
};
const label = (outcome: string) => outcomeLabels[outcome] ?? outcome;

/** The colour class of a bar: already-deployed is a paler green (nothing changed). */
function barClass(outcome: string): string {
  return outcome === 'already-deployed' ? 'already' : outcomeClass(outcome);
}

/** The hover text of a deployment: what an auditor asks first. */
function details(row: ReportRow, segment?: Segment): string {
  const r = row.record;
  const lines = [
    `${r.image ? `${r.image.repository}:${r.image.tag}` : r.deploymentId} — ${label(segment?.outcome ?? r.outcome)}${segment?.environment ? ` in ${segment.environment}` : ''}`,
    `${utc(segment?.start ?? row.startedAt)} → ${utc(segment?.end ?? row.finishedAt)} UTC (${formatDuration((segment?.end ?? row.finishedAt) - (segment?.start ?? row.startedAt))})`,
  ];
  if (r.image?.digest) lines.push(`digest ${r.image.digest}`);
  if (r.versionLabel) lines.push(`version ${r.versionLabel}`);
  lines.push(`pushed by ${r.image?.pushedBy ?? 'not recorded'}${r.image?.pushedAt ? ` at ${utc(Date.parse(r.image.pushedAt))}` : ''}`);
  for (const a of row.approvals) lines.push(`${approvalText(a, false)}${a.environment ? ` (${a.environment})` : ''}`);
  if (row.rolledBackTo) lines.push(`rolled back to ${row.rolledBackTo}`);
  if (r.error || r.cause) lines.push(`${r.error ?? ''}${r.error && r.cause ? ': ' : ''}${truncate(r.cause ?? '', 600)}`);
  lines.push(`id ${r.deploymentId}`);
  return lines.join('\n');
}

/** An approval decision in words: who, when, why (an expired one says nobody decided). */
function approvalText(a: ApprovalMark, withTime = true): string {
  if (a.decision === 'expired') return `approval expired: nobody decided${withTime && a.at ? ` (requested ${a.at})` : ''}`;
  return `${a.decision === 'approve' ? 'approved' : 'rejected'} by ${a.approver}${withTime && a.at ? ` at ${a.at}` : ''}${a.comment ? `${withTime ? '\n' : ': '}“${a.comment}”` : ''}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ---- timeline ---------------------------------------------------------------------------------

const W = 1200;
const LABEL = 220;
const RIGHT = 16;
const AXIS = 30;
const APP_ROW = 24;
const SUB = 16;
const BAR = 11;
const MAX_SUBROWS = 4;
const MIN_BAR = 3;

interface Lane {
  application: string;
  environment: string | null;
  inferred: boolean;
  order: number;
  items: Array<{ row: ReportRow; segment: Segment }>;
}

const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000].map((s) => s * 1000);

function ticks(from: number, to: number): { step: number; at: number[] } {
  const span = to - from;
  const step = steps.find((s) => span / s <= 9) ?? steps[steps.length - 1]!;
  const at: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) at.push(t);
  return { step, at };
}

function tickLabel(ms: number, step: number, showDay: boolean): string {
  const d = new Date(ms);
  if (step >= 86_400_000) return `${months[d.getUTCMonth()]} ${d.getUTCDate()}`;
  const clock = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${step < 60_000 ? `:${pad(d.getUTCSeconds())}` : ''}`;
  return showDay ? `${months[d.getUTCMonth()]} ${d.getUTCDate()} ${clock}` : clock;
}

/** One lane per application and environment, environments in pipeline order (dev before prod). */
function lanesOf(rows: ReportRow[]): Lane[] {
  const lanes = new Map<string, Lane>();
  for (const row of rows) {
    for (const segment of row.segments) {
      const key = `${row.application}\u0000${segment.environment ?? ''}`;
      const stageIndex = segment.environment === null ? 1000 : row.environments.indexOf(segment.environment);
      const lane = lanes.get(key) ?? { application: row.application, environment: segment.environment, inferred: row.applicationInferred, order: 999, items: [] };
      // Only a deployment that went through several environments says in which order they come.
      if (row.environments.length > 1) lane.order = Math.min(lane.order, stageIndex);
      lane.items.push({ row, segment });
      lanes.set(key, lane);
    }
  }
  return [...lanes.values()].sort(
    (a, b) =>
      Number(a.inferred) - Number(b.inferred) ||
      a.application.localeCompare(b.application) ||
      Number(a.environment === null) - Number(b.environment === null) ||
      a.order - b.order ||
      (a.environment ?? '').localeCompare(b.environment ?? ''),
  );
}

/** Packs bars into at most MAX_SUBROWS rows so overlapping deployments stay visible (beyond that they overlap). */
function pack(items: Lane['items'], x: (t: number) => number): Array<Lane['items'][number] & { sub: number }> {
  const ends: number[] = [];
  return [...items]
    .sort((a, b) => a.segment.start - b.segment.start)
    .map((item) => {
      const left = x(item.segment.start);
      let sub = ends.findIndex((end) => end + 1 < left);
      if (sub === -1 && ends.length < MAX_SUBROWS) sub = ends.length;
      if (sub === -1) sub = ends.indexOf(Math.min(...ends));
      ends[sub] = Math.max(left + MIN_BAR, x(item.segment.end));
      return { ...item, sub };
    });
}

function diamond(cx: number, cy: number, r: number): string {
  return `M${cx.toFixed(1)} ${(cy - r).toFixed(1)}L${(cx + r).toFixed(1)} ${cy.toFixed(1)}L${cx.toFixed(1)} ${(cy + r).toFixed(1)}L${(cx - r).toFixed(1)} ${cy.toFixed(1)}Z`;
}

function timeline(rows: ReportRow[]): string {
  const segments = rows.flatMap((r) => r.segments);
  const lo = Math.min(...segments.map((s) => s.start));
  const hi = Math.max(...segments.map((s) => s.end));
  const span = Math.max(hi - lo, 2000);
  const from = lo - span * 0.03;
  const to = lo + span * 1.03;
  const plot = W - LABEL - RIGHT;
  const x = (t: number) => LABEL + ((t - from) / (to - from)) * plot;

  const lanes = lanesOf(rows);
  const { step, at } = ticks(from, to);
  const multiDay = new Date(from).toISOString().slice(0, 10) !== new Date(to).toISOString().slice(0, 10);

  const body: string[] = [];
  let y = AXIS;
  let previousApp: string | null = null;
  let laneIndex = 0;
  for (const lane of lanes) {
    if (lane.application !== previousApp) {
      body.push(`<text class="app" x="8" y="${y + 16}">${e(lane.application)}</text>`);
      y += APP_ROW;
      previousApp = lane.application;
    }
    const packed = pack(lane.items, x);
    const subRows = Math.max(1, ...packed.map((p) => p.sub + 1));
    const height = subRows * SUB + 8;
    body.push(`<rect class="lane-bg${laneIndex++ % 2 ? ' odd' : ''}" x="0" y="${y}" width="${W}" height="${height}"/>`);
    const name = lane.environment ?? 'environment not recorded';
    body.push(`<text class="env${lane.environment ? '' : ' unknown'}" x="20" y="${y + height / 2 + 4}">${e(truncate(name, 30))}<title>${e(name)}</title></text>`);
    const marks: string[] = [];
    for (const { row, segment, sub } of packed) {
      const left = x(segment.start);
      const width = Math.max(MIN_BAR, x(segment.end) - left);
      const top = y + 4 + sub * SUB + (SUB - BAR) / 2;
      body.push(
        `<rect class="bar o-${barClass(segment.outcome)}" x="${left.toFixed(1)}" y="${top.toFixed(1)}" width="${width.toFixed(1)}" height="${BAR}" rx="2" data-bar-for="${e(row.record.deploymentId)}"><title>${e(details(row, segment))}</title></rect>`,
      );
      for (const approval of row.approvals) {
        const drawn = approval.environment !== null && row.segments.some((s) => s.environment === approval.environment);
        const here = drawn ? approval.environment === segment.environment : segment === row.segments[row.segments.length - 1];
        const when = Date.parse(approval.at);
        if (!here) continue;
        const cx = x(Number.isNaN(when) ? segment.start : when);
        const text = approvalText(approval);
        marks.push(
          approval.decision === 'approve'
            ? `<rect class="mark m-approve" x="${(cx - 2.5).toFixed(1)}" y="${(top - 3).toFixed(1)}" width="2" height="${BAR + 6}" rx="1"><title>${e(text)}</title></rect>`
            : `<path class="mark m-reject" d="${diamond(cx, top + BAR / 2, 5.5)}"><title>${e(text)}</title></path>`,
        );
      }
      if (row.rolledBackTo && segment === row.segments[row.segments.length - 1]) {
        const tip = x(segment.end) + 1;
        const mid = top + BAR / 2;
        marks.push(
          `<path class="mark m-rollback" d="M${tip.toFixed(1)} ${mid.toFixed(1)}l6 -5v10z"><title>${e(`rolled back to ${row.rolledBackTo}`)}</title></path>`,
        );
      }
    }
    body.push(...marks);
    y += height;
  }
  const height = y + 6;
  const axis = at
    .map((t, i) => {
      const px = x(t).toFixed(1);
      const showDay = multiDay && (i === 0 || new Date(t).getUTCDate() !== new Date(at[i - 1]!).getUTCDate());
      return `<line class="grid" x1="${px}" x2="${px}" y1="${AXIS - 6}" y2="${height}"/><text x="${px}" y="${AXIS - 12}" text-anchor="middle">${tickLabel(t, step, showDay)}</text>`;
    })
    .join('');
  return `<svg class="timeline" viewBox="0 0 ${W} ${height}" role="img" aria-label="Deployments per environment over time">
<g class="axis">${axis}</g>
${body.join('\n')}
</svg>`;
}

// ---- sections ----------------------------------------------------------------------------------

const percent = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(rate === 0 || rate === 1 ? 0 : 1)} %`);

function tiles(rows: ReportRow[], stats: AppStats[]): string {
  const count = (...outcomes: string[]) => rows.filter((r) => outcomes.includes(r.record.outcome)).length;
  const changes = stats.reduce((n, s) => n + s.changes, 0);
  const failures = stats.reduce((n, s) => n + s.failures, 0);
  const leadTimes = rows.flatMap((r) => (r.leadTimeMs === null ? [] : [r.leadTimeMs])).sort((a, b) => a - b);
  const median = quantile(leadTimes, 0.5);
  const tile = (cls: string, value: string | number, name: string) => `<div class="tile ${cls}"><b>${e(value)}</b><span>${e(name)}</span></div>`;
  return `<div class="tiles">
${tile('', rows.length, 'deployments')}
${tile('t-deployed', count('succeeded', 'already-deployed'), 'deployed')}
${tile('t-failed', count('failed', 'unverified'), 'failed or unverified')}
${tile('t-rejected', count('rejected', 'expired'), 'rejected or expired')}
${tile('t-superseded', count('superseded'), 'superseded')}
${tile('t-rate', percent(changes === 0 ? null : failures / changes), 'change failure rate')}
${tile('t-rate', formatDuration(median), 'median lead time')}
</div>`;
}

const mixOrder = ['succeeded', 'already-deployed', 'failed', 'unverified', 'rejected', 'expired', 'superseded'];

function mix(stat: AppStats): string {
  let offset = 0;
  const known = new Set(mixOrder);
  const order = [...mixOrder, ...Object.keys(stat.byOutcome).filter((o) => !known.has(o))];
  const parts = order
    .filter((o) => stat.byOutcome[o])
    .map((o) => {
      const width = (stat.byOutcome[o]! / stat.total) * 180;
      const part = `<rect class="o-${barClass(o)}" x="${offset.toFixed(2)}" y="0" width="${width.toFixed(2)}" height="10"><title>${e(`${label(o)}: ${stat.byOutcome[o]}`)}</title></rect>`;
      offset += width;
      return part;
    });
  return `<span class="mix"><svg width="180" height="10" viewBox="0 0 180 10">${parts.join('')}</svg></span>`;
}

function perApp(stats: AppStats[]): string {
  const rows = stats
    .map(
      (s) => `<tr data-app="${e(s.application)}">
<td><b>${e(s.application)}</b></td>
<td class="num">${s.total}</td>
<td>${mix(s)}</td>
<td class="num">${s.changes}</td>
<td class="num${s.failures > 0 ? ' bad' : ''}" data-failure-rate="${s.failureRate ?? ''}">${percent(s.failureRate)}${s.changes ? ` <small>(${s.failures}/${s.changes})</small>` : ''}</td>
<td class="num" data-lead-median="${s.leadTimeMedian ?? ''}">${formatDuration(s.leadTimeMedian)}</td>
<td class="num" data-lead-p90="${s.leadTimeP90 ?? ''}">${formatDuration(s.leadTimeP90)}</td>
</tr>`,
    )
    .join('\n');
  return `<section class="card" id="apps"><h2>Lead time and failure rate per application</h2>
<table class="apps"><thead><tr><th>application</th><th class="num">deployments</th><th>outcomes</th><th class="num">changes</th><th class="num">failure rate</th><th class="num">lead time, median</th><th class="num">lead time, p90</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}

function legend(): string {
  return `<div class="legend">
<span><i class="c-deployed"></i>deployed</span><span><i class="c-already"></i>already deployed (nothing changed)</span>
<span><i class="c-failed"></i>failed / unverified</span><span><i class="c-rejected"></i>rejected / expired</span>
<span><i class="c-superseded"></i>superseded</span><span><i class="approve"></i>approved</span><span><i class="reject"></i>approval rejected or expired</span>
<span><i class="rollback"></i>rolled back</span><span>hover a bar for details, click it for its row · times in UTC</span>
</div>`;
}

function approvalsCell(row: ReportRow): string {
  if (row.approvals.length === 0) return '<td></td>';
  const items = row.approvals.map(
    (a) =>
      `<span class="approval${a.decision === 'approve' ? '' : ' no'}" title="${e(a.approver)}">${a.decision === 'approve' ? '✓' : '✗'} ${a.decision === 'expired' ? 'expired, nobody decided' : e(who(a.approver))}${a.environment ? ` <small>→ ${e(a.environment)}</small>` : ''}${a.comment ? ` <q>${e(a.comment)}</q>` : ''}</span>`,
  );
  return `<td data-v="${e(row.approvals.map((a) => who(a.approver) || a.decision).join(' '))}">${items.join('')}</td>`;
}

function tableRow(row: ReportRow): string {
  const r = row.record;
  const duration = row.finishedAt - row.startedAt;
  const cause = r.error || r.cause ? `<b>${e(r.error ?? '')}</b>${r.error && r.cause ? ' ' : ''}${e(r.cause ?? '')}` : '';
  const image = r.image ? `${r.image.repository}:${r.image.tag}` : '';
  return `<tr data-deployment-id="${e(r.deploymentId)}" data-outcome="${e(r.outcome)}">
<td class="when" data-v="${row.startedAt}">${e(utc(row.startedAt))}<span class="id" title="${e(r.deploymentId)}">${e(r.deploymentId)}</span></td>
<td data-v="${e(`${row.application} ${row.environments.join(' ')}`)}"><b>${e(row.application)}</b><span class="sub">${e(row.environments.join(', ') || 'no environment')}</span></td>
<td class="mono" data-v="${e(image)}">${e(image)}<span class="sub" title="${e(r.image?.digest ?? '')}">${e(shortDigest(r.image?.digest))}</span>${r.versionLabel ? `<span class="sub">${e(r.versionLabel)}</span>` : ''}</td>
<td data-v="${e(r.outcome)}"><span class="badge b-${outcomeClass(r.outcome)}">${e(label(r.outcome))}</span>${row.rolledBackTo ? `<span class="sub">↩ ${e(row.rolledBackTo)}</span>` : ''}</td>
<td class="who" title="${e(r.image?.pushedBy ?? '')}">${e(who(r.image?.pushedBy) || '—')}</td>
${approvalsCell(row)}
<td class="num" data-v="${duration}">${formatDuration(duration)}</td>
<td class="num" data-v="${row.leadTimeMs ?? ''}">${formatDuration(row.leadTimeMs)}</td>
<td class="cause" title="${e(r.cause ?? '')}"><div>${cause}</div></td>
</tr>`;
}

function table(rows: ReportRow[]): string {
  const headers = ['started (UTC)', 'application', 'image', 'outcome', 'pushed by', 'approvals', 'duration', 'lead time', 'error and cause'];
  return `<section class="card"><h2>Deployments <small>newest first · click a header to sort</small></h2>
<div class="toolbar"><input id="filter" type="search" placeholder="Filter: tag, environment, person, cause…" aria-label="Filter deployments"><span class="count" id="shown">${rows.length} of ${rows.length} shown</span></div>
<div class="table-wrap"><table class="deployments" id="deployments">
<thead><tr>${headers.map((h, i) => `<th aria-sort="${i === 0 ? 'descending' : 'none'}"><button type="button">${e(h)}</button></th>`).join('')}</tr></thead>
<tbody>
${rows.map(tableRow).join('\n')}
</tbody></table></div></section>`;
}

function definitions(): string {
  return `<footer><dl>
<dt>Lead time</dt><dd>From the image push (its <code>pushedAt</code>; the execution start when the push time is not recorded) to the end of a deployment that succeeded in every planned stage, approvals included. Median and p90 interpolate between the closest ranks.</dd>
<dt>Failure rate</dt><dd>Failed and unverified deployments over the deployments that changed or tried to change an environment (deployed, failed, unverified). Rejected, expired, superseded and already-deployed pushes changed nothing and are not counted.</dd>
<dt>Environments</dt><dd>From the stages a record kept. A failed or superseded execution keeps none: its environment is the one its cause names; a push refused before any plan has none.</dd>
<dt>Source</dt><dd>The audit records of the period (immutable, one per ended deployment); deployments still running are not in it.</dd>
</dl></footer>`;
}

function empty(options: ReportOptions): string {
  return `<section class="card empty" id="empty"><h2>No deployments in this period</h2>
<p>No audit record starts between ${e(utc(options.since.getTime(), false))} and ${e(utc(options.until.getTime(), false))} UTC${options.app ? ` for <b>${e(options.app)}</b>` : ''}.</p>
<p>A deployment writes its record when it ends: push a tagged image and it appears here. For a longer period, run <code>greenlight report --html FILE --since 90d</code>.</p></section>`;
}

/**
 * The report of a period as one self-contained HTML page: no request leaves it, only its own hashed
 * style and script run, and every value from a record is escaped text.
 */
export function renderReport(records: AuditRecord[], options: ReportOptions): string {
  const rows = buildRows(selectRecords(records, options));
  const stats = appStats(rows);
  const title = `greenlight report${options.app ? ` — ${options.app}` : ''}: ${utc(options.since.getTime(), false)} → ${utc(options.until.getTime(), false)} UTC`;
  const content =
    rows.length === 0
      ? empty(options)
      : `${tiles(rows, stats)}
<section class="card" id="timeline"><h2>Timeline per environment <small>${e(utc(Math.min(...rows.map((r) => r.startedAt))))} → ${e(utc(Math.max(...rows.map((r) => r.finishedAt))))} UTC</small></h2>
${legend()}
${timeline(rows)}
</section>
${perApp(stats)}
${table(rows)}
${definitions()}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${e(contentSecurityPolicy)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="greenlight report">
<title>${e(title)}</title>
<style>${reportStyle}</style>
</head>
<body data-deployments="${rows.length}">
<main>
<header class="top"><h1><span>●</span> greenlight deployments${options.app ? ` · ${e(options.app)}` : ''}</h1>
<span class="period">${e(utc(options.since.getTime(), false))} → ${e(utc(options.until.getTime(), false))} UTC · ${rows.length} deployment${rows.length === 1 ? '' : 's'} · generated ${e(utc(options.generatedAt.getTime()))} UTC</span></header>
${content}
</main>
<div id="tip" hidden></div>
<script>${reportScript}</script>
</body>
</html>
`;
}
