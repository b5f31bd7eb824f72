import picomatch from 'picomatch';
import type { RE2JS } from 're2js';
import type { StageConfig } from './config/schema.ts';
import type { PlannedStage } from './contracts.ts';
import { ConfigurationError, TagPolicyViolationError } from './errors.ts';
import { re2js, semver } from './runtime/on-demand.ts';

/** A later stage the tag does not reach, and why, so people see where promotion stops. */
export interface SkippedStage {
  environment: string;
  reason: string;
}

/** The stages a tag deploys to, in order, and the ones it does not reach. */
export interface StagePlan {
  stages: PlannedStage[];
  skippedStages: SkippedStage[];
}

const ecrTagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Rejects a tag ECR itself could not hold, so a forged or mangled event never reaches a stage. */
export function checkTagSyntax(tag: string): void {
  if (!ecrTagPattern.test(tag)) {
    throw new TagPolicyViolationError(
      `tag ${JSON.stringify(tag)} is not a valid ECR tag: 1–128 letters, digits, _ . -, not starting with . or -`,
      { tag },
    );
  }
}

const regexRules = new Map<string, RE2JS>();

/**
 * A `regex:` rule compiled by RE2 (linear time in the tag's length, whatever the pattern), so a
 * pattern such as `^(a+)+$` cannot stall a Lambda; RE2 has no lookaround and no backreferences.
 * RE2 itself is loaded on the first regex rule, as semver is on the first semver rule (runtime/on-demand.ts).
 */
function compiledRegex(pattern: string): RE2JS {
  let compiled = regexRules.get(pattern);
  if (!compiled) {
    compiled = re2js().RE2JS.compile(pattern);
    regexRules.set(pattern, compiled);
  }
  return compiled;
}

/** What is wrong with one tag rule (undefined: nothing), in words that say how to fix it. */
export function tagRuleProblem(rule: string): string | undefined {
  if (rule.startsWith('semver:')) {
    const range = rule.slice('semver:'.length);
    return range.trim() !== '' && semver().validRange(range) !== null ? undefined : `${JSON.stringify(rule)} is not a valid semver range (e.g. semver:>=1.0.0 or semver:^2.3.0)`;
  }
  if (rule.startsWith('regex:')) {
    try {
      compiledRegex(rule.slice('regex:'.length));
      return undefined;
    } catch (error) {
      return `${JSON.stringify(rule)} is not a regular expression greenlight can match in linear time (RE2 syntax: no lookaround, no backreferences): ${(error as Error).message}`;
    }
  }
  try {
    picomatch.makeRe(rule);
    return undefined;
  } catch (error) {
    return `${JSON.stringify(rule)} is not a valid glob: ${(error as Error).message}`;
  }
}

/**
 * Whether a tag satisfies one stage rule: `semver:<range>`, `regex:<pattern>` (RE2 syntax, used as
 * written, so write `^…$` to anchor it) or a picomatch glob; config mistakes surface as ConfigurationError.
 */
export function matchTagRule(tag: string, rule: string): boolean {
  const problem = tagRuleProblem(rule);
  if (problem) throw new ConfigurationError(`tag rule ${problem}`, { rule });
  if (rule.startsWith('semver:')) {
    const version = semver().valid(tag.replace(/^v/, ''));
    return version !== null && semver().satisfies(version, rule.slice('semver:'.length));
  }
  if (rule.startsWith('regex:')) return compiledRegex(rule.slice('regex:'.length)).test(tag);
  return picomatch.isMatch(tag, rule);
}

function matchesStage(tag: string, stage: StageConfig): boolean {
  return stage.tags.some((rule) => matchTagRule(tag, rule));
}

function describeRules(stage: StageConfig): string {
  return `${stage.environment} accepts ${stage.tags.join(', ')}`;
}

function plannedStage(stage: StageConfig): PlannedStage {
  return {
    environment: stage.environment,
    ...(stage.approval ? { approval: { approvers: [...stage.approval.approvers], timeoutSeconds: stage.approval.timeout } } : {}),
    ...(stage.environmentVariables && Object.keys(stage.environmentVariables).length > 0 ? { environmentVariables: { ...stage.environmentVariables } } : {}),
  };
}

/**
 * Decides which stages a pushed tag deploys to: it must match the first stage, then promotes while
 * later stages match, so a dev-only tag never waits for a prod approval.
 */
export function planStages(tag: string, stages: StageConfig[], application?: string): StagePlan {
  const ofApp = application === undefined ? '' : ` of app ${JSON.stringify(application)}`;
  if (tag === 'latest') {
    throw new TagPolicyViolationError(
      `the tag "latest" never deploys${application === undefined ? '' : ` (app ${JSON.stringify(application)})`}: it moves with every push, so nobody could tell what runs; push an immutable tag such as v1.2.3 or git_<sha>`,
      { tag, application },
    );
  }
  const first = stages[0];
  if (!first || !matchesStage(tag, first)) {
    throw new TagPolicyViolationError(
      `tag ${JSON.stringify(tag)} matches no stage${ofApp}: ${stages.map(describeRules).join('; ')}`,
      { tag, application, rules: Object.fromEntries(stages.map((stage) => [stage.environment, stage.tags])) },
    );
  }
  const planned: PlannedStage[] = [plannedStage(first)];
  const skippedStages: SkippedStage[] = [];
  let stopAt: StageConfig | undefined;
  for (const stage of stages.slice(1)) {
    if (stopAt) {
      skippedStages.push({ environment: stage.environment, reason: `promotion stopped at ${stopAt.environment}, which tag ${JSON.stringify(tag)} does not match` });
    } else if (matchesStage(tag, stage)) {
      planned.push(plannedStage(stage));
    } else {
      stopAt = stage;
      skippedStages.push({ environment: stage.environment, reason: `tag ${JSON.stringify(tag)} does not match: ${describeRules(stage)}` });
    }
  }
  return { stages: planned, skippedStages };
}
