/**
 * `serverless package` of serverless.yml, offline and without AWS credentials, and what the generated
 * CloudFormation must say: the state machine is the statemachine/ file, the ECR rule matches the
 * configured repositories only, IAM is least privilege per function, the buckets are hardened.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { zipEntryModes } from '../../shared/bundle/zip.ts';
import { readCompiledDocument } from '../../shared/config/compiled.ts';
import { validateConfigFile } from '../../shared/config/validate.ts';
import { auditKey } from '../../shared/audit.ts';

const root = resolve(import.meta.dirname, '..', '..');
const stage = 'test';
const region = 'eu-west-1';
const fixtureConfig = 'test/deploy/fixtures/greenlight-install.yml';
/** Where packaging writes the compiled greenlight.yml (shared/config/compile.ts), relative to the project. */
const compiledConfigFile = '.greenlight/greenlight.yml.compiled.json';

type Json = any;
interface Packaged {
  dir: string;
  template: Json;
  resources: Record<string, Json>;
  ms: number;
}

/** Runs `serverless package` into a temporary folder with an environment that can reach neither AWS nor the network. */
async function runPackage(configFile?: string, cwd = root): Promise<{ dir: string; code: number | null; output: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'greenlight-package-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    SLS_DEPRECATION_DISABLE: '*',
    CI: '1',
    AWS_ACCESS_KEY_ID: 'AKIAPACKAGETEST00000',
    AWS_SECRET_ACCESS_KEY: 'package-test-dummy-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    npm_config_offline: 'true',
    ...(configFile ? { GREENLIGHT_CONFIG: configFile } : {}),
  };
  const started = Date.now();
  const { code, output } = await new Promise<{ code: number | null; output: string }>((done, fail) => {
    const child = spawn('npx', ['--no', 'serverless', 'package', '--stage', stage, '--region', region, '--package', dir], { cwd, env });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
  return { dir, code, output, ms: Date.now() - started };
}

/**
 * A copy of the project (its node_modules linked, not copied) for a second `serverless package` at the
 * same time: serverless-esbuild builds in <project>/.esbuild, which two packagings of one folder cannot share.
 */
function projectCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'greenlight-project-'));
  const skipped = new Set(['node_modules', '.git', '.esbuild', '.serverless', 'dist']);
  cpSync(root, copy, { recursive: true, filter: (source) => !skipped.has(relative(root, source).split(sep)[0]!) });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

/** Packages the service and reads the CloudFormation template it wrote. */
async function packageService(configFile?: string, cwd = root): Promise<Packaged> {
  const { dir, code, output, ms } = await runPackage(configFile, cwd);
  if (code !== 0) throw new Error(`serverless package exited with ${code}:\n${output}`);
  const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  return { dir, template, resources: template.Resources, ms };
}

