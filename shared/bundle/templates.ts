import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BundleRenderError } from '../errors.ts';
import { type IncludeSettings, scanIncludes } from './files.ts';
import type { BundleTemplates } from './render.ts';

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new BundleRenderError(`cannot read the ${what} template ${path}: ${(error as Error).message}`, { path }, { cause: error });
  }
}

/** Reads an application's bundle templates and included files from disk (paths relative to the config file), naming any missing file. */
export function readBundleTemplates(baseDir: string, bundle: IncludeSettings): BundleTemplates {
  const templates: BundleTemplates = { dockerrun: readText(resolve(baseDir, bundle.dockerrun), 'Dockerrun') };
  if (bundle.compose !== undefined) templates.compose = readText(resolve(baseDir, bundle.compose), 'docker-compose');
  if (bundle.ebextensions !== undefined) {
    const folder = resolve(baseDir, bundle.ebextensions);
    let names: string[];
    try {
      names = readdirSync(folder, { withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith('.config'))
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      throw new BundleRenderError(`cannot read the .ebextensions folder ${folder}: ${(error as Error).message}`, { path: folder }, { cause: error });
    }
    templates.ebextensions = Object.fromEntries(names.map((name) => [name, readText(join(folder, name), '.ebextensions')]));
  }
  if (bundle.include !== undefined) {
    const { files, problems } = scanIncludes(baseDir, bundle);
    if (problems.length > 0) {
      throw new BundleRenderError(`bundle.include: ${problems.map((problem) => problem.message).join('; ')}`, { problems });
    }
    templates.files = files;
  }
  return templates;
}
