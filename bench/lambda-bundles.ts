// Lambda bundles (issue 12): every function of serverless.yml built with exactly its custom.esbuild
// options, measured for minified size and for the time a fresh `node` takes to require it with the real
// SDK clients it loads. A function over budget gets the inputs that make it big, which is why it is.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { parse } from 'yaml';
import { compileConfigFile } from '../shared/config/compile.ts';
import { onDemandPackages } from '../shared/runtime/on-demand.ts';
import { type Figure, median, type Section, withinBudget } from './figures.ts';

const root = resolve(import.meta.dirname, '..');
const serverlessYml = join(root, 'serverless.yml');

/** Budgets of issue 12, per function. */
export const bundleBudgetKB = 150;
export const requireBudgetMs = 100;
const runs = 10;

/** custom.esbuild keys that are serverless-esbuild's own; the plugin removes them before calling esbuild (dist/bundle.js). */
const pluginOnlyKeys = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
]);

const asList = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string');

function readServerless(): any {
  return parse(readFileSync(serverlessYml, 'utf8'));
}

/** The esbuild options serverless-esbuild uses for every function, read from serverless.yml so this cannot drift from what is deployed. */
export function lambdaBuildOptions(serverless: any = readServerless()): BuildOptions {
  const custom: Record<string, unknown> = serverless.custom?.esbuild ?? {};
  const options = Object.fromEntries(Object.entries(custom).filter(([key]) => !pluginOnlyKeys.has(key))) as BuildOptions;
  const exclude = asList(custom.exclude);
  // As the plugin does: `exclude` modules become external (a bare '*' means "package everything instead").
  return { ...options, external: [...asList(custom.external), ...(exclude.includes('*') ? [] : exclude)] };
}

export interface LambdaFunction {
  /** The function's key in serverless.yml (`checkHealth`). */
  name: string;
  /** The handler's source file, relative to the project (`functions/check-health/handler.ts`). */
  entry: string;
}

/** Every function of serverless.yml with its handler's source file, resolved as serverless-esbuild resolves it. */
export function lambdaFunctions(serverless: any = readServerless()): LambdaFunction[] {
  return Object.entries<{ handler: string }>(serverless.functions).map(([name, { handler }]) => {
    const file = handler.slice(0, handler.lastIndexOf('.'));
    const extension = ['.ts', '.js', '.mts', '.mjs', '.cts', '.cjs'].find((ext) => existsSync(join(root, file + ext)));
    if (!extension) throw new Error(`${name}: no source file for handler ${handler}`);
    return { name, entry: file + extension };
  });
}

export interface BuiltLambda extends LambdaFunction {
  /** The bundle's JavaScript (source map not included). */
  bytes: number;
  metafile: Metafile;
  /** Where the bundle was written, when it was. */
  file?: string;
}

/** Builds one function as serverless-esbuild would; without `outdir` nothing is written (the metafile is enough). */
export async function buildLambda(fn: LambdaFunction, options: { outdir?: string; buildOptions?: BuildOptions } = {}): Promise<BuiltLambda> {
  const outdir = join(options.outdir ?? join(root, 'node_modules', '.cache', 'unwritten'), fn.entry, '..');
  const result = await build({
    ...(options.buildOptions ?? lambdaBuildOptions()),
    absWorkingDir: root,
    entryPoints: [fn.entry],
    outdir,
    metafile: true,
    write: options.outdir !== undefined,
    logLevel: 'silent',
  });
  const metafile = result.metafile!;
  const [file, output] = Object.entries(metafile.outputs).find(([path]) => path.endsWith('.js'))!;
  return { ...fn, bytes: output.bytes, metafile, ...(options.outdir !== undefined ? { file: join(root, file) } : {}) };
}

