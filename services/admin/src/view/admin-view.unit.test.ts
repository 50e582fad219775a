import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, type NewEvent, streams } from '@kordon/events';
import { InMemoryProjectionRunner } from '@kordon/projections';
import { REFRESH_TOKEN_DAYS } from '../auth/tokens.js';
import { type AdminViewState, adminViewProjection, decodeForView } from './admin-view.js';

const ORG = 'org_sessions';
const USER = 'usr_sessions';
const DAY = 86_400_000;
const PHC =
  '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2RjVh4TDRC6Tn+FMx6wEwxcAWiMWdOhMbPEzJ8KkiNA';
const hash = (text: string) => ({
  algorithm: 'hmac-sha256' as const,
  keyId: 'pkh-0123456789abcdef',
  value: createHash('sha256').update(text).digest('hex'),
});

/** The admin view fed by hand, with stream versions and positions as the log gives them. */
function view() {
  const runner = new InMemoryProjectionRunner<AdminViewState, KordonEvent>(
    adminViewProjection,
    decodeForView,
  );
  const versions = new Map<string, number>();
  let position = 0;
  const apply = (event: NewEvent) => {
    const version = (versions.get(event.streamId) ?? 0) + 1;
    versions.set(event.streamId, version);
    runner.apply([{ ...event, streamVersion: version, position: ++position }]);
  };
  const meta = (time: number) => ({
    orgId: ORG,
    actor: { kind: 'user' as const, id: USER },
    time: new Date(time),
  });
  return {
    get state() {
      return runner.state;
    },
    /** A session started at `at`, lasting REFRESH_TOKEN_DAYS; its first refresh token is `<id>/0`. */
    start(at: number, sessionId: string = randomUUID(), userId: string = USER) {
      apply(
        kordonCatalogue.create(
          'SessionStarted',
          streams.session(ORG, sessionId),
          {
            sessionId,
            userId,
            method: 'password',
            refreshTokenHash: hash(`${sessionId}/0`),
            expiresAt: new Date(at + REFRESH_TOKEN_DAYS * DAY).toISOString(),
          },
          meta(at),
        ),
      );
      return sessionId;
    },
    refresh(at: number, sessionId: string, n: number) {
      apply(
        kordonCatalogue.create(
          'SessionRefreshed',
          streams.session(ORG, sessionId),
          { sessionId, refreshTokenHash: hash(`${sessionId}/${n}`) },
          meta(at),
        ),
      );
    },
    end(at: number, sessionId: string) {
      apply(
        kordonCatalogue.create(
          'SessionEnded',
          streams.session(ORG, sessionId),
          { sessionId, reason: 'logout' },
          meta(at),
        ),
      );
    },
    join(at: number, userId: string) {
      apply(
        kordonCatalogue.create(
          'UserJoined',
          streams.user(ORG, userId),
          { userId, email: `${userId}@example.com`, displayName: userId, method: 'bootstrap' },
          meta(at),
        ),
      );
    },
    setPassword(at: number, userId: string) {
      apply(
        kordonCatalogue.create(
          'UserPasswordSet',
          streams.user(ORG, userId),
          { userId, passwordHash: PHC },
          meta(at),
        ),
      );
    },
    /** Any other event, only to move the view's time on. */
    tick(at: number) {
      const teamId = randomUUID();
      apply(
        kordonCatalogue.create('TeamCreated', streams.team(ORG, teamId), { teamId, name: 'team' }, meta(at)),
      );
    },
  };
}

