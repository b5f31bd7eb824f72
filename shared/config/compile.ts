// Compiling a configuration: the one validator's output (validate.ts), written as the JSON document
// the Lambdas read (compiled.ts). Only validated configurations are ever compiled, so a function never
// meets a configuration the validator has not accepted. The validation report (validation-report.ts)
// writes the file while `serverless package|deploy` (and the local endpoint's start) resolve
// serverless.yml through deploy/greenlight-vars.cjs.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ConfigurationError } from '../errors.ts';
import { type CompiledConfigDocument, compiledConfigFormat, compiledConfigVersion, configDigest } from './compiled.ts';
import { type GreenlightConfig, installSettings } from './schema.ts';
import { formatFindings, validateConfigFile } from './validate.ts';

/**
 * Where a configuration file's compiled form is written: `.greenlight/<name>.compiled.json` beside it
 * (gitignored), so bundle paths keep their folder and each configuration has its own.
 */
export function compiledConfigPath(source: string): string {
  const absolute = resolve(source);
  return join(dirname(absolute), '.greenlight', `${basename(absolute)}.compiled.json`);
}

/** The compiled document of a configuration the validator accepted, for the file at `compiledPath`. */
export function compiledDocument(source: string, config: GreenlightConfig, compiledPath = compiledConfigPath(source)): CompiledConfigDocument {
  const absolute = resolve(source);
  const folder = dirname(resolve(compiledPath));
  // Through JSON once, so the digest is of exactly what a reader parses back.
  const normalised = JSON.parse(JSON.stringify(config)) as GreenlightConfig;
  const settings = JSON.parse(JSON.stringify(installSettings(config))) as CompiledConfigDocument['settings'];
  return {
    format: compiledConfigFormat,
    version: compiledConfigVersion,
    source: { path: relative(folder, absolute), sha256: createHash('sha256').update(readFileSync(absolute)).digest('hex') },
    baseDir: relative(folder, dirname(absolute)) || '.',
    configSha256: configDigest({ config: normalised, settings }),
    config: normalised,
    settings,
  };
}

/** Writes a document atomically (temporary file, then rename): parallel starts of the same configuration never see half a file. */
export function writeCompiledDocument(path: string, document: CompiledConfigDocument): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(document)}\n`);
  renameSync(temporary, path);
}

/** Writes the compiled form of a configuration the validator accepted (the one writer: the validation report and compileConfigFile). */
export function writeCompiledConfig(source: string, config: GreenlightConfig, compiledPath = compiledConfigPath(source)): { path: string; document: CompiledConfigDocument } {
  const document = compiledDocument(source, config, compiledPath);
  writeCompiledDocument(compiledPath, document);
  return { path: compiledPath, document };
}

/** Validates a configuration file and writes its compiled form; a configuration with problems names them all and writes nothing. */
export function compileConfigFile(source: string, compiledPath = compiledConfigPath(source)): { path: string; document: CompiledConfigDocument } {
  const result = validateConfigFile(source);
  if (!result.config) {
    const lines = formatFindings(result.problems);
    throw new ConfigurationError(`${result.path} is not a valid greenlight configuration:\n  - ${lines.join('\n  - ')}`, { source: result.path, problems: lines });
  }
  return writeCompiledConfig(result.path, result.config, compiledPath);
}
