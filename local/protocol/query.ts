import { XMLBuilder } from 'fast-xml-parser';
import { type LocalRequest, type LocalResponse, type Operation, AwsServiceError } from './types.ts';

/**
 * The AWS Query protocol (Elastic Beanstalk, SNS): form-encoded `Action=…&Version=…` in,
 * `<ActionResponse><ActionResult>…` XML out, lists as `<member>`.
 */
export interface QueryServiceSpec {
  readonly xmlns: string;
  readonly operations: Record<string, Operation>;
}

/** The longest list any Query operation here takes (EB's and SNS's lists are far shorter). */
export const maxListMembers = 1000;
/** Parameters per request: every operation here needs a few dozen at most. */
const maxParameters = 10_000;

/**
 * Turns flattened query keys into nested input: `EnvironmentNames.member.1=a` → `{ EnvironmentNames: ['a'] }`,
 * `OptionSettings.member.2.Namespace=x` → `{ OptionSettings: [, { Namespace: 'x' }] }` (holes removed).
 */
export function decodeQueryParams(params: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let count = 0;
  for (const [key, value] of params) {
    if (++count > maxParameters) throw new AwsServiceError('ValidationError', `1 validation error detected: the request has more than ${maxParameters} parameters`);
    if (key === 'Action' || key === 'Version') continue;
    const parts = key.split('.');
    // A key naming the prototype would write into Object.prototype of the whole process.
    if (parts.some((part) => part === '__proto__' || part === 'constructor' || part === 'prototype')) {
      throw new AwsServiceError('MalformedQueryString', `Invalid parameter name ${key}`);
    }
    let node: any = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      const next = parts[i + 1];
      // `A=1&A.member.1=2` (or `A.B=…&A=…`): a scalar and a structure under one name.
      if (!last && node[part] !== undefined && typeof node[part] !== 'object') {
        throw new AwsServiceError('MalformedQueryString', `Parameter ${part} is given both as a value and as a structure`);
      }
      if ((next === 'member' || next === 'entry') && !last) {
        node[part] ??= [];
        const position = parts[i + 2] ?? '';
        const index = /^[1-9]\d*$/.test(position) ? Number(position) - 1 : -1;
        if (index < 0) throw new AwsServiceError('MalformedQueryString', `Bad list index in ${key}`);
        // A list index is a position: one far beyond any list AWS takes would make a huge sparse array.
        if (index >= maxListMembers) {
          throw new AwsServiceError('ValidationError', `1 validation error detected: Value at '${parts.slice(0, i + 1).join('.')}' failed to satisfy constraint: Member must have length less than or equal to ${maxListMembers}`);
        }
        if (i + 2 === parts.length - 1) {
          node[part][index] = value;
          break;
        }
        node[part][index] ??= {};
        if (typeof node[part][index] !== 'object') {
          throw new AwsServiceError('MalformedQueryString', `Parameter ${parts.slice(0, i + 3).join('.')} is given both as a value and as a structure`);
        }
        node = node[part][index];
        i += 2;
        continue;
      }
      if (last) node[part] = value;
      else node = node[part] ??= {};
    }
  }
  const compact = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.filter((v) => v !== undefined).map(compact)
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compact(v)]))
        : value;
  return compact(root) as Record<string, unknown>;
}

/** Prepares an output object for the XML builder: lists become `<member>`, dates ISO, nulls dropped. */
function toXmlShape(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return { member: value.map(toXmlShape) };
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => [k, toXmlShape(v)]),
    );
  }
  return value;
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, processEntities: true });

export function queryError(xmlns: string, requestId: string, error: AwsServiceError): LocalResponse {
  const body = builder.build({
    ErrorResponse: {
      '@_xmlns': xmlns,
      Error: { Type: error.fault, Code: error.code, Message: error.message },
      RequestId: requestId,
    },
  });
  return { status: error.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
}

/** Builds the request handler of one Query-protocol service. */
export function queryService(spec: QueryServiceSpec): (request: LocalRequest) => Promise<LocalResponse> {
  return async (request) => {
    try {
      const params = new URLSearchParams(request.query);
      if (request.method === 'POST') {
        for (const [k, v] of new URLSearchParams(request.body.toString('utf8'))) params.append(k, v);
      }
      const action = params.get('Action');
      if (!action) throw new AwsServiceError('MissingAction', 'Missing Action');
      const operation = Object.hasOwn(spec.operations, action) ? spec.operations[action] : undefined;
      if (!operation) throw new AwsServiceError('InvalidAction', `The action ${action} is not valid for this web service.`);
      const output = await operation(decodeQueryParams(params), request);
      const body = builder.build({
        [`${action}Response`]: {
          '@_xmlns': spec.xmlns,
          [`${action}Result`]: toXmlShape(output ?? {}),
          ResponseMetadata: { RequestId: request.requestId },
        },
      });
      return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': request.requestId }, body };
    } catch (error) {
      if (error instanceof AwsServiceError) return queryError(spec.xmlns, request.requestId, error);
      throw error;
    }
  };
}
