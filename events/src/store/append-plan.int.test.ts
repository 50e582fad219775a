import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, POSTGRES_SKIP_REASON } from '../testing/postgres.js';
import { createPostgresEventStore } from './postgres-event-store.js';

/** One event's envelope as `kordon_append` takes it (the rows `SqlEventStore` sends). */
function row(seq: number, streamId: string) {
  return {
    seq,
    event_id: randomUUID(),
    stream_id: streamId,
    type: 'RequestCompleted',
    schema_version: 1,
    org_id: 'org_plan',
    actor: { kind: 'system', id: 'test' },
    causation_id: null,
    correlation_id: null,
    trace_id: null,
    occurred_at: new Date().toISOString(),
  };
}

/**
 * PL/pgSQL caches a statement's plan for the life of the connection. A plan made while the
 * log was a few rows long (a new database: the first appends after start) scanned the whole
 * table for the batch's ids, and kept doing so as the log grew, until an ANALYZE happened to
 * replace it: every append then read as many rows as the log held (~20 ms a batch at 50,000
 * events, most of a busy database core).
 */
test('an append looks its ids up by index, whatever the log held when its connection first appended', async (t) => {
  const database = await createTestDatabase();
  if (!database) return t.skip(POSTGRES_SKIP_REASON);
  // The store installs the tables and kordon_append; the appends below use one connection.
  await (await createPostgresEventStore({ connectionString: database.url })).close();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const append = async (streamId: string, expected: string, size = 1) => {
      const events = Array.from({ length: size }, (_, seq) => row(seq, streamId));
      await client.query('SELECT kordon_append($1::json, $2::json, $3::uuid[], $4, $5)', [
        JSON.stringify(events),
        JSON.stringify(events.map(() => ({}))),
        events.map((event) => event.event_id),
        expected === 'any' ? null : streamId,
        expected,
      ]);
    };
    // Enough calls on a near-empty log for PostgreSQL to settle on a generic plan.
    for (let i = 0; i < 10; i++) await append('org:org_plan:usage', 'any');
    for (let i = 0; i < 10; i++) await append(`key:${i}`, 'no-stream');
    // The log grows without an ANALYZE (autovacuum comes a minute later, or not at all), by
    // events of a request event's size (~800 bytes).
    await client.query(`
      INSERT INTO kordon_events (event_id, stream_id, stream_version, type, schema_version, org_id,
                                 actor, data, occurred_at)
      SELECT gen_random_uuid(), 'bulk', g, 'RequestCompleted', 1, 'org_plan', '{}',
             json_build_object('padding', repeat('x', 800)), now()
        FROM generate_series(1, 20000) g`);
    await client.query(`
      INSERT INTO kordon_streams (stream_id, version)
      SELECT 'bulk-' || g, 1 FROM generate_series(1, 20000) g`);

    for (const [streamId, expected] of [
      ['org:org_plan:usage', 'any'],
      ['key:new', 'no-stream'],
    ] as const) {
      await client.query('BEGIN');
      await append(streamId, expected, 100);
      const { rows } = await client.query<{ events: string; streams: string }>(
        `SELECT pg_stat_get_xact_tuples_returned('kordon_events'::regclass) AS events,
                pg_stat_get_xact_tuples_returned('kordon_streams'::regclass) AS streams`,
      );
      await client.query('COMMIT');
      // Rows read by sequential scans in this transaction: none, not the whole table.
      assert.deepEqual(
        { events: Number(rows[0]?.events), streams: Number(rows[0]?.streams) },
        { events: 0, streams: 0 },
        `append to ${streamId} (${expected})`,
      );
    }
  } finally {
    await client.end();
    await database.drop();
  }
});
