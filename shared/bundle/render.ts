import { parse as parseYaml } from 'yaml';
import { BundleRenderError } from '../errors.ts';
import { composeEntry, composeImages, dockerrunEntry, dockerrunImages, isDigestPinned, referenceName } from './references.ts';

/** The template texts of one application's bundle, as read from disk. */
export interface BundleTemplates {
  dockerrun: string;
  compose?: string;
  /** `.ebextensions` files by name (e.g. `01-env.config`). */
  ebextensions?: Record<string, string>;
}

/** A rendered bundle: its files, the Dockerrun version, and the images it runs (repository → reference). */
export interface RenderedBundle {
  entries: Record<string, Uint8Array>;
  dockerrunVersion: 1 | 2 | 3;
  images: Record<string, string>;
}

const placeholder = /\{\{\s*image:([^}\s]+)\s*\}\}/g;
const ecrRegistry = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?\/(.+)$/;

function substitute(text: string, file: string, images: Record<string, string>, used: Record<string, string>): string {
  return text.replace(placeholder, (_match, repository: string) => {
    const reference = images[repository];
    if (reference === undefined) {
      throw new BundleRenderError(
        `${file} uses {{image:${repository}}} but no image of repository ${repository} was given; list it in the application's images`,
        { file, repository },
      );
    }
    used[repository] = reference;
    return reference;
  });
}

function dockerrunVersion(value: unknown): 1 | 2 | 3 {
  if (value === 1 || value === '1') return 1;
  if (value === 2) return 2;
  if (value === 3 || value === '3') return 3;
  throw new BundleRenderError(
    `${dockerrunEntry} has AWSEBDockerrunVersion ${JSON.stringify(value)}; greenlight renders "1" (single container), 2 (multi-container) or "3" (Docker Compose)`,
    { value },
  );
}

function validateDockerrun(document: Record<string, unknown>, version: 1 | 2 | 3): void {
  if (version === 1) {
    const name = (document.Image as { Name?: unknown } | undefined)?.Name;
    if (typeof name !== 'string' || name === '') {
      throw new BundleRenderError(`${dockerrunEntry} version 1 needs Image.Name, e.g. "{{image:<repository>}}"`, {});
    }
  }
  if (version === 2) {
    const containers = document.containerDefinitions;
    if (!Array.isArray(containers) || containers.length === 0) {
      throw new BundleRenderError(`${dockerrunEntry} version 2 needs a non-empty containerDefinitions list`, {});
    }
    containers.forEach((container: { name?: unknown; image?: unknown } | null, index) => {
      if (typeof container?.name !== 'string' || typeof container.image !== 'string') {
        throw new BundleRenderError(`${dockerrunEntry} containerDefinitions[${index}] needs both name and image`, { index });
      }
    });
  }
}

function parseCompose(text: string): unknown {
  let compose: unknown;
  try {
    compose = parseYaml(text);
  } catch (error) {
    throw new BundleRenderError(`${composeEntry} is not valid YAML: ${(error as Error).message}`, {}, { cause: error });
  }
  const services = (compose as { services?: unknown } | null)?.services;
  if (typeof services !== 'object' || services === null || Object.keys(services).length === 0) {
    throw new BundleRenderError(`${composeEntry} needs a services section`, {});
  }
  for (const [name, service] of Object.entries(services as Record<string, { image?: unknown; build?: unknown } | null>)) {
    if (typeof service?.image !== 'string' || service.build !== undefined) {
      throw new BundleRenderError(
        `${composeEntry} service ${name} must name an image and must not build: Elastic Beanstalk would build instead of running the pushed image`,
        { service: name },
      );
    }
  }
  return compose;
}

function requirePinned(references: string[], file: string, images: Record<string, string>): void {
  const ourNames = new Set(Object.values(images).map(referenceName));
  const ourRepositories = new Set(Object.keys(images));
  for (const reference of references) {
    const name = referenceName(reference);
    const ecrRepository = ecrRegistry.exec(name)?.[1];
    const ours = ourNames.has(name) || (ecrRepository !== undefined && ourRepositories.has(ecrRepository));
    if (ours && !isDigestPinned(reference)) {
      throw new BundleRenderError(
        `${file} runs ${reference}, which is not pinned by digest; use {{image:<repository>}} so the bundle runs exactly the pushed image`,
        { file, reference },
      );
    }
  }
}

function ebextensionEntry(name: string): string {
  const base = name.replace(/^.*[\\/]/, '');
  return `.ebextensions/${base.endsWith('.config') ? base : `${base}.config`}`;
}

/**
 * Renders the bundle of one deployment: fills `{{image:<repository>}}` with digest-pinned references
 * and refuses anything Elastic Beanstalk would run differently from what was pushed.
 */
export function renderBundle(files: BundleTemplates, images: Record<string, string>): RenderedBundle {
  const used: Record<string, string> = {};
  const encoder = new TextEncoder();
  const entries: Record<string, Uint8Array> = {};

  const dockerrunText = substitute(files.dockerrun, dockerrunEntry, images, used);
  let dockerrun: unknown;
  try {
    dockerrun = JSON.parse(dockerrunText);
  } catch (error) {
    throw new BundleRenderError(`${dockerrunEntry} is not valid JSON: ${(error as Error).message}`, {}, { cause: error });
  }
  if (typeof dockerrun !== 'object' || dockerrun === null || Array.isArray(dockerrun)) {
    throw new BundleRenderError(`${dockerrunEntry} must be a JSON object`, {});
  }
  const document = dockerrun as Record<string, unknown>;
  const version = dockerrunVersion(document.AWSEBDockerrunVersion);
  validateDockerrun(document, version);
  requirePinned(dockerrunImages(document), dockerrunEntry, images);
  entries[dockerrunEntry] = encoder.encode(`${JSON.stringify(document, null, 2)}\n`);

  if (version === 3) {
    if (files.compose === undefined) {
      throw new BundleRenderError(`${dockerrunEntry} version 3 runs Docker Compose: set bundle.compose to a docker-compose.yml template`, {});
    }
    const composeText = substitute(files.compose, composeEntry, images, used);
    requirePinned(composeImages(parseCompose(composeText)), composeEntry, images);
    entries[composeEntry] = encoder.encode(composeText);
  } else if (files.compose !== undefined) {
    throw new BundleRenderError(
      `a ${composeEntry} template was given with ${dockerrunEntry} version ${version}; Docker Compose bundles use AWSEBDockerrunVersion "3"`,
      { version },
    );
  }

  for (const [name, text] of Object.entries(files.ebextensions ?? {})) {
    const entry = ebextensionEntry(name);
    const rendered = substitute(text, entry, images, used);
    try {
      parseYaml(rendered);
    } catch (error) {
      throw new BundleRenderError(`${entry} is neither YAML nor JSON: ${(error as Error).message}`, { file: entry }, { cause: error });
    }
    entries[entry] = encoder.encode(rendered);
  }

  return { entries, dockerrunVersion: version, images: used };
}
