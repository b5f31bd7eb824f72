/**
 * When the state machine looks at an environment's health next (issue 12). Every look costs three
 * state transitions (a Wait, Check Health, Healthy?), so the first look waits about as long as the
 * environment's recent updates took, the next ones are short so Green is seen within seconds, and
 * far past the expected time they back off, bounded, so even the longest health timeout keeps the
 * execution history small. With nothing learned yet (a first deployment) looks start short and grow.
 *
 * Two clocks. A Wait state's seconds (`waitedSeconds`, what the Waits so far added up to, and every
 * `nextSeconds`) are the state machine's; the Lambda's clock (`clockSeconds`: since UpdateEnvironment)
 * runs on beside them, a little faster because checks take time too. On AWS they nearly agree; on the
 * local endpoint Wait states run scaled and Lambdas on real time. So what is learned keeps both (how
 * long the update took on the clock, and how much waiting that was), the first wait is in waited
 * seconds, and a look that came early aims the next one at the expected clock time through this
 * execution's own ratio of waiting to clock. Timeouts stay on the clock (the deployment's deadline).
 */

/** The look schedule's constants, in seconds. */
export const lookSchedule = {
  /** A look aimed at the expected time comes this long after it, so an update on time is seen at once. */
  aimSeconds: 3,
  /** Between looks around the expected time, growing by a second every 5 s late up to shortMaxSeconds: Green is seen at most that long (plus one check) after EB reports it. */
  shortSeconds: 5,
  shortMaxSeconds: 8,
  /** Short looks last this long past the expected time (a tenth of it for long updates, up to windowMaxSeconds) before backing off. */
  windowSeconds: 30,
  windowMaxSeconds: 120,
  /** Nothing learned yet: the first look, and the longest short look while they grow with the wait. */
  coldFirstSeconds: 10,
  coldMaxSeconds: 30,
  /** Nothing learned yet and already this long: back off like a late update. */
  coldForSeconds: 900,
  /** The longest wait between two looks, however late the update is. */
  maxSeconds: 300,
} as const;

/** How many successful updates an environment's ledger keeps to learn from (the newest). */
export const learnedUpdatesKept = 5;

/** How long one successful update took to be healthy: on the clock, and in the state machine's waited seconds. */
export interface LearnedUpdate {
  seconds: number;
  waitedSeconds: number;
}

