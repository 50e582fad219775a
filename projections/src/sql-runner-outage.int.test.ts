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

/*
 * Refusals that say the database cannot write now, whatever the event: a read-only database
 * (failover to a standby, maintenance), a statement or lock timeout, a session ended for
 * idling in a transaction. Each is raised once, in the middle of a batch: the runner must offer
 * the batch again, not park the event and move its checkpoint past it.
 */
const OUTAGES = [
  { account: 'read-only', sqlstate: '25006' },
  { account: 'statement-timeout', sqlstate: '57014' },
  { account: 'lock-timeout', sqlstate: '55P03' },
  { account: 'idle-in-transaction', sqlstate: '25P03' },
];

function failingOnceEach(failed: Set<string>): SqlProjection<TestEvent> {
  return {
    name: 'test_outage_balances',
    version: 1,
    tables: ['test_outage_balances'],
    migrations: [
      {
        scope: 'test_outage_balances',
        version: 1,
        name: 'balances',
        sql: 'CREATE TABLE test_outage_balances (account text PRIMARY KEY, balance bigint NOT NULL, deposits integer NOT NULL)',
      },
    ],
    project: (event) => {
      const statements = [
        {
          text: `INSERT INTO test_outage_balances (account, balance, deposits) VALUES ($1, $2, 1)
                 ON CONFLICT (account) DO UPDATE SET balance = test_outage_balances.balance + $2,
                 deposits = test_outage_balances.deposits + 1`,
          params: [event.data.account, event.data.amount],
        },
      ];
      const outage = OUTAGES.find((o) => o.account === event.data.account);
      if (!outage || failed.has(outage.account)) return statements;
      failed.add(outage.account);
      return [
        ...statements,
        {
          text: `DO $$ BEGIN RAISE EXCEPTION 'injected outage' USING ERRCODE = '${outage.sqlstate}'; END $$`,
          params: [],
        },
      ];
    },
  };
}

for (const [adapter, open] of Object.entries(testStores)) {
  describe(`SqlProjectionRunner on ${adapter}, when the database cannot write for a while`, () => {
    let fixture: TestStore;
    let skip: string | undefined;
    const decode = (event: RecordedEvent) => catalogue.decode(event);

    before(async () => {
      const made = await open();
      if (typeof made === 'string') skip = made;
      else fixture = made;
    });
    after(async () => fixture?.close());

    it('parks nothing and skips nothing: the batch is applied once the database writes again', async (t) => {
      if (skip) return t.skip(skip);
      const { store, sql } = fixture;
      const failed = new Set<string>();
      const errors: unknown[] = [];
      const runner = new SqlProjectionRunner(failingOnceEach(failed), decode, store, sql, {
        onError: (error) => errors.push(error),
      });
      await runner.start();
      const accounts = ['before', ...OUTAGES.map((o) => o.account), 'after'];
      // One outage per batch, so each is met on its own.
      for (const [i, account] of accounts.entries()) {
        await store.appendMany([
          testEvent(uniqueStream('acct'), { account, amount: i + 1 }, 'TestDeposited'),
        ]);
        await runner.waitFor(await store.headPosition(), 20_000);
      }
      await runner.stop();

      assert.equal(failed.size, OUTAGES.length, 'every outage was injected');
      assert.equal(errors.length, OUTAGES.length, 'each outage was reported and the batch offered again');
      assert.deepEqual(await runner.parked(), [], 'an outage parks nothing');
      const { rows } = await sql.query<{ account: string; balance: string; deposits: number }>(
        'SELECT account, balance::text AS balance, deposits FROM test_outage_balances ORDER BY balance::int',
      );
      assert.deepEqual(
        rows,
        accounts.map((account, i) => ({
          account,
          balance: String(i + 1),
          deposits: 1,
        })),
        'every event applied exactly once',
      );
      const { rows: checkpoint } = await sql.query<{ position: string }>(
        "SELECT position FROM kordon_projection_checkpoints WHERE name = 'test_outage_balances'",
      );
      assert.equal(Number(checkpoint[0]!.position), await store.headPosition());
    });
  });
}
