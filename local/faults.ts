/**
 * Knobs that make the local AWS behave like a slow, busy or failing one.
 * Mutable at run time, so a test can change them between steps.
 */
export interface Faults {
  /** Seconds an UpdateEnvironment keeps the environment Updating (Health Grey) before it settles. */
  ebUpdateSeconds: number;
  /** Seconds a new environment stays Launching before it is Ready. */
  ebLaunchSeconds: number;
  /** Seconds CreateApplicationVersion with Process=true stays Processing. */
  ebVersionProcessingSeconds: number;
  /**
   * Image references (or parts of them: a repository, `repo:tag`, a digest) whose deployment fails:
   * the environment settles Ready with Health Red, HealthStatus Severe and ERROR events.
   */
  failingImages: string[];
  /** Environments that are busy (Updating, an abortable operation in progress) until this many seconds from now. */
  busyEnvironments: Record<string, number>;
  /** Share (0–1) of Elastic Beanstalk and ECR read calls answered with a Throttling error. */
  throttleRate: number;
  /** How many of the next ECR push events are lost (EventBridge delivery is best effort). */
  dropEcrEvents: number;
  /** Multiplier for Step Functions Wait states and retry intervals (1 = real time). */
  waitScale: number;
  /**
   * Functions (by key, e.g. deployStage) whose next N invocations run to the end but are reported as
   * `Sandbox.Timedout`: a Lambda cut off after its side effect, so the state machine retries a step that already acted.
   */
  lambdaTimeouts: Record<string, number>;
  /**
   * PutEvents accepts entries whose source is `aws.*`, so a test can replay a delivery EventBridge
   * made (a late or repeated ECR push event). AWS refuses them (NotAuthorizedForSourceException).
   */
  replayAwsEvents: boolean;
}

/** Real-time behaviour, as in the demo: updates take seconds, nothing fails on its own. */
export const demoFaults: Faults = {
  ebUpdateSeconds: 6,
  ebLaunchSeconds: 0,
  ebVersionProcessingSeconds: 1,
  failingImages: [],
  busyEnvironments: {},
  throttleRate: 0,
  dropEcrEvents: 0,
  waitScale: 0.2,
  lambdaTimeouts: {},
  replayAwsEvents: false,
};

/** Fast settings for tests. */
export const testFaults: Faults = {
  ebUpdateSeconds: 0.3,
  ebLaunchSeconds: 0,
  ebVersionProcessingSeconds: 0.05,
  failingImages: [],
  busyEnvironments: {},
  throttleRate: 0,
  dropEcrEvents: 0,
  waitScale: 0.01,
  lambdaTimeouts: {},
  replayAwsEvents: true,
};
