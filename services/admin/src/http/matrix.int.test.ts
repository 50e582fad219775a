import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { ROLES, rightsOf } from '../rbac/permissions.js';
import {
  callFor,
  ensureProvider,
  freshApiToken,
  freshProviderKey,
  freshProxyKey,
  freshRequest,
  freshTeam,
  freshUser,
} from '../testing/fixtures.js';
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

describe('admin API access', { skip }, () => {
  /*
   * The role x route matrix, generated from the route list and the permission table: every
   * pair the table allows succeeds, every other pair is refused (403), for every route.
   * Then: for every route that takes an id, a caller of org A naming org B or B's ids gets 404.
   */

  // Logging out and changing one's password end the caller's sessions, which every later case
  // signs in with: passwords.int.test.ts runs the password change for every role instead.
  const ROUTES = adminRoutes(newPassport()).filter(
    (r) => r.access !== 'public' && r.operationId !== 'logout' && r.operationId !== 'changePassword',
  );
  let admin: TestAdmin;
  let a: TestOrg;
  let b: TestOrg;

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    a = await createOrgWithRoles(admin, 'org-a');
    b = await createOrgWithRoles(admin, 'org-b');
    await ensureProvider(admin, a);
    await ensureProvider(admin, b);
  });
  after(() => admin?.close());

  describe('role x route matrix', () => {
    for (const route of ROUTES) {
      for (const role of ROLES) {
        const allowed = route.access === 'signed-in' || rightsOf(role).has(route.access as never);
        it(`${role} ${allowed ? 'may' : 'may not'} ${route.operationId}`, async () => {
          const call = await callFor(admin, route.operationId, a, a.users[role]);
          const answer = await admin.request(call.method, `/admin/v1${call.path}`, {
            token: a.users[role].token,
            ...(call.body !== undefined ? { body: call.body } : {}),
          });
          if (allowed)
            assert.ok(
              answer.status >= 200 && answer.status < 300,
              `${answer.status} ${answer.text.slice(0, 300)}`,
            );
          else {
            assert.equal(answer.status, 403, answer.text.slice(0, 300));
            assert.equal(answer.body.code, 'forbidden');
          }
        });
      }
    }

    it('the matrix covers every route', () => {
      const left = adminRoutes(newPassport())
        .filter((r) => !ROUTES.some((covered) => covered.operationId === r.operationId))
        .map((r) => r.operationId)
        .sort();
      // Public routes have no role to check: the sign-in ways, a machine token's trade and the
      // invitation's acceptance. Logout and the password change end the caller's session.
      assert.deepEqual(left, [
        'acceptInvitation',
        'changePassword',
        'login',
        'logout',
        'machineToken',
        'oidcCallback',
        'oidcLogin',
        'refresh',
      ]);
    });

    describe("others' proxy keys", () => {
      for (const role of ROLES) {
        it(`${role}: reads them only with proxyKey.readAny, manages them only with proxyKey.manageAny`, async () => {
          const rights = rightsOf(role);
          const keyId = await freshProxyKey(
            admin,
            a,
            a.users.admin.email === a.users[role].email ? a.users.owner.email : a.users.admin.email,
          );
          const read = await admin.request('GET', `/admin/v1/orgs/org-a/proxy-keys/${keyId}`, {
            token: a.users[role].token,
          });
          assert.equal(read.status, rights.has('proxyKey.readAny') ? 200 : 404);
          const revoke = await admin.request('POST', `/admin/v1/orgs/org-a/proxy-keys/${keyId}/revoke`, {
            token: a.users[role].token,
            body: {},
          });
          assert.equal(
            revoke.status,
            rights.has('proxyKey.manageAny') ? 200 : rights.has('proxyKey.readAny') ? 403 : 404,
          );
        });
      }
    });
  });

  describe('cross-tenant: org A callers never reach org B', () => {
    const withOrg = ROUTES.filter((r) => r.path.includes('{org}'));

    for (const route of withOrg) {
      it(`${route.operationId}: B's org and B's ids are 404 for A's owner and A's admin token`, async () => {
        const bIds = {
          user: await freshUser(admin, b),
          proxyKey: await freshProxyKey(admin, b, b.users.developer.email),
          providerKey: await freshProviderKey(admin, b),
          apiToken: await freshApiToken(admin, b),
          request: await freshRequest(admin, b, b.users.developer.userId),
          team: await freshTeam(admin, b),
        };
        const aToken = (
          await expectStatus(
            admin.request('POST', '/admin/v1/orgs/org-a/api-tokens', {
              token: a.users.owner.token,
              body: { name: `cross-${route.operationId}`, role: 'admin' },
            }),
            201,
          )
        ).body.token as string;
        const before = (await admin.store.readAll({ after: 0, maxCount: 1_000_000 })).filter(
          (e) => e.orgId === b.orgId,
        ).length;
        for (const token of [a.users.owner.token, aToken]) {
          // B named by slug and by id, and A's path holding B's entity ids.
          const calls = [
            await callFor(admin, route.operationId, a, a.users.owner, bIds, 'org-b'),
            await callFor(admin, route.operationId, a, a.users.owner, bIds, b.orgId),
          ];
          if (/\{(user|key|token|requestId|team)\}/.test(route.path))
            calls.push(await callFor(admin, route.operationId, a, a.users.owner, bIds));
          for (const call of calls) {
            const answer = await admin.request(call.method, `/admin/v1${call.path}`, {
              token,
              ...(call.body !== undefined ? { body: call.body } : {}),
            });
            assert.equal(
              answer.status,
              404,
              `${call.method} ${call.path}: ${answer.status} ${answer.text.slice(0, 200)}`,
            );
            // Only the caller's own request path comes back (`instance`); nothing about B.
            const { instance: _path, requestId: _id, ...rest } = answer.body;
            const told = JSON.stringify(rest);
            assert.ok(!told.includes(b.orgId) && !told.includes('org-b'), `B is revealed: ${told}`);
            assert.equal(answer.body.detail.endsWith('not found'), true);
          }
        }
        const afterCount = (await admin.store.readAll({ after: 0, maxCount: 1_000_000 })).filter(
          (e) => e.orgId === b.orgId,
        ).length;
        assert.equal(afterCount, before, 'nothing was written to org B');
      });
    }

    it("listing orgs shows A's members only org A", async () => {
      for (const role of ROLES) {
        const answer = await expectStatus(
          admin.request('GET', '/admin/v1/orgs', { token: a.users[role].token }),
          200,
        );
        assert.deepEqual(
          answer.body.items.map((o: { id: string }) => o.id),
          [a.orgId],
        );
      }
    });
  });
});
