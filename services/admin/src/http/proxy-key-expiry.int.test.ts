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
 * A key whose expiry has passed is refused by the gateway, so the admin API must not show it
 * as active. No event marks an expiry: the status is computed against the clock when answering.
 */
const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

describe('a proxy key past its expiry reads as expired', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  let clock = Date.now();

  before(async () => {
    const started = await startTestAdmin({ now: () => new Date(clock) });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
  });
  after(() => admin?.close());

  const as = (token: string, method: string, path: string, body?: unknown) =>
    admin.request(method, `${V1}${path}`, { token, ...(body !== undefined ? { body } : {}) });

  it('in get and list, after suspension too; a revoked key stays revoked', async () => {
    const dev = acme.users.developer;
    const expiresAt = new Date(clock + 60_000).toISOString();
    const issue = async (name: string) =>
      (
        await expectStatus(
          as(dev.token, 'POST', '/orgs/acme/proxy-keys', { userEmail: dev.email, name, expiresAt }),
          201,
        )
      ).body.id as string;
    const plain = await issue('plain');
    const suspended = await issue('suspended');
    const revoked = await issue('revoked');
    const forever = (
      await expectStatus(
        as(dev.token, 'POST', '/orgs/acme/proxy-keys', { userEmail: dev.email, name: 'forever' }),
        201,
      )
    ).body.id as string;
    await expectStatus(as(dev.token, 'POST', `/orgs/acme/proxy-keys/${suspended}/suspend`), 200);
    await expectStatus(as(dev.token, 'POST', `/orgs/acme/proxy-keys/${revoked}/revoke`), 200);
    const before = await expectStatus(as(dev.token, 'GET', `/orgs/acme/proxy-keys/${plain}`), 200);
    assert.equal(before.body.status, 'active');

    clock += 60_000; // exactly at expiry: the gateway refuses it (`expiresAt <= now`)
    const got = await expectStatus(as(dev.token, 'GET', `/orgs/acme/proxy-keys/${plain}`), 200);
    assert.equal(got.body.status, 'expired');
    assert.equal(got.body.expiresAt, expiresAt);

    const list = await expectStatus(as(dev.token, 'GET', '/orgs/acme/proxy-keys'), 200);
    const statuses = Object.fromEntries(
      (list.body.items as { id: string; status: string }[]).map((k) => [k.id, k.status]),
    );
    assert.deepEqual(statuses, {
      [plain]: 'expired',
      [suspended]: 'expired',
      [revoked]: 'revoked',
      [forever]: 'active',
    });

    // An action's answer computes it the same way.
    const reinstated = await expectStatus(
      as(dev.token, 'POST', `/orgs/acme/proxy-keys/${suspended}/reinstate`),
      200,
    );
    assert.equal(reinstated.body.status, 'expired');
  });
});
