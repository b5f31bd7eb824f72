import type { ECRClient, ImageDetail } from '@aws-sdk/client-ecr';
import { paginateDescribeImages, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { DescribeApplicationVersionsCommand, DescribeEnvironmentsCommand } from '@aws-sdk/client-elastic-beanstalk';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { ApplicationConfig, StageConfig } from '../config/schema.ts';
import type { VerifiedImage } from '../contracts.ts';
import type { EnvironmentLedger } from '../environments/ledger.ts';
import { BundleRenderError } from '../errors.ts';
import { repositoryUris } from '../ecr-images.ts';
import { matchTagRule } from '../tag-policy.ts';
import { isDigestPinned, referenceName } from './references.ts';
import { imagesInBundle } from './zip.ts';

/** The version an environment runs now and its bundle's bytes (undefined: it runs none, or its version has no bundle). */
export async function runningBundle(
  { s3, eb }: { s3: S3Client; eb: ElasticBeanstalkClient },
  application: string,
  environment: string,
): Promise<{ versionLabel: string; zip: Uint8Array } | undefined> {
  const { Environments = [] } = await eb.send(new DescribeEnvironmentsCommand({ ApplicationName: application, EnvironmentNames: [environment] }));
  const label = Environments.find((env) => env.EnvironmentName === environment && env.Status !== 'Terminated')?.VersionLabel;
  if (!label) return undefined;
  const { ApplicationVersions = [] } = await eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: application, VersionLabels: [label] }));
  const source = ApplicationVersions[0]?.SourceBundle;
  if (!source?.S3Bucket || !source.S3Key) return undefined;
  const object = await s3.send(new GetObjectCommand({ Bucket: source.S3Bucket, Key: source.S3Key }));
  if (!object.Body) return undefined;
  return { versionLabel: label, zip: await object.Body.transformToByteArray() };
}

/** The image references the environment's running bundle pins (for environments greenlight has no record of). */
async function runningImages(clients: { s3: S3Client; eb: ElasticBeanstalkClient }, application: string, environment: string): Promise<string[]> {
  const running = await runningBundle(clients, application, environment);
  return running ? imagesInBundle(running.zip) : [];
}

/** The newest image of a repository carrying a tag the stage accepts (never `latest`, never untagged). */
async function newestEligibleImage(ecr: ECRClient, repository: string, stage: StageConfig): Promise<ImageDetail | undefined> {
  const eligible = (detail: ImageDetail) => (detail.imageTags ?? []).some((tag) => tag !== 'latest' && stage.tags.some((rule) => matchTagRule(tag, rule)));
  let newest: ImageDetail | undefined;
  try {
    for await (const page of paginateDescribeImages({ client: ecr }, { repositoryName: repository, filter: { tagStatus: 'TAGGED' } })) {
      for (const detail of page.imageDetails ?? []) {
        if (!detail.imageDigest || !eligible(detail)) continue;
        if (!newest || (detail.imagePushedAt?.getTime() ?? 0) > (newest.imagePushedAt?.getTime() ?? 0)) newest = detail;
      }
    }
  } catch (error) {
    if (error instanceof RepositoryNotFoundException) return undefined;
    throw error;
  }
  return newest;
}

/**
 * The images of the other containers of a multi-image release for one environment: what greenlight
 * last verified healthy there, else what runs; for a first release, the newest push claimed there
 * (unless it failed), else the newest image in ECR whose tag the stage accepts. Verified images, not
 * pending claims, so a release fails only for its own image; a sibling's newer push deploys in its own
 * execution right after (it waits for the lease), and the environment converges. A first release with
 * a container that has none of these fails once, naming every missing repository.
 */
export async function siblingImages(
  clients: { ecr: ECRClient; s3: S3Client; eb: ElasticBeanstalkClient },
  input: { application: string; app: ApplicationConfig; stage: StageConfig; pushed: VerifiedImage; ledger: EnvironmentLedger },
): Promise<Record<string, string>> {
  const others = input.app.images.filter((repository) => repository !== input.pushed.repository);
  if (others.length === 0) return {};
  const { ledger } = input;
  const uris = await repositoryUris(clients.ecr, others);
  const failed = new Set(ledger.failed.map((image) => `${image.repository}@${image.digest}`));
  let running: string[] | undefined;
  const result: Record<string, string> = {};
  const missing: string[] = [];
  for (const repository of others) {
    const uri = uris[repository] as string;
    const deployed = ledger.deployed?.images[repository];
    if (deployed) {
      result[repository] = deployed;
      continue;
    }
    running ??= await runningImages(clients, input.application, input.stage.environment);
    const current = running.find((reference) => referenceName(reference) === uri && isDigestPinned(reference));
    if (current) {
      result[repository] = current;
      continue;
    }
    const claim = ledger.claims[repository];
    if (claim && !failed.has(`${repository}@${claim.digest}`)) {
      result[repository] = `${uri}@${claim.digest}`;
      continue;
    }
    const newest = await newestEligibleImage(clients.ecr, repository, input.stage);
    if (newest?.imageDigest) result[repository] = `${uri}@${newest.imageDigest}`;
    else missing.push(repository);
  }
  if (missing.length > 0) {
    throw new BundleRenderError(
      `the first release of ${input.application} to ${input.stage.environment} needs an image of every container, and ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} none with a tag ${input.stage.environment} accepts (${input.stage.tags.join(', ')}; never latest): push ${missing.map((r) => `${r}:<tag>`).join(' and ')} first`,
      { application: input.application, environment: input.stage.environment, missing },
    );
  }
  return result;
}
