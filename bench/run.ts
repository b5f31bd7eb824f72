// npm run bench: greenlight's speed and memory figures, each budgeted one held to issue 12's budget.
// Prints one table, writes bench/results/bench.json, exits 1 naming every budget missed (and 2 when a
// section could not run). Figures, not tests: the machines are shared and noisy, so nothing here is
// part of `npm test`; run it twice on a quiet machine before believing a miss or a pass.
//
//   npm run bench                       every section, each in a fresh node process
//   npm run bench -- --only cli,transitions
//   npm run bench -- --skip test-suite  a quicker run (the test-suite section runs npm test once)
//   npm run bench -- --json             the figures as JSON on stdout (the table goes to stderr)
//
// Each section runs in its own process so one section's heap, JIT and open handles cannot flatter or
// spoil another's figures (RSS and require times especially), with --expose-gc for the memory figures.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Figure, type Section, withinBudget } from './figures.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Section name → module (each exports `section: Section`), in the order they run. */
export const sections: Record<string, string> = {
  'lambda-bundles': 'lambda-bundles.ts',
  cli: 'cli.ts',
  transitions: 'transitions.ts',
  endpoint: 'endpoint.ts',
  domain: 'domain.ts',
  'test-suite': 'test-suite.ts',
};

interface SectionResult {
  section: string;
  figures: Figure[];
  error?: string;
  seconds: number;
}

async function loadSection(name: string): Promise<Section> {
  const file = sections[name];
  if (!file) throw new Error(`unknown section "${name}" (known: ${Object.keys(sections).join(', ')})`);
  const module = (await import(pathToFileURL(join(here, file)).href)) as { section?: Section };
  if (!module.section) throw new Error(`bench/${file} exports no \`section\``);
  return module.section;
}

/** Child mode: `run.ts --section NAME --out FILE` measures one section and writes its figures. */
async function runOneSection(name: string, out: string): Promise<void> {
  const section = await loadSection(name);
  const figures = await section.measure();
  writeFileSync(out, JSON.stringify(figures));
}

function runInChild(name: string): SectionResult {
  const out = join(tmpdir(), `greenlight-bench-${process.pid}-${name}.json`);
  rmSync(out, { force: true });
  const started = performance.now();
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--section', name, '--out', out], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const seconds = (performance.now() - started) / 1000;
  try {
    const figures = JSON.parse(readFileSync(out, 'utf8')) as Figure[];
    rmSync(out, { force: true });
    return { section: name, figures, seconds, ...(child.status === 0 ? {} : { error: `exited ${child.status ?? child.signal}` }) };
  } catch {
    return { section: name, figures: [], seconds, error: `produced no figures (exit ${child.status ?? child.signal}; its output is above)` };
  }
}

const formatNumber = (value: number) =>
  Number.isInteger(value) ? value.toLocaleString('en-US') : Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);

function budgetText(figure: Figure): string {
  const { budget, unit } = figure;
  if (!budget) return '';
  const parts = [];
  if (budget.max !== undefined) parts.push(`≤ ${formatNumber(budget.max)} ${unit}`);
  if (budget.min !== undefined) parts.push(`≥ ${formatNumber(budget.min)} ${unit}`);
  return parts.join(', ');
}

/** A plain-text table (also valid Markdown, so it can be pasted into the README as it is). */
export function formatTable(results: SectionResult[]): string {
  const rows: string[][] = [['section', 'figure', 'value', 'budget', '', 'how']];
  for (const result of results) {
    if (result.error && result.figures.length === 0) rows.push([result.section, `(section failed: ${result.error})`, '', '', '✗', '']);
    for (const figure of result.figures) {
      const verdict = figure.budget ? (withinBudget(figure) ? 'ok' : 'MISSED') : '';
      rows.push([result.section, figure.name, `${formatNumber(figure.value)} ${figure.unit}`, budgetText(figure), verdict, figure.note ?? '']);
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const option = (name: string) => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`npm run bench [-- --only|--skip ${Object.keys(sections).join(',')}] [--json]\nSections run one after another, each in its own node process; the table names every budget missed and the exit code is 1 when one is.`);
    return 0;
  }
  const single = option('--section');
  if (single) {
    await runOneSection(single, option('--out') ?? join(tmpdir(), `greenlight-bench-${single}.json`));
    return 0;
  }
  const only = option('--only')?.split(',').filter(Boolean);
  const skip = option('--skip')?.split(',').filter(Boolean) ?? [];
  const chosen = (only ?? Object.keys(sections)).filter((name) => !skip.includes(name));
  const unknown = [...chosen, ...skip].filter((name) => !sections[name]);
  if (unknown.length) {
    console.error(`unknown section(s): ${unknown.join(', ')} (known: ${Object.keys(sections).join(', ')})`);
    return 2;
  }

  const results: SectionResult[] = [];
  for (const name of chosen) {
    console.error(`\n── ${name} ──`);
    const result = runInChild(name);
    console.error(`   ${name}: ${result.figures.length} figures in ${result.seconds.toFixed(1)} s${result.error ? ` (${result.error})` : ''}`);
    results.push(result);
  }

  const table = formatTable(results);
  const figures = results.flatMap((result) => result.figures.map((figure) => ({ section: result.section, ...figure, ok: withinBudget(figure) })));
  const missed = figures.filter((figure) => !figure.ok);
  const failedSections = results.filter((result) => result.error);
  const report = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
    sections: results.map(({ section, seconds, error }) => ({ section, seconds: Number(seconds.toFixed(1)), ...(error ? { error } : {}) })),
    figures,
    missed: missed.map((figure) => `${figure.section}: ${figure.name}`),
  };
  // A partial run (--only) writes its own file, so it never overwrites the full run's figures.
  const resultFile = join(here, 'results', only || skip.length ? `bench-${chosen.join('+')}.json` : 'bench.json');
  mkdirSync(dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, `${JSON.stringify(report, null, 2)}\n`);

  if (argv.includes('--json')) {
    console.error(table);
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`\n${table}\n`);
  }
  console.error(`figures written to ${resultFile}`);
  for (const figure of missed) console.error(`MISSED budget: ${figure.section}: ${figure.name} = ${formatNumber(figure.value)} ${figure.unit}, budget ${budgetText(figure)}`);
  for (const result of failedSections) console.error(`FAILED section: ${result.section}: ${result.error}`);
  if (failedSections.length) return 2;
  if (missed.length) return 1;
  console.error(`every budget held (${figures.filter((figure) => figure.budget).length} budgeted figures)`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
