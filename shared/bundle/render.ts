import { yaml } from '../runtime/on-demand.ts';
import { BundleRenderError } from '../errors.ts';
import { type BundleFile, isDockerfile } from './files.ts';
import { composeEntry, composeImages, dockerrunEntry, dockerrunImages, isDigestPinned, referenceName } from './references.ts';

/** YAML is loaded on the first Compose template (runtime/on-demand.ts), not at Prepare Release's cold start. */
const parseYaml = (text: string): unknown => yaml().parse(text);

/** The template texts of one application's bundle, as read from disk. */
export interface BundleTemplates {
  dockerrun: string;
  compose?: string;
  /** `.ebextensions` files by name (e.g. `01-env.config`). */
  ebextensions?: Record<string, string>;
  /** Files of `bundle.include`, copied as they are (no placeholders are filled in them). */
  files?: BundleFile[];
}

/**
 * A rendered bundle: its files, the names of those that are executable (0755 in the zip), the
 * Dockerrun version, and the images it runs (repository → reference).
 */
export interface RenderedBundle {
  entries: Record<string, Uint8Array>;
  executables: string[];
  dockerrunVersion: 1 | 2 | 3;
  images: Record<string, string>;
}

/** Elastic Beanstalk refuses source bundles over 512 MB. */
const bundleSizeMax = 512 * 1024 * 1024;

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

const isPort = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) && value > 0) || (typeof value === 'string' && /^[1-9]\d*$/.test(value));
const isPositive = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;

/** What Elastic Beanstalk needs in a Dockerrun of each version that is missing here (empty: nothing). */
export function dockerrunProblems(document: Record<string, unknown>, version: 1 | 2 | 3): string[] {
  const problems: string[] = [];
  if (version === 1) {
    const name = (document.Image as { Name?: unknown } | undefined)?.Name;
    if (typeof name !== 'string' || name === '') problems.push(`${dockerrunEntry} version 1 needs Image.Name, e.g. "{{image:<repository>}}"`);
    const ports = document.Ports;
    if (!Array.isArray(ports) || ports.length === 0) {
      problems.push(`${dockerrunEntry} version 1 needs Ports, e.g. [{ "ContainerPort": 8080 }]: EB proxies to the first ContainerPort`);
    } else {
      ports.forEach((port: { ContainerPort?: unknown } | null, index) => {
        if (!isPort(port?.ContainerPort)) problems.push(`${dockerrunEntry} Ports[${index}] needs a ContainerPort (a port number)`);
      });
    }
  }
  if (version === 2) {
    const containers = document.containerDefinitions;
    if (!Array.isArray(containers) || containers.length === 0) {
      problems.push(`${dockerrunEntry} version 2 needs a non-empty containerDefinitions list`);
    } else {
      const names = new Set<string>();
      containers.forEach((container: { name?: unknown; image?: unknown; memory?: unknown; memoryReservation?: unknown } | null, index) => {
        if (typeof container?.name !== 'string' || typeof container.image !== 'string') {
          problems.push(`${dockerrunEntry} containerDefinitions[${index}] needs both name and image`);
        } else if (names.has(container.name)) {
          problems.push(`${dockerrunEntry} containerDefinitions[${index}] reuses the name ${container.name}`);
        } else {
          names.add(container.name);
        }
        if (!isPositive(container?.memory) && !isPositive(container?.memoryReservation)) {
          problems.push(`${dockerrunEntry} containerDefinitions[${index}] needs memory or memoryReservation (MiB): ECS will not place a container without one`);
        }
      });
    }
  }
  return problems;
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
  const problems = dockerrunProblems(document, version);
  if (problems.length > 0) throw new BundleRenderError(problems.join('; '), { file: dockerrunEntry, problems });
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

  const executables: string[] = [];
  let size = Object.values(entries).reduce((total, bytes) => total + bytes.length, 0);
  for (const file of files.files ?? []) {
    if (entries[file.entry] !== undefined || file.entry === 'docker-compose.yaml') {
      throw new BundleRenderError(`${file.entry} is written by greenlight from the bundle templates; an included file may not replace it`, { file: file.entry, included: true });
    }
    if (isDockerfile(file.entry)) {
      throw new BundleRenderError(`${file.entry} is a Dockerfile: Elastic Beanstalk would build an image instead of running the pushed one; exclude it`, { file: file.entry, included: true });
    }
    entries[file.entry] = file.bytes;
    if (file.executable) executables.push(file.entry);
    size += file.bytes.length;
  }
  if (size > bundleSizeMax) {
    throw new BundleRenderError(`the bundle holds ${Math.ceil(size / 1048576)} MB of files; Elastic Beanstalk accepts source bundles up to 512 MB (exclude what the instances do not need)`, { size });
  }

  return { entries, executables: executables.sort(), dockerrunVersion: version, images: used };
}
