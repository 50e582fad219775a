import { type KordonEventData, kordonCatalogue, newEventId, streams } from '@kordon/events';
import { expectStatus, PASSWORD, type TestAdmin, type TestOrg } from './harness.js';

/*
 * A valid request for every route, made against fresh resources (created by the bootstrap
 * owner) so that each call can succeed when it is allowed and change nothing else.
 */

const V1 = '/admin/v1';
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${Date.now().toString(36)}`;

export interface Call {
  method: string;
  path: string;
  body?: unknown;
}

async function boot(admin: TestAdmin, method: string, path: string, body?: unknown) {
  const answer = await expectStatus(
    admin.request(method, `${V1}${path}`, {
      token: admin.adminToken,
      ...(body !== undefined ? { body } : {}),
    }),
    method === 'POST' && !path.endsWith('/revoke') ? 201 : 200,
  );
  return answer.body;
}

/** A new developer of the org; with `password`, one who signs in with it. */
export async function freshUser(admin: TestAdmin, org: TestOrg, password?: string): Promise<string> {
  return (
    await boot(admin, 'POST', `/orgs/${org.slug}/users`, {
      email: `${unique('u')}@${org.slug}.test`,
      role: 'developer',
      ...(password !== undefined ? { password } : {}),
    })
  ).id;
}

export async function freshProxyKey(admin: TestAdmin, org: TestOrg, ownerEmail: string): Promise<string> {
  return (
    await boot(admin, 'POST', `/orgs/${org.slug}/proxy-keys`, { userEmail: ownerEmail, name: unique('k') })
  ).id;
}

export async function ensureProvider(admin: TestAdmin, org: TestOrg): Promise<void> {
  await boot(admin, 'PUT', `/orgs/${org.slug}/providers/openai`, {
    type: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    models: ['gpt-4o*'],
  });
}

export async function freshProviderKey(admin: TestAdmin, org: TestOrg): Promise<string> {
  return (
    await boot(admin, 'POST', `/orgs/${org.slug}/provider-keys`, {
      provider: 'openai',
      name: unique('pk'),
      secret: `sk-proj-${unique('secret')}abcdefghijklmnop`,
    })
  ).id;
}

export async function freshTeam(admin: TestAdmin, org: TestOrg): Promise<string> {
  return (await boot(admin, 'POST', `/orgs/${org.slug}/teams`, { name: unique('team') })).id;
}

/** OIDC settings for the org (nothing is fetched from the issuer until someone signs in). */
export async function ensureOidc(admin: TestAdmin, org: TestOrg): Promise<void> {
  await boot(admin, 'PUT', `/orgs/${org.slug}/sso/oidc`, oidcSettings(org));
}

const oidcSettings = (org: TestOrg) => ({
  issuer: 'https://login.example.test/realms/staff',
  clientId: 'kordon-admin',
  clientSecret: 'fixture-client-secret-0123456789',
  allowedDomains: [`${org.slug}.test`],
  autoProvision: false,
});

export async function freshApiToken(admin: TestAdmin, org: TestOrg): Promise<string> {
  return (await boot(admin, 'POST', `/orgs/${org.slug}/api-tokens`, { name: unique('t'), role: 'developer' }))
    .id;
}

/** A request of `userId` in the org's request log (as the gateway would record it); its id. */
export async function freshRequest(
  admin: TestAdmin,
  org: { orgId: string },
  userId: string,
  data: Partial<KordonEventData<'RequestCompleted'>> = {},
  time?: Date,
): Promise<string> {
  const requestId = data.requestId ?? newEventId();
  const event = kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(org.orgId),
    {
      requestId,
      proxyKeyId: 'pxk_fixture',
      userId,
      teamId: null,
      provider: 'openai',
      providerKeyId: 'prk_fixture',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0 },
      cost: '0.0000036',
      currency: 'USD',
      latencyMs: 420,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp: '203.0.113.7',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
      ...data,
    },
    { orgId: org.orgId, actor: { kind: 'proxy-key', id: 'pxk_fixture' }, ...(time ? { time } : {}) },
  );
  const { lastPosition } = await admin.store.appendMany([event]);
  await admin.requestLog.waitFor(lastPosition, 10_000);
  return requestId;
}

/**
 * A valid call of `operationId` in `org`, as the user `self` (whose e-mail a developer may name).
 * `ids` replaces the entity ids (cross-tenant tests pass another org's).
 */
export async function callFor(
  admin: TestAdmin,
  operationId: string,
  org: TestOrg,
  self: { email: string; userId?: string },
  ids: Partial<Record<'user' | 'proxyKey' | 'providerKey' | 'apiToken' | 'request' | 'team', string>> = {},
  orgRef: string = org.slug,
): Promise<Call> {
  const o = `/orgs/${orgRef}`;
  const user = async () => ids.user ?? (await freshUser(admin, org));
  const proxyKey = async () => ids.proxyKey ?? (await freshProxyKey(admin, org, self.email));
  const providerKey = async () => ids.providerKey ?? (await freshProviderKey(admin, org));
  const apiToken = async () => ids.apiToken ?? (await freshApiToken(admin, org));
  const team = async () => ids.team ?? (await freshTeam(admin, org));
  const request = async () =>
    ids.request ?? (await freshRequest(admin, org, self.userId ?? (await freshUser(admin, org))));
  switch (operationId) {
    case 'me':
      return { method: 'GET', path: '/me' };
    case 'login':
      return {
        method: 'POST',
        path: '/auth/login',
        body: { email: self.email, password: 'not the password' },
      };
    case 'machineToken':
      return { method: 'POST', path: '/auth/token', body: { apiToken: `kat_${'A'.repeat(43)}` } };
    case 'refresh':
      return { method: 'POST', path: '/auth/refresh', body: { refreshToken: `krt_${'A'.repeat(43)}` } };
    case 'logout':
      return { method: 'POST', path: '/auth/logout' };
    case 'changePassword':
      return {
        method: 'POST',
        path: '/auth/password',
        body: { currentPassword: PASSWORD, newPassword: `${unique('New passphrase ')} and more` },
      };
    case 'listOrgs':
      return { method: 'GET', path: '/orgs' };
    case 'createOrg':
      return { method: 'POST', path: '/orgs', body: { slug: unique('org'), name: 'New org' } };
    case 'getOrg':
      return { method: 'GET', path: o };
    case 'listUsers':
      return { method: 'GET', path: `${o}/users` };
    case 'createUser':
      return {
        method: 'POST',
        path: `${o}/users`,
        body: { email: `${unique('n')}@${org.slug}.test`, role: 'developer' },
      };
    case 'getUser':
      return { method: 'GET', path: `${o}/users/${await user()}` };
    case 'changeUserRole':
      return { method: 'PUT', path: `${o}/users/${await user()}/role`, body: { role: 'developer' } };
    case 'resetUserPassword':
      return {
        method: 'PUT',
        path: `${o}/users/${ids.user ?? (await freshUser(admin, org, PASSWORD))}/password`,
        body: { password: `${unique('Reset passphrase ')} and more` },
      };
    case 'disableUser':
      return { method: 'POST', path: `${o}/users/${await user()}/disable`, body: {} };
    case 'listProxyKeys':
      return { method: 'GET', path: `${o}/proxy-keys` };
    case 'issueProxyKey':
      return { method: 'POST', path: `${o}/proxy-keys`, body: { userEmail: self.email, name: unique('k') } };
    case 'getProxyKey':
      return { method: 'GET', path: `${o}/proxy-keys/${await proxyKey()}` };
    case 'suspendProxyKey':
      return { method: 'POST', path: `${o}/proxy-keys/${await proxyKey()}/suspend`, body: {} };
    case 'reinstateProxyKey':
      return { method: 'POST', path: `${o}/proxy-keys/${await proxyKey()}/reinstate`, body: {} };
    case 'revokeProxyKey':
      return { method: 'POST', path: `${o}/proxy-keys/${await proxyKey()}/revoke`, body: {} };
    case 'listProviders':
      return { method: 'GET', path: `${o}/providers` };
    case 'getProvider':
      // ensureProvider gives each org an `openai` provider.
      return { method: 'GET', path: `${o}/providers/openai` };
    case 'configureProvider':
      return {
        method: 'PUT',
        path: `${o}/providers/${unique('p')}`,
        body: { type: 'openai', baseUrl: 'https://api.openai.com/v1', models: ['gpt-4o'] },
      };
    case 'listProviderKeys':
      return { method: 'GET', path: `${o}/provider-keys` };
    case 'providerKeyHealth':
      return { method: 'GET', path: `${o}/provider-keys/health` };
    case 'addProviderKey':
      return {
        method: 'POST',
        path: `${o}/provider-keys`,
        body: { provider: 'openai', name: unique('pk'), secret: 'sk-proj-abcdefghijklmnopqrstuvwxyz' },
      };
    case 'getProviderKey':
      return { method: 'GET', path: `${o}/provider-keys/${await providerKey()}` };
    case 'updateProviderKey':
      return { method: 'PATCH', path: `${o}/provider-keys/${await providerKey()}`, body: { weight: 2 } };
    case 'rotateProviderKey':
      return {
        method: 'POST',
        path: `${o}/provider-keys/${await providerKey()}/rotate`,
        body: { secret: 'sk-proj-rotatedabcdefghijklmnopq' },
      };
    case 'removeProviderKey':
      return { method: 'DELETE', path: `${o}/provider-keys/${await providerKey()}` };
    case 'listApiTokens':
      return { method: 'GET', path: `${o}/api-tokens` };
    case 'issueApiToken':
      return { method: 'POST', path: `${o}/api-tokens`, body: { name: unique('t'), role: 'developer' } };
    case 'revokeApiToken':
      return { method: 'POST', path: `${o}/api-tokens/${await apiToken()}/revoke`, body: {} };
    case 'listAudit':
      return { method: 'GET', path: `${o}/audit` };
    case 'getPrices':
      return { method: 'GET', path: `${o}/prices` };
    case 'setPrices':
      return {
        method: 'PUT',
        path: `${o}/prices`,
        body: {
          prices: [
            {
              model: 'gpt-4o-mini',
              effectiveFrom: '2026-01-01T00:00:00Z',
              input: String(Math.random()).slice(0, 6),
            },
          ],
        },
      };
    case 'listPolicies':
      return { method: 'GET', path: `${o}/policies` };
    case 'getPolicy':
      return { method: 'GET', path: `${o}/policies/user/${await user()}` };
    case 'setPolicy':
      return {
        method: 'PUT',
        path: `${o}/policies/proxy-key/${await proxyKey()}`,
        body: { limits: { rpm: 5 + Math.floor(Math.random() * 1000) } },
      };
    case 'listRequests':
      return { method: 'GET', path: `${o}/requests` };
    case 'getRequest':
      return { method: 'GET', path: `${o}/requests/${await request()}` };
    case 'getSpend':
      return { method: 'GET', path: `${o}/spend?groupBy=day,model` };
    case 'getLoggingPolicy':
      return { method: 'GET', path: `${o}/logging` };
    case 'setLoggingPolicy':
      return {
        method: 'PUT',
        path: `${o}/logging`,
        body: { bodies: 'redacted', retentionDays: 1 + Math.floor(Math.random() * 3000) },
      };
    case 'eraseLoggedText':
      return { method: 'POST', path: `${o}/logging/erase`, body: {} };
    case 'listTeams':
      return { method: 'GET', path: `${o}/teams` };
    case 'createTeam':
      return { method: 'POST', path: `${o}/teams`, body: { name: unique('team') } };
    case 'getTeam':
      return { method: 'GET', path: `${o}/teams/${await team()}` };
    case 'addTeamMember':
      return { method: 'PUT', path: `${o}/teams/${await team()}/members/${await user()}` };
    case 'removeTeamMember': {
      if (ids.team !== undefined || ids.user !== undefined)
        return { method: 'DELETE', path: `${o}/teams/${await team()}/members/${await user()}` };
      const [teamId, userId] = [await team(), await user()];
      await boot(admin, 'PUT', `/orgs/${org.slug}/teams/${teamId}/members/${userId}`);
      return { method: 'DELETE', path: `${o}/teams/${teamId}/members/${userId}` };
    }
    case 'listInvitations':
      return { method: 'GET', path: `${o}/invitations` };
    case 'inviteUser':
      return {
        method: 'POST',
        path: `${o}/invitations`,
        body: { email: `${unique('i')}@${org.slug}.test`, role: 'developer' },
      };
    case 'acceptInvitation':
      return {
        method: 'POST',
        path: '/auth/accept-invitation',
        body: { token: `kin_${'A'.repeat(43)}`, password: 'a long and Random passphrase 42' },
      };
    case 'getOidc':
      await ensureOidc(admin, org);
      return { method: 'GET', path: `${o}/sso/oidc` };
    case 'setOidc':
      return { method: 'PUT', path: `${o}/sso/oidc`, body: oidcSettings(org) };
    case 'oidcLogin':
      return { method: 'GET', path: `/auth/oidc/${orgRef}/login` };
    case 'oidcCallback':
      return { method: 'GET', path: `/auth/oidc/${orgRef}/callback?code=x&state=y` };
    default:
      throw new Error(`no fixture for ${operationId}: add one (every route must be in the matrix)`);
  }
}
