import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { type KordonEventData, newEventId } from '@kordon/events';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

/*
 * Credentials of the admin API, all derived from one server secret (the config file's id
 * secret, itself derived from KORDON_PROXY_KEY_SECRET), so every replica agrees and a restart
 * keeps sessions:
 *   - access tokens: JWT HS256, 15 minutes, key HKDF(secret, "kordon admin access-token v1");
 *   - refresh tokens (`krt_...`) and API tokens (`kat_...`): random, stored as HMAC-SHA-256
 *     under HKDF(secret, "kordon admin token-hash v1").
 */

export type KeyedHash = KordonEventData<'ApiTokenIssued'>['hash'];

export const ACCESS_TOKEN_SECONDS = 15 * 60;
export const REFRESH_TOKEN_DAYS = 30;
const ISSUER = 'kordon';
const AUDIENCE = 'kordon-admin';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function base62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62]; // 248 = 4 * 62: no modulo bias
    }
  }
  return out;
}

export const API_TOKEN_PATTERN = /^kat_[A-Za-z0-9]{40}$/;
export const REFRESH_TOKEN_PATTERN = /^krt_[A-Za-z0-9]{43}$/;
export const INVITATION_TOKEN_PATTERN = /^kin_[A-Za-z0-9]{43}$/;

export function newApiToken(): { secret: string; prefix: string } {
  const secret = `kat_${base62(40)}`; // 238 bits
  return { secret, prefix: secret.slice(0, 12) };
}

export function newRefreshToken(): string {
  return `krt_${base62(43)}`; // 256 bits
}

/** The one-time token of an invitation link (kept as a keyed hash in UserInvited). */
export function newInvitationToken(): string {
  return `kin_${base62(43)}`; // 256 bits
}

const AccessClaims = z.object({
  sub: z.string().min(1).max(128),
  org: z.string().min(1).max(128),
  sid: z.string().min(1).max(128),
  /** `api-token`: `sub` is a machine token's id (its access token, from POST /auth/token). */
  kind: z.literal('api-token').optional(),
});
export type AccessClaims = z.infer<typeof AccessClaims>;

export class AdminKeys {
  readonly #accessKey: Uint8Array;
  readonly #hashKey: Buffer;
  readonly hashKeyId: string;

  constructor(serverSecret: Buffer) {
    const derive = (info: string, length: number) =>
      Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), info, length));
    this.#accessKey = new Uint8Array(derive('kordon admin access-token v1', 32));
    this.#hashKey = derive('kordon admin token-hash v1', 32);
    this.hashKeyId = `adm-${derive('kordon admin token-hash key-id v1', 8).toString('hex')}`;
  }

  hash(token: string): KeyedHash {
    const value = createHmac('sha256', this.#hashKey).update(token, 'utf8').digest('hex');
    return { algorithm: 'hmac-sha256', keyId: this.hashKeyId, value };
  }

  signAccessToken(claims: AccessClaims): Promise<string> {
    return new SignJWT({ org: claims.org, sid: claims.sid, ...(claims.kind ? { kind: claims.kind } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ACCESS_TOKEN_SECONDS}s`)
      .setJti(newEventId())
      .sign(this.#accessKey);
  }

  /** The claims of a valid access token, or null (expired, forged, another algorithm...). */
  async verifyAccessToken(token: string): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.#accessKey, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        clockTolerance: 5,
        // Bounds a token's life by its `iat` too (and refuses one issued in the future), not
        // only by the `exp` it carries.
        maxTokenAge: ACCESS_TOKEN_SECONDS,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      const claims = AccessClaims.safeParse(payload);
      return claims.success ? claims.data : null;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return null;
      throw error;
    }
  }
}
