// Benchmark section `cli` (issue 12): how long a user waits for `greenlight --help` and `greenlight plan`.
//
// The budgeted figures time the CLI as a user gets it: the project packed with `npm pack` (its `prepare`
// builds dist/), the tarball installed with `npm install` into an empty folder, and
// node_modules/.bin/greenlight run there, as a shell runs it. The plan is the one a user types,
// `greenlight plan hello-api:v1.2.3` against the packaged greenlight.yml: it asks AWS nothing (only
// --render does), so no network wait is in the figure. Context: the same commands from this checkout's
// sources through tsx (the development path), via npx, and `node -e 0` (Node's own start).
//
// Each figure is the median of 10 fresh processes after one unmeasured run (the files in the page
// cache, as for a user's second command), the commands taking turns.
//
//   node --import tsx bench/cli.ts          (or npm run bench -- --only cli)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Figure, median, type Section } from './figures.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const runs = 10;
const budgetMs = 300;

/** The environment of every timed run: no colours, and nothing that changes which configuration or build is used. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { GREENLIGHT_CONFIG: _c, GREENLIGHT_USE_DIST: _d, AWS_ENDPOINT_URL: _e, ...env } = process.env;
  return { ...env, NO_COLOR: '1', ...extra };
}

function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv | undefined }): { ms: number; stdout: string } {
  const started = process.hrtime.bigint();
  const child = spawnSync(file, args, { cwd: options.cwd, env: options.env ?? cleanEnv(), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${child.status ?? child.signal}: ${child.stderr || child.error?.message}`);
  return { ms, stdout: child.stdout };
}

interface Case {
  file: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** What the first run must print, so a figure never times an error. */
  expect?: string;
}

interface Timing {
  median: number;
  min: number;
  max: number;
}

/**
 * Wall time of `runs` fresh processes of each case, after one unmeasured run of each. The runs go round
 * robin (one of each case, `runs` times), so a burst of load from whoever shares the machine falls on
 * every case alike instead of on whichever was being timed.
 */
function timeAll<K extends string>(cases: Record<K, Case>): Record<K, Timing> {
  const entries = Object.entries(cases) as [K, Case][];
  for (const [, c] of entries) {
    const first = run(c.file, c.args, c);
    if (c.expect && !first.stdout.includes(c.expect)) throw new Error(`${c.file} ${c.args.join(' ')} did not print "${c.expect}":\n${first.stdout}`);
  }
  const times = new Map<K, number[]>(entries.map(([name]) => [name, []]));
  for (let round = 0; round < runs; round++) for (const [name, c] of entries) times.get(name)!.push(run(c.file, c.args, c).ms);
  return Object.fromEntries(entries.map(([name]) => {
    const all = times.get(name)!;
    return [name, { median: median(all), min: Math.min(...all), max: Math.max(...all) }];
  })) as Record<K, Timing>;
}

/**
 * Median CPU time (user + sys) of `runs` fresh processes, read from bash's `times` (children's line):
 * unlike wall time it barely moves when the machine is shared, so it shows whether a slow wall
 * figure is the CLI's or the machine's. Undefined where bash is missing.
 */
function cpuTimed(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): number | undefined {
  const seconds = (text: string) => {
    const match = /^(\d+)m([\d.]+)s$/.exec(text);
    return match ? Number(match[1]) * 60 + Number(match[2]) : Number.NaN;
  };
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const child = spawnSync('bash', ['-c', '"$0" "$@" >/dev/null 2>&1; times', file, ...args], { cwd: options.cwd, env: options.env ?? cleanEnv(), encoding: 'utf8' });
    const children = child.status === 0 ? child.stdout.trim().split('\n')[1]?.split(' ') : undefined;
    if (children?.length !== 2) return undefined;
    times.push((seconds(children[0]!) + seconds(children[1]!)) * 1000);
  }
  return median(times);
}

const round = (ms: number) => Math.round(ms);
const spread = ({ min, max }: Timing) => `min ${round(min)}, max ${round(max)}`;

interface Installed {
  bin: string;
  cwd: string;
  tarballBytes: number;
  installSeconds: number;
}

