import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Who a registry request acts for: the principal that asked GetAuthorizationToken. */
export interface RegistryCaller {
  readonly arn: string;
  readonly accessKeyId?: string;
}

/** ECR authorization tokens last 12 hours. */
export const tokenLifetimeMs = 12 * 3600 * 1000;

export type TokenCheck = { ok: true; caller: RegistryCaller } | { ok: false; reason: 'missing' | 'invalid' | 'expired' };

/**
 * ECR's authorization tokens: base64 of `AWS:<password>`, where the password carries who asked and
 * until when, sealed with a key of this endpoint, so `docker login -u AWS` and skopeo's
 * `--creds AWS:<password>` authenticate registry calls as that principal (as ECR does).
 */
export class EcrTokens {
  constructor(private readonly key: Buffer = randomBytes(32)) {}

  /** The key that seals tokens (kept with `--data`, so tokens survive a restart). */
  get secret(): Buffer {
    return this.key;
  }

  issue(caller: RegistryCaller, now = Date.now()): { authorizationToken: string; expiresAt: Date } {
    const expiresAt = now + tokenLifetimeMs;
    const payload = Buffer.from(JSON.stringify({ arn: caller.arn, ...(caller.accessKeyId ? { accessKeyId: caller.accessKeyId } : {}), expiration: expiresAt })).toString('base64url');
    const password = `${payload}.${this.seal(payload)}`;
    return { authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'), expiresAt: new Date(expiresAt) };
  }

  /** Checks an `Authorization: Basic …` header as the registry does: user AWS, a password this endpoint issued, not expired. */
  verify(authorization: string | undefined, now = Date.now()): TokenCheck {
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
    if (!basic) return { ok: false, reason: 'missing' };
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1 || decoded.slice(0, colon) !== 'AWS') return { ok: false, reason: 'invalid' };
    const [payload = '', seal = '', extra] = decoded.slice(colon + 1).split('.');
    if (extra !== undefined || payload === '') return { ok: false, reason: 'invalid' };
    const expected = Buffer.from(this.seal(payload));
    const given = Buffer.from(seal);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'invalid' };
    let claims: { arn?: unknown; accessKeyId?: unknown; expiration?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    if (typeof claims.arn !== 'string' || typeof claims.expiration !== 'number') return { ok: false, reason: 'invalid' };
    if (claims.expiration <= now) return { ok: false, reason: 'expired' };
    return { ok: true, caller: { arn: claims.arn, ...(typeof claims.accessKeyId === 'string' ? { accessKeyId: claims.accessKeyId } : {}) } };
  }

  /** An HMAC of this endpoint's key, for URLs it hands out (layer downloads). */
  sign(text: string): string {
    return this.seal(text);
  }

  private seal(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
