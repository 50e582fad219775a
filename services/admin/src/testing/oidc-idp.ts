import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

/*
 * A real OpenID Connect provider (the `oidc-provider` package) on 127.0.0.1, for tests: its
 * development interactions accept any login as the account id; `accounts` says which e-mail
 * each account has and whether it is verified. It records the PKCE code verifiers it receives
 * at its token endpoint, so a test can check none of them ever leaves the admin API.
 */

export interface IdpAccount {
  email: string;
  emailVerified: boolean;
  name?: string;
}

export interface IdpClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface TestIdp {
  issuer: string;
  accounts: Map<string, IdpAccount>;
  /** `code_verifier` of every token request, in order. */
  codeVerifiers: string[];
  /**
   * `other`: the JWK Set names another key (same `kid`) than the one the ID tokens are signed
   * with, as a forged or tampered token would look to a client that checks signatures.
   */
  advertisedKey: 'own' | 'other';
  close(): Promise<void>;
}

export async function startTestIdp(clients: IdpClient[]): Promise<TestIdp> {
  const accounts = new Map<string, IdpAccount>();
  const codeVerifiers: string[] = [];
  let provider: Provider | undefined;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-key' };
  const other = await generateKeyPair('RS256', { extractable: true });
  const otherJwks = JSON.stringify({
    keys: [{ ...(await exportJWK(other.publicKey)), alg: 'RS256', use: 'sig', kid: 'test-key' }],
  });
  const server: Server = createServer((req, res) => {
    if (idp.advertisedKey === 'other' && req.url === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(otherJwks);
      return;
    }
    provider!.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  provider = new Provider(issuer, {
    clients: clients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: client.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [jwk as never] },
    cookies: { keys: ['test-idp-cookie-key-0123456789abcdef'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true } },
    findAccount: (_ctx: KoaContextWithOIDC, id: string) => {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: account.email,
          email_verified: account.emailVerified,
          ...(account.name ? { name: account.name } : {}),
        }),
      };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    const verifier = (ctx as KoaContextWithOIDC).oidc?.params?.code_verifier;
    if (ctx.path === '/token' && typeof verifier === 'string') codeVerifiers.push(verifier);
  });

  const idp: TestIdp = {
    issuer,
    accounts,
    codeVerifiers,
    advertisedKey: 'own',
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return idp;
}

/** Cookies of one origin, as a browser would keep them (path and expiry simplified). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const index = pair.indexOf('=');
      if (index <= 0) continue;
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired =
        value === '' ||
        attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) ||
        attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now());
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }
}
