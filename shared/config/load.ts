import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigurationError } from '../errors.ts';
import { GreenlightConfig } from './schema.ts';

/** A configuration with the folder its relative bundle paths start from. */
export interface LoadedConfig {
  readonly path: string;
  readonly baseDir: string;
  readonly config: GreenlightConfig;
}

/** Parses configuration text, naming every problem at once so one edit fixes them all. */
export function parseConfig(text: string, source = 'config'): GreenlightConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ConfigurationError(`${source} is not valid YAML: ${(error as Error).message}`, { source });
  }
  const result = GreenlightConfig.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new ConfigurationError(`${source} is not a valid greenlight configuration:\n  - ${problems.join('\n  - ')}`, { source, problems });
  }
  return result.data;
}

const cache = new Map<string, LoadedConfig>();

/** Reads and validates the configuration file once per path (Lambda cold start, or a CLI run). */
export function loadConfig(path: string): LoadedConfig {
  const absolute = resolve(path);
  const cached = cache.get(absolute);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read the configuration file ${absolute}: ${(error as Error).message}`, { path: absolute });
  }
  const loaded = { path: absolute, baseDir: dirname(absolute), config: parseConfig(text, absolute) };
  cache.set(absolute, loaded);
  return loaded;
}
