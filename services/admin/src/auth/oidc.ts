import { hkdfSync } from 'node:crypto';
import { newEventId } from '@kordon/events';
import { EncryptJWT, errors as joseErrors, jwtDecrypt } from 'jose';
import * as client from 'openid-client';
import { z } from 'zod';
import { AdminError } from '../errors.js';

/*
 * OpenID Connect sign-in (authorization code flow with PKCE, openid-client). Nothing of a
 * flow is kept on the server: state, nonce and the PKCE code verifier travel in a cookie
 * that is encrypted and authenticated (JWE, dir + A256GCM, key derived by HKDF from the
 * server secret, so any replica finishes what another started), bound to the org, valid 10
 * minutes, HttpOnly, SameSite=Lax and scoped to the org's OIDC path. The client sees only
 * ciphertext; the verifier and the client secret are never in an answer or a log line.
 * A finished flow's id is remembered (per process) so the same cookie cannot finish twice;
 * across replicas the provider's single-use codes refuse the replay.
 */

export const OIDC_FLOW_SECONDS = 600;
export const OIDC_FLOW_COOKIE = 'kordon_oidc_flow';
export const OIDC_SCOPE = 'openid email profile';
const ADMIN_PREFIX = '/admin/v1';

/** The org's settings as the flow needs them; the secret is decrypted only for the token request. */
export interface OidcClientSettings {
  orgId: string;
  /** Log position of the settings: a change starts from a fresh discovery. */
  position: number;
  issuer: string;
  clientId: string;
  clientSecret: () => string;
}

/** Who the provider says signed in, after every check of openid-client passed. */
export interface OidcIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

const FlowClaims = z.object({
  org: z.string().min(1),
  state: z.string().min(1),
  nonce: z.string().min(1),
  verifier: z.string().min(43).max(128),
  jti: z.string().min(1),
});

const EMAIL_CLAIMS = z.object({
  email: z.string().optional(),
  // Some providers (Cognito) send the flag as a string.
  email_verified: z.union([z.boolean(), z.literal('true'), z.literal('false')]).optional(),
  name: z.string().optional(),
});

export const oidcPath = (orgSlug: string) => `${ADMIN_PREFIX}/auth/oidc/${orgSlug}`;

export class OidcSignIn {
  readonly #flowKey: Uint8Array;
  readonly #configs = new Map<string, { position: number; config: Promise<client.Configuration> }>();
  /** Finished flows (id -> expiry, epoch ms), so a cookie works once. Bounded. */
  readonly #spent = new Map<string, number>();

