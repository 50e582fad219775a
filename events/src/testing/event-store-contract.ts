import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { NewEvent, RecordedEvent } from '../envelope.js';
import { WrongExpectedVersionError } from '../errors.js';
import type { EventStore } from '../store/port.js';
import { APPEND_FUNCTION, appendFunctionVersion } from '../store/sql.js';
import type { SqlEventStore, SqlEventStoreOptions } from '../store/sql-event-store.js';
import { MAX_FED_EVENTS } from '../store/subscription.js';
import { testEvent, uniqueStream } from './events.js';

/** A full garbage collection, on demand (V8's `gc`, exposed for this call only). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export interface EventStoreHarness {
  /**
   * Opens another store instance on the harness's database, with its own hooks. Closing
   * it leaves the database and the other instances open.
   */
  open(options?: SqlEventStoreOptions): Promise<EventStore>;
  /** Whether instances have connections of their own (like replicas), or share one (embedded). */
  separateConnections: boolean;
  close(): Promise<void>;
}

/**
 * The one contract every EventStore adapter passes. Tests work relative to the head
 * position and on fresh stream ids, so they can share a database.
 */
export function eventStoreContract(
  name: string,
  makeHarness: () => Promise<EventStoreHarness | string>,
): void {
  describe(`EventStore contract: ${name}`, () => {
    let harness: EventStoreHarness;
    let store: EventStore;
    let skip: string | undefined;

    before(async () => {
      const made = await makeHarness();
      if (typeof made === 'string') {
        skip = made;
        return;
      }
      harness = made;
      store = await harness.open();
    });
    after(async () => {
      await harness?.close();
    });

    /** A case that the harness could not set up is skipped with the harness's reason. */
    const test = (title: string, fn: () => Promise<void>) =>
      it(title, async (t) => {
        if (skip) return t.skip(skip);
        await fn();
      });

    test('appends to a new stream and reads it back in order', async () => {
      const stream = uniqueStream();
      const events = [testEvent(stream, { n: 1 }), testEvent(stream, { n: 2 }), testEvent(stream, { n: 3 })];
      const result = await store.append(stream, events, 'no-stream');
      assert.equal(result.written, 3);
      assert.equal(result.nextExpectedVersion, 3);
      const read = await store.readStream(stream);
      assert.deepEqual(
        read.map((e) => [e.id, e.streamVersion, (e.data as { n: number }).n]),
        events.map((e, i) => [e.id, i + 1, i + 1]),
      );
      assert.ok(read[0]!.position < read[1]!.position && read[1]!.position < read[2]!.position);
      assert.equal(result.lastPosition, read[2]!.position);
    });

    test('keeps every envelope field', async () => {
      const stream = uniqueStream();
      const event = {
        ...testEvent(stream, { nested: { list: [1, 'two', null], unicode: 'ключ ✓' } }),
        orgId: 'org_42',
        actor: { kind: 'user' as const, id: 'usr_1' },
        causationId: 'cause-1',
        correlationId: 'corr-1',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        time: new Date('2026-01-02T03:04:05.678Z'),
        schemaVersion: 2,
      };
      await store.append(stream, [event], 'any');
      const [read] = await store.readStream(stream);
      assert.ok(read);
      const { position, streamVersion, ...rest } = read;
      assert.deepEqual(rest, event);
      assert.equal(streamVersion, 1);
      assert.ok(position > 0);
    });

    test('refuses a wrong expected version with a typed error', async () => {
      const stream = uniqueStream();
      await store.append(stream, [testEvent(stream), testEvent(stream)], 'no-stream');
      await assert.rejects(store.append(stream, [testEvent(stream)], 1), (error: unknown) => {
        assert.ok(error instanceof WrongExpectedVersionError);
        assert.equal(error.code, 'wrong_expected_version');
        assert.equal(error.actual, 2);
        return true;
      });
      await assert.rejects(store.append(stream, [testEvent(stream)], 'no-stream'), WrongExpectedVersionError);
      const other = uniqueStream();
      await assert.rejects(
        store.append(other, [testEvent(other)], 'stream-exists'),
        WrongExpectedVersionError,
      );
      const ok = await store.append(stream, [testEvent(stream)], 2);
      assert.equal(ok.nextExpectedVersion, 3);
      assert.equal((await store.readStream(stream)).length, 3);
    });

    test('of two concurrent appends at the same expected version exactly one wins', async () => {
      const stream = uniqueStream();
      await store.append(stream, [testEvent(stream)], 'no-stream');
      const other = await harness.open();
      for (let round = 0; round < 10; round++) {
        const version = round + 1;
        const results = await Promise.allSettled([
          store.append(stream, [testEvent(stream, { by: 'a', round })], version),
          other.append(stream, [testEvent(stream, { by: 'b', round })], version),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        assert.equal(won.length, 1, `round ${round}: exactly one append wins`);
        assert.ok((lost[0] as PromiseRejectedResult).reason instanceof WrongExpectedVersionError);
      }
      assert.equal((await store.readStream(stream)).length, 11);
      await other.close();
    });

    test('appends many streams in one batch, keeping the given order', async () => {
      const a = uniqueStream('a');
      const b = uniqueStream('b');
      await store.append(a, [testEvent(a)], 'no-stream');
      const batch = [
        testEvent(a, { i: 0 }),
        testEvent(b, { i: 1 }),
        testEvent(a, { i: 2 }),
        testEvent(b, { i: 3 }),
      ];
      const result = await store.appendMany(batch);
      assert.equal(result.written, 4);
      const head = await store.headPosition();
      assert.equal(result.lastPosition, head);
      const all = await store.readAll({ after: head - 4, maxCount: 10 });
      assert.deepEqual(
        all.map((e) => e.id),
        batch.map((e) => e.id),
      );
      assert.deepEqual(
        (await store.readStream(a)).map((e) => e.streamVersion),
        [1, 2, 3],
      );
      assert.deepEqual(
        (await store.readStream(b)).map((e) => e.streamVersion),
        [1, 2],
      );
    });

    test('appends across streams in one transaction, checking the version of one', async () => {
      const checked = uniqueStream('user');
      const a = uniqueStream('session');
      const b = uniqueStream('session');
      await store.append(checked, [testEvent(checked)], 'no-stream');
      await store.append(a, [testEvent(a), testEvent(a)], 'no-stream');
      const head = await store.headPosition();
      // A wrong version of the checked stream writes nothing, in any stream.
      await assert.rejects(
        store.appendAcross(checked, [testEvent(checked), testEvent(a), testEvent(b)], 'no-stream'),
        WrongExpectedVersionError,
      );
      assert.equal(await store.headPosition(), head, 'nothing was written');
      // The other streams are not checked: `a` is at 2, `b` new, and both take their next version.
      const batch = [testEvent(checked, { i: 0 }), testEvent(a, { i: 1 }), testEvent(b, { i: 2 })];
      const result = await store.appendAcross(checked, batch, 1);
      assert.equal(result.written, 3);
      assert.equal(result.lastPosition, await store.headPosition());
      assert.deepEqual(
        (await store.readAll({ after: head, maxCount: 10 })).map((e) => [e.id, e.streamVersion]),
        [
          [batch[0]!.id, 2],
          [batch[1]!.id, 3],
          [batch[2]!.id, 1],
        ],
      );
    });

    test('stores an event id once, however often it is appended', async () => {
      const stream = uniqueStream();
      const event = testEvent(stream);
      const first = await store.append(stream, [event], 'no-stream');
      // A retry of the same command (same ids) is accepted and writes nothing.
      const retry = await store.append(stream, [event], 'no-stream');
      assert.equal(retry.written, 0);
      assert.equal(retry.lastPosition, first.lastPosition);
      const again = await store.appendMany([event, testEvent(stream), event]);
      assert.equal(again.written, 1);
      const read = await store.readStream(stream);
      assert.equal(read.length, 2);
      assert.equal(read.filter((e) => e.id === event.id).length, 1);
    });

    test('a database that lost its append function (a copy of the tables alone) gets it back at open', async () => {
      const sql = (store as SqlEventStore).sql;
      await sql.query(`DROP FUNCTION ${APPEND_FUNCTION}`);
      await assert.rejects(store.appendMany([testEvent(uniqueStream())]), /kordon_append/);
      const reopened = await harness.open();
      const stream = uniqueStream();
      assert.equal((await reopened.appendMany([testEvent(stream)])).written, 1);
      assert.equal((await store.appendMany([testEvent(stream)])).written, 1);
      await reopened.close();
    });

    test('a store replaces an older append function at open, never a newer one', async () => {
      const sql = (store as SqlEventStore).sql;
      const version = () => appendFunctionVersion(sql);
      const installed = await version();
      await sql.query(`COMMENT ON FUNCTION ${APPEND_FUNCTION} IS '0'`);
      await (await harness.open()).close();
      assert.equal(await version(), installed, 'the older one replaced');
      await sql.query(`COMMENT ON FUNCTION ${APPEND_FUNCTION} IS '999'`);
      await (await harness.open()).close();
      assert.equal(await version(), 999, 'the newer one kept');
      await sql.query(`COMMENT ON FUNCTION ${APPEND_FUNCTION} IS '${installed}'`);
    });

    test('reads all events in pages from a position', async () => {
      const stream = uniqueStream();
      const head = await store.headPosition();
      const events = Array.from({ length: 25 }, (_, i) => testEvent(stream, { i }));
      await store.appendMany(events);
      const seen: RecordedEvent[] = [];
      let position = head;
      for (;;) {
        const page = await store.readAll({ after: position, maxCount: 7 });
        if (page.length === 0) break;
        seen.push(...page);
        position = page[page.length - 1]!.position;
      }
      assert.deepEqual(
        seen.filter((e) => e.streamId === stream).map((e) => e.id),
        events.map((e) => e.id),
      );
      assert.equal(await store.headPosition(), position);
    });

    test('a catch-up subscription delivers history, then turns live', async () => {
      const stream = uniqueStream();
      const head = await store.headPosition();
      await store.appendMany(Array.from({ length: 1200 }, (_, i) => testEvent(stream, { i })));
      const received: RecordedEvent[] = [];
      const subscription = store.subscribe({
        after: head,
        batchSize: 500,
        onEvents: (events) => {
          received.push(...events.filter((e) => e.streamId === stream));
        },
      });
      await subscription.waitFor(await store.headPosition(), 10_000);
      assert.equal(received.length, 1200);
      // Live: appended after the subscription caught up, also from another instance.
      const other = await harness.open();
      await other.append(stream, [testEvent(stream, { i: 1200 })], 1200);
      const last = await store.headPosition();
      await subscription.waitFor(last, 5_000);
      await subscription.stop();
      assert.deepEqual(
        received.map((e) => (e.data as { i: number }).i),
        Array.from({ length: 1201 }, (_, i) => i),
      );
      assert.ok(received.every((e, i) => i === 0 || e.position > received[i - 1]!.position));
      await other.close();
    });

    test('a typed subscription gets only its types, in order, and its position reaches the head', async () => {
      const stream = uniqueStream();
      const head = await store.headPosition();
      // Mostly noise, a few wanted ones: more noise than a batch between two wanted events.
      const batch = Array.from({ length: 900 }, (_, i) =>
        i % 300 === 7 ? testEvent(stream, { i }, 'TestWanted') : testEvent(stream, { i }),
      );
      await store.appendMany(batch);
      const received: RecordedEvent[] = [];
      const subscription = store.subscribe({
        after: head,
        batchSize: 100,
        types: ['TestWanted'],
        onEvents: (events) => {
          received.push(...events);
        },
      });
      await subscription.waitFor(await store.headPosition(), 10_000);
      assert.deepEqual(
        received.map((e) => (e.data as { i: number }).i),
        [7, 307, 607],
      );
      assert.ok(received.every((e) => e.type === 'TestWanted'));
      // Live, and noise alone still moves the position on.
      await store.append(stream, [testEvent(stream, { i: 900 })], 900);
      await subscription.waitFor(await store.headPosition(), 5_000);
      await store.append(stream, [testEvent(stream, { i: 901 }, 'TestWanted')], 901);
      const last = await store.headPosition();
      await subscription.waitFor(last, 5_000);
      assert.equal(subscription.position, last);
      await subscription.stop();
      assert.deepEqual(
        received.map((e) => (e.data as { i: number }).i),
        [7, 307, 607, 901],
      );
    });

    test('a reader never passes over an event that commits after a later-numbered one', async () => {
      // Writer A holds its transaction open just before COMMIT while writer B appends.
      // A follower that reads in the meantime and then continues from the last position
      // it saw must still receive A's event.
      let reachedCommit!: () => void;
      const atCommit = new Promise<void>((resolve) => {
        reachedCommit = resolve;
      });
      let releaseCommit!: () => void;
      const gate = new Promise<void>((resolve) => {
        releaseCommit = resolve;
      });
      let armed = true;
      const writerA = await harness.open({
        beforeCommit: async () => {
          if (!armed) return;
          armed = false;
          reachedCommit();
          await gate;
        },
      });
      const writerB = await harness.open();
      const reader = await harness.open();
      // Different streams, so nothing but the store's own ordering stands between them.
      const stream = uniqueStream();
      const head = await reader.headPosition();
      const eventA = testEvent(`${stream}-a`, { writer: 'A' });
      const eventB = testEvent(`${stream}-b`, { writer: 'B' });

      const appendA = writerA.appendMany([eventA]);
      await atCommit;
      const appendB = writerB.appendMany([eventB]);
      await new Promise((resolve) => setTimeout(resolve, 100)); // give B every chance to commit first
      const early = reader.readAll({ after: head, maxCount: 100 });
      const seenEarly = await Promise.race([early, new Promise<null>((r) => setTimeout(() => r(null), 300))]);
      releaseCommit();
      await Promise.all([appendA, appendB]);
      const ours = (e: RecordedEvent) => e.streamId.startsWith(stream);
      const firstRead = (seenEarly ?? (await early)).filter(ours);
      const resumeFrom = firstRead.length ? firstRead[firstRead.length - 1]!.position : head;
      const secondRead = (await reader.readAll({ after: resumeFrom, maxCount: 100 })).filter(ours);
      const followed = [...firstRead, ...secondRead].map((e) => e.id).sort();
      assert.deepEqual(followed, [eventA.id, eventB.id].sort(), 'the follower saw both events exactly once');
      for (const s of [writerA, writerB, reader]) await s.close();
    });

    /** Counts the reads a subscription makes of a store instance. */
    const countReads = (instance: EventStore) => {
      const counted = { reads: 0 };
      const target = instance as unknown as Record<string, unknown>;
      for (const method of ['readAll', 'readTyped'] as const) {
        const original = target[method];
        if (typeof original !== 'function') continue;
        target[method] = (...args: unknown[]) => {
          counted.reads++;
          return (original as (...a: unknown[]) => unknown).apply(instance, args);
        };
      }
      return counted;
    };

    /** A live subscription of `instance` from `after`, keeping the events `keep` accepts. */
    const follow = (
      instance: EventStore,
      after: number,
      keep: (event: RecordedEvent) => boolean,
      types?: string[],
      dataOf?: string[],
    ) => {
      const received: RecordedEvent[] = [];
      const subscription = instance.subscribe({
        after,
        ...(types ? { types } : {}),
        ...(dataOf ? { dataOf } : {}),
        onEvents: (events) => {
          received.push(...events.filter(keep));
        },
      });
      return { received, subscription };
    };

    test("an instance's own appends reach its subscriptions as a read returns them, without a read", async () => {
      const own = await harness.open({ pollIntervalMs: 60_000 });
      const other = await harness.open();
      const stream = uniqueStream();
      const head = await own.headPosition();
      const { received, subscription } = follow(own, head, (e) => e.streamId === stream, [
        'TestHappened',
        'TestWanted',
      ]);
      // Caught up, another instance's append included: reads from here on would be read-backs.
      await other.appendMany([testEvent(`${stream}-other`, { n: 0 })]);
      await subscription.waitFor(await own.headPosition(), 5_000);
      const counted = countReads(own);
      const before = subscription.position;
      // What a read changes: U+0000 and a lone surrogate (not storable), an undefined field
      // (dropped), key order; text beyond ASCII is kept as it is.
      await own.appendMany([
        testEvent(stream, {
          n: 1,
          text: 'a\u0000b',
          words: 'привет 👋 \ud800',
          gone: undefined,
          z: { b: 2, a: 1 },
        }),
        testEvent(stream, { n: 2 }, 'TestNoise'),
      ]);
      await own.append(stream, [testEvent(stream, { n: 3 }, 'TestWanted')], 2);
      const last = await own.headPosition();
      await subscription.waitFor(last, 5_000);
      assert.equal(counted.reads, 0, 'nothing read back');
      assert.equal(subscription.position, last);
      const stored = (await own.readAll({ after: before, maxCount: 100 })).filter(
        (e) => e.type !== 'TestNoise',
      );
      assert.deepEqual(received, stored, 'the same events as a read gives');
      const first = received[0]?.data as { text?: string; words?: string } | undefined;
      assert.deepEqual(
        { text: first?.text, words: first?.words },
        { text: 'a\uFFFDb', words: 'привет 👋 \uFFFD' },
      );
      await subscription.stop();
      await other.close();
      await own.close();
    });

    test('an own append reaches each subscription as its own read would give it: envelope, data and dataOf', async () => {
      const own = await harness.open({ pollIntervalMs: 60_000 });
      const stream = uniqueStream();
      const head = await own.headPosition();
      const all = follow(own, head, (e) => e.streamId === stream);
      const ofStream = (e: RecordedEvent) => e.streamId === stream;
      const typedFollow = (instance: EventStore) =>
        follow(instance, head, ofStream, ['TestHappened', 'TestWanted'], ['TestWanted']);
      const { received: typedReceived, subscription: typed } = typedFollow(own);
      // Closed whatever fails, or the open stores would keep the test process alive.
      let reader: EventStore | undefined;
      try {
        await all.subscription.waitFor(head, 5_000);
        await typed.waitFor(head, 5_000);
        const counted = countReads(own);
        const withIp = {
          ...testEvent(stream, { n: 1, at: new Date(0) }),
          actor: { kind: 'user', id: 'u\u0000', ip: '127.0.0.1' },
        };
        const oddActor = {
          ...testEvent(stream, { n: 2, cut: 'x\uD83D' }, 'TestWanted'),
          actor: { kind: 'system', id: 'kordon', ip: undefined },
          correlationId: 'c\u0000',
        } as NewEvent;
        await own.appendMany([withIp as NewEvent, oddActor]);
        const last = await own.headPosition();
        await all.subscription.waitFor(last, 5_000);
        await typed.waitFor(last, 5_000);
        assert.equal(counted.reads, 0, 'nothing read back');
        // What each would have read, from another instance (whose reads are its own).
        reader = await harness.open();
        const stored = (await reader.readAll({ after: head, maxCount: 100 })).filter(
          (e) => e.streamId === stream,
        );
        const { received: typedRead, subscription: readByType } = typedFollow(reader);
        await readByType.waitFor(last, 5_000);
        await readByType.stop();
        assert.deepEqual(all.received, stored);
        assert.equal(all.received[0]?.actor.id, 'u\uFFFD');
        assert.equal(all.received[1]?.correlationId, 'c\uFFFD');
        assert.equal((all.received[1]?.data as { cut?: string } | undefined)?.cut, 'x\uFFFD');
        assert.equal((all.received[0]?.data as { at?: string } | undefined)?.at, '1970-01-01T00:00:00.000Z');
        assert.deepEqual(
          typedReceived.map((e) => e.data),
          [null, { n: 2, cut: 'x\uFFFD' }],
        );
        assert.deepEqual(typedReceived, typedRead);
        // No object is shared: not with the appended events, nor between readers.
        assert.notEqual(all.received[1]?.data, typedReceived[1]?.data);
        assert.notEqual(all.received[0]?.actor, withIp.actor);
        assert.notEqual(all.received[0]?.time, withIp.time);
      } finally {
        await typed.stop();
        await all.subscription.stop();
        await reader?.close();
        await own.close();
      }
    });

    test('an own append repeating stored ids hands on what it wrote, as a read returns it, without a read', async () => {
      const own = await harness.open({ pollIntervalMs: 60_000 });
      const stream = uniqueStream();
      const stored = testEvent(stream, { n: 0 });
      await own.appendMany([stored]);
      const head = await own.headPosition();
      const { received, subscription } = follow(own, head, (e) => e.streamId.startsWith(stream));
      await subscription.waitFor(head, 5_000);
      const counted = countReads(own);
      const [a, b, c] = [
        testEvent(stream, { n: 1 }),
        testEvent(`${stream}-b`, { n: 2 }),
        testEvent(stream, { n: 3 }),
      ];
      const result = await own.appendMany([a!, stored, b!, a!, c!]);
      assert.equal(result.written, 3);
      assert.equal(result.nextExpectedVersion, 3, 'the last written event is the third of its stream');
      await subscription.waitFor(result.lastPosition, 5_000);
      assert.equal(counted.reads, 0, 'nothing read back');
      const read = (await own.readAll({ after: head, maxCount: 100 })).filter((e) =>
        e.streamId.startsWith(stream),
      );
      assert.deepEqual(
        read.map((e) => [e.id, e.streamVersion]),
        [
          [a!.id, 2],
          [b!.id, 1],
          [c!.id, 3],
        ],
      );
      assert.deepEqual(received, read, 'the same events as a read gives');
      await subscription.stop();
      await own.close();
    });

    test('own batches of types a slow subscription does not want move it on between the ones it wants, without a read', async () => {
      const own = await harness.open({ pollIntervalMs: 60_000 });
      const stream = uniqueStream();
      const head = await own.headPosition();
      const received: RecordedEvent[] = [];
      // Batches pile up while it waits out its interval: five, of which one it wants.
      const subscription = own.subscribe({
        after: head,
        types: ['TestWanted'],
        minIntervalMs: 300,
        onEvents: (events) => {
          received.push(...events.filter((e) => e.streamId === stream));
        },
      });
      await subscription.waitFor(head, 5_000);
      const counted = countReads(own);
      for (const [n, type] of [
        [1, 'TestNoise'],
        [2, 'TestNoise'],
        [3, 'TestWanted'],
        [4, 'TestNoise'],
        [5, 'TestNoise'],
      ] as const)
        await own.appendMany([testEvent(stream, { n }, type)]);
      const last = await own.headPosition();
      await subscription.waitFor(last, 5_000);
      assert.equal(counted.reads, 0, 'nothing read back');
      assert.equal(subscription.position, last);
      assert.deepEqual(
        received.map((e) => e.data),
        [{ n: 3 }],
      );
      await subscription.stop();
      await own.close();
    });

    test('a subscription that has fallen behind keeps at most MAX_FED_EVENTS of its own batches and reads the rest', async () => {
      const own = await harness.open({ pollIntervalMs: 60_000 });
      const stream = uniqueStream();
      const head = await own.headPosition();
      const received: number[] = [];
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      // The handler stalls on its first batch of ours, as a reader slower than the appends.
      const subscription = own.subscribe({
        after: head,
        onEvents: async (events) => {
          const ours = events.filter((e) => e.streamId === stream);
          if (ours.length > 0) await gate;
          received.push(...ours.map((e) => (e.data as { n: number }).n));
        },
      });
      // Stopped and closed whatever fails, or the open store would keep the test process alive.
      try {
        await subscription.waitFor(head, 5_000);
        const counted = countReads(own);
        const BATCH = 500;
        const total = MAX_FED_EVENTS + 2 * BATCH;
        for (let from = 0; from < total; from += BATCH)
          await own.appendMany(Array.from({ length: BATCH }, (_, i) => testEvent(stream, { n: from + i })));
        const last = await own.headPosition();
        release();
        await subscription.waitFor(last, 30_000);
        assert.ok(counted.reads > 0, 'the batches past the bound were read, not kept');
        assert.deepEqual(
          received,
          Array.from({ length: total }, (_, n) => n),
          'every event once, in order',
        );
      } finally {
        release();
        await subscription.stop();
        await own.close();
      }
    });

    test("a subscription waiting out its interval holds none of the appender's event objects", async () => {
      const own = await harness.open({ pollIntervalMs: 60_000 });
      const stream = uniqueStream();
      const head = await own.headPosition();
      const { received, subscription } = follow(own, head, (e) => e.streamId === stream);
      await subscription.waitFor(head, 5_000);
      const slow = own.subscribe({ after: head, minIntervalMs: 60_000, onEvents: () => {} });
      await slow.waitFor(head, 5_000);
      // Held until `slow` wakes, a minute from now, the batch must keep its own copies only:
      // the appender's objects die young (a reader holding them moves them to the old generation).
      const held = await (async () => {
        const event = testEvent(stream, { n: 1 });
        await own.appendMany([event]);
        return new WeakRef(event.data as object);
      })();
      await subscription.waitFor(await own.headPosition(), 5_000);
      assert.deepEqual(received[0]?.data, { n: 1 });
      await new Promise((resolve) => setImmediate(resolve));
      collectGarbage();
      assert.equal(held.deref(), undefined, 'the event data handed to append is collected');
      await subscription.stop();
      await slow.stop();
      await own.close();
    });

    test("another instance's append between two of this one's is read, and each event comes once, in order", async () => {
      const own = await harness.open({ pollIntervalMs: 60_000 });
      const other = await harness.open();
      const stream = uniqueStream();
      const head = await own.headPosition();
      const { received, subscription } = follow(own, head, (e) => e.streamId.startsWith(stream));
      await subscription.waitFor(head, 5_000);
      for (let i = 0; i < 5; i++) {
        await own.appendMany([testEvent(`${stream}-own`, { i, by: 'own' })]);
        await other.appendMany([testEvent(`${stream}-other`, { i, by: 'other' })]);
      }
      await own.appendMany([testEvent(`${stream}-own`, { i: 5, by: 'own' })]);
      await subscription.waitFor(await own.headPosition(), 5_000);
      await subscription.stop();
      const stored = (await own.readAll({ after: head, maxCount: 100 })).filter((e) =>
        e.streamId.startsWith(stream),
      );
      assert.equal(stored.length, 11);
      assert.deepEqual(
        received.map((e) => e.id),
        stored.map((e) => e.id),
      );
      await other.close();
      await own.close();
    });

    test('an append rolled back leaves a hole that the next one of the same instance passes over', async () => {
      let failNext = true;
      const own = await harness.open({
        pollIntervalMs: 60_000,
        beforeCommit: async () => {
          if (!failNext) return;
          failNext = false;
          throw new Error('rolled back on purpose');
        },
      });
      const stream = uniqueStream();
      const head = await own.headPosition();
      const { received, subscription } = follow(own, head, (e) => e.streamId === stream);
      await subscription.waitFor(head, 5_000);
      await assert.rejects(own.appendMany([testEvent(stream, { n: 0 }), testEvent(stream, { n: 1 })]));
      const kept = testEvent(stream, { n: 2 });
      await own.appendMany([kept]);
      await subscription.waitFor(await own.headPosition(), 5_000);
      await subscription.stop();
      assert.deepEqual(
        received.map((e) => e.id),
        [kept.id],
      );
      await own.close();
    });

    test('concurrent writers and a live follower: every event exactly once, in position order', async () => {
      // Two writers hold their transaction open a moment before COMMIT; two append in one call.
      const writers = await Promise.all(
        [0, 1, 2, 3].map((w) =>
          harness.open(
            w % 2 === 0 ? { beforeCommit: () => new Promise((r) => setTimeout(r, Math.random() * 3)) } : {},
          ),
        ),
      );
      const stream = uniqueStream();
      const head = await store.headPosition();
      const received: RecordedEvent[] = [];
      const subscription = store.subscribe({
        after: head,
        batchSize: 50,
        onEvents: (events) => {
          received.push(...events.filter((e) => e.streamId.startsWith(stream)));
        },
      });
      const expected = new Set<string>();
      await Promise.all(
        writers.map(async (writer, w) => {
          for (let i = 0; i < 40; i++) {
            const batch = Array.from({ length: 1 + (i % 5) }, () => testEvent(`${stream}-${w}`, { w, i }));
            for (const event of batch) expected.add(event.id);
            await writer.appendMany(batch);
          }
        }),
      );
      await subscription.waitFor(await store.headPosition(), 10_000);
      await subscription.stop();
      assert.equal(received.length, expected.size);
      assert.equal(new Set(received.map((e) => e.id)).size, expected.size);
      assert.ok(received.every((e) => expected.has(e.id)));
      assert.ok(received.every((e, i) => i === 0 || e.position > received[i - 1]!.position));
      for (const writer of writers) await writer.close();
    });
  });
}
