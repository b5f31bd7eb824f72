import type { S3Client } from '@aws-sdk/client-s3';
import { DeploymentFailedError, SupersededError } from '../errors.ts';
import { type LearnedUpdate, learnedUpdatesKept } from '../health-schedule.ts';
import { type Claim, type DeployedRelease, type EnvironmentLedger, type PendingUpdate, changeLedger } from './ledger.ts';

/** How long a holder keeps an environment after starting an update: the health wait, a rollback's, and a margin. */
export function leaseSecondsFor(healthTimeoutSeconds: number): number {
  return 2 * healthTimeoutSeconds + 900;
}

/** The push an execution deploys, as the ledger compares it. */
export interface PushedImage {
  repository: string;
  digest: string;
  tag: string;
  pushedAt: string;
}

/** Where a ledger lives and whose it is. */
export interface LedgerTarget {
  bucket: string;
  application: string;
  environment: string;
}

/** The answer of Acquire Environment: ours now, or held by another execution that is still within its lease. */
export interface Acquisition {
  status: 'acquired' | 'waiting';
  environment: string;
  holder: string;
  expiresAt: string;
}

/** Whether push a is newer than push b: ECR push time, and the digest as a tie-break so every reader agrees. */
export function isNewerPush(a: { pushedAt: string; digest: string }, b: { pushedAt: string; digest: string }): boolean {
  const difference = Date.parse(a.pushedAt) - Date.parse(b.pushedAt);
  return difference > 0 || (difference === 0 && a.digest > b.digest);
}

/** The newer push of the same repository that this one lost to, if any (the same digest under another tag never loses). */
export function newerClaim(ledger: EnvironmentLedger, image: PushedImage): Claim | undefined {
  const claim = ledger.claims[image.repository];
  return claim && claim.digest !== image.digest && isNewerPush(claim, image) ? claim : undefined;
}

function superseded(target: LedgerTarget, image: PushedImage, claim: Claim): SupersededError {
  return new SupersededError(
    `a newer push of ${image.repository} (${claim.tag}, ${claim.digest.slice(0, 19)}…, pushed ${claim.pushedAt}) is deploying or deployed to ${target.environment}; ${image.tag} (pushed ${image.pushedAt}) would go backwards, so it stops here`,
    { application: target.application, environment: target.environment, tag: image.tag, digest: image.digest, pushedAt: image.pushedAt, newer: claim },
  );
}

function isLive(lease: EnvironmentLedger['lease'], now: Date): boolean {
  return lease !== null && Date.parse(lease.expiresAt) > now.getTime();
}

/**
 * Claims the environment for a push and takes its lease when free. A push older than the newest
 * claim of its repository is superseded; a newer one records its claim even while it waits, so
 * every older execution still on its way learns it has lost. An image that already failed here
 * (another tag of the same bytes) fails at once instead of being deployed and rolled back again.
 */
export async function acquireEnvironment(
  { s3 }: { s3: S3Client },
  input: LedgerTarget & { image: PushedImage; execution: string; leaseSeconds: number; now?: Date },
): Promise<Acquisition> {
  const now = input.now ?? new Date();
  const { image, execution } = input;
  return changeLedger<Acquisition>(s3, input, (ledger) => {
    const newer = newerClaim(ledger, image);
    if (newer) throw superseded(input, image, newer);
    const failure = ledger.failed.find((failed) => failed.repository === image.repository && failed.digest === image.digest);
    if (failure) {
      throw new DeploymentFailedError(
        `image ${image.repository}@${image.digest.slice(0, 19)}… already failed its health check in ${input.environment} (execution ${failure.execution}, ${failure.at}) and was rolled back; the same bytes under tag ${image.tag} are not deployed again: push a fixed image`,
        { environment: input.environment, repository: image.repository, digest: image.digest, failedIn: failure.execution },
      );
    }
    const current = ledger.claims[image.repository];
    let changed = false;
    if (!current || (current.digest !== image.digest && isNewerPush(image, current))) {
      ledger.claims[image.repository] = { ...image, execution };
      changed = true;
    }
    const lease = ledger.lease;
    const expiresAt = new Date(now.getTime() + input.leaseSeconds * 1000).toISOString();
    if (lease?.holder === execution) {
      // Ours already (a retried step): keep any pending update, and the lease from running out under us.
      if (!isLive(lease, now)) {
        lease.expiresAt = expiresAt;
        changed = true;
      }
      return { next: changed ? ledger : null, result: { status: 'acquired', environment: input.environment, holder: execution, expiresAt: lease.expiresAt } };
    }
    if (lease && isLive(lease, now)) {
      return { next: changed ? ledger : null, result: { status: 'waiting', environment: input.environment, holder: lease.holder, expiresAt: lease.expiresAt } };
    }
    ledger.lease = { holder: execution, acquiredAt: now.toISOString(), expiresAt, update: null };
    return { next: ledger, result: { status: 'acquired', environment: input.environment, holder: execution, expiresAt } };
  });
}

