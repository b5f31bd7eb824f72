import type { ECRClient, ImageDetail } from '@aws-sdk/client-ecr';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import type { ApplicationConfig, GreenlightConfig } from './config/schema.ts';
import type { ImagePush, Plan, VerifiedImage } from './contracts.ts';
import { ImageNotFoundError, UnknownRepositoryError } from './errors.ts';
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

function imageGone(repository: string, digest: string, error: unknown): ImageNotFoundError {
  const what = error instanceof RepositoryNotFoundException ? `repository ${repository} no longer exists in ECR` : `image ${digest} is no longer in ECR repository ${repository}`;
  return new ImageNotFoundError(
    `${what}: it was probably deleted (by hand or by a lifecycle policy) after the push, so there is nothing to deploy; push it again`,
    { repository, digest },
    { cause: error },
  );
}

/** The URIs of ECR repositories by name; a missing repository is an ImageNotFoundError that says what to do. */
export async function repositoryUris(ecr: ECRClient, repositories: string[]): Promise<Record<string, string>> {
  try {
    const { repositories: found = [] } = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: repositories }));
    return Object.fromEntries(found.filter((r) => r.repositoryName && r.repositoryUri).map((r) => [r.repositoryName as string, r.repositoryUri as string]));
  } catch (error) {
    if (error instanceof RepositoryNotFoundException) {
      throw new ImageNotFoundError(`an ECR repository of ${repositories.join(', ')} does not exist: create it and push an image to it`, { repositories }, { cause: error });
    }
    throw error;
  }
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

/**
 * Checks, just before a deployment, that every image a bundle pins is still in ECR by digest (an
 * image deleted after planning must not reach the environment as a failed pull), and returns when
 * each was pushed, so every container of a release can be compared with newer pushes.
 */
export async function verifyImagesExist(ecr: ECRClient, images: Record<string, string>): Promise<Record<string, string>> {
  const pushedAt: Record<string, string> = {};
  for (const [repository, reference] of Object.entries(images)) {
    const digest = reference.split('@')[1] ?? '';
    try {
      const output = await ecr.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }] }));
      const detail = output.imageDetails?.find((d) => d.imageDigest === digest);
      if (!detail) throw imageGone(repository, digest, undefined);
      pushedAt[repository] = (detail.imagePushedAt ?? new Date(0)).toISOString();
    } catch (error) {
      if (error instanceof ImageNotFoundException || error instanceof RepositoryNotFoundException) throw imageGone(repository, digest, error);
      throw error;
    }
  }
  return pushedAt;
}
