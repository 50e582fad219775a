import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NewEvent, SqlExecutor, SqlQueryable } from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { completedEvent, failedEvent, loggingPolicyEvent, rejectedEvent } from '../testing/request-events.js';
import {
  enforceRequestLogRetention,
  findRequest,
  queryRequestLog,
  RETENTION_LOCK_KEY,
  type RequestLog,
  startRequestLog,
} from './index.js';

/*
 * The request log over both SQL adapters: rows per request event, the month partitions, the
 * logging policy applied at projection time, keyset pages, and retention that deletes (rows
 * and whole partitions) for good, also across a rebuild.
 */

const DAY = 86_400_000;
const silent = { info() {}, warn() {}, error() {} };
const ago = (ms: number) => new Date(Date.now() - ms);

function monthPartition(time: Date): string {
  const month = String(time.getUTCMonth() + 1).padStart(2, '0');
  return `kordon_request_log_y${time.getUTCFullYear()}m${month}`;
}

async function partitions(sql: SqlQueryable): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'kordon_request_log'::regclass ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

async function count(sql: SqlQueryable, where: string, params: unknown[]): Promise<number> {
  const { rows } = await sql.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM kordon_request_log WHERE ${where}`,
    params,
  );
  return Number(rows[0]?.n ?? 0);
}

for (const adapter of ['pglite', 'postgres'] as const) {
  describe(`request log on ${adapter}`, () => {
    let fixture: TestStore | string;
    let sql: SqlExecutor;
    let log: RequestLog;
    const skip = () => (typeof fixture === 'string' ? fixture : false);

    before(async () => {
      fixture = await testStores[adapter]();
      if (typeof fixture === 'string') return;
      sql = fixture.sql;
      log = await startRequestLog({ store: fixture.store, sql, logger: silent });
    });
    after(async () => {
      if (typeof fixture === 'string') return;
      await log.stop();
      await fixture.close();
    });

    const append = async (events: NewEvent[]) => {
      if (typeof fixture === 'string') throw new Error(fixture);
      const { lastPosition } = await fixture.store.appendMany(events);
      await log.waitFor(lastPosition, 10_000);
    };

    it('keeps one row per request event, in a partition per month, with its facts', async (t) => {
      if (skip()) return t.skip(String(skip()));
      const times = [ago(2 * 60_000), ago(40 * DAY), ago(400 * DAY)];
      await append([
        completedEvent('org_a', times[0]!, {
          requestId: 'req-done',
          userId: 'usr_ada',
          teamId: 'tm_core',
          usage: {
            inputTokens: 1200,
            outputTokens: 340,
            cachedInputTokens: 1024,
            reasoningTokens: 128,
            cacheWrite1hInputTokens: 100,
            webSearches: 3,
            serviceTier: 'flex',
          },
          cost: '0.0061',
          timeToFirstTokenMs: 412,
          stream: true,
          redactedPrompt: 'My email is [email:hmac:3f9a1c0d2b7e]',
        }),
        failedEvent('org_a', times[1]!, { requestId: 'req-failed', userId: 'usr_bob' }),
        rejectedEvent('org_a', times[2]!, { requestId: 'req-rejected', userId: 'usr_ada' }),
        completedEvent('org_b', times[1]!, { requestId: 'req-b' }),
      ]);
      const names = await partitions(sql);
      for (const time of times)
        assert.ok(names.includes(monthPartition(time)), `${monthPartition(time)} in ${names}`);

      const rows = await queryRequestLog(sql, { orgId: 'org_a', order: 'desc', limit: 10 });
      assert.deepEqual(
        rows.map((r) => [r.id, r.outcome]),
        [
          ['req-done', 'completed'],
          ['req-failed', 'failed'],
          ['req-rejected', 'rejected'],
        ],
      );
      const [done, failed, rejected] = rows;
      assert.deepEqual(done!.usage, {
        inputTokens: 1200,
        outputTokens: 340,
        cachedInputTokens: 1024,
        reasoningTokens: 128,
        cacheWriteInputTokens: 0,
        cacheWrite1hInputTokens: 100,
        webSearches: 3,
        serviceTier: 'flex',
        inferenceGeo: null,
        speed: null,
      });
      assert.equal(done!.cost, '0.0061');
      assert.equal(done!.timeToFirstTokenMs, 412);
      assert.equal(done!.teamId, 'tm_core');
      assert.equal(done!.time, times[0]!.toISOString());
      assert.equal(done!.hasText, false, 'no policy: bodies none, the text is not kept');
      assert.equal(failed!.errorCode, 'upstream_unavailable');
      assert.equal(failed!.upstreamStatus, 503);
      assert.equal(rejected!.rejectionReason, 'rate_limit_rpm');
      assert.deepEqual(rejected!.limitScope, { scope: 'user', scopeId: 'usr_test' });
      assert.equal(rejected!.usage, null);
    });

    it('keeps text only under a policy that logs it, as the policy stood at that point of the log', async (t) => {
      if (skip()) return t.skip(String(skip()));
      await append([
        loggingPolicyEvent('org_t', { bodies: 'redacted' }),
        completedEvent('org_t', ago(1000), {
          requestId: 'req-text',
          redactedPrompt: 'hi',
          redactedResponse: 'yo',
        }),
        loggingPolicyEvent('org_t', { bodies: 'none' }),
        completedEvent('org_t', ago(500), { requestId: 'req-notext', redactedPrompt: 'hi' }),
      ]);
      const { rows } = await sql.query<{
        request_id: string;
        prompt: string | null;
        response: string | null;
      }>(
        "SELECT request_id, prompt, response FROM kordon_request_log WHERE org_id = 'org_t' ORDER BY request_id",
      );
      assert.deepEqual(rows, [
        { request_id: 'req-notext', prompt: null, response: null },
        { request_id: 'req-text', prompt: 'hi', response: 'yo' },
      ]);
    });

    it('pages by (time, position) without gaps or repeats, also over equal times', async (t) => {
      if (skip()) return t.skip(String(skip()));
      const same = ago(5 * DAY);
      const events = Array.from({ length: 7 }, (_, i) =>
        completedEvent('org_p', i < 4 ? same : ago(i * DAY), { requestId: `req-p${i}` }),
      );
      await append(events);
      for (const order of ['desc', 'asc'] as const) {
        const all = await queryRequestLog(sql, { orgId: 'org_p', order, limit: 100 });
        const seen: string[] = [];
        let after: { time: number; position: number } | undefined;
        for (;;) {
          const page = await queryRequestLog(sql, { orgId: 'org_p', order, after, limit: 3 });
          seen.push(...page.map((r) => r.id));
          const last = page[page.length - 1];
          if (page.length < 3 || !last) break;
          after = { time: Date.parse(last.time), position: last.position };
        }
        assert.deepEqual(
          seen,
          all.map((r) => r.id),
          order,
        );
        assert.equal(new Set(seen).size, 7);
      }
    });

    it('retention deletes expired rows for good: whole partitions dropped, the rest deleted', async (t) => {
      if (skip()) return t.skip(String(skip()));
      const old = ago(70 * DAY);
      const ancient = ago(500 * DAY);
      await append([
        completedEvent('org_r', ago(60_000), { requestId: 'r-new' }),
        completedEvent('org_r', ago(10 * DAY), { requestId: 'r-recent' }),
        completedEvent('org_r', old, { requestId: 'r-old' }),
        completedEvent('org_r', ancient, { requestId: 'r-ancient' }),
        // Another org keeps everything: the month of `old` cannot be dropped whole.
        completedEvent('org_keep', old, { requestId: 'k-old' }),
      ]);
      assert.ok((await partitions(sql)).includes(monthPartition(ancient)));
      await append([loggingPolicyEvent('org_r', { retentionDays: 30 })]);

      // Before any pass runs, the expired rows are no longer shown: the policy says they are gone.
      const listed = async (orgId: string) =>
        (await queryRequestLog(sql, { orgId, order: 'desc', limit: 50 })).map((row) => row.id).sort();
      assert.deepEqual(await listed('org_r'), ['r-new', 'r-recent']);
      assert.equal(await findRequest(sql, 'org_r', 'r-old'), undefined);
      assert.equal((await findRequest(sql, 'org_r', 'r-recent'))?.id, 'r-recent');
      assert.deepEqual(await listed('org_keep'), ['k-old'], 'an org without retention sees everything');
      assert.equal(await count(sql, 'request_id = $1', ['r-old']), 1, 'still stored until the pass');

      const result = await enforceRequestLogRetention(sql, new Date(), { batchSize: 1 });
      assert.equal(result.ran, true);
      assert.ok(result.droppedPartitions.includes(monthPartition(ancient)), String(result.droppedPartitions));
      assert.ok(result.deletedRows >= 1);
      const names = await partitions(sql);
      assert.ok(!names.includes(monthPartition(ancient)), 'the expired month is gone as a table');
      const nextMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1));
      assert.ok(names.includes(monthPartition(new Date())) && names.includes(monthPartition(nextMonth)));

      const cutoff = ago(30 * DAY).toISOString();
      assert.equal(await count(sql, 'org_id = $1 AND occurred_at < $2', ['org_r', cutoff]), 0);
      assert.equal(await count(sql, 'org_id = $1', ['org_r']), 2, 'the last 30 days stay');
      assert.equal(await count(sql, 'request_id = $1', ['k-old']), 1, 'the other org keeps its row');

      // A rebuild replays the event log: requests past retention do not come back.
      await log.rebuild();
      const head = typeof fixture === 'string' ? 0 : await fixture.store.headPosition();
      await log.waitFor(head, 10_000);
      assert.equal(await count(sql, 'org_id = $1 AND occurred_at < $2', ['org_r', cutoff]), 0);
      assert.equal(await count(sql, 'org_id = $1', ['org_r']), 2);
      assert.equal(await count(sql, 'request_id = $1', ['k-old']), 1);

      // Nothing left to do: a second pass deletes nothing.
      const again = await enforceRequestLogRetention(sql, new Date());
      assert.deepEqual([again.deletedRows, again.droppedPartitions], [0, []]);
    });

    it('rows retention deleted stay deleted across a rebuild after the retention grows', async (t) => {
      if (skip()) return t.skip(String(skip()));
      await append([
        completedEvent('org_grow', ago(60_000), { requestId: 'g-new' }),
        completedEvent('org_grow', ago(40 * DAY), { requestId: 'g-old' }),
      ]);
      await append([loggingPolicyEvent('org_grow', { retentionDays: 30 })]);
      await enforceRequestLogRetention(sql, new Date());
      assert.equal(await count(sql, 'request_id = $1', ['g-old']), 0);

      // The org now keeps 90 days: what was deleted for good must not come back with a rebuild.
      await append([loggingPolicyEvent('org_grow', { retentionDays: 90 })]);
      await log.rebuild();
      const head = typeof fixture === 'string' ? 0 : await fixture.store.headPosition();
      await log.waitFor(head, 10_000);
      assert.equal(await count(sql, 'request_id = $1', ['g-old']), 0, 'the deleted request stays deleted');
      assert.equal(await count(sql, 'request_id = $1', ['g-new']), 1);
    });

    it('a pass that finds another one running does nothing', async (t) => {
      if (skip()) return t.skip(String(skip()));
      if (adapter === 'pglite')
        return t.skip('PGlite has one connection: there is no other process to hold the lock');
      await sql.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK_KEY]);
        const result = await enforceRequestLogRetention(sql, new Date());
        assert.equal(result.ran, false);
      });
    });
  });
}
