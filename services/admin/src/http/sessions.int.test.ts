import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type KordonEventData, streams } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { execute } from '../commands/execute.js';
import { sessionDecider } from '../deciders/session.js';
import { AdminError } from '../errors.js';
import {
  createOrgWithRoles,
  expectStatus,
  PASSWORD,
  startTestAdmin,
  type TestAdmin,
} from '../testing/harness.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;

/**
 * Sessions in the admin view: kept while they live (spent refresh tokens too, to detect reuse),
 * dropped once ended or expired, and an expired one refused as expired wherever it is used.
 */
describe('admin API: sessions held in memory', { skip }, () => {
  let admin: TestAdmin;
  let clock = Date.parse('2025-03-01T09:00:00Z');
  const V1 = '/admin/v1';
  const DAY = 86_400_000;

  before(async () => {
    const started = await startTestAdmin({ now: () => new Date(clock) });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
  });
  after(() => admin?.close());

  const login = (email: string) =>
    expectStatus(admin.request('POST', `${V1}/auth/login`, { body: { email, password: PASSWORD } }), 200);
  const refresh = (refreshToken: string) =>
    admin.request('POST', `${V1}/auth/refresh`, { body: { refreshToken } });
  const sessionOf = (accessToken: string): string =>
    JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()).sid;

  it('drops a session and its refresh token hashes once it has expired', async () => {
    const org = await createOrgWithRoles(admin, 'memo');
    const email = org.users.developer.email;
    let refreshToken = (await login(email)).body.refreshToken as string;
    const REFRESHES = 300; // about three days of a portal open in office hours
    for (let i = 0; i < REFRESHES; i++) {
      clock += 15 * 60_000;
      refreshToken = (await expectStatus(refresh(refreshToken), 200)).body.refreshToken;
    }
    const grown = admin.api.view().sessionIdByRefreshHash.size;
    assert.ok(grown > REFRESHES, `the refreshes reached the view (${grown})`);

    // 40 days later the session has expired: its refresh token is refused...
    clock += 40 * DAY;
    await expectStatus(refresh(refreshToken), 401);
    // ...and someone signs in again (an event reaches the view at that time).
    await login(email);

    const view = admin.api.view();
    // The role users' sessions of the start have expired too: only the new one is left.
    assert.equal(view.sessions.size, 1, `${view.sessions.size} sessions kept`);
    assert.equal(
      view.sessionIdByRefreshHash.size,
      1,
      `${view.sessionIdByRefreshHash.size} refresh hashes kept`,
    );
  });

  it('refuses a dropped expired session as expired, never as a version conflict', async () => {
    const org = await createOrgWithRoles(admin, 'expiry');
    const email = org.users.auditor.email;
    const first = await login(email);
    const sessionId = sessionOf(first.body.accessToken);
    let refreshToken = first.body.refreshToken as string;
    for (let i = 0; i < 2; i++) {
      clock += 15 * 60_000;
      refreshToken = (await expectStatus(refresh(refreshToken), 200)).body.refreshToken;
    }
    const stream = streams.session(org.orgId, sessionId);

    clock += 31 * DAY;
    await login(org.users.owner.email); // moves the view past the expiry
    assert.equal(admin.api.view().sessions.has(sessionId), false);

    // Through the API: the current refresh token and the last access token are refused.
    const refused = await expectStatus(refresh(refreshToken), 401);
    assert.equal(refused.body.code, 'unauthenticated');
    const me = await expectStatus(admin.request('GET', `${V1}/me`, { token: first.body.accessToken }), 401);
    assert.equal(me.body.code, 'unauthenticated');

    // A command on the session's stream reads the stream for its expected version: the decider
    // refuses the expired session, and an end still appends after the three events there.
    const recorded = await admin.store.readStream(stream);
    const last = recorded[2];
    assert.ok(last && recorded.length === 3, `${recorded.length} events on the session's stream`);
    const current = (last.data as KordonEventData<'SessionRefreshed'>).refreshTokenHash;
    const bus = { store: admin.store, caughtUp: async () => {} };
    const metadata = {
      orgId: org.orgId,
      actor: { kind: 'user' as const, id: org.users.auditor.userId },
      time: new Date(clock),
      correlationId: 'req_sessions_test',
    };
    await assert.rejects(
      execute(
        bus,
        sessionDecider,
        stream,
        {
          type: 'RefreshSession',
          presented: current.value,
          next: { ...current, value: '0'.repeat(64) },
          now: new Date(clock),
        },
        metadata,
      ),
      (error) => error instanceof AdminError && error.code === 'unauthenticated',
    );
    const ended = await execute(
      bus,
      sessionDecider,
      stream,
      { type: 'EndSession', reason: 'revoked' },
      metadata,
    );
    assert.equal(ended.version, 4);

    // The view takes that end in (a later command waits for it) without keeping anything of the session.
    await login(org.users.owner.email);
    const view = admin.api.view();
    assert.equal(view.sessions.has(sessionId), false);
    assert.equal(view.versions.has(stream), false);
  });

  it('still ends a live session whose spent refresh token comes back, after others were dropped', async () => {
    const org = await createOrgWithRoles(admin, 'reuse');
    clock += 31 * DAY; // the role users' sessions expire
    const signedIn = await login(org.users.developer.email);
    assert.equal(admin.api.view().sessions.size, 1);
    const spent = signedIn.body.refreshToken as string;
    clock += 15 * 60_000;
    const renewed = await expectStatus(refresh(spent), 200);

    const reused = await expectStatus(refresh(spent), 401);
    assert.match(reused.body.detail, /used before/);
    await expectStatus(refresh(renewed.body.refreshToken), 401);
    await expectStatus(admin.request('GET', `${V1}/me`, { token: renewed.body.accessToken }), 401);
    assert.equal(admin.api.view().sessions.size, 0);
    assert.equal(admin.api.view().sessionIdByRefreshHash.size, 0);
  });
});
