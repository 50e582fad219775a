import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isKordonError } from '../errors.js';
import { createPostgresEventStore } from '../store/postgres-event-store.js';
import { APPEND_LOCK_KEY } from '../store/sql.js';
import type { SqlEventStore } from '../store/sql-event-store.js';
import { testAppender } from '../testing/appender.js';
import { testEvent, uniqueStream } from '../testing/events.js';
import { createTestDatabase, POSTGRES_SKIP_REASON } from '../testing/postgres.js';
import type { GroupCommitAppender } from './group-commit-appender.js';

/*
 * A PostgreSQL that takes a write and does not answer (a stalled disk, a network path that
 * drops packets, the append lock held by a stuck session) must not make every event after it
 * wait in the gateway's memory: past the store's append timeout the batch is an outage and
 * goes to the spool, and so do the batches after it until the store answers again. The
 * write given up on may still commit when the server moves on; the replay then finds its ids
 * stored and nothing is written twice. The stall here is real: another session holds the
 * append lock, so `kordon_append` waits on the server.
 */

const database = await createTestDatabase();
/** Well above what an append takes on a busy CI machine, so only the stall here reaches it. */
const TIMEOUT_MS = 1_000;

/**
 * A TCP relay to the test server that can stop relaying, as a network path that drops packets
 * does: bytes are read and dropped, so a client that gives up and closes is still seen.
 */
async function droppingRelay(target: URL) {
  let dropping = false;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    const upstream = netConnect(Number(target.port || 5432), target.hostname);
    client.on('data', (bytes) => {
      if (!dropping) upstream.write(bytes);
    });
    upstream.on('data', (bytes) => {
      if (!dropping) client.write(bytes);
    });
    const close = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('close', close).on('error', close);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    drop: (on: boolean) => {
      dropping = on;
    },
    openConnections: () => open.size,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise((closed) => server.close(closed));
    },
  };
}

/** Fails instead of hanging: a stalled store must not stall its caller. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Once the server moves on: waits (up to 10 s) for the spool to drain into the store, closes
 * the appender, and reads what the stream holds (each event's `i`, in order).
 */
async function drainedAndStored(appender: GroupCommitAppender, store: SqlEventStore, stream: string) {
  for (let t = 0; t < 400 && (appender.status().spooledEvents > 0 || !appender.status().storeReachable); t++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  const afterwards = appender.status();
  await appender.close();
  const stored = (await store.readStream(stream)).map((e) => (e.data as { i: number }).i);
  return { afterwards, stored };
}

describe('GroupCommitAppender on a PostgreSQL that stops answering', {
  skip: database ? false : POSTGRES_SKIP_REASON,
}, () => {
  let store: SqlEventStore;
  let dir: string;
  let locker: pg.Client;

  before(async () => {
    store = await createPostgresEventStore(
      { connectionString: database!.url, maxConnections: 4 },
      { appendTimeoutMs: TIMEOUT_MS },
    );
    dir = mkdtempSync(join(tmpdir(), 'kordon-appender-stalled-'));
    // Advisory locks belong to a database: the locker connects to the store's own.
    locker = new pg.Client({ connectionString: database!.url });
    await locker.connect();
  });
  after(async () => {
    await locker.end().catch(() => {});
    await store.close();
    await database?.drop(); // WITH (FORCE): ends the backends still waiting on the lock
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails an append with no answer as an outage, not as a refusal of its events', async () => {
    await locker.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK_KEY]);
    try {
      const failure = await within(
        10_000,
        'appendMany',
        store.appendMany([testEvent(uniqueStream(), { i: 0 })]).then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
      assert.ok(isKordonError(failure, 'event_store_unavailable'), `an outage, got ${String(failure)}`);
      assert.equal(failure.isRetryable, true);
    } finally {
      await locker.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK_KEY]);
    }
  });

  it('spools the events of a stalled write and those after it, and stores each once when the server moves on', async () => {
    const appender = testAppender(store, dir);
    const stream = uniqueStream();
    await appender.append(testEvent(stream, { i: 0 }));

    await locker.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK_KEY]);
    let during: ReturnType<GroupCommitAppender['status']>;
    try {
      // The first write waits on the lock until it times out; the events are durable in the
      // spool well before the server answers anything.
      await within(10_000, 'append during the stall', appender.append(testEvent(stream, { i: 1 })));
      await within(
        10_000,
        'appends after the stalled one',
        Promise.all([2, 3, 4].map((i) => appender.append(testEvent(stream, { i })))),
      );
      // A flush (as at shutdown) does not wait on the server either.
      await within(10_000, 'flush during the stall', appender.flush());
      during = appender.status();
    } finally {
      // The server moves on: the backends given up on take the lock in turn and commit.
      await locker.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK_KEY]);
    }

    const { afterwards, stored } = await drainedAndStored(appender, store, stream);
    assert.deepEqual(
      {
        storeReachable: during.storeReachable,
        spooledAtLeast: during.writtenToSpool >= 4,
        buffered: during.buffered,
        deadLettered: during.deadLettered,
        drained: afterwards.spooledEvents,
        reachableAgain: afterwards.storeReachable,
        deadLetterFile: existsSync(join(dir, 'dead-letter.jsonl')),
        stored,
      },
      {
        storeReachable: false,
        spooledAtLeast: true,
        buffered: 0,
        deadLettered: 0,
        drained: 0,
        reachableAgain: true,
        deadLetterFile: false,
        stored: [0, 1, 2, 3, 4],
      },
      'every event is stored once, in order; none waits in memory or is dead-lettered',
    );
  });
});

