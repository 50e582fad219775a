import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, migrate, type NewEvent } from '@kordon/events';
import { type TestStore, testStores } from '@kordon/events/testing';
import { BodyKeyStore, BodySealer, MasterKey, MasterKeyRing } from '@kordon/gateway';
import {
  completedEvent,
  failedEvent,
  loggedTextErasedEvent,
  loggingPolicyEvent,
  rejectedEvent,
} from '../testing/request-events.js';
import { startRequestLog } from './index.js';
import { createRequestLogProjection } from './request-log-projection.js';

/*
 * Request events go into the request log as positions: the database builds the rows from the
 * event table (kordon_request_log_rows). expectedRow is what each row must hold, written out
 * from the events' catalogue: the two must agree for every kind of request event.
 */

type Row = Record<string, string | number | boolean | null>;

/** The row of one request event, as the request log's columns name its facts. */
function expectedRow(event: KordonEvent): Row | null {
  if (event.orgId === null) return null;
  const base = { occurred_at: event.time.toISOString(), position: event.position, org_id: event.orgId };
  switch (event.type) {
    case 'RequestCompleted':
    case 'RequestFailed': {
      const d = event.data;
      const completed = event.type === 'RequestCompleted' ? event.data : undefined;
      const failed = event.type === 'RequestFailed' ? event.data : undefined;
      return {
        ...base,
        request_id: d.requestId,
        outcome: completed ? 'completed' : 'failed',
        team_id: d.teamId,
        user_id: d.userId,
        proxy_key_id: d.proxyKeyId,
        provider: d.provider,
        provider_key_id: d.providerKeyId,
        model: d.model,
        endpoint: d.endpoint,
        stream: d.stream,
        status: d.status,
        upstream_status: failed?.upstreamStatus ?? null,
        reason: failed?.errorCode ?? null,
        limit_scope: null,
        limit_scope_id: null,
        input_tokens: d.usage.inputTokens,
        output_tokens: d.usage.outputTokens,
        cached_input_tokens: d.usage.cachedInputTokens,
        reasoning_tokens: d.usage.reasoningTokens ?? null,
        cache_write_input_tokens: d.usage.cacheWriteInputTokens ?? null,
        cache_write_1h_input_tokens: d.usage.cacheWrite1hInputTokens ?? null,
        web_searches: d.usage.webSearches ?? null,
        service_tier: d.usage.serviceTier ?? null,
        inference_geo: d.usage.inferenceGeo ?? null,
        speed: d.usage.speed ?? null,
        cost: d.cost,
        currency: d.currency,
        latency_ms: d.latencyMs,
        ttfb_ms: completed?.timeToFirstTokenMs ?? null,
        client_ip: d.clientIp,
        attempts: d.attempts,
        // Version 1 kept text in the clear; version 2 seals it (opened only with its key).
        prompt: completed?.redactedPrompt ?? null,
        response: completed?.redactedResponse ?? null,
      };
    }
    case 'RequestRejected': {
      const d = event.data;
      return {
        ...base,
        request_id: d.requestId,
        outcome: 'rejected',
        team_id: d.teamId,
        user_id: d.userId,
        proxy_key_id: d.proxyKeyId,
        provider: null,
        provider_key_id: null,
        model: d.model,
        endpoint: d.endpoint,
        stream: null,
        status: d.status,
        upstream_status: null,
        reason: d.reason,
        limit_scope: d.limitScope?.scope ?? null,
        limit_scope_id: d.limitScope?.scopeId ?? null,
        input_tokens: null,
        output_tokens: null,
        cached_input_tokens: null,
        reasoning_tokens: null,
        cache_write_input_tokens: null,
        cache_write_1h_input_tokens: null,
        web_searches: null,
        service_tier: null,
        inference_geo: null,
        speed: null,
        cost: null,
        currency: null,
        latency_ms: null,
        ttfb_ms: null,
        client_ip: d.clientIp,
        attempts: 0,
        prompt: null,
        response: null,
      };
    }
    default:
      return null;
  }
}

