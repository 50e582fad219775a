import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kordonCatalogue } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { OIDC_FLOW_COOKIE } from '../auth/oidc.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';
import { CookieJar, startTestIdp, type TestIdp } from '../testing/oidc-idp.js';
import type { AdminLogger } from './deps.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

/*
 * Single sign-on against a real OpenID Connect provider (oidc-provider on 127.0.0.1), driven
 * over HTTP as a browser would: our login redirect, the provider's login and consent forms,
 * the provider's redirect back to our callback.
 */
describe('OIDC single sign-on', { skip }, () => {
  let admin: TestAdmin;
  let idp: TestIdp;
  let a: TestOrg;
  let b: TestOrg;
  /** The admin API's clock runs `offset` ms ahead of the real one. */
  let offset = 0;
  const logged: unknown[] = [];
  /** Every answer the admin API gave in the flows: bodies and headers, to search for secrets. */
  const answers: string[] = [];
  const logger: AdminLogger = {
    info: (object, message) => logged.push({ object, message }),
    warn: (object, message) => logged.push({ object, message }),
    error: (object, message) => logged.push({ object, message }),
  };
  const SECRET_A = 'client-secret-of-org-a-0123456789abcdef';
  const SECRET_B = 'client-secret-of-org-b-0123456789abcdef';
  const SECRET_LATE = 'client-secret-of-org-late-0123456789abc';
  const SECRET_FORGED = 'client-secret-of-org-forged-0123456789a';

  before(async () => {
    const started = await startTestAdmin({ now: () => new Date(Date.now() + offset), logger });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    const callback = (slug: string) => `${admin.url}${V1}/auth/oidc/${slug}/callback`;
    idp = await startTestIdp([
      { clientId: 'kordon-a', clientSecret: SECRET_A, redirectUris: [callback('sso-a')] },
      { clientId: 'kordon-b', clientSecret: SECRET_B, redirectUris: [callback('sso-b')] },
      { clientId: 'kordon-late', clientSecret: SECRET_LATE, redirectUris: [callback('sso-late')] },
      { clientId: 'kordon-forged', clientSecret: SECRET_FORGED, redirectUris: [callback('sso-forged')] },
    ]);
    a = await createOrgWithRoles(admin, 'sso-a');
    b = await createOrgWithRoles(admin, 'sso-b');
    await createOrgWithRoles(admin, 'sso-late');
    await createOrgWithRoles(admin, 'sso-forged');
    const configure = async (
      org: string,
      clientId: string,
      clientSecret: string,
      domains: string[],
      auto: boolean,
    ) =>
      expectStatus(
        admin.request('PUT', `${V1}/orgs/${org}/sso/oidc`, {
          token: admin.adminToken,
          body: { issuer: idp.issuer, clientId, clientSecret, allowedDomains: domains, autoProvision: auto },
        }),
        200,
      );
    await configure('sso-a', 'kordon-a', SECRET_A, ['sso-a.test', 'shared.test'], false);
    await configure('sso-b', 'kordon-b', SECRET_B, ['sso-b.test', 'shared.test'], true);
    await configure('sso-late', 'kordon-late', SECRET_LATE, ['sso-late.test'], false);
    await configure('sso-forged', 'kordon-forged', SECRET_FORGED, ['sso-forged.test'], true);
    // A person of org B only, with an e-mail domain org A allows as well.
    await expectStatus(
      admin.request('POST', `${V1}/orgs/sso-b/users`, {
        token: admin.adminToken,
        body: { email: 'pat@shared.test', role: 'admin' },
      }),
      201,
    );
    const accounts: [string, string, boolean][] = [
      ['dev-a', 'developer@sso-a.test', true],
      ['owner-a', 'Owner@SSO-A.test', true],
      ['newcomer-a', 'newcomer@sso-a.test', true],
      ['newcomer-b', 'newcomer@sso-b.test', true],
      ['unverified-b', 'unverified@sso-b.test', false],
      ['foreign', 'someone@elsewhere.test', true],
      ['pat', 'pat@shared.test', true],
      ['late', 'auditor@sso-late.test', true],
      ['forged', 'someone@sso-forged.test', true],
    ];
    for (const [id, email, emailVerified] of accounts)
      idp.accounts.set(id, { email, emailVerified, name: id });
  });
  after(async () => {
    await admin?.close();
    await idp?.close();
  });

  const record = async (response: Response) => {
    const text = await response.text();
    answers.push(JSON.stringify([...response.headers]), text);
    return text;
  };

  interface Flow {
    /** Our callback URL as the provider redirected to it. */
    callbackUrl: URL;
    /** `name=value` of our flow cookie. */
    flowCookie: string;
  }

  /** From our login redirect through the provider's forms to its redirect back to us. */
  async function throughProvider(
    org: string,
    account: string,
    tamperAuthUrl?: (url: URL) => void,
  ): Promise<Flow> {
    const start = await fetch(`${admin.url}${V1}/auth/oidc/${org}/login`, { redirect: 'manual' });
    await record(start);
    assert.equal(start.status, 302, 'login redirects');
    const setCookie = start.headers.getSetCookie().find((c) => c.startsWith(`${OIDC_FLOW_COOKIE}=`));
    assert.ok(setCookie, 'the flow cookie is set');
    // Scoped to the org's OIDC path (by slug, like the redirect URI), short-lived, out of scripts' reach.
    assert.match(
      setCookie,
      new RegExp(`; Path=${V1}/auth/oidc/[a-z0-9-]+/; Max-Age=600; HttpOnly; SameSite=Lax$`),
    );
    const flowCookie = setCookie.split(';')[0]!;
    let next = new URL(start.headers.get('location')!);
    assert.equal(next.origin, idp.issuer);
    assert.equal(next.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(!next.searchParams.has('code_verifier'));
    tamperAuthUrl?.(next);
    const jar = new CookieJar();
    for (let hop = 0; hop < 12; hop++) {
      const response = await fetch(next, { redirect: 'manual', headers: { cookie: jar.header() } });
      jar.take(response);
      if (response.status >= 300 && response.status < 400) {
        await response.arrayBuffer();
        const location = new URL(response.headers.get('location')!, next);
        if (location.origin === admin.url) return { callbackUrl: location, flowCookie };
        next = location;
        continue;
      }
      const html = await response.text();
      assert.equal(response.status, 200, html.slice(0, 500));
      const prompt = html.includes('name="prompt" value="login"') ? 'login' : 'consent';
      const form = new URLSearchParams(
        prompt === 'login' ? { prompt, login: account, password: 'any' } : { prompt },
      );
      const submitted = await fetch(next, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      jar.take(submitted);
      await submitted.arrayBuffer();
      assert.ok(submitted.status >= 300 && submitted.status < 400, `${prompt} answered ${submitted.status}`);
      next = new URL(submitted.headers.get('location')!, next);
    }
    throw new Error('the provider never redirected back');
  }

  async function callback(flow: Flow, cookie = flow.flowCookie) {
    const response = await fetch(flow.callbackUrl, { redirect: 'manual', headers: { cookie } });
    const text = await record(response);
    return {
      status: response.status,
      headers: response.headers,
      body: /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text,
    };
  }

  /** Why the last failure failed, as logged (the provider error's code, never its body). */
  const lastCause = () =>
    (logged.at(-1) as { object: { cause?: { code?: string } } } | undefined)?.object.cause?.code;

  const signIn = async (org: string, account: string) => callback(await throughProvider(org, account));
  const eventsOf = async (type: string) =>
    (await admin.store.readAll({ after: 0, maxCount: 1_000_000 })).filter((e) => e.type === type);

  it('signs a user of the org in: the same tokens as a password sign-in, method sso', async () => {
    const answer = await signIn('sso-a', 'dev-a');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.tokenType, 'Bearer');
    assert.equal(answer.body.user.id, a.users.developer.userId);
    assert.match(answer.headers.get('set-cookie') ?? '', new RegExp(`^${OIDC_FLOW_COOKIE}=; .*Max-Age=0`));
    const me = await expectStatus(admin.request('GET', `${V1}/me`, { token: answer.body.accessToken }), 200);
    assert.equal(me.body.email, 'developer@sso-a.test');
    assert.deepEqual(me.body.roles, ['developer']);
    await expectStatus(admin.request('GET', `${V1}/orgs/sso-a`, { token: answer.body.accessToken }), 200);
    assert.equal(
      (await admin.request('GET', `${V1}/orgs/sso-b`, { token: answer.body.accessToken })).status,
      404,
    );
    const refreshed = await expectStatus(
      admin.request('POST', `${V1}/auth/refresh`, { body: { refreshToken: answer.body.refreshToken } }),
      200,
    );
    assert.ok(refreshed.body.accessToken);
    const sessions = (await eventsOf('SessionStarted')).map((e) => kordonCatalogue.decode(e));
    const sso = sessions.filter((e) => e.type === 'SessionStarted' && e.data.method === 'sso');
    assert.equal(sso.length, 1);
  });

  it('matches the e-mail whatever its case; signing in through the org id works too', async () => {
    const answer = await signIn('sso-a', 'owner-a');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.user.id, a.users.owner.userId);
    const flow = await throughProvider(a.orgId, 'dev-a');
    assert.equal(flow.callbackUrl.pathname, `${V1}/auth/oidc/sso-a/callback`, 'the registered redirect URI');
    assert.equal((await callback(flow)).status, 200);
  });

  it('creates a first-time person as a developer when the org allows it, once', async () => {
    const first = await signIn('sso-b', 'newcomer-b');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.user.role, 'developer');
    const second = await signIn('sso-b', 'newcomer-b');
    assert.equal(second.body.user.id, first.body.user.id);
    const joined = (await eventsOf('UserJoined'))
      .map((e) => kordonCatalogue.decode(e))
      .filter((e) => e.type === 'UserJoined' && e.data.email === 'newcomer@sso-b.test');
    assert.equal(joined.length, 1);
    assert.equal(joined[0]!.type === 'UserJoined' && joined[0]!.data.method, 'sso');
  });

  it('refuses a person who is no user of an org without auto-provisioning, and creates nobody', async () => {
    const answer = await signIn('sso-a', 'newcomer-a');
    assert.equal(answer.status, 401);
    assert.match(answer.body.detail, /not a user of this org/);
    const users = await expectStatus(
      admin.request('GET', `${V1}/orgs/sso-a/users`, { token: a.users.owner.token }),
      200,
    );
    assert.ok(!users.body.items.some((u: { email: string }) => u.email === 'newcomer@sso-a.test'));
  });

  it('refuses a user of another org, even from a domain both allow', async () => {
    const answer = await signIn('sso-a', 'pat');
    assert.equal(answer.status, 401);
    const inB = await signIn('sso-b', 'pat');
    assert.equal(inB.status, 200, 'in their own org they sign in');
    assert.equal(inB.body.user.orgId, b.orgId);
  });

  it('refuses an unverified e-mail and a foreign domain, even with auto-provisioning', async () => {
    const unverified = await signIn('sso-b', 'unverified-b');
    assert.equal(unverified.status, 401);
    assert.match(unverified.body.detail, /not verified/);
    const foreign = await signIn('sso-b', 'foreign');
    assert.equal(foreign.status, 401);
    assert.match(foreign.body.detail, /domain/);
    const joined = (await eventsOf('UserJoined')).map((e) => JSON.stringify(e.data));
    assert.ok(!joined.some((d) => d.includes('unverified@') || d.includes('elsewhere.test')));
  });

  it('refuses a wrong state or issuer: a changed one, and another org’s flow cookie', async () => {
    const flow = await throughProvider('sso-a', 'dev-a');
    flow.callbackUrl.searchParams.set('state', 'not-the-state');
    assert.equal((await callback(flow)).status, 401);
    assert.equal(lastCause(), 'OAUTH_INVALID_RESPONSE', 'the state does not match');
    const mixUp = await throughProvider('sso-a', 'dev-a');
    mixUp.callbackUrl.searchParams.set('iss', 'https://another-provider.example');
    assert.equal((await callback(mixUp)).status, 401, 'an answer naming another issuer');

    const flowA = await throughProvider('sso-a', 'dev-a');
    const flowB = await throughProvider('sso-b', 'newcomer-b');
    const crossed = await callback(flowA, flowB.flowCookie);
    assert.equal(crossed.status, 401, "org B's flow at org A's callback");
    assert.equal((await callback(flowA, '')).status, 401, 'no cookie');
    assert.equal(
      (await callback(flowA, `${OIDC_FLOW_COOKIE}=eyJhbGciOiJkaXIi.x.y.z.w`)).status,
      401,
      'forged',
    );
  });

  it('refuses a replayed code, and starts no second session', async () => {
    const flow = await throughProvider('sso-a', 'dev-a');
    const before = (await eventsOf('SessionStarted')).length;
    assert.equal((await callback(flow)).status, 200);
    const replay = await callback(flow);
    assert.equal(replay.status, 401);
    assert.equal((await eventsOf('SessionStarted')).length, before + 1);
  });

  it('refuses an ID token for another nonce', async () => {
    const flow = await throughProvider('sso-a', 'dev-a', (url) =>
      url.searchParams.set('nonce', 'someone-elses-nonce'),
    );
    const answer = await callback(flow);
    assert.equal(answer.status, 401);
    assert.match(answer.body.detail, /did not check out/);
    assert.equal(lastCause(), 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'the nonce claim');
  });

  it('refuses an expired ID token', async () => {
    // This org's first discovery happens two hours ahead: tokens the provider makes now have expired then.
    offset = 2 * 3_600_000;
    try {
      const answer = await signIn('sso-late', 'late');
      assert.equal(answer.status, 401);
      assert.match(answer.body.detail, /did not check out/);
      assert.equal(lastCause(), 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'the exp claim');
    } finally {
      offset = 0;
    }
  });

  it("refuses an ID token whose signature is not by a key of the provider's JWK Set", async () => {
    // This org's first sign-in reads the provider's keys while they name another key: to
    // Kordon, every token the provider signs looks forged. Nobody is created or signed in.
    const sessions = (await eventsOf('SessionStarted')).length;
    const users = (await eventsOf('UserJoined')).length;
    idp.advertisedKey = 'other';
    try {
      const answer = await signIn('sso-forged', 'forged');
      assert.equal(answer.status, 401);
      assert.match(answer.body.detail, /did not check out/);
      // openid-client's code for an answer that fails a check ("JWT signature verification
      // failed" in its message, which is not logged).
      assert.equal(lastCause(), 'OAUTH_INVALID_RESPONSE');
    } finally {
      idp.advertisedKey = 'own';
    }
    assert.equal((await eventsOf('SessionStarted')).length, sessions);
    assert.equal((await eventsOf('UserJoined')).length, users);
  });

  it('refuses a flow older than 10 minutes', async () => {
    const flow = await throughProvider('sso-a', 'dev-a');
    offset = 11 * 60_000;
    try {
      assert.equal((await callback(flow)).status, 401);
    } finally {
      offset = 0;
    }
  });

  it("no login without single sign-on, 503 while the provider is down; the provider's error is reported", async () => {
    await createOrgWithRoles(admin, 'no-sso');
    const login = await fetch(`${admin.url}${V1}/auth/oidc/no-sso/login`, { redirect: 'manual' });
    assert.equal(login.status, 404);
    await login.arrayBuffer();
    // A provider that cannot be reached: 503, nothing cached, no cookie.
    await expectStatus(
      admin.request('PUT', `${V1}/orgs/no-sso/sso/oidc`, {
        token: admin.adminToken,
        body: {
          issuer: 'http://127.0.0.1:1',
          clientId: 'x',
          clientSecret: 'y',
          allowedDomains: ['no-sso.test'],
          autoProvision: false,
        },
      }),
      200,
    );
    const down = await fetch(`${admin.url}${V1}/auth/oidc/no-sso/login`, { redirect: 'manual' });
    assert.equal(down.status, 503);
    assert.equal(down.headers.getSetCookie().length, 0);
    await down.arrayBuffer();
    const flow = await throughProvider('sso-a', 'dev-a');
    const denied = new URL(flow.callbackUrl);
    denied.search = new URLSearchParams({
      error: 'access_denied',
      state: flow.callbackUrl.searchParams.get('state')!,
      iss: idp.issuer,
    }).toString();
    const answer = await callback({ ...flow, callbackUrl: denied });
    assert.equal(answer.status, 401);
    assert.match(answer.body.detail, /access_denied/);
  });

  it('settings: owners only, the secret never returned; no secret or verifier in any answer or log', async () => {
    const read = await expectStatus(
      admin.request('GET', `${V1}/orgs/sso-a/sso/oidc`, { token: a.users.auditor.token }),
      200,
    );
    assert.equal(read.body.hasClientSecret, true);
    assert.equal(read.body.redirectUri, `${admin.url}${V1}/auth/oidc/sso-a/callback`);
    answers.push(read.text);
    const byAdmin = await admin.request('PUT', `${V1}/orgs/sso-a/sso/oidc`, {
      token: a.users.admin.token,
      body: { issuer: idp.issuer, clientId: 'x', allowedDomains: ['sso-a.test'], autoProvision: true },
    });
    assert.equal(byAdmin.status, 403, 'an admin may not set who signs in');
    const http = await admin.request('PUT', `${V1}/orgs/sso-a/sso/oidc`, {
      token: a.users.owner.token,
      body: {
        issuer: 'http://login.example.test',
        clientId: 'x',
        allowedDomains: ['sso-a.test'],
        autoProvision: false,
      },
    });
    assert.equal(http.status, 400, 'plain http only on a loopback address');
    // Without a new secret the current one is kept.
    const kept = await expectStatus(
      admin.request('PUT', `${V1}/orgs/sso-a/sso/oidc`, {
        token: a.users.owner.token,
        body: {
          issuer: idp.issuer,
          clientId: 'kordon-a',
          allowedDomains: ['sso-a.test', 'shared.test'],
          autoProvision: false,
        },
      }),
      200,
    );
    answers.push(kept.text);
    assert.equal((await signIn('sso-a', 'dev-a')).status, 200, 'the kept secret still works (new discovery)');

    assert.ok(idp.codeVerifiers.length >= 5, 'the provider saw the verifiers');
    const audit = await expectStatus(
      admin.request('GET', `${V1}/orgs/sso-a/audit?action=OidcConfigured`, { token: a.users.owner.token }),
      200,
    );
    assert.ok(audit.body.items.length >= 2);
    const seen = [...answers, audit.text, JSON.stringify(logged)].join('\n');
    assert.ok(logged.length > 0, 'refusals were logged');
    for (const secret of [SECRET_A, SECRET_B, SECRET_LATE, ...idp.codeVerifiers]) {
      assert.ok(!seen.includes(secret), `a secret or verifier leaked: ${secret.slice(0, 6)}…`);
    }
    const log = JSON.stringify(await admin.store.readAll({ after: 0, maxCount: 1_000_000 }));
    for (const secret of [SECRET_A, SECRET_B, ...idp.codeVerifiers]) assert.ok(!log.includes(secret));
  });
});