const backlogDatabase = await createTestDatabase();

describe('GroupCommitAppender behind a write that does not answer, under load', {
  skip: backlogDatabase ? false : POSTGRES_SKIP_REASON,
}, () => {
  after(async () => backlogDatabase?.drop()); // WITH (FORCE): ends the backend given up on
  it('gives the write up once its backlog is full, long before the append timeout, and stores each event once', async () => {
    // Only the backlog can give the write up here: the store waits a minute for an answer.
    const patient = await createPostgresEventStore(
      { connectionString: backlogDatabase!.url, maxConnections: 4 },
      { appendTimeoutMs: 60_000 },
    );
    const dir = mkdtempSync(join(tmpdir(), 'kordon-appender-backlog-'));
    const locker = new pg.Client({ connectionString: backlogDatabase!.url });
    await locker.connect();
    const appender = testAppender(patient, dir, { maxWaitingEvents: 20 });
    const stream = uniqueStream();
    try {
      await appender.append(testEvent(stream, { i: 0 }));
      await locker.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK_KEY]);
      let during: ReturnType<GroupCommitAppender['status']>;
      let waitingBefore: number;
      try {
        // The first write waits on the lock; 19 events behind it still wait in memory, the 20th
        // gives the write up, and every one of them is durable in the spool at once.
        const first = appender.append(testEvent(stream, { i: 1 }));
        await new Promise((resolve) => setTimeout(resolve, 50)); // the write is in flight, on the lock
        const behind = Array.from({ length: 19 }, (_, k) => appender.append(testEvent(stream, { i: k + 2 })));
        waitingBefore = appender.status().buffered;
        const last = appender.append(testEvent(stream, { i: 21 }));
        await within(5_000, 'appends once the backlog is full', Promise.all([first, ...behind, last]));
        during = appender.status();
      } finally {
        await locker.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK_KEY]);
      }
      const { afterwards, stored } = await drainedAndStored(appender, patient, stream);
      assert.deepEqual(
        {
          waitingBefore,
          storeReachable: during.storeReachable,
          spooled: during.writtenToSpool,
          buffered: during.buffered,
          drained: afterwards.spooledEvents,
          reachableAgain: afterwards.storeReachable,
          deadLettered: afterwards.deadLettered,
          stored,
        },
        {
          waitingBefore: 20,
          storeReachable: false,
          spooled: 21,
          buffered: 0,
          drained: 0,
          reachableAgain: true,
          deadLettered: 0,
          stored: Array.from({ length: 22 }, (_, i) => i),
        },
        'the backlog went to the spool with the write in flight, and each event is stored once, in order',
      );
    } finally {
      await locker.end().catch(() => {});
      await patient.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const pathDatabase = await createTestDatabase();

describe('the store on a network path that stops carrying packets', {
  skip: pathDatabase ? false : POSTGRES_SKIP_REASON,
}, () => {
  after(async () => pathDatabase?.drop());

  it('fails a ping with no answer in time as an outage and closes its connection, and answers again once the path does', async () => {
    const relay = await droppingRelay(new URL(pathDatabase!.url));
    const store = await createPostgresEventStore({ connectionString: relay.url, connectTimeoutMs: 500 });
    try {
      await within(10_000, 'ping before the drop', store.ping({ timeoutMs: 500 }));
      const before = relay.openConnections(); // the pool's one and the LISTEN connection
      relay.drop(true);
      const failures: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        failures.push(
          await within(
            10_000,
            'ping while packets are dropped',
            store.ping({ timeoutMs: 500 }).then(
              () => undefined,
              (error: unknown) => error,
            ),
          ),
        );
      }
      // The connections given up on are closed: probes of a hung server do not pile them up.
      for (let t = 0; t < 100 && relay.openConnections() > before; t++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const during = relay.openConnections();
      relay.drop(false);
      await within(10_000, 'ping once packets flow again', store.ping({ timeoutMs: 2_000 }));
      assert.deepEqual(
        {
          outages: failures.map((error) => isKordonError(error, 'event_store_unavailable')),
          piledUp: during > before,
        },
        { outages: [true, true, true], piledUp: false },
      );
    } finally {
      // The relay first: a query still hung on it fails, so the store can close.
      await relay.close();
      await store.close();
    }
  });
});
