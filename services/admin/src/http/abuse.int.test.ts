import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kordonCatalogue, streams } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import fc from 'fast-check';
import { isSubset, ROLES, type Role, rightsOf } from '../rbac/permissions.js';
import { callFor, ensureProvider, freshUser } from '../testing/fixtures.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';
import { newPassport } from './passport.js';
import { adminRoutes } from './routes/index.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;

describe('admin API abuse', { skip }, () => {
  /* Bad input and abuse: mass assignment, privilege escalation, SQL injection. */

  const ROUTES = adminRoutes(newPassport());
  let admin: TestAdmin;
  let acme: TestOrg;
  const V1 = '/admin/v1';

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    await ensureProvider(admin, acme);
    // The developer's own policy, as the config file would set it: what their keys are bounded by.
    const dev = acme.users.developer;
    const stream = streams.user(acme.orgId, dev.userId);
    const policy = kordonCatalogue.create(
      'PolicySet',
      stream,
      { scope: 'user', scopeId: dev.userId, limits: { rpm: 50, models: ['gpt-4o*'] } },
      { orgId: acme.orgId, actor: { kind: 'config', id: 'config-file' } },
    );
    await admin.store.append(stream, [policy], 'stream-exists');
    for (let i = 0; i < 200 && admin.api.view().policies.size === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
  });
  after(() => admin?.close());

  const head = () => admin.store.headPosition();

  describe('mass assignment', () => {
    const EXTRA: Record<string, unknown>[] = [
      { orgId: 'org_someone_else' },
      { id: 'chosen-id' },
      { userId: 'usr_x' },
      { owner: true },
      { roles: ['owner'] },
      { createdBy: { kind: 'system', id: 'x' } },
      { hash: 'a'.repeat(64) },
      { status: 'active' },
      JSON.parse('{"__proto__": {"isAdmin": true}}'),
      { constructor: { prototype: { isAdmin: true } } },
    ];
    for (const route of ROUTES.filter((r) => r.body)) {
      it(`${route.operationId} refuses every field it does not declare, and writes nothing`, async () => {
        for (const extra of EXTRA) {
          const call = await callFor(admin, route.operationId, acme, acme.users.owner);
          const token =
            route.access === 'public'
              ? undefined
              : route.operationId === 'createOrg'
                ? admin.adminToken
                : acme.users.owner.token;
          const body = call.body as object;
          const before = await head();
          const raw = `${JSON.stringify(body).slice(0, -1)}${Object.keys(body).length ? ',' : ''}${JSON.stringify(extra).slice(1)}`;
          const answer = await admin.request(call.method, `${V1}${call.path}`, {
            token,
            rawBody: raw,
            headers: { 'content-type': 'application/json' },
          });
          assert.equal(
            answer.status,
            400,
            `${JSON.stringify(extra)}: ${answer.status} ${answer.text.slice(0, 200)}`,
          );
          assert.equal(answer.body.code, 'validation_failed');
          assert.equal(await head(), before, 'nothing was appended');
        }
      });
    }
    it('query strings are strict too', async () => {
      const answer = await admin.request('GET', `${V1}/orgs/acme/users?role=owner`, {
        token: acme.users.owner.token,
      });
      assert.equal(answer.status, 400);
    });
  });

  describe('privilege escalation (property, over HTTP)', () => {
    it('no principal creates a user, token or key with more rights, budget, models or expiry than its own', async () => {
      const principals = ROLES.map((role) => ({ role, ...acme.users[role] }));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...principals),
          fc.constantFrom<Role>(...ROLES),
          fc.constantFrom('createUser', 'changeUserRole', 'issueApiToken', 'issueProxyKey'),
          fc.record(
            {
              rpm: fc.integer({ min: 1, max: 200 }),
              models: fc.uniqueArray(fc.constantFrom('gpt-4o', 'gpt-4o*', 'claude-3'), {
                minLength: 1,
                maxLength: 2,
              }),
            },
            { requiredKeys: [] },
          ),
          async (principal, role, action, limits) => {
            const rights = rightsOf(principal.role);
            let answer: Awaited<ReturnType<TestAdmin['request']>>;
            switch (action) {
              case 'createUser':
                answer = await admin.request('POST', `${V1}/orgs/acme/users`, {
                  token: principal.token,
                  body: { email: `prop-${Math.random().toString(36).slice(2)}@acme.test`, role },
                });
                if (answer.status === 201)
                  assert.ok(isSubset(rightsOf(answer.body.role), rights), `${principal.role} made ${role}`);
                break;
              case 'changeUserRole': {
                const target = await freshUser(admin, acme);
                answer = await admin.request('PUT', `${V1}/orgs/acme/users/${target}/role`, {
                  token: principal.token,
                  body: { role },
                });
                if (answer.status === 200)
                  assert.ok(isSubset(rightsOf(role), rights), `${principal.role} granted ${role}`);
                break;
              }
              case 'issueApiToken':
                answer = await admin.request('POST', `${V1}/orgs/acme/api-tokens`, {
                  token: principal.token,
                  body: { name: 'prop', role },
                });
                if (answer.status === 201)
                  assert.ok(isSubset(rightsOf(answer.body.role), rights), `${principal.role} issued ${role}`);
                break;
              default:
                answer = await admin.request('POST', `${V1}/orgs/acme/proxy-keys`, {
                  token: principal.token,
                  body: { userEmail: principal.email, name: 'prop', limits },
                });
                // The developer's own policy (set below) bounds what the key may have.
                if (answer.status === 201 && principal.role === 'developer') {
                  assert.ok((answer.body.limits.rpm ?? Number.POSITIVE_INFINITY) <= 50);
                  assert.ok(answer.body.limits.models.every((m: string) => m.startsWith('gpt-4o')));
                }
            }
            assert.ok(
              [200, 201, 403].includes(answer.status),
              `${answer.status} ${answer.text.slice(0, 200)}`,
            );
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  const INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE kordon_events; --",
    '" OR ""="',
    '1; SELECT pg_sleep(5)',
    "admin'--",
    '%27%20OR%201%3D1',
    "') UNION SELECT * FROM kordon_admin_audit --",
    '$1',
    '\\x00',
    '../../etc/passwd',
    '{"$ne": null}',
    '*',
    'org-a\u0000',
    'ＤＲＯＰ',
  ];

  describe('SQL injection fuzz', () => {
    it('ids in paths: 404 or 400, never 500, never data', async () => {
      for (const value of INJECTIONS) {
        const id = encodeURIComponent(value);
        for (const path of [
          `/orgs/${id}`,
          `/orgs/${id}/users`,
          `/orgs/acme/users/${id}`,
          `/orgs/acme/proxy-keys/${id}`,
          `/orgs/acme/provider-keys/${id}`,
          `/orgs/${id}/audit`,
        ]) {
          const answer = await admin.request('GET', `${V1}${path}`, { token: acme.users.owner.token });
          assert.ok([400, 404].includes(answer.status), `${path}: ${answer.status}`);
        }
        const mutation = await admin.request('PUT', `${V1}/orgs/acme/users/${id}/role`, {
          token: acme.users.owner.token,
          body: { role: 'developer' },
        });
        assert.ok([400, 404].includes(mutation.status), `${mutation.status}`);
      }
    });

    it('audit filters, sort fields, cursors and page sizes: parameters only', async () => {
      const all = await expectStatus(
        admin.request('GET', `${V1}/orgs/acme/audit?limit=200`, { token: acme.users.owner.token }),
        200,
      );
      assert.ok(all.body.items.length > 0);
      for (const value of INJECTIONS) {
        const q = encodeURIComponent(value);
        const byActor = await admin.request('GET', `${V1}/orgs/acme/audit?actor=${q}`, {
          token: acme.users.owner.token,
        });
        if (/\p{Cc}/u.test(value)) assert.equal(byActor.status, 400, 'control characters are refused');
        else {
          assert.equal(byActor.status, 200, byActor.text.slice(0, 200));
          assert.equal(byActor.body.items.length, 0, `actor=${value} matched rows`);
        }
        for (const field of ['action', 'from', 'to', 'sort', 'cursor', 'limit', 'format']) {
          const answer = await admin.request('GET', `${V1}/orgs/acme/audit?${field}=${q}`, {
            token: acme.users.owner.token,
          });
          assert.equal(
            answer.status,
            400,
            `${field}=${value}: ${answer.status} ${answer.text.slice(0, 200)}`,
          );
        }
        const listed = await admin.request('GET', `${V1}/orgs/acme/users?cursor=${q}`, {
          token: acme.users.owner.token,
        });
        assert.equal(listed.status, 400);
      }
      // The tables are all still there, with everything in them.
      const again = await expectStatus(
        admin.request('GET', `${V1}/orgs/acme/audit?limit=200`, { token: acme.users.owner.token }),
        200,
      );
      assert.equal(again.body.items.length, all.body.items.length);
      const { rows } = await admin.sql.query<{ n: string }>('SELECT count(*) AS n FROM kordon_events');
      assert.ok(Number(rows[0]!.n) > 0);
    });

    it('the Authorization header: 401, never 500', async () => {
      const headers = [
        ...INJECTIONS.map((v) => `Bearer ${v}`),
        ...INJECTIONS,
        'Bearer',
        'Bearer ',
        'Basic YWRtaW46YWRtaW4=',
        `Bearer ${'a'.repeat(10_000)}`,
        `Bearer kat_${"'".repeat(40)}`,
        `Bearer kat_${'A'.repeat(40)}`,
        'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
        `Bearer ${admin?.adminToken ?? ''}' OR '1'='1`,
      ];
      for (const value of headers) {
        let answer: Awaited<ReturnType<TestAdmin['request']>>;
        try {
          answer = await admin.request('GET', `${V1}/orgs`, { headers: { authorization: value } });
        } catch {
          continue; // fetch itself refuses some header values (control characters): nothing was sent
        }
        assert.equal(answer.status, 401, `${JSON.stringify(value).slice(0, 60)}: ${answer.status}`);
      }
    });

    it('login and refresh with injection strings: 400 or 401, never 500', async () => {
      for (const value of INJECTIONS) {
        const login = await admin.request('POST', `${V1}/auth/login`, {
          body: { email: value, password: value },
        });
        assert.ok([400, 401].includes(login.status), `${login.status}`);
        const login2 = await admin.request('POST', `${V1}/auth/login`, {
          body: { email: acme.users.owner.email, password: value, org: value },
        });
        assert.ok([400, 401].includes(login2.status), `${login2.status}`);
        const refresh = await admin.request('POST', `${V1}/auth/refresh`, { body: { refreshToken: value } });
        assert.equal(refresh.status, 401);
      }
    });
  });
});
