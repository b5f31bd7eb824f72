import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigurationError } from '../errors.ts';
import type { GreenlightConfig } from './schema.ts';
import { type ConfigFinding, formatFindings, validateConfigText } from './validate.ts';

/** A configuration with the folder its relative bundle paths start from, and what the validator warned about. */
export interface LoadedConfig {
  readonly path: string;
  readonly baseDir: string;
  readonly config: GreenlightConfig;
  readonly warnings?: readonly ConfigFinding[];
}

/**
 * Parses configuration text, naming every problem at once so one edit fixes them all. With `baseDir`
 * (the file's folder) every application's bundle is checked on disk too.
 */
export function parseConfig(text: string, source = 'config', options: { baseDir?: string } = {}): GreenlightConfig {
  return parseWithWarnings(text, source, options).config;
}

function parseWithWarnings(text: string, source: string, options: { baseDir?: string }): { config: GreenlightConfig; warnings: ConfigFinding[] } {
  const { config, problems, warnings } = validateConfigText(text, options);
  if (!config) {
    const lines = formatFindings(problems);
    throw new ConfigurationError(`${source} is not a valid greenlight configuration:\n  - ${lines.join('\n  - ')}`, { source, problems: lines });
  }
  return { config, warnings };
}

const cache = new Map<string, LoadedConfig>();

/** Reads and validates the configuration file and its bundle files once per path (Lambda cold start, or a CLI run). */
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
  const baseDir = dirname(absolute);
  const loaded = { path: absolute, baseDir, ...parseWithWarnings(text, absolute, { baseDir }) };
  cache.set(absolute, loaded);
  return loaded;
}
