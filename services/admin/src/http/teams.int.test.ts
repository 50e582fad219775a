import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kordonCatalogue } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { ensureProvider, freshTeam, freshUser } from '../testing/fixtures.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

describe('teams over the admin API', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  let other: TestOrg;

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    other = await createOrgWithRoles(admin, 'other');
    await ensureProvider(admin, acme);
  });
  after(() => admin?.close());

  const as = (token: string, method: string, path: string, body?: unknown) =>
    admin.request(method, `${V1}${path}`, { token, ...(body !== undefined ? { body } : {}) });

  it('creates teams with unique names and lists them with their members', async () => {
    const created = await expectStatus(
      as(acme.users.admin.token, 'POST', '/orgs/acme/teams', { name: 'Research' }),
      201,
    );
    assert.match(created.body.id, /^tm_[0-9a-f]{32}$/, "the config file's id for the same name");
    assert.deepEqual(created.body.members, []);
    const again = await as(acme.users.owner.token, 'POST', '/orgs/acme/teams', { name: 'Research' });
    assert.equal(again.status, 409);
    const listed = await expectStatus(as(acme.users.auditor.token, 'GET', '/orgs/acme/teams'), 200);
    assert.ok(listed.body.items.some((t: { id: string }) => t.id === created.body.id));
    const one = await expectStatus(
      as(acme.users.finance.token, 'GET', `/orgs/acme/teams/${created.body.id}`),
      200,
    );
    assert.equal(one.body.name, 'Research');
    // Another org's team is not there, for any route.
    assert.equal(
      (await as(other.users.owner.token, 'GET', `/orgs/other/teams/${created.body.id}`)).status,
      404,
    );
  });

  it('puts a user in a team, moves them, takes them out; never oneself, never someone holding more', async () => {
    const [t1, t2] = [await freshTeam(admin, acme), await freshTeam(admin, acme)];
    const dev = acme.users.developer.userId;
    const put = (token: string, team: string, user: string) =>
      as(token, 'PUT', `/orgs/acme/teams/${team}/members/${user}`);
    const joined = await expectStatus(put(acme.users.admin.token, t1, dev), 200);
    assert.equal(joined.body.teamId, t1);
    assert.deepEqual((await as(acme.users.owner.token, 'GET', `/orgs/acme/teams/${t1}`)).body.members, [dev]);
    await expectStatus(put(acme.users.admin.token, t2, dev), 200);
    assert.deepEqual((await as(acme.users.owner.token, 'GET', `/orgs/acme/teams/${t1}`)).body.members, []);
    assert.deepEqual((await as(acme.users.owner.token, 'GET', `/orgs/acme/teams/${t2}`)).body.members, [dev]);
    assert.equal(
      (await as(acme.users.admin.token, 'DELETE', `/orgs/acme/teams/${t1}/members/${dev}`)).status,
      404,
    );

    const self = await put(acme.users.admin.token, t1, acme.users.admin.userId);
    assert.equal(self.status, 403);
    assert.equal(self.body.code, 'not_allowed_for_you');
    const owner = await put(acme.users.admin.token, t1, acme.users.owner.userId);
    assert.equal(owner.status, 403, 'an admin does not move an owner');
    assert.equal((await put(acme.users.developer.token, t1, acme.users.auditor.userId)).status, 403);

    await expectStatus(as(acme.users.owner.token, 'DELETE', `/orgs/acme/teams/${t2}/members/${dev}`), 204);
    const user = await expectStatus(as(acme.users.owner.token, 'GET', `/orgs/acme/users/${dev}`), 200);
    assert.equal(user.body.teamId, null);
    // The membership is a role within the team on the user's stream; it grants no rights.
    const me = await expectStatus(as(acme.users.developer.token, 'GET', '/me'), 200);
    assert.deepEqual(me.body.roles, ['developer']);
  });

  it("mixing orgs is 404: A's team with B's user, B's team with A's user", async () => {
    const aTeam = await freshTeam(admin, acme);
    const bTeam = await freshTeam(admin, other);
    const bUser = await freshUser(admin, other);
    const aUser = await freshUser(admin, acme);
    for (const [team, user] of [
      [aTeam, bUser],
      [bTeam, aUser],
    ]) {
      for (const method of ['PUT', 'DELETE']) {
        const answer = await as(acme.users.owner.token, method, `/orgs/acme/teams/${team}/members/${user}`);
        assert.equal(answer.status, 404, `${method} ${team} ${user}`);
      }
    }
    for (const scope of ['team']) {
      const answer = await as(acme.users.owner.token, 'PUT', `/orgs/acme/policies/${scope}/${bTeam}`, {
        limits: { rpm: 5 },
      });
      assert.equal(answer.status, 404);
    }
  });

  it("keys issued to a member carry the team, and the team's limits bound them", async () => {
    const team = await freshTeam(admin, acme);
    const dev = acme.users.developer;
    await expectStatus(
      as(acme.users.admin.token, 'PUT', `/orgs/acme/teams/${team}/members/${dev.userId}`),
      200,
    );
    const policy = await expectStatus(
      as(acme.users.admin.token, 'PUT', `/orgs/acme/policies/team/${team}`, {
        limits: { rpm: 10, models: ['gpt-4o*'] },
      }),
      200,
    );
    assert.deepEqual(policy.body, {
      scope: 'team',
      id: team,
      limits: { rpm: 10, models: ['gpt-4o*'] },
      renewal: {},
    });
    const read = await expectStatus(
      as(acme.users.finance.token, 'GET', `/orgs/acme/policies/team/${team}`),
      200,
    );
    assert.deepEqual(read.body.limits, { rpm: 10, models: ['gpt-4o*'] });
    const all = await expectStatus(as(acme.users.auditor.token, 'GET', '/orgs/acme/policies'), 200);
    assert.ok(all.body.items.some((p: { scope: string; id: string }) => p.scope === 'team' && p.id === team));

    // The member's own key: the team's limits are copied onto it, looser ones are refused.
    const looser = await as(dev.token, 'POST', '/orgs/acme/proxy-keys', {
      userEmail: dev.email,
      name: 'too-loose',
      limits: { rpm: 50 },
    });
    assert.equal(looser.status, 403);
    assert.equal(looser.body.code, 'not_allowed_for_you');
    const own = await expectStatus(
      as(dev.token, 'POST', '/orgs/acme/proxy-keys', { userEmail: dev.email, name: 'in-team' }),
      201,
    );
    assert.deepEqual(own.body.limits, { rpm: 10, models: ['gpt-4o*'] });
    // Issued by an admin for the member: the key carries the member's team too.
    const forMember = await expectStatus(
      as(acme.users.admin.token, 'POST', '/orgs/acme/proxy-keys', { userEmail: dev.email, name: 'by-admin' }),
      201,
    );
    for (const id of [own.body.id, forMember.body.id]) {
      const key = await expectStatus(as(acme.users.owner.token, 'GET', `/orgs/acme/proxy-keys/${id}`), 200);
      assert.equal(key.body.teamId, team);
      const [issued] = (await admin.store.readStream(`org:${acme.orgId}:proxy-key:${id}`)).map((e) =>
        kordonCatalogue.decode(e),
      );
      if (issued?.type !== 'ProxyKeyIssued') assert.fail('the key stream starts with ProxyKeyIssued');
      assert.equal(issued.data.teamId, team, 'ProxyKeyIssued.teamId');
    }
    // A user in no team: keys carry none.
    const outside = await expectStatus(
      as(acme.users.owner.token, 'POST', '/orgs/acme/proxy-keys', {
        userEmail: acme.users.owner.email,
        name: 'solo',
      }),
      201,
    );
    const solo = await expectStatus(
      as(acme.users.owner.token, 'GET', `/orgs/acme/proxy-keys/${outside.body.id}`),
      200,
    );
    assert.equal(solo.body.teamId, null);
    await expectStatus(
      as(acme.users.admin.token, 'DELETE', `/orgs/acme/teams/${team}/members/${dev.userId}`),
      204,
    );
  });

  it('the audit log shows membership as team changes on the user', async () => {
    const team = await freshTeam(admin, acme);
    const user = await freshUser(admin, acme);
    await expectStatus(as(acme.users.owner.token, 'PUT', `/orgs/acme/teams/${team}/members/${user}`), 200);
    const audit = await expectStatus(
      as(acme.users.auditor.token, 'GET', '/orgs/acme/audit?action=RoleGranted&sort=-time&limit=1'),
      200,
    );
    assert.equal(audit.body.items[0].subject.id, user);
    assert.equal(audit.body.items[0].after.team, team);
  });
});
