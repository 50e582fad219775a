import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase } from '@kordon/events/testing';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const PASSWORD = 'a long and Random passphrase 42';
const OPENAI_KEY = 'sk-proj-scopingAAAA1abcdefghijklmnopqrstuvwxyz01';
const MODEL = 'gpt-4o-mini';
const ROLES = ['owner', 'admin', 'finance', 'developer', 'auditor'] as const;
type Role = (typeof ROLES)[number];

/**
 * What each role reaches through the admin API (/admin/v1), over real HTTP against a Kordon
 * started like the other e2e tests: a right a role lacks stays out of reach by every route.
 */
describe('admin API: what each role reaches', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let k: KordonUnderTest;
  let mock: MockServer;
  let drop: () => Promise<void>;
  const adminToken = randomBytes(32).toString('base64url');
  const tokens = {} as Record<Role, string>;
  const userIds = {} as Record<Role, string>;
  let apiTokenId: string;
  let ownerKeySecret: string;

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${k.url}/admin/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const json: unknown = response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null;
    return { status: response.status, text, json };
  };

  before(async () => {
    const database = await createTestDatabase();
    if (!database) throw new Error('KORDON_TEST_DATABASE_URL is not set');
    drop = database.drop;
    mock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    k = await startKordonUnderTest(
      `orgs:
  - slug: seed
    name: Seed
    providers: []
`,
      { KORDON_DATABASE_URL: database.url, KORDON_ADMIN_TOKEN: adminToken },
      { orgSlug: 'seed' },
    );
    const created = await call('POST', '/orgs', adminToken, { slug: 'acme', name: 'Acme' });
    assert.equal(created.status, 201, created.text);
    for (const role of ROLES) {
      const user = await call('POST', '/orgs/acme/users', adminToken, {
        email: `${role}@acme.test`,
        role,
        password: PASSWORD,
      });
      assert.equal(user.status, 201, user.text);
      userIds[role] = (user.json as { id: string }).id;
      const login = await fetch(`${k.url}/admin/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${role}@acme.test`, password: PASSWORD, org: 'acme' }),
      });
      assert.equal(login.status, 200);
      tokens[role] = ((await login.json()) as { accessToken: string }).accessToken;
    }
    const api = await call('POST', '/orgs/acme/api-tokens', tokens.owner, { name: 'ci', role: 'auditor' });
    assert.equal(api.status, 201, api.text);
    apiTokenId = (api.json as { id: string }).id;
    const provider = await call('PUT', '/orgs/acme/providers/openai', tokens.owner, {
      type: 'openai',
      baseUrl: `${mock.url}/v1`,
      models: [MODEL],
    });
    assert.equal(provider.status, 200, provider.text);
    const providerKey = await call('POST', '/orgs/acme/provider-keys', tokens.owner, {
      provider: 'openai',
      name: 'k1',
      secret: OPENAI_KEY,
    });
    assert.equal(providerKey.status, 201, providerKey.text);
    const issued = await call('POST', '/orgs/acme/proxy-keys', tokens.owner, {
      userEmail: 'owner@acme.test',
      name: 'laptop',
    });
    assert.equal(issued.status, 201, issued.text);
    ownerKeySecret = (issued.json as { secret: string }).secret;
  });
  after(async () => {
    await k?.stop();
    await mock?.close();
    await drop?.();
  });

  it('finance, without sso.read or apiToken.read, reads neither SSO settings nor machine tokens in the audit log', async () => {
    const sso = await call('PUT', '/orgs/acme/sso/oidc', tokens.owner, {
      issuer: 'https://login.acme-idp.test',
      clientId: 'acme-kordon-client-7f3a',
      clientSecret: 'oidc-client-secret-value-0123456789',
      allowedDomains: ['acme.test'],
      autoProvision: false,
    });
    assert.equal(sso.status, 200, sso.text);
    // The routes refuse finance, as the permission table says.
    assert.equal((await call('GET', '/orgs/acme/sso/oidc', tokens.finance)).status, 403);
    assert.equal((await call('GET', '/orgs/acme/api-tokens', tokens.finance)).status, 403);

    // The audit log (audit.read, which finance holds) keeps the entries but not those details.
    const json = await call('GET', '/orgs/acme/audit?limit=200', tokens.finance);
    assert.equal(json.status, 200, json.text);
    const csv = await call('GET', '/orgs/acme/audit?format=csv', tokens.finance);
    assert.equal(csv.status, 200, csv.text);
    for (const [label, text] of [
      ['json', json.text],
      ['csv', csv.text],
    ] as const) {
      assert.ok(!text.includes('acme-kordon-client-7f3a'), `${label}: finance sees the SSO client id`);
      assert.ok(!text.includes('login.acme-idp.test'), `${label}: finance sees the SSO issuer`);
      assert.ok(!text.includes(apiTokenId), `${label}: finance sees the machine token's id`);
      assert.ok(!text.includes('oidc-client-secret-value'), `${label}: the client secret`);
    }
    type Entry = { action: string; subject: { type: string; id: string | null }; after: unknown };
    const items = (json.json as { items: Entry[] }).items;
    const configured = items.find((entry) => entry.action === 'OidcConfigured');
    assert.ok(configured, 'the OidcConfigured entry stays');
    assert.equal((configured.after as { slug?: string }).slug, 'acme', 'the rest of the org snapshot stays');
    const issued = items.find((entry) => entry.action === 'ApiTokenIssued');
    assert.deepEqual(issued && [issued.subject, issued.after], [{ type: 'api-token', id: null }, null]);

    // Those who may read them elsewhere still read them in the audit log.
    for (const role of ['owner', 'admin', 'auditor'] as const) {
      const full = await call('GET', '/orgs/acme/audit?limit=200', tokens[role]);
      assert.ok(full.text.includes('acme-kordon-client-7f3a'), `${role} reads the SSO settings`);
      assert.ok(full.text.includes(apiTokenId), `${role} reads the machine tokens`);
      assert.ok(!full.text.includes('oidc-client-secret-value'), `${role}: the client secret`);
    }
  });

  it("finance, without apiToken.read, does not learn a machine token's id from invitations", async () => {
    const machine = await call('POST', '/orgs/acme/api-tokens', tokens.owner, {
      name: 'onboarding',
      role: 'admin',
    });
    assert.equal(machine.status, 201, machine.text);
    const { id: machineId, token: machineToken } = machine.json as { id: string; token: string };
    const invited = await call('POST', '/orgs/acme/invitations', machineToken, {
      email: 'new-hire@acme.test',
      role: 'developer',
    });
    assert.equal(invited.status, 201, invited.text);

    // Finance lists invitations (user.read) but may not see machine tokens, as in the audit log.
    type Invitation = { email: string; invitedBy: { kind: string; id: string | null } };
    const listed = await call('GET', '/orgs/acme/invitations', tokens.finance);
    assert.equal(listed.status, 200, listed.text);
    assert.ok(!listed.text.includes(machineId), "finance sees the machine token's id");
    const pending = (listed.json as { items: Invitation[] }).items.find(
      (i) => i.email === 'new-hire@acme.test',
    );
    assert.deepEqual(pending?.invitedBy, { kind: 'api-token', id: null });

    for (const role of ['owner', 'admin', 'auditor'] as const) {
      const full = await call('GET', '/orgs/acme/invitations', tokens[role]);
      assert.ok(full.text.includes(machineId), `${role} reads the machine token's id`);
    }
  });

  it('an admin cannot set the limits of an owner, as they can neither change nor disable one', async () => {
    const ownerPolicy = `/orgs/acme/policies/user/${userIds.owner}`;
    // Limits that would lock the owner out of the data plane: only an address nobody has may call.
    const lockOut = { limits: { ipAllow: ['192.0.2.1/32'] } };
    const refused = await call('PUT', ownerPolicy, tokens.admin, lockOut);
    assert.equal(refused.status, 403, refused.text);
    assert.equal((refused.json as { code: string }).code, 'not_allowed_for_you');
    const chat = await fetch(`${k.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerKeySecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 }),
    });
    await chat.arrayBuffer();
    assert.equal(chat.status, 200, "the owner's own key still serves");

    // An admin still limits those whose rights they hold; the owner limits anyone.
    const onDeveloper = await call('PUT', `/orgs/acme/policies/user/${userIds.developer}`, tokens.admin, {
      limits: { rpm: 100 },
    });
    assert.equal(onDeveloper.status, 200, onDeveloper.text);
    const byOwner = await call('PUT', `/orgs/acme/policies/user/${userIds.admin}`, tokens.owner, {
      limits: { rpm: 100 },
    });
    assert.equal(byOwner.status, 200, byOwner.text);
  });
});