describe('admin view: sessions', () => {
  const start = Date.parse('2025-01-01T00:00:00Z');

  it('keeps only the live sessions and their refresh token hashes: 20,000 sign-ins over 200 days', () => {
    const v = view();
    const DAYS = 200;
    const PER_DAY = 100;
    const REFRESHES = 3; // an hour of portal use: one every 15 minutes
    for (let day = 0; day < DAYS; day++) {
      for (let n = 0; n < PER_DAY; n++) {
        const at = start + day * DAY + n * 1000;
        const sessionId = v.start(at);
        for (let r = 1; r <= REFRESHES; r++) v.refresh(at + r * 15 * 60_000, sessionId, r);
      }
    }
    // Only the sessions started in the last 30 days can still be used.
    const alive = REFRESH_TOKEN_DAYS * PER_DAY;
    const { sessions, sessionIdByRefreshHash, versions } = v.state;
    assert.ok(sessions.size <= alive, `sessions kept: ${sessions.size} (alive: ${alive})`);
    assert.ok(sessions.size >= alive - PER_DAY, `live sessions dropped: ${sessions.size} (alive: ${alive})`);
    assert.equal(sessionIdByRefreshHash.size, sessions.size * (REFRESHES + 1));
    for (const id of sessionIdByRefreshHash.values()) assert.ok(sessions.has(id));
    // Session streams have no ETag: no version is kept for any of them.
    assert.equal([...versions.keys()].filter((id) => id.includes(':session:')).length, 0);
  });

  it('keeps the spent hashes of a live session (reuse detection) until it expires', () => {
    const v = view();
    const sessionId = v.start(start);
    for (let r = 1; r <= 3; r++) v.refresh(start + r * 15 * 60_000, sessionId, r);
    v.tick(start + (REFRESH_TOKEN_DAYS * DAY - 1)); // a millisecond before it expires
    for (let r = 0; r <= 3; r++)
      assert.equal(v.state.sessionIdByRefreshHash.get(hash(`${sessionId}/${r}`).value), sessionId);
    assert.deepEqual(
      v.state.sessions.get(sessionId)?.refreshTokenHashes,
      [0, 1, 2, 3].map((r) => hash(`${sessionId}/${r}`).value),
    );

    v.tick(start + REFRESH_TOKEN_DAYS * DAY); // its expiry: refused from now on, so dropped
    assert.equal(v.state.sessions.has(sessionId), false);
    assert.equal(v.state.sessionIdByRefreshHash.size, 0);
  });

  it('drops a session and its hashes when it ends, and keeps the others', () => {
    const v = view();
    const ended = v.start(start);
    const other = v.start(start + 1000);
    v.refresh(start + 60_000, ended, 1);
    v.end(start + 120_000, ended);
    assert.deepEqual([...v.state.sessions.keys()], [other]);
    assert.deepEqual([...v.state.sessionIdByRefreshHash.values()], [other]);
  });

  it('drops an expired session behind one that lives longer once that one expires too', () => {
    // A session's length is fixed, so this only happens with clocks apart: no entry stays for good.
    const v = view();
    const longer = v.start(start + DAY);
    const shorter = v.start(start); // logged after, started (by its clock) a day before
    v.tick(start + REFRESH_TOKEN_DAYS * DAY);
    assert.deepEqual([...v.state.sessions.keys()], [longer, shorter]);
    v.tick(start + (REFRESH_TOKEN_DAYS + 1) * DAY);
    assert.equal(v.state.sessions.size, 0);
    assert.equal(v.state.sessionIdByRefreshHash.size, 0);
  });

  it("ends every session a user started before a new password, and no one else's", () => {
    const v = view();
    const other = 'usr_other';
    v.join(start, USER);
    v.join(start, other);
    const before = [v.start(start + 1000), v.start(start + 2000)];
    v.refresh(start + 3000, before[0]!, 1);
    const others = v.start(start + 4000, randomUUID(), other);
    v.setPassword(start + 5000, USER);
    assert.deepEqual([...v.state.sessions.keys()], [others]);
    assert.deepEqual([...v.state.sessionIdByRefreshHash.values()], [others]);
    assert.deepEqual([...v.state.sessionIdsByUserId.keys()], [other]);
    // A session started after it (signed in with the new password) lives on.
    const after = v.start(start + 6000);
    assert.deepEqual([...v.state.sessions.keys()], [others, after]);
  });
});
