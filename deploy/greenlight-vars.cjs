// Values serverless.yml derives from the greenlight configuration file, so that the one file a
// platform engineer edits also decides the event rules, the IAM resources and what is packaged.
// Used as ${file(./deploy/greenlight-vars.cjs)} (then ${self:custom.greenlight.NAME}); the local endpoint
// reads serverless.yml the same way (local/serverless-manifest.ts).
//
// ARNs are built here with Fn::Join and the pseudo parameters AWS::Partition/Region/AccountId, never
// with Fn::Sub "${AWS::Region}" strings: both the framework's and the local endpoint's variable
// resolvers read "${...}" as a variable, and ${aws:accountId} would need credentials at package time.
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { dirname, relative, resolve } = require('node:path');
const { parse } = require('yaml');

/** Installation settings (`install:` in the configuration file) and their defaults. */
const defaults = Object.freeze({
  /** Also start deployments from CloudTrail's PutImage (needs a trail; carries who pushed). */
  cloudTrailRule: false,
  /** Application versions EB keeps per application (lifecycle MaxCountRule); the quota is 1,000 per region. */
  maxVersions: 200,
  /** Audit records: Object Lock mode and retention. COMPLIANCE cannot be shortened by anyone, root included. */
  auditRetention: { mode: 'GOVERNANCE', years: 7 },
  /** CloudWatch Logs retention of the Lambdas and the state machine. */
  logRetentionDays: 90,
  /** The reconciler's period and how far back it looks (ECR events are best effort). */
  reconciler: { every: '5m', window: '1h' },
});

/** `5m`, `1h`, `2d` → seconds (the duration syntax of shared/config/schema.ts), else undefined. */
function durationSeconds(text) {
  const match = /^(\d+)(s|m|h|d)$/.exec(String(text));
  return match ? Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2]] : undefined;
}

/** A period in seconds as a schedule expression: the largest unit it is a whole number of (`rate(1 hour)`). */
function rateExpression(seconds) {
  const [amount, unit] = seconds % 86400 === 0 ? [seconds / 86400, 'day'] : seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : [seconds / 60, 'minute'];
  return `rate(${amount} ${unit}${amount === 1 ? '' : 's'})`;
}

const logRetentionValues = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

function configPath() {
  return resolve(__dirname, '..', process.env.GREENLIGHT_CONFIG || 'greenlight.yml');
}

function readConfig() {
  const path = configPath();
  const config = parse(readFileSync(path, 'utf8'));
  if (!config || typeof config.applications !== 'object') {
    throw new Error(`${path}: no "applications" section (see README, "The configuration file")`);
  }
  return { path, applications: config.applications, install: config.install ?? {} };
}

/** The `install:` section, checked here so a wrong value fails `serverless package`, not a deployment. */
function readInstallSettings(path, install) {
  const problems = [];
  const known = Object.keys(defaults);
  for (const key of Object.keys(install)) if (!known.includes(key)) problems.push(`install.${key} is not a setting (known: ${known.join(', ')})`);
  const settings = {
    ...defaults,
    ...install,
    auditRetention: { ...defaults.auditRetention, ...(install.auditRetention ?? {}) },
    reconciler: { ...defaults.reconciler, ...(install.reconciler ?? {}) },
  };
  if (typeof settings.cloudTrailRule !== 'boolean') problems.push('install.cloudTrailRule must be true or false');
  if (!Number.isInteger(settings.maxVersions) || settings.maxVersions < 2 || settings.maxVersions > 1000) {
    problems.push('install.maxVersions must be a whole number from 2 to 1000 (EB allows 1,000 versions per region, for all applications together)');
  }
  if (!['GOVERNANCE', 'COMPLIANCE'].includes(settings.auditRetention.mode)) problems.push('install.auditRetention.mode must be GOVERNANCE or COMPLIANCE');
  if (!Number.isInteger(settings.auditRetention.years) || settings.auditRetention.years < 1 || settings.auditRetention.years > 100) {
    problems.push('install.auditRetention.years must be a whole number from 1 to 100');
  }
  if (!logRetentionValues.includes(settings.logRetentionDays)) problems.push(`install.logRetentionDays must be one of ${logRetentionValues.join(', ')}`);
  // The same rules as the Reconciler schema in shared/config/schema.ts, which the Lambda applies.
  for (const key of Object.keys(settings.reconciler)) if (!['every', 'window'].includes(key)) problems.push(`install.reconciler.${key} is not a setting (known: every, window)`);
  const every = durationSeconds(settings.reconciler.every);
  const window = durationSeconds(settings.reconciler.window);
  if (every === undefined || every < 60 || every % 60 !== 0) problems.push('install.reconciler.every must be whole minutes, at least 1m (EventBridge Scheduler rates count minutes), e.g. 5m or 1h');
  if (window === undefined || window > 30 * 86400) problems.push('install.reconciler.window must be a duration of at most 30d, e.g. 1h');
  else if (every !== undefined && window < 2 * every) problems.push('install.reconciler.window must be at least twice install.reconciler.every, so a failed run is covered by the next');
  if (problems.length > 0) throw new Error(`${path}:\n  - ${problems.join('\n  - ')}`);
  return { ...settings, reconcileRate: rateExpression(every) };
}