  constructor(
    serverSecret: Buffer,
    private readonly options: {
      /** Where browsers reach this server (KORDON_PUBLIC_URL); without it SSO answers 503. */
      publicUrl: string | undefined;
      now: () => Date;
      /** Seconds for each request to the provider. */
      timeoutSeconds?: number;
      maxSpent?: number;
    },
  ) {
    this.#flowKey = new Uint8Array(
      hkdfSync('sha256', serverSecret, Buffer.alloc(0), 'kordon admin oidc-flow v1', 32),
    );
  }

  /** The redirect URI to register at the provider for this org. */
  redirectUri(orgSlug: string): string | null {
    const base = this.options.publicUrl?.replace(/\/+$/, '');
    return base ? `${base}${oidcPath(orgSlug)}/callback` : null;
  }

  #requireRedirectUri(orgSlug: string): string {
    const uri = this.redirectUri(orgSlug);
    if (!uri) {
      throw new AdminError(
        'unavailable',
        'single sign-on needs the server public URL (KORDON_PUBLIC_URL) to build its redirect URI',
      );
    }
    return uri;
  }

  /** The provider's configuration, discovered once per org and settings (a failure is retried next time). */
  async #configuration(settings: OidcClientSettings): Promise<client.Configuration> {
    const cached = this.#configs.get(settings.orgId);
    if (cached && cached.position === settings.position) return cached.config;
    const issuer = new URL(settings.issuer);
    const skew = Math.round((this.options.now().getTime() - Date.now()) / 1000);
    const config = client
      .discovery(
        issuer,
        settings.clientId,
        { client_secret: settings.clientSecret(), [client.clockSkew]: skew },
        client.ClientSecretBasic(settings.clientSecret()),
        {
          timeout: this.options.timeoutSeconds ?? 10,
          // The ID token's signature is checked against the provider's JWK Set (fetched once,
          // again when a new key id appears). Plain http only reaches a loopback provider: the
          // settings refuse it elsewhere.
          execute: [
            client.enableNonRepudiationChecks,
            ...(issuer.protocol === 'http:' ? [client.allowInsecureRequests] : []),
          ],
        },
      )
      .catch((error: unknown) => {
        // Not cached: the next sign-in tries again.
        if (this.#configs.get(settings.orgId)?.config === config) this.#configs.delete(settings.orgId);
        throw new AdminError(
          'unavailable',
          'the identity provider cannot be reached or its discovery is invalid',
          { cause: describe(error) },
        );
      });
    this.#configs.set(settings.orgId, { position: settings.position, config });
    return config;
  }

  /** Where to send the browser, and the sealed flow cookie to set. */
  async start(settings: OidcClientSettings, orgSlug: string): Promise<{ location: string; cookie: string }> {
    const redirectUri = this.#requireRedirectUri(orgSlug);
    const config = await this.#configuration(settings);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const location = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: OIDC_SCOPE,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const now = Math.floor(this.options.now().getTime() / 1000);
    const sealed = await new EncryptJWT({ org: settings.orgId, state, nonce, verifier })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'kordon-oidc-flow' })
      .setJti(newEventId())
      .setIssuedAt(now)
      .setExpirationTime(now + OIDC_FLOW_SECONDS)
      .encrypt(this.#flowKey);
    return { location: location.href, cookie: this.#cookie(orgSlug, sealed, OIDC_FLOW_SECONDS) };
  }

  /** A Set-Cookie value that removes the flow cookie. */
  clearCookie(orgSlug: string): string {
    return this.#cookie(orgSlug, '', 0);
  }

  #cookie(orgSlug: string, value: string, maxAge: number): string {
    const secure = this.options.publicUrl?.startsWith('https:') ? '; Secure' : '';
    return `${OIDC_FLOW_COOKIE}=${value}; Path=${oidcPath(orgSlug)}/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
  }

  /**
   * Checks the provider's answer and trades the code: the flow cookie must be this org's and
   * fresh; openid-client checks state, issuer (`iss`), PKCE, and the ID token's issuer,
   * audience, nonce, expiry and signature. OIDC Core 3.1.3.7 lets TLS to the token endpoint
   * stand in for the signature; it is checked anyway, so a TLS-inspecting proxy or a
   * misdirected token endpoint cannot hand over an identity the provider never signed. The
   * e-mail comes from the ID token, else from UserInfo (whose subject must be the ID token's).
   */
  async finish(
    settings: OidcClientSettings,
    orgSlug: string,
    cookieHeader: string | undefined,
    search: string,
  ): Promise<OidcIdentity> {
    const redirectUri = this.#requireRedirectUri(orgSlug);
    const flow = await this.#openFlow(cookieHeader, settings.orgId);
    const config = await this.#configuration(settings);
    this.#spend(flow.jti, flow.exp);
    const refused = (detail: string, cause?: unknown) =>
      new AdminError('unauthenticated', `single sign-on failed: ${detail}`, { cause: describe(cause) });
    try {
      const tokens = await client.authorizationCodeGrant(config, new URL(`${redirectUri}${search}`), {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw refused('the provider sent no ID token');
      let claims = EMAIL_CLAIMS.parse(idClaims);
      if (claims.email === undefined) {
        claims = EMAIL_CLAIMS.parse(await client.fetchUserInfo(config, tokens.access_token, idClaims.sub));
      }
      return {
        subject: idClaims.sub,
        email: claims.email ?? null,
        emailVerified: claims.email_verified === true || claims.email_verified === 'true',
        name: claims.name ?? null,
      };
    } catch (error) {
      if (error instanceof AdminError) throw error;
      if (error instanceof client.AuthorizationResponseError) {
        const code = /^[a-z_]{1,64}$/.test(error.error) ? error.error : 'error';
        throw refused(`the identity provider answered ${code}`, error);
      }
      if (error instanceof client.ResponseBodyError) {
        throw refused('the identity provider refused the code (used already, or expired)', error);
      }
      if (error instanceof client.ClientError || error instanceof z.ZodError) {
        throw refused(
          "the identity provider's answer did not check out (state, issuer, audience, nonce or expiry)",
          error,
        );
      }
      throw new AdminError('unavailable', 'the identity provider cannot be reached', {
        cause: describe(error),
      });
    }
  }

  async #openFlow(cookieHeader: string | undefined, orgId: string) {
    const invalid = () =>
      new AdminError(
        'unauthenticated',
        'single sign-on failed: this sign-in was not started here, was finished already, or took over 10 minutes; start again',
      );
    const sealed = readCookie(cookieHeader, OIDC_FLOW_COOKIE);
    if (!sealed || sealed.length > 4096) throw invalid();
    let payload: unknown;
    try {
      ({ payload } = await jwtDecrypt(sealed, this.#flowKey, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        currentDate: this.options.now(),
        requiredClaims: ['exp', 'iat', 'jti'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) throw invalid();
      throw error;
    }
    const flow = FlowClaims.extend({ exp: z.number() }).safeParse(payload);
    // Another org's flow (a cookie carried over) is refused like a forged one.
    if (!flow.success || flow.data.org !== orgId || this.#isSpent(flow.data.jti)) throw invalid();
    return flow.data;
  }

  #isSpent(flowId: string): boolean {
    const until = this.#spent.get(flowId);
    return until !== undefined && until > this.options.now().getTime();
  }

  #spend(flowId: string, expSeconds: number): void {
    const now = this.options.now().getTime();
    for (const [id, until] of this.#spent) {
      if (until <= now) this.#spent.delete(id);
      else break; // insertion order is close to expiry order
    }
    this.#spent.set(flowId, expSeconds * 1000);
    const max = this.options.maxSpent ?? 100_000;
    if (this.#spent.size > max) {
      const oldest = this.#spent.keys().next().value;
      if (oldest !== undefined) this.#spent.delete(oldest);
    }
  }
}

/** One cookie's value from a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return null;
}

/**
 * What is logged of a provider error: its kind and code, never a body (which could echo
 * request parameters) or a stack.
 */
function describe(error: unknown): { name: string; code?: string } | undefined {
  if (error === undefined) return undefined;
  if (error instanceof Error) {
    const code = (error as { code?: unknown; error?: unknown }).error ?? (error as { code?: unknown }).code;
    return { name: error.name, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: typeof error };
}
