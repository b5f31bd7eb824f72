import { relative, resolve } from 'node:path';
import { loadConfig } from '../shared/config/load.ts';
import type { GreenlightConfig } from '../shared/config/schema.ts';
import type { ConfigFinding } from '../shared/config/validate.ts';
import type { Faults } from './faults.ts';
import { type LocalAws, startLocalAws } from './server.ts';
import { lifecycleFromInput } from './services/elastic-beanstalk/version-lifecycle.ts';
import { type ManifestFunction, type ServerlessManifest, readServerlessManifest } from './serverless-manifest.ts';
import { projectRoot } from './project-root.ts';

/** The project folder: serverless.yml, functions/, statemachine/ (in local/project-root.ts, light enough for the CLI to import). */
export { projectRoot };

export interface GreenlightLocalOptions {
  /** The greenlight configuration file (default greenlight.yml in the project). */
  readonly configPath?: string;
  readonly port?: number;
  readonly faults?: Partial<Faults>;
  /** Powertools log level for the handlers (SILENT keeps the terminal for the progress view). */
  readonly lambdaLogLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /**
   * Run the `schedule` events of serverless.yml (the reconciler) on their period times `waitScale`.
   * Off unless asked: tests and the demo seed images "pushed before greenlight" by dropping their
   * events, which a running reconciler would deploy; they invoke it on demand instead.
   */
  readonly schedules?: boolean;
  /** Keep the state in this folder and take it back on the next start (`greenlight local --data`). */
  readonly dataDir?: string;
  /** Finished executions the endpoint keeps; older finished ones are dropped (default 1,000). */
  readonly keepExecutions?: number;
}

/** The local pipeline: the endpoint, plus what `serverless deploy` would have created in AWS. */
export interface GreenlightLocal {
  readonly aws: LocalAws;
  readonly endpoint: string;
  readonly config: GreenlightConfig;
  readonly configPath: string;
  /** What the configuration validator warned about (unreachable stages, mounts of nothing). */
  readonly warnings: readonly ConfigFinding[];
  readonly stateMachineArn: string;
  readonly bundleBucket: string;
  readonly auditBucket: string;
  readonly approvalsBucket: string;
  readonly topicArn: string;
  /** The approval API's function URL (GREENLIGHT_APPROVAL_URL), when serverless.yml declares one. */
  readonly approvalUrl?: string;
  readonly manifest: ServerlessManifest;
  close(): Promise<void>;
}

const stage = 'local';

/**
 * Starts the local endpoint and installs greenlight into it the way serverless.yml installs it
 * into AWS: buckets, topic, functions with their environment, the state machine and the event rule;
 * then creates the configured applications, environments and repositories.
 */
