// The compiled configuration (issue 12): the one validator's output, written at package time and read
// by the Lambdas without YAML or the validator. It must hold exactly what the validator accepted, and
// anything else given to a function as its configuration must be refused, saying what to do.
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileConfigFile, compiledConfigPath } from '../../shared/config/compile.ts';
import { compiledConfigVersion, loadCompiledConfig, readCompiledDocument } from '../../shared/config/compiled.ts';
import { installSettings } from '../../shared/config/schema.ts';
import { validateConfigFile } from '../../shared/config/validate.ts';
import { validationReport } from '../../shared/config/validation-report.ts';
import { ConfigurationError } from '../../shared/errors.ts';
import { matchTagRule } from '../../shared/tag-policy.ts';

const root = resolve(import.meta.dirname, '..', '..');

/** A copy of a configuration file with the bundle folders it names, in a fresh folder; returns its path. */
function copyOfProjectConfig(): string {
  const folder = mkdtempSync(join(tmpdir(), 'greenlight-compiled-'));
  cpSync(join(root, 'greenlight.yml'), join(folder, 'greenlight.yml'));
  cpSync(join(root, 'examples'), join(folder, 'examples'), { recursive: true });
  return join(folder, 'greenlight.yml');
}

/** The message of what `run` throws (it must throw a ConfigurationError). */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('compiled configuration', () => {
  it('round-trips: compiling greenlight.yml and loading the result gives the validator\'s configuration, its install settings and its bundle folder', () => {
    const source = copyOfProjectConfig();
    const { path } = compileConfigFile(source);
    expect(path).toBe(join(dirname(source), '.greenlight', 'greenlight.yml.compiled.json'));
    const validated = validateConfigFile(source);
    expect(validated.problems).toEqual([]);
    const loaded = loadCompiledConfig(path);
    expect(loaded.config).toEqual(validated.config);
    expect(loaded.settings).toEqual(installSettings(validated.config!));
    expect(loaded.path).toBe(source);
    expect(loaded.baseDir).toBe(dirname(source));
    expect(existsSync(join(loaded.baseDir, loaded.config.applications['hello-api']!.bundle.dockerrun))).toBe(true);
  });

  it('records the source file\'s sha256 and reads relative paths from the task root (the Lambda package)', () => {
    const source = copyOfProjectConfig();
    const { path, document } = compileConfigFile(source);
    expect(document.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(document.source.path).toBe('../greenlight.yml');
    const before = process.env.LAMBDA_TASK_ROOT;
    process.env.LAMBDA_TASK_ROOT = dirname(source);
    try {
      expect(loadCompiledConfig(relative(dirname(source), path)).path).toBe(source);
    } finally {
      if (before === undefined) delete process.env.LAMBDA_TASK_ROOT;
      else process.env.LAMBDA_TASK_ROOT = before;
    }
  });

  it('refuses the YAML itself, naming the file and what to do', () => {
    const message = refusal(() => loadCompiledConfig(join(root, 'greenlight.yml')));
    expect(message).toContain(join(root, 'greenlight.yml'));
    expect(message).toMatch(/is not a compiled greenlight configuration \(not JSON/);
    expect(message).toMatch(/redeploy \(serverless deploy/);
  });

  it('refuses JSON that is not a compiled configuration, another format version, and a file changed after compiling', () => {
    const source = copyOfProjectConfig();
    const { document } = compileConfigFile(source);
    const path = join(dirname(source), 'x.json');
    expect(refusal(() => readCompiledDocument(path, validateConfigFile(source).config))).toMatch(/no "format": "greenlight-compiled-config" marker/);
    expect(refusal(() => readCompiledDocument(path, { ...document, version: compiledConfigVersion + 1 }))).toMatch(
      new RegExp(`format version ${compiledConfigVersion + 1}, this greenlight reads version ${compiledConfigVersion}`),
    );
    const tampered = JSON.parse(JSON.stringify(document));
    tampered.config.applications['hello-api'].stages[0].tags = ['*'];
    expect(refusal(() => readCompiledDocument(path, tampered))).toMatch(/changed after it was compiled/);
    const { settings: _, ...withoutSettings } = document;
    expect(refusal(() => readCompiledDocument(path, withoutSettings))).toMatch(/missing/);
    // The same checks on a file, with the path in the message.
    writeFileSync(path, JSON.stringify(tampered));
    const message = refusal(() => loadCompiledConfig(path));
    expect(message).toContain(path);
    expect(message).toMatch(/restart greenlight local/);
  });

  it('refuses a missing file with the same advice', () => {
    expect(refusal(() => loadCompiledConfig('/nonexistent/greenlight.compiled.json'))).toMatch(
      /cannot read the compiled configuration \/nonexistent\/greenlight.compiled.json: .*redeploy/,
    );
  });

  it('is only ever written for a valid configuration: problems are named and nothing is written', () => {
    const folder = mkdtempSync(join(tmpdir(), 'greenlight-compiled-invalid-'));
    const source = join(folder, 'greenlight.yml');
    writeFileSync(source, 'applications:\n  api:\n    helth: {}\n');
    expect(refusal(() => compileConfigFile(source))).toMatch(/is not a valid greenlight configuration/);
    expect(existsSync(compiledConfigPath(source))).toBe(false);
  });

  it('is written by serverless.yml\'s variables (packaging and the local endpoint), which point GREENLIGHT_CONFIG_FILE and the package at it', () => {
    const source = copyOfProjectConfig();
    const compiled = compiledConfigPath(source);
    const previous = process.env.GREENLIGHT_CONFIG;
    process.env.GREENLIGHT_CONFIG = source;
    try {
      const vars = createRequire(import.meta.url)('../../deploy/greenlight-vars.cjs') as (context: unknown) => { configFile: string; packagePatterns: string[] };
      const resolved = vars({ validationReport });
      expect(resolved.configFile).toBe(relative(root, compiled));
      expect(resolved.packagePatterns[0]).toBe(relative(root, compiled));
      expect(resolved.packagePatterns).not.toContain(relative(root, source));
      expect(loadCompiledConfig(compiled).config).toEqual(validateConfigFile(source).config);
    } finally {
      if (previous === undefined) delete process.env.GREENLIGHT_CONFIG;
      else process.env.GREENLIGHT_CONFIG = previous;
    }
  });
});

describe('RE2 on demand', () => {
  it('matches regex: rules with RE2 once loaded on first use (a backtracking engine would never finish the second)', () => {
    expect(matchTagRule('release-12', 'regex:^release-\\d+$')).toBe(true);
    expect(matchTagRule(`${'a'.repeat(64)}!`, 'regex:^(a+)+$')).toBe(false);
  });
});
