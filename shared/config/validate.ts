import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { checkBundleOnDisk, missingMounts, renderWithPlaceholders } from '../bundle/check.ts';
import { readBundleTemplates } from '../bundle/templates.ts';
import { type ConfigWarning, unreachableStages } from './reachability.ts';
import { type GreenlightConfig, greenlightConfigSchema } from './schema.ts';

/** One problem or warning, with the path of the setting it is about (`applications.api.stages.1.tags.0`). */
export interface ConfigFinding {
  path: string;
  message: string;
}

/** What the validator found: the configuration when it is valid, every problem, and the warnings. */
export interface ConfigValidation {
  config?: GreenlightConfig;
  problems: ConfigFinding[];
  warnings: ConfigFinding[];
}

const topLevel = '(top level)';

/**
 * The one validator of a configuration: the zod schema, which with `baseDir` also checks every
 * application's bundle on disk (templates, included files, placeholders, rendering). Warnings are
 * looked for once there is no problem left (they need a configuration that parses).
 */
export function validateConfig(raw: unknown, options: { baseDir?: string } = {}): ConfigValidation {
  const { baseDir } = options;
  const schema = greenlightConfigSchema(baseDir === undefined ? {} : { checkBundle: (app) => checkBundleOnDisk(baseDir, app) });
  const result = schema.safeParse(raw);
  if (!result.success) return { problems: result.error.issues.flatMap(findingsOf), warnings: [] };
  const warnings: ConfigWarning[] = unreachableStages(result.data);
  if (baseDir !== undefined) {
    for (const [application, app] of Object.entries(result.data.applications)) {
      const rendered = renderWithPlaceholders(readBundleTemplates(baseDir, app.bundle), app.images);
      for (const warning of missingMounts(rendered)) warnings.push({ path: pathText(['applications', application, ...warning.path]), message: warning.message });
    }
  }
  return { config: result.data, problems: [], warnings };
}

const pathText = (path: readonly PropertyKey[]) => path.map(String).join('.') || topLevel;

/** A zod issue as findings; an unknown key is named at its own path, so the typo is what people see. */
function findingsOf(issue: z.core.$ZodIssue): ConfigFinding[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: pathText([...issue.path, key]), message: `${key} is not a setting here (a typo?); unknown keys are refused so a mistake never changes behaviour silently` }));
  }
  return [{ path: pathText(issue.path), message: issue.message }];
}

/** Validates configuration text; YAML that does not parse is one problem at the top level. */
export function validateConfigText(text: string, options: { baseDir?: string } = {}): ConfigValidation {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    return { problems: [{ path: topLevel, message: `not valid YAML: ${(error as Error).message}` }], warnings: [] };
  }
  return validateConfig(raw, options);
}

/** Validates a configuration file, its bundle paths read relative to the file's folder. */
export function validateConfigFile(path: string): ConfigValidation & { path: string } {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    return { path: absolute, problems: [{ path: topLevel, message: `cannot read the configuration file ${absolute}: ${(error as Error).message}` }], warnings: [] };
  }
  return { path: absolute, ...validateConfigText(text, { baseDir: dirname(absolute) }) };
}

/** Problems as one line each, `path: message`, the way every reader of the configuration reports them. */
export function formatFindings(findings: readonly ConfigFinding[]): string[] {
  return findings.map((finding) => `${finding.path}: ${finding.message}`);
}
