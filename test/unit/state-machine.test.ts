import { readFileSync } from 'node:fs';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema } from '../../shared/config/json-schema.ts';
import { errorNames } from '../../shared/errors.ts';
import { allStates } from '../../local/services/step-functions/definition.ts';

const raw = parse(readFileSync(new URL('../../statemachine/deploy-pipeline.asl.yml', import.meta.url), 'utf8'));

/** The definition as AWS receives it: Fn::GetAtt references replaced by function ARNs. */
function withArns(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withArns);
  if (value && typeof value === 'object') {
    const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `arn:aws:lambda:eu-west-1:123456789012:function:greenlight-test-${getAtt[0]}`;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withArns(v)]));
  }
  return value;
}
const definition = withArns(raw) as Parameters<typeof allStates>[0];

describe('the state machine file', () => {
  it('is valid Amazon States Language', () => {
    const { isValid, errors } = aslValidator(definition as never);
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
  });

  it('matches only error names that the code throws, AWS defines, or Lambda reports', () => {
    const known = new Set<string>(errorNames);
    const matched = allStates(definition).flatMap(([, state]) => [...((state.Retry as Array<{ ErrorEquals: string[] }>) ?? []), ...((state.Catch as Array<{ ErrorEquals: string[] }>) ?? [])].flatMap((r) => r.ErrorEquals));
    // Sandbox.Timedout: what Step Functions reports for a Lambda that ran out of time (like Lambda.Unknown before it).
    const unknown = matched.filter((name) => !known.has(name) && !name.startsWith('States.') && !name.startsWith('Lambda.') && name !== 'Sandbox.Timedout');
    expect(unknown).toEqual([]);
  });

  it('retries the Lambda service errors on every Task and bounds every Task with a timeout', () => {
    for (const [name, state] of allStates(definition).filter(([, s]) => s.Type === 'Task')) {
      const retried = ((state.Retry as Array<{ ErrorEquals: string[] }>) ?? []).flatMap((r) => r.ErrorEquals);
      expect(retried.some((e) => e === 'Lambda.ServiceException' || e === 'States.ALL'), name).toBe(true);
      expect(state.TimeoutSeconds ?? state.TimeoutSecondsPath, name).toBeDefined();
    }
  });

  it('repeats every Lambda task cut short by a timeout (they are idempotent), except the approval, whose timeout is its expiry', () => {
    for (const [name, state] of allStates(definition).filter(([, s]) => s.Type === 'Task')) {
      const retried = ((state.Retry as Array<{ ErrorEquals: string[] }>) ?? []).flatMap((r) => r.ErrorEquals);
      if (name === 'Request Approval') {
        expect(retried).not.toContain('States.Timeout');
        continue;
      }
      expect(retried.some((e) => e === 'Sandbox.Timedout' || e === 'States.ALL'), name).toBe(true);
    }
  });

  it('never ends a deployment on an uncaught error after it changed something: health checks, rollbacks, the stages and every record have a Catch', () => {
    const states = Object.fromEntries(allStates(definition));
    for (const name of ['Check Health', 'Roll Back', 'Check Rollback Health', 'Deploy Stages', 'Let Go Of Environments']) {
      expect((states[name]?.Catch as unknown[] | undefined)?.length, name).toBeGreaterThan(0);
    }
    for (const [name] of allStates(definition).filter(([n]) => n.startsWith('Record '))) {
      expect(((states[name]?.Catch as Array<{ ErrorEquals: string[] }>) ?? []).flatMap((c) => c.ErrorEquals), name).toContain('States.ALL');
    }
  });

  it('looks at health on the learned schedule: every health Wait takes its seconds from the step before it, every Check Health its previous look', () => {
    const states = Object.fromEntries(allStates(definition));
    const wait = (name: string) => states[name] as { Type: string; SecondsPath?: string; Seconds?: number; Next?: string };
    expect(wait('Wait For Health')).toMatchObject({ Type: 'Wait', SecondsPath: '$.deployment.look.nextSeconds', Next: 'Check Health' });
    expect(wait('Wait To Look Again')).toMatchObject({ Type: 'Wait', SecondsPath: '$.health.look.nextSeconds', Next: 'Check Health' });
    expect(wait('Wait For Rollback')).toMatchObject({ Type: 'Wait', SecondsPath: '$.rollback.deployment.look.nextSeconds', Next: 'Check Rollback Health' });
    expect(wait('Wait To Look At Rollback Again')).toMatchObject({ Type: 'Wait', SecondsPath: '$.rollbackHealth.look.nextSeconds', Next: 'Check Rollback Health' });
    expect(states['Check Health']?.Parameters).toMatchObject({ 'deployment.$': '$.deployment', 'previous.$': '$.health' });
    expect(states['Check Rollback Health']?.Parameters).toMatchObject({ 'deployment.$': '$.rollback.deployment', 'previous.$': '$.rollbackHealth' });
    // No look has been made when a stage starts (the previous look is null), and a stage needs no approval unless asked.
    expect(states['Deploy Stages']?.ItemSelector).toMatchObject({ health: null, rollbackHealth: null, approval: { decision: 'not-required' } });
    // What the update took is learned when the environment is released healthy.
    expect(states['Release Environment']?.Parameters).toMatchObject({ 'learned.$': '$.health.look.learned' });
    const choices = (name: string) => ((states[name]?.Choices ?? []) as Array<{ StringEquals?: string; Next: string }>).map((c) => [c.StringEquals, c.Next]);
    expect(choices('Healthy?')).toContainEqual(['inProgress', 'Wait To Look Again']);
    expect(choices('Rolled Back?')).toContainEqual(['inProgress', 'Wait To Look At Rollback Again']);
  });

  it('has a top-level timeout and Title Case state names', () => {
    expect(raw.TimeoutSeconds).toBeGreaterThan(0);
    for (const [name] of allStates(definition)) expect(name, name).toMatch(/^[A-Z][A-Za-z]*( [A-Z][A-Za-z]*)*\??$/);
  });
});

describe('the configuration JSON Schema', () => {
  it('is up to date with the zod schema (run npm run schema)', () => {
    const file = JSON.parse(readFileSync(new URL('../../greenlight.schema.json', import.meta.url), 'utf8'));
    expect(file).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });
});
