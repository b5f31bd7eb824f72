import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { validationReport } from '../shared/config/validation-report.ts';

/** A function as the local endpoint runs it, read from serverless.yml. */
export interface ManifestFunction {
  readonly key: string;
  /** The deployed name, `<service>-<stage>-<key>`, as the framework names it. */
  readonly name: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly environment: Record<string, string>;
  readonly eventPatterns: Array<Record<string, unknown>>;
  /** A function URL (`url: { authorizer: aws_iam }` in serverless.yml): its auth type. */
  readonly url?: 'aws_iam' | 'none';
  /** Its enabled `schedule` events with a rate expression (EventBridge rule or Scheduler form). */
  readonly schedules: ManifestSchedule[];
}

/** A `schedule` event: the expression as written and its period. */
export interface ManifestSchedule {
  readonly expression: string;
  readonly periodSeconds: number;
}

export interface ServerlessManifest {
  readonly service: string;
  readonly functions: ManifestFunction[];
  readonly stateMachines: Array<{ key: string; id: string; name: string; definition: Record<string, unknown> }>;
  /**
   * The application version lifecycles the stack sets: the input of each EventBridge Scheduler schedule
   * whose universal target is elasticbeanstalk:updateApplicationResourceLifecycle (ApplicationName,
   * ResourceLifecycleConfig), as the SDK call takes it.
   */
  readonly versionLifecycles: Array<Record<string, unknown>>;
}

export interface ManifestOptions {
  readonly stage: string;
  readonly region: string;
  readonly accountId: string;
  /** Values of CloudFormation `Ref`s to resources the local stack created (BundleBucket → a bucket name). */
  readonly refs: Record<string, string>;
}

/** Turns a function key into its Lambda ARN, as `Fn::GetAtt: [key, Arn]` does in AWS. */
type ArnOf = (functionKey: string) => string;

/**
 * Reads serverless.yml as the framework would for the parts the pipeline needs, resolving the
 * variable sources it uses (self, opt, sls, env, aws, file) and the intrinsic functions Ref and
 * Fn::GetAtt, so local runs use the very definition, handlers and patterns that AWS gets.
 */
export function readServerlessManifest(projectRoot: string, options: ManifestOptions): ServerlessManifest {
  const raw = parse(readFileSync(resolve(projectRoot, 'serverless.yml'), 'utf8')) as Record<string, any>;
  const variables = new VariableResolver(projectRoot, raw, options);
  const doc = variables.resolve(raw) as Record<string, any>;
  const service = String(doc.service);
  const functionName = (key: string) => `${service}-${options.stage}-${key}`;
  const arnOf: ArnOf = (key) => {
    if (!doc.functions?.[key]) throw new Error(`serverless.yml: Fn::GetAtt names the function ${key}, which is not declared`);
    return `arn:aws:lambda:${options.region}:${options.accountId}:function:${functionName(key)}`;
  };
  const intrinsics = (value: unknown) => resolveIntrinsics(value, options.refs, arnOf);

  const provider = doc.provider ?? {};
  const functions = Object.entries((doc.functions ?? {}) as Record<string, any>).map(([key, fn]): ManifestFunction => ({
    key,
    name: functionName(key),
    handler: String(fn.handler),
    timeoutSeconds: Number(fn.timeout ?? provider.timeout ?? 6),
    memorySize: Number(fn.memorySize ?? provider.memorySize ?? 1024),
    environment: Object.fromEntries(
      Object.entries({ ...(provider.environment ?? {}), ...(fn.environment ?? {}) }).map(([name, value]) => [name, String(intrinsics(value))]),
    ),
    // A rule declared `enabled: false` exists in AWS but delivers nothing; locally it is left out.
    eventPatterns: (fn.events ?? []).filter((e: any) => e.eventBridge?.pattern && e.eventBridge.enabled !== false && e.eventBridge.enabled !== 'false').map((e: any) => e.eventBridge.pattern),
    ...(fn.url ? { url: fn.url === true || fn.url.authorizer !== 'aws_iam' ? ('none' as const) : ('aws_iam' as const) } : {}),
    schedules: (fn.events ?? []).flatMap((e: any) => schedulesOf(e.schedule)),
  }));
  const stateMachines = Object.entries((doc.stepFunctions?.stateMachines ?? {}) as Record<string, any>).map(([key, sm]) => ({
    key,
    id: String(sm.id ?? key),
    name: String(sm.name ?? key),
    definition: intrinsics(sm.definition) as Record<string, unknown>,
  }));
  const fragments = Array.isArray(doc.resources) ? doc.resources : doc.resources ? [doc.resources] : [];
  const versionLifecycles = fragments
    .flatMap((fragment: any) => Object.values((fragment?.Resources ?? {}) as Record<string, any>))
    .filter((resource: any) => resource?.Type === 'AWS::Scheduler::Schedule' && resource.Properties?.Target)
    .map((resource: any) => ({ arn: String(intrinsics(resource.Properties.Target.Arn)), input: resource.Properties.Target.Input }))
    .filter(({ arn }) => arn.endsWith(':scheduler:::aws-sdk:elasticbeanstalk:updateApplicationResourceLifecycle'))
    .map(({ input }) => JSON.parse(String(intrinsics(input))) as Record<string, unknown>);
  return { service, functions, stateMachines, versionLifecycles };
}

const rateExpression = /^rate\((\d+) (minute|hour|day)s?\)$/;

