import semver from 'semver';
import { matchTagRule } from '../tag-policy.ts';
import type { GreenlightConfig, StageConfig } from './schema.ts';

/** A warning about the configuration: its path and what looks wrong. */
export interface ConfigWarning {
  path: string;
  message: string;
}

const ecrTag = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Globs made of literal tag characters, `*` and `?` only: those can be sampled. */
const sampleableGlob = /^[A-Za-z0-9_.*?-]+$/;
const versions = ['0.0.1', '0.1.0', '1.0.0', '1.2.3', '2.0.0', '10.0.0'];

/** Whether greenlight can build sample tags for a rule (regexes and rich globs it cannot). */
function sampleable(rule: string): boolean {
  return rule.startsWith('semver:') || (!rule.startsWith('regex:') && sampleableGlob.test(rule));
}

/** The literal pieces of the rules (`git_`, `v`, `release-1.0.0`), used to fill the wildcards of the others. */
function fillers(rules: string[]): string[] {
  const pieces = new Set(['', '0', '1', 'a', 'abc123', ...versions]);
  for (const rule of rules) {
    if (rule.startsWith('semver:')) {
      const min = semver.minVersion(rule.slice('semver:'.length));
      if (min) pieces.add(min.version);
    } else if (sampleable(rule)) {
      for (const piece of rule.split(/[*?]/)) if (piece) pieces.add(piece);
    }
  }
  return [...pieces];
}

function samplesOf(rule: string, fill: string[]): string[] {
  if (rule.startsWith('semver:')) {
    const range = rule.slice('semver:'.length);
    const min = semver.minVersion(range);
    const inRange = [...(min ? [min.version] : []), ...versions.filter((version) => semver.satisfies(version, range))];
    return inRange.flatMap((version) => [version, `v${version}`]);
  }
  if (!sampleable(rule)) return [];
  return fill.flatMap((piece) => [rule.replaceAll('*', piece).replaceAll('?', piece.slice(0, 1) || 'a'), rule.replace('*', piece).replaceAll('*', '').replaceAll('?', 'a')]);
}

function matchesStage(tag: string, stage: StageConfig): boolean {
  return stage.tags.some((rule) => matchTagRule(tag, rule));
}

/**
 * Stages no tag can reach, approximately. A tag deploys to stage N only when it matches every stage up
 * to N, so greenlight builds sample tags from all the application's rules (each glob's wildcards filled
 * with the literal pieces of the other rules and a few versions, each semver range's lowest version
 * with and without `v`) and warns when none of them passes every stage up to N. A `regex:` rule or a
 * glob with classes, braces or extglobs cannot be sampled: a stage behind one is never reported, so a
 * warning is not a proof and its absence is not either. Only the first unreachable stage is named.
 */
export function unreachableStages(config: GreenlightConfig): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const [application, app] of Object.entries(config.applications)) {
    const rules = app.stages.flatMap((stage) => stage.tags);
    const fill = fillers(rules);
    let reaching = [...new Set(rules.flatMap((rule) => samplesOf(rule, fill)))].filter((tag) => tag !== 'latest' && ecrTag.test(tag));
    for (const [index, stage] of app.stages.entries()) {
      reaching = reaching.filter((tag) => matchesStage(tag, stage));
      if (reaching.length > 0) continue;
      const certain = app.stages.slice(0, index + 1).every((earlier) => earlier.tags.every(sampleable));
      if (certain) {
        const previous = app.stages[index - 1];
        const why = previous
          ? `no tag that reaches ${previous.environment} (${app.stages
              .slice(0, index)
              .map((s) => s.tags.join(' or '))
              .join(', then ')}) can match ${stage.tags.join(' or ')}`
          : `no tag can match ${stage.tags.join(' or ')} (latest never deploys)`;
        const after = app.stages.length > index + 1 ? `; nor can the stages after it` : '';
        warnings.push({ path: `applications.${application}.stages.${index}`, message: `stage ${stage.environment} looks unreachable: ${why}, so it would never deploy${after}` });
      }
      break;
    }
  }
  return warnings;
}
