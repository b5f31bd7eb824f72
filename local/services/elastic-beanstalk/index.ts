import { randomUUID } from 'node:crypto';
import type { ApplicationVersion, EbEvent, EbState, EnvironmentSnapshot } from './lifecycle.ts';
import { invalidValue } from './lifecycle.ts';
import { EbWire } from './wire.ts';

export { type BundleInspection, bundleImages, inspectBundle } from './bundle-inspection.ts';
export { EB_MESSAGES, type EbEvent, type EbState, type EnvironmentSnapshot, type EventSeverity } from './lifecycle.ts';

/**
 * Elastic Beanstalk, locally: applications, versions (with bundle processing from the local S3),
 * environments whose launches and updates take time and settle lazily from timestamps, an event stream,
 * and enhanced health; failing images and busy environments come from the fault injector.
 */
export class LocalElasticBeanstalk extends EbWire {
  // ---- in-process API -------------------------------------------------------------------------

  /** Registers an application version (seeding); with `process` the bundle is checked as CreateApplicationVersion Process=true does. */
  async createApplicationVersion(application: string, label: string, options: { bucket?: string; key?: string; process?: boolean; description?: string } = {}): Promise<void> {
    await this.addVersion(application, label, {
      ...(options.bucket && options.key ? { sourceBundle: { S3Bucket: options.bucket, S3Key: options.key } } : {}),
      process: options.process ?? false,
      ...(options.description ? { description: options.description } : {}),
    });
  }

  /** Creates an environment (seeding); it is Launching for `faults.ebLaunchSeconds` (and until its bundle is read), then Ready. */
  createEnvironment(
    application: string,
    name: string,
    options: { versionLabel?: string; solutionStackName?: string; cnamePrefix?: string; enhancedHealth?: boolean } = {},
  ): EnvironmentSnapshot {
    return this.describe(this.launch(application, name, { ...options, requestId: randomUUID() }));
  }

  /** The environment by name as DescribeEnvironments would show it now (the live one, else the last terminated), if any. */
  environment(name: string): EnvironmentSnapshot | undefined {
    const env = this.active(name) ?? this.environments.filter((e) => e.name === name).at(-1);
    return env ? this.describe(env) : undefined;
  }

  /** The events of one environment, oldest first. */
  events(name: string): EbEvent[] {
    for (const env of this.environments) this.refresh(env);
    return this.eventLog.filter((e) => e.EnvironmentName === name);
  }

  /** An application version as stored (its source bundle), if it exists. */
  storedVersion(application: string, label: string): ApplicationVersion | undefined {
    return this.applications.get(application)?.versions.get(label);
  }

  /** Makes an environment busy with someone else's update (Updating, abortable) for `seconds` from now. */
  makeBusy(name: string, seconds: number): void {
    const env = this.active(name);
    if (!env) throw invalidValue(`No Environment found for EnvironmentName = '${name}'.`);
    this.busy(this.refresh(env), seconds);
  }

  hasApplication(name: string): boolean {
    return this.applications.has(name);
  }

  /** Applications, versions, environments (with any operation in flight) and events, to keep across a restart (`--data`). */
  snapshot(): EbState {
    return structuredClone({
      applications: [...this.applications.values()].map(({ versions, ...application }) => ({ ...application, versions: [...versions.values()] })),
      environments: this.environments,
      events: this.eventLog,
      seq: this.seq,
    });
  }

  /** Takes back what snapshot() gave; an operation whose bundle was still being read reads it again. */
  restore(state: EbState): void {
    const kept = structuredClone(state);
    for (const { versions, ...application } of kept.applications) this.applications.set(application.name, { ...application, versions: new Map(versions.map((v) => [v.label, v])) });
    this.environments.push(...kept.environments);
    this.eventLog.push(...kept.events);
    this.seq = Math.max(this.seq, kept.seq);
    for (const env of this.environments) {
      const operation = env.operation;
      if (!operation || operation.inspection || (operation.kind !== 'launch' && operation.kind !== 'update')) continue;
      const label = operation.versionLabel ?? env.versionLabel;
      const version = label === undefined ? undefined : this.applications.get(env.application)?.versions.get(label);
      void this.inspectVersion(version).then((inspection) => {
        operation.inspection = inspection;
      });
    }
  }
}
