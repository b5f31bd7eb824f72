// The compiled configuration: what the Lambdas read instead of greenlight.yml. The one validator
// (validate.ts) runs when the stack is packaged (deploy/greenlight-vars.cjs, for `serverless
// package|deploy` and for the local endpoint's start) and its output, the validated and normalised
// configuration, is written as JSON (compile.ts). Reading it at cold start takes no YAML parser, no
// zod schema, no rendering checks: a few milliseconds where validating took 50–150 ms and ~350 KB of
// bundle per function (issue 12). This module is that reader, and must stay small: it is in the
// bundle of every function that reads the configuration (test/deploy/bundles.test.ts checks it).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigurationError } from '../errors.ts';
import type { LoadedConfig } from './load.ts';
import type { GreenlightConfig, installSettings } from './schema.ts';

/** The `install:` settings with their defaults filled in (the schema's installSettings). */
export type InstallSettings = ReturnType<typeof installSettings>;

/** Says "this JSON is a compiled greenlight configuration", so no other file is taken for one. */
export const compiledConfigFormat = 'greenlight-compiled-config';
/** Bumped whenever the document or the configuration's normalised shape changes incompatibly. */
export const compiledConfigVersion = 1;

/** The compiled file, as written by compile.ts and read below. */
export interface CompiledConfigDocument {
  readonly format: typeof compiledConfigFormat;
  readonly version: typeof compiledConfigVersion;
  /** The configuration file it was compiled from: its path (relative to the compiled file, for messages) and its sha256. */
  readonly source: { readonly path: string; readonly sha256: string };
  /** The folder bundle paths start from (the source file's folder), relative to the compiled file's folder. */
  readonly baseDir: string;
  /** sha256 of `JSON.stringify({ config, settings })`: a file edited by hand after compiling is refused. */
  readonly configSha256: string;
  readonly config: GreenlightConfig;
  /** What the validator derives from `install:` (defaults applied), so no function needs the schema for it. */
  readonly settings: InstallSettings;
}

/** What a function gets from the compiled file: the configuration, where it came from, its install settings. */
export interface CompiledConfig extends LoadedConfig {
  readonly settings: InstallSettings;
}

/** The digest the compiled document carries of its configuration and settings. */
export function configDigest(content: { config: unknown; settings: unknown }): string {
  return createHash('sha256').update(JSON.stringify({ config: content.config, settings: content.settings })).digest('hex');
}

/** Relative paths are the Lambda package's, whose root is the task root (and the working directory in AWS). */
function absolutePath(path: string): string {
  return resolve(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), path);
}

const howToFix =
  'the functions read only the compiled configuration that packaging writes after validating greenlight.yml: ' +
  'redeploy (serverless deploy, or serverless package), or restart greenlight local, which compiles it the same way';

function refuse(path: string, why: string, detail: Record<string, unknown> = {}): never {
  throw new ConfigurationError(`${path} is not a compiled greenlight configuration (${why}); ${howToFix}`, { path, ...detail });
}

/** Checks a parsed document and returns what it holds; anything else is refused, naming the file and what to do. */
export function readCompiledDocument(path: string, document: unknown): CompiledConfig {
  if (typeof document !== 'object' || document === null || (document as { format?: unknown }).format !== compiledConfigFormat) {
    refuse(path, `no "format": "${compiledConfigFormat}" marker`);
  }
  const compiled = document as Partial<CompiledConfigDocument>;
  if (compiled.version !== compiledConfigVersion) {
    refuse(path, `format version ${JSON.stringify(compiled.version)}, this greenlight reads version ${compiledConfigVersion}`, { version: compiled.version });
  }
  const { source, baseDir, config, settings, configSha256 } = compiled;
  if (typeof source?.path !== 'string' || typeof source.sha256 !== 'string' || typeof baseDir !== 'string' || typeof config !== 'object' || config === null || typeof settings !== 'object' || settings === null) {
    refuse(path, 'source, baseDir, config or settings missing');
  }
  if (configSha256 !== configDigest({ config, settings })) refuse(path, 'its content does not match the digest written with it: the file was changed after it was compiled');
  const folder = dirname(path);
  return { path: resolve(folder, source.path), baseDir: resolve(folder, baseDir), config, settings };
}

const cache = new Map<string, CompiledConfig>();

/** Reads the compiled configuration once per path (a Lambda's cold start). */
export function loadCompiledConfig(path: string): CompiledConfig {
  const absolute = absolutePath(path);
  const cached = cache.get(absolute);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read the compiled configuration ${absolute}: ${(error as Error).message}; ${howToFix}`, { path: absolute });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    refuse(absolute, 'not JSON; greenlight.yml itself is never read by the functions');
  }
  const loaded = readCompiledDocument(absolute, document);
  cache.set(absolute, loaded);
  return loaded;
}
