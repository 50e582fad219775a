import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { hashPassword } from '../auth/passwords.js';
import { ROLES } from '../rbac/permissions.js';
import { freshUser } from '../testing/fixtures.js';
import {
  type Answer,
  createOrgWithRoles,
  expectStatus,
  PASSWORD,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

/** Changing one's own password and an admin's reset, over HTTP against real PostgreSQL. */
describe('admin API: passwords', { skip }, () => {
  const MAX = 3;
  let admin: TestAdmin;
  let acme: TestOrg;
  let other: TestOrg;
  let counter = 0;
  /** argon2id hashes of new passwords made so far: slow on purpose, never for a refusal. */
  let hashes = 0;

  before(async () => {
    const started = await startTestAdmin({
      hashPassword: (password) => {
        hashes += 1;
        return hashPassword(password);
      },
    });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    other = await createOrgWithRoles(admin, 'other');
  });
  after(() => admin?.close());

  const login = (email: string, password: string) =>
    admin.request('POST', `${V1}/auth/login`, { body: { email, password } });
  const change = (token: string, body: unknown) =>
    admin.request('POST', `${V1}/auth/password`, { token, body });
  const reset = (token: string, path: string, password: string, headers?: Record<string, string>) =>
    admin.request('PUT', `${V1}${path}/password`, {
      token,
      body: { password },
      ...(headers ? { headers } : {}),
    });
  const newPassword = () => `Fresh passphrase number ${++counter} for tests`;

  /** A new person of acme with a password, and two sessions of theirs. */
  async function person(role: 'developer' | 'admin' | 'owner' = 'developer') {
    const email = `p${++counter}@acme.test`;
    const created = await expectStatus(
      admin.request('POST', `${V1}/orgs/acme/users`, {
        token: admin.adminToken,
        body: { email, role, password: PASSWORD },
      }),
      201,
    );
    const sessions = [
      (await expectStatus(login(email, PASSWORD), 200)).body,
      (await expectStatus(login(email, PASSWORD), 200)).body,
    ] as { accessToken: string; refreshToken: string }[];
    return { userId: created.body.id as string, email, sessions };
  }

  /** A new org with single sign-on set up (nothing is fetched from the provider until used). */
  async function orgWithSso(): Promise<TestOrg> {
    const org = await createOrgWithRoles(admin, `sso${++counter}`);
    await expectStatus(
      admin.request('PUT', `${V1}/orgs/${org.slug}/sso/oidc`, {
        token: admin.adminToken,
        body: {
          issuer: 'http://127.0.0.1:9/idp',
          clientId: 'kordon',
          clientSecret: 'a client secret for tests',
          allowedDomains: [`${org.slug}.test`],
          autoProvision: false,
        },
      }),
      200,
    );
    return org;
  }

  /** Every event's JSON, to look for what must never be stored. */
  const logText = async () =>
    JSON.stringify(await admin.store.readAll({ after: 0, maxCount: 1_000_000 }), (_key, value) =>
      typeof value === 'bigint' ? String(value) : value,
    );

  async function assertSessionsEnded(sessions: { accessToken: string; refreshToken: string }[]) {
    for (const session of sessions) {
      const me = await admin.request('GET', `${V1}/me`, { token: session.accessToken });
      assert.equal(me.status, 401, 'the access token of a session before the change');
      const refreshed = await admin.request('POST', `${V1}/auth/refresh`, {
        body: { refreshToken: session.refreshToken },
      });
      assert.equal(refreshed.status, 401, 'the refresh token of a session before the change');
    }
  }

  /**
   * Every session of `userId` started before the user's last `type` event has a SessionEnded
   * `reason` on its stream, in that event's append (same correlation id, by the same actor),
   * and the audit log shows each ended with that reason. Answers the ids of the sessions.
   */
  async function assertEachEndedInTheLog(
    userId: string,
    type: 'UserPasswordSet' | 'UserDisabled',
    reason: string,
    reasonsOfRacers: string[] = [],
  ) {
    const log = await admin.store.readAll({ after: 0, maxCount: 1_000_000 });
    const cause = log
      .filter((e) => e.type === type && (e.data as { userId: string }).userId === userId)
      .at(-1);
    assert.ok(cause, `no ${type}`);
    const started = log
      .filter((e) => e.type === 'SessionStarted' && (e.data as { userId: string }).userId === userId)
      .filter((e) => e.position < cause.position);
    assert.ok(started.length > 0, 'the user had sessions');
    // The command's own append: the SessionEnded events right after the user's event.
    const byPosition = new Map(log.map((e) => [e.position, e]));
    const inAppend = new Set<number>();
    for (let at = cause.position + 1; ; at++) {
      const next = byPosition.get(at);
      if (next?.type !== 'SessionEnded' || next.correlationId !== cause.correlationId) break;
      inAppend.add(at);
    }
    const reasons = new Map<string, string>();
    for (const session of started) {
      const { sessionId } = session.data as { sessionId: string };
      const ends = log.filter(
        (e) => e.streamId === session.streamId && e.type === 'SessionEnded' && e.position > session.position,
      );
      assert.equal(ends.length, 1, `session ${sessionId}: one SessionEnded, not ${ends.length}`);
      const end = ends[0]!;
      const endReason = (end.data as { reason: string }).reason;
      reasons.set(sessionId, endReason);
      if (!inAppend.has(end.position)) {
        // Only a session of a sign-in racing the command ends apart: by the sign-in's own check,
        // or right after the command's append, by the command.
        assert.ok(reasonsOfRacers.length > 0, `session ${sessionId} not ended in the command's append`);
        assert.ok([reason, ...reasonsOfRacers].includes(endReason), `session ${sessionId}: ${endReason}`);
        if (endReason !== reason) continue;
      }
      assert.equal(endReason, reason, `session ${sessionId}`);
      assert.equal(end.correlationId, cause.correlationId, `session ${sessionId}: another command`);
      assert.deepEqual(end.actor, cause.actor, `session ${sessionId}: another actor`);
    }
    const audit = await expectStatus(
      admin.request('GET', `${V1}/orgs/acme/audit?action=SessionEnded&limit=200`, {
        token: acme.users.auditor.token,
      }),
      200,
    );
    for (const [sessionId, endReason] of reasons) {
      const entry = audit.body.items.find((e: { subject: { id: string } }) => e.subject.id === sessionId);
      assert.ok(entry, `the audit log has no end of session ${sessionId}`);
      assert.deepEqual([entry.after.status, entry.after.reason], ['ended', endReason]);
    }
    return [...reasons.keys()];
  }

  const assertNoSecret = (answer: Answer, ...secrets: string[]) => {
    for (const secret of [...secrets, '$argon2id', 'passwordHash'])
      assert.ok(!answer.text.includes(secret), `the answer holds ${secret}`);
  };

  describe('POST /auth/password (one’s own)', () => {
    it('sets the new password, refuses the old one and ends every earlier session', async () => {
      const p = await person();
      const next = newPassword();
      const answer = await change(p.sessions[0]!.accessToken, {
        currentPassword: PASSWORD,
        newPassword: next,
      });
      assert.equal(answer.status, 204, answer.text);
      assert.equal(answer.text, '');

      assert.equal((await login(p.email, PASSWORD)).status, 401, 'the old password');
      await assertSessionsEnded(p.sessions);
      const signedIn = await expectStatus(login(p.email, next), 200);
      await expectStatus(admin.request('GET', `${V1}/me`, { token: signedIn.body.accessToken }), 200);

      const events = (await admin.store.readStream(`org:${acme.orgId}:user:${p.userId}`)).map((e) => ({
        type: e.type,
        actor: e.actor,
      }));
      assert.deepEqual(events.at(-1), {
        type: 'UserPasswordSet',
        actor: { kind: 'user', id: p.userId, ip: '127.0.0.1' },
      });
      assert.ok(!(await logText()).includes(next), 'the new password is in the log');
    });

    it('writes a SessionEnded password_changed for each session it ends, this one too', async () => {
      const p = await person();
      await expectStatus(
        change(p.sessions[0]!.accessToken, { currentPassword: PASSWORD, newPassword: newPassword() }),
        204,
      );
      const ended = await assertEachEndedInTheLog(p.userId, 'UserPasswordSet', 'password_changed');
      assert.equal(ended.length, 2);
    });

    it('refuses a wrong current password, writes nothing, and throttles it with sign-in', async () => {
      // Its own API: the failures hold back every sign-in from this IP for 15 minutes.
      const strict = await startTestAdmin({ loginThrottle: { maxFailures: MAX, windowMs: 15 * 60_000 } });
      if (typeof strict === 'string') throw new Error(strict);
      try {
        await throttled(strict);
      } finally {
        await strict.close();
      }
    });

    async function throttled(admin: TestAdmin) {
      const org = await createOrgWithRoles(admin, 'strict');
      const p = org.users.developer;
      const change = (token: string, body: unknown) =>
        admin.request('POST', `${V1}/auth/password`, { token, body });
      const login = (email: string, password: string) =>
        admin.request('POST', `${V1}/auth/login`, { body: { email, password } });
      const head = await admin.store.headPosition();
      for (let i = 0; i < MAX; i++) {
        const answer = await change(p.token, {
          currentPassword: `wrong guess ${i} here`,
          newPassword: newPassword(),
        });
        assert.equal(answer.status, 400, answer.text);
        assert.equal(answer.body.code, 'validation_failed');
        assert.deepEqual(
          answer.body.errors.map((e: { path: string }) => e.path),
          ['body.currentPassword'],
        );
        assertNoSecret(answer, `wrong guess ${i} here`);
      }
      const refused = await change(p.token, { currentPassword: PASSWORD, newPassword: newPassword() });
      assert.equal(refused.status, 429, refused.text);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      // Worded for a change of password as much as for a sign-in.
      assert.match(
        refused.body.detail,
        /^too many wrong passwords for this account or from this address; try again in \d+ s$/,
      );
      // One throttle: the sign-in from this IP is held back by the same failures.
      assert.equal((await login(p.email, PASSWORD)).status, 429);
      assert.equal(await admin.store.headPosition(), head, 'nothing was written');
      // The session lives on: a wrong guess is not a sign-out.
      await expectStatus(admin.request('GET', `${V1}/me`, { token: p.token }), 200);
    }

    it('refuses a weak new password, or the current one again, and writes nothing', async () => {
      const p = await person();
      const head = await admin.store.headPosition();
      for (const weak of ['short1A!', 'password1234', 'aaaaaaaaaaaaaaaa', PASSWORD]) {
        const answer = await change(p.sessions[0]!.accessToken, {
          currentPassword: PASSWORD,
          newPassword: weak,
        });
        assert.equal(answer.status, 400, `${weak}: ${answer.text}`);
        assert.equal(answer.body.code, 'validation_failed');
        assert.deepEqual(
          answer.body.errors.map((e: { path: string }) => e.path),
          ['body.newPassword'],
        );
        assertNoSecret(answer, weak, PASSWORD);
      }
      assert.equal(await admin.store.headPosition(), head, 'nothing was written');
      await expectStatus(login(p.email, PASSWORD), 200);
    });

    it('every role changes its own password', async () => {
      const org = await createOrgWithRoles(admin, 'roles');
      for (const role of ROLES) {
        const next = newPassword();
        const answer = await change(org.users[role].token, { currentPassword: PASSWORD, newPassword: next });
        assert.equal(answer.status, 204, `${role}: ${answer.text}`);
        await expectStatus(login(org.users[role].email, next), 200);
      }
    });

    it('is refused to machine tokens, the bootstrap token and people without a password', async () => {
      const token = (
        await expectStatus(
          admin.request('POST', `${V1}/orgs/acme/api-tokens`, {
            token: acme.users.owner.token,
            body: { name: 'machine', role: 'developer' },
          }),
          201,
        )
      ).body.token as string;
      const body = { currentPassword: PASSWORD, newPassword: newPassword() };
      for (const caller of [token, admin.adminToken]) {
        const answer = await change(caller, body);
        assert.equal(answer.status, 409, answer.text);
        assert.equal(answer.body.code, 'invalid_state');
      }
      assert.equal((await change('not-a-token', body)).status, 401);
    });
  });

  describe('PUT /orgs/{org}/users/{user}/password (a reset)', () => {
    it("sets another user's password and ends all their sessions; the answer holds no secret", async () => {
      const p = await person();
      const next = newPassword();
      const answer = await reset(acme.users.admin.token, `/orgs/acme/users/${p.userId}`, next);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.id, p.userId);
      assert.equal(answer.body.hasPassword, true);
      assert.match(answer.headers.get('etag') ?? '', /^"\d+"$/);
      assertNoSecret(answer, next);

      assert.equal((await login(p.email, PASSWORD)).status, 401, 'the old password');
      await assertSessionsEnded(p.sessions);
      await expectStatus(login(p.email, next), 200);
      // The caller's own session is untouched.
      await expectStatus(admin.request('GET', `${V1}/me`, { token: acme.users.admin.token }), 200);
      assert.ok(!(await logText()).includes(next), 'the new password is in the log');
      // Each session the reset ended is ended in the log, by the admin, in the reset's append.
      const ended = await assertEachEndedInTheLog(p.userId, 'UserPasswordSet', 'password_reset');
      assert.equal(ended.length, 2);
    });

    it('no sign-in that checked the old password keeps its session, however it interleaves', async () => {
      const p = await person();
      // The reset and a burst of sign-ins with the old password at once: argon2id checks queue
      // in libuv's pool, so some pass with the old hash and start their session after the reset.
      const [answer, ...logins] = await Promise.all([
        reset(acme.users.owner.token, `/orgs/acme/users/${p.userId}`, newPassword()),
        ...Array.from({ length: 12 }, () => login(p.email, PASSWORD)),
      ]);
      assert.equal(answer!.status, 200, answer!.text);
      for (const signedIn of logins) {
        assert.ok([200, 401].includes(signedIn.status), signedIn.text);
        if (signedIn.status !== 200) continue;
        const me = await admin.request('GET', `${V1}/me`, { token: signedIn.body.accessToken });
        assert.equal(me.status, 401, 'a session of the old password outlived the reset');
        const refreshed = await admin.request('POST', `${V1}/auth/refresh`, {
          body: { refreshToken: signedIn.body.refreshToken },
        });
        assert.equal(refreshed.status, 401, 'a refresh token of the old password outlived the reset');
      }
      assert.equal((await login(p.email, PASSWORD)).status, 401);
      // Every session started before the reset is ended in the log: the two from before, in the
      // reset's append; one of a sign-in that raced it, there, by its own check (`revoked`) or
      // right after the reset.
      await assertEachEndedInTheLog(p.userId, 'UserPasswordSet', 'password_reset', ['revoked']);
    });

    it('follows the rule of role changes: never an owner by an admin, never oneself', async () => {
      const owner = await person('owner');
      const head = await admin.store.headPosition();
      const refused = await reset(acme.users.admin.token, `/orgs/acme/users/${owner.userId}`, newPassword());
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.code, 'not_allowed_for_you');
      const self = await reset(
        acme.users.admin.token,
        `/orgs/acme/users/${acme.users.admin.userId}`,
        newPassword(),
      );
      assert.equal(self.status, 403, self.text);
      assert.equal(self.body.code, 'not_allowed_for_you');
      for (const role of ['finance', 'developer', 'auditor'] as const) {
        const answer = await reset(acme.users[role].token, `/orgs/acme/users/${owner.userId}`, newPassword());
        assert.equal(answer.status, 403, `${role}: ${answer.text}`);
        assert.equal(answer.body.code, 'forbidden');
      }
      assert.equal(await admin.store.headPosition(), head, 'nothing was written');
      await expectStatus(login(owner.email, PASSWORD), 200);
      // An owner may reset another owner's.
      await expectStatus(
        reset(acme.users.owner.token, `/orgs/acme/users/${owner.userId}`, newPassword()),
        200,
      );
    });

    it('refuses a weak password, a stale If-Match, and a user who signs in through SSO only', async () => {
      const sso = await orgWithSso();
      const p = await person();
      const weak = await reset(acme.users.owner.token, `/orgs/acme/users/${p.userId}`, 'password1234');
      assert.equal(weak.status, 400);
      assert.deepEqual(
        weak.body.errors.map((e: { path: string }) => e.path),
        ['body.password'],
      );
      const stale = await reset(acme.users.owner.token, `/orgs/acme/users/${p.userId}`, newPassword(), {
        'if-match': '"1"',
      });
      assert.equal(stale.status, 412, stale.text);
      const ssoOnly = await freshUser(admin, sso);
      const noPassword = await reset(
        sso.users.owner.token,
        `/orgs/${sso.slug}/users/${ssoOnly}`,
        newPassword(),
      );
      assert.equal(noPassword.status, 409, noPassword.text);
      assert.equal(noPassword.body.code, 'invalid_state');
      assert.match(noPassword.body.detail, /single sign-on/);
      await expectStatus(login(p.email, PASSWORD), 200);
    });

    it('gives a user without a password a first one in an org without single sign-on', async () => {
      // Added without a password (as the configuration file adds everyone): no way in yet.
      const userId = await freshUser(admin, acme);
      const { email } = (
        await expectStatus(
          admin.request('GET', `${V1}/orgs/acme/users/${userId}`, { token: acme.users.admin.token }),
          200,
        )
      ).body as { email: string };
      assert.equal((await login(email, PASSWORD)).status, 401);
      const first = newPassword();
      const answer = await reset(acme.users.admin.token, `/orgs/acme/users/${userId}`, first);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.hasPassword, true);
      await expectStatus(login(email, first), 200);
    });

    it('a refused reset costs no hash: every check that refuses comes first, with its status', async () => {
      const sso = await orgWithSso();
      const p = await person();
      const owner = await person('owner');
      const disabled = await person();
      await expectStatus(
        admin.request('POST', `${V1}/orgs/acme/users/${disabled.userId}/disable`, {
          token: acme.users.owner.token,
          body: {},
        }),
        200,
      );
      const ssoOnly = await freshUser(admin, sso);
      const theirs = await freshUser(admin, other, PASSWORD);
      const refusals: [string, string, string, Record<string, string> | undefined, number, string][] = [
        [
          acme.users.admin.token,
          `/orgs/acme/users/${owner.userId}`,
          'owner',
          undefined,
          403,
          'not_allowed_for_you',
        ],
        [
          acme.users.admin.token,
          `/orgs/acme/users/${acme.users.admin.userId}`,
          'self',
          undefined,
          403,
          'not_allowed_for_you',
        ],
        [
          acme.users.developer.token,
          `/orgs/acme/users/${p.userId}`,
          'no user.manage',
          undefined,
          403,
          'forbidden',
        ],
        [
          acme.users.owner.token,
          `/orgs/acme/users/${disabled.userId}`,
          'disabled',
          undefined,
          409,
          'invalid_state',
        ],
        [
          sso.users.owner.token,
          `/orgs/${sso.slug}/users/${ssoOnly}`,
          'sso only',
          undefined,
          409,
          'invalid_state',
        ],
        [acme.users.owner.token, `/orgs/acme/users/${theirs}`, 'other org', undefined, 404, 'not_found'],
        [
          acme.users.owner.token,
          `/orgs/acme/users/${p.userId}`,
          'stale',
          { 'if-match': '"1"' },
          412,
          'precondition_failed',
        ],
      ];
      const head = await admin.store.headPosition();
      const before = hashes;
      for (const [token, path, what, headers, status, code] of refusals) {
        const answer = await reset(token, path, newPassword(), headers);
        assert.equal(answer.status, status, `${what}: ${answer.text}`);
        assert.equal(answer.body.code, code, what);
      }
      assert.equal(hashes, before, 'a refused reset hashed the new password');
      assert.equal(await admin.store.headPosition(), head, 'nothing was written');
      await expectStatus(reset(acme.users.owner.token, `/orgs/acme/users/${p.userId}`, newPassword()), 200);
      assert.equal(hashes, before + 1, 'an accepted reset hashes once');
    });

    it('nor does adding a user with a role one cannot grant', async () => {
      const before = hashes;
      const answer = await admin.request('POST', `${V1}/orgs/acme/users`, {
        token: acme.users.admin.token,
        body: { email: `p${++counter}@acme.test`, role: 'owner', password: newPassword() },
      });
      assert.equal(answer.status, 403, answer.text);
      assert.equal(answer.body.code, 'not_allowed_for_you');
      assert.equal(hashes, before, 'a refused user hashed the password');
    });

    it("another org's user is 404, by its org or inside one's own, and nothing is written", async () => {
      const theirs = await freshUser(admin, other, PASSWORD);
      const head = await admin.store.headPosition();
      for (const path of [
        `/orgs/other/users/${theirs}`,
        `/orgs/${other.orgId}/users/${theirs}`,
        `/orgs/acme/users/${theirs}`,
      ]) {
        const answer = await reset(acme.users.owner.token, path, newPassword());
        assert.equal(answer.status, 404, `${path}: ${answer.text}`);
      }
      assert.equal(await admin.store.headPosition(), head, 'nothing was written');
    });
  });

  it('disabling a user writes a SessionEnded user_disabled for each of their sessions', async () => {
    const p = await person();
    await expectStatus(
      admin.request('POST', `${V1}/orgs/acme/users/${p.userId}/disable`, {
        token: acme.users.admin.token,
        body: {},
      }),
      200,
    );
    await assertSessionsEnded(p.sessions);
    const ended = await assertEachEndedInTheLog(p.userId, 'UserDisabled', 'user_disabled');
    assert.equal(ended.length, 2);
  });

  it('the audit log shows both, by whom, without the hash or the password', async () => {
    const p = await person();
    const own = newPassword();
    const byAdmin = newPassword();
    await expectStatus(
      change(p.sessions[0]!.accessToken, { currentPassword: PASSWORD, newPassword: own }),
      204,
    );
    await expectStatus(reset(acme.users.admin.token, `/orgs/acme/users/${p.userId}`, byAdmin), 200);
    const audit = await expectStatus(
      admin.request('GET', `${V1}/orgs/acme/audit?action=UserPasswordSet&limit=200`, {
        token: acme.users.auditor.token,
      }),
      200,
    );
    const entries = audit.body.items.filter((e: { subject: { id: string } }) => e.subject.id === p.userId);
    assert.deepEqual(
      entries.map((e: { actor: { id: string }; after: { passwordSet: boolean } }) => [
        e.actor.id,
        e.after.passwordSet,
      ]),
      [
        ['admin-token', true], // created with a password
        [p.userId, true],
        [acme.users.admin.userId, true],
      ],
    );
    for (const secret of ['$argon2id', 'passwordHash', own, byAdmin, PASSWORD])
      assert.ok(!audit.text.includes(secret), secret);
    const csv = await expectStatus(
      admin.request('GET', `${V1}/orgs/acme/audit?action=UserPasswordSet&format=csv`, {
        token: acme.users.auditor.token,
      }),
      200,
    );
    assert.ok(csv.text.includes(p.userId));
    for (const secret of ['$argon2id', 'passwordHash', own, byAdmin])
      assert.ok(!csv.text.includes(secret), secret);
  });
});
