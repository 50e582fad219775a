import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type KordonEvent, streams } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { InMemoryProjectionRunner } from '@kordon/projections';
import { execute } from '../commands/execute.js';
import { sessionDecider } from '../deciders/session.js';
import { userDecider } from '../deciders/user.js';
import { rightsOf } from '../rbac/permissions.js';
import {
  createOrgWithRoles,
  expectStatus,
  PASSWORD,
  startTestAdmin,
  type TestAdmin,
} from '../testing/harness.js';
import { type AdminViewState, adminViewProjection, decodeForView } from '../view/admin-view.js';
import { executeEndingSessions } from './user-sessions.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';
const PHC =
  '$argon2id$v=19$m=19456,t=2,p=1$abcdefghijklmnopqrstuv$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq';

/**
 * A session that starts while a command ending the user's sessions runs (after the view was
 * read, before the user's event: a sign-in racing it, here or on another replica), against real
 * PostgreSQL, with a view of this test's own so the start lands exactly in between.
 */
describe('a command that ends a user’s sessions', { skip }, () => {
  let admin: TestAdmin;
  let view: InMemoryProjectionRunner<AdminViewState, KordonEvent>;

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    view = new InMemoryProjectionRunner<AdminViewState, KordonEvent>(adminViewProjection, decodeForView);
    await view.start(admin.store);
  });
  after(async () => {
    await view?.stop();
    await admin?.close();
  });

  it('ends one started meanwhile with its own SessionEnded right after the append', async () => {
    const acme = await createOrgWithRoles(admin, 'acme');
    const email = 'racer@acme.test';
    const created = await expectStatus(
      admin.request('POST', `${V1}/orgs/acme/users`, {
        token: admin.adminToken,
        body: { email, role: 'developer', password: PASSWORD },
      }),
      201,
    );
    const userId = created.body.id as string;
    await expectStatus(
      admin.request('POST', `${V1}/auth/login`, { body: { email, password: PASSWORD } }),
      200,
    );
    const deps = {
      store: admin.store,
      view: () => view.state,
      bus: { store: admin.store, caughtUp: (position: number) => view.waitFor(position, 10_000) },
    };
    const metadata = {
      orgId: acme.orgId,
      actor: { kind: 'user' as const, id: acme.users.owner.userId },
      time: new Date(),
      correlationId: 'req-racing-reset',
    };
    const racer = '01a24888-0000-7000-8000-000000000001';
    let listed: string[] = [];
    const result = await executeEndingSessions(
      deps,
      { orgId: acme.orgId, userId },
      'password_reset',
      metadata,
      async (sessions) => {
        listed = sessions.map((s) => s.sessionId);
        // The racing sign-in: its session starts after the view was read, before the reset.
        await execute(
          deps.bus,
          sessionDecider,
          streams.session(acme.orgId, racer),
          {
            type: 'StartSession',
            sessionId: racer,
            userId,
            method: 'password',
            refreshTokenHash: { algorithm: 'hmac-sha256', keyId: 'adm-1', value: 'c'.repeat(64) },
            expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
          },
          { ...metadata, actor: { kind: 'user', id: userId }, correlationId: 'req-racing-login' },
        );
        return execute(
          deps.bus,
          userDecider,
          streams.user(acme.orgId, userId),
          {
            type: 'ResetPassword',
            passwordHash: PHC,
            by: { rights: rightsOf('owner'), userId: acme.users.owner.userId },
            sessions,
            singleSignOn: false,
          },
          metadata,
        );
      },
    );
    assert.equal(listed.length, 1, 'the session from before is the one the view listed');
    assert.ok(!listed.includes(racer));
    assert.equal(result.events.length, 2, 'UserPasswordSet and the listed session’s SessionEnded');
    for (const sessionId of [...listed, racer]) {
      const stream = await admin.store.readStream(streams.session(acme.orgId, sessionId));
      const ends = stream.filter((e) => e.type === 'SessionEnded');
      assert.equal(ends.length, 1, `session ${sessionId}`);
      assert.deepEqual(ends[0]!.data, { sessionId, reason: 'password_reset' });
      assert.deepEqual(ends[0]!.actor, metadata.actor);
      assert.equal(ends[0]!.correlationId, metadata.correlationId);
    }
    // The racer's end comes after the reset's append; the listed one's is in it.
    const racerEnd = (await admin.store.readStream(streams.session(acme.orgId, racer))).at(-1)!;
    assert.ok(racerEnd.position > result.position);
    // The view holds no live session of the user: the reset ended the racer there too.
    assert.equal(view.state.sessionIdsByUserId.get(userId), undefined);
  });
});