/** What the state machine carries from look to look (Deploy's plan, then each Check Health's). */
export interface LookPlan {
  /** How much waiting recent updates here took (the median), or null when nothing is learned yet. */
  expectedSeconds: number | null;
  /** How long recent updates took on the clock (the median), or null. */
  expectedClockSeconds: number | null;
  /** What the Wait states waited before this look (0 in Deploy's plan). */
  waitedSeconds: number;
  /** Clock seconds from UpdateEnvironment to this look (0 in Deploy's plan). */
  clockSeconds: number;
  /** How long the next Wait state waits (its SecondsPath), whole seconds as AWS requires. */
  nextSeconds: number;
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

function median(values: number[]): number | null {
  const usable = values.filter((value) => Number.isFinite(value) && value >= 0).sort((a, b) => a - b);
  if (usable.length === 0) return null;
  const middle = Math.floor(usable.length / 2);
  return usable.length % 2 ? (usable[middle] as number) : ((usable[middle - 1] as number) + (usable[middle] as number)) / 2;
}

/** The plan Deploy (or Roll Back) hands the first Wait state, from what the environment's ledger learned. */
export function firstLook(learned: readonly LearnedUpdate[]): LookPlan {
  const expectedSeconds = median(learned.map((update) => update.waitedSeconds));
  const expectedClockSeconds = median(learned.map((update) => update.seconds));
  const nextSeconds =
    expectedSeconds === null ? lookSchedule.coldFirstSeconds : Math.max(lookSchedule.shortSeconds, Math.round(expectedSeconds + lookSchedule.aimSeconds));
  return { expectedSeconds, expectedClockSeconds, waitedSeconds: 0, clockSeconds: 0, nextSeconds };
}

/** How long to wait after a look that found the update in progress, `waitedSeconds` and `clockSeconds` after it started. */
export function nextLookSeconds(plan: Pick<LookPlan, 'expectedSeconds' | 'expectedClockSeconds'>, waitedSeconds: number, clockSeconds: number): number {
  const s = lookSchedule;
  if (plan.expectedSeconds === null) {
    if (waitedSeconds <= s.coldForSeconds) return clamp(Math.round(waitedSeconds / 3), s.coldFirstSeconds, s.coldMaxSeconds);
    return clamp(Math.round(waitedSeconds / 4), s.coldMaxSeconds, s.maxSeconds);
  }
  // Waited seconds per clock second in this execution so far (1 on AWS, give or take the checks' time).
  const ratio = clockSeconds > 0 && waitedSeconds > 0 ? waitedSeconds / clockSeconds : 1;
  const expectedClock = plan.expectedClockSeconds ?? plan.expectedSeconds / ratio;
  const early = expectedClock + s.aimSeconds / ratio - clockSeconds;
  // Early (the update runs slower than the first look assumed): aim at the expected time.
  if (early > 0) return clamp(Math.round(early * ratio), 1, s.maxSeconds);
  const late = (clockSeconds - expectedClock) * ratio;
  const window = clamp(Math.round((plan.expectedSeconds ?? 0) / 10), s.windowSeconds, s.windowMaxSeconds);
  if (late <= window) return clamp(Math.round(s.shortSeconds + Math.max(0, late - s.aimSeconds) / 5), s.shortSeconds, s.shortMaxSeconds);
  // Far past the expected time: a quarter of how late it is (a 20-minute-late update is looked at every 5 minutes).
  return clamp(Math.round(late / 4), s.shortSeconds, s.maxSeconds);
}

/** The plan after a look that found the update in progress, `clockSeconds` after UpdateEnvironment. */
export function afterLook(followed: LookPlan, clockSeconds: number): LookPlan {
  const waitedSeconds = followed.waitedSeconds + followed.nextSeconds;
  return { ...followed, waitedSeconds, clockSeconds, nextSeconds: nextLookSeconds(followed, waitedSeconds, clockSeconds) };
}

/**
 * How long the update took, seen by the look that found it healthy (`look`: that look's plan, whose
 * clockSeconds is now; `followed`: the plan of the look before it). `doneClockSeconds`: when EB says it
 * finished (its DateUpdated), on the clock since UpdateEnvironment; trusted only within the last
 * bracket of looks, else the look's own time (an upper bound). The waiting it took is interpolated
 * within that bracket, so it does not depend on how many looks came before.
 */
export function learnedUpdate(followed: LookPlan, look: LookPlan, doneClockSeconds: number | null): LearnedUpdate {
  const from = { clock: followed.clockSeconds, waited: followed.waitedSeconds };
  const to = { clock: look.clockSeconds, waited: look.waitedSeconds };
  const done = doneClockSeconds !== null && Number.isFinite(doneClockSeconds) && doneClockSeconds > 0 && doneClockSeconds <= to.clock ? doneClockSeconds : to.clock;
  const within = to.clock > from.clock ? clamp((done - from.clock) / (to.clock - from.clock), 0, 1) : 1;
  const round = (value: number) => Math.round(value * 10) / 10;
  return { seconds: round(done), waitedSeconds: round(from.waited + (to.waited - from.waited) * within) };
}

/**
 * Every look a wait can take until the deadline `timeoutSeconds`, when no check takes time (the most
 * looks: time spent checking only brings the deadline sooner): the bound on one wait loop's history.
 */
export function looksUntil(learned: readonly LearnedUpdate[], timeoutSeconds: number): number {
  let plan = firstLook(learned);
  let looks = 1;
  while (plan.waitedSeconds + plan.nextSeconds < timeoutSeconds) {
    const at = plan.waitedSeconds + plan.nextSeconds;
    plan = afterLook(plan, at);
    looks++;
  }
  return looks;
}