/**
 * The rate schedules of one `schedule` event: `rate(5 minutes)`, or `{ rate: [...], enabled, method }`.
 * Cron expressions are left out: nothing greenlight declares uses one, and a local clock for them is
 * more than the local endpoint needs.
 */
function schedulesOf(schedule: unknown): ManifestSchedule[] {
  if (schedule === undefined || schedule === null) return [];
  const spec = typeof schedule === 'string' ? { rate: [schedule] } : (schedule as { rate?: unknown; enabled?: unknown });
  if (spec.enabled === false || spec.enabled === 'false') return [];
  const expressions = (Array.isArray(spec.rate) ? spec.rate : [spec.rate]).map(String);
  return expressions.flatMap((expression) => {
    const match = rateExpression.exec(expression.trim());
    if (!match) return [];
    const unitSeconds = { minute: 60, hour: 3600, day: 86400 }[match[2] as 'minute' | 'hour' | 'day'];
    return [{ expression, periodSeconds: Number(match[1]) * unitSeconds }];
  });
}

function resolveIntrinsics(value: unknown, refs: Record<string, string>, arnOf: ArnOf): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, refs, arnOf));
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [name, arg] = entries[0]!;
    if (name === 'Ref') {
      const ref = refs[String(arg)];
      if (ref === undefined) throw new Error(`serverless.yml: Ref ${String(arg)} has no local counterpart`);
      return ref;
    }
    if (name === 'Fn::GetAtt' && Array.isArray(arg) && arg[1] === 'Arn') {
      const ref = refs[`${String(arg[0])}.Arn`];
      return ref ?? arnOf(String(arg[0]));
    }
    if (name === 'Fn::Join' && Array.isArray(arg) && arg.length === 2 && Array.isArray(arg[1])) {
      return (arg[1] as unknown[]).map((part) => String(resolveIntrinsics(part, refs, arnOf))).join(String(arg[0]));
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, refs, arnOf)]));
}

const variablePattern = /\$\{([^{}]+)\}/g;

/** The Serverless Framework variable sources greenlight's serverless.yml uses. */
class VariableResolver {
  private readonly require: NodeRequire;

  constructor(
    private readonly root: string,
    private readonly raw: Record<string, unknown>,
    private readonly options: ManifestOptions,
  ) {
    this.require = createRequire(resolve(root, 'serverless.yml'));
  }

  resolve(value: unknown, depth = 0): unknown {
    if (depth > 20) throw new Error('serverless.yml: variables nest too deeply (a cycle?)');
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, depth + 1));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v, depth + 1)]));
    if (typeof value !== 'string' || !value.includes('${')) return value;
    const whole = /^\$\{([^{}]+)\}$/.exec(value.trim());
    if (whole) return this.resolve(this.source(whole[1]!), depth + 1);
    return value.replace(variablePattern, (_, expression: string) => String(this.resolve(this.source(expression), depth + 1)));
  }

  private readonly files = new Map<string, unknown>();

  private readFile(path: string): unknown {
    if (/\.c?js$/.test(path)) {
      const exported = this.require(path) as unknown;
      // deploy/greenlight-vars.cjs validates the configuration: in this process with the validator
      // already loaded, instead of a `node --import tsx` child per start (~1 s of a test file's start).
      return typeof exported === 'function' ? (exported as (context: { validationReport: typeof validationReport }) => unknown)({ validationReport }) : exported;
    }
    return parse(readFileSync(path, 'utf8'));
  }

  private source(expression: string): unknown {
    const [reference = '', fallback] = splitFallback(expression);
    const value = this.lookup(reference.trim());
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    throw new Error(`serverless.yml: cannot resolve \${${expression}} locally`);
  }

  private lookup(reference: string): unknown {
    const file = /^file\(([^)]+)\)(?::(.+))?$/.exec(reference);
    if (file) {
      const path = resolve(this.root, file[1]!.trim());
      if (!this.files.has(path)) this.files.set(path, this.readFile(path));
      const content = this.files.get(path);
      return file[2] ? dig(content, file[2]) : content;
    }
    const [source, path = ''] = splitOnce(reference, ':');
    switch (source) {
      case 'self':
        // Resolve along the way: `custom.greenlight` may itself be a ${file(...)} variable.
        return path.split('.').filter(Boolean).reduce<unknown>((node, key) => {
          const here = typeof node === 'string' ? this.resolve(node) : node;
          return here && typeof here === 'object' ? (here as Record<string, unknown>)[key] : undefined;
        }, this.raw);
      case 'opt':
        return path === 'stage' ? this.options.stage : path === 'region' ? this.options.region : undefined;
      case 'sls':
        return path === 'stage' ? this.options.stage : undefined;
      case 'aws':
        return path === 'region' ? this.options.region : path === 'accountId' ? this.options.accountId : undefined;
      case 'env':
        return process.env[path];
      default:
        return undefined;
    }
  }
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** `opt:stage, 'dev'` → ['opt:stage', 'dev']; a comma inside file(…) does not split. */
function splitFallback(expression: string): [string, string | undefined] {
  const close = expression.lastIndexOf(')');
  const comma = expression.indexOf(',', Math.max(close, 0));
  if (comma < 0) return [expression, undefined];
  const fallback = expression.slice(comma + 1).trim().replace(/^['"]|['"]$/g, '');
  return [expression.slice(0, comma), fallback];
}

function dig(value: unknown, path: string): unknown {
  return path.split('.').filter(Boolean).reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), value);
}
