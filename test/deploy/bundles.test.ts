/**
 * What each Lambda bundle holds, from esbuild's metafile of the very build serverless.yml asks for
 * (bench/lambda-bundles.ts reads custom.esbuild): the SDK clients a function loads are the ones it
 * calls, zod comes without its locales, and the configuration, zip and YAML code only where they are
 * used. Sizes and timings are the benchmark's business (npm run bench -- --only lambda-bundles).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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
  // Loads ECR without calling it: rollBack lives in shared/deploy.ts beside deployRelease, whose image
  // check needs ECR. Moving it to its own module takes this ~8 ms away (issue 12).
  rollBack: ['ecr', 'elastic-beanstalk', 's3'],
  recordAudit: ['elastic-beanstalk', 's3', 'sfn', 'sns'],
  requestApproval: ['cloudtrail', 'elastic-beanstalk', 's3', 'sns'],
  approvalApi: ['cloudtrail', 's3', 'sfn'],
  reconcile: ['ecr', 'sfn'],
};

/** Functions that read the greenlight configuration (YAML, validated with its tag rules: RE2, semver, globs). */
const loadsConfiguration = ['onImagePushed', 'resolvePlan', 'renderBundle', 'recordAudit', 'requestApproval', 'reconcile'];

/** The files whose code is in the bundle (the metafile's inputs also list what tree shaking dropped). */
const inBundle = (fn: BuiltLambda) =>
  Object.values(fn.metafile.outputs).flatMap((output) => Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path));

/** Packages in a bundle (node_modules/<package>/…), by name. */
const packagesIn = (fn: BuiltLambda) => new Set(inBundle(fn).flatMap((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? []));

let built: BuiltLambda[];

beforeAll(async () => {
  built = await Promise.all(lambdaFunctions().map((fn) => buildLambda(fn)));
}, 120_000);

describe('Lambda bundles', () => {
  it('builds every function of serverless.yml with its custom.esbuild options: minified, no source map, names kept, the SDK external', () => {
    expect(built.map((fn) => fn.name).sort()).toEqual(Object.keys(expectedClients).sort());
    const options = lambdaBuildOptions();
    expect(options).toMatchObject({ bundle: true, minify: true, sourcemap: false, keepNames: true, platform: 'node', format: 'cjs' });
    expect(options.external).toEqual(['@aws-sdk/*']);
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

  it('bundles the configuration reader, YAML and the tag rules only into functions that read the configuration, and zip code only into Prepare Release', () => {
    for (const fn of built) {
      const packages = packagesIn(fn);
      const reads = loadsConfiguration.includes(fn.name);
      for (const name of ['yaml', 're2js', 'semver', 'picomatch']) expect(packages.has(name), `${fn.name} ${name}`).toBe(reads);
      expect(packages.has('fflate'), `${fn.name} fflate`).toBe(fn.name === 'renderBundle');
      expect(packages.has('diff'), `${fn.name} diff`).toBe(false);
    }
  });

  it('names in loadsConfiguration exactly the handlers that load the configuration file', () => {
    const readers = lambdaFunctions()
      .filter((fn) => readFileSync(resolve(root, fn.entry), 'utf8').includes('loadConfig('))
      .map((fn) => fn.name);
    expect(readers.sort()).toEqual([...loadsConfiguration].sort());
  });
});
