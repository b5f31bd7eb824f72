import { describe, expect, it } from 'vitest';
import { maxHealthTimeoutSeconds } from '../../shared/config/schema.ts';
import { type LookPlan, afterLook, firstLook, learnedUpdate, lookSchedule, looksUntil, nextLookSeconds } from '../../shared/health-schedule.ts';

const learned = (...seconds: number[]) => seconds.map((s) => ({ seconds: s, waitedSeconds: s }));

/** The waits of one wait loop on AWS's clock (checks take `checkSeconds` each), until the update is done at `doneAt`. */
function simulate(plan: LookPlan, doneAt: number, checkSeconds = 0.3): { looks: number; lateSeconds: number } {
  let clock = 0;
  let looks = 0;
  for (;;) {
    clock += plan.nextSeconds;
    looks++;
    if (clock >= doneAt) return { looks, lateSeconds: clock - doneAt };
    clock += checkSeconds;
    plan = afterLook(plan, clock);
  }
}

describe('the first look', () => {
  it('waits about as long as the median of the updates learned, a little past it', () => {
    expect(firstLook(learned(300, 290, 500))).toEqual({ expectedSeconds: 300, expectedClockSeconds: 300, waitedSeconds: 0, clockSeconds: 0, nextSeconds: 303 });
    expect(firstLook(learned(100, 200)).expectedSeconds).toBe(150);
  });

  it('keeps the clock and the waited seconds apart (the local endpoint scales only the waits)', () => {
    const plan = firstLook([{ seconds: 6, waitedSeconds: 298.9 }]);
    expect(plan).toMatchObject({ expectedSeconds: 298.9, expectedClockSeconds: 6, nextSeconds: 302 });
  });

  it('looks after 10 s when nothing is learned yet (a first deployment)', () => {
    expect(firstLook([])).toMatchObject({ expectedSeconds: null, expectedClockSeconds: null, nextSeconds: lookSchedule.coldFirstSeconds });
  });

  it('never asks a Wait state for a fraction of a second or less than a short look', () => {
    expect(firstLook(learned(0.4)).nextSeconds).toBe(lookSchedule.shortSeconds);
    expect(Number.isInteger(firstLook(learned(123.45, 130.1)).nextSeconds)).toBe(true);
  });
});

describe('the next look', () => {
  const plan = firstLook(learned(300));

  it('looks again 5 s after a look just past the expected time, up to 8 s as it gets later', () => {
    expect(nextLookSeconds(plan, 304, 304)).toBe(5);
    expect(nextLookSeconds(plan, 310, 310)).toBe(6);
    expect(nextLookSeconds(plan, 326, 326)).toBe(8);
  });

  it('aims at the expected clock time when the first look came early, through this execution’s ratio of waiting to clock', () => {
    // 250 s waited took 260 s of clock: the expected 300 s (+3) is 43 clock seconds away, 41 waited seconds.
    expect(nextLookSeconds(plan, 250, 260)).toBe(41);
    // The local endpoint: waits at 1/50, the clock real; learned 6 s of clock.
    expect(nextLookSeconds({ expectedSeconds: 298.9, expectedClockSeconds: 6 }, 290, 5.9)).toBe(8);
  });

  it('backs off far past the expected time, a quarter of how late, to at most 5 minutes', () => {
    expect(nextLookSeconds(plan, 400, 400)).toBe(25);
    expect(nextLookSeconds(plan, 1300, 1300)).toBe(250);
    expect(nextLookSeconds(plan, 5000, 5000)).toBe(lookSchedule.maxSeconds);
  });

  it('grows from 10 to 30 s while nothing is learned, then backs off after 15 minutes', () => {
    const cold = firstLook([]);
    expect(nextLookSeconds(cold, 10, 10)).toBe(10);
    expect(nextLookSeconds(cold, 60, 60)).toBe(20);
    expect(nextLookSeconds(cold, 600, 600)).toBe(30);
    expect(nextLookSeconds(cold, 2000, 2000)).toBe(300);
  });

  it('adds up the waits from look to look', () => {
    const second = afterLook(plan, 304.4);
    expect(second).toMatchObject({ waitedSeconds: 303, clockSeconds: 304.4, nextSeconds: 5 });
    expect(afterLook(second, 309.7)).toMatchObject({ waitedSeconds: 308 });
  });
});

describe('a 5-minute update', () => {
  it('learned: seen at the first look when on time, at most 10 s late and in a few looks when up to 7 s faster or 30 s slower', () => {
    for (const doneAt of [293, 295, 300, 305, 310, 320, 330]) {
      const { looks, lateSeconds } = simulate(firstLook(learned(300)), doneAt);
      expect(lateSeconds, `done at ${doneAt}`).toBeLessThanOrEqual(10);
      expect(looks, `done at ${doneAt}`).toBeLessThanOrEqual(6);
    }
    expect(simulate(firstLook(learned(300)), 300).looks).toBe(1);
    expect(simulate(firstLook(learned(300)), 305).looks).toBe(2);
    // Much faster than learned: seen at the first look, late by the difference (learned exactly for the next time).
    expect(simulate(firstLook(learned(300)), 250)).toEqual({ looks: 1, lateSeconds: 53 });
  });

  it('cold: at most 16 looks and 30 s late', () => {
    const { looks, lateSeconds } = simulate(firstLook([]), 300);
    expect(looks).toBeLessThanOrEqual(16);
    expect(lateSeconds).toBeLessThanOrEqual(30);
  });
});

describe('learning how long an update took', () => {
  it('takes EB’s finish time within the last bracket of looks, and interpolates the waiting it took', () => {
    const before = { ...firstLook(learned(300)), waitedSeconds: 290, clockSeconds: 292, nextSeconds: 10 };
    const look = afterLook(before, 302);
    expect(learnedUpdate(before, look, 297)).toEqual({ seconds: 297, waitedSeconds: 295 });
  });

  it('learns a faster update exactly even when the first look was already healthy', () => {
    const deployPlan = firstLook(learned(300));
    const look = afterLook(deployPlan, 302.3);
    expect(learnedUpdate(deployPlan, look, 250)).toEqual({ seconds: 250, waitedSeconds: 250.6 });
  });

  it('falls back on the look’s own time when EB’s date is missing or outside the wait', () => {
    const deployPlan = firstLook(learned(300));
    const look = afterLook(deployPlan, 302);
    expect(learnedUpdate(deployPlan, look, null)).toEqual({ seconds: 302, waitedSeconds: 303 });
    expect(learnedUpdate(deployPlan, look, -5)).toEqual({ seconds: 302, waitedSeconds: 303 });
    expect(learnedUpdate(deployPlan, look, 400)).toEqual({ seconds: 302, waitedSeconds: 303 });
  });
});

describe('the history bound', () => {
  it('keeps one wait loop to under 200 looks for the longest health timeout, whatever was learned', () => {
    const worst = Math.max(looksUntil([], maxHealthTimeoutSeconds), ...[60, 300, 3600, maxHealthTimeoutSeconds / 2].map((s) => looksUntil(learned(s), maxHealthTimeoutSeconds)));
    expect(worst).toBeLessThan(200);
    // 9 history events a look, a deployment and then its rollback waiting it out: far below 25,000.
    expect(worst * 9 * 2).toBeLessThan(5000);
  });
});
