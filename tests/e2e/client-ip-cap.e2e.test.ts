import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-ipcap-abcdefghijklmnopqrstuvwxyz01234567';

/**
 * maxDistinctIps through HTTP: an address counts once its request is admitted, never for a
 * request refused (so that every replica, learning addresses from usage events, agrees).
 */
describe('the cap on distinct client addresses through HTTP', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  const config = (mockUrl: string) => `
orgs:
  - slug: acme
    name: Acme
    prices:
      # 1,000 USD per million tokens: max_tokens 1000 is held at $1.
      gpt-4o-mini: { input: 1000, output: 1000 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${mockUrl}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: crowd, limits: { maxDistinctIps: { count: 3, period: 1d } } }
          - { name: refused, limits: { maxDistinctIps: { count: 1, period: 1d }, budget: { usd: 0.05, period: 1d } } }
          - { name: office, limits: { maxDistinctIps: { count: 1, period: 1d }, ipDeny: ["127.0.0.50/32"] } }
          - { name: translated, limits: { maxDistinctIps: { count: 1, period: 1d } } }
`;

  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    gateway = await startKordonUnderTest(config(mock.url), { UPSTREAM_KEY });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const openai = (name: string, localAddress: string) =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${name}`)!,
      maxRetries: 0,
      // A client on another loopback address: the gateway sees it as the TCP peer.
      fetch: ((url: string, init: Record<string, unknown>) =>
        undiciFetch(url, {
          ...init,
          dispatcher: new Agent({ localAddress }),
        } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch,
    });
  const ask = (client: OpenAI, maxTokens = 16) =>
    client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: maxTokens,
    });

  it('8 new addresses at once against a cap of 3: exactly 3 are served', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => ask(openai('crowd', `127.0.0.${20 + i}`))),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 3);
    for (const outcome of outcomes)
      if (outcome.status === 'rejected')
        assert.ok(outcome.reason instanceof OpenAI.PermissionDeniedError, String(outcome.reason));
  });

  it('an address whose request a budget refused (429) takes no place under the cap', async () => {
    const refused = await ask(openai('refused', '127.0.0.40'), 1000).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    const events = await gateway.requestEvents();
    const rejected = events.filter(
      (e): e is Extract<KordonEvent, { type: 'RequestRejected' }> => e.type === 'RequestRejected',
    );
    assert.equal(rejected.at(-1)?.data.reason, 'budget_usd');
    // The cap of 1 is still free: another address is served.
    const served = await ask(openai('refused', '127.0.0.41'));
    assert.ok(served.choices.length > 0);
  });

  it('a caller that leaves before admission writes no event that counts its address', async () => {
    // A denied address starts a request and hangs up halfway through its body. It was never
    // admitted: an event saying it was (RequestFailed) would give it a place under the key's cap
    // on every other replica, and on this one once it reads the log again after a restart.
    const { port } = new URL(gateway.url);
    const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress: '127.0.0.50' });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        `Authorization: Bearer ${gateway.proxyKeys.get('dev@acme.test--office')}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":"gpt-4o-mini",',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events = await gateway.requestEvents();
    const ofCaller = events.filter((e) => 'clientIp' in e.data && e.data.clientIp === '127.0.0.50');
    // Its one event: refused, as a body that never ended is (nothing answered: 499).
    assert.deepEqual(
      ofCaller.map((e) => [e.type, 'status' in e.data ? e.data.status : null]),
      [['RequestRejected', 499]],
    );
    // The key's one address is still free for the office.
    const served = await ask(openai('office', '127.0.0.51'));
    assert.ok(served.choices.length > 0);
  });
  it('an address whose admitted request was refused before any provider was asked takes no place', async () => {
    // Admitted by every limit, then refused by the translation to the OpenAI provider (a Claude
    // field it cannot take): a RequestRejected, which no replica counts an address from.
    const response = await undiciFetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': gateway.proxyKeys.get('dev@acme.test--translated')!,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        max_tokens: 16,
        container: 'container_1',
        messages: [{ role: 'user', content: 'hi' }],
      }),
      dispatcher: new Agent({ localAddress: '127.0.0.60' }),
    });
    assert.equal(response.status, 400, await response.text());
    const events = await gateway.requestEvents();
    const ofCaller = events.filter((e) => 'clientIp' in e.data && e.data.clientIp === '127.0.0.60');
    assert.deepEqual(
      ofCaller.map((e) => [e.type, 'reason' in e.data ? e.data.reason : null]),
      [['RequestRejected', 'invalid_request']],
    );
    // The key's one address is still free, as on every replica reading the log.
    const served = await ask(openai('translated', '127.0.0.61'));
    assert.ok(served.choices.length > 0);
  });
});
