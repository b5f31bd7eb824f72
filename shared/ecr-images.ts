// Images and repositories as ECR holds them now. Apart from plan.ts, so Deploy (which checks its images
// again) loads neither the tag policy nor the configuration schema.
import { DescribeImagesCommand, DescribeRepositoriesCommand, type ECRClient, ImageNotFoundException, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { ImageNotFoundError } from './errors.ts';

/** The error for an image that was in ECR at the push and is gone now, saying what to do. */
export function imageGone(repository: string, digest: string, error: unknown): ImageNotFoundError {
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
