import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import {
  createPostgresExecutor,
  isTransientSqlError,
  type KordonEvent,
  kordonCatalogue,
  type RecordedEvent,
  SessionNotOpenedError,
  streams,
} from '@kordon/events';
import { createTestDatabase, requestCompletedEvent } from '@kordon/events/testing';
import { postgresAvailable, startPostgresCluster } from '@kordon/infra';
import { startOpenAIMock } from '@kordon/mock-providers';
import { type SqlProjection, SqlProjectionRunner } from '@kordon/projections';
import { createLogger, loadConfig, startKordon } from '@kordon/server';
import OpenAI from 'openai';
import { startKordonUnderTest } from './support/kordon-under-test.js';

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

const OPENAI_KEY = 'sk-store-outage-1';
const gatewayConfig = (openaiUrl: string, moreProxyKeys = '') => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiUrl}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }${moreProxyKeys}]
`;

it('a database that refuses connections for maintenance (55000) spools events instead of dead-lettering every one', async (t) => {
  const database = await createTestDatabase();
  if (!database) return t.skip('KORDON_TEST_DATABASE_URL is not set');
  const dbName = new URL(database.url).pathname.slice(1);
  const mock = await startOpenAIMock({ keys: [OPENAI_KEY] });
  const k = await startKordonUnderTest(gatewayConfig(mock.url), {
    OPENAI_KEY,
    KORDON_DATABASE_URL: database.url,
  });
  const admin = createPostgresExecutor({
    connectionString: process.env.KORDON_TEST_DATABASE_URL!,
    maxConnections: 1,
  });
  t.after(async () => {
    await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => {});
    await admin.close();
    await k.stop();
    await mock.close();
    await database.drop();
  });
  const proxyKey = k.proxyKeys.get('dev@acme.test--laptop')!;
  const client = new OpenAI({ apiKey: proxyKey, baseURL: `${k.url}/v1`, maxRetries: 0 });
  const before = (await k.requestEvents()).length;

  // Maintenance (a restore, a rename): the database stops taking connections and its
  // sessions are ended; every new connection gets FATAL 55000.
  await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName]);

  const served = 4;
  for (let i = 0; i < served; i++) {
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `hello ${i}` }],
    });
    assert.ok(answer.choices[0]?.message.content, 'the gateway keeps serving');
  }
  await k.kordon.storage.appender.flush();

  await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
  await until('the appender to reach the store', () => {
    const s = k.kordon.storage.appender.status();
    return s.spooledEvents === 0 && s.buffered === 0 && s.storeReachable;
  });
  assert.equal(
    k.kordon.storage.appender.status().deadLettered,
    0,
    'an unreachable database is an outage, not a fault of the events',
  );
  const events = await k.requestEvents();
  assert.equal(events.length - before, served, 'every served request has its event in the log');
});

/**
 * Russian locale data for a PostgreSQL server (`localedef` into a folder it reads through
 * LOCPATH), or undefined when this machine cannot build it (Debian's `locales` package missing).
 */
function russianLocales(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'kordon-locales-'));
  chmodSync(dir, 0o755); // the server runs as the postgres user
  const built = spawnSync('localedef', ['-i', 'ru_RU', '-f', 'UTF-8', join(dir, 'ru_RU.UTF-8')], {
    encoding: 'utf8',
  });
  if (built.status === 0 || existsSync(join(dir, 'ru_RU.UTF-8', 'LC_MESSAGES'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  return undefined;
}

it('a Russian-locale database refusing connections (ВАЖНО 55000) spools events too: the refusal is told by where it happened, not by its translated severity', async (t) => {
  if (!postgresAvailable()) {
    if (process.env.CI) throw new Error('PostgreSQL must be installed in CI');
    return t.skip('PostgreSQL server binaries are not installed (infra/postgres/cluster.sh install)');
  }
  const locales = russianLocales();
  if (!locales) {
    if (process.env.CI) throw new Error('localedef could not build ru_RU.UTF-8 (apt-get install locales)');
    return t.skip('localedef cannot build ru_RU.UTF-8 here (Debian: apt-get install locales)');
  }
  const cluster = startPostgresCluster({ env: { LOCPATH: locales } });
  const admin = createPostgresExecutor({ connectionString: cluster.url, maxConnections: 1 });
  const mock = await startOpenAIMock({ keys: [OPENAI_KEY] });
  let kordon: Awaited<ReturnType<typeof startKordonUnderTest>> | undefined;
  t.after(async () => {
    await kordon?.stop().catch(() => {});
    await admin.close();
    await mock.close();
    cluster.destroy();
    rmSync(locales, { recursive: true, force: true });
  });
  await admin.query("ALTER SYSTEM SET lc_messages = 'ru_RU.UTF-8'");
  await admin.query('SELECT pg_reload_conf()');
  await admin.query('CREATE DATABASE kordon_ru');
  const databaseUrl = cluster.url.replace(/\/postgres$/, '/kordon_ru');

  // The server answers in Russian, severity included: what the classification cannot rely on.
  await admin.query('ALTER DATABASE kordon_ru ALLOW_CONNECTIONS false');
  const probe = createPostgresExecutor({ connectionString: databaseUrl, maxConnections: 1 });
  const failure = await probe.query('SELECT 1').then(
    () => undefined,
    (error: unknown) => error,
  );
  await probe.close();
  assert.ok(failure instanceof SessionNotOpenedError, `a session not opened, got ${String(failure)}`);
  assert.equal(failure.code, '55000');
  assert.equal(isTransientSqlError(failure), true);
  const refusal = failure.cause as { code?: string; severity?: string; message?: string };
  assert.equal(refusal.severity, 'ВАЖНО', `a localized FATAL, got ${refusal.severity}: ${refusal.message}`);
  assert.equal(isTransientSqlError(refusal), false, 'by its fields alone it reads as a statement fault');
  await admin.query('ALTER DATABASE kordon_ru ALLOW_CONNECTIONS true');

  kordon = await startKordonUnderTest(gatewayConfig(mock.url), {
    OPENAI_KEY,
    KORDON_DATABASE_URL: databaseUrl,
  });
  const k = kordon;
  const proxyKey = k.proxyKeys.get('dev@acme.test--laptop')!;
  const client = new OpenAI({ apiKey: proxyKey, baseURL: `${k.url}/v1`, maxRetries: 0 });
  const before = (await k.requestEvents()).length;

  await admin.query('ALTER DATABASE kordon_ru ALLOW_CONNECTIONS false');
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'kordon_ru'");
  const served = 3;
  for (let i = 0; i < served; i++) {
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `привет ${i}` }],
    });
    assert.ok(answer.choices[0]?.message.content, 'the gateway keeps serving');
  }
  await k.kordon.storage.appender.flush();
  const during = k.kordon.storage.appender.status();
  assert.equal(during.deadLettered, 0, 'no event dead-lettered while the database refuses sessions');
  assert.equal(during.storeReachable, false);
  assert.ok(during.spooledEvents >= served, `the events wait in the spool (${during.spooledEvents})`);

  await admin.query('ALTER DATABASE kordon_ru ALLOW_CONNECTIONS true');
  await until('the appender to reach the store', () => {
    const s = k.kordon.storage.appender.status();
    return s.spooledEvents === 0 && s.buffered === 0 && s.storeReachable;
  });
  assert.equal(k.kordon.storage.appender.status().deadLettered, 0);
  const events = await k.requestEvents();
  assert.equal(events.length - before, served, 'every served request has its event in the log');
});

it('with the store down and the spool full, a request is refused (503 in its dialect) instead of served unrecorded', async (t) => {
  if (!postgresAvailable()) {
    if (process.env.CI) throw new Error('PostgreSQL must be installed in CI');
    return t.skip('PostgreSQL server binaries are not installed (infra/postgres/cluster.sh install)');
  }
  const cluster = startPostgresCluster();
  const mock = await startOpenAIMock({ keys: [OPENAI_KEY] });
  const k = await startKordonUnderTest(
    gatewayConfig(mock.url, ', { name: expired, expiresAt: "2020-01-01T00:00:00Z" }'),
    {
      OPENAI_KEY,
      KORDON_DATABASE_URL: cluster.url,
      KORDON_SPOOL_MAX_BYTES: String(1024 * 1024),
    },
  );
  t.after(async () => {
    await k.stop().catch(() => {});
    await mock.close();
    cluster.destroy();
  });
  const proxyKey = k.proxyKeys.get('dev@acme.test--laptop')!;
  const { appender } = k.kordon.storage;
  const send = (path: '/v1/chat/completions' | '/v1/messages') =>
    fetch(`${k.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${proxyKey}`,
        'content-type': 'application/json',
        ...(path === '/v1/messages' ? { 'anthropic-version': '2023-06-01' } : {}),
      },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hello' }],
      }),
    });

  cluster.stop('immediate');
  await until(
    'the 1 MiB spool to be full',
    async () => {
      await Promise.all(
        Array.from({ length: 50 }, async () => (await send('/v1/chat/completions')).arrayBuffer()),
      );
      await appender.flush().catch(() => {});
      return appender.status().spoolFull;
    },
    120_000,
  );
  const ready = await fetch(`${k.url}/readyz`);
  await ready.arrayBuffer();
  assert.equal(ready.status, 503, 'readiness says the gateway cannot record');

  const bufferedBefore = appender.status().buffered;
  const providerCalls = mock.requests.length;
  const openai = await send('/v1/chat/completions');
  const openaiBody = (await openai.json()) as { error?: { type?: string; message?: string } };
  assert.equal(openai.status, 503, 'an answer whose event could only sit in memory is not given');
  assert.ok(openai.headers.get('retry-after'), 'the SDKs retry later');
  assert.match(openaiBody.error?.message ?? '', /cannot record/);
  const anthropic = await send('/v1/messages');
  const anthropicBody = (await anthropic.json()) as { type?: string; error?: { type?: string } };
  assert.equal(anthropic.status, 503);
  assert.equal(anthropicBody.type, 'error');
  assert.equal(anthropicBody.error?.type, 'overloaded_error', "in the Anthropic caller's dialect");
  assert.equal(appender.status().buffered, bufferedBefore, 'nothing more waits in memory');
  assert.equal(mock.requests.length, providerCalls, 'no provider is called (and billed) for them');

  // A call that is not usage is still served (it writes no event), but a genuine key's refusal
  // there is an event (RequestRejected): it cannot be kept either, so the caller hears the 503.
  const models = (proxyKey: string) =>
    fetch(`${k.url}/v1/models`, { headers: { authorization: `Bearer ${proxyKey}` } });
  const served = await models(k.proxyKeys.get('dev@acme.test--laptop')!);
  await served.arrayBuffer();
  assert.equal(served.status, 200, 'listing models needs no event');
  const refused = await models(k.proxyKeys.get('dev@acme.test--expired')!);
  const refusedBody = (await refused.json()) as { error?: { message?: string } };
  assert.equal(refused.status, 503, "an expired key's refusal, which could only wait in memory");
  assert.match(refusedBody.error?.message ?? '', /cannot record/);
  assert.equal(appender.status().buffered, bufferedBefore, 'its event does not wait in memory');
});
