import type { SameRolePolicy } from '../config/same-role-policy.ts';

/** Whether an ARN matches an approver pattern (`*` any run of characters, `?` one), whole ARN. */
export function arnMatches(pattern: string, arn: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
  return regex.test(arn);
}

/** An ARN reduced to who it is: partition, account, kind, name and (for a role session) the session. */
interface Principal {
  key: string;
  session?: string;
}

/**
 * Who an ARN may stand for. `sts::…:assumed-role/Role/session` is role `Role`; `iam::…:role/path/Role`
 * is role `Role` (no session), and `iam::…:role/A/B` may also be how a tool printed session `B` of
 * role `A`, so it stands for both; users lose their path (names are unique); names compare
 * case-insensitively, as IAM keeps them unique.
 */
function principalsOf(arn: string): Principal[] {
  const lower = arn.trim().toLowerCase();
  const match = /^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)$/.exec(lower);
  if (!match) return [{ key: lower }];
  const [, partition, service, account, resource] = match as unknown as [string, string, string, string, string];
  const scope = `${partition}:${account}`;
  const parts = resource.split('/');
  const kind = parts[0];
  if (service === 'sts' && kind === 'assumed-role' && parts.length >= 3) return [{ key: `${scope}:role/${parts[1]}`, session: parts.slice(2).join('/') }];
  if (service === 'iam' && kind === 'role' && parts.length >= 2) {
    const role = { key: `${scope}:role/${parts.at(-1)}` };
    return parts.length === 3 ? [role, { key: `${scope}:role/${parts[1]}`, session: parts[2] }] : [role];
  }
  if (service === 'iam' && kind === 'user' && parts.length >= 2) return [{ key: `${scope}:user/${parts.at(-1)}` }];
  return [{ key: `${scope}:${resource}` }];
}

function same(a: Principal, b: Principal, policy: SameRolePolicy): boolean {
  if (a.key !== b.key) return false;
  return policy === 'strict' || a.session === undefined || b.session === undefined || a.session === b.session;
}

/**
 * Whether two ARNs are the same person for separation of duties. Sessions of one role are one
 * person unless the policy is `per-session`; even then a role ARN without a session stands for
 * every session of the role, and an ambiguous ARN for everyone it may name (fail closed).
 */
export function samePrincipal(a: string, b: string, policy: SameRolePolicy = 'strict'): boolean {
  const others = principalsOf(b);
  return principalsOf(a).some((first) => others.some((second) => same(first, second, policy)));
}
