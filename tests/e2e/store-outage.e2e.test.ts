import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { type KordonEvent, kordonCatalogue, type RecordedEvent, streams } from '@kordon/events';
import { requestCompletedEvent } from '@kordon/events/testing';
import { postgresAvailable, startPostgresCluster } from '@kordon/infra';
import { type SqlProjection, SqlProjectionRunner } from '@kordon/projections';
import { createLogger, loadConfig, startKordon } from '@kordon/server';

/** Requests and input tokens per proxy key: a read model kept live through the outage. */
const usagePerKey: SqlProjection<KordonEvent> = {
  name: 'test_usage_per_key',
  version: 1,
  tables: ['test_usage_per_key'],
  migrations: [
    {
      scope: 'test_usage_per_key',
      version: 1,
      name: 'usage per key',
      sql: 'CREATE TABLE test_usage_per_key (proxy_key_id text PRIMARY KEY, requests integer NOT NULL, input_tokens bigint NOT NULL)',
    },
  ],
  project: (event) =>
    event.type === 'RequestCompleted'
      ? [
          {
            text: `INSERT INTO test_usage_per_key VALUES ($1, 1, $2) ON CONFLICT (proxy_key_id) DO UPDATE SET
                   requests = test_usage_per_key.requests + 1, input_tokens = test_usage_per_key.input_tokens + $2`,
            params: [event.data.proxyKeyId, event.data.usage.inputTokens],
          },
        ]
      : [],
};

const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

it('killing PostgreSQL mid-load loses no event and writes none twice', async (t) => {
  if (!postgresAvailable()) {
    if (process.env.CI) throw new Error('PostgreSQL must be installed in CI');
    return t.skip('PostgreSQL server binaries are not installed (infra/postgres/cluster.sh install)');
  }
  const pg = startPostgresCluster();
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-outage-'));
  const cleanup: Array<() => Promise<void> | void> = [];
  t.after(async () => {
    for (const step of cleanup.reverse()) await step();
  });
  cleanup.push(() => {
    pg.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const config = loadConfig({
    KORDON_PORT: '0',
    KORDON_DATA_DIR: dataDir,
    KORDON_DATABASE_URL: pg.url,
    KORDON_LOG_LEVEL: 'silent',
    KORDON_DEV_MODE: 'true',
  });
  const kordon = await startKordon(config, createLogger(config));
  const { appender, store } = kordon.storage;
  const decode = (e: RecordedEvent) => kordonCatalogue.decode(e);
  const projection = new SqlProjectionRunner(usagePerKey, decode, store, store.sql);
  await projection.start();
  cleanup.push(async () => {
    await projection.stop();
    await kordon.stop();
  });

  const orgId = 'org_outage';
  const sent: string[] = [];
  const produce = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const event = requestCompletedEvent(orgId, sent.length);
      sent.push(event.id);
      appender.enqueue(event);
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
  };

  await produce(3000);
  pg.stop('immediate'); // a crash, mid-load
  await produce(3000);
  await appender.flush(); // durable now: in the spool
  const readyz = await fetch(`${kordon.url}/readyz`);
  const body = (await readyz.json()) as {
    status: string;
    store: { reachable: boolean };
    spool: { events: number };
  };
  assert.equal(readyz.status, 200, 'still serving while the spool can take events');
  assert.equal(body.status, 'degraded');
  assert.equal(body.store.reachable, false);
  assert.ok(body.spool.events > 0, 'events wait in the spool');
  const metrics = await (await fetch(`${kordon.url}/metrics`)).text();
  assert.match(metrics, /^kordon_event_store_reachable 0$/m);
  assert.match(metrics, /^kordon_event_spool_events [1-9]\d*$/m);
  assert.match(metrics, /^kordon_event_spool_full 0$/m);

  pg.start();
  await produce(3000);
  await until('the spool to drain', () => {
    const status = appender.status();
    return status.spooledEvents === 0 && status.buffered === 0 && status.storeReachable;
  });
  await appender.flush();

  const stored = await store.readStream(streams.usage(orgId));
  assert.equal(stored.length, sent.length, 'every event is stored');
  assert.deepEqual(
    stored.map((e) => e.id),
    sent,
    'each once, in the order handed over',
  );

  await projection.waitFor(await store.headPosition(), 30_000);
  const liveModel = await store.sql.query('SELECT * FROM test_usage_per_key ORDER BY proxy_key_id');
  const totalRequests = liveModel.rows.reduce((sum, row) => sum + Number(row.requests), 0);
  assert.equal(totalRequests, sent.length, 'the live read model counted every request once');
  await projection.rebuild();
  await projection.waitFor(await store.headPosition(), 30_000);
  const rebuilt = await store.sql.query('SELECT * FROM test_usage_per_key ORDER BY proxy_key_id');
  assert.deepEqual(rebuilt.rows, liveModel.rows, 'a rebuild equals the live read model');
});
