// Values serverless.yml derives from the greenlight configuration file, so that the one file a
// platform engineer edits also decides the event rules, the IAM resources and what is packaged.
// Used as ${file(./deploy/greenlight-vars.cjs)} (then ${self:custom.greenlight.NAME}); the local endpoint
// reads serverless.yml the same way (local/serverless-manifest.ts). The file is read by the one
// validator every other reader uses (scripts/validate-config.ts → shared/config/validate.ts), never
// parsed here with rules of its own; its defaults (install settings) come from the schema too.
//
// ARNs are built here with Fn::Join and the pseudo parameters AWS::Partition/Region/AccountId, never
// with Fn::Sub "${AWS::Region}" strings: both the framework's and the local endpoint's variable
// resolvers read "${...}" as a variable, and ${aws:accountId} would need credentials at package time.
'use strict';
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { relative, resolve } = require('node:path');

/** A period in seconds as a schedule expression: the largest unit it is a whole number of (`rate(1 hour)`). */
function rateExpression(seconds) {
  const [amount, unit] = seconds % 86400 === 0 ? [seconds / 86400, 'day'] : seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : [seconds / 60, 'minute'];
  return `rate(${amount} ${unit}${amount === 1 ? '' : 's'})`;
}

const root = resolve(__dirname, '..');

function configPath() {
  return resolve(root, process.env.GREENLIGHT_CONFIG || 'greenlight.yml');
}

/** The validator's report (shared/config/validation-report.ts), from scripts/validate-config.ts in a child process because this file is CommonJS. */
function reportFromChild(path) {
  let output;
  try {
    output = execFileSync(process.execPath, ['--import', 'tsx', resolve(root, 'scripts/validate-config.ts'), path], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    throw new Error(`${path}: the configuration validator could not run (${error.stderr || error.message})`);
  }
  return JSON.parse(output);
}

/**
 * The configuration as the one validator reads it (the zod schema of shared/config/schema.ts, with
 * every bundle file checked on disk). Any problem fails `serverless package` and `serverless deploy`
 * here, while variables are resolved, before anything is uploaded or changed in AWS; each problem is
 * named with its path. A reader that already runs the validator in its own process (the local
 * endpoint, local/serverless-manifest.ts) passes `validationReport` and spares the child process.
 */
function validatedConfig(path, validationReport) {
  const result = typeof validationReport === 'function' ? validationReport(path) : reportFromChild(path);
  if (result.problems.length > 0) {
    const lines = result.problems.map((problem) => `${problem.path}: ${problem.message}`);
    throw new Error(`${path} is not a valid greenlight configuration (greenlight validate says the same):\n  - ${lines.join('\n  - ')}`);
  }
  for (const warning of result.warnings) process.emitWarning(`${warning.path}: ${warning.message}`, { code: 'GREENLIGHT_CONFIG' });
  return result;
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

// The framework calls this with `{ options, resolveVariable }`; the local endpoint adds `validationReport`.
module.exports = (context) => {
  const path = configPath();
  const result = validatedConfig(path, context?.validationReport);
  // Written by the validator's report (shared/config/compile.ts): the validated configuration as JSON,
  // which is all the functions read, so no Lambda parses YAML or validates at cold start.
  const compiledFile = relative(root, result.compiled.path);
  const { config, settings: validated } = result;
  const { applications } = config;
  const settings = { ...validated, reconcileRate: rateExpression(validated.reconciler.every) };
  const appNames = Object.keys(applications).sort();
  const apps = Object.values(applications);
  const stages = Object.entries(applications).flatMap(([application, app]) => app.stages.map((stage) => ({ application, ...stage })));
  // Every file a bundle is rendered from ships with the functions (the bundle is rendered in a Lambda),
  // listed one by one: the framework's globs would skip dot folders such as .platform/.
  const asPattern = (file) => file.replace(/[*?[\]{}()!+@]/g, '\\$&');
  const bundlePaths = result.bundleSources.map((file) => asPattern(relative(root, file)));
  const repositories = [...new Set(apps.flatMap((app) => app.images || []))].sort();
  const applicationArns = appNames.map((name) => arn('elasticbeanstalk', `application/${name}`));
  const versionArns = appNames.map((name) => arn('elasticbeanstalk', `applicationversion/${name}/*`));
  const environmentArns = stages.map((stage) => arn('elasticbeanstalk', `environment/${stage.application}/${stage.environment}`));
  return {
    // GREENLIGHT_CONFIG_FILE: the compiled configuration, not the YAML (shipped in every package).
    configFile: compiledFile,
    repositories,
    applications: appNames,
    environments: [...new Set(stages.map((stage) => stage.environment))].sort(),
    packagePatterns: [asPattern(compiledFile), ...bundlePaths],
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
