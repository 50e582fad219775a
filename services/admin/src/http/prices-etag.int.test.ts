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
 * A PUT of the prices replaces the whole list, so editing it is read, edit, write: the read
 * must carry the ETag the PUT checks as If-Match, or two admins' edits overwrite each other.
 */
const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';
const FROM = '2026-01-01T00:00:00Z';

describe('the price list read carries the ETag its update checks', { skip }, () => {
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

  it('GET /prices answers an ETag; a stale one as If-Match is 412, not a lost price', async () => {
    const mini = { model: 'gpt-4o-mini', effectiveFrom: FROM, input: '0.1' };
    await expectStatus(as(acme.users.owner.token, 'PUT', '/orgs/acme/prices', { prices: [mini] }), 200);

    // Alice reads the list to add a price to it.
    const read = await expectStatus(as(acme.users.admin.token, 'GET', '/orgs/acme/prices'), 200);
    const tag = read.headers.get('etag');
    assert.ok(tag, 'GET /prices answers no ETag');

    // Meanwhile Bob prices another model.
    const big = { model: 'gpt-4o', effectiveFrom: FROM, input: '2' };
    await expectStatus(as(acme.users.owner.token, 'PUT', '/orgs/acme/prices', { prices: [mini, big] }), 200);

    // Alice writes back what she read plus her price, guarded by the ETag she was given.
    const write = await as(
      acme.users.admin.token,
      'PUT',
      '/orgs/acme/prices',
      { prices: [...read.body.items, { model: 'o3', effectiveFrom: FROM, input: '1' }] },
      { 'if-match': tag },
    );
    assert.equal(write.status, 412, "Bob's gpt-4o price would be lost");

    // A fresh read's ETag is the current one: the same write with it goes through.
    const again = await expectStatus(as(acme.users.admin.token, 'GET', '/orgs/acme/prices'), 200);
    const tagNow = again.headers.get('etag');
    assert.ok(tagNow);
    await expectStatus(
      as(
        acme.users.admin.token,
        'PUT',
        '/orgs/acme/prices',
        { prices: [...again.body.items, { model: 'o3', effectiveFrom: FROM, input: '1' }] },
        { 'if-match': tagNow },
      ),
      200,
    );
  });
});
