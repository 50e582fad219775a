import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { migrate, type SqlExecutor } from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { LoginThrottle, loginThrottleMigrations } from './throttle.js';

/*
 * The sign-in throttle over both SQL adapters (the embedded default and PostgreSQL). Each
 * replica has its own LoginThrottle and, on PostgreSQL, its own connection pool; all share the
 * database and the server secret.
 */

const MINUTE = 60_000;
const WINDOW = 15 * MINUTE;
const T0 = 1_800_000_000_000;

for (const adapter of ['pglite', 'postgres'] as const) {
  describe(`login throttle on ${adapter}`, () => {
    /** Two replicas' throttles on one database, and the database's own executor for checks. */
    async function replicas(
      t: { skip(reason: string): void },
      options: { max?: number; maxKeys?: number } = {},
    ): Promise<
      { one: LoginThrottle; two: LoginThrottle; sql: SqlExecutor; close(): Promise<void> } | undefined
    > {
      const opened: TestStore | string = await testStores[adapter]();
      if (typeof opened === 'string') {
        t.skip(opened);
        return undefined;
      }
      const reopened = await opened.reopen();
      await migrate(opened.sql, loginThrottleMigrations);
      await migrate(reopened.sql, loginThrottleMigrations); // a second replica starting: no-op
      const secret = randomBytes(32);
      const settings = { max: options.max ?? 5, windowMs: WINDOW, maxKeys: options.maxKeys ?? 100_000 };
      return {
        one: new LoginThrottle(opened.sql, secret, settings),
        two: new LoginThrottle(reopened.sql, secret, settings),
        sql: opened.sql,
        close: async () => {
          // PostgreSQL's fixture closes every store it opened; PGlite's shares the one executor.
          if (adapter === 'pglite') await reopened.store.close();
          await opened.close();
        },
      };
    }

    it('refuses the 6th attempt within 15 minutes, with the seconds until the oldest leaves', async (t) => {
      const db = await replicas(t);
      if (!db) return;
      try {
        const { one } = db;
        for (let i = 0; i < 5; i++)
          assert.equal(await one.attempt([{ key: 'ip:1.2.3.4' }], T0 + i * 1000), 0);
        assert.equal(await one.attempt([{ key: 'ip:1.2.3.4' }], T0 + 5000), 15 * 60 - 5);
        assert.equal(await one.attempt([{ key: 'ip:5.6.7.8' }], T0 + 5000), 0, 'other keys are not affected');
        // The refused attempt was not counted: once the oldest failure leaves, one may try again.
        assert.equal(await one.attempt([{ key: 'ip:1.2.3.4' }], T0 + WINDOW + 1), 0);
        // Five again (T0 + 1 s ... T0 + 4 s and now): the next waits for T0 + 1 s to leave.
        assert.equal(await one.attempt([{ key: 'ip:1.2.3.4' }], T0 + WINDOW + 2), 1);
        await one.passed(T0 + WINDOW + 3, { clear: ['ip:1.2.3.4'] });
        assert.equal(await one.attempt([{ key: 'ip:1.2.3.4' }], T0 + WINDOW + 4), 0, 'cleared');
      } finally {
        await db.close();
      }
    });

    it('counts an attempt against every key or none, and forgives one that passed', async (t) => {
      const db = await replicas(t, { max: 2 });
      if (!db) return;
      try {
        const { one } = db;
        const both = [{ key: 'account:a@x.test' }, { key: 'ip:10.0.0.1' }];
        assert.equal(await one.attempt(both, T0), 0);
        assert.equal(await one.attempt(both, T0 + 1), 0);
        // The account is held: the attempt from a new address is refused and costs that address nothing.
        assert.ok((await one.attempt([{ key: 'account:a@x.test' }, { key: 'ip:10.0.0.2' }], T0 + 2)) > 0);
        assert.equal(await one.attempt([{ key: 'ip:10.0.0.2' }], T0 + 3), 0);
        assert.equal(await one.attempt([{ key: 'ip:10.0.0.2' }], T0 + 4), 0);
        // Forgiving the attempt at T0 + 1 (it passed) frees one place for the address.
        await one.passed(T0 + 1, { forgive: ['ip:10.0.0.1'] });
        assert.equal(await one.attempt([{ key: 'ip:10.0.0.1' }], T0 + 5), 0);
        assert.ok((await one.attempt([{ key: 'ip:10.0.0.1' }], T0 + 6)) > 0);
      } finally {
        await db.close();
      }
    });

    it("does not hold back a client that signed in to the account lately, only by the account's failures", async (t) => {
      const db = await replicas(t, { max: 2 });
      if (!db) return;
      try {
        const { one, two } = db;
        const account = 'account:owner@x.test';
        const from = (ip: string) => [{ key: account, unlessKnown: `ip:${ip}` }, { key: `ip:${ip}` }];
        assert.equal(await one.attempt(from('198.51.100.20'), T0), 0);
        await one.passed(T0, {
          clear: [account],
          forgive: ['ip:198.51.100.20'],
          remember: { account, client: 'ip:198.51.100.20' },
        });
        assert.equal(await two.attempt(from('203.0.113.1'), T0 + 1), 0);
        assert.equal(await two.attempt(from('203.0.113.2'), T0 + 2), 0);
        assert.ok((await two.attempt(from('203.0.113.3'), T0 + 3)) > 0, 'a stranger waits');
        // The owner, remembered by the other replica, is not held back by the others' failures.
        assert.equal(await two.attempt(from('198.51.100.20'), T0 + 4), 0);
        // ...for 30 days after it signed in.
        for (const [day, owner] of [
          [29, 0],
          [31, 'held'],
        ] as const) {
          const later = T0 + day * 86_400_000;
          assert.equal(await one.attempt(from('203.0.113.4'), later), 0);
          assert.equal(await one.attempt(from('203.0.113.5'), later + 1), 0);
          const wait = await one.attempt(from('198.51.100.20'), later + 2);
          assert.equal(owner === 0 ? wait === 0 : wait > 0, true, `day ${day}: ${wait}`);
        }
      } finally {
        await db.close();
      }
    });

    it('shares the failures between replicas, and counts at most `max` of guesses sent at once', async (t) => {
      const db = await replicas(t);
      if (!db) return;
      try {
        const { one, two } = db;
        const account = 'account:victim@x.test';
        const guesses = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? one : two).attempt([{ key: account }, { key: `ip:203.0.113.${i}` }], T0 + i),
          ),
        );
        assert.equal(guesses.filter((wait) => wait === 0).length, 5, guesses.join(' '));
        // Counted on both replicas: each refuses the account now.
        assert.ok((await one.attempt([{ key: account }], T0 + 100)) > 0);
        assert.ok((await two.attempt([{ key: account }], T0 + 100)) > 0);
        // The refused guesses cost their addresses nothing.
        const { rows } = await db.sql.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM kordon_login_failures WHERE cardinality(failures) > 0',
        );
        assert.equal(rows[0]?.n, 1 + 5);
      } finally {
        await db.close();
      }
    });

    it('stores no e-mail or address in the clear, and prunes what no longer counts', async (t) => {
      const db = await replicas(t, { maxKeys: 100 });
      if (!db) return;
      try {
        const { one, two, sql } = db;
        await one.attempt([{ key: 'account:someone@x.test' }, { key: 'ip:192.0.2.7' }], T0);
        await one.passed(T0, { remember: { account: 'account:someone@x.test', client: 'ip:192.0.2.7' } });
        const dump = JSON.stringify([
          (await sql.query('SELECT * FROM kordon_login_failures')).rows,
          (await sql.query('SELECT * FROM kordon_login_known')).rows,
        ]);
        assert.doesNotMatch(dump, /someone|x\.test|192\.0\.2\.7/);
        for (let i = 0; i < 300; i++) await two.attempt([{ key: `ip:k${i}` }], T0 + 1 + i);
        const count = async (table: string) =>
          (await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n;
        assert.equal(await count('kordon_login_failures'), 302);
        await one.prune(T0 + 1000);
        assert.equal(await count('kordon_login_failures'), 100, 'past maxKeys, the least recent go');
        assert.equal(await two.attempt([{ key: 'ip:k299' }], T0 + 1001), 0, 'the most recent stay');
        await one.prune(T0 + 1000 + WINDOW);
        assert.equal(await count('kordon_login_failures'), 1, 'out of the window');
        assert.equal(await count('kordon_login_known'), 1);
        await one.prune(T0 + 30 * 86_400_000 + 1);
        assert.equal(await count('kordon_login_known'), 0, 'a client not seen in 30 days is forgotten');
        // Each process prunes on a timer, at its clock.
        await one.attempt([{ key: 'ip:later' }], T0 + 2 * WINDOW);
        const errors: unknown[] = [];
        const stop = two.pruneEvery(
          5,
          () => T0 + 4 * WINDOW,
          (error) => errors.push(error),
        );
        try {
          const deadline = Date.now() + 10_000;
          while ((await count('kordon_login_failures')) !== 0 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        } finally {
          await stop();
        }
        assert.equal(await count('kordon_login_failures'), 0);
        assert.deepEqual(errors, []);
      } finally {
        await db.close();
      }
    });
  });
}
