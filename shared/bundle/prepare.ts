import type { ECRClient } from '@aws-sdk/client-ecr';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import type { LoadedConfig } from '../config/load.ts';
import type { Plan, StoredBundle } from '../contracts.ts';
import { BundleRenderError, ConfigurationError } from '../errors.ts';
import { otherImagesForBundle } from '../plan.ts';
import { renderBundle } from './render.ts';
import { storeBundle } from './store.ts';
import { readBundleTemplates } from './templates.ts';

/**
 * Renders the plan's bundle (the pushed image plus the other containers' current images), refuses one
 * that would not run the pushed image, and stores it by content.
 */
export async function prepareBundle(
  clients: { ecr: ECRClient; s3: S3Client; eb: ElasticBeanstalkClient },
  input: { loaded: LoadedConfig; plan: Plan; bucket: string },
): Promise<StoredBundle> {
  const { plan } = input;
  const app = input.loaded.config.applications[plan.application];
  if (!app) {
    throw new ConfigurationError(`application ${plan.application} is no longer in the configuration ${input.loaded.path}`, { application: plan.application });
  }
  const templates = readBundleTemplates(input.loaded.baseDir, app.bundle);
  const firstEnvironment = app.stages[0]?.environment ?? plan.stages[0]?.environment ?? '';
  const others = await otherImagesForBundle(clients, { application: plan.application, app, pushed: plan.image, firstEnvironment });
  const rendered = renderBundle(templates, { ...others, [plan.image.repository]: plan.image.reference });
  if (rendered.images[plan.image.repository] !== plan.image.reference) {
    throw new BundleRenderError(
      `the bundle templates of ${plan.application} never use {{image:${plan.image.repository}}}, so deploying this push would not run it; add the placeholder or remove ${plan.image.repository} from the application's images`,
      { application: plan.application, repository: plan.image.repository },
    );
  }
  return storeBundle(clients, {
    bucket: input.bucket,
    application: plan.application,
    tag: plan.image.tag,
    entries: rendered.entries,
    images: rendered.images,
    pushedAt: plan.image.pushedAt,
    repository: plan.image.repository,
    digest: plan.image.digest,
  });
}
