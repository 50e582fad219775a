import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Catalogue, defineEvent, type EventOf, type RecordedEvent } from '@kordon/events';
import { type TestStore, testEvent, testStores, uniqueStream } from '@kordon/events/testing';
import { z } from 'zod';
import type { SqlProjection } from './projection.js';
import { SqlProjectionRunner } from './sql-runner.js';

const Deposited = defineEvent({
  type: 'TestDeposited',
  version: 1,
  schema: z.strictObject({ account: z.string(), amount: z.number().int() }),
});
const catalogue = new Catalogue([Deposited] as const);
type TestEvent = EventOf<typeof catalogue.definitions>;

/** Balance per account; the table refuses negative deposits, to have a SQL-level poison. */
function balances(version = 1): SqlProjection<TestEvent> {
  return {
    name: 'test_balances',
    version,
    tables: ['test_balances'],
    migrations: [
      {
        scope: 'test_balances',
        version: 1,
        name: 'balances',
        sql: `CREATE TABLE test_balances (
          account text PRIMARY KEY, balance bigint NOT NULL, deposits integer NOT NULL,
          last_amount bigint NOT NULL CHECK (last_amount >= 0))`,
      },
    ],
    project: (event) => [
      {
        text: `INSERT INTO test_balances (account, balance, deposits, last_amount) VALUES ($1, $2, 1, $2)
               ON CONFLICT (account) DO UPDATE SET balance = test_balances.balance + $2,
               deposits = test_balances.deposits + 1, last_amount = $2`,
        params: [event.data.account, event.data.amount],
      },
    ],
  };
}

const deposit = (account: string, amount: unknown) =>
  testEvent(uniqueStream('acct'), { account, amount }, 'TestDeposited');

async function readModel(fixture: TestStore): Promise<Array<Record<string, unknown>>> {
  const { rows } = await fixture.sql.query<Record<string, unknown>>(
    'SELECT account, balance::text AS balance, deposits FROM test_balances ORDER BY account',
  );
  return rows;
}

