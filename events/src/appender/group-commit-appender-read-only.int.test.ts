import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresEventStore } from '../store/postgres-event-store.js';
import type { SqlEventStore } from '../store/sql-event-store.js';
import { testAppender } from '../testing/appender.js';
import { testEvent, uniqueStream } from '../testing/events.js';
import { createTestDatabase, POSTGRES_SKIP_REASON } from '../testing/postgres.js';

/*
 * A PostgreSQL that cannot take writes for a while (a failover: the pool reconnects to a node
 * that is now a standby, or an operator puts the database read-only for maintenance) answers
 * SQLSTATE 25006 "cannot execute INSERT in a read-only transaction". That is an outage: the
 * events wait in the spool and reach the store once it takes writes again; none is taken for
 * an event the store refuses for good and dead-lettered. Needs a real server (ALTER DATABASE).
 */

const database = await createTestDatabase();

describe('GroupCommitAppender on a read-only PostgreSQL', {
  skip: database ? false : POSTGRES_SKIP_REASON,
}, () => {
  let store: SqlEventStore;
  let dir: string;
  let admin: pg.Client;
  const dbName = database ? new URL(database.url).pathname.slice(1) : '';

  const kickConnections = () =>
    admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [dbName],
    );
  const setReadOnly = async (on: boolean) => {
    await admin.query(
      `ALTER DATABASE ${pg.escapeIdentifier(dbName)} SET default_transaction_read_only = ${on ? 'on' : 'off'}`,
    );
    await kickConnections(); // the pool's next connections see the setting
  };

  before(async () => {
    store = await createPostgresEventStore({ connectionString: database!.url, maxConnections: 2 });
    dir = mkdtempSync(join(tmpdir(), 'kordon-appender-read-only-'));
    admin = new pg.Client({ connectionString: process.env.KORDON_TEST_DATABASE_URL });
    await admin.connect();
  });
  after(async () => {
    await admin
      .query(`ALTER DATABASE ${pg.escapeIdentifier(dbName)} RESET default_transaction_read_only`)
      .catch(() => {});
    await admin.end();
    await store.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps events written while the database is read-only and stores them once it takes writes again', async () => {
    const appender = testAppender(store, dir);
    const stream = uniqueStream();
    await appender.append(testEvent(stream, { i: 0 }));

    await setReadOnly(true);
    // Ten requests settle during the failover window.
    await Promise.all(Array.from({ length: 10 }, (_, i) => appender.append(testEvent(stream, { i: i + 1 }))));
    // The failover window outlasts several retries of the spool.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const during = appender.status();

    await setReadOnly(false);
    // The spool drains into the store.
    for (let t = 0; t < 200 && (appender.status().spooledEvents > 0 || appender.status().buffered > 0); t++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    await appender.close();

    const deadLetters = existsSync(join(dir, 'dead-letter.jsonl'))
      ? readFileSync(join(dir, 'dead-letter.jsonl'), 'utf8').trim().split('\n').length
      : 0;
    // The kicked connections may fail one read: read again, as a subscription would.
    let read: Awaited<ReturnType<SqlEventStore['readStream']>> | undefined;
    for (let t = 0; !read; t++) {
      try {
        read = await store.readStream(stream);
      } catch (error) {
        if (t > 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const stored = read.map((e) => (e.data as { i: number }).i);
    assert.deepEqual(
      {
        storeReachable: during.storeReachable,
        spooledEvents: during.spooledEvents,
        deadLettered: during.deadLettered,
        deadLetterLines: deadLetters,
        stored,
      },
      {
        storeReachable: false,
        spooledEvents: 10,
        deadLettered: 0,
        deadLetterLines: 0,
        stored: Array.from({ length: 11 }, (_, i) => i),
      },
      'every event reaches the log; none is dead-lettered because of an outage',
    );
  });
});
