import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AwsServiceError } from './protocol/types.ts';

/** How long things take locally: Elastic Beanstalk's operations and Step Functions' waits. */
export interface Timings {
  /** Seconds an UpdateEnvironment keeps the environment Updating (Health Grey) before it settles. */
  ebUpdateSeconds: number;
  /** Seconds a new environment stays Launching before it is Ready. */
  ebLaunchSeconds: number;
  /** Seconds CreateApplicationVersion with Process=true stays Processing. */
  ebVersionProcessingSeconds: number;
  /** Multiplier for Step Functions Wait states and retry intervals (1 = real time). */
  waitScale: number;
}

/** What goes wrong on purpose: failing images, busy environments, throttling, lost events, Lambda timeouts. */
export interface FaultKnobs {
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

/**
 * Knobs that make the local AWS behave like a slow, busy or failing one: timings and faults.
 * Mutable at run time (the services read them at each call), so a test or a person can change them between steps.
 */
export interface Faults extends Timings, FaultKnobs {}

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

/**
 * A private copy of base settings with overrides on top: nothing nested (failingImages,
 * busyEnvironments, …) is shared with the caller or with another endpoint in the same process.
 */
export function copyFaults(base: Faults, overrides: Partial<Faults> = {}): Faults {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  return structuredClone({ ...base, ...defined });
}

const seconds = z.number().min(0).max(7 * 86400);
/** A change to the knobs, as a person writes it (a `--faults` file, the admin route): only known keys, checked values. */
export const FaultsChange = z.strictObject({
  ebUpdateSeconds: seconds.optional(),
  ebLaunchSeconds: seconds.optional(),
  ebVersionProcessingSeconds: seconds.optional(),
  waitScale: z.number().positive().max(100).optional(),
  failingImages: z.array(z.string().trim().min(1)).optional(),
  busyEnvironments: z.record(z.string().min(1), seconds).optional(),
  throttleRate: z.number().min(0).max(1).optional(),
  dropEcrEvents: z.number().int().min(0).optional(),
  lambdaTimeouts: z.record(z.string().min(1), z.number().int().min(0)).optional(),
  replayAwsEvents: z.boolean().optional(),
});
export type FaultsChange = z.infer<typeof FaultsChange>;

/** A change that cannot be applied, naming every wrong key and value. */
export class FaultsError extends Error {
  override readonly name = 'FaultsError';
}

/** Checks a change to the knobs; throws FaultsError naming each problem (`where`: the file or route it came from). */
export function parseFaultsChange(value: unknown, where: string): FaultsChange {
  const parsed = FaultsChange.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') return `unknown knob${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (known: ${Object.keys(FaultsChange.shape).join(', ')})`;
    return `${path || '(top level)'}: ${issue.message}`;
  });
  throw new FaultsError(`${where}: ${problems.join('; ')}`);
}

/** Reads a `--faults` YAML (or JSON) file of knobs. */
export function readFaultsFile(path: string): FaultsChange {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new FaultsError(`${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new FaultsError(`${path}: not YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  return parseFaultsChange(value, path);
}

/**
 * Applies a change in place (the services hold this very object): scalars and failingImages are
 * replaced, busyEnvironments and lambdaTimeouts merged key by key.
 */
export function applyFaults(target: Faults, change: FaultsChange): Faults {
  const { busyEnvironments, lambdaTimeouts, failingImages, ...scalars } = change;
  Object.assign(target, Object.fromEntries(Object.entries(scalars).filter(([, value]) => value !== undefined)));
  if (failingImages) target.failingImages = [...failingImages];
  if (busyEnvironments) Object.assign(target.busyEnvironments, busyEnvironments);
  if (lambdaTimeouts) Object.assign(target.lambdaTimeouts, lambdaTimeouts);
  return target;
}

/** Each service's throttling error code (EB answers over Query, ECR over JSON). */
const THROTTLING_CODES = { elasticbeanstalk: 'Throttling', ecr: 'ThrottlingException' } as const;
export type ThrottledService = keyof typeof THROTTLING_CODES;

/**
 * The one place the services ask what goes wrong and how long things take. Created once per endpoint
 * over its knobs; the admin route, `--faults` and the CLI flags change those knobs (in place), and the
 * injector reads them at each question, so a change applies to the next call.
 */
export class FaultInjector {
  constructor(private readonly knobs: Faults) {}

  /** How long things take now (read at each use: a change applies to the next operation). */
  get timings(): Readonly<Timings> {
    return this.knobs;
  }

  /** Throws the service's throttling error at throttleRate; call it first, so a throttled write changes nothing. */
  throttle(service: ThrottledService): void {
    if (this.knobs.throttleRate > 0 && Math.random() < this.knobs.throttleRate) throw new AwsServiceError(THROTTLING_CODES[service], 'Rate exceeded');
  }

  /** Whether deploying this image reference fails (a failing image names it, or part of it). */
  failingImage(reference: string): boolean {
    return this.knobs.failingImages.some((failing) => failing !== '' && reference.includes(failing));
  }

  /** A failing `repo:tag` fails the digest pushed under it (deployments name digests, not tags). */
  imagePushed(repositoryAndTag: string, digest: string): void {
    const failing = this.knobs.failingImages;
    if (failing.includes(repositoryAndTag) && !failing.includes(digest)) failing.push(digest);
  }

  /** Whether this ECR push event is lost (counts dropEcrEvents down). */
  dropEvent(): boolean {
    if (this.knobs.dropEcrEvents <= 0) return false;
    this.knobs.dropEcrEvents -= 1;
    return true;
  }

  /** Seconds an environment is to be busy for, taken once (the busyEnvironments knob), if any. */
  takeBusy(environment: string): number | undefined {
    const seconds = this.knobs.busyEnvironments[environment];
    if (seconds !== undefined) delete this.knobs.busyEnvironments[environment];
    return seconds;
  }

  /** Whether this invocation of a function (its key, or a name ending in `-key`) times out after running; counted down per key. */
  lambdaTimesOut(functionName: string): boolean {
    const timeouts = this.knobs.lambdaTimeouts;
    const key = Object.keys(timeouts).find((k) => functionName === k || functionName.endsWith(`-${k}`));
    if (key === undefined || (timeouts[key] ?? 0) <= 0) return false;
    timeouts[key] = (timeouts[key] ?? 0) - 1;
    return true;
  }

  /** Whether PutEvents takes `aws.*` sources (replayAwsEvents). */
  acceptsAwsEvents(): boolean {
    return this.knobs.replayAwsEvents;
  }
}
