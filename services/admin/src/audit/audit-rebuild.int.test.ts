import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kordonCatalogue, type NewEvent, type SqlQueryable, streams } from '@kordon/events';
import { testStores } from '@kordon/events/testing';
import { SqlProjectionRunner } from '@kordon/projections';
import { heldReplay } from '../testing/held-replay.js';
import { AUDIT_TABLE, auditProjection, decodeForAudit } from './audit-projection.js';

/*
 * The audit log rebuilt by one process while another follows the log live (each process serving
 * the admin API runs the projection on the shared database), over both SQL adapters.
 */

const ORG = 'org_audit_rebuild';
const meta = { orgId: ORG, actor: { kind: 'user' as const, id: 'usr_1', ip: '203.0.113.9' } };
const hash = { algorithm: 'hmac-sha256' as const, keyId: 'adm-1', value: 'c0ffee'.repeat(11).slice(0, 64) };

const issued = (key: string): NewEvent =>
  kordonCatalogue.create(
    'ProxyKeyIssued',
    streams.proxyKey(ORG, key),
    {
      proxyKeyId: key,
      userId: 'usr_1',
      teamId: null,
      name: `laptop ${key}`,
      prefix: 'kdn_abcd1234',
      hash,
      expiresAt: null,
    },
    { ...meta, time: new Date() },
  );
const suspended = (key: string): NewEvent =>
  kordonCatalogue.create(
    'ProxyKeySuspended',
    streams.proxyKey(ORG, key),
    { proxyKeyId: key, reason: 'manual', byFraudDetector: false, fraudSignalId: null, note: null },
    { ...meta, time: new Date() },
  );

const entries = async (sql: SqlQueryable) =>
  (
    await sql.query<{ action: string; subject_id: string; before: unknown; after: unknown }>(
      `SELECT action, subject_id, before, after FROM ${AUDIT_TABLE} ORDER BY position`,
    )
  ).rows;

const quiet = { onError: () => {} };

for (const adapter of ['pglite', 'postgres'] as const) {
  describe(`audit log rebuilt beside a live process, on ${adapter}`, () => {
    it('a rebuild that stops part-way, another process following the log: no event is left out for good', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      const other = await opened.reopen();
      try {
        const keys = Array.from({ length: 20 }, (_, i) => `pxk_${i}`);
        const first = await opened.store.appendMany(keys.map(issued));
        // Another process follows the log live throughout.
        const live = new SqlProjectionRunner(auditProjection, decodeForAudit, other.store, other.sql, quiet);
        await live.start();
        await live.waitFor(first.lastPosition, 20_000);
        // This process rebuilds; its replay applies the first ten events, then is held there...
        const tenth = first.lastPosition - 10;
        const held = heldReplay(auditProjection, tenth);
        const replay = new SqlProjectionRunner(held.projection, decodeForAudit, opened.store, opened.sql, {
          ...quiet,
          batchSize: 5,
        });
        await replay.start();
        await replay.rebuild();
        await replay.waitFor(tenth, 20_000);
        // ...while keys are suspended, which the live process applies...
        const second = await opened.store.appendMany(keys.slice(0, 5).map(suspended));
        await live.waitFor(second.lastPosition, 20_000);
        // ...and the rebuilding process stops there (a deploy), then starts again.
        const stopping = replay.stop();
        held.halt();
        await stopping;
        const restarted = new SqlProjectionRunner(auditProjection, decodeForAudit, opened.store, opened.sql);
        await restarted.start();
        const third = await opened.store.appendMany([suspended('pxk_19')]);
        await restarted.waitFor(third.lastPosition, 20_000);
        await live.waitFor(third.lastPosition, 20_000);
        await restarted.stop();
        await live.stop();
        assert.equal((await entries(opened.sql)).length, 26);
      } finally {
        if (adapter === 'pglite') await other.store.close();
        await opened.close();
      }
    });

    it('a rebuild beside a live process gives every entry the before and after a rebuild alone gives', async (t) => {
      const opened = await testStores[adapter]();
      if (typeof opened === 'string') return t.skip(opened);
      const other = await opened.reopen();
      try {
        const first = await opened.store.appendMany([issued('pxk_a')]);
        const live = new SqlProjectionRunner(auditProjection, decodeForAudit, other.store, other.sql, quiet);
        await live.start();
        await live.waitFor(first.lastPosition, 20_000);
        // The rebuild empties the audit log, and its replay is held before its first batch...
        const held = heldReplay(auditProjection, 0);
        const replay = new SqlProjectionRunner(
          held.projection,
          decodeForAudit,
          opened.store,
          opened.sql,
          quiet,
        );
        await replay.start();
        await replay.rebuild();
        // ...while the live process applies a suspension of the key...
        const second = await opened.store.appendMany([suspended('pxk_a')]);
        await live.waitFor(second.lastPosition, 20_000);
        // ...then the replay goes on to the end.
        held.go();
        await replay.waitFor(second.lastPosition, 20_000);
        await replay.stop();
        await live.stop();
        const rows = await entries(opened.sql);
        assert.deepEqual(
          rows.map((row) => [row.action, (row.before as { status?: string } | null)?.status ?? null]),
          [
            ['ProxyKeyIssued', null],
            ['ProxyKeySuspended', 'active'],
          ],
        );
        assert.equal(
          (rows[1]?.after as { name?: string } | undefined)?.name,
          'laptop pxk_a',
          'the suspension keeps the key',
        );
      } finally {
        if (adapter === 'pglite') await other.store.close();
        await opened.close();
      }
    });
  });
}