const ofType = (resources: Record<string, Json>, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every identity-policy statement in the template, with where it lives. */
function iamStatements(resources: Record<string, Json>): Array<{ where: string; statement: Json }> {
  const found: Array<{ where: string; statement: Json }> = [];
  for (const [id, resource] of Object.entries(resources)) {
    const documents =
      resource.Type === 'AWS::IAM::Role'
        ? (resource.Properties.Policies ?? []).map((p: Json) => p.PolicyDocument)
        : ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy'].includes(resource.Type)
          ? [resource.Properties.PolicyDocument]
          : [];
    for (const document of documents) for (const statement of asArray(document.Statement)) found.push({ where: id, statement });
  }
  return found;
}

/** Actions of a role: its inline policies plus the managed policies of this template it attaches. */
function roleActions(resources: Record<string, Json>, roleId: string): string[] {
  const role = resources[roleId];
  const documents = [
    ...(role.Properties.Policies ?? []).map((p: Json) => p.PolicyDocument),
    ...(role.Properties.ManagedPolicyArns ?? []).map((ref: Json) => resources[ref.Ref].Properties.PolicyDocument),
  ];
  return [...new Set(documents.flatMap((d: Json) => asArray(d.Statement)).filter((s: Json) => s.Effect === 'Allow').flatMap((s: Json) => asArray(s.Action)))].sort();
}

/**
 * Actions AWS only authorises on Resource "*" (no resource-level permissions in the IAM Service
 * Authorization Reference). Nothing else may be granted on "*".
 */
const resourceStarRequired = new Set([
  // X-Ray, for Lambda active tracing and the state machine's tracing
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  // CloudWatch Logs vended-log delivery, for the state machine's logging (serverless-step-functions)
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  // Describe calls Elastic Beanstalk makes with the caller's credentials during UpdateEnvironment
  'autoscaling:DescribeAutoScalingGroups',
  'autoscaling:DescribeAutoScalingInstances',
  'autoscaling:DescribeScalingActivities',
  'autoscaling:DescribeLaunchConfigurations',
  'autoscaling:DescribeScheduledActions',
  'ec2:DescribeInstances',
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeImages',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSubnets',
  'ec2:DescribeVpcs',
  'ec2:DescribeLaunchTemplates',
  'ec2:DescribeLaunchTemplateVersions',
  'elasticloadbalancing:DescribeLoadBalancers',
  'elasticloadbalancing:DescribeInstanceHealth',
  'elasticloadbalancing:DescribeTargetGroups',
  'elasticloadbalancing:DescribeTargetHealth',
  // Step Functions task-token calls (the approval API): authorised by the token, no resource type
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  // CloudTrail event history (who pushed an image): LookupEvents has no resource type
  'cloudtrail:LookupEvents',
]);

/** What each handler calls (read from shared/*.ts), and so exactly what its role may do. */
const logAndTrace = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
const beanstalkAsCaller = [
  'autoscaling:DescribeAutoScalingGroups',
  'autoscaling:DescribeAutoScalingInstances',
  'autoscaling:DescribeLaunchConfigurations',
  'autoscaling:DescribeScalingActivities',
  'autoscaling:DescribeScheduledActions',
  'autoscaling:PutNotificationConfiguration',
  'autoscaling:ResumeProcesses',
  'autoscaling:SuspendProcesses',
  'autoscaling:UpdateAutoScalingGroup',
  'cloudformation:CancelUpdateStack',
  'cloudformation:DescribeStackEvents',
  'cloudformation:DescribeStackResource',
  'cloudformation:DescribeStackResources',
  'cloudformation:DescribeStacks',
  'cloudformation:GetTemplate',
  'cloudformation:ListStackResources',
  'cloudformation:UpdateStack',
  'ec2:DescribeImages',
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeInstances',
  'ec2:DescribeLaunchTemplateVersions',
  'ec2:DescribeLaunchTemplates',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSubnets',
  'ec2:DescribeVpcs',
  'elasticloadbalancing:DeregisterInstancesWithLoadBalancer',
  'elasticloadbalancing:DeregisterTargets',
  'elasticloadbalancing:DescribeInstanceHealth',
  'elasticloadbalancing:DescribeLoadBalancers',
  'elasticloadbalancing:DescribeTargetGroups',
  'elasticloadbalancing:DescribeTargetHealth',
  'elasticloadbalancing:RegisterInstancesWithLoadBalancer',
  'elasticloadbalancing:RegisterTargets',
  's3:GetBucketLocation',
  's3:GetBucketPolicy',
  's3:GetObject',
  's3:GetObjectAcl',
  's3:GetObjectVersion',
  's3:ListBucket',
  's3:PutObject',
  's3:PutObjectAcl',
];
const expectedActions: Record<string, string[]> = {
  onImagePushed: ['states:StartExecution', 'sqs:SendMessage', 's3:PutObject'],
  requestApproval: ['s3:PutObject', 's3:GetObject', 's3:ListBucket', 'elasticbeanstalk:DescribeEnvironments', 'sns:Publish', 'cloudtrail:LookupEvents'],
  approvalApi: ['s3:GetObject', 's3:DeleteObject', 's3:ListBucket', 'states:SendTaskSuccess', 'states:SendTaskFailure', 'cloudtrail:LookupEvents'],
  resolvePlan: ['ecr:DescribeImages', 'ecr:DescribeRepositories'],
  renderBundle: [
    'ecr:DescribeImages',
    'ecr:DescribeRepositories',
    'elasticbeanstalk:DescribeApplicationVersions',
    'elasticbeanstalk:DescribeEnvironments',
    's3:GetObject',
    's3:ListBucket',
    's3:PutObject',
  ],
  createVersion: [
    'elasticbeanstalk:CreateApplicationVersion',
    'elasticbeanstalk:DescribeApplicationVersions',
    'elasticbeanstalk:DescribeEvents',
    's3:GetObject',
    's3:GetObjectVersion',
  ],
  checkVersion: ['elasticbeanstalk:DescribeApplicationVersions', 'elasticbeanstalk:DescribeEvents'],
  acquireEnvironment: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'],
  releaseEnvironment: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'],
  deployStage: ['ecr:DescribeImages', 'elasticbeanstalk:DescribeEnvironments', 'elasticbeanstalk:UpdateEnvironment', 's3:GetObject', 's3:PutObject', 's3:ListBucket', ...beanstalkAsCaller],
  checkHealth: ['elasticbeanstalk:DescribeEnvironmentHealth', 'elasticbeanstalk:DescribeEnvironments', 'elasticbeanstalk:DescribeEvents'],
  rollBack: ['elasticbeanstalk:AbortEnvironmentUpdate', 'elasticbeanstalk:DescribeEnvironments', 'elasticbeanstalk:UpdateEnvironment', 's3:GetObject', 's3:PutObject', 's3:ListBucket', ...beanstalkAsCaller],
  recordAudit: ['s3:PutObject', 's3:GetObject', 's3:ListBucket', 'states:GetExecutionHistory', 'elasticbeanstalk:DescribeEvents', 'sns:Publish'],
  reconcile: ['ecr:DescribeImages', 'states:DescribeExecution', 'states:StartExecution'],
};

/** `{ Fn::Join: ['', [...]] }` with the pseudo parameters written out, for readable assertions. */
function render(value: Json): string {
  if (typeof value === 'string') return value;
  if (value?.Ref) return `<${value.Ref}>`;
  if (value?.['Fn::GetAtt']) return `<${value['Fn::GetAtt'].join('.')}>`;
  if (value?.['Fn::Join']) return value['Fn::Join'][1].map(render).join(value['Fn::Join'][0]);
  return JSON.stringify(value);
}

const configured = parse(readFileSync(resolve(root, 'greenlight.yml'), 'utf8'));
const configuredRepositories = [...new Set(Object.values<Json>(configured.applications).flatMap((app) => app.images))].sort();
const fixture = parse(readFileSync(resolve(root, fixtureConfig), 'utf8'));
/** The configured applications and their environments' names, as greenlight-vars.cjs reads them. */
const scopeOf = (config: Json) => ({
  applications: Object.keys(config.applications).sort(),
  environments: [...new Set(Object.values<Json>(config.applications).flatMap((app) => app.stages.map((s: Json) => s.environment)))].sort() as string[],
});

/** Statements of one policy (managed, or the inline policies of a role) by Sid. */
function statementBySid(resources: Record<string, Json>, id: string, sid: string): Json {
  const resource = resources[id];
  const documents = resource.Type === 'AWS::IAM::Role' ? resource.Properties.Policies.map((p: Json) => p.PolicyDocument) : [resource.Properties.PolicyDocument];
  const found = documents.flatMap((d: Json) => asArray(d.Statement)).filter((s: Json) => s.Sid === sid);
  expect(found, `${id} ${sid}`).toHaveLength(1);
  return found[0];
}

/** Whether a policy resource (an ARN, a pattern or an intrinsic) can name the approval function. */
const reachesApprovalFunction = (resource: Json) => {
  const text = render(resource);
  return text === '*' || text.includes('ApprovalApiLambdaFunction') || text.includes(`greenlight-${stage}-approvalApi`) || /:function:\*|:function:greenlight-\*/.test(text);
};

let main: Packaged;
let custom: Packaged;
let copy: string | undefined;

beforeAll(async () => {
  // At once, the second in a copy of the project (both would build in the project's .esbuild folder).
  copy = projectCopy();
  [main, custom] = await Promise.all([packageService(), packageService(fixtureConfig, copy)]);
  console.info(`serverless package: ${main.ms} ms (greenlight.yml), ${custom.ms} ms (${fixtureConfig})`);
}, 300_000);

afterAll(() => {
  for (const run of [main, custom]) if (run) rmSync(run.dir, { recursive: true, force: true });
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe('serverless package', () => {
  it('bundles every function with esbuild for nodejs22.x on arm64, JSON logs, active tracing', () => {
    const functions = ofType(main.resources, 'AWS::Lambda::Function');
    expect(functions.map(([id]) => id).sort()).toEqual(Object.keys(expectedActions).map((key) => `${key[0]!.toUpperCase()}${key.slice(1)}LambdaFunction`).sort());
    for (const [id, fn] of functions) {
      expect(fn.Properties.Runtime, id).toBe('nodejs22.x');
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      expect(fn.Properties.LoggingConfig, id).toEqual({ LogFormat: 'JSON' });
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(fn.Properties.Environment.Variables).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'greenlight', GREENLIGHT_CONFIG_FILE: compiledConfigFile });
      expect(fn.Properties.MemorySize).toBeGreaterThanOrEqual(256);
    }
  });

  it('ships the compiled configuration (the validator\'s output, not the YAML) and the bundle templates inside each package, next to the bundled handler', () => {
    const zip = unzipSync(readFileSync(join(main.dir, 'renderBundle.zip')));
    const files = Object.keys(zip);
    expect(files).toContain(compiledConfigFile);
    expect(files).not.toContain('greenlight.yml');
    expect(files).toContain('functions/render-bundle/handler.js');
    expect(files).toContain('examples/bundles/hello-api/Dockerrun.aws.json');
    expect(files.some((file) => file.includes('node_modules/@aws-sdk'))).toBe(false);
    // What the function reads is exactly what the validator accepted.
    const shipped = readCompiledDocument(resolve(root, compiledConfigFile), JSON.parse(new TextDecoder().decode(zip[compiledConfigFile]!)));
    expect(shipped.config).toEqual(validateConfigFile(resolve(root, 'greenlight.yml')).config);
  });

  it('ships RE2, semver and YAML in node_modules of the functions that require them on demand, and in no other', () => {
    const onDemand: Record<string, string[]> = { resolvePlan: ['re2js', 'semver'], renderBundle: ['re2js', 'semver', 'yaml'] };
    for (const zip of readdirSync(main.dir).filter((file) => file.endsWith('.zip'))) {
      const files = Object.keys(unzipSync(readFileSync(join(main.dir, zip))));
      const shipped = ['re2js', 'semver', 'yaml'].filter((name) => files.includes(`node_modules/${name}/package.json`));
      expect(shipped, zip).toEqual(onDemand[zip.replace(/\.zip$/, '')] ?? []);
    }
  });

  it('ships no source map and does not ask Node for one (cold-start time; names kept in the minified code instead)', () => {
    for (const [id, fn] of ofType(main.resources, 'AWS::Lambda::Function')) {
      expect(String(fn.Properties.Environment.Variables.NODE_OPTIONS ?? ''), id).not.toContain('--enable-source-maps');
    }
    const zips = readdirSync(main.dir).filter((file) => file.endsWith('.zip'));
    expect(zips).toHaveLength(Object.keys(expectedActions).length);
    for (const zip of zips) {
      const files = Object.keys(unzipSync(readFileSync(join(main.dir, zip))));
      expect(files.filter((file) => file.endsWith('/handler.js')), zip).toHaveLength(1);
      expect(files.filter((file) => file.endsWith('.map')), zip).toEqual([]);
    }
  });

  it('uses the statemachine/ file as the definition, with each Lambda reference filled in by the framework', () => {
    const machine = main.resources.DeployPipeline;
    const [text, substitutions] = machine.Properties.DefinitionString['Fn::Sub'] as [string, Record<string, Json>];
    const keyOfLogicalId = Object.fromEntries(
      ofType(main.resources, 'AWS::Lambda::Function').map(([id, fn]) => [id, String(fn.Properties.FunctionName).replace(`greenlight-${stage}-`, '')]),
    );
    const resolved = text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      const [logicalId, attribute] = substitutions[name]['Fn::GetAtt'];
      expect(attribute).toBe('Arn');
      return `lambda:${keyOfLogicalId[logicalId]}`;
    });
    const file = parse(readFileSync(resolve(root, 'statemachine/deploy-pipeline.asl.yml'), 'utf8'));
    const withNames = (value: Json): Json => {
      if (Array.isArray(value)) return value.map(withNames);
      if (!value || typeof value !== 'object') return value;
      if (value['Fn::GetAtt']) return `lambda:${value['Fn::GetAtt'][0]}`;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withNames(v)]));
    };
    // validate: true runs asl-validator, which writes the default QueryLanguage (JSONPath) into every
    // state: the same meaning, so it is set aside here (the file leaves it implicit).
    const withoutDefaultQueryLanguage = (value: Json): Json => {
      if (Array.isArray(value)) return value.map(withoutDefaultQueryLanguage);
      if (!value || typeof value !== 'object') return value;
      return Object.fromEntries(
        Object.entries(value).filter(([k, v]) => !(k === 'QueryLanguage' && v === 'JSONPath')).map(([k, v]) => [k, withoutDefaultQueryLanguage(v)]),
      );
    };
    expect(withoutDefaultQueryLanguage(JSON.parse(resolved))).toEqual(withNames(file));
    expect(machine.Properties.StateMachineType).toBe('STANDARD');
    expect(machine.Properties.StateMachineName).toBe(`greenlight-${stage}-deploy-pipeline`);
    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.Properties.LoggingConfiguration).toEqual({
      Level: 'ALL',
      IncludeExecutionData: false,
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['DeployPipelineLogGroup', 'Arn'] } } }],
    });
  });

  it('gives every Lambda a timeout shorter than the TimeoutSeconds of the Task states that call it', () => {
    const tasks: Array<[string, number]> = [];
    const visit = (value: Json): void => {
      if (!value || typeof value !== 'object') return;
      if (value.Type === 'Task' && value.Resource?.['Fn::GetAtt']) tasks.push([value.Resource['Fn::GetAtt'][0], value.TimeoutSeconds]);
      for (const child of Object.values(value)) visit(child);
    };
    visit(parse(readFileSync(resolve(root, 'statemachine/deploy-pipeline.asl.yml'), 'utf8')));
    expect(tasks.length).toBeGreaterThan(5);
    for (const [key, seconds] of tasks) {
      const fn = main.resources[`${key[0]!.toUpperCase()}${key.slice(1)}LambdaFunction`];
      expect(seconds, `${key}: Task without TimeoutSeconds`).toBeTypeOf('number');
      expect(fn.Properties.Timeout, key).toBeLessThan(seconds);
    }
  });

  it('starts deployments on ECR PUSH/SUCCESS of the configured repositories only, with a dead-letter queue and an alarm on it', () => {
    const rules = ofType(main.resources, 'AWS::Events::Rule').map(([, rule]) => rule.Properties);
    const ecr = rules.find((rule) => rule.Name === `greenlight-${stage}-ecr-push`);
    expect(ecr.EventPattern).toEqual({
      source: ['aws.ecr'],
      'detail-type': ['ECR Image Action'],
      detail: { 'action-type': ['PUSH'], result: ['SUCCESS'], 'repository-name': configuredRepositories },
    });
    expect(ecr.State).toBe('ENABLED');
    expect(ecr.Targets).toHaveLength(1);
    expect(ecr.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['OnImagePushedLambdaFunction', 'Arn'] });
    expect(ecr.Targets[0].DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': ['PushEventsDeadLetterQueue', 'Arn'] } });

    // The queue accepts only this stage's rules; the function's failed invocations go there too.
    const policy = main.resources.PushEventsDeadLetterQueuePolicy.Properties.PolicyDocument.Statement[0];
    expect(policy.Principal).toEqual({ Service: 'events.amazonaws.com' });
    expect(policy.Condition.ArnEquals['aws:SourceArn'].map(render)).toEqual(
      rules.map((rule) => `arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/${rule.Name}`),
    );
    expect(main.resources.OnImagePushedLambdaEvConf.Properties.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': ['PushEventsDeadLetterQueue', 'Arn'] });

    const alarm = main.resources.PushEventsDeadLetterAlarm.Properties;
    expect(alarm).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(alarm.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['PushEventsDeadLetterQueue', 'QueueName'] } }]);
    expect(alarm.AlarmActions).toEqual([{ Ref: 'NotificationTopic' }]);
    expect(main.resources.NotificationTopic.Type).toBe('AWS::SNS::Topic');
  });

  it('declares the CloudTrail PutImage rule, enabled only when install.cloudTrailRule is set', () => {
    const name = `greenlight-${stage}-cloudtrail-putimage`;
    const disabled = ofType(custom.resources, 'AWS::Events::Rule').map(([, r]) => r.Properties).find((r) => r.Name === name);
    expect(disabled.State).toBe('DISABLED');
    const enabled = ofType(main.resources, 'AWS::Events::Rule').map(([, r]) => r.Properties).find((r) => r.Name === name);
    expect(enabled.State).toBe('ENABLED');
    expect(enabled.EventPattern).toEqual({
      source: ['aws.ecr'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['ecr.amazonaws.com'],
        eventName: ['PutImage'],
        errorCode: [{ exists: false }],
        requestParameters: { repositoryName: configuredRepositories },
      },
    });
    expect(enabled.Targets[0].DeadLetterConfig).toBeDefined();
  });

  it('grants no wildcard actions, and Resource "*" only for actions AWS authorises on nothing else, commented in serverless.yml', () => {
    const yml = readFileSync(resolve(root, 'serverless.yml'), 'utf8').split('\n');
    const statements = [...iamStatements(main.resources), ...iamStatements(custom.resources)];
    expect(statements.length).toBeGreaterThan(20);
    for (const { where, statement } of statements) {
      expect(statement.Effect, where).toBe('Allow');
      for (const action of asArray<string>(statement.Action)) expect(action, `${where} ${statement.Sid ?? ''}`).not.toContain('*');
      // Each resource is an ARN or one intrinsic function: a list inside the list is a malformed policy.
      for (const resource of asArray(statement.Resource)) expect(typeof resource === 'string' || (!!resource && !Array.isArray(resource) && typeof resource === 'object'), `${where} ${statement.Sid ?? ''}`).toBe(true);
      if (!asArray(statement.Resource).includes('*')) continue;
      expect(asArray(statement.Resource), `${where}: "*" mixed with other resources`).toEqual(['*']);
      for (const action of asArray<string>(statement.Action)) expect(resourceStarRequired.has(action), `${where} ${action} on "*"`).toBe(true);
      if (statement.Sid) {
        // Our own statements: the comment saying why sits just above the Sid in serverless.yml.
        const line = yml.findIndex((text) => text.includes(`Sid: ${statement.Sid}`));
        expect(line, statement.Sid).toBeGreaterThan(0);
        expect(yml.slice(Math.max(0, line - 4), line).join('\n'), statement.Sid).toMatch(/Resource "\*" required/);
      } else {
        // serverless-step-functions writes these (logs delivery, X-Ray); serverless.yml comments them.
        expect(where).toBe('DeployPipelineRole');
        expect(yml.join('\n')).toMatch(/Resource "\*" for the CloudWatch Logs\s+# delivery actions/);
      }
    }
  });

  it('gives every function its own role with only the actions its handler calls', () => {
    expect(main.resources.IamRoleLambdaExecution).toBeUndefined();
    const roles = new Set<string>();
    for (const [key, actions] of Object.entries(expectedActions)) {
      const id = `${key[0]!.toUpperCase()}${key.slice(1)}`;
      const fn = main.resources[`${id}LambdaFunction`];
      const [roleId, attribute] = fn.Properties.Role['Fn::GetAtt'];
      expect(attribute).toBe('Arn');
      expect(roles.has(roleId), `${key} shares ${roleId}`).toBe(false);
      roles.add(roleId);
      const role = main.resources[roleId];
      expect(role.Type).toBe('AWS::IAM::Role');
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
      expect(roleActions(main.resources, roleId), key).toEqual([...new Set([...logAndTrace, ...actions])].sort());
      // Logs only into its own log group.
      const logs = role.Properties.Policies[0].PolicyDocument.Statement.find((s: Json) => s.Sid === 'OwnLogs');
      expect(logs.Resource).toEqual({ 'Fn::GetAtt': [`${id}LogGroup`, 'Arn'] });
    }
  });

  it('scopes the pipeline roles to the configured applications, environments, repositories, buckets and state machine', () => {
    const statementsOf = (roleId: string) => main.resources[roleId].Properties.Policies[0].PolicyDocument.Statement as Json[];
    const resourcesOf = (roleId: string, sid: string) => asArray(statementsOf(roleId).find((s) => s.Sid === sid).Resource).map(render);
    const arn = (service: string, resource: string) => `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}`;

    expect(resourcesOf('OnImagePushedRole', 'StartDeployments')).toEqual(['<DeployPipeline>']);
    expect(resourcesOf('ResolvePlanRole', 'VerifyPushedImage')).toEqual(configuredRepositories.map((r) => arn('ecr', `repository/${r}`)));
    expect(resourcesOf('RecordAuditRole', 'WriteAuditRecords')).toEqual(['<AuditBucket.Arn>/deployments/*', '<AuditBucket.Arn>/index/*']);
    expect(resourcesOf('RecordAuditRole', 'ReadOwnRecordAfterLostRace')).toEqual(['<AuditBucket.Arn>/deployments/*']);
    expect(resourcesOf('RecordAuditRole', 'TimelineOfTheExecution')).toEqual([arn('states', 'execution:greenlight-test-deploy-pipeline:*')]);
    expect(resourcesOf('RenderBundleRole', 'StoreBundles')).toEqual(['<BundleBucket.Arn>/bundles/*', '<BundleBucket.Arn>/releases/*']);
    // The environment ledgers (leases, claims) are reachable only by the steps that serialise deployments.
    expect(resourcesOf('AcquireEnvironmentRole', 'EnvironmentLedger')).toEqual(['<BundleBucket.Arn>/environments/*']);
    expect(resourcesOf('ReleaseEnvironmentRole', 'EnvironmentLedger')).toEqual(['<BundleBucket.Arn>/environments/*']);
    expect(resourcesOf('DeployStageRole', 'LedgerAndBundleBytes')).toEqual(['<BundleBucket.Arn>/environments/*']);
    expect(resourcesOf('RollBackRole', 'Ledger')).toEqual(['<BundleBucket.Arn>/environments/*']);
    expect(resourcesOf('RecordAuditRole', 'ReadTheRelease')).toEqual(['<BundleBucket.Arn>/releases/*']);
    const applications = Object.keys(configured.applications).sort();
    const environments = Object.entries<Json>(configured.applications).flatMap(([app, spec]) => spec.stages.map((s: Json) => arn('elasticbeanstalk', `environment/${app}/${s.environment}`)));
    expect(resourcesOf('DeployStageRole', 'DeployToConfiguredEnvironments')).toEqual([
      ...applications.map((app) => arn('elasticbeanstalk', `application/${app}`)),
      ...applications.map((app) => arn('elasticbeanstalk', `applicationversion/${app}/*`)),
      ...environments,
    ]);
    // The fixture configuration changes the scope with it.
    const fixtureEnvironments = asArray(
      custom.resources.DeployStageRole.Properties.Policies[0].PolicyDocument.Statement.find((s: Json) => s.Sid === 'DeployToConfiguredEnvironments').Resource,
    ).map(render);
    expect(fixtureEnvironments).toEqual([
      arn('elasticbeanstalk', 'application/resources'),
      arn('elasticbeanstalk', 'application/shop'),
      arn('elasticbeanstalk', 'applicationversion/resources/*'),
      arn('elasticbeanstalk', 'applicationversion/shop/*'),
      arn('elasticbeanstalk', 'environment/shop/shop-dev'),
      arn('elasticbeanstalk', 'environment/shop/shop-prod'),
      arn('elasticbeanstalk', 'environment/resources/resources-live'),
    ]);
  });

  it('hardens both buckets: encryption, no public access, versioning, TLS only; audit records under Object Lock', () => {
    for (const id of ['BundleBucket', 'AuditBucket']) {
      const bucket = main.resources[id];
      expect(bucket.DeletionPolicy, id).toBe('Retain');
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, id).toMatch(/^(AES256|aws:kms)$/);
      expect(bucket.Properties.PublicAccessBlockConfiguration, id).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket.Properties.VersioningConfiguration, id).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties.OwnershipControls, id).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
      const [policyId, policy] = ofType(main.resources, 'AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id)!;
      const tls = policy.Properties.PolicyDocument.Statement.find((s: Json) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
      expect(tls, policyId).toMatchObject({ Effect: 'Deny', Principal: '*', Action: 's3:*' });
      expect(tls.Resource.map(render)).toEqual([`<${id}.Arn>`, `<${id}.Arn>/*`]);
    }
    const audit = main.resources.AuditBucket.Properties;
    expect(audit.ObjectLockEnabled).toBe(true);
    expect(audit.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Years: 7 } } });
    expect(custom.resources.AuditBucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention).toEqual({ Mode: 'COMPLIANCE', Years: 10 });
  });

  it('keeps at most install.maxVersions application versions per configured application', () => {
    const schedules = (run: Packaged) =>
      ofType(run.resources, 'AWS::Scheduler::Schedule')
        .filter(([id]) => id.startsWith('VersionLifecycle'))
        .map(([, s]) => {
            const input = JSON.parse(render(s.Properties.Target.Input));
            expect(render(s.Properties.Target.Arn)).toBe('arn:<AWS::Partition>:scheduler:::aws-sdk:elasticbeanstalk:updateApplicationResourceLifecycle');
            expect(s.Properties.Target.RoleArn).toEqual({ 'Fn::GetAtt': ['VersionLifecycleSchedulerRole', 'Arn'] });
            return input;
          });
    const main_ = schedules(main);
    expect(main_.map((i) => i.ApplicationName).sort()).toEqual(Object.keys(configured.applications).sort());
    for (const input of main_) {
      expect(input.ResourceLifecycleConfig).toEqual({
        ServiceRole: '<VersionLifecycleServiceRole.Arn>',
        VersionLifecycleConfig: { MaxCountRule: { Enabled: true, MaxCount: 200, DeleteSourceFromS3: true }, MaxAgeRule: { Enabled: false } },
      });
    }
    expect(schedules(custom).map((i) => [i.ApplicationName, i.ResourceLifecycleConfig.VersionLifecycleConfig.MaxCountRule.MaxCount])).toEqual([
      ['resources', 50],
      ['shop', 50],
    ]);
    expect(main.resources.VersionLifecycleServiceRole.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'elasticbeanstalk.amazonaws.com' });
  });

  it('runs the reconciler on EventBridge Scheduler every install.reconciler.every, with a role that may only invoke it', () => {
    const reconcileSchedules = (run: Packaged) => ofType(run.resources, 'AWS::Scheduler::Schedule').filter(([id]) => !id.startsWith('VersionLifecycle'));
    const [[, schedule]] = reconcileSchedules(main) as [[string, Json]];
    expect(reconcileSchedules(main)).toHaveLength(1);
    expect(schedule.Properties).toMatchObject({
      Name: `greenlight-${stage}-reconcile`,
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: { Arn: { 'Fn::GetAtt': ['ReconcileLambdaFunction', 'Arn'] }, RoleArn: { 'Fn::GetAtt': ['ReconcileSchedulerRole', 'Arn'] } },
    });
    expect(reconcileSchedules(custom).map(([, s]) => s.Properties.ScheduleExpression)).toEqual(['rate(1 hour)']);

    const schedulerRole = main.resources.ReconcileSchedulerRole.Properties;
    expect(schedulerRole.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'scheduler.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } },
    ]);
    expect(schedulerRole.Policies.flatMap((p: Json) => asArray(p.PolicyDocument.Statement))).toEqual([
      { Sid: 'InvokeReconciler', Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: { 'Fn::GetAtt': ['ReconcileLambdaFunction', 'Arn'] } },
    ]);

    const fn = main.resources.ReconcileLambdaFunction.Properties;
    expect(fn.Environment.Variables.STATE_MACHINE_ARN).toEqual({ Ref: 'DeployPipeline' });
    // A failed run is left to the next one, whose window covers the same pushes.
    expect(main.resources.ReconcileLambdaEvConf.Properties.MaximumRetryAttempts).toBe(0);
  });

  it('lets the reconciler read only the configured repositories and this stage\'s executions, and start only this pipeline', () => {
    const statements = main.resources.ReconcileRole.Properties.Policies[0].PolicyDocument.Statement as Json[];
    const resourcesOf = (sid: string) => asArray(statements.find((s) => s.Sid === sid).Resource).map(render);
    expect(resourcesOf('ListRecentPushes')).toEqual(configuredRepositories.map((r) => `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${r}`));
    expect(resourcesOf('FindHandledPushes')).toEqual([`arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:greenlight-${stage}-deploy-pipeline:*`]);
    expect(main.resources.DeployPipeline.Properties.StateMachineName).toBe(`greenlight-${stage}-deploy-pipeline`);
    expect(resourcesOf('StartMissedPushes')).toEqual(['<DeployPipeline>']);
  });

  it('alarms when an audit record could not be written and when a deployment ended unverified', () => {
    const audit = main.resources.AuditWriteFailedAlarm.Properties;
    expect(audit).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Threshold: 1, AlarmActions: [{ Ref: 'NotificationTopic' }] });
    expect(audit.Dimensions).toEqual([{ Name: 'FunctionName', Value: { Ref: 'RecordAuditLambdaFunction' } }]);
    const filter = main.resources.UnverifiedDeploymentMetric.Properties;
    expect(filter.LogGroupName).toEqual({ Ref: 'RecordAuditLogGroup' });
    expect(filter.FilterPattern).toBe('{ $.outcome = "unverified" }');
    const metric = filter.MetricTransformations[0];
    expect(main.resources.UnverifiedDeploymentAlarm.Properties).toMatchObject({ Namespace: metric.MetricNamespace, MetricName: metric.MetricName, AlarmActions: [{ Ref: 'NotificationTopic' }] });
  });

  it('notifies every outcome: recordAudit publishes to the notification topic and nowhere else', () => {
    expect(main.resources.RecordAuditLambdaFunction.Properties.Environment.Variables.NOTIFICATION_TOPIC_ARN).toEqual({ Ref: 'NotificationTopic' });
    expect(statementBySid(main.resources, 'RecordAuditRole', 'NotifyOutcome')).toEqual({ Sid: 'NotifyOutcome', Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'NotificationTopic' } });
    const publishers = iamStatements(main.resources).filter(({ statement }) => asArray<string>(statement.Action).includes('sns:Publish'));
    expect(publishers.map(({ where, statement }) => [where, render(statement.Resource)]).sort()).toEqual([
      ['RecordAuditRole', '<NotificationTopic>'],
      ['RequestApprovalRole', '<NotificationTopic>'],
    ]);
  });

  it('defines the audit records as an Athena table: Ion SerDe (pretty-printed JSON), a projected day partition over deployments/YYYY/MM/DD/', () => {
    const table = main.resources.AuditTable.Properties;
    expect(table.DatabaseName).toEqual({ Ref: 'AuditDatabase' });
    expect(main.resources.AuditDatabase.Properties.DatabaseInput.Name).toBe(`greenlight_${stage}`);
    const input = table.TableInput;
    expect(input).toMatchObject({ Name: 'deployments', TableType: 'EXTERNAL_TABLE', PartitionKeys: [{ Name: 'day', Type: 'string' }] });
    expect(render(input.StorageDescriptor.Location)).toBe('s3://<AuditBucket>/deployments/');
    expect(input.StorageDescriptor).toMatchObject({
      InputFormat: 'com.amazon.ionhiveserde.formats.IonInputFormat',
      OutputFormat: 'com.amazon.ionhiveserde.formats.IonOutputFormat',
      SerdeInfo: { SerializationLibrary: 'com.amazon.ionhiveserde.IonHiveSerDe' },
    });
    const { 'storage.location.template': template, ...projection } = input.Parameters;
    // The day's prefix is where auditKey (shared/audit.ts) writes the records started that day.
    const day = '$' + '{day}';
    expect(render(template)).toBe(`s3://<AuditBucket>/deployments/${day}/`);
    const record = { startedAt: '2025-03-31T23:59:59.999Z', deploymentId: 'hello-api-v1-0-0-0123456789abcdef' };
    expect(`s3://<AuditBucket>/${auditKey(record)}`).toBe(`${render(template).replace(day, '2025/03/31')}${record.deploymentId}.json`);
    expect(projection).toEqual({
      EXTERNAL: 'TRUE',
      'projection.enabled': 'true',
      'projection.day.type': 'date',
      'projection.day.format': 'yyyy/MM/dd',
      'projection.day.range': '2024/01/01,NOW',
      'projection.day.interval': '1',
      'projection.day.interval.unit': 'DAYS',
    });
  });

  it('keeps Athena results out of the audit bucket: an enforced workgroup writing to a hardened bucket that forgets them', () => {
    const workgroup = main.resources.AuditWorkGroup.Properties;
    expect(workgroup.Name).toBe(`greenlight-${stage}-audit`);
    expect(workgroup.WorkGroupConfiguration).toMatchObject({ EnforceWorkGroupConfiguration: true, ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } } });
    expect(render(workgroup.WorkGroupConfiguration.ResultConfiguration.OutputLocation)).toBe('s3://<AthenaResultsBucket>/results/');
    const results = main.resources.AthenaResultsBucket.Properties;
    expect(results.ObjectLockEnabled).toBeUndefined();
    expect(results.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(results.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(results.LifecycleConfiguration.Rules).toContainEqual(expect.objectContaining({ Status: 'Enabled', ExpirationInDays: 30 }));
    const tls = main.resources.AthenaResultsBucketPolicy.Properties.PolicyDocument.Statement[0];
    expect(tls).toMatchObject({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });

    // Auditors read the records and nothing else of the audit bucket, and write only query results.
    const reader = main.resources.AuditReaderPolicy.Properties.PolicyDocument.Statement as Json[];
    const onAudit = reader.filter((s) => asArray(s.Resource).some((r: Json) => render(r).startsWith('<AuditBucket.Arn>')));
    expect(onAudit.map((s) => [s.Sid, s.Action, asArray(s.Resource).map(render), s.Condition ?? null])).toEqual([
      ['ReadTheAuditRecords', ['s3:GetObject'], ['<AuditBucket.Arn>/deployments/*'], null],
      ['ListTheAuditRecords', ['s3:ListBucket'], ['<AuditBucket.Arn>'], { StringLike: { 's3:prefix': ['deployments/*'] } }],
      ['LocateTheAuditBucket', ['s3:GetBucketLocation'], ['<AuditBucket.Arn>'], null],
    ]);
    const writes = reader.filter((s) => asArray<string>(s.Action).some((a) => /^s3:(Put|Delete)/.test(a)));
    expect(writes.flatMap((s) => asArray(s.Resource).map(render))).toEqual(['<AthenaResultsBucket.Arn>', '<AthenaResultsBucket.Arn>/*']);
    expect(asArray(statementBySid(main.resources, 'AuditReaderPolicy', 'QueryInTheAuditWorkGroup').Resource).map(render)).toEqual([
      `arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/greenlight-${stage}-audit`,
    ]);
    expect(main.template.Outputs.AuditReaderPolicyArn.Value).toEqual({ Ref: 'AuditReaderPolicy' });
  });

  it('applies the install settings to log retention', () => {
    expect(main.resources.ResolvePlanLogGroup.Properties.RetentionInDays).toBe(90);
    expect(custom.resources.ResolvePlanLogGroup.Properties.RetentionInDays).toBe(30);
    expect(custom.resources.DeployPipelineLogGroup.Properties.RetentionInDays).toBe(30);
  });
  it('outputs an approver policy with exactly what calling the approval URL needs, InvokeFunction only through the URL', () => {
    for (const run of [main, custom]) {
      const policy = run.resources.ApproverPolicy;
      expect(policy.Type).toBe('AWS::IAM::ManagedPolicy');
      const fn = { 'Fn::GetAtt': ['ApprovalApiLambdaFunction', 'Arn'] };
      expect(policy.Properties.PolicyDocument.Statement).toEqual([
        {
          Sid: 'CallTheApprovalUrl',
          Effect: 'Allow',
          Action: ['lambda:InvokeFunctionUrl'],
          Resource: fn,
          Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        },
        {
          Sid: 'InvokeOnlyThroughTheUrl',
          Effect: 'Allow',
          Action: ['lambda:InvokeFunction'],
          Resource: fn,
          Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
        },
      ]);
      // The URL the policy is for: the same function, unqualified, IAM-authenticated.
      expect(run.resources.ApprovalApiLambdaFunctionUrl.Properties).toMatchObject({ AuthType: 'AWS_IAM', TargetFunctionArn: fn });
      expect(run.template.Outputs.ApproverPolicyArn.Value).toEqual({ Ref: 'ApproverPolicy' });
      // Attached by approvers' admins, never to a role of this stack.
      for (const [id, role] of ofType(run.resources, 'AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns ?? [], id).not.toContainEqual({ Ref: 'ApproverPolicy' });
    }
  });

  it('lets no principal invoke the approval function except through its IAM-authenticated URL', () => {
    for (const run of [main, custom]) {
      // Resource-based policy: osls writes none for an AWS_IAM URL; any statement added later must
      // keep to the URL path (and never name every principal).
      const permissions = ofType(run.resources, 'AWS::Lambda::Permission').filter(([, p]) => reachesApprovalFunction(p.Properties.FunctionName));
      for (const [id, { Properties: permission }] of permissions) {
        expect(permission.Principal, id).not.toBe('*');
        expect(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'], id).toContain(permission.Action);
        if (permission.Action === 'lambda:InvokeFunction') expect(permission.InvokedViaFunctionUrl, id).toBe(true);
        else expect(permission.FunctionUrlAuthType, id).toBe('AWS_IAM');
      }
      // Identity policies of this template: whoever may invoke the approval function (by its ARN, a
      // pattern or "*") does so only through the URL. The state machine never calls it.
      const invokers = iamStatements(run.resources).filter(
        ({ statement }) =>
          statement.Effect === 'Allow' &&
          asArray<string>(statement.Action).some((a) => ['lambda:InvokeFunction', 'lambda:Invoke*', 'lambda:*', '*'].includes(a)) &&
          asArray(statement.Resource).some(reachesApprovalFunction),
      );
      expect(invokers.map(({ where, statement }) => `${where} ${statement.Sid}`)).toEqual(['ApproverPolicy InvokeOnlyThroughTheUrl']);
      expect(invokers[0]!.statement.Condition).toEqual({ Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } });
    }
  });

  it('lets the approval API read pusher records but never delete or overwrite one', () => {
    const pushers = '<ApprovalsBucket.Arn>/pushers/*';
    const statements = main.resources.ApprovalApiRole.Properties.Policies.flatMap((p: Json) => asArray(p.PolicyDocument.Statement));
    const onPushers = statements.filter((s: Json) => asArray(s.Resource).some((r: Json) => ['*', '<ApprovalsBucket.Arn>/*', pushers].includes(render(r))));
    expect(onPushers.flatMap((s: Json) => asArray<string>(s.Action)).filter((a: string) => a.startsWith('s3:'))).toEqual(['s3:GetObject']);
    // The one writer of pusher records may only create them (S3 refuses an If-None-Match put on an existing key).
    const remember = statementBySid(main.resources, 'OnImagePushedRole', 'RememberPushers');
    expect([remember.Action, render(remember.Resource), remember.Condition]).toEqual([['s3:PutObject'], pushers, { StringEquals: { 's3:if-none-match': '*' } }]);
    const writers = iamStatements(main.resources).filter(
      ({ statement }) => asArray<string>(statement.Action).some((a) => /^s3:(Put|Delete)/.test(a)) && asArray(statement.Resource).some((r: Json) => render(r).startsWith('<ApprovalsBucket.Arn>/pushers/')),
    );
    expect(writers.map(({ where, statement }) => `${where} ${statement.Sid}`)).toEqual(['OnImagePushedRole RememberPushers']);
    // Decided approvals are still forgotten.
    expect(asArray(statementBySid(main.resources, 'ApprovalApiRole', 'PendingApprovals').Resource).map(render)).toEqual(['<ApprovalsBucket.Arn>/pending/*']);
    expect(statementBySid(main.resources, 'ApprovalApiRole', 'PendingApprovals').Action).toEqual(['s3:GetObject', 's3:DeleteObject']);
    // Who pushed, from CloudTrail's event history, for the API and the notification.
    for (const role of ['ApprovalApiRole', 'RequestApprovalRole']) {
      expect(statementBySid(main.resources, role, 'FindThePusherResourceStarRequired')).toEqual({
        Sid: 'FindThePusherResourceStarRequired',
        Effect: 'Allow',
        Action: ['cloudtrail:LookupEvents'],
        Resource: '*',
      });
    }
  });

  it('limits what Elastic Beanstalk does with the deploying roles to the configured environments and applications', () => {
    const bucket = 'arn:<AWS::Partition>:s3:::elasticbeanstalk-<AWS::Region>-<AWS::AccountId>';
    for (const [run, config] of [
      [main, configured],
      [custom, fixture],
    ] as const) {
      const { applications, environments } = scopeOf(config);
      const tagged = { StringEquals: { 'aws:ResourceTag/elasticbeanstalk:environment-name': environments } };
      for (const sid of ['EnvironmentStacks', 'EnvironmentAutoScalingGroups', 'EnvironmentLoadBalancers']) {
        const statement = statementBySid(run.resources, 'BeanstalkActsAsCallerPolicy', sid);
        expect(statement.Condition, sid).toEqual(tagged);
        for (const resource of asArray(statement.Resource)) expect(render(resource), sid).toMatch(/:(stack|autoScalingGroup:\*:autoScalingGroupName|loadbalancer|targetgroup)\/awseb-\*$/);
      }
      // Every statement that changes a resource is scoped by tag or by a key of a configured application.
      const document = run.resources.BeanstalkActsAsCallerPolicy.Properties.PolicyDocument.Statement as Json[];
      expect(document.filter((s) => !s.Condition).map((s) => s.Sid)).toEqual(['DescribeEnvironmentResourcesResourceStarRequired', 'BeanstalkStorageBucket', 'BeanstalkStorageReads', 'BeanstalkStorageWrites', 'SourceBundles']);
      // Writes in EB's shared bucket: the environments' copies of the configured applications' versions
      // and the deployment manifests; nothing bucket-wide.
      const writes = document.filter((s) => asArray<string>(s.Action).some((a) => /^s3:(Put|Delete)/.test(a)));
      expect(writes.map((s) => s.Sid)).toEqual(['BeanstalkStorageWrites']);
      expect(asArray(writes[0].Resource).map(render)).toEqual([
        ...applications.map((app) => `${bucket}/resources/environments/*/_runtime/_versions/${app}/*`),
        `${bucket}/resources/environments/*/_runtime/versions/manifest_*`,
      ]);
      expect(asArray(statementBySid(run.resources, 'BeanstalkActsAsCallerPolicy', 'SourceBundles').Resource).map(render)).toEqual(
        applications.map((app) => `<BundleBucket.Arn>/bundles/${app}/*`),
      );
    }
    expect(scopeOf(fixture).environments).toEqual(['resources-live', 'shop-dev', 'shop-prod']);
  });

  it('lets the version lifecycle delete only bundles of the configured applications', () => {
    const bucket = 'arn:<AWS::Partition>:s3:::elasticbeanstalk-<AWS::Region>-<AWS::AccountId>';
    for (const [run, config] of [
      [main, configured],
      [custom, fixture],
    ] as const) {
      const { applications } = scopeOf(config);
      const statements = run.resources.VersionLifecycleServiceRole.Properties.Policies.flatMap((p: Json) => asArray(p.PolicyDocument.Statement));
      const deletes = statements.filter((s: Json) => asArray<string>(s.Action).some((a) => a.startsWith('s3:')));
      expect(deletes.map((s: Json) => [s.Sid, s.Action])).toEqual([['DeleteTheirBundles', ['s3:DeleteObject']]]);
      // An application named `resources` would make its EB-bucket prefix EB's runtime folder.
      expect(asArray(deletes[0].Resource).map(render)).toEqual([
        ...applications.map((app) => `<BundleBucket.Arn>/bundles/${app}/*`),
        ...applications.filter((app) => app !== 'resources').map((app) => `${bucket}/${app}/*`),
      ]);
      for (const resource of asArray(deletes[0].Resource).map(render)) expect(resource).not.toMatch(/elasticbeanstalk-[^/]*\/(resources\/|\*)/);
    }
    expect(scopeOf(fixture).applications).toEqual(['resources', 'shop']);
  });
  it('refuses, when packaging, an application name IAM would read as a wildcard', () => {
    const vars = createRequire(import.meta.url)(resolve(root, 'deploy/greenlight-vars.cjs')) as () => Json;
    const before = process.env.GREENLIGHT_CONFIG;
    try {
      process.env.GREENLIGHT_CONFIG = 'test/deploy/fixtures/greenlight-wildcard-name.yml';
      expect(vars).toThrow(/applications\.shop\*: application name "shop\*" contains \* or \?/);
      process.env.GREENLIGHT_CONFIG = fixtureConfig;
      expect(vars().applications).toEqual(['resources', 'shop']);
    } finally {
      if (before === undefined) delete process.env.GREENLIGHT_CONFIG;
      else process.env.GREENLIGHT_CONFIG = before;
    }
  });

  it('fails on an invalid configuration, naming every problem with its path, before anything is packaged', async () => {
    const { dir, code, output } = await runPackage('test/deploy/fixtures/greenlight-invalid.yml');
    try {
      expect(code).not.toBe(0);
      for (const [path, problem] of [
        ['applications.shop.helth', 'helth is not a setting here'],
        ['applications.shop.stages.1.environment', 'shop-dev is an earlier stage of this application'],
        ['applications.shop.bundle.dockerrun', 'cannot read the Dockerrun template'],
        ['applications.shop.stages.0.tags.1', 'is not a regular expression greenlight can match in linear time'],
        ['applications.shop.health.timeout', 'a duration must be positive'],
        ['install.logRetentionDays', 'CloudWatch Logs keeps logs for one of'],
      ]) {
        expect(output).toContain(`${path}: `);
        expect(output).toContain(problem);
      }
      // Variables are resolved before anything is built: no template, no function package.
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('ships the files of bundle.include with the functions, executable hooks still executable', () => {
    const zip = readFileSync(join(main.dir, 'renderBundle.zip'));
    const files = Object.keys(unzipSync(zip));
    expect(files).toContain('examples/dockdj/.platform/hooks/predeploy/01-migrate.sh');
    expect(files).toContain('examples/dockdj/proxy/conf.d/default.conf');
    expect(zipEntryModes(zip)['examples/dockdj/.platform/hooks/predeploy/01-migrate.sh']! & 0o111).not.toBe(0);
  });
});
