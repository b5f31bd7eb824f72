import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ApplicationConfig, BundleIssue } from '../config/schema.ts';
import { BundleRenderError } from '../errors.ts';
import { scanIncludes } from './files.ts';
import { composeEntry, dockerrunEntry } from './references.ts';
import { type BundleTemplates, type RenderedBundle, renderBundle } from './render.ts';

/** The digest a bundle is rendered with when no image is known: 64 zeros, which no real image has. */
export const placeholderDigest = `sha256:${'0'.repeat(64)}`;

/** A digest-pinned reference that stands in for an image nobody has pushed (or that cannot be looked up). */
export function placeholderReference(repository: string, region = 'us-east-1'): string {
  return `000000000000.dkr.ecr.${region}.amazonaws.com/${repository}@${placeholderDigest}`;
}

const placeholderPattern = /\{\{\s*image:([^}\s]+)\s*\}\}/g;

type Where = 'dockerrun' | 'compose' | 'ebextensions';

interface ReadTemplates {
  templates?: BundleTemplates;
  texts: Array<{ where: Where; file: string; text: string }>;
  issues: BundleIssue[];
}

function readTemplates(baseDir: string, bundle: ApplicationConfig['bundle']): ReadTemplates {
  const issues: BundleIssue[] = [];
  const texts: ReadTemplates['texts'] = [];
  const read = (where: Where, relativePath: string, what: string): string | undefined => {
    const path = resolve(baseDir, relativePath);
    try {
      const text = readFileSync(path, 'utf8');
      texts.push({ where, file: relativePath, text });
      return text;
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      issues.push({ path: ['bundle', where], message: `cannot read the ${what} template ${path}: ${reason}` });
      return undefined;
    }
  };
  const dockerrun = read('dockerrun', bundle.dockerrun, 'Dockerrun');
  const compose = bundle.compose === undefined ? undefined : read('compose', bundle.compose, 'docker-compose');
  let ebextensions: Record<string, string> | undefined;
  if (bundle.ebextensions !== undefined) {
    const folder = resolve(baseDir, bundle.ebextensions);
    try {
      if (!statSync(folder).isDirectory()) throw new Error('not a folder');
      ebextensions = {};
      for (const name of readdirSync(folder).filter((n) => n.endsWith('.config')).sort()) {
        const text = read('ebextensions', join(bundle.ebextensions, name), '.ebextensions');
        if (text !== undefined) ebextensions[name] = text;
      }
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message;
      issues.push({ path: ['bundle', 'ebextensions'], message: `cannot read the .ebextensions folder ${folder}: ${reason}` });
    }
  }
  const { files, problems } = scanIncludes(baseDir, bundle);
  for (const problem of problems) issues.push({ path: ['bundle', 'include', problem.index], message: problem.message });
  // Rendered with what could be read, so the template's own problems are named alongside missing files.
  if (dockerrun === undefined || (bundle.compose !== undefined && compose === undefined)) return { texts, issues };
  const templates: BundleTemplates = { dockerrun, files };
  if (compose !== undefined) templates.compose = compose;
  if (ebextensions !== undefined) templates.ebextensions = ebextensions;
  return { templates, texts, issues };
}

/** Where in `bundle` a render error belongs, so the problem names the setting to change. */
function renderErrorPath(error: BundleRenderError, bundle: ApplicationConfig['bundle']): PropertyKey[] {
  const file = typeof error.detail.file === 'string' ? error.detail.file : error.message.split(' ')[0];
  if (error.detail.included === true) return ['bundle', 'include'];
  if (file === composeEntry && bundle.compose !== undefined) return ['bundle', 'compose'];
  if (file?.startsWith('.ebextensions/')) return ['bundle', 'ebextensions'];
  return ['bundle', 'dockerrun'];
}

/**
 * Every problem of an application's bundle on disk, at once: templates and included files that cannot
 * be read, `{{image:x}}` naming no repository of the application, repositories no template uses, and
 * templates that do not render into a Dockerrun of their version (rendered with placeholder digests).
 */