/** What Deploy may do next, decided on the ledger in the same write that records its intent. */
export type UpdatePermission =
  | { kind: 'update' }
  | { kind: 'resume'; update: PendingUpdate }
  | { kind: 'lost'; holder: string | null; reason: string };

/**
 * Records, before UpdateEnvironment, that the holder is about to call it (and extends the lease to
 * cover the health wait); a retried step finds the record and resumes instead of updating twice.
 * A newer push of our own repository that arrived meanwhile supersedes us here, before anything
 * changed; so does a container of the release older than one an earlier update already carried (a
 * promotion overtaken by a newer release). Otherwise the release's images raise the carried floor.
 * (A newer push of a sibling that merely waits does not stop us: it deploys next, on top of ours.)
 */
export async function recordPendingUpdate(
  { s3 }: { s3: S3Client },
  input: LedgerTarget & { execution: string; pushed?: PushedImage; images?: PushedImage[]; update: PendingUpdate; leaseSeconds: number; now?: Date },
): Promise<UpdatePermission> {
  const now = input.now ?? new Date();
  return changeLedger<UpdatePermission>(s3, input, (ledger) => {
    const lease = ledger.lease;
    if (!lease || lease.holder !== input.execution) {
      const reason = lease ? `execution ${lease.holder} holds it now (ours ran out)` : 'nobody holds it: ours ran out';
      return { next: null, result: { kind: 'lost', holder: lease?.holder ?? null, reason } };
    }
    if (lease.update && lease.update.kind === input.update.kind && lease.update.versionLabel === input.update.versionLabel) {
      return { next: null, result: { kind: 'resume', update: lease.update } };
    }
    const images = input.images ?? [];
    const carriedNewer = (image: PushedImage) => {
      const carried = ledger.carried[image.repository];
      return carried && carried.digest !== image.digest && isNewerPush(carried, image) ? carried : undefined;
    };
    const newerPush = input.pushed ? newerClaim(ledger, input.pushed) : undefined;
    const newerCarried = images.map(carriedNewer).find((claim) => claim !== undefined);
    if (newerPush || newerCarried) {
      ledger.lease = null;
      const reason = newerPush
        ? `a newer push of ${newerPush.repository} (${newerPush.tag}, execution ${newerPush.execution}) arrived before our update`
        : `an earlier update (execution ${newerCarried?.execution}) already carried a newer ${newerCarried?.repository} than this release has`;
      return { next: ledger, result: { kind: 'lost', holder: (newerPush ?? newerCarried)?.execution ?? null, reason } };
    }
    const carriedBefore: Record<string, Claim | null> = {};
    for (const image of images) {
      const current = ledger.carried[image.repository];
      if (!current || (current.digest !== image.digest && isNewerPush(image, current))) {
        carriedBefore[image.repository] = current ?? null;
        ledger.carried[image.repository] = { ...image, execution: input.execution };
      }
    }
    // A rollback carries nothing new: it keeps what the failed deploy replaced, to put back on release.
    lease.update = { ...input.update, carriedBefore: images.length > 0 ? carriedBefore : (lease.update?.carriedBefore ?? {}) };
    lease.expiresAt = new Date(now.getTime() + input.leaseSeconds * 1000).toISOString();
    return { next: ledger, result: { kind: 'update' } };
  });
}

