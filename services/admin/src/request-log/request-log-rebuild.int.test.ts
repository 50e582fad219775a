import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SqlQueryable } from '@kordon/events';
import { testStores } from '@kordon/events/testing';
import { SqlProjectionRunner } from '@kordon/projections';
import { heldReplay } from '../testing/held-replay.js';
import { completedEvent } from '../testing/request-events.js';
import { decodeForRequestLog, REQUEST_LOG_TABLE, requestLogProjection } from './request-log-projection.js';

/*
 * The request log rebuilt by one process while another follows the log live (every process
 * serving the admin API or the request log runs the projection on the shared database), over
 * both SQL adapters.
 */

const ORG = 'org_log_rebuild';
const requests = (count: number) =>
  Array.from({ length: count }, (_, i) => completedEvent(ORG, new Date(Date.now() - 60_000 + i)));
const rows = async (sql: SqlQueryable) =>
  Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${REQUEST_LOG_TABLE}`)).rows[0]?.n);

const quiet = { onError: () => {} };

for (const adapter of ['pglite', 'postgres'] as const) {
  describe(`request log rebuilt beside a live process, on ${adapter}`, () => {
    it('a rebuild that stops part-way, another process following the log: no event is left out for good', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      const other = await opened.reopen();
      try {
        const first = await opened.store.appendMany(requests(20));
        // Another process follows the log live throughout.
        const live = new SqlProjectionRunner(
          requestLogProjection,
          decodeForRequestLog,
          other.store,
          other.sql,
          quiet,
        );
        await live.start();
        await live.waitFor(first.lastPosition, 20_000);
        // This process rebuilds; its replay applies the first ten events, then is held there...
        const tenth = first.lastPosition - 10;
        const held = heldReplay(requestLogProjection, tenth);
        const replay = new SqlProjectionRunner(
          held.projection,
          decodeForRequestLog,
          opened.store,
          opened.sql,
          {
            ...quiet,
            batchSize: 5,
          },
        );
        await replay.start();
        await replay.rebuild();
        await replay.waitFor(tenth, 20_000);
        // ...while requests come in, which the live process applies...
        const second = await opened.store.appendMany(requests(5));
        await live.waitFor(second.lastPosition, 20_000);
        // ...and the rebuilding process stops there (a deploy), then starts again.
        const stopping = replay.stop();
        held.halt();
        await stopping;
        const restarted = new SqlProjectionRunner(
          requestLogProjection,
          decodeForRequestLog,
          opened.store,
          opened.sql,
        );
        await restarted.start();
        const third = await opened.store.appendMany(requests(1));
        await restarted.waitFor(third.lastPosition, 20_000);
        await live.waitFor(third.lastPosition, 20_000);
        await restarted.stop();
        await live.stop();
        assert.equal(await rows(opened.sql), 26);
      } finally {
        if (adapter === 'pglite') await other.store.close();
        await opened.close();
      }
    });
  });
}
