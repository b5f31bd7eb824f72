import type { BundleDiff, BundlePreview, PreviewClients } from '../../shared/bundle/preview.ts';
import { composeEntry, dockerrunEntry } from '../../shared/bundle/references.ts';
import { type LoadedConfig, loadConfig } from '../../shared/config/load.ts';
import type { ApplicationConfig, SameRolePolicy } from '../../shared/config/schema.ts';
import type { PlannedStage } from '../../shared/contracts.ts';
import { GreenlightError } from '../../shared/errors.ts';
import { checkTagSyntax, planStages } from '../../shared/tag-policy.ts';
import { applicationOf } from '../../shared/config/applications.ts';
import { bold, dim, fail, green, red, yellow } from '../output.ts';

/** `repo:tag` (an optional `@sha256:…` is accepted and ignored: the policy judges tags). */
export function parseImageArgument(image: string): { repository: string; tag: string } | undefined {
  const match = /^([^:@\s]+):([^@\s]+)(?:@sha256:[0-9a-f]{64})?$/.exec(image.replace(/^[^/]+\.amazonaws\.com\//, ''));
  return match ? { repository: match[1]!, tag: match[2]! } : undefined;
}

/** A planned stage with how its approval treats the pusher: enforced unless the configuration says `separationOfDuties: false`. */
function withSeparationOfDuties(stage: PlannedStage, app: ApplicationConfig): PlannedStage & { approval?: { separationOfDuties: 'enforced' | 'off'; sameRolePolicy: SameRolePolicy } } {
  const { approval, ...rest } = stage;
  if (!approval) return rest;
  const configured = app.stages.find((s) => s.environment === stage.environment)?.approval;
  const separationOfDuties = configured?.separationOfDuties === false ? 'off' : 'enforced';
  return { ...rest, approval: { ...approval, separationOfDuties, sameRolePolicy: configured?.sameRolePolicy ?? 'strict' } };
}

/** What `greenlight plan` is asked. */
export interface PlanOptions {
  config: string;
  json?: boolean;
  /** Also render the bundle the push would deploy. */
  render?: boolean;
  /** Also diff that bundle against what each target environment runs now (implies render). */
  diff?: boolean;
  /** The bundle bucket, where greenlight's record of each environment lives. */
  bucket?: string;
  /** Do not ask AWS: placeholder digests, no diff. */
  offline?: boolean;
}

/** The bundle bucket: the flag, else GREENLIGHT_BUNDLE_BUCKET (the stack's BundleBucketName), else `greenlight local`'s with AWS_ENDPOINT_URL. */
function bundleBucket(options: PlanOptions): string | undefined {
  return options.bucket || process.env.GREENLIGHT_BUNDLE_BUCKET || (process.env.AWS_ENDPOINT_URL ? 'greenlight-local-bundles' : undefined);
}

/**
 * SDK clients as every AWS tool builds them, failing fast when nothing answers (plan is a dry run).
 * Loaded here, not at the top, like shared/bundle/preview.ts below: a plan without --render loads no SDK
 * client (with --render, even --offline, preview.ts brings the SDK modules it imports).
 */
async function previewClients(): Promise<PreviewClients> {
  const [{ ECRClient }, { S3Client }, { ElasticBeanstalkClient }] = await Promise.all([import('@aws-sdk/client-ecr'), import('@aws-sdk/client-s3'), import('@aws-sdk/client-elastic-beanstalk')]);
  const common = { maxAttempts: 2, requestHandler: { connectionTimeout: 3000, requestTimeout: 15000 } };
  return { ecr: new ECRClient(common), s3: new S3Client({ ...common, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) }), eb: new ElasticBeanstalkClient(common) };
}

interface Rendered {
  preview: BundlePreview;
  diffs?: BundleDiff[];
  diffUnavailable?: string;
}

/** Renders the bundle of the first planned stage, and diffs it against each planned environment when asked. */
async function renderPlan(loaded: LoadedConfig, application: string, image: { repository: string; tag: string }, environments: string[], options: PlanOptions): Promise<Rendered> {
  const { diffAgainstRunning, previewBundle, unreachableReason } = await import('../../shared/bundle/preview.ts');
  const input = { loaded, application, ...image, environment: environments[0] as string, bucket: bundleBucket(options) };
  if (options.offline) {
    return { preview: await previewBundle(undefined, { ...input, offlineReason: '--offline' }), ...(options.diff ? { diffUnavailable: '--offline: the running bundles were not read' } : {}) };
  }
  const clients = await previewClients();
  let preview: BundlePreview;
  try {
    preview = await previewBundle(clients, input);
  } catch (error) {
    const reason = unreachableReason(error);
    if (!reason) throw error;
    preview = await previewBundle(undefined, { ...input, offlineReason: reason });
    return { preview, ...(options.diff ? { diffUnavailable: `AWS could not be reached (${reason})` } : {}) };
  }
  if (!options.diff) return { preview };
  return { preview, diffs: await diffAgainstRunning(clients, { application, environments, preview }) };
}

const modeText = (mode: number) => (mode & 0o111 ? '-rwxr-xr-x' : '-rw-r--r--');
const indent = (text: string, by = '    ') => text.replace(/\n$/, '').split('\n').map((line) => `${by}${line}`).join('\n');

function writeRendered({ preview, diffs, diffUnavailable }: Rendered, laterStages: string[]): void {
  const out = (text: string) => process.stdout.write(`${text}\n`);
  const promoted = laterStages.length > 0 ? dim(` (promoted as the same bytes to ${laterStages.join(', ')})`) : '';
  out(`\n${bold('Bundle')} rendered for ${preview.environment}${promoted}: Dockerrun v${preview.dockerrunVersion}, ${preview.files.length} files, sha256 ${preview.sha256.slice(0, 12)}…, version label ${preview.versionLabel}`);
  out('  images:');
  const width = Math.max(...preview.images.map((image) => image.repository.length));
  for (const image of preview.images) {
    const source = image.source === 'pushed' ? 'this push' : image.source === 'sibling' ? 'as the push would choose it (verified, running, claimed or newest accepted)' : yellow('placeholder digest');
    out(`    ${image.repository.padEnd(width)}  ${image.reference}  ${dim(source)}`);
  }
  out('  files:');
  const sizeWidth = Math.max(...preview.files.map((file) => String(file.size).length));
  for (const file of preview.files) out(`    ${modeText(file.mode)}  ${String(file.size).padStart(sizeWidth)}  ${file.name}`);
  const decoder = new TextDecoder();
  for (const name of [dockerrunEntry, composeEntry]) {
    const bytes = preview.entries[name];
    if (bytes) out(`  ${name}:\n${indent(decoder.decode(bytes))}`);
  }
  for (const note of preview.notes) out(`  ${yellow('note:')} ${note}`);
  if (diffUnavailable) out(`\n${bold('Diff')}: not available, ${diffUnavailable}`);
  for (const diff of diffs ?? []) {
    const against = diff.runningVersion ? `version ${diff.runningVersion}` : 'no version (every file is new)';
    if (diff.identical) {
      out(`\n${bold('Diff')} against ${diff.environment} (runs ${against}): identical bytes, nothing would change`);
    } else if (diff.patch === '') {
      out(`\n${bold('Diff')} against ${diff.environment} (runs ${against}): the same files, zipped differently`);
    } else {
      out(`\n${bold('Diff')} against ${diff.environment} (runs ${against}; a/ runs now, b/ this push):\n${diff.patch.trimEnd()}`);
    }
  }
}

function renderedJson({ preview, diffs, diffUnavailable }: Rendered): Record<string, unknown> {
  const decoder = new TextDecoder();
  const dockerrun = preview.entries[dockerrunEntry];
  const compose = preview.entries[composeEntry];
  return {
    bundle: {
      environment: preview.environment,
      dockerrunVersion: preview.dockerrunVersion,
      sha256: preview.sha256,
      versionLabel: preview.versionLabel,
      images: preview.images,
      files: preview.files.map((file) => ({ ...file, mode: `0${file.mode.toString(8)}` })),
      dockerrun: dockerrun ? JSON.parse(decoder.decode(dockerrun)) : undefined,
      ...(compose ? { compose: decoder.decode(compose) } : {}),
      notes: preview.notes,
    },
    ...(diffs ? { diff: diffs } : {}),
    ...(diffUnavailable ? { diffUnavailable } : {}),
  };
}

/** Dry run: which stages a push of IMAGE would reach and why not the others; with `render`, the bundle it would deploy. */
export async function planCommand(image: string, options: PlanOptions): Promise<number> {
  const parsed = parseImageArgument(image);
  if (!parsed) return fail(`"${image}" is not an image reference; write REPOSITORY:TAG, e.g. hello-api:v1.2.3`, 2);
  const loaded = loadConfig(options.config);
  const { config } = loaded;
  const application = applicationOf(config, parsed.repository);
  if (!application) {
    const known = Object.values(config.applications).flatMap((a) => a.images).sort().join(', ');
    return fail(`repository ${parsed.repository} is not part of any application in ${options.config} (configured: ${known})`, 1);
  }
  for (const warning of loaded.warnings ?? []) process.stderr.write(`${yellow('warning:')} ${warning.path}: ${warning.message}\n`);
  try {
    checkTagSyntax(parsed.tag);
    const app = config.applications[application]!;
    const planned = planStages(parsed.tag, app.stages, application);
    const plan = { ...planned, stages: planned.stages.map((stage) => withSeparationOfDuties(stage, app)) };
    const environments = plan.stages.map((stage) => stage.environment);
    const rendered = options.render || options.diff ? await renderPlan(loaded, application, parsed, environments, options) : undefined;
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ image: parsed, application, deploys: true, ...plan, ...(rendered ? renderedJson(rendered) : {}) }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(`${bold(`${parsed.repository}:${parsed.tag}`)} deploys application ${bold(application)}:\n`);
    for (const stage of plan.stages) {
      let approval = '';
      if (stage.approval) {
        const pusher = stage.approval.separationOfDuties === 'off' ? '' : ', never by a pusher of the image';
        approval = dim(` (after approval by ${stage.approval.approvers.join(' or ')}${pusher}, within ${stage.approval.timeoutSeconds / 3600} h)`);
        if (stage.approval.separationOfDuties === 'off') approval += yellow(' separation of duties OFF (separationOfDuties: false): a pusher may approve their own image');
      }
      process.stdout.write(`  ${green('✔')} ${stage.environment}${approval}\n`);
    }
    for (const skipped of plan.skippedStages) process.stdout.write(`  ${red('✘')} ${skipped.environment}: ${skipped.reason}\n`);
    if (rendered) writeRendered(rendered, environments.slice(1));
    process.stdout.write(dim('Nothing was deployed (dry run).\n'));
    return 0;
  } catch (error) {
    if (!(error instanceof GreenlightError)) throw error;
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ image: parsed, application, deploys: false, error: error.name, reason: error.message }, null, 2)}\n`);
      return 1;
    }
    process.stdout.write(`${red('✘')} ${parsed.repository}:${parsed.tag} would not deploy: ${error.message}\n`);
    return 1;
  }
}
