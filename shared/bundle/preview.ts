import type { ECRClient } from '@aws-sdk/client-ecr';
import { DescribeImagesCommand, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTwoFilesPatch } from 'diff';
import type { LoadedConfig } from '../config/load.ts';
import type { VerifiedImage } from '../contracts.ts';
import { emptyLedger, readLedger } from '../environments/ledger.ts';
import { BundleRenderError, ConfigurationError } from '../errors.ts';
import { versionLabel } from '../naming.ts';
import { repositoryUris } from '../ecr-images.ts';
import { placeholderDigest, placeholderReference } from './check.ts';
import { type RenderedBundle, renderBundle } from './render.ts';
import { runningBundle, siblingImages } from './siblings.ts';
import { readBundleTemplates } from './templates.ts';
import { fileMode, executableMode, readBundle, sha256Hex, zipBundle, zipEntryModes } from './zip.ts';

/** The clients a preview reads with; none when AWS (or the local endpoint) cannot be reached. */
export interface PreviewClients {
  ecr: ECRClient;
  s3: S3Client;
  eb: ElasticBeanstalkClient;
}

/** One image the previewed bundle runs and where its digest came from. */
export interface PreviewImage {
  repository: string;
  reference: string;
  /** `pushed`: the image being planned; `sibling`: chosen as the push would (siblings.ts); `placeholder`: unknown. */
  source: 'pushed' | 'sibling' | 'placeholder';
}

/** A file of the previewed bundle with its size and its mode in the zip. */
export interface PreviewFile {
  name: string;
  size: number;
  mode: number;
}

/** The bundle a push would deploy, as `greenlight plan --render` shows it. */
export interface BundlePreview {
  application: string;
  /** The first stage's environment, where the release is rendered (later stages promote the same bytes). */
  environment: string;
  dockerrunVersion: 1 | 2 | 3;
  sha256: string;
  versionLabel: string;
  images: PreviewImage[];
  files: PreviewFile[];
  entries: Record<string, Uint8Array>;
  executables: string[];
  /** What the reader should know: offline, placeholders, what the push itself would refuse. */
  notes: string[];
}

function isReachabilityError(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  return (
    e?.name === 'CredentialsProviderError' ||
    e?.name === 'TimeoutError' ||
    /Region is missing/i.test(e?.message ?? '') ||
    ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'].includes(code ?? '')
  );
}

