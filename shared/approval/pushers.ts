import { type CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import type { S3Client } from '@aws-sdk/client-s3';
import { pushers as pusherRecords } from './records.ts';

/** CloudTrail may stamp a PutImage a little before ECR's `imagePushedAt` (clocks, a slow upload). */
const skewMs = 15 * 60 * 1000;
/** Event history covers 90 days; nothing older can be asked for. */
const historyMs = 90 * 86400 * 1000;
/** 20 pages of 50 events: beyond that the answer is too slow to wait for and counts as unknown. */
const maxPages = 20;

/** What CloudTrail's event history says about the pushes of one digest. */
export type PusherLookup = { ok: true; pushers: string[]; unnamed: string[] } | { ok: false; reason: string };

interface PutImageEvent {
  eventSource?: string;
  eventName?: string;
  errorCode?: string;
  userIdentity?: { type?: string; arn?: string; invokedBy?: string };
  requestParameters?: { repositoryName?: string };
  responseElements?: { image?: { repositoryName?: string; imageId?: { imageDigest?: string } } };
}

/**
 * Asks CloudTrail's event history (90 days, no trail needed) who called PutImage for a digest since
 * it was first pushed: every principal, so a re-push by someone else is seen too. Any failure
 * (denied, throttled, too many events) is an answer of its own, never an empty list.
 */
export async function lookUpPushers(
  cloudtrail: CloudTrailClient,
  { repository, digest, pushedAt, now }: { repository: string; digest: string; pushedAt?: string; now: Date },
): Promise<PusherLookup> {
  const earliest = now.getTime() - historyMs + 60_000;
  const since = pushedAt ? Math.max(Date.parse(pushedAt) - skewMs, earliest) : earliest;
  const found = new Set<string>();
  const unnamed = new Set<string>();
  let token: string | undefined;
  try {
    for (let page = 0; page < maxPages; page++) {
      const answer = await cloudtrail.send(
        new LookupEventsCommand({
          LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'PutImage' }],
          StartTime: new Date(Math.min(since, now.getTime())),
          EndTime: now,
          MaxResults: 50,
          NextToken: token,
        }),
      );
      for (const event of answer.Events ?? []) {
        let detail: PutImageEvent;
        try {
          detail = JSON.parse(event.CloudTrailEvent ?? '{}') as PutImageEvent;
        } catch {
          continue;
        }
        if (detail.eventSource !== 'ecr.amazonaws.com' || detail.eventName !== 'PutImage' || detail.errorCode) continue;
        const pushedRepository = detail.requestParameters?.repositoryName ?? detail.responseElements?.image?.repositoryName;
        if (pushedRepository !== repository || detail.responseElements?.image?.imageId?.imageDigest !== digest) continue;
        const arn = detail.userIdentity?.arn;
        if (arn) found.add(arn);
        else unnamed.add(detail.userIdentity?.invokedBy ?? detail.userIdentity?.type ?? 'an unnamed caller');
      }
      token = answer.NextToken;
      if (!token) return { ok: true, pushers: [...found].sort(), unnamed: [...unnamed].sort() };
    }
    return { ok: false, reason: `CloudTrail holds more than ${maxPages * 50} PutImage events since the image was pushed; not all could be read` };
  } catch (error) {
    const e = error as Error;
    return { ok: false, reason: `CloudTrail LookupEvents failed (${e.name}: ${e.message})` };
  }
}

/** Everything known about who pushed a digest, and, when that is not enough to decide, why. */
export interface KnownPushers {
  pushers: string[];
  /** Set when the list may be incomplete: an approval must then be refused. */
  unknown?: string;
}

/**
 * Who pushed a digest: greenlight's own records (the CloudTrail rule writes them) together with
 * CloudTrail's event history. The list counts as complete only when the history could be read in
 * full, named every caller, and somebody pushed at all.
 */
export async function findPushers(
  { s3, cloudtrail }: { s3: S3Client; cloudtrail: CloudTrailClient },
  { bucket, repository, digest, pushedAt, now }: { bucket: string; repository: string; digest: string; pushedAt?: string; now: Date },
): Promise<KnownPushers> {
  const [recorded, lookup] = await Promise.all([pusherRecords.list(s3, bucket, repository, digest), lookUpPushers(cloudtrail, { repository, digest, pushedAt, now })]);
  const pushers = [...new Set([...recorded, ...(lookup.ok ? lookup.pushers : [])])].sort();
  if (!lookup.ok) return { pushers, unknown: lookup.reason };
  if (lookup.unnamed.length > 0) return { pushers, unknown: `CloudTrail records a PutImage of this digest by ${lookup.unnamed.join(', ')}, without a principal ARN` };
  if (pushers.length === 0) {
    return { pushers, unknown: 'neither greenlight nor CloudTrail has a PutImage of this digest (CloudTrail event history can lag about 15 minutes behind a push)' };
  }
  return { pushers };
}
