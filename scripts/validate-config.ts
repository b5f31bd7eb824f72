// Validates a greenlight configuration file with the one validator (shared/config/validate.ts) and
// prints the result as JSON: deploy/greenlight-vars.cjs runs it in a child process, because the
// Serverless Framework loads that file as CommonJS and cannot import the TypeScript schema itself.
// Besides problems, warnings and the parsed configuration, it lists every file the bundles are
// rendered from (templates and included files, excludes applied), which the functions must ship.
// Usage: node --import tsx scripts/validate-config.ts <greenlight.yml>
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { scanIncludes } from '../shared/bundle/files.ts';
import { type GreenlightConfig, installSettings } from '../shared/config/schema.ts';
import { validateConfigFile } from '../shared/config/validate.ts';

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

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: node --import tsx scripts/validate-config.ts <greenlight.yml>\n');
  process.exit(2);
}
const result = validateConfigFile(path);
process.stdout.write(
  `${JSON.stringify({
    path: result.path,
    problems: result.problems,
    warnings: result.warnings,
    ...(result.config ? { config: result.config, settings: installSettings(result.config), bundleSources: bundleSources(result.config, dirname(result.path)) } : {}),
  })}\n`,
);