/** The inputs of a bundle by bytes in the output: node_modules grouped by package, own sources by file. */
export function largestInputs(metafile: Metafile, count = 10): Array<{ input: string; bytes: number }> {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const key = inPackage ? inPackage[1]! : path;
      sizes.set(key, (sizes.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes.entries()]
    .map(([input, bytes]) => ({ input, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, count);
}

/** The external modules a bundle requires (the SDK clients, which the Lambda runtime provides). */
export function externalImports(metafile: Metafile): string[] {
  const found = new Set<string>();
  for (const input of Object.values(metafile.inputs)) for (const imported of input.imports) if (imported.external && imported.path !== '<runtime>') found.add(imported.path);
  return [...found].sort();
}

/** The environment a function starts with: serverless.yml's provider environment (NODE_OPTIONS included) and every setting a handler reads at cold start. */
function lambdaEnvironment(serverless: any, compiledConfig: string): NodeJS.ProcessEnv {
  const provider = Object.entries<unknown>(serverless.provider?.environment ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && !entry[1].includes('${'));
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: 'us-east-1',
    NODE_OPTIONS: '',
    ...Object.fromEntries(provider),
    // The compiled greenlight.yml, as packaging writes it (deploy/greenlight-vars.cjs).
    GREENLIGHT_CONFIG_FILE: compiledConfig,
    BUNDLE_BUCKET: 'bench-bundles',
    AUDIT_BUCKET: 'bench-audit',
    APPROVALS_BUCKET: 'bench-approvals',
    STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:bench',
    NOTIFICATION_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:bench',
  };
}

/** Wall time of one fresh `node -e <code>` (spawn to exit), which must succeed, and what the code printed. */
function timeNode(code: string, env: NodeJS.ProcessEnv): { ms: number; stdout: string } {
  const started = performance.now();
  const child = spawnSync(process.execPath, ['-e', code], { cwd: root, env, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (child.status !== 0) throw new Error(`node -e ${code} exited with ${child.status}:\n${child.stderr}`);
  return { ms, stdout: child.stdout };
}

/**
 * Requires the bundle and prints how long the require took inside the process, wall and CPU (user +
 * system, all threads): the CPU figure hardly moves when other work shares the machine, the wall
 * figures do.
 */
const requireAndReport = (file: string) =>
  `const t=performance.now(),c=process.cpuUsage();require(${JSON.stringify(file)});const u=process.cpuUsage(c);` +
  `process.stdout.write(JSON.stringify({ms:performance.now()-t,cpuMs:(u.user+u.system)/1000}))`;

export interface LambdaMeasurement extends BuiltLambda {
  /** Median wall time of a fresh `node` requiring the bundle, above `node -e 0`, ms (the budgeted figure). */
  requireMs: number;
  /** Median time of the require() itself inside that process: wall and CPU, ms. */
  inProcessMs: number;
  inProcessCpuMs: number;
}

/** Builds every function into a folder inside the project (so node_modules/@aws-sdk resolves, as the runtime's SDK does) and times requiring each. */
export interface OnDemandMeasurement {
  name: string;
  /** What `require` loads of it (its CommonJS entry and the files that requires), bundled and minified as the functions are: comparable to the bundle budget, bytes. */
  bytes: number;
  /** Median time of requiring it inside a fresh process, wall and CPU, ms. */
  requireMs: number;
  requireCpuMs: number;
}

export interface ConfigReadMeasurement {
  /** Median time of the first loadCompiledConfig() in a fresh process (module already loaded), ms. */
  ms: number;
  bytes: number;
  /** Whether the shipped greenlight.yml makes the functions load the on-demand packages. */
  regexRules: boolean;
  semverRules: boolean;
  composeBundles: boolean;
}

export async function measureLambdas(): Promise<{ baselineMs: number; loadAverage: number; lambdas: LambdaMeasurement[]; onDemand: OnDemandMeasurement[]; configRead: ConfigReadMeasurement }> {
  const serverless = readServerless();
  const buildOptions = lambdaBuildOptions(serverless);
  // Not under .esbuild/: serverless-esbuild removes that whole folder after every `serverless package`.
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const outdir = mkdtempSync(join(cache, 'greenlight-lambda-bundles-'));
  try {
    // The bundles are CommonJS; this project's package.json says "module", the Lambda package does not.
    writeFileSync(join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
    const built: BuiltLambda[] = [];
    for (const fn of lambdaFunctions(serverless)) built.push(await buildLambda(fn, { outdir, buildOptions }));
    const compiledConfig = compileConfigFile(join(root, 'greenlight.yml'), join(outdir, 'greenlight.compiled.json')).path;
    const env = lambdaEnvironment(serverless, compiledConfig);
    const baseline: number[] = [];
    const runsOf = new Map(built.map((fn) => [fn.name, { ms: [] as number[], inProcessMs: [] as number[], cpuMs: [] as number[] }]));
    // Interleaved, so drift in the machine's load touches every function alike.
    for (let run = 0; run < runs; run++) {
      baseline.push(timeNode('0', env).ms);
      for (const fn of built) {
        const { ms, stdout } = timeNode(requireAndReport(fn.file!), env);
        const inside = JSON.parse(stdout) as { ms: number; cpuMs: number };
        const times = runsOf.get(fn.name)!;
        times.ms.push(ms);
        times.inProcessMs.push(inside.ms);
        times.cpuMs.push(inside.cpuMs);
      }
    }
    const baselineMs = median(baseline);
    const lambdas = built.map((fn) => {
      const times = runsOf.get(fn.name)!;
      return { ...fn, requireMs: median(times.ms) - baselineMs, inProcessMs: median(times.inProcessMs), inProcessCpuMs: median(times.cpuMs) };
    });
    return { baselineMs, loadAverage: loadavg()[0]!, lambdas, onDemand: await measureOnDemand(env), configRead: await measureConfigRead(outdir, compiledConfig, env) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The packages loaded on first use (shared/runtime/on-demand.ts): not in any bundle, but shipped, and paid for by the first call that needs one. */
async function measureOnDemand(env: NodeJS.ProcessEnv): Promise<OnDemandMeasurement[]> {
  const measured: OnDemandMeasurement[] = [];
  for (const name of onDemandPackages) {
    const entry = createRequire(join(root, 'package.json')).resolve(name);
    const bundled = await build({ entryPoints: [entry], bundle: true, minify: true, platform: 'node', format: 'cjs', write: false, logLevel: 'silent' });
    const runsOfPackage = Array.from({ length: runs }, () => JSON.parse(timeNode(requireAndReport(entry), env).stdout) as { ms: number; cpuMs: number });
    measured.push({ name, bytes: bundled.outputFiles[0]!.contents.length, requireMs: median(runsOfPackage.map((r) => r.ms)), requireCpuMs: median(runsOfPackage.map((r) => r.cpuMs)) });
  }
  return measured;
}

/** The first read of the compiled configuration, which a config-reading function pays on its first call, with its loader already required. */
async function measureConfigRead(outdir: string, compiledConfig: string, env: NodeJS.ProcessEnv): Promise<ConfigReadMeasurement> {
  await build({
    entryPoints: [join(root, 'shared/config/compiled.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    outfile: join(outdir, 'compiled-loader.js'),
    logLevel: 'silent',
  });
  const code =
    `const l=require(${JSON.stringify(join(outdir, 'compiled-loader.js'))});const t=performance.now();l.loadCompiledConfig(${JSON.stringify(compiledConfig)});` +
    `process.stdout.write(JSON.stringify({ms:performance.now()-t}))`;
  const times = Array.from({ length: runs }, () => (JSON.parse(timeNode(code, env).stdout) as { ms: number }).ms);
  const { config } = JSON.parse(readFileSync(compiledConfig, 'utf8')) as { config: { applications: Record<string, { bundle: { compose?: string }; stages: Array<{ tags: string[] }> }> } };
  const apps = Object.values(config.applications);
  return {
    ms: median(times),
    bytes: statSync(compiledConfig).size,
    regexRules: apps.some((app) => app.stages.some((stage) => stage.tags.some((rule) => rule.startsWith('regex:')))),
    semverRules: apps.some((app) => app.stages.some((stage) => stage.tags.some((rule) => rule.startsWith('semver:')))),
    composeBundles: apps.some((app) => app.bundle.compose !== undefined),
  };
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

function figuresOf({ baselineMs, loadAverage, lambdas, onDemand, configRead }: Awaited<ReturnType<typeof measureLambdas>>): Figure[] {
  const tagRules = (kind: string, has: boolean) =>
    has ? `greenlight.yml has ${kind} tag rules, so resolvePlan and renderBundle load it when they first evaluate one` : `greenlight.yml has no ${kind} tag rule`;
  const uses = { re2js: tagRules('regex:', configRead.regexRules), semver: tagRules('semver:', configRead.semverRules), yaml: configRead.composeBundles ? 'greenlight.yml has a Compose bundle, so renderBundle loads it on its first render of it' : 'greenlight.yml has no Compose bundle' } as Record<string, string>;
  const context: Figure[] = [
    {
      name: 'compiled configuration, first read',
      value: round(configRead.ms, 2),
      unit: 'ms',
      note: `loadCompiledConfig() of the compiled greenlight.yml (${round(configRead.bytes / 1000)} KB of JSON), median of ${runs} fresh processes: paid on the first call of the 6 functions that read it, instead of YAML + the validator at cold start`,
    },
    ...onDemand.flatMap((pkg): Figure[] => [
      {
        name: `${pkg.name} loaded on demand (not in any bundle)`,
        value: round(pkg.bytes / 1000),
        unit: 'KB',
        note: `esbuild external, shipped in the package's node_modules, required on first use (shared/runtime/on-demand.ts); minified size of what require loads; ${uses[pkg.name] ?? ''}`,
      },
      {
        name: `${pkg.name} require on first use`,
        value: round(pkg.requireMs),
        unit: 'ms',
        note: `the require() inside a fresh process, median of ${runs}: ${round(pkg.requireMs)} ms wall, ${round(pkg.requireCpuMs)} ms CPU, paid by the first call that needs it`,
      },
    ]),
  ];
  return [...lambdas.flatMap((fn): Figure[] => [
    {
      name: `${fn.name} bundle (minified JS)`,
      value: round(fn.bytes / 1000),
      unit: 'KB',
      budget: { max: bundleBudgetKB },
      note: `esbuild with serverless.yml custom.esbuild; external: ${externalImports(fn.metafile).join(', ') || 'none'}`,
    },
    {
      name: `${fn.name} require above node -e 0`,
      value: round(fn.requireMs),
      unit: 'ms',
      budget: { max: requireBudgetMs },
      note:
        `median of ${runs} fresh node processes (node -e 0: ${round(baselineMs)} ms), real SDK clients from node_modules, serverless.yml NODE_OPTIONS; ` +
        `the require() inside the process: ${round(fn.inProcessMs)} ms wall, ${round(fn.inProcessCpuMs)} ms CPU; load average ${round(loadAverage, 2)} on ${cpus().length} cores`,
    },
  ]), ...context];
}

/** Why a function is over budget: its largest inputs. */
export function profileOverBudget(lambdas: LambdaMeasurement[]): string[] {
  const lines: string[] = [];
  for (const fn of lambdas) {
    if (fn.bytes / 1000 <= bundleBudgetKB && fn.requireMs <= requireBudgetMs) continue;
    lines.push(`${fn.name}: ${round(fn.bytes / 1000)} KB, require ${round(fn.requireMs)} ms (in process ${round(fn.inProcessMs)} ms, CPU ${round(fn.inProcessCpuMs)} ms); external ${externalImports(fn.metafile).join(', ')}; largest inputs:`);
    for (const { input, bytes } of largestInputs(fn.metafile)) lines.push(`  ${(bytes / 1000).toFixed(1).padStart(7)} KB  ${input}`);
  }
  return lines;
}

export const section: Section = {
  name: 'lambda-bundles',
  async measure() {
    const measured = await measureLambdas();
    const profile = profileOverBudget(measured.lambdas);
    if (profile.length > 0) console.error(`lambda-bundles over budget:\n${profile.join('\n')}`);
    return figuresOf(measured);
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await section.measure();
  for (const figure of figures) {
    const budget = figure.budget?.max !== undefined ? `≤ ${figure.budget.max}` : '';
    console.log(`${withinBudget(figure) ? '  ' : '✗ '}${figure.name.padEnd(46)} ${String(figure.value).padStart(8)} ${figure.unit.padEnd(3)} ${budget}`);
  }
}
