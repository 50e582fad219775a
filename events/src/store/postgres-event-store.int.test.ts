import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import type { RecordedEvent } from '../envelope.js';
import { eventStoreContract } from '../testing/event-store-contract.js';
import { testEvent, uniqueStream } from '../testing/events.js';
import { createTestDatabase, POSTGRES_SKIP_REASON } from '../testing/postgres.js';
import { createPostgresEventStore } from './postgres-event-store.js';

eventStoreContract('postgres', async () => {
  const database = await createTestDatabase();
  if (!database) return POSTGRES_SKIP_REASON;
  const opened: Array<{ close(): Promise<void> }> = [];
  return {
    separateConnections: true,
    open: async (options) => {
      const store = await createPostgresEventStore({ connectionString: database.url }, options);
      opened.push(store);
      return store;
    },
    close: async () => {
      for (const store of opened) await store.close();
      await database.drop();
    },
  };
});

it('hands a reader every event on a database whose default isolation is repeatable read', async (t) => {
  const database = await createTestDatabase();
  if (!database) return t.skip(POSTGRES_SKIP_REASON);
  // An operator's setting (ALTER DATABASE or ALTER ROLE): a snapshot per transaction, not per
  // statement, so the append would not see what committed while it waited for the lock.
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const name = new URL(database.url).pathname.slice(1);
  await admin.query(`ALTER DATABASE ${name} SET default_transaction_isolation = 'repeatable read'`);
  await admin.end();
  let reachedCommit!: () => void;
  const atCommit = new Promise<void>((resolve) => {
    reachedCommit = resolve;
  });
  let releaseCommit!: () => void;
  const gate = new Promise<void>((resolve) => {
    releaseCommit = resolve;
  });
  let armed = true;
  const writerA = await createPostgresEventStore(
    { connectionString: database.url },
    {
      beforeCommit: async () => {
        if (!armed) return;
        armed = false;
        reachedCommit();
        await gate;
      },
    },
  );
  const writerB = await createPostgresEventStore({ connectionString: database.url });
  try {
    const head = await writerB.headPosition();
    const received: RecordedEvent[] = [];
    const subscription = writerB.subscribe({
      after: head,
      onEvents: (events) => {
        received.push(...events);
      },
    });
    await subscription.waitFor(head);
    const stream = uniqueStream();
    // A holds the append lock; B's append waits for it, and commits after A's.
    const appendA = writerA.appendMany([testEvent(`${stream}-a`)]);
    await atCommit;
    const appendB = writerB.appendMany([testEvent(`${stream}-b`)]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseCommit();
    const [a, b] = await Promise.all([appendA, appendB]);
    assert.ok(b.lastPosition > a.lastPosition);
    await subscription.waitFor(b.lastPosition, 5_000);
    // B's reader takes B's own batch as it comes: it must not step over A's event.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await subscription.stop();
    assert.deepEqual(
      received.map((event) => event.streamId),
      [`${stream}-a`, `${stream}-b`],
    );
  } finally {
    await writerA.close();
    await writerB.close();
    await database.drop();
  }
});
