import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kordonCatalogue, type NewEvent, newEventId, type SqlQueryable, streams } from '@kordon/events';
import { BodyKeyStore, BodyOpener, BodySealer, loadRuntimeSecrets, type SealedBodies } from '@kordon/gateway';
import { loadConfig } from './config.js';
import { startKordon } from './kordon.js';
import { createLogger } from './logger.js';

const DAY = 86_400_000;
const ORG = 'org_retention';

function request(requestId: string, time: Date, sealedBodies: SealedBodies | null = null): NewEvent {
  return kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(ORG),
    {
      requestId,
      proxyKeyId: 'pxk_1',
      userId: 'usr_1',
      teamId: null,
      provider: 'openai',
      providerKeyId: 'prk_1',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: 10, outputTokens: 2, cachedInputTokens: 0 },
      cost: '0.000003',
      currency: 'USD',
      latencyMs: 300,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp: '203.0.113.9',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
      sealedBodies,
    },
    { orgId: ORG, actor: { kind: 'proxy-key', id: 'pxk_1' }, time, id: newEventId() },
  );
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const rows = async (sql: SqlQueryable, requestIds: string[]) =>
  (
    await sql.query<{ request_id: string }>(
      'SELECT request_id FROM kordon_request_log WHERE request_id = ANY($1::text[]) ORDER BY request_id',
      [requestIds],
    )
  ).rows.map((row) => row.request_id);

/** Kordon on the embedded store in a fresh data folder, retention every second. */
async function startRetentionServer(t: TestContext) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kordon-retention-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({
    KORDON_PORT: '0',
    KORDON_DATA_DIR: dataDir,
    KORDON_LOG_LEVEL: 'silent',
    KORDON_DEV_MODE: 'true',
    KORDON_RETENTION_INTERVAL_MS: '1000',
  });
  const kordon = await startKordon(config, createLogger(config));
  t.after(() => kordon.stop());
  return { kordon, config, dataDir, store: kordon.storage.store, sql: kordon.storage.store.sql };
}

it('the server runs the request log and its retention: expired requests leave the database', async (t) => {
  const { store, sql } = await startRetentionServer(t);
  const ancient = new Date(Date.now() - 500 * DAY);
  const month = `kordon_request_log_y${ancient.getUTCFullYear()}m${String(ancient.getUTCMonth() + 1).padStart(2, '0')}`;

  // Requests of every age, then (later in the log) a policy that keeps 30 days.
  await store.appendMany([
    request('r-ancient', ancient),
    request('r-old', new Date(Date.now() - 45 * DAY)),
    request('r-recent', new Date(Date.now() - 2 * DAY)),
    kordonCatalogue.create(
      'LoggingPolicySet',
      streams.org(ORG),
      { bodies: 'none', retentionDays: 30, rules: [] },
      { orgId: ORG, actor: { kind: 'config', id: 'config-file' } },
    ),
  ]);
  await until('the request log to follow the event log', async () =>
    (await rows(sql, ['r-recent'])).length === 1 ? true : undefined,
  );
  await until('the retention pass to delete expired requests', async () =>
    (await rows(sql, ['r-ancient', 'r-old'])).length === 0 ? true : undefined,
  );
  assert.deepEqual(await rows(sql, ['r-ancient', 'r-old', 'r-recent']), ['r-recent']);
  const { rows: tables } = await sql.query<{ name: string | null }>('SELECT to_regclass($1)::text AS name', [
    month,
  ]);
  assert.equal(tables[0]?.name, null, 'the expired month was dropped as a whole');
  const { rows: parked } = await sql.query('SELECT * FROM kordon_projection_parked');
  assert.deepEqual(parked, []);
});

it('logged texts are sealed in the event log: readable within retention, unreadable anywhere after it', async (t) => {
  const { kordon, config, dataDir, store, sql } = await startRetentionServer(t);
  // The server's own master key (dev mode keeps it in the data folder): what a replica seals with.
  const secrets = loadRuntimeSecrets({ ...config.secrets, devMode: true, dataDir, nodeEnv: config.nodeEnv });
  const keys = new BodyKeyStore(sql, secrets.masterKeys);
  const quiet = { warn: () => {} };
  const oldTime = Date.now() - 45 * DAY;
  const recentTime = Date.now() - 2 * DAY;
  const oldSealer = new BodySealer({ store: keys, logger: quiet, now: () => oldTime });
  const recentSealer = new BodySealer({ store: keys, logger: quiet, now: () => recentTime });
  const oldBodies = oldSealer.seal(ORG, 'r-sealed-old', 'the old prompt', 'the old answer');
  const recentBodies = recentSealer.seal(ORG, 'r-sealed-recent', 'the recent prompt', 'the recent answer');
  await oldSealer.stop();
  await recentSealer.stop();

  await store.appendMany([
    kordonCatalogue.create(
      'LoggingPolicySet',
      streams.org(ORG),
      { bodies: 'redacted', retentionDays: 30, rules: [] },
      { orgId: ORG, actor: { kind: 'config', id: 'config-file' } },
    ),
    request('r-sealed-old', new Date(oldTime), oldBodies),
    request('r-sealed-recent', new Date(recentTime), recentBodies),
  ]);
  // Within retention the request log holds the text, opened from the event's ciphertext.
  const recent = await until('the recent request in the request log', async () => {
    const { rows: found } = await sql.query<{ prompt: string | null; response: string | null }>(
      "SELECT prompt, response FROM kordon_request_log WHERE request_id = 'r-sealed-recent'",
    );
    return found[0];
  });
  assert.deepEqual(recent, { prompt: 'the recent prompt', response: 'the recent answer' });
  // Past it, retention deletes the day's key: the request is gone from the request log, and
  // the event log, which still holds its ciphertext, cannot give the text back.
  await until("the old day's key to be deleted", async () => {
    const { rows: left } = await sql.query('SELECT 1 FROM kordon_body_keys WHERE key_id = $1', [
      oldBodies.keyId,
    ]);
    return left.length === 0 ? true : undefined;
  });
  assert.deepEqual(await rows(sql, ['r-sealed-old']), []);
  const { rows: kept } = await sql.query<{ day: string | Date }>(
    'SELECT day FROM kordon_body_keys WHERE key_id = $1',
    [recentBodies.keyId],
  );
  assert.equal(kept.length, 1, "the recent day's key stays");
  const logged = await store.readAll({ after: 0, maxCount: 10_000, types: ['RequestCompleted'] });
  const oldEvent = logged.find(
    (event) => (event.data as { requestId?: string }).requestId === 'r-sealed-old',
  );
  assert.ok(oldEvent, 'the event itself stays in the log');
  assert.ok(!JSON.stringify(oldEvent.data).includes('the old prompt'));
  const opener = new BodyOpener({ store: keys, waitForKeyMs: 0 });
  await opener.prepare([
    { keyId: oldBodies.keyId, time: new Date(oldTime) },
    { keyId: recentBodies.keyId, time: new Date(recentTime) },
  ]);
  assert.equal(opener.open(oldBodies, ORG, 'r-sealed-old', 'prompt'), null);
  assert.equal(opener.open(recentBodies, ORG, 'r-sealed-recent', 'prompt'), 'the recent prompt');
  // A rebuild of the request log replays the whole log: no old text comes back.
  await kordon.requestLog?.rebuild();
  const { rows: rebuilt } = await sql.query<{ request_id: string; prompt: string | null }>(
    "SELECT request_id, prompt FROM kordon_request_log WHERE request_id LIKE 'r-sealed-%' ORDER BY request_id",
  );
  assert.ok(!rebuilt.some((row) => row.prompt === 'the old prompt'));
});
