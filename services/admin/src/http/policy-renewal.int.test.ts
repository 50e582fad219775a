import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { freshUser } from '../testing/fixtures.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

/*
 * A policy read answers the renewal it was set with (rollover, its cap, time zone, month start):
 * `policy.read` is "see limits and their renewal", and a read-edit-write of a policy that got
 * `renewal: null` back wiped it.
 */
const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

describe('a policy answers the renewal it was set with', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
  });
  after(() => admin?.close());

  const as = (token: string, method: string, path: string, body?: unknown) =>
    admin.request(method, `${V1}${path}`, { token, ...(body !== undefined ? { body } : {}) });

  it('GET and the list return the renewal the PUT set', async () => {
    const userId = await freshUser(admin, acme);
    const renewal = { rollover: true, rolloverMaxPercent: 50, timeZone: 'Europe/Berlin', monthStartDay: 15 };
    const put = await expectStatus(
      as(acme.users.admin.token, 'PUT', `/orgs/acme/policies/user/${userId}`, {
        limits: { budget: { usd: '25', period: '1mo' } },
        renewal,
      }),
      200,
    );
    assert.deepEqual(put.body.renewal, renewal, 'the PUT answers it');

    const one = await expectStatus(
      as(acme.users.finance.token, 'GET', `/orgs/acme/policies/user/${userId}`),
      200,
    );
    assert.deepEqual(one.body.limits, { budget: { usd: '25', period: '1mo' } });
    assert.deepEqual(one.body.renewal, renewal, 'GET loses the renewal (answers null)');

    const list = await expectStatus(as(acme.users.auditor.token, 'GET', '/orgs/acme/policies'), 200);
    const listed = list.body.items.find(
      (p: { scope: string; id: string }) => p.scope === 'user' && p.id === userId,
    );
    assert.ok(listed, 'the policy is listed');
    assert.deepEqual(listed.renewal, renewal, 'the list loses the renewal (answers null)');
  });
});
