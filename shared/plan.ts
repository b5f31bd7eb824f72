import type { ECRClient, ImageDetail } from '@aws-sdk/client-ecr';
import {
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ImageNotFoundException,
  paginateDescribeImages,
  RepositoryNotFoundException,
} from '@aws-sdk/client-ecr';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { DescribeApplicationVersionsCommand, DescribeEnvironmentsCommand } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { isDigestPinned, referenceName } from './bundle/references.ts';
import { imagesInBundle } from './bundle/zip.ts';
import type { ApplicationConfig, GreenlightConfig } from './config/schema.ts';
import type { ImagePush, Plan, VerifiedImage } from './contracts.ts';
import { BundleRenderError, ImageNotFoundError, UnknownRepositoryError } from './errors.ts';
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

async function repositoryUris(ecr: ECRClient, repositories: string[]): Promise<Record<string, string>> {
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

async function deployedImages(
  { s3, eb }: { s3: S3Client; eb: ElasticBeanstalkClient },
  application: string,
  environment: string,
): Promise<string[]> {
  const { Environments = [] } = await eb.send(new DescribeEnvironmentsCommand({ ApplicationName: application, EnvironmentNames: [environment] }));
  const label = Environments.find((env) => env.EnvironmentName === environment && env.Status !== 'Terminated')?.VersionLabel;
  if (!label) return [];
  const { ApplicationVersions = [] } = await eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: application, VersionLabels: [label] }));
  const source = ApplicationVersions[0]?.SourceBundle;
  if (!source?.S3Bucket || !source.S3Key) return [];
  const object = await s3.send(new GetObjectCommand({ Bucket: source.S3Bucket, Key: source.S3Key }));
  if (!object.Body) return [];
  return imagesInBundle(await object.Body.transformToByteArray());
}

async function newestImage(ecr: ECRClient, repository: string, repositoryUri: string): Promise<string> {
  let newest: ImageDetail | undefined;
  try {
    for await (const page of paginateDescribeImages({ client: ecr }, { repositoryName: repository })) {
      for (const detail of page.imageDetails ?? []) {
        if (!detail.imageDigest) continue;
        if (!newest || (detail.imagePushedAt?.getTime() ?? 0) > (newest.imagePushedAt?.getTime() ?? 0)) newest = detail;
      }
    }
  } catch (error) {
    if (error instanceof RepositoryNotFoundException) {
      throw new ImageNotFoundError(`ECR repository ${repository} does not exist: create it and push an image to it`, { repository }, { cause: error });
    }
    throw error;
  }
  if (!newest?.imageDigest) {
    throw new BundleRenderError(
      `repository ${repository} has no image yet, so the multi-container bundle cannot be rendered: push an image to ${repository} first`,
      { repository },
    );
  }
  return `${repositoryUri}@${newest.imageDigest}`;
}

/**
 * For a multi-image application, the references of the repositories that were not pushed: what runs on
 * the first stage now, else the newest image in ECR, so one push changes exactly one container.
 */
export async function otherImagesForBundle(
  clients: { ecr: ECRClient; s3: S3Client; eb: ElasticBeanstalkClient },
  input: { application: string; app: ApplicationConfig; pushed: VerifiedImage; firstEnvironment: string },
): Promise<Record<string, string>> {
  const others = input.app.images.filter((repository) => repository !== input.pushed.repository);
  if (others.length === 0) return {};
  const uris = await repositoryUris(clients.ecr, others);
  const deployed = await deployedImages(clients, input.application, input.firstEnvironment);
  const result: Record<string, string> = {};
  for (const repository of others) {
    const uri = uris[repository];
    if (!uri) throw new ImageNotFoundError(`ECR repository ${repository} does not exist: create it and push an image to it`, { repository });
    const current = deployed.find((reference) => referenceName(reference) === uri && isDigestPinned(reference));
    result[repository] = current ?? (await newestImage(clients.ecr, repository, uri));
  }
  return result;
}
