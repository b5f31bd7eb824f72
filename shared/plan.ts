import type { ECRClient, ImageDetail } from '@aws-sdk/client-ecr';
import { DescribeImagesCommand, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import type { ApplicationConfig, GreenlightConfig } from './config/schema.ts';
import type { ImagePush, Plan, VerifiedImage } from './contracts.ts';
import { ImageNotFoundError, UnknownRepositoryError } from './errors.ts';
import { imageGone, repositoryUris } from './ecr-images.ts';
import { checkTagSyntax, planStages } from './tag-policy.ts';

/** The application a repository deploys, with its configuration. */
export function findApplication(config: GreenlightConfig, repository: string): { application: string; app: ApplicationConfig } {
  for (const [application, app] of Object.entries(config.applications)) {
    if (app.images.includes(repository)) return { application, app };
  }
  throw new UnknownRepositoryError(
    `repository ${repository} is not part of any application in the greenlight configuration; add it to an application's images to deploy its pushes`,
    { repository },
  );
}

/**
 * Turns a push into a plan: which application and stages it deploys to, and the image pinned by the
 * digest ECR still holds, so a moved or deleted tag can never change what is deployed.
 */
export async function resolvePlan(
  { ecr }: { ecr: ECRClient },
  input: { config: GreenlightConfig; image: ImagePush; deploymentId: string; now?: Date },
): Promise<Plan> {
  const { image } = input;
  const { application, app } = findApplication(input.config, image.repository);
  checkTagSyntax(image.tag);
  const { stages, skippedStages } = planStages(image.tag, app.stages, application);

  let detail: ImageDetail | undefined;
  try {
    const output = await ecr.send(new DescribeImagesCommand({ repositoryName: image.repository, imageIds: [{ imageDigest: image.digest }] }));
    detail = output.imageDetails?.[0];
  } catch (error) {
    if (error instanceof ImageNotFoundException || error instanceof RepositoryNotFoundException) throw imageGone(image.repository, image.digest, error);
    throw error;
  }
  if (!detail) throw imageGone(image.repository, image.digest, undefined);

  const repositoryUri = (await repositoryUris(ecr, [image.repository]))[image.repository];
  if (!repositoryUri) {
    throw new ImageNotFoundError(`ECR repository ${image.repository} was not found after the push: it was probably deleted, so there is nothing to deploy`, { repository: image.repository });
  }

  const verified: VerifiedImage = {
    ...image,
    repositoryUri,
    reference: `${repositoryUri}@${image.digest}`,
    pushedAt: (detail.imagePushedAt ?? input.now ?? new Date()).toISOString(),
  };
  return {
    deploymentId: input.deploymentId,
    application,
    image: verified,
    stages,
    skippedStages,
    health: { accept: [...app.health.accept], timeoutSeconds: app.health.timeout },
  };
}
