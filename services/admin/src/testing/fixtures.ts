import { expectStatus, type TestAdmin, type TestOrg } from './harness.js';

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

export async function freshUser(admin: TestAdmin, org: TestOrg): Promise<string> {
  return (
    await boot(admin, 'POST', `/orgs/${org.slug}/users`, {
      email: `${unique('u')}@${org.slug}.test`,
      role: 'developer',
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

export async function freshApiToken(admin: TestAdmin, org: TestOrg): Promise<string> {
  return (await boot(admin, 'POST', `/orgs/${org.slug}/api-tokens`, { name: unique('t'), role: 'developer' }))
    .id;
}

/**
 * A valid call of `operationId` in `org`, as the user `self` (whose e-mail a developer may name).
 * `ids` replaces the entity ids (cross-tenant tests pass another org's).
 */
export async function callFor(
  admin: TestAdmin,
  operationId: string,
  org: TestOrg,
  self: { email: string },
  ids: Partial<Record<'user' | 'proxyKey' | 'providerKey' | 'apiToken', string>> = {},
  orgRef: string = org.slug,
): Promise<Call> {
  const o = `/orgs/${orgRef}`;
  const user = async () => ids.user ?? (await freshUser(admin, org));
  const proxyKey = async () => ids.proxyKey ?? (await freshProxyKey(admin, org, self.email));
  const providerKey = async () => ids.providerKey ?? (await freshProviderKey(admin, org));
  const apiToken = async () => ids.apiToken ?? (await freshApiToken(admin, org));
  switch (operationId) {
    case 'me':
      return { method: 'GET', path: '/me' };
    case 'login':
      return {
        method: 'POST',
        path: '/auth/login',
        body: { email: self.email, password: 'not the password' },
      };
    case 'refresh':
      return { method: 'POST', path: '/auth/refresh', body: { refreshToken: `krt_${'A'.repeat(43)}` } };
    case 'logout':
      return { method: 'POST', path: '/auth/logout' };
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
    default:
      throw new Error(`no fixture for ${operationId}: add one (every route must be in the matrix)`);
  }
}
