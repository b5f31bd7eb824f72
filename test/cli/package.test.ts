import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../scripts/build-cli.ts';

/**
 * The CLI as the package ships it: the files `npm pack` takes (package.json's `files`), with dist/
 * compiled by scripts/build-cli.ts, in a folder of their own beside a node_modules, run through
 * bin/greenlight.js in processes of their own. No cli/ sources there, so the bin can only run dist/.
 */
const root = new URL('../..', import.meta.url).pathname;
let stage: string;
let pkg: string;
let packed: string[];
let metafile: Metafile;

function greenlight(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const { GREENLIGHT_USE_DIST: _d, GREENLIGHT_CONFIG: _c, ...inherited } = process.env;
  const result = spawnSync(process.execPath, [join(cwd, 'bin', 'greenlight.js'), ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...inherited, NO_COLOR: '1', ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  stage = mkdtempSync(join(tmpdir(), 'greenlight-package-'));
  pkg = join(stage, 'greenlight');
  // What npm would pack, without running prepare (the checkout's dist/ is left alone; the stage gets its own).
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  expect(pack.status, pack.stderr).toBe(0);
  packed = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((file) => file.path).filter((path) => !path.startsWith('dist/'));
  for (const path of packed) {
    mkdirSync(dirname(join(pkg, path)), { recursive: true });
    copyFileSync(join(root, path), join(pkg, path));
  }
  symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'));
  ({ metafile } = await buildCli(join(pkg, 'dist')));
}, 120_000);

afterAll(() => {
  if (stage) rmSync(stage, { recursive: true, force: true });
});

describe('the packed CLI', () => {
  it('carries the bin and what local and demo read at run time, and no development sources', () => {
    const serverless = readFileSync(join(root, 'serverless.yml'), 'utf8');
    const handlers = [...serverless.matchAll(/^\s+handler: (\S+)\.\w+$/gm)].map((match) => `${match[1]}.ts`);
    expect(handlers.length).toBeGreaterThan(5);
    expect(packed).toEqual(expect.arrayContaining(['bin/greenlight.js', 'package.json', 'serverless.yml', 'deploy/greenlight-vars.cjs', 'statemachine/deploy-pipeline.asl.yml', 'scripts/validate-config.ts', 'greenlight.yml', ...handlers]));
    expect(packed.filter((path) => /^(cli|local|test|bench)\//.test(path))).toEqual([]);
  });

  it('answers --help, validate and plan from dist/', () => {
    const help = greenlight(pkg, ['--help']);
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    for (const command of ['local', 'plan', 'validate', 'demo', 'pending', 'approve', 'reject', 'report', 'history', 'show', 'watch', 'sample-manifest']) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const validate = greenlight(pkg, ['validate']);
    expect(validate).toMatchObject({ code: 0, stdout: expect.stringContaining(`${join(pkg, 'greenlight.yml')} is valid`) });
    const planned = greenlight(pkg, ['plan', 'hello-api:v1.2.3', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(JSON.parse(planned.stdout)).toMatchObject({ application: 'hello-api', deploys: true, stages: [{ environment: 'hello-api-dev' }, { environment: 'hello-api-prod' }] });
  });

  it('loads no command, SDK client, endpoint or tsx before a command runs', () => {
    const outputs = metafile.outputs;
    const key = (file: string) => Object.keys(outputs).find((path) => basename(path) === basename(file))!;
    const loaded = new Set<string>();
    const staticImports = new Set<string>();
    const visit = (output: string) => {
      if (loaded.has(output)) return;
      loaded.add(output);
      for (const imported of outputs[output]!.imports) {
        if (imported.kind !== 'import-statement') continue;
        if (imported.external) staticImports.add(imported.path);
        else visit(key(imported.path));
      }
    };
    visit(key('main.js'));
    const inputs = [...loaded].flatMap((output) => Object.keys(outputs[output]!.inputs));
    expect(inputs.filter((input) => /^(cli\/commands\/(?!demo-scenarios|watch-exit)|local\/(?!project-root))/.test(input))).toEqual([]);
    expect([...staticImports].filter((path) => !path.startsWith('node:'))).toEqual([]);
    // and the commands are there, each its own chunk, loaded by its action
    const dynamic = outputs[key('main.js')]!.imports.filter((imported) => imported.kind === 'dynamic-import').map((imported) => imported.path);
    expect(dynamic.length).toBeGreaterThanOrEqual(10);
  });
});

describe('bin/greenlight.js in a checkout', () => {
  let checkout: string;
  const sources = "export async function main() { process.stdout.write('ran the sources\\n'); return 0; }\n";

  beforeAll(() => {
    // A checkout in miniature: the real bin, package.json and dist/, and a cli/main.ts that says it ran.
    checkout = join(stage, 'checkout');
    mkdirSync(join(checkout, 'cli'), { recursive: true });
    mkdirSync(join(checkout, 'bin'));
    copyFileSync(join(pkg, 'bin', 'greenlight.js'), join(checkout, 'bin', 'greenlight.js'));
    copyFileSync(join(pkg, 'package.json'), join(checkout, 'package.json'));
    cpSync(join(pkg, 'dist'), join(checkout, 'dist'), { recursive: true });
    writeFileSync(join(checkout, 'cli', 'main.ts'), sources);
  });

  const built = (startedAt: number, inputs: string[]) => writeFileSync(join(checkout, 'dist', 'build.json'), JSON.stringify({ startedAt, inputs }));
  const modified = (path: string, at: number) => utimesSync(join(checkout, path), at / 1000, at / 1000);

  it('runs dist/ while no input changed since the build, the sources once one did', () => {
    const now = Date.now();
    built(now, ['cli/main.ts']);
    modified('cli/main.ts', now - 60_000);
    expect(greenlight(checkout, ['--help']).stdout).toContain('Usage: greenlight');
    modified('cli/main.ts', now + 1_000);
    expect(greenlight(checkout, ['--help']).stdout).toBe('ran the sources\n');
  });

  it('runs the sources when an input is gone or dist/ was never built, and GREENLIGHT_USE_DIST decides when set', () => {
    const now = Date.now();
    modified('cli/main.ts', now - 60_000);
    built(now, ['cli/main.ts', 'shared/removed.ts']);
    expect(greenlight(checkout, ['--help']).stdout).toBe('ran the sources\n');
    const insisted = greenlight(checkout, ['--help'], { GREENLIGHT_USE_DIST: '1' });
    expect(insisted).toMatchObject({ code: 2, stderr: expect.stringContaining('GREENLIGHT_USE_DIST=1 but shared/removed.ts is gone since dist/ was built') });
    built(now, ['cli/main.ts']);
    expect(greenlight(checkout, ['--help'], { GREENLIGHT_USE_DIST: '0' }).stdout).toBe('ran the sources\n');
    rmSync(join(checkout, 'dist', 'build.json'));
    expect(greenlight(checkout, ['--help']).stdout).toBe('ran the sources\n');
  });
});
