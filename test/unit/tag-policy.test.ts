import { describe, expect, it } from 'vitest';
import type { StageConfig } from '../../shared/config/schema.ts';
import { ConfigurationError, TagPolicyViolationError } from '../../shared/errors.ts';
import { checkTagSyntax, matchTagRule, planStages } from '../../shared/tag-policy.ts';

const stages: StageConfig[] = [
  { environment: 'api-dev', tags: ['git_*', 'v*'] },
  { environment: 'api-staging', tags: ['v*'] },
  {
    environment: 'api-prod',
    tags: ['semver:>=1.0.0'],
    approval: { approvers: ['arn:aws:iam::123456789012:role/release'], timeout: 259200 },
  },
];

describe('checkTagSyntax', () => {
  it.each(['v1.2.3', 'git_abc123', '_x', '1', 'a'.repeat(128)])('accepts the ECR tag %s', (tag) => {
    expect(() => checkTagSyntax(tag)).not.toThrow();
  });

  it.each(['', '.hidden', '-dash', 'has space', 'slash/tag', 'colon:tag', 'a'.repeat(129)])('rejects %j', (tag) => {
    expect(() => checkTagSyntax(tag)).toThrow(TagPolicyViolationError);
  });
});

describe('matchTagRule', () => {
  it('matches globs with * and ?', () => {
    expect(matchTagRule('git_0a1b2c', 'git_*')).toBe(true);
    expect(matchTagRule('v1.2.3', 'v*')).toBe(true);
    expect(matchTagRule('release-1.4', 'release-?.*')).toBe(true);
    expect(matchTagRule('release-12.4', 'release-?.*')).toBe(false);
    expect(matchTagRule('feature-x', 'git_*')).toBe(false);
  });

  it('matches semver ranges with or without a leading v', () => {
    expect(matchTagRule('v1.2.3', 'semver:>=1.0.0')).toBe(true);
    expect(matchTagRule('2.0.0', 'semver:^2')).toBe(true);
    expect(matchTagRule('v0.9.9', 'semver:>=1.0.0')).toBe(false);
  });

  it('never matches a non-semver tag against a semver range', () => {
    expect(matchTagRule('git_abc', 'semver:*')).toBe(false);
    expect(matchTagRule('vnext', 'semver:>=0.0.0')).toBe(false);
  });

  it('keeps prereleases out of a plain semver range', () => {
    expect(matchTagRule('v1.2.0-rc.1', 'semver:>=1.0.0')).toBe(false);
  });

  it('uses a regex as written, anchored only where the rule anchors it', () => {
    expect(matchTagRule('rc-17', 'regex:^rc-\\d+$')).toBe(true);
    expect(matchTagRule('rc-17-x', 'regex:^rc-\\d+$')).toBe(false);
    expect(matchTagRule('my-rc-17', 'regex:rc-\\d+')).toBe(true);
  });

  it('reports an invalid regex or semver range as a configuration error', () => {
    expect(() => matchTagRule('v1', 'regex:([a-z')).toThrow(ConfigurationError);
    expect(() => matchTagRule('v1', 'semver:not a range')).toThrow(ConfigurationError);
  });

  it('answers a catastrophic pattern on an adversarial tag (RE2, linear in the tag), where backtracking would stall', () => {
    // JavaScript's RegExp needs seconds for this one (exponential backtracking); bench/run.ts times it.
    expect(matchTagRule(`${'a'.repeat(25)}!`, 'regex:^(a+)+$')).toBe(false);
    expect(matchTagRule('a'.repeat(26), 'regex:^(a+)+$')).toBe(true);
    expect(matchTagRule(`${'a'.repeat(127)}!`, 'regex:(x+x+)+y|^(a|aa)+$')).toBe(false);
  });

  it('refuses what RE2 cannot run in linear time (lookaround, backreferences), naming RE2', () => {
    expect(() => matchTagRule('v1', 'regex:^(?=v)v1$')).toThrow(/RE2 syntax: no lookaround, no backreferences/);
    expect(() => matchTagRule('aa', 'regex:^(a)\\1$')).toThrow(ConfigurationError);
  });
});

describe('planStages', () => {
  it('refuses the tag latest for every stage', () => {
    const everything: StageConfig[] = [{ environment: 'api-dev', tags: ['*'] }];
    expect(() => planStages('latest', everything, 'api')).toThrow(TagPolicyViolationError);
    expect(() => planStages('latest', everything, 'api')).toThrow(/never deploys.*immutable tag such as v1\.2\.3 or git_<sha>/);
  });

  it('lists every stage rule when the tag matches no first stage', () => {
    expect(() => planStages('feature-x', stages, 'api')).toThrow(
      'tag "feature-x" matches no stage of app "api": api-dev accepts git_*, v*; api-staging accepts v*; api-prod accepts semver:>=1.0.0',
    );
  });

  it('deploys a commit tag to dev only and says why the later stages are skipped', () => {
    const plan = planStages('git_0a1b2c', stages, 'api');
    expect(plan.stages).toEqual([{ environment: 'api-dev' }]);
    expect(plan.skippedStages.map((s) => s.environment)).toEqual(['api-staging', 'api-prod']);
    expect(plan.skippedStages[0]?.reason).toContain('api-staging accepts v*');
    expect(plan.skippedStages[1]?.reason).toContain('promotion stopped at api-staging');
  });

  it('promotes a release tag through every matching stage with its approval in seconds', () => {
    const plan = planStages('v1.4.2', stages, 'api');
    expect(plan.stages).toEqual([
      { environment: 'api-dev' },
      { environment: 'api-staging' },
      { environment: 'api-prod', approval: { approvers: ['arn:aws:iam::123456789012:role/release'], timeoutSeconds: 259200 } },
    ]);
    expect(plan.skippedStages).toEqual([]);
  });

  it('stops at the first later stage that does not match, even if a later one would', () => {
    const gapped: StageConfig[] = [
      { environment: 'a-dev', tags: ['*'] },
      { environment: 'a-qa', tags: ['qa-*'] },
      { environment: 'a-prod', tags: ['*'] },
    ];
    const plan = planStages('v0.1.0', gapped);
    expect(plan.stages.map((s) => s.environment)).toEqual(['a-dev']);
    expect(plan.skippedStages.map((s) => s.environment)).toEqual(['a-qa', 'a-prod']);
  });
});
