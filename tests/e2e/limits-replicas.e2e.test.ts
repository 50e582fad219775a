import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createPostgresEventStore, type KordonEvent, kordonCatalogue } from '@kordon/events';
import { createTestDatabase } from '@kordon/events/testing';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonProcess, startKordonProcess } from './support/kordon-process.js';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-replicas-abcdefghijklmnopqrstuvwxyz01234';

const config = (mockUrl: string) => `
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 1000, output: 1000 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${mockUrl}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
    users:
      - email: dev@acme.test
        limits: { budget: { usd: 0.5, period: 1mo } }
        proxyKeys: [{ name: a, limits: { budget: { usd: 0.05, period: 1d } } }, { name: b, limits: { budget: { usd: 0.05, period: 1d } } }]
`;

const ask = (url: string, apiKey: string) =>
  new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 }).chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 16,
  });

/** Requests served until the first refusal (a 429), at most `max`. */
async function servedUntilRefused(url: string, apiKey: string, max = 20): Promise<number> {
  for (let served = 0; served < max; served++) {
    try {
      await ask(url, apiKey);
    } catch (error) {
      assert.ok(error instanceof OpenAI.RateLimitError, String(error));
      return served;
    }
  }
  return max;
}

describe('limit counters across a restart', () => {
  let mock: MockServer;
  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
  });
  after(() => mock?.close());

  it('a restart mid-period keeps what was spent (a snapshot, then the log after it)', async () => {
    let gateway: KordonUnderTest = await startKordonUnderTest(config(mock.url), { UPSTREAM_KEY });
    const keyA = gateway.proxyKeys.get('dev@acme.test--a')!;
    const keyB = gateway.proxyKeys.get('dev@acme.test--b')!;
    // Key a, without a restart: how many requests its budget holds.
    const whole = await servedUntilRefused(gateway.url, keyA);
    assert.ok(whole >= 2, `the budget holds ${whole} requests`);
    // Key b (the same budget): one request, a restart, then the rest.
    await ask(gateway.url, keyB);
    const dataDir = gateway.dataDir;
    await gateway.stop({ keepData: true });
    gateway = await startKordonUnderTest(config(mock.url), { UPSTREAM_KEY }, { dataDir });
    try {
      // The stop saved a snapshot of the counters; the start restored it and replayed only what came after.
      const { rows } = await gateway.kordon.storage.store.sql.query<{ position: string }>(
        'SELECT position FROM kordon_limit_counters',
      );
      assert.ok(Number(rows[0]?.position) > 0, 'a snapshot of the counters was taken at stop');
      assert.equal(await servedUntilRefused(gateway.url, keyB), whole - 1, 'the restart forgot nothing');
    } finally {
      await gateway.stop();
    }
  });
});

describe('a budget across two Kordon processes sharing one PostgreSQL', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let mock: MockServer;
  let database: { url: string; drop: () => Promise<void> };
  const replicas: KordonProcess[] = [];

  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    database = (await createTestDatabase())!;
  });
  after(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await mock?.close();
    await database?.drop();
  });

  const startReplica = async (env: Record<string, string>) => {
    const replica = await startKordonProcess({ config: config(mock.url), env: { ...env, UPSTREAM_KEY } });
    replicas.push(replica);
    return replica;
  };

  const adminToken = randomBytes(32).toString('base64url');
  let first: KordonProcess;
  let second: KordonProcess;

  it('50 concurrent requests on two replicas overspend by at most the documented margin', async (t) => {
    const env = {
      KORDON_DATABASE_URL: database.url,
      KORDON_MASTER_KEY: randomBytes(32).toString('base64'),
      KORDON_PROXY_KEY_SECRET: randomBytes(32).toString('base64'),
      KORDON_ADMIN_TOKEN: adminToken,
    };
    first = await startReplica(env);
    second = await startReplica(env);
    const apiKey = first.proxyKeys().get('dev@acme.test--a')!;

    // Key a's budget: $0.05 a day; each request is estimated at under $0.03.
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ask(i % 2 === 0 ? first.url : second.url, apiKey).then(
          () => 'served' as const,
          (error: unknown) => {
            assert.ok(error instanceof OpenAI.RateLimitError, String(error));
            return 'refused' as const;
          },
        ),
      ),
    );
    const served = outcomes.filter((o) => o === 'served').length;

    // What was really spent, from the shared log.
    const store = await createPostgresEventStore({ connectionString: database.url });
    try {
      // Both appenders flush on their own time: read until every request served is written (10 s
      // at most), then once more after a pause, for any written twice.
      const completedCosts = async () => {
        const events = (await store.readAll({ after: 0, maxCount: 10_000 })).map(
          (e) => kordonCatalogue.decode(e) as KordonEvent,
        );
        return events.flatMap((e) => (e.type === 'RequestCompleted' ? [Number(e.data.cost)] : []));
      };
      const deadline = Date.now() + 10_000;
      while ((await completedCosts()).length < served && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 500));
      const costs = await completedCosts();
      const spent = costs.reduce((a, b) => a + b, 0);
      const largest = Math.max(...costs);
      assert.equal(costs.length, served);
      // docs/limits.md: overspend <= (R - 1) * min(B, C * E_max), R = 2 replicas, C = 25 in flight each.
      const key = 0.05;
      const margin = 1 * Math.min(key, 25 * largest * 1.5);
      t.diagnostic(
        `served ${served} of 50, spent $${spent.toFixed(4)} of a $${key} budget (bound $${key + margin})`,
      );
      assert.ok(spent <= key + margin + 1e-9, `spent ${spent} within ${key} + ${margin}`);
      assert.ok(outcomes.includes('refused'), 'the budget refused some requests');
    } finally {
      await store.close();
    }
  });

  it('a key revoked on one replica is refused by the other within a second', async () => {
    const apiKey = first.proxyKeys().get('dev@acme.test--b')!;
    await ask(second.url, apiKey);
    const list = (await (
      await fetch(`${first.url}/admin/v1/orgs/acme/proxy-keys?limit=200`, {
        headers: { authorization: `Bearer ${adminToken}` },
      })
    ).json()) as { items: Array<{ id: string; name: string }> };
    const key = list.items.find((k) => k.name === 'b')!;
    const revoked = await fetch(`${first.url}/admin/v1/orgs/acme/proxy-keys/${key.id}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(revoked.status, 200, await revoked.text());
    const at = Date.now();
    let refusedAfter: number | undefined;
    while (Date.now() - at < 5_000) {
      const status = await ask(second.url, apiKey).then(
        () => 200,
        (error: unknown) => (error instanceof OpenAI.APIError ? error.status : 0),
      );
      if (status === 401) {
        refusedAfter = Date.now() - at;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(refusedAfter !== undefined && refusedAfter < 1_000, `refused after ${refusedAfter} ms`);
  });
});