/** arn:<partition>:<service>:<region>:<account>:<resource>, resolved by CloudFormation at deploy time. */
function arn(service, resource, { region = true, account = true } = {}) {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:${service}:`,
        ...(region ? [{ Ref: 'AWS::Region' }] : []),
        ':',
        ...(account ? [{ Ref: 'AWS::AccountId' }] : []),
        `:${resource}`,
      ],
    ],
  };
}

/** An object key pattern in EB's storage bucket, elasticbeanstalk-<region>-<account> (shared by every EB application of the region). */
function ebStorageObjects(key) {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::elasticbeanstalk-', { Ref: 'AWS::Region' }, '-', { Ref: 'AWS::AccountId' }, `/${key}`]] };
}

/** An object key pattern in greenlight's bundle bucket (a resource of this stack). */
function bundleBucketObjects(key) {
  return { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['BundleBucket', 'Arn'] }, `/${key}`]] };
}

/**
 * Application names become parts of IAM resource patterns (S3 prefixes, EB ARNs): a `*` or `?` in one
 * would widen every statement built from it to other applications' resources.
 */
function checkScopableNames(path, appNames) {
  const wide = appNames.filter((name) => /[*?]/.test(name));
  if (wide.length > 0) throw new Error(`${path}: application names ${wide.map((n) => JSON.stringify(n)).join(', ')} contain * or ?, which IAM reads as wildcards (every permission scoped to the application would reach others)`);
}

/**
 * Where, in the shared EB storage bucket, Elastic Beanstalk writes with the caller's credentials during
 * an in-place UpdateEnvironment: its per-environment copy of the version's bundle
 * (resources/environments/<env-id>/_runtime/_versions/<application>/<label>) and the deployment
 * manifest (resources/environments/<env-id>/_runtime/versions/manifest_<time>). Environment ids are
 * EB's (e-…) and unknown when packaging, so the copies are scoped by application; the manifests by
 * their name only.
 */
function ebCallerStorageWrites(appNames) {
  return [
    ...appNames.map((name) => ebStorageObjects(`resources/environments/*/_runtime/_versions/${name}/*`)),
    ebStorageObjects('resources/environments/*/_runtime/versions/manifest_*'),
  ];
}

/** greenlight's bundles of the configured applications (bundles/<application>/<sha256>.zip, shared/naming.ts). */
function applicationBundles(appNames) {
  return appNames.map((name) => bundleBucketObjects(`bundles/${name}/*`));
}

/**
 * The source bundles the version lifecycle may delete: greenlight's own (bundles/<application>/, see
 * shared/naming.ts) and, in EB's storage bucket, those the EB CLI uploaded (<application>/<label>.zip).
 * An application named `resources` gets no EB-bucket prefix: it would be EB's runtime folder of every
 * environment. Bundles the console uploaded lie at the bucket root and are left alone.
 */
function lifecycleDeletableBundles(appNames) {
  return [
    ...applicationBundles(appNames),
    ...appNames.filter((name) => name !== 'resources').map((name) => ebStorageObjects(`${name}/*`)),
  ];
}

