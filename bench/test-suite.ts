// Test suite (issue 12): `npm test` (type check, lint, every vitest file) in at most 60 s on this
// 2-core machine. It runs npm test once, as CI does (about a minute and a half, both cores busy):
//   npm run bench -- --only test-suite     or     node --import tsx bench/test-suite.ts
// `npm run bench -- --skip test-suite` leaves it out of a quick run. The last run is kept in
// bench/results/test-suite.json with its slowest files.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Figure, Section } from './figures.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultFile = join(root, 'bench', 'results', 'test-suite.json');
const budgetSeconds = 60;

interface Run {
  measuredAt: string;
  wallSeconds: number;
  /** CPU of npm test and every process it waited for (tsc, biome, vitest and its workers, spawned CLIs). */
  cpuSeconds: number;
  tests: string;
  cpus: number;
  /** The slowest test files, seconds from their first test to their last (setup in beforeAll included only as vitest counts it). */
  slowestFiles: Array<{ file: string; seconds: number }>;
  /** 1-minute load average before and after: the machine is shared, and others' load stretches the wall time. */
  load?: { before: number; after: number };
}

/** CPU seconds (user + system) of the children this process has waited for (Linux /proc; clock ticks of 100 Hz). */
function childrenCpuSeconds(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // After "pid (comm) ": field 3 (state) is index 0, so cutime (16) and cstime (17) are 13 and 14.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The ten slowest files from vitest's JSON report (then removed). */
function slowestFiles(path: string): Run['slowestFiles'] {
  try {
    const report = JSON.parse(readFileSync(path, 'utf8')) as { testResults: Array<{ name: string; startTime: number; endTime: number }> };
    rmSync(path, { force: true });
    return report.testResults
      .map((file) => ({ file: relative(root, file.name), seconds: Number(((file.endTime - file.startTime) / 1000).toFixed(1)) }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, 10);
  } catch {
    return [];
  }
}

/** Runs npm test once, as CI does, and keeps the result for later reports. */
function measure(): Run {
  const loadBefore = loadavg()[0]!;
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const perFile = join(tmpdir(), `greenlight-test-suite-${process.pid}.json`);
  // npm passes the arguments after -- on to `vitest run` (the last command of the test script).
  const args = ['test', '--', '--reporter=default', '--reporter=json', `--outputFile.json=${perFile}`];
  const child = spawnSync('npm', args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
  const wallSeconds = (performance.now() - started) / 1000;
  const output = `${child.stdout}${child.stderr}`;
  if (child.status !== 0) throw new Error(`npm test failed (exit ${child.status ?? child.signal}):\n${output.slice(-4000)}`);
  const tests = /Tests\s+(\d+ passed[^\n]*)/.exec(output)?.[1]?.trim() ?? 'unknown';
  const run: Run = { measuredAt: new Date().toISOString(), wallSeconds, cpuSeconds: childrenCpuSeconds() - cpuBefore, tests, cpus: cpus().length, slowestFiles: slowestFiles(perFile), load: { before: loadBefore, after: loadavg()[0]! } };
  mkdirSync(dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, `${JSON.stringify(run, null, 2)}\n`);
  return run;
}

function figures(run: Run): Figure[] {
  const when = 'measured now';
  return [
    {
      name: 'npm test wall time',
      value: Number(run.wallSeconds.toFixed(1)),
      unit: 's',
      budget: { max: budgetSeconds },
      note: `${when}; tsc, biome lint and vitest run (${run.tests}) on ${run.cpus} cores${run.load ? `, load average ${run.load.before.toFixed(1)} → ${run.load.after.toFixed(1)}` : ''}; slowest files: ${(run.slowestFiles ?? [])
        .slice(0, 3)
        .map(({ file, seconds }) => `${file} ${seconds} s`)
        .join(', ')}`,
    },
    { name: 'npm test CPU time', value: Number(run.cpuSeconds.toFixed(1)), unit: 's', note: `${when}; user + system of every process npm test waited for` },
  ];
}

async function measureSection(): Promise<Figure[]> {
  return figures(measure());
}

export const section: Section = { name: 'test-suite', measure: () => measureSection() };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const figure of await measureSection()) {
    const budget = figure.budget?.max === undefined ? '' : ` (budget ≤ ${figure.budget.max} ${figure.unit})`;
    console.log(`${figure.name}: ${figure.value} ${figure.unit}${budget} — ${figure.note ?? ''}`);
  }
}
