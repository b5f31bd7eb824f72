import { AuditInput, recordAudit } from '../../shared/audit.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { logger, taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

const settings = readSettings(['auditBucket', 'bundleBucket']);

/** Record Audit: the deployment's permanent record, on every terminal path (the logged outcome feeds the unverified alarm). */
export const handler = taskHandler(AuditInput, async (input) => {
  // Step Functions and EB give the record its whole timeline (steps, approvals, EB's events), kept after the 90 days.
  const written = await recordAudit({ s3: clients.s3(), sfn: clients.sfn(), eb: clients.eb() }, { bucket: settings.auditBucket, releaseBucket: settings.bundleBucket, input });
  logger.info('audit record written', { outcome: written.outcome, key: written.key });
  return written;
});
