import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kordonCatalogue, migrate, type NewEvent } from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { completedEvent, failedEvent, rejectedEvent } from '../testing/request-events.js';
import { createRequestLogProjection, requestLogRowOf } from './request-log-projection.js';

/*
 * A batch of request events goes into the request log as positions: the database builds the
 * rows from the event table (kordon_request_log_rows). A single event (the fallback that
 * parks what cannot apply) goes as a row built in Node (requestLogRowOf). Both must give the
 * same row for every kind of request event.
 */

const at = new Date('2026-11-30T12:34:56.789Z');

function events(): NewEvent[] {
  const v1 = completedEvent('org_rows', at, { requestId: 'req-v1', redactedPrompt: 'hi [EMAIL]' });
  return [
    completedEvent('org_rows', at, { requestId: 'req-completed' }),
    completedEvent('org_rows', at, {
      requestId: 'req-stream',
      stream: true,
      timeToFirstTokenMs: 87,
      usage: { inputTokens: 10, outputTokens: 20, cachedInputTokens: 4, reasoningTokens: 5 },
      cost: null,
      currency: null,
      teamId: 'team_1',
    }),
    // Stored as version 1: text in the clear, no sealedBodies.
    { ...v1, schemaVersion: 1, data: { ...(v1.data as object), sealedBodies: undefined } },
    failedEvent('org_rows', at, { requestId: 'req-failed' }),
    rejectedEvent('org_rows', at, { requestId: 'req-rejected' }),
    rejectedEvent('org_rows', at, {
      requestId: 'req-limited',
      reason: 'budget_usd',
      limitScope: { scope: 'team', scopeId: 'team_9' },
      model: null,
    }),
  ];
}

/** Same value whatever wrote it: times as instants, JSON otherwise. */
function normalise(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = key === 'occurred_at' ? new Date(String(value)).toISOString() : (value ?? null);
  }
  return out;
}

for (const adapter of ['pglite', 'postgres'] as const) {
  describe(`request log rows on ${adapter}: built in the database equal those built in Node`, () => {
    let fixture: TestStore | string;
    before(async () => {
      fixture = await testStores[adapter]();
    });
    after(async () => {
      if (typeof fixture !== 'string') await fixture.close();
    });

    it('every kind of request event, each version', async (t) => {
      if (typeof fixture === 'string') return t.skip(fixture);
      const { store, sql } = fixture;
      await migrate(sql, createRequestLogProjection().migrations);
      const written = events().map((event) =>
        // A version 1 event is written as stored then (the catalogue only writes today's).
        event.schemaVersion === 1
          ? {
              ...event,
              data: Object.fromEntries(
                Object.entries(event.data as object).filter(([k]) => k !== 'sealedBodies'),
              ),
            }
          : event,
      );
      await store.appendMany(written);
      const recorded = await store.readAll({ after: 0, maxCount: 100 });
      assert.equal(recorded.length, written.length);
      const inNode = recorded.map((event) =>
        normalise(requestLogRowOf(kordonCatalogue.decode(event), undefined)!),
      );
      const { rows } = await sql.query<{ rows: unknown }>(
        "SELECT kordon_request_log_rows($1::bigint[], '{}'::jsonb) AS rows",
        [recorded.map((event) => event.position)],
      );
      const raw = rows[0]!.rows;
      const inDatabase = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>[];
      assert.equal(inDatabase.length, inNode.length);
      for (const [i, row] of inDatabase.entries()) assert.deepEqual(normalise(row), inNode[i], `row ${i}`);
      assert.equal(inNode[2]!.prompt, 'hi [EMAIL]', 'the v1 text in the clear is kept');
      assert.equal(inNode[5]!.limit_scope, 'team');
    });
  });
}
