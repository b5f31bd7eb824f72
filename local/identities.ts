import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** A local IAM principal: access keys and the ARN AWS would report for them. */
export interface LocalIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly arn: string;
}

/**
 * The people and machines of the local account. `ci` pushes, `alice` and `carol` are release managers
 * (approvers in the example config), `bob` is a developer; `local` is what the CLI uses by default.
 */
export function localIdentities(accountId: string): LocalIdentity[] {
  return [
    { accessKeyId: 'local', secretAccessKey: 'local', arn: `arn:aws:iam::${accountId}:user/local-admin` },
    { accessKeyId: 'ci', secretAccessKey: 'ci-secret', arn: `arn:aws:sts::${accountId}:assumed-role/ci-pusher/ci` },
    { accessKeyId: 'alice', secretAccessKey: 'alice-secret', arn: `arn:aws:sts::${accountId}:assumed-role/release-managers/alice` },
    { accessKeyId: 'carol', secretAccessKey: 'carol-secret', arn: `arn:aws:sts::${accountId}:assumed-role/release-managers/carol` },
    { accessKeyId: 'bob', secretAccessKey: 'bob-secret', arn: `arn:aws:sts::${accountId}:assumed-role/developers/bob` },
  ];
}

/** The access key a SigV4 request was signed with (header or presigned query), if any. */
export function accessKeyOf(headers: IncomingHttpHeaders, query?: URLSearchParams): string | undefined {
  const credential = /Credential=([^/,\s]+)\//.exec(String(headers.authorization ?? ''))?.[1] ?? query?.get('X-Amz-Credential')?.split('/')[0];
  return credential || undefined;
}

/** Who AWS would say made a call: the identity of its access key (an unknown key is reported as a user of that name). */
export function callerArn(identities: LocalIdentity[], accountId: string, headers: IncomingHttpHeaders): string {
  const key = accessKeyOf(headers);
  return identities.find((i) => i.accessKeyId === key)?.arn ?? `arn:aws:iam::${accountId}:user/${key ?? 'anonymous'}`;
}

/** What a function URL answers a request it does not authorise (no signature, or no permission). */
export const functionUrlForbidden = 'Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html';

/**
 * The unique ids AWS reports for a principal (`AIDA…` for a user, `AROA…:session` for a role
 * session), derived from its ARN so they stay the same across runs.
 */
export function principalIds(arn: string): { userId: string; callerId: string } {
  const idOf = (prefix: string, name: string) => `${prefix}${createHash('sha256').update(name).digest('hex').slice(0, 17).toUpperCase()}`;
  const role = /:assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  const id = role ? `${idOf('AROA', role[1]!)}:${role[2]}` : idOf('AIDA', arn);
  return { userId: id, callerId: id };
}

export type Verification = { ok: true; identity: LocalIdentity } | { ok: false; status: 403; code: string; message: string };

/** What a SigV4 verifier expects in the credential scope: the endpoint's own service and region. */
export interface SigningScope {
  readonly service: string;
  readonly region: string;
}

/** How far the signing time may be from the server's clock, as AWS allows. */
export const maxClockSkewMs = 5 * 60 * 1000;

/** The message AWS gives for any signature that does not verify (wrong key, other body, other request). */
export const signatureMismatch =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const refuse = (code: string, message: string): Verification => ({ ok: false, status: 403, code, message });
const amzDateOf = (date: Date) => date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/**
 * Verifies a SigV4 signature as an IAM-authenticated Lambda function URL does: a known access key;
 * a credential scope naming the endpoint's service and region; a signing time within five minutes;
 * and the signature recomputed over the request as received, with the payload hash of the body that
 * arrived (a signed `x-amz-content-sha256` naming another body, or `UNSIGNED-PAYLOAD`, is refused).
 */
export async function verifySigV4(
  identities: LocalIdentity[],
  request: { method: string; host: string; path: string; query: URLSearchParams; headers: IncomingHttpHeaders; body: Buffer },
  expected: SigningScope,
  now = new Date(),
): Promise<Verification> {
  const authorization = String(request.headers.authorization ?? '');
  if (authorization === '') return refuse('AccessDeniedException', functionUrlForbidden);
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return refuse('IncompleteSignatureException', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters (AWS4-HMAC-SHA256). Authorization=${authorization.split(' ')[0]}`);
  const [, accessKeyId = '', scopeDate = '', region = '', service = '', signedHeaderList = '', signature = ''] = match;
  if (region !== expected.region) return refuse('InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'. `);
  if (service !== expected.service) return refuse('InvalidSignatureException', `Credential should be scoped to correct service: '${expected.service}'. `);
  const identity = identities.find((i) => i.accessKeyId === accessKeyId);
  if (!identity) return refuse('UnrecognizedClientException', 'The security token included in the request is invalid.');

  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const signedAt = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!signedAt) return refuse('IncompleteSignatureException', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  if (!amzDate.startsWith(scopeDate)) {
    return refuse('InvalidSignatureException', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`);
  }
  const date = new Date(Date.UTC(+signedAt[1]!, +signedAt[2]! - 1, +signedAt[3]!, +signedAt[4]!, +signedAt[5]!, +signedAt[6]!));
  if (date.getTime() < now.getTime() - maxClockSkewMs) {
    return refuse('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than ${amzDateOf(new Date(now.getTime() - maxClockSkewMs))} (${amzDateOf(now)} - 5 min.)`);
  }
  if (date.getTime() > now.getTime() + maxClockSkewMs) {
    return refuse('InvalidSignatureException', `Signature not yet current: ${amzDate} is still later than ${amzDateOf(new Date(now.getTime() + maxClockSkewMs))} (${amzDateOf(now)} + 5 min.)`);
  }

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return refuse('InvalidSignatureException', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  // The payload hash is always that of the body that arrived: a header naming another one cannot verify.
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const claimedHash = request.headers['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== bodyHash) return refuse('InvalidSignatureException', signatureMismatch);

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = name === 'host' ? request.host : request.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(request.query.keys())) {
    const values = request.query.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  const [hostname = '', port] = request.host.split(':');
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    new HttpRequest({ method: request.method, protocol: 'http:', hostname, port: port ? Number(port) : undefined, path: request.path, query, headers, body: new Uint8Array(request.body) }),
    { signingDate: date, signableHeaders: new Set(signedHeaders) },
  );
  const recomputed = String(signed.headers.authorization ?? '');
  const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(recomputed)?.[1] ?? '';
  const sameHeaders = /SignedHeaders=([^,]+),/.exec(recomputed)?.[1] === signedHeaderList;
  if (!sameHeaders || !timingSafeEqual(Buffer.from(expectedSignature.padEnd(64, '0')), Buffer.from(signature))) return refuse('InvalidSignatureException', signatureMismatch);
  return { ok: true, identity };
}