export function checkBundleOnDisk(baseDir: string, app: ApplicationConfig): BundleIssue[] {
  if (typeof app.bundle?.dockerrun !== 'string' || !Array.isArray(app.images)) return [];
  // Other settings of this application may be wrong too (the schema reports them): read only what is well formed.
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const list = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string' && item !== '') : undefined);
  const raw = app.bundle as Record<string, unknown>;
  const bundle: ApplicationConfig['bundle'] = { dockerrun: app.bundle.dockerrun };
  if (text(raw.compose)) bundle.compose = text(raw.compose);
  if (text(raw.ebextensions)) bundle.ebextensions = text(raw.ebextensions);
  if (list(raw.include)) bundle.include = list(raw.include);
  if (list(raw.exclude)) bundle.exclude = list(raw.exclude);
  const { templates, texts, issues } = readTemplates(baseDir, bundle);

  const repositories = new Set(app.images);
  const used = new Set<string>();
  for (const { where, file, text } of texts) {
    for (const [, repository = ''] of text.matchAll(placeholderPattern)) {
      used.add(repository);
      if (!repositories.has(repository)) {
        issues.push({
          path: ['bundle', where],
          message: `${file} uses {{image:${repository}}}, but ${repository} is not one of this application's images (${app.images.join(', ')})`,
        });
      }
    }
  }
  if (templates) {
    for (const [index, repository] of app.images.entries()) {
      if (!used.has(repository)) {
        issues.push({
          path: ['images', index],
          message: `no bundle template uses {{image:${repository}}}, so a push of ${repository} would deploy a bundle that does not run it; add the placeholder or remove the repository`,
        });
      }
    }
    try {
      renderBundle(templates, Object.fromEntries([...repositories, ...used].map((repository) => [repository, placeholderReference(repository)])));
    } catch (error) {
      if (!(error instanceof BundleRenderError)) throw error;
      const problems = Array.isArray(error.detail.problems) ? (error.detail.problems as string[]) : [error.message];
      for (const message of problems) issues.push({ path: renderErrorPath(error, bundle), message });
    }
  }
  return issues;
}

/** Renders an application's bundle as a push would, with placeholder digests for every image. */
export function renderWithPlaceholders(templates: BundleTemplates, repositories: readonly string[]): RenderedBundle {
  return renderBundle(templates, Object.fromEntries(repositories.map((repository) => [repository, placeholderReference(repository)])));
}

const bundleRoot = '/var/app/current/';

/** Whether the bundle has a file at a path, or a folder holding files there. */
function bundleHas(rendered: RenderedBundle, path: string): boolean {
  const clean = posix.normalize(path).replace(/\/+$/, '');
  return Object.keys(rendered.entries).some((entry) => entry === clean || entry.startsWith(`${clean}/`));
}

/**
 * Host folders the containers mount from the bundle (Dockerrun v2 `volumes[].host.sourcePath` under
 * /var/app/current/, compose volumes starting with ./) that the bundle does not hold: the container
 * would see an empty folder. Warnings, not errors: the instance might create them in a hook.
 */
export function missingMounts(rendered: RenderedBundle): BundleIssue[] {
  const decoder = new TextDecoder();
  const warnings: BundleIssue[] = [];
  const dockerrun = JSON.parse(decoder.decode(rendered.entries[dockerrunEntry])) as { volumes?: Array<{ host?: { sourcePath?: unknown } } | null> };
  for (const [index, volume] of (Array.isArray(dockerrun.volumes) ? dockerrun.volumes : []).entries()) {
    const source = volume?.host?.sourcePath;
    if (typeof source === 'string' && source.startsWith(bundleRoot) && !bundleHas(rendered, source.slice(bundleRoot.length))) {
      warnings.push({
        path: ['bundle', 'dockerrun'],
        message: `volumes[${index}] mounts ${source}, but the bundle holds nothing at ${source.slice(bundleRoot.length)}: the containers would see an empty folder (add it to bundle.include)`,
      });
    }
  }
  const compose = rendered.entries[composeEntry];
  if (compose) {
    const services = (parseYaml(decoder.decode(compose)) as { services?: Record<string, { volumes?: unknown[] } | null> } | null)?.services ?? {};
    for (const [name, service] of Object.entries(services)) {
      for (const volume of Array.isArray(service?.volumes) ? service.volumes : []) {
        const source = typeof volume === 'string' ? volume.split(':')[0] : (volume as { source?: unknown } | null)?.source;
        if (typeof source === 'string' && source.startsWith('./') && !bundleHas(rendered, source.slice(2))) {
          warnings.push({
            path: ['bundle', 'compose'],
            message: `service ${name} mounts ${source}, but the bundle holds nothing there: the container would see an empty folder (add it to bundle.include)`,
          });
        }
      }
    }
  }
  return warnings;
}
