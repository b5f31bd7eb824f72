// Compiles the CLI for the package (issue 12): cli/main.ts and everything it imports from cli/, shared/
// and local/ become ES modules in dist/, so an installed greenlight starts without tsx. Every
// `await import()` of main.ts (one per command) becomes a chunk of its own (splitting), so
// `greenlight --help` parses main.js and commander only.
//
// The small pure-JavaScript libraries every light command needs (commander, and for plan and validate
// yaml, zod, picomatch, semver, re2js) are bundled in: loading them from node_modules file by file (yaml
// alone is 74 CommonJS files, zod some 50 modules) cost `greenlight plan` about a third of its time. The
// rest stays an import of node_modules: the AWS SDK (only the commands that call AWS load it), tsx,
// s3rver, aws-local-stepfunctions, and anything else not in `inline` below.
//
// dist/ is flat on purpose: local/project-root.ts finds the project one level above the module that
// holds it, in the sources (local/) as in the build (dist/, chunks included).
//
// dist/build.json records when the build started and its inputs: bin/greenlight.js, in a checkout,
// runs dist/ only while no input is newer (else the sources through tsx), so an edit is never
// answered by a stale build.
//
//   npm run build            (also `prepare`: npm ci / npm install in a clone, npm pack)
//   node --import tsx scripts/build-cli.ts [OUTDIR]
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Dependencies bundled into dist/ (see above); every other package is imported from node_modules. */
const inline = new Set(['commander', 'yaml', 'zod', 'picomatch', 'semver', 're2js']);

/** `@scope/name/sub/path` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

const dependencies: Plugin = {
  name: 'greenlight-dependencies',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, ({ path }) => (inline.has(packageOf(path)) ? undefined : { path, external: true }));
  },
};

// picomatch and semver are CommonJS: bundled into ES modules, their require() of Node's own modules needs one.
const requireShim = "import { createRequire as __greenlightCreateRequire } from 'node:module';\nconst require = __greenlightCreateRequire(import.meta.url);";

const installRecord = 'node_modules/.package-lock.json';

export interface BuildInfo {
  /** Epoch milliseconds at the start of the build: an input modified later makes the build stale. */
  startedAt: number;
  /** The source files bundled and npm's record of the install, relative to the project. */
  inputs: string[];
}

/**
 * Builds the CLI into `outdir` (default dist/ of the project). Written beside it first and then moved
 * in place, so a CLI starting meanwhile finds either the old build or the new one, not half of one.
 * Returns what build.json holds and esbuild's metafile (which output imports what, and how).
 */
export async function buildCli(outdir = join(root, 'dist')): Promise<BuildInfo & { metafile: Metafile }> {
  const startedAt = Date.now();
  const target = resolve(outdir);
  const staging = `${target}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: { main: 'cli/main.ts' },
      outdir: staging,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      plugins: [dependencies],
      banner: { js: requireShim },
      chunkNames: '[name]-[hash]',
      metafile: true,
      logLevel: 'warning',
    });
    // Bundled libraries are not listed file by file (hundreds of stats at every start of the bin): npm
    // rewrites node_modules/.package-lock.json on every install, so a changed dependency shows there.
    const sources = Object.keys(result.metafile.inputs).filter((input) => !input.startsWith('node_modules/'));
    const inputs = [...sources, ...(existsSync(join(root, installRecord)) ? [installRecord] : [])].sort();
    const info: BuildInfo = { startedAt, inputs };
    writeFileSync(join(staging, 'build.json'), `${JSON.stringify(info, null, 2)}\n`);
    const previous = `${target}.previous-${process.pid}`;
    rmSync(previous, { recursive: true, force: true });
    try {
      renameSync(target, previous);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    renameSync(staging, target);
    rmSync(previous, { recursive: true, force: true });
    return { ...info, metafile: result.metafile };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outdir = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');
  const { inputs } = await buildCli(outdir);
  process.stdout.write(`greenlight CLI: ${inputs.length} inputs → ${relative(process.cwd(), outdir) || '.'}/main.js\n`);
}