/** Why AWS could not be asked, in a few words (undefined: the error is something else, and is thrown). */
export function unreachableReason(error: unknown): string | undefined {
  if (!isReachabilityError(error)) return undefined;
  const e = error as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? ''}`.trim();
}

/**
 * Renders the bundle a push of `repository:tag` would deploy: with clients, the pushed tag's digest
 * from ECR and the other containers' digests chosen as the first stage would choose them
 * (siblings.ts, against the ledger of that environment); without, or for what cannot be found,
 * placeholder digests, each named in `notes`.
 */
export async function previewBundle(
  clients: PreviewClients | undefined,
  input: { loaded: LoadedConfig; application: string; repository: string; tag: string; environment: string; bucket?: string; offlineReason?: string },
): Promise<BundlePreview> {
  const app = input.loaded.config.applications[input.application];
  if (!app) throw new ConfigurationError(`application ${input.application} is not in ${input.loaded.path}`, { application: input.application });
  const stage = app.stages.find((candidate) => candidate.environment === input.environment);
  if (!stage) throw new ConfigurationError(`environment ${input.environment} is not a stage of ${input.application}`, { application: input.application });
  const templates = readBundleTemplates(input.loaded.baseDir, app.bundle);
  const notes: string[] = [];
  const images: Record<string, string> = {};
  const sources: Record<string, PreviewImage['source']> = {};

  if (clients) {
    const uris = await repositoryUris(clients.ecr, app.images).catch((error: unknown) => {
      if (error instanceof Error && error.name === 'ImageNotFoundError') return {} as Record<string, string>;
      throw error;
    });
    let pushedDigest = placeholderDigest;
    let pushedAt = new Date().toISOString();
    try {
      const { imageDetails = [] } = await clients.ecr.send(new DescribeImagesCommand({ repositoryName: input.repository, imageIds: [{ imageTag: input.tag }] }));
      if (imageDetails[0]?.imageDigest) {
        pushedDigest = imageDetails[0].imageDigest;
        pushedAt = (imageDetails[0].imagePushedAt ?? new Date()).toISOString();
      }
    } catch (error) {
      if (!(error instanceof ImageNotFoundException || error instanceof RepositoryNotFoundException)) throw error;
    }
    const uri = uris[input.repository] ?? placeholderReference(input.repository).split('@')[0]!;
    const pushed: VerifiedImage = { repository: input.repository, tag: input.tag, digest: pushedDigest, repositoryUri: uri, reference: `${uri}@${pushedDigest}`, pushedAt };
    images[input.repository] = pushed.reference;
    sources[input.repository] = pushedDigest === placeholderDigest ? 'placeholder' : 'pushed';
    if (pushedDigest === placeholderDigest) notes.push(`${input.repository}:${input.tag} is not in ECR yet: its digest is a placeholder`);
    const ledger = input.bucket
      ? (await readLedger(clients.s3, input.bucket, input.application, stage.environment).catch((error: unknown) => {
          if ((error as { name?: string }).name !== 'NoSuchBucket') throw error;
          notes.push(`the bundle bucket ${input.bucket} does not exist here: greenlight's record of ${stage.environment} was not read`);
          return { ledger: emptyLedger(input.application, stage.environment) };
        })).ledger
      : emptyLedger(input.application, stage.environment);
    if (!input.bucket) notes.push(`no bundle bucket given (--bucket or GREENLIGHT_BUNDLE_BUCKET): what greenlight verified in ${stage.environment} was not read, only what runs there and ECR`);
    try {
      const others = await siblingImages(clients, { application: input.application, app, stage, pushed, ledger });
      for (const [repository, reference] of Object.entries(others)) {
        images[repository] = reference;
        sources[repository] = 'sibling';
      }
    } catch (error) {
      if (!(error instanceof BundleRenderError) || !Array.isArray(error.detail.missing)) throw error;
      notes.push(`this push would fail: ${error.message}`);
    }
  } else {
    notes.push(`AWS was not asked${input.offlineReason ? ` (${input.offlineReason})` : ''}: every digest is a placeholder (sha256:000…)`);
  }
  for (const repository of app.images) {
    if (images[repository] === undefined) {
      images[repository] = placeholderReference(repository);
      sources[repository] = 'placeholder';
    }
  }
  const placeholders = app.images.filter((repository) => sources[repository] === 'placeholder');
  if (clients && placeholders.some((repository) => repository !== input.repository)) {
    notes.push(`placeholder digests for ${placeholders.join(', ')}: no image of ${placeholders.length === 1 ? 'it' : 'them'} could be found`);
  }

  const rendered = renderBundle(templates, images);
  const zip = zipBundle(rendered.entries, rendered.executables);
  const sha256 = sha256Hex(zip);
  return {
    application: input.application,
    environment: stage.environment,
    dockerrunVersion: rendered.dockerrunVersion,
    sha256,
    versionLabel: versionLabel(input.tag, sha256),
    images: app.images.map((repository) => ({ repository, reference: images[repository] as string, source: sources[repository] ?? 'placeholder' })),
    files: filesOf(rendered),
    entries: rendered.entries,
    executables: rendered.executables,
    notes,
  };
}

function filesOf(rendered: Pick<RenderedBundle, 'entries' | 'executables'>): PreviewFile[] {
  const executable = new Set(rendered.executables);
  return Object.keys(rendered.entries)
    .sort()
    .map((name) => ({ name, size: rendered.entries[name]?.length ?? 0, mode: executable.has(name) ? executableMode : fileMode }));
}

