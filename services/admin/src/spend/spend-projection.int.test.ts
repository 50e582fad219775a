import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent } from '@kordon/events';
import { testStores } from '@kordon/events/testing';
import { SqlProjectionRunner } from '@kordon/projections';
import { completedEvent, failedEvent, rejectedEvent } from '../testing/request-events.js';
import { decodeForSpend, SPEND_GAP_MAX, SPEND_PROJECTION, spendProjection } from './spend-projection.js';
import { inSpendSnapshot, querySpend, SpendSnapshotTooSlow, spendRowsIn } from './spend-query.js';

/*
 * The spend projection over both SQL adapters (the embedded default and PostgreSQL): exact
 * sums, and a restart that resumes from the checkpoint without counting anything twice.
 */

const ORG = 'org_spend';
const day = (iso: string) => new Date(iso);

function events(count: number, startHour: number): NewEvent[] {
  const made: NewEvent[] = [];
  for (let i = 0; i < count; i++) {
    const time = day(`2026-05-0${1 + (i % 2)}T${String((startHour + i) % 24).padStart(2, '0')}:30:00Z`);
    // Every other request a Responses compaction (the newest versions of the events): counted alike.
    const endpoint = i % 2 === 0 ? 'chat.completions' : 'responses.compact';
    made.push(
      i % 5 === 4
        ? rejectedEvent(ORG, time, { endpoint })
        : i % 5 === 3
          ? failedEvent(ORG, time, { cost: '0.0000001', endpoint })
          : completedEvent(ORG, time, { cost: i % 2 === 0 ? '0.1' : '0.2', endpoint }),
    );
  }
  return made;
}