export async function startGreenlightLocal(options: GreenlightLocalOptions = {}): Promise<GreenlightLocal> {
  const configPath = resolve(options.configPath ?? resolve(projectRoot, 'greenlight.yml'));
  // The one validator, before anything starts: a configuration with problems names them all here.
  const { config, warnings = [] } = loadConfig(configPath);
  const aws = await startLocalAws({
    port: options.port ?? 0,
    projectRoot,
    faults: options.faults,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.keepExecutions === undefined ? {} : { keepExecutions: options.keepExecutions }),
  });
  try {
    const bundleBucket = `greenlight-${stage}-bundles`;
    const auditBucket = `greenlight-${stage}-audit`;
    await aws.s3.createBucket(bundleBucket);
    await aws.s3.createBucket(auditBucket);
    const approvalsBucket = `greenlight-${stage}-approvals`;
    await aws.s3.createBucket(approvalsBucket);
    const topicArn = aws.sns.createTopic(`greenlight-${stage}-notifications`);
    const stateMachineName = `greenlight-${stage}-deploy-pipeline`;
    const stateMachineArn = `arn:aws:states:${aws.region}:${aws.accountId}:stateMachine:${stateMachineName}`;

    // serverless.yml reads the configuration path from GREENLIGHT_CONFIG, relative to the project.
    process.env.GREENLIGHT_CONFIG = relative(projectRoot, configPath);
    const manifest = readServerlessManifest(projectRoot, {
      stage,
      region: aws.region,
      accountId: aws.accountId,
      refs: {
        BundleBucket: bundleBucket,
        AuditBucket: auditBucket,
        ApprovalsBucket: approvalsBucket,
        DeployPipeline: stateMachineArn,
        NotificationTopic: topicArn,
        'AWS::Partition': 'aws',
        'VersionLifecycleServiceRole.Arn': `arn:aws:iam::${aws.accountId}:role/greenlight-${stage}-version-lifecycle`,
      },
    });

    // What the Lambda runtime gives every function: region, credentials, the task root, and here the endpoint.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_REGION: aws.region,
      AWS_DEFAULT_REGION: aws.region,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LAMBDA_TASK_ROOT: projectRoot,
    });
    for (const fn of manifest.functions) {
      for (const [name, value] of Object.entries(fn.environment)) process.env[name] = value;
      aws.lambda.register({ name: fn.name, handler: fn.handler, timeoutSeconds: fn.timeoutSeconds, memorySize: fn.memorySize, ...(fn.url ? { url: fn.url } : {}) });
      for (const [index, pattern] of fn.eventPatterns.entries()) {
        aws.bus.addRule({
          name: `${fn.key}-rule-${index + 1}`,
          pattern,
          target: async (event) => {
            const result = await aws.lambda.invoke(fn.name, event);
            if (!result.ok) throw new Error(`${result.error.errorType}: ${result.error.errorMessage}`);
            return result.payload;
          },
        });
      }
    }
    process.env.POWERTOOLS_LOG_LEVEL = options.lambdaLogLevel ?? 'SILENT';

    const machine = manifest.stateMachines.find((m) => m.id === 'DeployPipeline');
    if (!machine) throw new Error('serverless.yml declares no state machine with id DeployPipeline');
    aws.sfn.createStateMachine(stateMachineName, JSON.stringify(machine.definition), `arn:aws:iam::${aws.accountId}:role/greenlight-${stage}-deploy-pipeline`);

    for (const [application, app] of Object.entries(config.applications)) {
      // With --data they may exist from the last run: create only what is missing.
      if (!aws.eb.hasApplication(application)) aws.eb.createApplication(application);
      for (const { environment } of app.stages) {
        const existing = aws.eb.environment(environment);
        if (!existing || existing.Status === 'Terminated') aws.eb.createEnvironment(application, environment);
      }
      for (const repository of app.images) if (!aws.ecr.hasRepository(repository)) aws.ecr.createRepository(repository);
    }
    // The application version lifecycle, as the stack's schedules set it (their first run, at once): EB
    // then keeps install.maxVersions versions per application, so the 1,000-version quota is never reached.
    for (const input of manifest.versionLifecycles) {
      aws.eb.updateResourceLifecycle(String(input.ApplicationName), lifecycleFromInput(input.ResourceLifecycleConfig));
    }

    const schedules = options.schedules ? runSchedules(aws, manifest.functions) : undefined;
    const urlFunction = manifest.functions.find((fn) => fn.url);
    return {
      aws,
      endpoint: aws.endpoint,
      approvalsBucket,
      ...(urlFunction ? { approvalUrl: `${aws.endpoint}/_lambda-url/${urlFunction.name}` } : {}),
      config,
      configPath,
      warnings,
      stateMachineArn,
      bundleBucket,
      auditBucket,
      topicArn,
      manifest,
      close: async () => {
        await schedules?.stop();
        await aws.close();
      },
    };
  } catch (error) {
    await aws.close();
    throw error;
  }
}

/**
 * Invokes each scheduled function on its period, as EventBridge Scheduler would, scaled by
 * `faults.waitScale` (read before every wait, so a test can change it). The next wait starts when a
 * run ends, so runs never pile up on a slow machine; timers do not keep the process alive.
 */
function runSchedules(aws: LocalAws, functions: ManifestFunction[]): { stop(): Promise<void> } {
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<unknown>>();
  let stopped = false;
  const every = (fn: ManifestFunction, periodSeconds: number) => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      const event = aws.bus.envelope('aws.scheduler', 'Scheduled Event', {}, [`arn:aws:scheduler:${aws.region}:${aws.accountId}:schedule/default/${fn.name}`]);
      // A failed run is what the next one is for (as in AWS, where the function is not retried).
      const run = aws.lambda.invoke(fn.name, event).finally(() => {
        running.delete(run);
        every(fn, periodSeconds);
      });
      running.add(run);
    }, periodSeconds * 1000 * aws.faults.waitScale);
    timer.unref();
    timers.add(timer);
  };
  for (const fn of functions) for (const { periodSeconds } of fn.schedules) every(fn, periodSeconds);
  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.allSettled(running);
    },
  };
}