/** `npm pack` of this project (prepare builds dist/), installed with `npm install` into an empty folder. */
function installPackage(dir: string): Installed {
  const npm = (args: string[], cwd: string) => {
    const child = spawnSync('npm', args, { cwd, encoding: 'utf8', env: cleanEnv({ npm_config_update_notifier: 'false' }) });
    if (child.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${child.status ?? child.signal}):\n${child.stderr}`);
  };
  npm(['pack', '--pack-destination', dir], root);
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
  const cwd = join(dir, 'user');
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'package.json'), `${JSON.stringify({ name: 'greenlight-user', private: true })}\n`);
  const started = performance.now();
  // --prefer-offline: the dependencies come from npm's cache when it has them; the bench times the CLI, not the registry.
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)], cwd);
  return { bin: join(cwd, 'node_modules', '.bin', 'greenlight'), cwd, tarballBytes: statSync(join(dir, tarball)).size, installSeconds: (performance.now() - started) / 1000 };
}

export const section: Section = {
  name: 'cli',
  async measure(): Promise<Figure[]> {
    const dir = mkdtempSync(join(tmpdir(), 'greenlight-bench-cli-'));
    try {
      const installed = installPackage(dir);
      const shipped = { cwd: installed.cwd };
      const plan = ['plan', 'hello-api:v1.2.3'];
      // The development path: this checkout's sources through tsx (what bin/greenlight.js runs while dist/ is stale).
      const sources = { cwd: root, env: cleanEnv({ GREENLIGHT_USE_DIST: '0' }) };
      const bin = join(root, 'bin', 'greenlight.js');
      const { help, planned, rendered, validated, npx, node, devHelp, devPlan } = timeAll({
        help: { file: installed.bin, args: ['--help'], ...shipped, expect: 'Usage: greenlight' },
        planned: { file: installed.bin, args: plan, ...shipped, expect: 'deploys application hello-api' },
        rendered: { file: installed.bin, args: [...plan, '--render', '--offline'], ...shipped, expect: 'Bundle rendered' },
        validated: { file: installed.bin, args: ['validate'], ...shipped, expect: 'is valid' },
        npx: { file: 'npx', args: ['greenlight', '--help'], ...shipped, expect: 'Usage: greenlight' },
        node: { file: process.execPath, args: ['-e', '0'], ...shipped },
        devHelp: { file: process.execPath, args: [bin, '--help'], ...sources, expect: 'Usage: greenlight' },
        devPlan: { file: process.execPath, args: [bin, ...plan], ...sources, expect: 'deploys application hello-api' },
      });
      const helpCpu = cpuTimed(installed.bin, ['--help'], shipped);
      const planCpu = cpuTimed(installed.bin, plan, shipped);
      const nodeCpu = cpuTimed(process.execPath, ['-e', '0'], shipped);
      const load = loadavg()[0]!.toFixed(1);

      const how = `median of ${runs} fresh processes (round robin with the other commands) of node_modules/.bin/greenlight in a folder where the npm pack tarball was installed; load average ${load} on ${cpus().length} cores`;
      const cpu = (name: string, value: number | undefined, note: string): Figure[] => (value === undefined ? [] : [{ name, value: round(value), unit: 'ms', note: `CPU time (user + sys), median of ${runs}; ${note}` }]);
      return [
        { name: 'greenlight --help (installed package)', value: round(help.median), unit: 'ms', budget: { max: budgetMs }, note: `${how}; ${spread(help)}` },
        { name: 'greenlight plan hello-api:v1.2.3 (installed package)', value: round(planned.median), unit: 'ms', budget: { max: budgetMs }, note: `${how}; the packaged greenlight.yml; plan asks AWS nothing without --render; ${spread(planned)}` },
        { name: 'greenlight plan … --render --offline (installed package)', value: round(rendered.median), unit: 'ms', note: `the bundle rendered with placeholder digests; ${spread(rendered)}` },
        { name: 'greenlight validate (installed package)', value: round(validated.median), unit: 'ms', note: `every application, every bundle rendered; ${spread(validated)}` },
        { name: 'npx greenlight --help (installed package)', value: round(npx.median), unit: 'ms', note: `npx adds npm's own start-up; ${spread(npx)}` },
        { name: 'node -e 0', value: round(node.median), unit: 'ms', note: `Node's start-up on this machine, the floor of every figure above; ${spread(node)}` },
        ...cpu('greenlight --help CPU (installed package)', helpCpu, 'what the wall figure is on an idle machine, give or take Node\u2019s threads'),
        ...cpu('greenlight plan hello-api:v1.2.3 CPU (installed package)', planCpu, 'the same plan as above'),
        ...cpu('node -e 0 CPU', nodeCpu, 'Node\u2019s own start-up'),
        { name: 'greenlight --help (checkout sources, tsx)', value: round(devHelp.median), unit: 'ms', note: `development path: GREENLIGHT_USE_DIST=0 node bin/greenlight.js; ${spread(devHelp)}` },
        { name: 'greenlight plan hello-api:v1.2.3 (checkout sources, tsx)', value: round(devPlan.median), unit: 'ms', note: `development path; ${spread(devPlan)}` },
        { name: 'package tarball (npm pack)', value: Math.round(installed.tarballBytes / 1000), unit: 'KB', note: `dist/ plus what local and demo read at run time; npm install of it took ${installed.installSeconds.toFixed(1)} s (--prefer-offline)` },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await section.measure();
  const width = Math.max(...figures.map((figure) => figure.name.length));
  for (const figure of figures) {
    const budget = figure.budget?.max === undefined ? '' : `  (budget ≤ ${figure.budget.max} ${figure.unit}: ${figure.value <= figure.budget.max ? 'ok' : 'MISSED'})`;
    console.log(`${figure.name.padEnd(width)}  ${String(figure.value).padStart(6)} ${figure.unit}${budget}`);
  }
}
