import { FaultsError, parseFaultsChange } from './faults.ts';
import type { LocalRequest, LocalResponse } from './protocol/types.ts';
import type { LocalAws } from './server.ts';

/** Only this machine may change the knobs of a running endpoint. */
export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(::ffff:)?127\./.test(address));
}

const json = (status: number, value: unknown): LocalResponse => ({ status, headers: { 'content-type': 'application/json' }, body: `${JSON.stringify(value, null, 2)}\n` });

/**
 * The endpoint's own routes, for people changing fault knobs while it runs:
 * `GET /_greenlight/faults` shows them, `POST` (a JSON object of knobs) changes those it names,
 * `DELETE` puts back what the endpoint started with. Loopback only; POST only as
 * `application/json`, which a web page cannot send to another origin without a preflight this route never grants.
 */
export async function adminRoute(aws: Pick<LocalAws, 'faults' | 'setFaults' | 'resetFaults'>, request: LocalRequest): Promise<LocalResponse> {
  if (!isLoopback(request.remoteAddress)) return json(403, { message: 'The admin routes answer only this machine (loopback).' });
  if (request.path !== '/_greenlight/faults') return json(404, { message: `No route ${request.path}: the admin route is /_greenlight/faults (GET, POST, DELETE)` });
  switch (request.method) {
    case 'GET':
      return json(200, { faults: aws.faults });
    case 'DELETE':
      return json(200, { faults: aws.resetFaults() });
    case 'POST': {
      if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) return json(415, { message: 'POST a JSON object of knobs with Content-Type: application/json' });
      let value: unknown;
      try {
        value = JSON.parse(request.body.toString('utf8'));
      } catch {
        return json(400, { message: 'The body is not JSON' });
      }
      try {
        return json(200, { faults: aws.setFaults(parseFaultsChange(value, 'POST /_greenlight/faults')) });
      } catch (error) {
        if (error instanceof FaultsError) return json(400, { message: error.message });
        throw error;
      }
    }
    default:
      return { ...json(405, { message: `${request.method} is not allowed here: GET, POST or DELETE` }), headers: { 'content-type': 'application/json', allow: 'GET, POST, DELETE' } };
  }
}