/**
 * Extends the holder's lease while it waits on an operation outside greenlight (the environment is
 * busy), so a long wait never hands the environment to another execution mid-deployment. False when
 * the lease is not ours any more.
 */
export async function renewLease(
  { s3 }: { s3: S3Client },
  input: LedgerTarget & { execution: string; leaseSeconds: number; now?: Date },
): Promise<boolean> {
  const expiresAt = new Date((input.now ?? new Date()).getTime() + input.leaseSeconds * 1000).toISOString();
  return changeLedger(s3, input, (ledger) => {
    if (ledger.lease?.holder !== input.execution) return { next: null, result: false };
    if (Date.parse(ledger.lease.expiresAt) >= Date.parse(expiresAt)) return { next: null, result: true };
    ledger.lease.expiresAt = expiresAt;
    return { next: ledger, result: true };
  });
}

/** How a holder leaves an environment. */
export type ReleaseOutcome =
  /** `learned`: how long our update took to be healthy, for the next update's first look. */
  | { outcome: 'deployed'; release: Omit<DeployedRelease, 'execution' | 'at'>; learned?: LearnedUpdate | null }
  | { outcome: 'already-deployed' }
  | { outcome: 'rolled-back'; failedImage: { repository: string; digest: string } };

/**
 * Gives the lease back and writes what the environment runs now: our release when it was healthy;
 * after a rollback, the image that failed, so no later release pulls it in again.
 */
export async function releaseEnvironment(
  { s3 }: { s3: S3Client },
  input: LedgerTarget & { execution: string; now?: Date } & ReleaseOutcome,
): Promise<{ released: boolean; environment: string }> {
  const at = (input.now ?? new Date()).toISOString();
  return changeLedger<{ released: boolean; environment: string }>(s3, input, (ledger) => {
    if (ledger.lease?.holder !== input.execution) return { next: null, result: { released: false, environment: input.environment } };
    const ourUpdate = ledger.lease.update;
    const carriedBefore = ourUpdate?.carriedBefore;
    ledger.lease = null;
    if (input.outcome === 'deployed') {
      ledger.deployed = { ...input.release, execution: input.execution, at };
      // Only an update of ours that came out healthy teaches how long updates take here.
      if (ourUpdate?.kind === 'deploy' && input.learned) {
        ledger.learnedUpdates = [...ledger.learnedUpdates, input.learned].slice(-learnedUpdatesKept);
      }
    }
    if (input.outcome === 'rolled-back') {
      ledger.failed.push({ ...input.failedImage, execution: input.execution, at });
      // The images our failed update carried do not run: the floor goes back to what it was before it.
      for (const [repository, before] of Object.entries(carriedBefore ?? {})) {
        if (ledger.carried[repository]?.execution !== input.execution) continue;
        if (before) ledger.carried[repository] = before;
        else delete ledger.carried[repository];
      }
    }
    return { next: ledger, result: { released: true, environment: input.environment } };
  });
}

/**
 * Lets go of every environment this execution still holds (it is ending on a failure): returns the
 * ones where it had started an update nobody verified, which makes the outcome "unverified".
 */
export async function abandonEnvironments(
  { s3 }: { s3: S3Client },
  input: { bucket: string; application: string; environments: string[]; execution: string },
): Promise<{ released: string[]; unverified: Array<{ environment: string; update: PendingUpdate }> }> {
  const released: string[] = [];
  const unverified: Array<{ environment: string; update: PendingUpdate }> = [];
  for (const environment of input.environments) {
    // Decided anew after a lost race, so only the winning decision counts.
    const outcome = await changeLedger<{ update: PendingUpdate | null } | null>(s3, { ...input, environment }, (ledger) => {
      if (ledger.lease?.holder !== input.execution) return { next: null, result: null };
      const update = ledger.lease.update;
      ledger.lease = null;
      return { next: ledger, result: { update } };
    });
    if (!outcome) continue;
    released.push(environment);
    if (outcome.update) unverified.push({ environment, update: outcome.update });
  }
  return { released, unverified };
}
