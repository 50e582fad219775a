import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OLD_KEY = 'sk-proj-rotation-old-abcdefghijklmnopqrstuvwxyz01';
const NEW_KEY = 'sk-proj-rotation-new-abcdefghijklmnopqrstuvwxyz01';

/**
 * A provider key rotated through the admin API while requests keep coming: add the new key,
 * drain the old one (weight 0), remove it. No request may fail; the admin sees each key's health.
 */
describe('rotating a provider key under steady load', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  const adminToken = randomBytes(32).toString('base64url');

  before(async () => {
    mock = await startOpenAIMock({ keys: [OLD_KEY, NEW_KEY] });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: old, secret: "\${OLD_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { OLD_KEY, KORDON_ADMIN_TOKEN: adminToken },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  it('adds, drains and removes a key with no failed request; the admin sees every key', async () => {
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
    let running = true;
    let served = 0;
    const errors: unknown[] = [];
    const worker = async () => {
      while (running) {
        try {
          await client.chat.completions.create({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'steady' }],
          });
          served++;
        } catch (error) {
          errors.push(error);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

    await pause(300);
    const keys = await admin('GET', '/orgs/acme/provider-keys');
    assert.equal(keys.status, 200, JSON.stringify(keys.body));
    const old = (keys.body.items as Array<{ id: string; name: string }>).find((k) => k.name === 'old')!;
    const added = await admin('POST', '/orgs/acme/provider-keys', {
      provider: 'openai',
      name: 'new',
      secret: NEW_KEY,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    await pause(300);
    const drained = await admin('PATCH', `/orgs/acme/provider-keys/${old.id}`, { weight: 0 });
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    await pause(300);
    const from = mock.requests.length;
    await pause(300);
    const oldAfterDrain = mock.requests
      .slice(from)
      .filter((r) => bearerOf(r.headers as Record<string, unknown>) === OLD_KEY);
    assert.equal(oldAfterDrain.length, 0, 'a drained key gets no new request');

    const health = await admin('GET', '/orgs/acme/provider-keys/health');
    assert.equal(health.status, 200, JSON.stringify(health.body));
    const items = health.body.items as Array<Record<string, unknown>>;
    const byName = new Map(items.map((item) => [item.name, item]));
    assert.equal(byName.get('new')?.state, 'ok');
    assert.equal(byName.get('new')?.usable, true);
    assert.ok(typeof byName.get('new')?.latencyEwmaMs === 'number');
    assert.equal(byName.get('old')?.weight, 0);
    assert.equal(byName.get('old')?.effectiveWeight, 0);
    assert.ok(!JSON.stringify(health.body).includes(NEW_KEY.slice(8)), 'no secret in the view');

    const removed = await admin('DELETE', `/orgs/acme/provider-keys/${old.id}`);
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    await pause(300);
    running = false;
    await Promise.all(workers);

    assert.equal(errors.length, 0, `no request failed: ${errors.map(String).join('; ')}`);
    assert.ok(served >= 20, `served ${served}`);
    const used = new Set(mock.requests.map((r) => bearerOf(r.headers as Record<string, unknown>)));
    assert.ok(used.has(OLD_KEY) && used.has(NEW_KEY));
    const events = await gateway.requestEvents();
    assert.equal(events.filter((e) => e.type !== 'RequestCompleted').length, 0, 'every request completed');
  });
});