/** How the previewed bundle differs from the one an environment runs now. */
export interface BundleDiff {
  environment: string;
  /** The version running there (undefined: none, or a version without a bundle). */
  runningVersion?: string;
  identical: boolean;
  /** A unified diff (git style, a/ = running, b/ = this push); empty when identical. */
  patch: string;
}

const decoder = new TextDecoder();
const isBinary = (bytes: Uint8Array) => bytes.includes(0);

function filePatch(name: string, before: Uint8Array | undefined, after: Uint8Array | undefined, modes: { before?: number; after?: number }): string {
  const lines = [`diff --git a/${name} b/${name}`];
  if (before === undefined) lines.push(`new file mode 100${(modes.after ?? fileMode).toString(8)}`);
  else if (after === undefined) lines.push(`deleted file mode 100${(modes.before ?? fileMode).toString(8)}`);
  else if (modes.before !== undefined && modes.after !== undefined && modes.before !== modes.after) {
    lines.push(`old mode 100${modes.before.toString(8)}`, `new mode 100${modes.after.toString(8)}`);
  }
  const same = before !== undefined && after !== undefined && Buffer.from(before).equals(Buffer.from(after));
  if (!same) {
    if ((before && isBinary(before)) || (after && isBinary(after))) {
      lines.push(`Binary files ${before ? `a/${name}` : '/dev/null'} and ${after ? `b/${name}` : '/dev/null'} differ`);
    } else {
      const patch = createTwoFilesPatch(before ? `a/${name}` : '/dev/null', after ? `b/${name}` : '/dev/null', before ? decoder.decode(before) : '', after ? decoder.decode(after) : '');
      lines.push(patch.replace(/^=+\n/, '').trimEnd());
    }
  }
  return lines.join('\n');
}

/** A unified diff between two bundles' files (and modes), file by file in name order. */
export function diffBundles(
  before: { entries: Record<string, Uint8Array>; modes: Record<string, number> },
  after: { entries: Record<string, Uint8Array>; modes: Record<string, number> },
): string {
  const names = [...new Set([...Object.keys(before.entries), ...Object.keys(after.entries)])].sort();
  const patches: string[] = [];
  for (const name of names) {
    const a = before.entries[name];
    const b = after.entries[name];
    const modes = { before: before.modes[name], after: after.modes[name] };
    const sameBytes = a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b));
    const sameMode = modes.before === undefined || modes.after === undefined || modes.before === modes.after;
    if (sameBytes && sameMode) continue;
    patches.push(filePatch(name, a, b, modes));
  }
  return patches.length === 0 ? '' : `${patches.join('\n')}\n`;
}

/**
 * Diffs the previewed bundle against the bundle of the version each environment runs now (read as
 * siblings.ts reads it: DescribeEnvironments → DescribeApplicationVersions → the S3 source bundle).
 */
export async function diffAgainstRunning(
  clients: Pick<PreviewClients, 's3' | 'eb'>,
  input: { application: string; environments: string[]; preview: Pick<BundlePreview, 'entries' | 'executables' | 'sha256'> },
): Promise<BundleDiff[]> {
  const after = { entries: input.preview.entries, modes: Object.fromEntries(filesOf(input.preview).map((file) => [file.name, file.mode])) };
  const diffs: BundleDiff[] = [];
  for (const environment of input.environments) {
    const running = await runningBundle(clients, input.application, environment);
    if (!running) {
      diffs.push({ environment, identical: false, patch: diffBundles({ entries: {}, modes: {} }, after) });
      continue;
    }
    const patch = diffBundles({ entries: readBundle(running.zip), modes: zipEntryModes(running.zip) }, after);
    diffs.push({ environment, runningVersion: running.versionLabel, identical: sha256Hex(running.zip) === input.preview.sha256, patch });
  }
  return diffs;
}
