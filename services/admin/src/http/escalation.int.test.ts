import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;

/** Role escalation through HTTP: limits on oneself, and the org's last owner. */
describe('admin API escalation', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  const V1 = '/admin/v1';
  const call = (method: string, path: string, token: string, body?: unknown) =>
    admin.request(method, `${V1}${path}`, { token, ...(body !== undefined ? { body } : {}) });

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
  });
  after(() => admin?.close());

  it('nobody sets their own user limits: an admin the owner limited stays limited', async () => {
    const path = `/orgs/acme/policies/user/${acme.users.admin.userId}`;
    await expectStatus(call('PUT', path, acme.users.owner.token, { limits: { rpm: 5 } }), 200);
    const own = await call('PUT', path, acme.users.admin.token, { limits: {} });
    assert.equal(own.status, 403, own.text);
    assert.equal(own.body.code, 'not_allowed_for_you');
    const kept = await expectStatus(call('GET', path, acme.users.owner.token), 200);
    assert.deepEqual(kept.body.limits, { rpm: 5 });
    // The owner too: their own limits are another owner's (or the bootstrap owner's) to set.
    const ownerPath = `/orgs/acme/policies/user/${acme.users.owner.userId}`;
    const owner = await call('PUT', ownerPath, acme.users.owner.token, { limits: { rpm: 1 } });
    assert.equal(owner.status, 403, owner.text);
    await expectStatus(call('PUT', ownerPath, admin.adminToken, { limits: { rpm: 1 } }), 200);
  });

  it("an owner token cannot demote or disable the org's last owner; with a second owner it can", async () => {
    const globex = await createOrgWithRoles(admin, 'globex');
    const ownerToken = (
      await expectStatus(
        call('POST', '/orgs/globex/api-tokens', globex.users.owner.token, { name: 'ops', role: 'owner' }),
        201,
      )
    ).body.token as string;
    const owner = `/orgs/globex/users/${globex.users.owner.userId}`;
    const demoted = await call('PUT', `${owner}/role`, ownerToken, { role: 'developer' });
    assert.equal(demoted.status, 409, demoted.text);
    assert.equal(demoted.body.code, 'invalid_state');
    const disabled = await call('POST', `${owner}/disable`, ownerToken, {});
    assert.equal(disabled.status, 409, disabled.text);
    const still = await expectStatus(call('GET', owner, globex.users.owner.token), 200);
    assert.equal(still.body.role, 'owner');
    assert.equal(still.body.disabled, false);

    // Another owner first: then the first may go.
    await expectStatus(
      call('PUT', `/orgs/globex/users/${globex.users.admin.userId}/role`, ownerToken, { role: 'owner' }),
      200,
    );
    await expectStatus(call('PUT', `${owner}/role`, ownerToken, { role: 'admin' }), 200);
  });
});
