import * as z from '../zod.ts';

/**
 * How two sessions of one IAM role compare when the approver is checked against the pushers.
 * `strict`: one role is one person (whoever may assume a role picks the session name);
 * `per-session`: session names tell people apart (only where an identity provider sets them).
 * Its own module: approval records carry it, and the approval API must not load the whole
 * configuration schema (tag rules bring RE2, semver and globs) to read them.
 */
export const SameRolePolicy = z.enum(['strict', 'per-session']);
export type SameRolePolicy = z.infer<typeof SameRolePolicy>;
