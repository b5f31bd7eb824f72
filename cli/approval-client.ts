import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** An error the approval API answered with: its status, name and message. */
export class ApprovalApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** The function URL's region: from its host (`<id>.lambda-url.<region>.on.aws`), else AWS_REGION. */
export function regionOf(url: URL): string {
  return /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/**
 * Calls the approval API signed with the caller's own AWS credentials (SigV4, service `lambda`),
 * found the way every AWS tool finds them: environment, profile, SSO, instance role.
 */
export async function callApprovalApi(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider = fromNodeProviderChain(),
): Promise<any> {
  const url = new URL(path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const signer = new SignatureV4({ service: 'lambda', region: regionOf(url), credentials, sha256: Sha256, uriEscapePath: true });
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signed = await signer.sign(
    new HttpRequest({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers: { host: url.host, ...(payload ? { 'content-type': 'application/json' } : {}) },
      body: payload,
    }),
  );
  const response = await fetch(url, { method, headers: signed.headers as Record<string, string>, body: payload });
  const text = await response.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { message: text };
  }
  if (!response.ok) {
    const code = parsed.error ?? response.headers.get('x-amzn-errortype')?.split(':')[0] ?? `HTTP${response.status}`;
    throw new ApprovalApiError(response.status, code, parsed.message ?? parsed.Message ?? text);
  }
  return parsed;
}
