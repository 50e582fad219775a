import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { freshTeam } from '../testing/fixtures.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

/*
 * A policy read carries the ETag its PUT checks as If-Match, so a read-edit-write cannot
 * silently overwrite a colleague's change (a PUT replaces the whole policy).
 */
const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

describe('a policy read carries the ETag its update checks', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
  });
  after(() => admin?.close());

  const as = (
    token: string,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) =>
    admin.request(method, `${V1}${path}`, {
      token,
      ...(body !== undefined ? { body } : {}),
      ...(headers ? { headers } : {}),
    });

  for (const scope of ['org', 'team'] as const) {
    it(`GET /policies/${scope}/{id} answers an ETag; read-modify-write with it cannot lose an update`, async () => {
      const id = scope === 'org' ? acme.orgId : await freshTeam(admin, acme);
      const path = `/orgs/acme/policies/${scope}/${id}`;
      await expectStatus(as(acme.users.owner.token, 'PUT', path, { limits: { rpm: 100 } }), 200);

      // Alice reads the policy to add a budget to it.
      const read = await expectStatus(as(acme.users.admin.token, 'GET', path), 200);
      const tag = read.headers.get('etag');
      assert.ok(tag, `GET ${scope} policy answers no ETag`);

      // Meanwhile Bob tightens the rate.
      await expectStatus(as(acme.users.owner.token, 'PUT', path, { limits: { rpm: 10 } }), 200);

      // Alice writes back what she read plus her budget, guarded by the ETag she was given.
      const write = await as(
        acme.users.admin.token,
        'PUT',
        path,
        { limits: { ...read.body.limits, budget: { usd: '5', period: '1mo' } } },
        { 'if-match': tag },
      );
      assert.equal(write.status, 412, "Bob's rpm 10 would be lost");
    });
  }
});