/** A CloudFormation logical id for a configured name: letters and digits, unique by a short hash. */
function logicalIdPart(name) {
  const letters = name.replace(/[^A-Za-z0-9]/g, '').slice(0, 40);
  return `${letters}${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/**
 * One EventBridge Scheduler schedule per application that applies the application version lifecycle
 * (UpdateApplicationResourceLifecycle, a universal target: no Lambda code). EB applications exist
 * before greenlight is installed, so CloudFormation cannot own their ResourceLifecycleConfig.
 */
function lifecycleSchedules(applications, settings) {
  const resources = {};
  for (const application of applications) {
    resources[`VersionLifecycle${logicalIdPart(application)}`] = {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        Description: `Keeps at most ${settings.maxVersions} application versions of ${application} (EB lifecycle, source bundles deleted from S3)`,
        ScheduleExpression: 'rate(1 day)',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 60 },
        State: 'ENABLED',
        Target: {
          Arn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:::aws-sdk:elasticbeanstalk:updateApplicationResourceLifecycle']] },
          RoleArn: { 'Fn::GetAtt': ['VersionLifecycleSchedulerRole', 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 86400 },
          Input: {
            'Fn::Join': [
              '',
              [
                `{"ApplicationName":${JSON.stringify(application)},"ResourceLifecycleConfig":{"ServiceRole":"`,
                { 'Fn::GetAtt': ['VersionLifecycleServiceRole', 'Arn'] },
                `","VersionLifecycleConfig":{"MaxCountRule":{"Enabled":true,"MaxCount":${settings.maxVersions},"DeleteSourceFromS3":true},"MaxAgeRule":{"Enabled":false}}}}`,
              ],
            ],
          },
        },
      },
    };
  }
  return resources;
}

module.exports = () => {
  const { path, applications, install } = readConfig();
  const settings = readInstallSettings(path, install);
  const root = resolve(__dirname, '..');
  const appNames = Object.keys(applications).sort();
  checkScopableNames(path, appNames);
  const apps = Object.values(applications);
  const stages = Object.entries(applications).flatMap(([application, app]) => (app.stages || []).map((stage) => ({ application, ...stage })));
  const bundlePaths = apps.flatMap((app) => {
    const bundle = app.bundle || {};
    const base = dirname(path);
    return [bundle.dockerrun, bundle.compose].filter(Boolean).map((p) => relative(root, resolve(base, p)))
      .concat(bundle.ebextensions ? [`${relative(root, resolve(base, bundle.ebextensions))}/**`] : []);
  });
  const repositories = [...new Set(apps.flatMap((app) => app.images || []))].sort();
  const applicationArns = appNames.map((name) => arn('elasticbeanstalk', `application/${name}`));
  const versionArns = appNames.map((name) => arn('elasticbeanstalk', `applicationversion/${name}/*`));
  const environmentArns = stages.map((stage) => arn('elasticbeanstalk', `environment/${stage.application}/${stage.environment}`));
  return {
    configFile: relative(root, path),
    repositories,
    applications: appNames,
    environments: [...new Set(stages.map((stage) => stage.environment))].sort(),
    packagePatterns: [relative(root, path), ...bundlePaths],
    settings,
    // Flat lists, ready for an IAM Resource (a list nested in a list is a malformed policy).
    arns: {
      repositories: repositories.map((name) => arn('ecr', `repository/${name}`)),
      applications: applicationArns,
      /** The applications and their versions (version calls are authorised on both). */
      applicationsAndVersions: [...applicationArns, ...versionArns],
      /** The applications, their versions and the configured environments. */
      beanstalk: [...applicationArns, ...versionArns, ...environmentArns],
      // What Elastic Beanstalk itself creates for an environment (names it chooses, prefixed awseb).
      ebStacks: arn('cloudformation', 'stack/awseb-*'),
      ebAutoScalingGroups: arn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/awseb-*'),
      ebClassicLoadBalancers: arn('elasticloadbalancing', 'loadbalancer/awseb-*'),
      ebTargetGroups: arn('elasticloadbalancing', 'targetgroup/awseb-*'),
      // EB's own storage bucket, elasticbeanstalk-<region>-<account> (it exists once an application does).
      ebStorageBucket: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::elasticbeanstalk-', { Ref: 'AWS::Region' }, '-', { Ref: 'AWS::AccountId' }]] },
      ebStorageObjects: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::elasticbeanstalk-', { Ref: 'AWS::Region' }, '-', { Ref: 'AWS::AccountId' }, '/*']] },
      /** What EB writes in its storage bucket, with the caller's credentials, for the configured applications. */
      ebCallerStorageWrites: ebCallerStorageWrites(appNames),
      /** greenlight's bundles of the configured applications, in its bundle bucket. */
      applicationBundles: applicationBundles(appNames),
      /** The source bundles of the configured applications' versions, which the lifecycle deletes with them. */
      lifecycleDeletableBundles: lifecycleDeletableBundles(appNames),
    },
    lifecycleSchedules: lifecycleSchedules(appNames, settings),
  };
};