for (const adapter of ['pglite', 'postgres'] as const) {
  describe(`spend projection on ${adapter}`, () => {
    it('sums exactly, and a restarted process resumes without counting twice', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      const start = async (store: typeof opened.store, sql: typeof opened.sql) => {
        const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, store, sql, {
          batchSize: 7,
        });
        await runner.start();
        return runner;
      };
      const report = async () =>
        querySpend(
          opened.sql,
          { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['day'], limit: 10 },
          { totals: true },
        );
      try {
        const first = await start(opened.store, opened.sql);
        const one = await opened.store.appendMany(events(50, 0));
        await first.waitFor(one.lastPosition, 20_000);
        await first.stop();
        // Another process on the same log (PGlite: the same database opened again) starts from
        // the checkpoint, then more requests come in.
        const reopened = await opened.reopen();
        const second = await start(reopened.store, reopened.sql);
        const two = await reopened.store.appendMany(events(50, 7));
        await second.waitFor(two.lastPosition, 20_000);
        await second.stop();
        const { rows, totals } = await report();
        assert.equal(totals?.requests, 100);
        assert.equal(totals?.rejected, 20);
        assert.equal(totals?.failed, 20);
        const usd = totals?.costs.find((c) => c.currency === 'USD')?.cost ?? '';
        // Completed, per run: i%5 in {0,1,2}: even i cost 0.1, odd 0.2; over i = 0..49 that is
        // 15 even and 15 odd: 4.5 per run, 9 in all, plus 20 failures of 0.0000001.
        assert.equal(usd.replace(/0+$/, ''), '9.000002');
        assert.deepEqual(
          rows.map((row) => row.key.day),
          ['2026-05-01', '2026-05-02'],
        );
        assert.equal(
          rows.reduce((sum, row) => sum + row.requests, 0),
          100,
        );
        // PostgreSQL's fixture closes every store it opened; PGlite's shares the one executor.
        if (adapter === 'pglite') await reopened.store.close();
      } finally {
        await opened.close();
      }
    });

    it('counts a value the catalogue would refuse as none, and goes on with the events after it', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await runner.start();
        // Written around the catalogue (an old bug, a hand-made import): not a decimal, not a count.
        const good = completedEvent(ORG, day('2026-05-01T10:00:00Z'), { cost: '0.25' });
        const bad = completedEvent(ORG, day('2026-05-01T11:00:00Z'));
        const data = bad.data as Record<string, unknown>;
        const malformed = {
          ...bad,
          data: {
            ...data,
            cost: '1e3',
            usage: { inputTokens: -5, outputTokens: 'x', cachedInputTokens: 1.5 },
          },
        };
        const after = completedEvent(ORG, day('2026-05-02T10:00:00Z'), { cost: '0.5' });
        const { lastPosition } = await opened.store.appendMany([good, malformed, after]);
        await runner.waitFor(lastPosition, 20_000);
        await runner.stop();
        const { totals } = await querySpend(
          opened.sql,
          { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['day'], limit: 10 },
          { totals: true },
        );
        assert.equal(totals?.requests, 3);
        assert.equal(totals?.unpricedRequests, 1);
        assert.equal(totals?.inputTokens, 240);
        assert.deepEqual(totals?.costs, [{ currency: 'USD', cost: '0.75' }]);
        assert.deepEqual(await runner.parked(), []);
      } finally {
        await opened.close();
      }
    });

    it('counts a cost without a currency as unpriced, not as a cost no report shows', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await runner.start();
        // The catalogue takes a cost without its currency (the gateway writes both or neither).
        const { lastPosition } = await opened.store.appendMany([
          completedEvent(ORG, day('2026-05-01T10:00:00Z'), { cost: '5', currency: null }),
          completedEvent(ORG, day('2026-05-01T11:00:00Z'), { cost: '1', currency: 'USD' }),
        ]);
        await runner.waitFor(lastPosition, 20_000);
        await runner.stop();
        const { rows, totals } = await querySpend(
          opened.sql,
          { orgId: ORG, from: '2026-05-01', to: '2026-05-02', groupBy: ['model'], limit: 10 },
          { totals: true },
        );
        assert.equal(totals?.requests, 2);
        assert.equal(totals?.unpricedRequests, 1);
        assert.deepEqual(totals?.costs, [{ currency: 'USD', cost: '1' }]);
        assert.deepEqual(
          rows.map((row) => [row.key.model, row.unpricedRequests, row.costs]),
          [['gpt-4o-mini', 1, [{ currency: 'USD', cost: '1' }]]],
        );
      } finally {
        await opened.close();
      }
    });

    it('an event the runner parked is no gap: the events after it are still added', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        // The tables, without a runner following: the batches below are applied by hand.
        const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await runner.start();
        await runner.stop();
        const made = events(3, 0);
        const { lastPosition } = await opened.store.appendMany(made);
        const [a, parked, b] = [lastPosition - 2, lastPosition - 1, lastPosition];
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [[a]]);
        await opened.sql.query(
          `INSERT INTO kordon_projection_parked (name, position, event_id, event_type, reason)
           VALUES ($1, $2, $3, 'RequestCompleted', 'test')`,
          [SPEND_PROJECTION, parked, made[1]!.id],
        );
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [[b]]);
        const { totals } = await querySpend(
          opened.sql,
          { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['day'], limit: 10 },
          { totals: true },
        );
        assert.equal(totals?.requests, 2);
      } finally {
        await opened.close();
      }
    });

    it('reads every page of an export in one snapshot while the projection moves', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await runner.start();
        const users = (from: number, count: number, time: string) =>
          Array.from({ length: count }, (_, i) =>
            completedEvent(ORG, day(time), {
              userId: `usr_${String(from + i).padStart(3, '0')}`,
              cost: '0.5',
            }),
          );
        const first = await opened.store.appendMany(users(0, 30, '2026-05-01T10:00:00Z'));
        await runner.waitFor(first.lastPosition, 20_000);
        const query = { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['user' as const] };
        const read = async () =>
          (await querySpend(opened.sql, { ...query, limit: 1000 }, { totals: false })).rows.map((row) => [
            row.key.user,
            row.requests,
          ]);
        const before = await read();
        // After the first page (users 000-009): another request of user 000, a new user 999.
        let moved: Promise<void> | undefined;
        const exported = await inSpendSnapshot(opened.sql, 20_000, async (tx, check) => {
          const found: Array<[string | null | undefined, number]> = [];
          for await (const rows of spendRowsIn(tx, query, 10)) {
            found.push(
              ...rows.map((row): [string | null | undefined, number] => [row.key.user, row.requests]),
            );
            check();
            if (moved) continue;
            moved = (async () => {
              const more = await opened.store.appendMany([
                ...users(0, 1, '2026-05-02T10:00:00Z'),
                ...users(999, 1, '2026-05-02T10:00:00Z'),
              ]);
              await runner.waitFor(more.lastPosition, 20_000);
            })();
            // PostgreSQL: the projection writes while the snapshot is open. PGlite has one
            // connection, which the snapshot holds: the projection waits for it (awaited below).
            if (adapter === 'postgres') await moved;
          }
          return found;
        });
        await moved;
        assert.deepEqual(exported, before, 'every page as of the moment the export began');
        const after = await read();
        assert.deepEqual(after[0], ['usr_000', 2]);
        assert.deepEqual(after.at(-1), ['usr_999', 1]);
        await runner.stop();
      } finally {
        await opened.close();
      }
    });

    it('gives up a snapshot past its time limit, and lets the connection go', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await runner.start();
        const appended = await opened.store.appendMany(events(40, 0));
        await runner.waitFor(appended.lastPosition, 20_000);
        await runner.stop();
        let clock = 0;
        const query = { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['day' as const] };
        await assert.rejects(
          inSpendSnapshot(
            opened.sql,
            1_000,
            async (tx, check) => {
              for await (const _ of spendRowsIn(tx, query, 1)) {
                clock += 600;
                check();
              }
            },
            () => clock,
          ),
          SpendSnapshotTooSlow,
        );
        // Rolled back and released: the store answers (PGlite: its one connection is free).
        const { totals } = await querySpend(opened.sql, { ...query, limit: 10 }, { totals: true });
        assert.equal(totals?.requests, 40);
      } finally {
        await opened.close();
      }
    });

    it("a process still following adds what a rebuild's replay behind it has not, and nothing twice", async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        const first = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await first.start();
        const before = await opened.store.appendMany(events(30, 0));
        await first.waitFor(before.lastPosition, 20_000);
        await first.stop();
        const later = events(10, 3);
        const appended = await opened.store.appendMany(later);
        // A rebuild empties the totals (what SqlProjectionRunner.reset does)...
        await opened.sql.query('DELETE FROM kordon_spend_daily');
        await opened.sql.query('DELETE FROM kordon_spend_progress');
        // ...then another process, still following the log live, adds the newest batch first
        // (and the events before it the replay has not added yet)...
        const { rows } = await opened.sql.query<{ position: string }>(
          'SELECT position FROM kordon_events WHERE position > $1 ORDER BY position',
          [before.lastPosition],
        );
        assert.equal(rows.length, 10);
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [
          rows.map((row) => Number(row.position)),
        ]);
        // ...and the rebuilding process replays the log from the start.
        const replay = new SqlProjectionRunner(
          { ...spendProjection, name: 'spend-replay' },
          decodeForSpend,
          opened.store,
          opened.sql,
          { batchSize: 8 },
        );
        await replay.start();
        await replay.waitFor(appended.lastPosition, 20_000);
        await replay.stop();
        const { totals } = await querySpend(
          opened.sql,
          { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['day'], limit: 10 },
          { totals: true },
        );
        assert.equal(totals?.requests, 40);
        assert.deepEqual(await replay.parked(), []);
      } finally {
        await opened.close();
      }
    });

    it('a rebuild that stops part-way, another process following the log: no event is left out for good', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        const first = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await first.start();
        const before = await opened.store.appendMany(events(30, 0));
        await first.waitFor(before.lastPosition, 20_000);
        await first.stop();
        const positionsAfter = async (after: number) =>
          (
            await opened.sql.query<{ position: string }>(
              'SELECT position FROM kordon_events WHERE position > $1 ORDER BY position',
              [after],
            )
          ).rows.map((row) => Number(row.position));
        const logged = await positionsAfter(0);
        // A rebuild empties the totals and replays the first ten events, then its process stops.
        await opened.sql.query('DELETE FROM kordon_spend_daily');
        await opened.sql.query('DELETE FROM kordon_spend_progress');
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [logged.slice(0, 10)]);
        // Another process, following the log live, applies the next requests and moves the
        // runners' shared checkpoint past them (as its runner does in the same transaction).
        const live = await opened.store.appendMany(events(10, 3));
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [
          await positionsAfter(before.lastPosition),
        ]);
        await opened.sql.query('UPDATE kordon_projection_checkpoints SET position = $1 WHERE name = $2', [
          live.lastPosition,
          SPEND_PROJECTION,
        ]);
        // The rebuilding process starts again, from that checkpoint; requests keep coming.
        const restarted = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await restarted.start();
        const more = await opened.store.appendMany(events(5, 6));
        await restarted.waitFor(more.lastPosition, 20_000);
        await restarted.stop();
        const { totals } = await querySpend(
          opened.sql,
          { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['day'], limit: 10 },
          { totals: true },
        );
        assert.equal(totals?.requests, 45);
      } finally {
        await opened.close();
      }
    });

    it('adds a gap behind a batch at most SPEND_GAP_MAX events at a time, the rest with later batches', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      try {
        const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, opened.store, opened.sql);
        await runner.start();
        await runner.stop();
        const appended = await opened.store.appendMany(events(SPEND_GAP_MAX + 5, 0));
        const last = appended.lastPosition;
        const requests = async () =>
          (
            await querySpend(
              opened.sql,
              { orgId: ORG, from: '2026-05-01', to: '2026-05-03', groupBy: ['day'], limit: 10 },
              { totals: true },
            )
          ).totals?.requests;
        // The last event alone: the gap before it is too long to add at once.
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [[last]]);
        assert.equal(await requests(), SPEND_GAP_MAX);
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [[last]]);
        assert.equal(await requests(), SPEND_GAP_MAX + 5);
        await opened.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [[last]]);
        assert.equal(await requests(), SPEND_GAP_MAX + 5);
      } finally {
        await opened.close();
      }
    });
  });
}
