import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';

/** A file copied into the bundle as it is: its path inside the zip, its bytes, and whether it runs. */
export interface BundleFile {
  entry: string;
  bytes: Uint8Array;
  executable: boolean;
}

/** One `bundle.include` path that cannot be copied, and why. */
export interface IncludeProblem {
  index: number;
  message: string;
}

/** The settings of `bundle` that decide which extra files a bundle carries. */
export interface IncludeSettings {
  dockerrun: string;
  compose?: string;
  ebextensions?: string;
  include?: string[];
  exclude?: string[];
}

/** Folders Elastic Beanstalk runs as platform hooks: their files keep (or get) the executable bit. */
const hookFolders = ['.platform/hooks/', '.platform/confighooks/'];

/** Whether a bundle entry is made executable: a platform hook, or a file executable where it was read. */
export function isExecutableEntry(entry: string, sourceMode: number): boolean {
  return (sourceMode & 0o111) !== 0 || hookFolders.some((folder) => entry.startsWith(folder));
}

/** Whether an entry is a Dockerfile, which makes Elastic Beanstalk build an image instead of pulling the pushed one. */
export function isDockerfile(entry: string): boolean {
  const base = entry.slice(entry.lastIndexOf('/') + 1).toLowerCase();
  return base === 'dockerfile' || base.startsWith('dockerfile.') || base.endsWith('.dockerfile');
}

interface ExcludeRule {
  negated: boolean;
  directoryOnly: boolean;
  matches: (path: string) => boolean;
}

/**
 * `.ebignore` (gitignore) reading of `bundle.exclude`, relative to the bundle's root: a pattern without
 * a slash matches a name at any depth, one with a slash is anchored at the root, a trailing slash
 * matches folders only, `!` re-includes, and the last pattern that matches a file or one of its
 * folders decides (unlike git, `!` can bring back a file of an excluded folder).
 */
export function excludeMatcher(patterns: readonly string[]): (entry: string) => boolean {
  const rules: ExcludeRule[] = patterns.map((pattern) => {
    const negated = pattern.startsWith('!');
    let body = negated ? pattern.slice(1) : pattern;
    const directoryOnly = body.endsWith('/');
    body = body.replace(/\/+$/, '');
    const anchored = body.includes('/');
    body = body.replace(/^\//, '');
    let matches: (path: string) => boolean;
    try {
      matches = picomatch(body, { dot: true, basename: !anchored });
    } catch {
      matches = () => false; // the schema names a pattern that is not a glob
    }
    return { negated, directoryOnly, matches };
  });
  return (entry) => {
    const parts = entry.split('/');
    const folders = parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      const hit = folders.some((folder) => rule.matches(folder)) || (!rule.directoryOnly && rule.matches(entry));
      if (hit) excluded = !rule.negated;
    }
    return excluded;
  };
}

/** A path in the zip: forward slashes, relative to the bundle's root. */
function entryName(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

/**
 * Reads `bundle.include` (files and folders relative to the config file) into bundle files placed at
 * their paths relative to the Dockerrun template's folder, the root of the zip, minus `bundle.exclude`
 * and minus the templates themselves (rendered on their own). Sorted by entry; symbolic links are
 * refused (what they point to differs from machine to machine), and so is an include that adds nothing.
 */
export function scanIncludes(baseDir: string, bundle: IncludeSettings): { files: BundleFile[]; problems: IncludeProblem[] } {
  const root = dirname(resolve(baseDir, bundle.dockerrun));
  const excluded = excludeMatcher(bundle.exclude ?? []);
  const files = new Map<string, BundleFile>();
  const problems: IncludeProblem[] = [];
  const templates = new Set([bundle.dockerrun, bundle.compose].filter((path): path is string => path !== undefined).map((path) => resolve(baseDir, path)));
  const ebextensions = bundle.ebextensions === undefined ? undefined : `${resolve(baseDir, bundle.ebextensions)}${sep}`;
  const isTemplate = (path: string) => templates.has(path) || (ebextensions !== undefined && path.startsWith(ebextensions));

  const visit = (index: number, path: string): void => {
    const stat = lstatSync(path);
    const entry = entryName(root, path);
    if (stat.isSymbolicLink()) {
      problems.push({ index, message: `${entry} is a symbolic link; greenlight copies regular files only (copy the file, or exclude it)` });
      return;
    }
    if (stat.isDirectory()) {
      for (const name of readdirSync(path).sort()) visit(index, join(path, name));
      return;
    }
    if (!stat.isFile()) {
      problems.push({ index, message: `${entry} is neither a file nor a folder` });
      return;
    }
    if (excluded(entry) || isTemplate(path)) return;
    if (isDockerfile(entry)) {
      problems.push({
        index,
        message: `${entry} is a Dockerfile: in the bundle it would make Elastic Beanstalk build an image instead of running the pushed one; add it to bundle.exclude (e.g. "**/Dockerfile")`,
      });
      return;
    }
    files.set(entry, { entry, bytes: readFileSync(path), executable: isExecutableEntry(entry, stat.mode) });
  };

  for (const [index, include] of (bundle.include ?? []).entries()) {
    const path = resolve(baseDir, include);
    const entry = entryName(root, path);
    if (entry === '..' || entry.startsWith('../') || isAbsolute(entry)) {
      problems.push({
        index,
        message: `${include} is not inside the folder of the Dockerrun template (${root}), which is the root of the bundle; include files and folders below it`,
      });
      continue;
    }
    const before = files.size;
    const refused = problems.length;
    try {
      visit(index, path);
      if (files.size === before && problems.length === refused) {
        problems.push({ index, message: `${include} adds no file to the bundle (an empty folder, or every file excluded or a template)` });
      }
    } catch (error) {
      problems.push({ index, message: `cannot read ${include} (${path}): ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (error as Error).message}` });
    }
  }
  return { files: [...files.values()].sort((a, b) => (a.entry < b.entry ? -1 : a.entry > b.entry ? 1 : 0)), problems };
}
