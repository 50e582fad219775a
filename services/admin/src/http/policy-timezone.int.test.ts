import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { streams } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { createOrgWithRoles, startTestAdmin, type TestAdmin, type TestOrg } from '../testing/harness.js';

/*
 * A policy whose renewal names a time zone that does not exist is refused (400, nothing
 * written), as the configuration file refuses it: stored, every calendar budget under it made
 * admission throw for every request of the scope.
 */
const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

describe('a policy with an unknown time zone is refused', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
  });
  after(() => admin?.close());

  it('PUT with renewal.timeZone "Mars/Olympus" is 400 and writes nothing', async () => {
    const before = (await admin.store.readStream(streams.org(acme.orgId))).length;
    const answer = await admin.request('PUT', `${V1}/orgs/acme/policies/org/${acme.orgId}`, {
      token: acme.users.admin.token,
      body: { limits: { budget: { usd: '100', period: '1mo' } }, renewal: { timeZone: 'Mars/Olympus' } },
    });
    assert.equal(
      answer.status,
      400,
      `accepted an unknown time zone: ${answer.status} ${answer.text.slice(0, 200)}`,
    );
    assert.equal(
      (await admin.store.readStream(streams.org(acme.orgId))).length,
      before,
      'no PolicySet written',
    );
  });
});
