import { unzipSync } from 'fflate';
import { parse as parseYaml } from 'yaml';

/**
 * Bundle inspection: what Elastic Beanstalk reads in a version's source bundle before it deploys it:
 * the images (Dockerrun.aws.json v1/v2, docker-compose), platform hooks that cannot execute, and
 * Dockerrun volumes that mount a folder the bundle does not contain.
 */

/** What EB found in a source bundle: whether it can deploy it, and the images it would pull. */
export interface BundleInspection {
  readonly ok: boolean;
  readonly images: string[];
  readonly reason?: string;
  /** Why the instances cannot run a bundle EB processed fine (a hook that cannot execute, a mount of nothing). */
  readonly runFailure?: string;
}

/** The images a Docker bundle would pull: Dockerrun v1 `Image.Name`, v2 `containerDefinitions[].image`, compose `image:`. */
export function bundleImages(files: Record<string, Uint8Array>): BundleInspection {
  const dockerrun = files['Dockerrun.aws.json'];
  const compose = files['docker-compose.yml'] ?? files['docker-compose.yaml'];
  if (!dockerrun && !compose) return { ok: false, images: [], reason: 'Neither Dockerrun.aws.json nor docker-compose.yml was found at the root of the source bundle.' };
  const images: string[] = [];
  if (dockerrun) {
    try {
      const doc = JSON.parse(Buffer.from(dockerrun).toString('utf8')) as { Image?: { Name?: unknown }; containerDefinitions?: Array<{ image?: unknown }> };
      if (typeof doc.Image?.Name === 'string') images.push(doc.Image.Name);
      for (const container of Array.isArray(doc.containerDefinitions) ? doc.containerDefinitions : []) {
        if (typeof container?.image === 'string') images.push(container.image);
      }
    } catch {
      return { ok: false, images: [], reason: 'Dockerrun.aws.json is not valid JSON.' };
    }
  }
  if (compose) {
    const source = Buffer.from(compose).toString('utf8');
    try {
      const doc = parseYaml(source) as { services?: Record<string, { image?: unknown }> } | null;
      for (const service of Object.values(doc?.services ?? {})) if (typeof service?.image === 'string') images.push(service.image);
    } catch {
      for (const match of source.matchAll(/^\s*image:\s*["']?([^"'\s#]+)/gm)) images.push(match[1]!);
    }
  }
  return { ok: true, images };
}

/** Unix modes of a zip's entries (external attributes of the central directory; none for entries without one). */
function entryModes(zip: Uint8Array): Record<string, number> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const modes: Record<string, number> = {};
  let end = zip.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) return modes;
  let at = view.getUint32(end + 16, true);
  for (let i = view.getUint16(end + 10, true); i > 0 && view.getUint32(at, true) === 0x02014b50; i--) {
    const nameLength = view.getUint16(at + 28, true);
    const name = Buffer.from(zip.subarray(at + 46, at + 46 + nameLength)).toString('utf8');
    if (view.getUint8(at + 5) === 3) modes[name] = view.getUint32(at + 38, true) >>> 16;
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return modes;
}

/**
 * What keeps instances from running a bundle EB accepted: a platform hook without its executable bit
 * (platform versions before 29 April 2022 run hooks as they are, and fail with EB's message), or a
 * Dockerrun v2 volume whose host.sourcePath in /var/app/current/ is not in the bundle (the containers
 * would start on an empty folder, e.g. an nginx without its configuration).
 */
function runFailure(files: Record<string, Uint8Array>, zip: Uint8Array): string | undefined {
  const modes = entryModes(zip);
  for (const name of Object.keys(files).sort()) {
    if (!/^\.platform\/(hooks|confighooks)\/[^/]+\/[^/]+$/.test(name)) continue;
    const mode = modes[name];
    if (mode !== undefined && (mode & 0o100) === 0) {
      const stage = name.includes('/confighooks/') ? 'RunConfigDeployPreDeployHooks' : 'RunAppDeployPreDeployHooks';
      return `An error occurred during execution of command [app-deploy] - [${stage}]. Stop running the command. Error: Command ${name} failed with error fork/exec ${name}: permission denied`;
    }
  }
  const dockerrun = files['Dockerrun.aws.json'];
  if (!dockerrun) return undefined;
  let volumes: unknown;
  try {
    volumes = JSON.parse(Buffer.from(dockerrun).toString('utf8')).volumes;
  } catch {
    return undefined;
  }
  for (const volume of Array.isArray(volumes) ? volumes : []) {
    const source = volume?.host?.sourcePath;
    if (typeof source !== 'string' || !source.startsWith('/var/app/current/')) continue;
    const inside = source.slice('/var/app/current/'.length).replace(/\/+$/, '');
    if (!Object.keys(files).some((name) => name === inside || name.startsWith(`${inside}/`))) {
      return `Volume ${String(volume?.name)} mounts ${source}, which the source bundle does not contain: the containers started on an empty folder and stopped`;
    }
  }
  return undefined;
}

/** Reads a zip bundle as EB would: the deployable files must sit at its root. */
export function inspectBundle(bundle: Buffer | undefined, location: { S3Bucket: string; S3Key: string }): BundleInspection {
  if (!bundle) return { ok: false, images: [], reason: `Unable to download from S3 location (Bucket: ${location.S3Bucket} Key: ${location.S3Key}). Reason: Not Found` };
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(bundle));
  } catch {
    return { ok: false, images: [], reason: 'The source bundle is not a valid zip file.' };
  }
  const inspection = bundleImages(files);
  const failure = inspection.ok ? runFailure(files, new Uint8Array(bundle)) : undefined;
  return failure ? { ...inspection, runFailure: failure } : inspection;
}
