import type { PendingView } from '../../shared/approval/records.ts';
import { ApprovalApiError, callApprovalApi } from '../approval-client.ts';
import { bold, dim, fail, green, red, yellow } from '../output.ts';

export interface ApprovalOptions {
  url?: string;
  json?: boolean;
}

function approvalUrl(options: ApprovalOptions): string | undefined {
  return options.url ?? process.env.GREENLIGHT_APPROVAL_URL;
}

const missingUrl = 'no approval URL: pass --url or set GREENLIGHT_APPROVAL_URL (the ApprovalUrl output of the stack; `greenlight local` prints the local one)';

function age(from: string, now = Date.now()): string {
  const minutes = Math.max(0, Math.round((now - Date.parse(from)) / 60000));
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

async function guarded(run: () => Promise<number>, json?: boolean): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ApprovalApiError) {
      if (json) process.stdout.write(`${JSON.stringify({ error: error.code, status: error.status, message: error.message })}\n`);
      return fail(`${error.code}: ${error.message}`);
    }
    if ((error as Error).name === 'CredentialsProviderError') return fail(`no AWS credentials found (${(error as Error).message}); approvals are signed with your own identity`);
    if ((error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') return fail('the approval URL does not answer (is `greenlight local` running?)');
    throw error;
  }
}

/** `greenlight pending`: what waits for approval, for how long, for whom. */
export function pendingCommand(options: ApprovalOptions): Promise<number> {
  const url = approvalUrl(options);
  if (!url) return Promise.resolve(fail(missingUrl, 2));
  return guarded(async () => {
    const { pending, caller } = (await callApprovalApi(url, 'GET', '/pending')) as { pending: PendingView[]; caller: string };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(pending, null, 2)}\n`);
      return 0;
    }
    if (pending.length === 0) {
      process.stdout.write(`Nothing waits for approval ${dim(`(asked as ${caller})`)}\n`);
      return 0;
    }
    for (const p of pending) {
      process.stdout.write(`${bold(p.id)}\n`);
      process.stdout.write(`  ${p.application} ${p.image.tag} → ${bold(p.targetEnvironment)} ${dim(`(healthy in ${p.sourceEnvironment ?? '—'}; running there now: ${p.runningInTarget ?? 'nothing'})`)}\n`);
      process.stdout.write(`  waiting ${age(p.requestedAt)}, expires ${p.expiresAt}; pushed by ${p.pushedBy ?? 'unknown'}\n`);
      process.stdout.write(`  approvers: ${p.approvers.join(', ')}\n`);
      process.stdout.write(dim(`  greenlight approve ${p.id} --comment "…"   |   greenlight reject ${p.id} --reason "…"\n`));
    }
    return 0;
  }, options.json);
}

/** `greenlight approve ID` / `greenlight reject ID --reason`: a decision signed with the caller's identity. */
export function decideCommand(decision: 'approve' | 'reject', id: string, options: ApprovalOptions & { comment?: string; reason?: string }): Promise<number> {
  const url = approvalUrl(options);
  if (!url) return Promise.resolve(fail(missingUrl, 2));
  const comment = decision === 'reject' ? options.reason : options.comment;
  if (decision === 'reject' && !comment?.trim()) return Promise.resolve(fail('a rejection needs --reason "…", so the audit record says why', 2));
  return guarded(async () => {
    const result = await callApprovalApi(url, 'POST', `/approvals/${encodeURIComponent(id)}`, { decision, comment });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    const verb = decision === 'approve' ? green('approved') : red('rejected');
    process.stdout.write(`${verb} ${bold(id)} → ${result.targetEnvironment} as ${result.approver}${result.comment ? ` ${yellow(`“${result.comment}”`)}` : ''}\n`);
    return 0;
  }, options.json);
}
