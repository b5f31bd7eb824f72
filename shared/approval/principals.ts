/** Whether an ARN matches an approver pattern (`*` any run of characters, `?` one), whole ARN. */
export function arnMatches(pattern: string, arn: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
  return regex.test(arn);
}

/**
 * Whether two ARNs are the same person: identical, or the same role session
 * (`arn:aws:sts::acct:assumed-role/Role/session` also written as `…:role/Role/session`).
 */
export function samePrincipal(a: string, b: string): boolean {
  const normalise = (arn: string) => arn.replace(/^arn:aws([a-z-]*):iam::(\d+):role\//, 'arn:aws$1:sts::$2:assumed-role/').toLowerCase();
  return normalise(a) === normalise(b);
}
