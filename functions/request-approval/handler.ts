import { ApprovalRequest, requestApproval } from '../../shared/approval/request.ts';
import { loadCompiledConfig } from '../../shared/config/compiled.ts';
import { cloudtrail } from '../../shared/runtime/clients/cloudtrail.ts';
import { eb } from '../../shared/runtime/clients/eb.ts';
import { s3 } from '../../shared/runtime/clients/s3.ts';
import { sns } from '../../shared/runtime/clients/sns.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

/** The SDK clients this function calls, and only those: each one loaded is cold-start time. */
const clients = { cloudtrail, eb, s3, sns };

const settings = readSettings(['approvalsBucket', 'notificationTopicArn', 'configFile']);

/** Request Approval (`.waitForTaskToken`): store the pending approval and tell the approvers. */
export const handler = taskHandler(ApprovalRequest, (request) =>
  requestApproval(
    { s3: clients.s3(), sns: clients.sns(), eb: clients.eb(), cloudtrail: clients.cloudtrail() },
    // Read on the first call (then cached): a configuration problem fails the task as a ConfigurationError, not the module's load.
    { bucket: settings.approvalsBucket, topicArn: settings.notificationTopicArn, config: loadCompiledConfig(settings.configFile).config, request },
  ),
);
