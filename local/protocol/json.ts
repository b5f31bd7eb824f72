import { type LocalRequest, type LocalResponse, type Operation, AwsServiceError } from './types.ts';

/** The awsJson1.0 / 1.1 protocol: `X-Amz-Target: Prefix.Operation`, JSON in, JSON out, `__type` errors. */
export interface JsonServiceSpec {
  readonly targetPrefix: string;
  readonly version: '1.0' | '1.1';
  readonly operations: Record<string, Operation>;
}

export function jsonError(version: '1.0' | '1.1', error: AwsServiceError): LocalResponse {
  return {
    status: error.status,
    headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-errortype': error.code },
    body: JSON.stringify({ __type: error.code, message: error.message }),
  };
}

/** Serialises Dates as epoch seconds, as the JSON protocols do. */
function replacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Date ? raw.getTime() / 1000 : value;
}

/** Builds the request handler of one JSON-protocol service. */
export function jsonService(spec: JsonServiceSpec): (request: LocalRequest) => Promise<LocalResponse> {
  return async (request) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const [prefix, operationName = ''] = target.split('.');
    const headers = { 'content-type': `application/x-amz-json-${spec.version}`, 'x-amzn-requestid': request.requestId };
    try {
      const operation = prefix === spec.targetPrefix ? spec.operations[operationName] : undefined;
      if (!operation || !Object.hasOwn(spec.operations, operationName)) {
        throw new AwsServiceError('UnknownOperationException', `Unknown operation ${target || '(no X-Amz-Target)'}`);
      }
      let input: unknown;
      try {
        const text = request.body.toString('utf8');
        input = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        throw new AwsServiceError('SerializationException', 'Start of structure or map found where not expected / request body is not valid JSON');
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new AwsServiceError('SerializationException', 'The request body must be a JSON object');
      }
      const output = await operation(input, request);
      return { status: 200, headers, body: JSON.stringify(output ?? {}, replacer) };
    } catch (error) {
      if (error instanceof AwsServiceError) return { ...jsonError(spec.version, error), headers: { ...jsonError(spec.version, error).headers, 'x-amzn-requestid': request.requestId } };
      throw error;
    }
  };
}
