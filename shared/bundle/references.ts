import { yaml } from '../runtime/on-demand.ts';

/** YAML is loaded on the first Compose template (runtime/on-demand.ts), not at Prepare Release's cold start. */
const parseYaml = (text: string): unknown => yaml().parse(text);

/** Bundle entry names, shared by rendering and reading. */
export const dockerrunEntry = 'Dockerrun.aws.json';
export const composeEntry = 'docker-compose.yml';

/**
 * The repository part of an image reference (`host/repo:tag@sha256:…` → `host/repo`), the key by
 * which a reference is matched to an ECR repository URI.
 */
export function referenceName(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  return lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;
}

/** Whether a reference is pinned to one image by digest, the only form greenlight deploys. */
export function isDigestPinned(reference: string): boolean {
  return /@sha256:[0-9a-f]{64}$/.test(reference);
}

/** The image references a parsed Dockerrun (v1 or v2) runs. */
export function dockerrunImages(dockerrun: unknown): string[] {
  if (typeof dockerrun !== 'object' || dockerrun === null) return [];
  const document = dockerrun as { Image?: { Name?: unknown }; containerDefinitions?: unknown };
  const images: string[] = [];
  if (typeof document.Image?.Name === 'string') images.push(document.Image.Name);
  if (Array.isArray(document.containerDefinitions)) {
    for (const container of document.containerDefinitions) {
      const image = (container as { image?: unknown } | null)?.image;
      if (typeof image === 'string') images.push(image);
    }
  }
  return images;
}

/** The image references of a parsed docker-compose document's services. */
export function composeImages(compose: unknown): string[] {
  const services = (compose as { services?: unknown } | null)?.services;
  if (typeof services !== 'object' || services === null) return [];
  return Object.values(services as Record<string, { image?: unknown } | null>)
    .map((service) => service?.image)
    .filter((image): image is string => typeof image === 'string');
}

/** The image references found in bundle entries (Dockerrun v1/v2 and docker-compose.yml). */
export function imagesInEntries(entries: Record<string, Uint8Array>): string[] {
  const decoder = new TextDecoder();
  const images: string[] = [];
  const dockerrun = entries[dockerrunEntry];
  if (dockerrun) {
    try {
      images.push(...dockerrunImages(JSON.parse(decoder.decode(dockerrun))));
    } catch {
      // A Dockerrun we cannot read runs no image we could keep.
    }
  }
  const compose = entries[composeEntry];
  if (compose) {
    try {
      images.push(...composeImages(parseYaml(decoder.decode(compose))));
    } catch {
      // Same as above: nothing to keep from an unreadable compose file.
    }
  }
  return [...new Set(images)];
}
