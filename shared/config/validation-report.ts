// The validator's answer as serverless.yml's variables read it (deploy/greenlight-vars.cjs): problems,
// warnings, the parsed configuration, its install settings and every file the bundles are rendered
// from (templates and included files, excludes applied), which the functions must ship. The framework
// gets it from scripts/validate-config.ts in a child process (it loads that file as CommonJS); the
// local endpoint, which already runs the TypeScript validator, hands this function over instead. For a
// valid configuration it also writes the compiled configuration (compile.ts) the functions read, and
// says where, for greenlight-vars.cjs to point GREENLIGHT_CONFIG_FILE and the package at.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { scanIncludes } from '../bundle/files.ts';
import { writeCompiledConfig } from './compile.ts';
import { type GreenlightConfig, installSettings } from './schema.ts';
import { validateConfigFile } from './validate.ts';

/** Absolute paths of every file the bundles of a valid configuration are rendered from. */
function bundleSources(config: GreenlightConfig, baseDir: string): string[] {
  const paths = new Set<string>();
  for (const { bundle } of Object.values(config.applications)) {
    paths.add(resolve(baseDir, bundle.dockerrun));
    if (bundle.compose !== undefined) paths.add(resolve(baseDir, bundle.compose));
    if (bundle.ebextensions !== undefined) {
      const folder = resolve(baseDir, bundle.ebextensions);
      for (const name of readdirSync(folder).filter((n) => n.endsWith('.config'))) paths.add(join(folder, name));
    }
    const root = dirname(resolve(baseDir, bundle.dockerrun));
    for (const file of scanIncludes(baseDir, bundle).files) paths.add(join(root, file.entry));
  }
  return [...paths].sort();
}

/** The report of one configuration file, as plain JSON data (what the child process prints). */
export function validationReport(path: string): Record<string, unknown> {
  const result = validateConfigFile(path);
  return JSON.parse(
    JSON.stringify({
      path: result.path,
      problems: result.problems,
      warnings: result.warnings,
      ...(result.config
        ? {
            config: result.config,
            settings: installSettings(result.config),
            bundleSources: bundleSources(result.config, dirname(result.path)),
            compiled: writeCompiledConfig(result.path, result.config),
          }
        : {}),
    }),
  );
}
