import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { ROLES, rightsOf } from '../rbac/permissions.js';
import { freshTeam } from '../testing/fixtures.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';
const NEW_PASSWORD = 'Invited and Random passphrase 7';

describe('invitations over the admin API', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  let other: TestOrg;
  /** The admin API's clock runs `offset` ms ahead of the real one. */
  let offset = 0;
  let counter = 0;
  const email = () => `invitee${++counter}@acme.test`;

  before(async () => {
    const started = await startTestAdmin({ now: () => new Date(Date.now() + offset) });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    other = await createOrgWithRoles(admin, 'other');
  });
  after(() => admin?.close());

  const invite = (token: string, body: object, org = 'acme') =>
    admin.request('POST', `${V1}/orgs/${org}/invitations`, { token, body });
  const accept = (body: object) => admin.request('POST', `${V1}/auth/accept-invitation`, { body });

  it('answers the token once; accepting it makes a signed-in user with the invited role', async () => {
    const address = email();
    const invited = await expectStatus(
      invite(acme.users.admin.token, { email: address, role: 'finance' }),
      201,
    );
    assert.match(invited.body.token, /^kin_[A-Za-z0-9]{43}$/);
    assert.equal(invited.body.role, 'finance');
    assert.match(invited.body.id, /^usr_/);

    // Listed without the token; the log holds only its keyed hash.
    const listed = await expectStatus(
      admin.request('GET', `${V1}/orgs/acme/invitations`, { token: acme.users.auditor.token }),
      200,
    );
    const pending = listed.body.items.find((i: { email: string }) => i.email === address);
    assert.equal(pending.role, 'finance');
    assert.equal(JSON.stringify(listed.body).includes(invited.body.token), false);
    const log = JSON.stringify(await admin.store.readAll({ after: 0, maxCount: 1_000_000 }));
    assert.equal(log.includes(invited.body.token), false, 'never in the log');
    assert.equal(log.includes(invited.body.token.slice(4, 30)), false);

    const joined = await expectStatus(accept({ token: invited.body.token, password: NEW_PASSWORD }), 200);
    assert.equal(joined.body.user.email, address);
    assert.equal(joined.body.user.role, 'finance');
    const me = await expectStatus(admin.request('GET', `${V1}/me`, { token: joined.body.accessToken }), 200);
    assert.deepEqual(me.body.roles, ['finance']);
    assert.equal(me.body.orgId, acme.orgId);
    // The password works from now on; the invitation is no longer pending.
    await expectStatus(
      admin.request('POST', `${V1}/auth/login`, { body: { email: address, password: NEW_PASSWORD } }),
      200,
    );
    const after = await admin.request('GET', `${V1}/orgs/acme/invitations`, {
      token: acme.users.owner.token,
    });
    assert.equal(
      after.body.items.some((i: { email: string }) => i.email === address),
      false,
    );
    const user = await expectStatus(
      admin.request('GET', `${V1}/orgs/acme/users/${invited.body.id}`, { token: acme.users.owner.token }),
      200,
    );
    assert.equal(user.body.hasPassword, true);

    // Used once: never again.
    const reused = await accept({ token: invited.body.token, password: NEW_PASSWORD });
    assert.equal(reused.status, 401);
    assert.match(reused.body.detail, /not valid/);
  });

  it('refuses expired, replaced, malformed and made-up tokens alike', async () => {
    const first = await expectStatus(
      invite(acme.users.owner.token, { email: email(), role: 'developer' }),
      201,
    );
    offset = 8 * 86_400_000; // the invitation is valid 7 days
    try {
      const expired = await accept({ token: first.body.token, password: NEW_PASSWORD });
      assert.equal(expired.status, 401);
    } finally {
      offset = 0;
    }
    const address = email();
    const old = await expectStatus(
      invite(acme.users.owner.token, { email: address, role: 'developer' }),
      201,
    );
    const renewed = await expectStatus(
      invite(acme.users.owner.token, { email: address, role: 'auditor' }),
      201,
    );
    assert.equal(renewed.body.id, old.body.id, 'the same person');
    assert.equal((await accept({ token: old.body.token, password: NEW_PASSWORD })).status, 401, 'replaced');
    for (const token of [`kin_${'A'.repeat(43)}`, "' OR 1=1 --", 'krt_x']) {
      assert.equal((await accept({ token, password: NEW_PASSWORD })).status, 401, token);
    }
    const weak = await accept({ token: renewed.body.token, password: 'short' });
    assert.equal(weak.status, 400, 'the new password follows the password rules');
    const ok = await expectStatus(accept({ token: renewed.body.token, password: NEW_PASSWORD }), 200);
    assert.equal(ok.body.user.role, 'auditor', 'the latest invitation counts');
  });

  it('nobody invites with a role holding rights they lack; a user of the org is 409', async () => {
    for (const inviter of ROLES) {
      for (const role of ROLES) {
        const answer = await invite(acme.users[inviter].token, { email: email(), role });
        const rights = rightsOf(inviter);
        const expected = !rights.has('user.manage')
          ? 403
          : [...rightsOf(role)].every((action) => rights.has(action))
            ? 201
            : 403;
        assert.equal(answer.status, expected, `${inviter} inviting ${role}: ${answer.text.slice(0, 200)}`);
        if (expected === 403 && rights.has('user.manage'))
          assert.equal(answer.body.code, 'not_allowed_for_you');
      }
    }
    const existing = await invite(acme.users.owner.token, {
      email: acme.users.finance.email,
      role: 'developer',
    });
    assert.equal(existing.status, 409);
    const mass = await invite(acme.users.owner.token, {
      email: email(),
      role: 'developer',
      orgId: other.orgId,
    });
    assert.equal(mass.status, 400);
  });

  it('an invitation into a team makes the person a member; another org’s team is 404', async () => {
    const team = await freshTeam(admin, acme);
    const invited = await expectStatus(
      invite(acme.users.admin.token, { email: email(), role: 'developer', teamId: team }),
      201,
    );
    assert.equal(invited.body.teamId, team);
    const joined = await expectStatus(accept({ token: invited.body.token, password: NEW_PASSWORD }), 200);
    const user = await expectStatus(
      admin.request('GET', `${V1}/orgs/acme/users/${joined.body.user.id}`, { token: acme.users.owner.token }),
      200,
    );
    assert.equal(user.body.teamId, team);
    const foreignTeam = await freshTeam(admin, other);
    const refused = await invite(acme.users.owner.token, {
      email: email(),
      role: 'developer',
      teamId: foreignTeam,
    });
    assert.equal(refused.status, 404);
  });

  it("an org's invitations are its own: B's token joins B only, and A cannot list B's", async () => {
    const invited = await expectStatus(
      invite(other.users.owner.token, { email: 'x@other.test', role: 'developer' }, 'other'),
      201,
    );
    const listed = await admin.request('GET', `${V1}/orgs/other/invitations`, {
      token: acme.users.owner.token,
    });
    assert.equal(listed.status, 404);
    const joined = await expectStatus(accept({ token: invited.body.token, password: NEW_PASSWORD }), 200);
    assert.equal(joined.body.user.orgId, other.orgId);
    const inA = await admin.request('POST', `${V1}/auth/login`, {
      body: { email: 'x@other.test', password: NEW_PASSWORD, org: 'acme' },
    });
    assert.equal(inA.status, 401);
  });
});
