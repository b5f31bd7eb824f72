import type { S3Client } from '@aws-sdk/client-s3';
import type { AuditRecord } from '../../shared/audit.ts';
import { listAuditRows, readAuditRecordAt } from '../../shared/audit-read.ts';

/** What the period's listing found: the records, and the index entries that led to no readable record. */
export interface LoadedRecords {
  records: AuditRecord[];
  unreadable: Array<{ key: string; reason: string }>;
}

const CONCURRENCY = 16;

async function mapLimit<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The audit records started in [since, until]: the audit index answers which (ListObjectsV2 of
 * `index/by-time/`, newest first, no body read), then each record is read whole (16 at a time),
 * because the page shows what only records hold: stages, approval comments, causes.
 */
export async function loadAuditRecords({ s3 }: { s3: S3Client }, { bucket, since, until }: { bucket: string; since: Date; until: Date }): Promise<LoadedRecords> {
  const rows = await listAuditRows(s3, bucket, { since, until });
  const keys = rows.flatMap((row) => (row.recordKey ? [row.recordKey] : []));
  const unreadable: LoadedRecords['unreadable'] = [];
  const records = await mapLimit(keys, CONCURRENCY, async (key) => {
    try {
      const record = await readAuditRecordAt(s3, bucket, key);
      if (!record) unreadable.push({ key, reason: 'in the index, not in the bucket' });
      return record;
    } catch (error) {
      if (error instanceof SyntaxError || (error as Error).message?.includes('is not an audit record')) {
        unreadable.push({ key, reason: (error as Error).message });
        return null;
      }
      throw error;
    }
  });
  return { records: records.filter((r): r is AuditRecord => r !== null), unreadable };
}
