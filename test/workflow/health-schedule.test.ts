import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerKey } from '../../shared/environments/ledger.ts';
import { type Pipeline, startPipeline, statesEntered } from './harness.ts';

// Waits run at 1/100 here (testFaults), so an EB update of 1.5 s of real time is 150 s of the state
// machine's waiting: a long update, as the Wait states see it.
const configPath = new URL('../fixtures/workflow.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath, faults: { ebUpdateSeconds: 1.5 } });
});
afterAll(() => pipeline?.close());

/** The output of each time a state was left, parsed. */
const exits = (history: HistoryEvent[], name: string) =>
  history.filter((e) => e.stateExitedEventDetails?.name === name).map((e) => JSON.parse(e.stateExitedEventDetails!.output!));
const count = (history: HistoryEvent[], name: string) => statesEntered(history).filter((state) => state === name).length;

describe('looking at health on the environment’s learned schedule', () => {
  it('waits as long as the last update took before the first look, then sees Green within a short look or two', async () => {
    const cold = await pipeline.deploy('hello-api', 'v0.1.0');
    expect(cold.description.status).toBe('SUCCEEDED');
    // Nothing learned yet: the first look after 10 s, then looks growing to 30 s apart.
    expect(exits(cold.history, 'Deploy')[0].deployment.look).toMatchObject({ expectedSeconds: null, nextSeconds: 10 });
    const coldLooks = count(cold.history, 'Check Health');
    expect(coldLooks).toBeGreaterThanOrEqual(5);

    const ledger = JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.bundleBucket, ledgerKey('hello-api', 'hello-api-dev'))));
    expect(ledger.learnedUpdates).toHaveLength(1);
    const [learned] = ledger.learnedUpdates;
    // The clock (real time here) saw 1.5 s; the Waits, at 1/100, had added up to far more by then (about
    // 150 s on a quiet machine; less when the handlers' real time takes a larger share under load).
    expect(learned.seconds).toBeGreaterThanOrEqual(1.5);
    expect(learned.waitedSeconds).toBeGreaterThan(learned.seconds * 10);

    const warm = await pipeline.deploy('hello-api', 'v0.2.0');
    expect(warm.description.status).toBe('SUCCEEDED');
    const [deployed] = exits(warm.history, 'Deploy');
    // One long first wait, planned from what was learned...
    expect(deployed.deployment.look).toMatchObject({ expectedSeconds: learned.waitedSeconds, expectedClockSeconds: learned.seconds });
    expect(deployed.deployment.look.nextSeconds).toBeGreaterThan(learned.waitedSeconds);
    expect(count(warm.history, 'Wait For Health')).toBe(1);
    // A SecondsPath Wait is a Wait in the history, as on AWS (the endpoint runs it scaled).
    expect(warm.history.find((e) => e.stateEnteredEventDetails?.name === 'Wait For Health')?.type).toBe('WaitStateEntered');
    // ...then at most two more looks, each a short wait (or one aimed at the expected time).
    const looks = exits(warm.history, 'Check Health').map((state) => state.health);
    expect(looks.length).toBeLessThanOrEqual(3);
    expect(looks.length).toBeLessThan(coldLooks);
    expect(looks.at(-1)).toMatchObject({ verdict: 'healthy', look: { learned: { seconds: expect.any(Number) } } });
    for (const look of looks.slice(0, -1)) {
      expect(look.verdict).toBe('inProgress');
      expect(look.look.nextSeconds).toBeLessThan(deployed.deployment.look.nextSeconds / 2);
    }
    expect(count(warm.history, 'Wait To Look Again')).toBe(looks.length - 1);
    // The fixed path plus three transitions a look: 26 at most for a single stage.
    expect(statesEntered(warm.history).length).toBeLessThanOrEqual(17 + 3 * 3);

    const after = JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.bundleBucket, ledgerKey('hello-api', 'hello-api-dev'))));
    expect(after.learnedUpdates).toHaveLength(2);
  });
});
