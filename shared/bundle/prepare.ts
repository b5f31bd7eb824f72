import type { ECRClient } from '@aws-sdk/client-ecr';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { LoadedConfig } from '../config/load.ts';
import type { Plan, PlannedStage, StoredBundle } from '../contracts.ts';
import { readLedger } from '../environments/ledger.ts';
import { BundleRenderError, ConfigurationError } from '../errors.ts';
import { releaseKey } from '../naming.ts';
import { isLostRace } from '../s3-objects.ts';
import { renderBundle } from './render.ts';
import { siblingImages } from './siblings.ts';
import { storeBundle } from './store.ts';
import { readBundleTemplates } from './templates.ts';
import { readRelease } from './release.ts';


/**
 * The release an execution deploys. Its first stage renders it while holding that environment's
 * lease, so the other containers are the newest pushes claimed there, not what ran minutes ago; later
 * stages deploy exactly that release. Written once per execution, so a retried step returns the
 * same release and bytes already running there keep their version label (no second version).
 */
export async function prepareRelease(
  clients: { ecr: ECRClient; s3: S3Client; eb: ElasticBeanstalkClient },
  input: { loaded: LoadedConfig; plan: Plan; stage: PlannedStage; index: number; execution: string; bucket: string },
): Promise<StoredBundle> {
  const { plan, bucket } = input;
  const key = releaseKey(plan.application, input.execution);
  const recorded = await readRelease(clients.s3, bucket, plan.application, input.execution);
  if (recorded) return recorded;
  if (input.index > 0) {
    throw new BundleRenderError(`no release was recorded by the first stage of ${input.execution}, so ${input.stage.environment} has nothing verified to deploy`, {
      execution: input.execution,
    });
  }

  const app = input.loaded.config.applications[plan.application];
  if (!app) throw new ConfigurationError(`application ${plan.application} is no longer in the configuration ${input.loaded.path}`, { application: plan.application });
  const stage = app.stages.find((candidate) => candidate.environment === input.stage.environment);
  if (!stage) throw new ConfigurationError(`environment ${input.stage.environment} is no longer a stage of ${plan.application}`, { application: plan.application });

  const { ledger } = await readLedger(clients.s3, bucket, plan.application, stage.environment);
  const templates = readBundleTemplates(input.loaded.baseDir, app.bundle);
  const others = await siblingImages(clients, { application: plan.application, app, stage, pushed: plan.image, ledger });
  const rendered = renderBundle(templates, { ...others, [plan.image.repository]: plan.image.reference });
  if (rendered.images[plan.image.repository] !== plan.image.reference) {
    throw new BundleRenderError(
      `the bundle templates of ${plan.application} never use {{image:${plan.image.repository}}}, so deploying this push would not run it; add the placeholder or remove ${plan.image.repository} from the application's images`,
      { application: plan.application, repository: plan.image.repository },
    );
  }
  const stored = await storeBundle(clients, {
    bucket,
    application: plan.application,
    tag: plan.image.tag,
    entries: rendered.entries,
    executables: rendered.executables,
    images: rendered.images,
    pushedAt: plan.image.pushedAt,
    repository: plan.image.repository,
    digest: plan.image.digest,
  });
  // The same bytes already deployed there (another tag of this image): reuse their version.
  const release = ledger.deployed?.bundleSha256 === stored.sha256 ? { ...stored, versionLabel: ledger.deployed.versionLabel } : stored;
  try {
    await clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(release), ContentType: 'application/json', IfNoneMatch: '*' }),
    );
    return release;
  } catch (error) {
    if (!isLostRace(error)) throw error;
    return (await readRelease(clients.s3, bucket, plan.application, input.execution)) ?? release;
  }
}