const at = new Date('2026-11-30T12:34:56.789Z');
const silent = { info() {}, warn() {}, error() {} };

function events(): NewEvent[] {
  const v1 = completedEvent('org_rows', at, { requestId: 'req-v1', redactedPrompt: 'hi [EMAIL]' });
  return [
    completedEvent('org_rows', at, { requestId: 'req-completed' }),
    completedEvent('org_rows', at, {
      requestId: 'req-stream',
      stream: true,
      timeToFirstTokenMs: 87,
      usage: {
        inputTokens: 10,
        outputTokens: 20,
        cachedInputTokens: 4,
        reasoningTokens: 5,
        cacheWriteInputTokens: 2,
        cacheWrite1hInputTokens: 3,
        webSearches: 2,
        serviceTier: 'priority',
        inferenceGeo: 'us',
        speed: 'fast',
      },
      cost: null,
      currency: null,
      teamId: 'team_1',
    }),
    // Stored as version 1: text in the clear, no sealedBodies (nor what later versions added).
    {
      ...v1,
      schemaVersion: 1,
      data: { ...(v1.data as object), sealedBodies: undefined, storedAnswer: undefined },
    },
    failedEvent('org_rows', at, { requestId: 'req-failed' }),
    rejectedEvent('org_rows', at, { requestId: 'req-rejected' }),
    rejectedEvent('org_rows', at, {
      requestId: 'req-limited',
      reason: 'budget_usd',
      limitScope: { scope: 'team', scopeId: 'team_9' },
      model: null,
    }),
    // Version 4: a refused call of the Responses input token count, not usage.
    rejectedEvent('org_rows', at, {
      requestId: 'req-counting',
      reason: 'model_forbidden',
      endpoint: 'responses.input_tokens',
    }),
    // The Responses compaction (RequestCompleted v7, RequestFailed v5, RequestRejected v4).
    completedEvent('org_rows', at, { requestId: 'req-compact', endpoint: 'responses.compact' }),
    failedEvent('org_rows', at, { requestId: 'req-compact-failed', endpoint: 'responses.compact' }),
    rejectedEvent('org_rows', at, { requestId: 'req-compact-refused', endpoint: 'responses.compact' }),
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
  describe(`request log rows on ${adapter}: built in the database as each event's facts say`, () => {
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
                Object.entries(event.data as object).filter(
                  ([k]) => k !== 'sealedBodies' && k !== 'storedAnswer',
                ),
              ),
            }
          : event,
      );
      await store.appendMany(written);
      const recorded = await store.readAll({ after: 0, maxCount: 100 });
      assert.equal(recorded.length, written.length);
      const inNode = recorded.map((event) => normalise(expectedRow(kordonCatalogue.decode(event))!));
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
      assert.deepEqual(
        inDatabase.slice(6).map((row) => row.endpoint),
        ['responses.input_tokens', 'responses.compact', 'responses.compact', 'responses.compact'],
      );
    });

    it('the request log, following the store, opens sealed texts of events read without their data', async (t) => {
      if (typeof fixture === 'string') return t.skip(fixture);
      const { store, sql } = fixture;
      const ring = new MasterKeyRing(MasterKey.generate('rows'));
      const keys = new BodyKeyStore(sql, ring);
      await keys.migrate();
      const sealer = new BodySealer({ store: keys, logger: { warn() {} } });
      const sealed = sealer.seal('org_sealed', 'req-sealed', 'a sealed prompt', 'a sealed answer');
      await sealer.stop();
      const appended = await store.appendMany([
        loggingPolicyEvent('org_sealed', { bodies: 'redacted' }),
        completedEvent('org_sealed', new Date(), { requestId: 'req-sealed', sealedBodies: sealed }),
        completedEvent('org_sealed', new Date(), { requestId: 'req-plain' }),
      ]);
      const log = await startRequestLog({ store, sql, logger: silent, bodyKeys: keys });
      try {
        await log.waitFor(appended.lastPosition, 10_000);
        const { rows } = await sql.query<{
          request_id: string;
          prompt: string | null;
          response: string | null;
        }>(
          "SELECT request_id, prompt, response FROM kordon_request_log WHERE org_id = 'org_sealed' ORDER BY request_id",
        );
        assert.deepEqual(rows, [
          { request_id: 'req-plain', prompt: null, response: null },
          { request_id: 'req-sealed', prompt: 'a sealed prompt', response: 'a sealed answer' },
        ]);
        assert.deepEqual(await log.parked(), []);
      } finally {
        await log.stop();
      }
    });

    it('an erasure: texts before it, even of an event that comes late, stay closed; later ones open', async (t) => {
      if (typeof fixture === 'string') return t.skip(fixture);
      const { store, sql } = fixture;
      const keys = new BodyKeyStore(sql, new MasterKeyRing(MasterKey.generate('erase')));
      await keys.migrate();
      const erasedAt = new Date(Date.now() - 60_000);
      const early = new Date(erasedAt.getTime() - 60_000);
      const sealer = new BodySealer({ store: keys, logger: { warn() {} }, now: () => early.getTime() });
      const seal = (org: string, id: string) => sealer.seal(org, id, `prompt of ${id}`, `answer of ${id}`);
      const first = await store.appendMany([
        loggingPolicyEvent('org_x', { bodies: 'redacted' }),
        loggingPolicyEvent('org_y', { bodies: 'redacted' }),
        completedEvent('org_x', early, { requestId: 'x-early', sealedBodies: seal('org_x', 'x-early') }),
        completedEvent('org_y', early, { requestId: 'y-early', sealedBodies: seal('org_y', 'y-early') }),
      ]);
      const lateSealed = seal('org_x', 'x-spooled'); // sealed before the erasure, appended after it
      await sealer.stop();
      const log = await startRequestLog({ store, sql, logger: silent, bodyKeys: keys });
      const texts = async () =>
        (
          await sql.query<{ request_id: string; prompt: string | null }>(
            "SELECT request_id, prompt FROM kordon_request_log WHERE org_id IN ('org_x', 'org_y') ORDER BY request_id",
          )
        ).rows;
      const keysOf = async (org: string) =>
        (await sql.query('SELECT 1 FROM kordon_body_keys WHERE org_id = $1', [org])).rows.length;
      try {
        await log.waitFor(first.lastPosition, 10_000);
        assert.deepEqual(await texts(), [
          { request_id: 'x-early', prompt: 'prompt of x-early' },
          { request_id: 'y-early', prompt: 'prompt of y-early' },
        ]);
        const erased = await store.appendMany([loggedTextErasedEvent('org_x', erasedAt)]);
        await log.waitFor(erased.lastPosition, 10_000);
        assert.deepEqual(await texts(), [
          { request_id: 'x-early', prompt: null },
          { request_id: 'y-early', prompt: 'prompt of y-early' },
        ]);
        assert.equal(await keysOf('org_x'), 0);
        assert.equal(await keysOf('org_y'), 1);
        // A key made after the erasure (a replica that has seen it) seals texts that open.
        const after = new BodySealer({ store: keys, logger: { warn() {} } });
        const late = await store.appendMany([
          completedEvent('org_x', early, { requestId: 'x-spooled', sealedBodies: lateSealed }),
          completedEvent('org_x', new Date(), {
            requestId: 'x-later',
            sealedBodies: after.seal('org_x', 'x-later', 'prompt of x-later', null, erasedAt.getTime()),
          }),
          loggedTextErasedEvent('org_x', erasedAt), // the same erasure again deletes nothing more
        ]);
        await after.stop();
        await log.waitFor(late.lastPosition, 10_000);
        assert.deepEqual(await texts(), [
          { request_id: 'x-early', prompt: null },
          { request_id: 'x-later', prompt: 'prompt of x-later' },
          { request_id: 'x-spooled', prompt: null },
          { request_id: 'y-early', prompt: 'prompt of y-early' },
        ]);
        assert.equal(await keysOf('org_x'), 1);
        assert.deepEqual(await log.parked(), []);
      } finally {
        await log.stop();
      }
    });
  });
}
