import { AuditInput, recordAudit } from '../../shared/audit.ts';
import { readAuditRecordAt } from '../../shared/audit-read.ts';
import { loadCompiledConfig } from '../../shared/config/compiled.ts';
import { outcomeNotification, publish } from '../../shared/notify.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { sfn } from '../../shared/runtime/clients/sfn.ts';
import { sns } from '../../shared/runtime/clients/sns.ts';
import { logger, taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { eb, s3, sfn, sns };

const settings = readSettings(['auditBucket', 'bundleBucket', 'notificationTopicArn', 'configFile']);

/** Record Audit: the deployment's permanent record, on every terminal path (the logged outcome feeds the unverified alarm), then its notification. */
export const handler = taskHandler(AuditInput, async (input) => {
  // Step Functions and EB give the record its whole timeline (steps, approvals, EB's events), kept after the 90 days.
  const written = await recordAudit({ s3: clients.s3(), sfn: clients.sfn(), eb: clients.eb() }, { bucket: settings.auditBucket, releaseBucket: settings.bundleBucket, input });
  logger.info('audit record written', { outcome: written.outcome, key: written.key });
  // A notification that cannot be sent must not fail this step: the state machine would retry the
  // whole step for ~20 minutes and then end as "Audit Not Written" although the record is stored. It
  // is logged instead. The record is read back as stored (the first of a lost race), and the
  // configuration (for the change link) read here, so a problem with either costs the message only.
  try {
    const record = await readAuditRecordAt(clients.s3(), settings.auditBucket, written.key);
    if (!record) throw new Error(`the record ${written.key} just written cannot be read`);
    const links = loadCompiledConfig(settings.configFile).config.applications[record.application ?? '']?.links;
    await publish(clients.sns(), settings.notificationTopicArn, outcomeNotification(record, { links }));
  } catch (error) {
    logger.error('notification not sent', { error: error as Error, key: written.key, outcome: written.outcome });
  }
  return written;
});
