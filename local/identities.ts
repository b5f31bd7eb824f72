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

export type Verification = { ok: true; identity: LocalIdentity } | { ok: false; status: 403; code: string; message: string };

/**
 * Verifies a SigV4 signature as an IAM-authenticated endpoint (a Lambda function URL with AWS_IAM)
 * does: known access key, the signature recomputed over the same request, a fresh date.
 */
export async function verifySigV4(
  identities: LocalIdentity[],
  request: { method: string; host: string; path: string; query: URLSearchParams; headers: IncomingHttpHeaders; body: Buffer },
  now = new Date(),
): Promise<Verification> {
  const authorization = String(request.headers.authorization ?? '');
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return { ok: false, status: 403, code: 'MissingAuthenticationToken', message: 'Missing or malformed SigV4 Authorization header: sign the request with your AWS credentials' };
  const [, accessKeyId, , region, service, signedHeaders, signature] = match as unknown as string[];
  const identity = identities.find((i) => i.accessKeyId === accessKeyId);
  if (!identity) return { ok: false, status: 403, code: 'InvalidClientTokenId', message: `The security token included in the request is invalid (unknown access key ${accessKeyId})` };
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const signedAt = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!signedAt) return { ok: false, status: 403, code: 'IncompleteSignature', message: 'X-Amz-Date is missing or malformed' };
  const date = new Date(Date.UTC(+signedAt[1]!, +signedAt[2]! - 1, +signedAt[3]!, +signedAt[4]!, +signedAt[5]!, +signedAt[6]!));
  if (Math.abs(now.getTime() - date.getTime()) > 15 * 60 * 1000) return { ok: false, status: 403, code: 'InvalidSignatureException', message: 'Signature expired: the request was signed more than 15 minutes ago' };
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(';')) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  const query: Record<string, string> = {};
  for (const [k, v] of request.query) query[k] = v;
  const [hostname, port] = request.host.split(':');
  const signer = new SignatureV4({ service: service!, region: region!, credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey }, sha256: Sha256, uriEscapePath: true });
  const signed = await signer.sign(
    new HttpRequest({ method: request.method, protocol: 'http:', hostname, port: port ? Number(port) : undefined, path: request.path, query, headers, body: request.body.length > 0 ? request.body.toString('utf8') : undefined }),
    { signingDate: date },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? signed.headers.Authorization ?? ''))?.[1];
  if (expected !== signature) return { ok: false, status: 403, code: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.' };
  return { ok: true, identity };
}
