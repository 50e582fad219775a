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

/*
 * An admin's suspension is undone only with proxyKey.manageAny, also when the key's owner had
 * suspended it first: otherwise the admin's suspension decided nothing, the key stayed "the
 * owner's own suspension", and its owner could reinstate a key an admin meant to stop.
 */
const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

describe("an admin's suspension of a key its owner suspended holds", { skip }, () => {
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

  it('the owner cannot reinstate it; an admin can', async () => {
    const dev = acme.users.developer;
    const issued = await expectStatus(
      as(dev.token, 'POST', '/orgs/acme/proxy-keys', { userEmail: dev.email, name: 'laptop' }),
      201,
    );
    const path = `/orgs/acme/proxy-keys/${issued.body.id}`;
    // The owner suspends their own key, then an admin suspends it (seen in a public repo).
    await expectStatus(as(dev.token, 'POST', `${path}/suspend`), 200);
    await expectStatus(as(acme.users.admin.token, 'POST', `${path}/suspend`, { note: 'leaked' }), 200);

    const byOwner = await as(dev.token, 'POST', `${path}/reinstate`);
    assert.equal(byOwner.status, 403, 'the owner reinstated a key an admin suspended');
    assert.equal((await expectStatus(as(dev.token, 'GET', path), 200)).body.status, 'suspended');
    const byAdmin = await expectStatus(as(acme.users.admin.token, 'POST', `${path}/reinstate`), 200);
    assert.equal(byAdmin.body.status, 'active');

    // An admin's suspension is not made the owner's by the owner suspending again.
    await expectStatus(as(acme.users.admin.token, 'POST', `${path}/suspend`), 200);
    await expectStatus(as(dev.token, 'POST', `${path}/suspend`), 200);
    assert.equal((await as(dev.token, 'POST', `${path}/reinstate`)).status, 403);
  });
});
