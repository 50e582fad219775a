import assert from 'node:assert/strict';
import fs, { appendFileSync, mkdtempSync, type PathLike, readdirSync, readFileSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { NewEvent } from '../envelope.js';
import { EventStoreUnavailableError } from '../errors.js';
import type { EventStore } from '../store/port.js';
import { testEvent, uniqueStream } from '../testing/events.js';
import { type TestStore, testStores } from '../testing/stores.js';
import { GroupCommitAppender } from './group-commit-appender.js';
import { Spool } from './spool.js';

/** The real store behind a switch that makes it unreachable, as a network cut would. */
function switchable(store: EventStore) {
  const state = { down: false, appendCalls: 0, batchSizes: [] as number[], startedAt: [] as number[] };
  const guard = () => {
    if (state.down) throw new EventStoreUnavailableError('simulated outage');
  };
  const wrapped: EventStore = Object.assign(Object.create(store) as EventStore, {
    appendMany: async (events: NewEvent[]) => {
      state.appendCalls++;
      state.startedAt.push(performance.now());
      guard();
      state.batchSizes.push(events.length);
      return store.appendMany(events);
    },
    ping: async () => {
      guard();
      return store.ping();
    },
  });
  return { store: wrapped, state };
}

describe('GroupCommitAppender', () => {
  let fixture: TestStore;
  let dir: string;
  before(async () => {
    fixture = (await testStores.pglite()) as TestStore;
  });
  after(async () => fixture.close());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kordon-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const make = (
    store: EventStore,
    options: {
      maxBytes?: number;
      maxBufferedEvents?: number;
      maxBatch?: number;
      minIntervalMs?: number;
    } = {},
  ) => {
    const logs: string[] = [];
    const log = (level: string) => (_: object, message: string) => logs.push(`${level}: ${message}`);
    const appender = new GroupCommitAppender({
      store,
      spool: new Spool({
        dir: join(dir, 'spool'),
        maxBytes: options.maxBytes ?? 10_000_000,
        segmentBytes: 4096,
      }),
      deadLetterDir: dir,
      maxBatch: options.maxBatch ?? 100,
      maxDelayMs: 2,
      ...(options.minIntervalMs ? { minIntervalMs: options.minIntervalMs } : {}),
      retryIntervalMs: 20,
      ...(options.maxBufferedEvents ? { maxBufferedEvents: options.maxBufferedEvents } : {}),
      logger: { info: log('info'), warn: log('warn'), error: log('error') },
    });
    return { appender, logs };
  };

  const streamEvents = async (stream: string) =>
    (await fixture.store.readStream(stream)).map((e) => (e.data as { i: number }).i);

  it('groups many hand-overs into few batches, in order, durable when the promise resolves', async () => {
    const { store, state } = switchable(fixture.store);
    const { appender } = make(store);
    const stream = uniqueStream();
    const durable = Array.from({ length: 1000 }, (_, i) => appender.append(testEvent(stream, { i })));
    await Promise.all(durable);
    assert.deepEqual(
      await streamEvents(stream),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.ok(state.appendCalls <= 15, `1000 events in ${state.appendCalls} batches`);
    assert.ok(Math.max(...state.batchSizes) <= 100);
    await appender.close();
  });

  it('under a steady trickle, starts a write no sooner than minIntervalMs after the one before', async () => {
    const { store, state } = switchable(fixture.store);
    const { appender } = make(store, { minIntervalMs: 40 });
    const stream = uniqueStream();
    let i = 0;
    // At least 300 ms, 12 events and 5 writes begun (up to 10 s): on a loaded machine a 1 ms timer
    // may take tens of ms and a write hundreds, and a trickle that makes too few writes cannot
    // measure their spacing (CI saw both: 4 events; 12 events in 2 writes).
    const started = performance.now();
    const trickling = () =>
      performance.now() - started < 300 ||
      i < 12 ||
      (state.startedAt.length < 5 && performance.now() - started < 10_000);
    while (trickling()) {
      appender.enqueue(testEvent(stream, { i: i++ }));
      await new Promise((r) => setTimeout(r, 1));
    }
    const elapsed = performance.now() - started;
    await appender.flush();
    assert.deepEqual(
      await streamEvents(stream),
      Array.from({ length: i }, (_, n) => n),
    );
    // The last write is the flush's, which does not wait.
    const gaps = state.startedAt.slice(1, -1).map((at, n) => at - state.startedAt[n]!);
    assert.ok(gaps.length >= 3, `${i} events in ${state.appendCalls} writes`);
    for (const gap of gaps) assert.ok(gap >= 35, `writes ${gap.toFixed(1)} ms apart: ${gaps.join(', ')}`);
    // At most one write per interval of the trickle, and the flush's.
    const most = Math.ceil(elapsed / 40) + 2;
    assert.ok(state.appendCalls <= most, `${i} events in ${state.appendCalls} writes over ${elapsed} ms`);
    await appender.close();
  });

  it('writes a full batch, and whatever a flush asks for, without waiting out the interval', async () => {
    const { store, state } = switchable(fixture.store);
    // An interval no test could wait out: the writes below must not wait for it.
    const { appender } = make(store, { minIntervalMs: 600_000, maxBatch: 50 });
    const stream = uniqueStream();
    await appender.append(testEvent(stream, { i: 0 }));
    for (let i = 1; i <= 120; i++) appender.enqueue(testEvent(stream, { i }));
    for (let t = 0; t < 500 && state.appendCalls < 3; t++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(state.batchSizes, [1, 50, 50], 'two full batches went at once; the 20 left wait');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      appender.flush(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('flush waited out the interval')), 5_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.deepEqual(state.batchSizes, [1, 50, 50, 20]);
    assert.deepEqual(
      await streamEvents(stream),
      Array.from({ length: 121 }, (_, n) => n),
    );
    await appender.close();
  });

  it('spools while the store is down and replays in order when it returns, nothing lost or doubled', async () => {
    const { store, state } = switchable(fixture.store);
    const { appender, logs } = make(store);
    const stream = uniqueStream();
    for (let i = 0; i < 50; i++) appender.enqueue(testEvent(stream, { i }));
    await appender.flush();
    state.down = true;
    for (let i = 50; i < 400; i++) appender.enqueue(testEvent(stream, { i }));
    await appender.flush();
    const during = appender.status();
    assert.equal(during.storeReachable, false);
    assert.equal(during.spooledEvents, 350);
    assert.ok(
      readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.jsonl')).length > 1,
      'the spool rotated segments',
    );
    state.down = false;
    // New events keep coming while the spool drains: they must land after the spooled ones.
    for (let i = 400; i < 450; i++) appender.enqueue(testEvent(stream, { i }));
    await appender.flush();
    for (let t = 0; t < 200 && appender.status().spooledEvents > 0; t++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(appender.status().spooledEvents, 0);
    assert.equal(appender.status().storeReachable, true);
    assert.deepEqual(
      await streamEvents(stream),
      Array.from({ length: 450 }, (_, i) => i),
    );
    // Each event is counted once, where it went first; the replay is counted apart.
    const { writtenToStore, writtenToSpool, replayedToStore } = appender.status();
    assert.deepEqual(
      { handedOver: writtenToStore + writtenToSpool, replayedToStore, spooledAtLeast: writtenToSpool >= 350 },
      { handedOver: 450, replayedToStore: writtenToSpool, spooledAtLeast: true },
    );
    assert.ok(logs.some((l) => l.startsWith('warn: event store unreachable')));
    assert.ok(logs.some((l) => l === 'info: event spool drained into the store'));
    await appender.close();
  });

  it('says loudly when the spool is full, refuses past its memory bound, and recovers', async () => {
    const { store, state } = switchable(fixture.store);
    const { appender, logs } = make(store, { maxBytes: 20_000, maxBufferedEvents: 300 });
    const stream = uniqueStream();
    state.down = true;
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      try {
        appender.enqueue(testEvent(stream, { i }));
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'spool_full');
        refused++;
      }
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await assert.rejects(appender.flush(), /spool is full/);
    const status = appender.status();
    assert.equal(status.spoolFull, true);
    assert.ok(refused > 0, 'enqueue refuses once memory and spool are full');
    assert.ok(logs.some((l) => l.startsWith('error: EVENT SPOOL FULL')));
    const accepted = 600 - refused;
    state.down = false;
    for (let t = 0; t < 300 && (appender.status().spooledEvents > 0 || appender.status().buffered > 0); t++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await appender.flush();
    const stored = await streamEvents(stream);
    assert.equal(stored.length, accepted, 'every accepted event is stored');
    assert.deepEqual(
      stored,
      [...stored].sort((a, b) => a - b),
    );
    assert.equal(appender.status().spoolFull, false);
    await appender.close();
  });

  it('replays a spool left by an earlier run, ignoring a torn last line', async () => {
    const { store, state } = switchable(fixture.store);
    const stream = uniqueStream();
    state.down = true;
    const first = make(store).appender;
    for (let i = 0; i < 30; i++) first.enqueue(testEvent(stream, { i }));
    await first.close(50);
    const segments = readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.jsonl'));
    const last = join(dir, 'spool', segments[segments.length - 1]!);
    appendFileSync(last, '{"id":"0190a'); // a crash cut this write short: it was never acknowledged
    state.down = false;
    const second = make(store).appender;
    for (let t = 0; t < 200 && second.status().spooledEvents > 0; t++)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      await streamEvents(stream),
      Array.from({ length: 30 }, (_, i) => i),
    );
    await second.close();
  });

  it('says at start that a torn last line of the spool was left out', async () => {
    const { store, state } = switchable(fixture.store);
    const stream = uniqueStream();
    state.down = true;
    const first = make(store).appender;
    for (let i = 0; i < 5; i++) first.enqueue(testEvent(stream, { i }));
    await first.close(50);
    const segments = readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.jsonl'));
    appendFileSync(join(dir, 'spool', segments[segments.length - 1]!), '{"id":"0190a');
    state.down = false;
    const second = make(store);
    assert.ok(
      second.logs.some((l) => l.startsWith('warn: ') && /torn/.test(l)),
      `no log line names the torn line: ${second.logs.join(' | ')}`,
    );
    await second.appender.close();
  });

  it('dead-letters an event the database refuses for good, and writes the rest', async () => {
    const { appender } = make(fixture.store);
    const stream = uniqueStream();
    // A stream id past PostgreSQL's btree row limit (about 2.7 kB, incompressible text):
    // a permanent refusal of that one event, which must not hold back the others.
    const hugeStream = Array.from({ length: 4000 }, () => Math.random().toString(36).slice(2, 3)).join('');
    const events = Array.from({ length: 10 }, (_, i) => testEvent(i === 4 ? hugeStream : stream, { i }));
    for (const event of events) appender.enqueue(event);
    await appender.flush();
    assert.deepEqual(await streamEvents(stream), [0, 1, 2, 3, 5, 6, 7, 8, 9]);
    assert.equal(appender.status().deadLettered, 1);
    const letter = JSON.parse(readFileSync(join(dir, 'dead-letter.jsonl'), 'utf8').trim());
    assert.equal(letter.event.id, events[4]!.id);
    assert.match(letter.reason, /index row/i);
    await appender.close();
  });

  it('syncs the dead-letter file before the spool segment the event came from is deleted', async () => {
    const { store: switched, state } = switchable(fixture.store);
    const stream = uniqueStream();
    const refused = testEvent(stream, { i: 1 });
    // A refusal for good of that one event, as PostgreSQL gives for a value it cannot store.
    const store: EventStore = Object.assign(Object.create(switched) as EventStore, {
      appendMany: async (events: NewEvent[]) => {
        if (!state.down && events.some((e) => e.id === refused.id)) throw new Error('value out of range');
        return switched.appendMany(events);
      },
    });
    const { appender } = make(store);
    state.down = true;
    appender.enqueue(testEvent(stream, { i: 0 }));
    appender.enqueue(refused);
    await appender.flush();
    const realOpenSync = fs.openSync;
    const realFdatasyncSync = fs.fdatasyncSync;
    const realFsyncSync = fs.fsyncSync;
    const realUnlinkSync = fs.unlinkSync;
    const opened = new Map<number, string>();
    const steps: string[] = [];
    // biome-ignore lint/suspicious/noExplicitAny: overloads of openSync
    (fs as any).openSync = (path: string, ...rest: unknown[]) => {
      // biome-ignore lint/suspicious/noExplicitAny: pass through
      const fd = (realOpenSync as any)(path, ...rest) as number;
      opened.set(fd, basename(String(path)));
      return fd;
    };
    fs.fdatasyncSync = (fd: number) => {
      steps.push(`sync ${opened.get(fd)}`);
      realFdatasyncSync(fd);
    };
    fs.fsyncSync = (fd: number) => {
      steps.push(`sync ${opened.get(fd)}`);
      realFsyncSync(fd);
    };
    fs.unlinkSync = (path: PathLike) => {
      steps.push(`delete ${basename(String(path))}`);
      realUnlinkSync(path);
    };
    syncBuiltinESMExports();
    try {
      state.down = false;
      for (let t = 0; t < 200 && appender.status().spooledEvents > 0; t++)
        await new Promise((r) => setTimeout(r, 10));
    } finally {
      Object.assign(fs, {
        openSync: realOpenSync,
        fdatasyncSync: realFdatasyncSync,
        fsyncSync: realFsyncSync,
        unlinkSync: realUnlinkSync,
      });
      syncBuiltinESMExports();
    }
    assert.equal(appender.status().deadLettered, 1);
    const deleted = steps.indexOf('delete 000000000001.jsonl');
    assert.ok(deleted >= 0, steps.join(', '));
    assert.ok(
      steps.slice(0, deleted).includes('sync dead-letter.jsonl'),
      `the dead-letter file is synced before the segment goes: ${steps.join(', ')}`,
    );
    await appender.close();
  });

  it('stores text PostgreSQL cannot hold with U+FFFD in place of U+0000 and unpaired surrogates', async () => {
    const { appender } = make(fixture.store);
    const stream = uniqueStream();
    const text = 'a\u0000b \ud83d cut emoji, \ud83d\ude00 whole, literal \\u0000 and \\ud83d';
    await appender.append(testEvent(stream, { i: 0, text }));
    const [stored] = await fixture.store.readStream(stream);
    assert.equal(
      (stored!.data as { text: string }).text,
      'a\ufffdb \ufffd cut emoji, \ud83d\ude00 whole, literal \\u0000 and \\ud83d',
    );
    assert.equal(appender.status().deadLettered, 0);
    await appender.close();
  });
});