for (const [adapter, open] of Object.entries(testStores)) {
  describe(`SqlProjectionRunner on ${adapter}`, () => {
    let fixture: TestStore;
    let skip: string | undefined;
    const decode = (event: RecordedEvent) => catalogue.decode(event);

    before(async () => {
      const made = await open();
      if (typeof made === 'string') skip = made;
      else fixture = made;
    });
    after(async () => fixture?.close());

    it('projects, resumes after a restart without applying anything twice, parks poison, rebuilds equal', async (t) => {
      if (skip) return t.skip(skip);
      const { store, sql } = fixture;
      const runner = new SqlProjectionRunner(balances(), decode, store, sql, { batchSize: 50 });
      await runner.start();
      await store.appendMany(Array.from({ length: 120 }, (_, i) => deposit(`a${i % 3}`, 10)));
      await runner.waitFor(await store.headPosition(), 10_000);
      assert.deepEqual(await readModel(fixture), [
        { account: 'a0', balance: '400', deposits: 40 },
        { account: 'a1', balance: '400', deposits: 40 },
        { account: 'a2', balance: '400', deposits: 40 },
      ]);
      await runner.stop();

      // Events appended while it is down, including two poison events among good ones.
      await store.appendMany([
        deposit('a0', 5),
        deposit('a0', 'not a number'), // fails to decode
        deposit('a1', -7), // refused by the table's CHECK
        deposit('a1', 5),
      ]);
      const restarted = new SqlProjectionRunner(balances(), decode, store, sql, { batchSize: 50 });
      await restarted.start();
      await restarted.waitFor(await store.headPosition(), 10_000);
      const live = await readModel(fixture);
      assert.deepEqual(live, [
        { account: 'a0', balance: '405', deposits: 41 },
        { account: 'a1', balance: '405', deposits: 41 },
        { account: 'a2', balance: '400', deposits: 40 },
      ]);
      const parked = await restarted.parked();
      assert.equal(parked.length, 2);
      assert.match(parked[0]!.reason, /TestDeposited v1 at position \d+: malformed data: amount/);
      assert.match(parked[1]!.reason, /check constraint/i);

      await restarted.rebuild();
      await restarted.waitFor(await store.headPosition(), 10_000);
      assert.deepEqual(await readModel(fixture), live, 'a rebuild from zero equals the live read model');
      assert.equal((await restarted.parked()).length, 2);
      await restarted.stop();

      // A new projection version rebuilds by itself at start.
      const bumped = new SqlProjectionRunner(balances(2), decode, store, sql);
      await sql.query('UPDATE test_balances SET balance = 0');
      await bumped.start();
      await bumped.waitFor(await store.headPosition(), 10_000);
      assert.deepEqual(await readModel(fixture), live);
      await bumped.stop();
    });

    it('a transient failure mid-batch rolls back batch and checkpoint together, then applies it once', async (t) => {
      if (skip) return t.skip(skip);
      const { store, sql } = fixture;
      let failOnce = true;
      const flaky: SqlProjection<TestEvent> = {
        ...balances(),
        name: 'test_balances_flaky',
        project: (event) => {
          const statements = balances().project(event);
          if (failOnce && event.data.account === 'flaky-2') {
            // A transient failure (serialization failure, SQLSTATE 40001) in the middle
            // of a batch: the batch and its checkpoint roll back together and the batch
            // is applied again, so flaky-1 must not be counted twice.
            failOnce = false;
            return [
              ...statements,
              { text: "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END $$", params: [] },
            ];
          }
          return statements;
        },
      };
      await sql.query('DELETE FROM test_balances');
      const head = await store.headPosition();
      await sql.query(
        `INSERT INTO kordon_projection_checkpoints (name, version, position) VALUES ('test_balances_flaky', 1, $1)
         ON CONFLICT (name) DO UPDATE SET position = $1`,
        [head],
      );
      const errors: unknown[] = [];
      const runner = new SqlProjectionRunner(flaky, decode, store, sql, { onError: (e) => errors.push(e) });
      await runner.start();
      await store.appendMany([deposit('flaky-1', 1), deposit('flaky-2', 2), deposit('flaky-3', 3)]);
      await runner.waitFor(await store.headPosition(), 10_000);
      await runner.stop();
      assert.equal(failOnce, false, 'the failure was injected');
      assert.equal(errors.length, 1, 'the transient failure was reported and retried');
      assert.deepEqual(await readModel(fixture), [
        { account: 'flaky-1', balance: '1', deposits: 1 },
        { account: 'flaky-2', balance: '2', deposits: 1 },
        { account: 'flaky-3', balance: '3', deposits: 1 },
      ]);
      assert.deepEqual(await runner.parked(), [], 'a transient failure parks nothing');
      const { rows: checkpoint } = await sql.query<{ position: string }>(
        "SELECT position FROM kordon_projection_checkpoints WHERE name = 'test_balances_flaky'",
      );
      assert.equal(Number(checkpoint[0]!.position), await store.headPosition());
    });

    it('a rebuild halted part-way beside a process still following: that process adds what the replay missed, once', async (t) => {
      if (skip) return t.skip(skip);
      const { store, sql } = fixture;
      // Counts are not idempotent: an event applied twice, or not at all, shows.
      const projection = { ...balances(), name: 'test_balances_rebuilt' };
      const live = new SqlProjectionRunner(projection, decode, store, sql, { batchSize: 3 });
      await live.start();
      await store.appendMany(Array.from({ length: 12 }, (_, i) => deposit(`r${i % 2}`, 1)));
      await live.waitFor(await store.headPosition(), 10_000);
      // Another process rebuilds: its replay applies the log up to eight events from the end,
      // and is held at the batch after...
      const cut = (await store.headPosition()) - 8;
      let holding!: () => void;
      const held = new Promise<void>((resolve) => {
        holding = resolve;
      });
      let halt!: (error: Error) => void;
      const gate = new Promise<void>((_, reject) => {
        halt = reject;
      });
      gate.catch(() => {});
      const replay = new SqlProjectionRunner(
        {
          ...projection,
          prepare: async (events) => {
            if (!events.some((event) => event.position > cut)) return;
            holding();
            await gate;
          },
        },
        decode,
        store,
        sql,
        { batchSize: 2, onError: () => {} },
      );
      await replay.start();
      await replay.rebuild();
      await held;
      // ...while the first process applies new events (and, first, what the replay has not)...
      await store.appendMany([deposit('r0', 100)]);
      await live.waitFor(await store.headPosition(), 10_000);
      // ...and the rebuilding process stops there, then starts again.
      const stopping = replay.stop();
      halt(new Error('the rebuilding process stopped'));
      await stopping;
      // (The first process stops first: two processes following live would both count the next.)
      await live.stop();
      const restarted = new SqlProjectionRunner(projection, decode, store, sql);
      await restarted.start();
      try {
        await store.appendMany([deposit('r1', 100)]);
        await restarted.waitFor(await store.headPosition(), 10_000);
        const model = await readModel(fixture);
        assert.deepEqual(
          model.filter((row) => String(row.account).startsWith('r')),
          [
            { account: 'r0', balance: '106', deposits: 7 },
            { account: 'r1', balance: '106', deposits: 7 },
          ],
        );
        await restarted.rebuild();
        await restarted.waitFor(await store.headPosition(), 10_000);
        assert.deepEqual(await readModel(fixture), model, 'what a rebuild alone gives');
      } finally {
        await restarted.stop();
      }
    });

    it('a process of the version before replays nothing into a read model a newer version rebuilt', async (t) => {
      if (skip) return t.skip(skip);
      const { store, sql } = fixture;
      const named = (version: number) => ({ ...balances(version), name: 'test_balances_upgraded' });
      const old = new SqlProjectionRunner(named(1), decode, store, sql);
      await old.start();
      await store.appendMany([deposit('u0', 1)]);
      await old.waitFor(await store.headPosition(), 10_000);
      // A rolling upgrade: a process of version 2 starts (and rebuilds) while the old one runs.
      const upgraded = new SqlProjectionRunner(named(2), decode, store, sql);
      await upgraded.start();
      try {
        await store.appendMany([deposit('u1', 10)]);
        const head = await store.headPosition();
        await upgraded.waitFor(head, 10_000);
        await old.waitFor(head, 10_000);
        const model = await readModel(fixture);
        // (u1's deposit is counted by both: this projection's counts are not idempotent.)
        assert.deepEqual(
          model.filter((row) => row.account === 'u0'),
          [{ account: 'u0', balance: '1', deposits: 1 }],
          'the old process added nothing of what the rebuild replays',
        );
        const { rows } = await sql.query<{ version: number; position: string }>(
          "SELECT version, position FROM kordon_projection_checkpoints WHERE name = 'test_balances_upgraded'",
        );
        assert.equal(Number(rows[0]?.position), head);
        // The old process alone applies the next event: the version stays the newer one's.
        await upgraded.stop();
        await store.appendMany([deposit('u2', 5)]);
        await old.waitFor(await store.headPosition(), 10_000);
        const { rows: after } = await sql.query<{ version: number; position: string }>(
          "SELECT version, position FROM kordon_projection_checkpoints WHERE name = 'test_balances_upgraded'",
        );
        assert.deepEqual(
          after.map((row) => [Number(row.version), Number(row.position)]),
          [[2, head]],
          'the old process neither takes the version back nor moves the checkpoint',
        );
      } finally {
        await old.stop();
        await upgraded.stop();
      }
    });
  });
}
