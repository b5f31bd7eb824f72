import { ApprovalRequest, requestApproval } from '../../shared/approval/request.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { clients } from '../../shared/runtime/clients.ts';
import { taskHandler } from '../../shared/runtime/handler.ts';
import { readSettings } from '../../shared/runtime/settings.ts';

const settings = readSettings(['approvalsBucket', 'notificationTopicArn', 'configFile']);
const { config } = loadConfig(settings.configFile);

/** Request Approval (`.waitForTaskToken`): store the pending approval and tell the approvers. */
export const handler = taskHandler(ApprovalRequest, (request) =>
  requestApproval(
    { s3: clients.s3(), sns: clients.sns(), eb: clients.eb(), cloudtrail: clients.cloudtrail() },
    { bucket: settings.approvalsBucket, topicArn: settings.notificationTopicArn, config, request },
  ),
);
