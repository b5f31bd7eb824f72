/**
 * What each Lambda bundle holds, from esbuild's metafile of the very build serverless.yml asks for
 * (bench/lambda-bundles.ts reads custom.esbuild): the SDK clients a function loads are the ones it
 * calls, zod comes without its locales, the configuration is read compiled (no YAML, no validator),
 * RE2 and YAML are required on demand, and zip code is only where it is used. Sizes and timings are
 * the benchmark's business (npm run bench -- --only lambda-bundles).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltLambda, buildLambda, externalImports, lambdaBuildOptions, lambdaFunctions } from '../../bench/lambda-bundles.ts';

const root = resolve(import.meta.dirname, '..', '..');

/** The SDK clients each handler calls (its role in serverless.yml grants these services, see package.test.ts). */
const expectedClients: Record<string, string[]> = {
  onImagePushed: ['s3', 'sfn'],
  resolvePlan: ['ecr'],
  acquireEnvironment: ['s3'],
  releaseEnvironment: ['s3'],
  renderBundle: ['ecr', 'elastic-beanstalk', 's3'],
  createVersion: ['elastic-beanstalk'],
  checkVersion: ['elastic-beanstalk'],
  deployStage: ['ecr', 'elastic-beanstalk', 's3'],
  checkHealth: ['elastic-beanstalk'],
  rollBack: ['elastic-beanstalk', 's3'],
  recordAudit: ['elastic-beanstalk', 's3', 'sfn', 'sns'],
  requestApproval: ['cloudtrail', 'elastic-beanstalk', 's3', 'sns'],
  approvalApi: ['cloudtrail', 's3', 'sfn'],
  reconcile: ['ecr', 'sfn'],
};

/** Functions that read the greenlight configuration: compiled at package time, so as JSON, never YAML through the validator. */
const loadsConfiguration = ['onImagePushed', 'resolvePlan', 'renderBundle', 'recordAudit', 'requestApproval', 'reconcile'];

/** Functions that evaluate tag rules (globs bundled; semver and RE2 on demand for `semver:` and `regex:` rules). */
const evaluatesTagRules = ['resolvePlan', 'renderBundle'];

/** The packages each function requires on first use (shared/runtime/on-demand.ts), which serverless-esbuild ships in its node_modules. */
const requiredOnDemand: Record<string, string[]> = { resolvePlan: ['re2js', 'semver'], renderBundle: ['re2js', 'semver', 'yaml'] };

/** The configuration reader and validator modules, which only the CLI, packaging and the local endpoint's start run. */
const validatorModules = ['shared/config/validate.ts', 'shared/config/schema.ts', 'shared/config/load.ts', 'shared/config/compile.ts', 'shared/config/validation-report.ts'];

/** The files whose code is in the bundle (the metafile's inputs also list what tree shaking dropped). */
const inBundle = (fn: BuiltLambda) =>
  Object.values(fn.metafile.outputs).flatMap((output) => Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path));

/** Packages in a bundle (node_modules/<package>/…), by name. */
const packagesIn = (fn: BuiltLambda) => new Set(inBundle(fn).flatMap((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? []));

let built: BuiltLambda[];
let outdir: string;

beforeAll(async () => {
  // Written, so the bundles' text can be read as serverless-esbuild reads it (its require() calls).
  const cache = resolve(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  outdir = mkdtempSync(join(cache, 'greenlight-bundles-test-'));
  built = await Promise.all(lambdaFunctions().map((fn) => buildLambda(fn, { outdir })));
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('Lambda bundles', () => {
  it('builds every function of serverless.yml with its custom.esbuild options: minified, no source map, names kept, the SDK external', () => {
    expect(built.map((fn) => fn.name).sort()).toEqual(Object.keys(expectedClients).sort());
    const options = lambdaBuildOptions();
    expect(options).toMatchObject({ bundle: true, minify: true, sourcemap: false, keepNames: true, platform: 'node', format: 'cjs' });
    expect(options.external).toEqual(['re2js', 'semver', 'yaml', '@aws-sdk/*']);
    for (const fn of built) expect(Object.keys(fn.metafile.outputs).filter((file) => file.endsWith('.map')), fn.name).toEqual([]);
  });

  it('loads in each function only the SDK clients its handler calls', () => {
    for (const fn of built) {
      const clients = externalImports(fn.metafile)
        .filter((path) => path.startsWith('@aws-sdk/'))
        .map((path) => path.replace('@aws-sdk/client-', ''));
      expect(clients, fn.name).toEqual(expectedClients[fn.name]);
    }
  });

  it('bundles zod without its locales (English messages only)', () => {
    for (const fn of built) {
      const locales = inBundle(fn)
        .filter((path) => path.includes('node_modules/zod/') && path.includes('/locales/'))
        .map((path) => path.slice(path.indexOf('node_modules/zod/')));
      expect(locales, fn.name).toEqual(['node_modules/zod/v4/locales/en.js']);
    }
  });

  it('bundles neither YAML nor the validator into any function: the configuration is read compiled, by the compiled-configuration reader only where it is read', () => {
    for (const fn of built) {
      const files = inBundle(fn);
      expect(files.filter((file) => validatorModules.includes(file)), fn.name).toEqual([]);
      expect(files.includes('shared/config/compiled.ts'), `${fn.name} compiled.ts`).toBe(loadsConfiguration.includes(fn.name));
      const packages = packagesIn(fn);
      for (const name of ['yaml', 're2js', 'semver']) expect(packages.has(name), `${fn.name} ${name}`).toBe(false);
      expect(packages.has('picomatch'), `${fn.name} picomatch`).toBe(evaluatesTagRules.includes(fn.name));
      expect(packages.has('fflate'), `${fn.name} fflate`).toBe(fn.name === 'renderBundle');
      expect(packages.has('diff'), `${fn.name} diff`).toBe(false);
    }
  });

  it('parses with zod/mini only: classic zod (whose methods reach all of it, ~100 KB) is in no function', () => {
    for (const fn of built) {
      expect(inBundle(fn).filter((path) => path.includes('node_modules/zod/v4/classic/')), fn.name).toEqual([]);
    }
  });

  it('requires RE2, semver and YAML on demand, as literal require() calls serverless-esbuild finds and ships, only in functions that may need them', () => {
    for (const fn of built) {
      const text = readFileSync(fn.file!, 'utf8');
      const required = [...text.matchAll(/\brequire\("(re2js|semver|yaml)"\)/g)].map((match) => match[1]);
      expect([...new Set(required)].sort(), fn.name).toEqual(requiredOnDemand[fn.name] ?? []);
    }
  });

  it('names in loadsConfiguration exactly the handlers that load the configuration file', () => {
    const readers = lambdaFunctions()
      .filter((fn) => readFileSync(resolve(root, fn.entry), 'utf8').includes('loadCompiledConfig('))
      .map((fn) => fn.name);
    expect(readers.sort()).toEqual([...loadsConfiguration].sort());
  });
});
