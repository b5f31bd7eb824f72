import { AuditInput, recordAudit } from '../../shared/audit.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

const settings = readSettings(['auditBucket']);

/** Record Audit: the deployment's permanent record, on every terminal path. */
export const handler = taskHandler(AuditInput, (input) => recordAudit({ s3: clients.s3() }, { bucket: settings.auditBucket, input }));
