import type { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { S3Client } from '@aws-sdk/client-s3';
import { storedSha256 } from './bundle/stored-sha256.ts';
import type { StageDeployment, StoredBundle } from './contracts.ts';
import { leaseSecondsFor, type PushedImage, type UpdatePermission, recordPendingUpdate, renewLease } from './environments/lease.ts';
import { readLedger } from './environments/ledger.ts';
import { firstLook } from './health-schedule.ts';
import { BundleIntegrityError } from './errors.ts';
import { alreadyDeployed, describeEnvironment } from './eb-environment.ts';
import { isReadyOn, type LeaseContext, lostEnvironment, requireReady, update, window } from './eb-update.ts';
import { verifyImagesExist } from './ecr-images.ts';

/**
 * Deploys a release to one environment while this execution holds its lease: bytes already running
 * there end as already deployed; otherwise the images and the stored bundle are verified, the update
 * is recorded in the ledger before it is made (a retry after a timeout resumes it instead of
 * updating twice), and a newer push of the same repository that arrived meanwhile supersedes us.
 */
export async function deployRelease(
  { eb, ecr, s3 }: { eb: ElasticBeanstalkClient; ecr: ECRClient; s3: S3Client },
  input: LeaseContext & {
    application: string;
    environment: string;
    release: StoredBundle;
    image: PushedImage;
    healthTimeoutSeconds: number;
    /** The stage's environment properties, set in the same UpdateEnvironment call as the version. */
    environmentVariables?: Record<string, string>;
    now?: Date;
  },
): Promise<StageDeployment> {
  const { application, environment, release, execution } = input;
  const versionLabel = release.versionLabel;
  const now = input.now ?? new Date();
  const env = await describeEnvironment(eb, application, environment);
  const { ledger } = await readLedger(s3, input.bucket, application, environment);
  if (ledger.lease?.holder !== execution) throw lostEnvironment(environment, versionLabel, ledger.lease?.holder ?? null);
  const base = { application, environment, versionLabel };

  // The health checks' first look: about as long as this environment's recent updates took.
  const look = firstLook(ledger.learnedUpdates);
  let pending = ledger.lease.update?.kind === 'deploy' && ledger.lease.update.versionLabel === versionLabel ? ledger.lease.update : null;
  if (!pending) {
    const sameBytesRun = ledger.deployed?.bundleSha256 === release.sha256 && isReadyOn(env, ledger.deployed.versionLabel);
    if (sameBytesRun || isReadyOn(env, versionLabel)) {
      return { ...base, versionLabel: env.VersionLabel ?? versionLabel, previousVersionLabel: env.VersionLabel ?? null, requestId: alreadyDeployed, ...window(now, input.healthTimeoutSeconds) };
    }
    const pushedAt = await verifyImagesExist(ecr, release.images);
    const images = Object.entries(release.images).map(([repository, reference]) => ({
      repository,
      digest: reference.split('@')[1] ?? '',
      tag: repository === input.image.repository ? input.image.tag : `(in ${release.versionLabel})`,
      pushedAt: repository === input.image.repository ? input.image.pushedAt : (pushedAt[repository] as string),
    }));
    const sha = await storedSha256(s3, release.bucket, release.key);
    if (sha !== release.sha256) {
      throw new BundleIntegrityError(
        `the bundle s3://${release.bucket}/${release.key} ${sha === null ? 'is gone' : `hashes to ${sha}, not ${release.sha256}`}: it was changed or deleted after it was rendered, so it is not deployed; push again to render it anew`,
        { bucket: release.bucket, key: release.key, expected: release.sha256, actual: sha },
      );
    }
    if (env.Status !== 'Ready' || env.AbortableOperationInProgress) {
      // Someone else's operation runs there: keep the environment ours while the state machine waits.
      await renewLease({ s3 }, { bucket: input.bucket, application, environment, execution, leaseSeconds: leaseSecondsFor(input.healthTimeoutSeconds), now });
      requireReady(env, environment);
    }
    const permission: UpdatePermission = await recordPendingUpdate({ s3 }, {
      bucket: input.bucket,
      application,
      environment,
      execution,
      pushed: input.image,
      images,
      update: { kind: 'deploy', versionLabel, previousVersionLabel: env.VersionLabel ?? null, startedAt: now.toISOString() },
      leaseSeconds: leaseSecondsFor(input.healthTimeoutSeconds),
      now,
    });
    if (permission.kind === 'lost') throw lostEnvironment(environment, versionLabel, permission.holder, permission.reason);
    if (permission.kind === 'resume') pending = permission.update;
  }
  if (pending) {
    const resumed = { ...base, previousVersionLabel: pending.previousVersionLabel, ...window(new Date(pending.startedAt), input.healthTimeoutSeconds), look };
    // The update reached EB before the step was cut short: follow it rather than start it again.
    if (env.VersionLabel === versionLabel) return { ...resumed, requestId: 'unknown' };
    requireReady(env, environment);
    return { ...resumed, requestId: await update(eb, application, environment, versionLabel, env.Status, input.environmentVariables) };
  }
  const requestId = await update(eb, application, environment, versionLabel, env.Status, input.environmentVariables);
  return { ...base, previousVersionLabel: env.VersionLabel ?? null, requestId, ...window(now, input.healthTimeoutSeconds), look };
}
