import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ONE = 'sk-proj-failover-balancer-one-abcdefghijklmnopq';
const TWO = 'sk-proj-failover-balancer-two-abcdefghijklmnopq';

/**
 * Waits until the mock has received `count` requests: the one in flight has reached key one,
 * which holds it (slow first byte) while the admin changes key two.
 */
async function requestReached(mock: MockServer, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (mock.requests.length < count) {
    if (Date.now() > deadline)
      throw new Error(`the mock received ${mock.requests.length} of ${count} requests`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Failover between the keys of one provider as the caller sees it: what it is told to wait
 * when every key refused, and which keys a request still reaches after an admin changed them.
 */
describe('balancer failover through HTTP', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  let client: OpenAI;
  const adminToken = randomBytes(32).toString('base64url');

  beforeEach(async () => {
    mock = await startOpenAIMock({ keys: [ONE, TWO] });
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
        balancer: weighted
        keys:
          - { name: one, secret: "\${KEY_1}" }
          - { name: two, secret: "\${KEY_2}" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { KEY_1: ONE, KEY_2: TWO, KORDON_ADMIN_TOKEN: adminToken },
    );
    client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
  });
  afterEach(async () => {
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

  const keyIdOf = async (name: string): Promise<string> => {
    const listed = await admin('GET', '/orgs/acme/provider-keys');
    const items = (listed.body.data ?? listed.body.items ?? listed.body.keys ?? []) as Array<
      Record<string, unknown>
    >;
    const found = items.find((k) => k.name === name);
    assert.ok(found, `key ${name} listed: ${JSON.stringify(listed.body).slice(0, 300)}`);
    return String(found.id ?? found.providerKeyId);
  };

  it('every key answered 429: Retry-After is when the first key is back, not the last key tried', async () => {
    mock.setScenario('rate-limit=1', { key: ONE });
    mock.setScenario('rate-limit=30', { key: TWO });
    const refused = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    const tried = mock.requests.map((r) => bearerOf(r.headers as Record<string, unknown>));
    assert.deepEqual(tried, [ONE, TWO], 'key one (Retry-After 1) tried first, then key two (Retry-After 30)');
    assert.ok(refused instanceof OpenAI.APIError, String(refused));
    // Key one is usable again after 1 s: a caller told to wait 30 s waits 29 s for nothing.
    const retryAfter = Number(refused.headers?.get('retry-after'));
    assert.ok(retryAfter <= 1, `retry-after ${retryAfter}, though key one is back in 1 s`);
  });

  it('a key disabled by the admin during a request is not the failover of that request', async () => {
    const two = await keyIdOf('two');
    // Key one (picked first) takes 1.5 s, then fails with a 500: the request fails over.
    mock.setScenario('slow-first-byte=1500,server-error', { key: ONE });
    const pending = client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    await requestReached(mock, 1);
    const disabled = await admin('PATCH', `/orgs/acme/provider-keys/${two}`, { disabled: true });
    assert.ok(disabled.status < 300, `disabled: ${disabled.status} ${JSON.stringify(disabled.body)}`);
    const from = mock.requests.length;
    await pending;
    const used = mock.requests.slice(from).map((r) => bearerOf(r.headers as Record<string, unknown>));
    // The registry knows: the next request does not reach key two.
    const next = mock.requests.length;
    await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'y' }] })
      .catch((error: unknown) => error);
    const later = mock.requests.slice(next).map((r) => bearerOf(r.headers as Record<string, unknown>));
    assert.ok(!later.includes(TWO), 'a new request does not use the disabled key');
    assert.equal(
      used.filter((k) => k === TWO).length,
      0,
      'the disabled key was sent the request after the admin disabled it',
    );
  });

  it('a key removed by the admin during a request is not the failover of that request', async () => {
    const two = await keyIdOf('two');
    mock.setScenario('slow-first-byte=1500,server-error', { key: ONE });
    const pending = client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    await requestReached(mock, 1);
    const removed = await admin('DELETE', `/orgs/acme/provider-keys/${two}`);
    assert.ok(removed.status < 300, `removed: ${removed.status} ${JSON.stringify(removed.body)}`);
    const from = mock.requests.length;
    await pending;
    const used = mock.requests.slice(from).map((r) => bearerOf(r.headers as Record<string, unknown>));
    assert.equal(
      used.filter((k) => k === TWO).length,
      0,
      'the removed key was sent the request after the admin removed it',
    );
  });
});
