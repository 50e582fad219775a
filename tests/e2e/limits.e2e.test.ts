import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-limits-abcdefghijklmnopqrstuvwxyz0123456';
const ADMIN_TOKEN = randomBytes(32).toString('base64url');

/**
 * Limits through the real path with the official SDKs: each limit refuses at its point, in the
 * caller's dialect, with its headers and a RequestRejected saying which limit.
 */
describe('limits through HTTP', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  const config = (mockUrl: string) => `
orgs:
  - slug: acme
    name: Acme
    timeZone: Europe/Berlin
    prices:
      # 1,000 USD per million tokens: a short request costs a few cents, exactly.
      gpt-4o-mini: { input: 1000, output: 1000 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${mockUrl}/v1
        models: [gpt-4o-mini, gpt-4.1-mini, my-local-model]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: rpm, limits: { rpm: 2 } }
          - { name: budget, limits: { budget: { usd: 0.05, period: 1d } } }
          - { name: models, limits: { models: [gpt-4o-mini] } }
          - { name: denied, limits: { ipDeny: ["127.0.0.0/8"] } }
          - { name: shared, limits: { maxDistinctIps: { count: 2, period: 1d } } }
          - { name: short, limits: { budget: { usd: 0.03, period: 5s } } }
          - { name: counting, limits: { rpm: 1 } }
          - { name: photo, limits: { budget: { usd: 5, period: 1d } } }
          - { name: dollar, limits: { budget: { usd: 1, period: 1d } } }
          - { name: api }
          - { name: expired, expiresAt: "2020-01-01T00:00:00Z" }
          - { name: lapsed, expiresAt: "2020-01-01T00:00:00Z" }
          - { name: elsewhere, limits: { models: [claude-nowhere] } }
`;

  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    gateway = await startKordonUnderTest(config(mock.url), {
      UPSTREAM_KEY,
      KORDON_ADMIN_TOKEN: ADMIN_TOKEN,
      // A load balancer on 127.0.0.5: only its X-Forwarded-For is believed.
      KORDON_TRUSTED_PROXIES: '127.0.0.5/32',
    });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const key = (name: string) => gateway.proxyKeys.get(`dev@acme.test--${name}`)!;
  const openai = (name: string, localAddress?: string) =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: key(name),
      maxRetries: 0,
      ...(localAddress && {
        // A client on another loopback address: the gateway sees it as the TCP peer.
        fetch: ((url: string, init: Record<string, unknown>) =>
          undiciFetch(url, {
            ...init,
            dispatcher: new Agent({ localAddress }),
          } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch,
      }),
    });
  const ask = (client: OpenAI, model = 'gpt-4o-mini', extra: Record<string, string> = {}) =>
    client.chat.completions.create(
      { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 },
      { headers: extra },
    );
  const lastRejected = async () => {
    const events = await gateway.requestEvents();
    return events
      .filter((e): e is Extract<KordonEvent, { type: 'RequestRejected' }> => e.type === 'RequestRejected')
      .at(-1)!;
  };

  it('requests per minute: the third of an rpm of 2 is a 429 with rate-limit headers', async () => {
    const client = openai('rpm');
    const first = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(first.response.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '1');
    await ask(client);
    const calls = mock.requests.length;
    const refused = await ask(client).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.equal(refused.headers?.get('x-ratelimit-remaining-requests'), '0');
    assert.ok(Number(refused.headers?.get('retry-after')) >= 1);
    assert.equal(mock.requests.length, calls, 'no provider call');
    const event = await lastRejected();
    assert.equal(event.data.reason, 'rate_limit_rpm');
    assert.equal(event.data.status, 429);
    assert.equal(event.data.limitScope?.scope, 'proxy-key');
  });

  it('a USD budget refuses once spent: insufficient_quota for OpenAI, rate_limit_error for Anthropic', async () => {
    const client = openai('budget');
    let served = 0;
    let refused: unknown;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        await ask(client);
        served++;
      } catch (error) {
        refused = error;
      }
    }
    assert.ok(served >= 1 && served < 10, `served ${served} before the budget was spent`);
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.equal((refused.error as { code?: string }).code, 'insufficient_quota');
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: key('budget'), maxRetries: 0 });
    const viaAnthropic = await anthropic.messages
      .create({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    assert.ok(viaAnthropic instanceof Anthropic.RateLimitError, String(viaAnthropic));
    assert.equal((await lastRejected()).data.reason, 'budget_usd');
    // A spent budget is not retried by the SDKs (x-should-retry: false): one request, one refusal.
    const before = (await gateway.requestEvents()).length;
    const retrying = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key('budget'), maxRetries: 2 });
    const again = await ask(retrying).catch((error: unknown) => error);
    assert.ok(again instanceof OpenAI.RateLimitError, String(again));
    assert.equal(again.headers?.get('x-should-retry'), 'false');
    assert.equal((await gateway.requestEvents()).length, before + 1);
  });

  it('a USD budget refuses a model with no USD price (it would hold nothing) before any provider is asked', async () => {
    const calls = mock.requests.length;
    const refused = await ask(openai('photo'), 'my-local-model').catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
    assert.match(
      refused.message,
      /my-local-model has no price in USD, so the USD budget of this key cannot hold/,
    );
    const rejected = await lastRejected();
    assert.equal(rejected.data.reason, 'budget_usd');
    assert.equal(rejected.data.model, 'my-local-model');
    assert.equal(mock.requests.length, calls, 'no provider was asked');
    // A key without a money budget may use it (the mock answers any model).
    await ask(openai('api'), 'my-local-model');
  });

  it('a request asking for priority processing is held at its rates', async () => {
    // gpt-4.1-mini's longest answer (1M tokens) costs 1.60 USD at the standard rate, 2.80 at priority's.
    const ask1M = (extra: object) =>
      openai('dollar')
        .chat.completions.create({
          model: 'gpt-4.1-mini',
          messages: [{ role: 'user', content: 'hi' }],
          max_completion_tokens: 1_000_000,
          ...extra,
        })
        .catch((error: unknown) => error);
    const standard = await ask1M({});
    assert.ok(standard instanceof OpenAI.RateLimitError, String(standard));
    assert.match(standard.message, /may cost up to \$1\.6\d* /);
    const priority = await ask1M({ service_tier: 'priority' });
    assert.ok(priority instanceof OpenAI.RateLimitError, String(priority));
    assert.match(priority.message, /may cost up to \$2\.8\d* /);
  });

  it('a model outside the key list is a 403 naming it', async () => {
    const refused = await ask(openai('models'), 'gpt-4.1-mini').catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
    assert.match(refused.message, /gpt-4\.1-mini/);
    assert.equal((await lastRejected()).data.reason, 'model_forbidden');
    await ask(openai('models'));
  });

  it('listing and retrieving models shows a key only the models its policies allow, from where it may be used', async () => {
    const listed = async (name: string) => {
      const ids: string[] = [];
      for await (const model of openai(name).models.list()) ids.push(model.id);
      return ids;
    };
    assert.deepEqual(await listed('api'), ['gpt-4o-mini', 'gpt-4.1-mini', 'my-local-model']);
    // A key with a USD budget is not offered a model without a USD price (its requests are refused).
    assert.deepEqual(await listed('photo'), ['gpt-4o-mini', 'gpt-4.1-mini']);
    const unpriced = await openai('photo')
      .models.retrieve('my-local-model')
      .catch((error: unknown) => error);
    assert.ok(unpriced instanceof OpenAI.NotFoundError, String(unpriced));
    assert.deepEqual(await listed('models'), ['gpt-4o-mini']);
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: key('models'), maxRetries: 0 });
    const anthropicIds: string[] = [];
    for await (const model of anthropic.models.list()) anthropicIds.push(model.id);
    assert.deepEqual(anthropicIds, ['gpt-4o-mini']);

    // models.retrieve: what a request naming the model would be allowed; else the 404 of a model
    // the caller cannot use, in each SDK's terms.
    assert.equal((await openai('models').models.retrieve('gpt-4o-mini')).id, 'gpt-4o-mini');
    assert.equal((await openai('api').models.retrieve('openai/gpt-4.1-mini')).owned_by, 'openai');
    const hidden = await openai('models')
      .models.retrieve('gpt-4.1-mini')
      .catch((error: unknown) => error);
    assert.ok(hidden instanceof OpenAI.NotFoundError, String(hidden));
    assert.match(hidden.message, /gpt-4\.1-mini/);
    const unknown = await anthropic.models.retrieve('claude-nope').catch((error: unknown) => error);
    assert.ok(unknown instanceof Anthropic.NotFoundError, String(unknown));
    assert.equal((await anthropic.models.retrieve('gpt-4o-mini')).type, 'model');

    // A key kept away from this address cannot list either.
    const denied = await listed('denied').catch((error: unknown) => error);
    assert.ok(denied instanceof OpenAI.PermissionDeniedError, String(denied));
    assert.equal(
      mock.requests.filter((request) => request.path.includes('models')).length,
      0,
      'no provider call',
    );
  });

  it("a genuine key that may not be used is a 401 recorded in its org's trail, a few times a minute", async () => {
    const before = (await gateway.requestEvents()).length;
    for (let i = 0; i < 15; i++) {
      const refused = await ask(openai('expired')).catch((error: unknown) => error);
      assert.ok(refused instanceof OpenAI.AuthenticationError, String(refused));
      assert.match(refused.message, /has expired/);
    }
    const recorded = (await gateway.requestEvents()).slice(before);
    assert.equal(recorded.length, 10, 'the first ten of the minute');
    const event = recorded[0]!;
    assert.equal(event.type, 'RequestRejected');
    if (event.type !== 'RequestRejected') return;
    assert.equal(event.data.reason, 'key_expired');
    assert.equal(event.data.status, 401);
    assert.equal(event.data.clientIp, '127.0.0.1');
    assert.ok(event.data.proxyKeyId && event.data.userId);
    // An unknown key belongs to no org: nothing is recorded.
    const unknown = await ask(
      new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'kdn_nope', maxRetries: 0 }),
    ).catch((error: unknown) => error);
    assert.ok(unknown instanceof OpenAI.AuthenticationError);
    assert.equal((await gateway.requestEvents()).length, before + 10);
  });

  it('a refused key or address is recorded on models, stored answers and count_tokens too', async () => {
    const anthropic = (name: string) =>
      new Anthropic({ baseURL: gateway.url, apiKey: key(name), maxRetries: 0 });
    const calls = (name: string) => [
      () => openai(name).models.list(),
      () => openai(name).models.retrieve('gpt-4o-mini'),
      () => openai(name).responses.retrieve('resp_abc123'),
      () => openai(name).responses.delete('resp_abc123'),
      () => openai(name).chat.completions.retrieve('chatcmpl_abc123'),
      () => openai(name).chat.completions.list(),
      () =>
        anthropic(name).messages.countTokens({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
        }),
    ];
    const endpoints = [
      'models',
      'models',
      'responses.stored',
      'responses.stored',
      'chat.completions.stored',
      'chat.completions.stored',
      'messages.count_tokens',
    ];
    const refusedBy = async (name: string) => {
      const before = (await gateway.requestEvents()).length;
      const errors = [];
      // One after another: the events come in the order of the calls.
      for (const call of calls(name))
        errors.push(
          await call().then(
            () => null,
            (error: unknown) => error,
          ),
        );
      const events = (await gateway.requestEvents()).slice(before);
      return { errors, events: events.map((e) => e.data as Record<string, unknown>) };
    };

    const lapsed = await refusedBy('lapsed');
    for (const error of lapsed.errors)
      assert.ok(
        error instanceof OpenAI.AuthenticationError || error instanceof Anthropic.AuthenticationError,
        String(error),
      );
    assert.deepEqual(
      lapsed.events.map((e) => [e.reason, e.endpoint, e.status, e.clientIp, e.proxyKeyId]),
      endpoints.map((endpoint) => ['key_expired', endpoint, 401, '127.0.0.1', lapsed.events[0]?.proxyKeyId]),
    );
    assert.ok(lapsed.events[0]?.proxyKeyId);

    const denied = await refusedBy('denied');
    for (const error of denied.errors)
      assert.ok(
        error instanceof OpenAI.PermissionDeniedError || error instanceof Anthropic.PermissionDeniedError,
        String(error),
      );
    assert.deepEqual(
      denied.events.map((e) => [e.reason, e.endpoint, e.status, (e.limitScope as { scope: string }).scope]),
      endpoints.map((endpoint) => ['ip_denied', endpoint, 403, 'proxy-key']),
    );
    // count_tokens names the model it was asked to count; the others name none.
    assert.deepEqual(
      denied.events.map((e) => e.model),
      [null, null, null, null, null, null, 'gpt-4o-mini'],
    );

    // Model lists that reach none of the keys holding stored answers: a 403 as on chat.
    const before403 = (await gateway.requestEvents()).length;
    const unreachable = await openai('elsewhere')
      .responses.retrieve('resp_abc123')
      .catch((error: unknown) => error);
    assert.ok(unreachable instanceof OpenAI.PermissionDeniedError, String(unreachable));
    const [byLists, ...more] = (await gateway.requestEvents()).slice(before403);
    assert.equal(more.length, 0);
    assert.deepEqual(
      [
        byLists?.type,
        ...['reason', 'endpoint', 'status', 'limitScope'].map(
          (f) => ((byLists?.data ?? {}) as Record<string, unknown>)[f],
        ),
      ],
      ['RequestRejected', 'model_forbidden', 'responses.stored', 403, null],
    );

    // An unknown key has no org, and a call served is not usage: neither is recorded.
    const before = (await gateway.requestEvents()).length;
    const unknown = await new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: 'kdn_nope',
      maxRetries: 0,
    }).models
      .list()
      .catch((error: unknown) => error);
    assert.ok(unknown instanceof OpenAI.AuthenticationError, String(unknown));
    await openai('api').models.list();
    await anthropic('api').messages.countTokens({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal((await gateway.requestEvents()).length, before);
  });

  it('a denied address range is a 403', async () => {
    const refused = await ask(openai('denied')).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
    const event = await lastRejected();
    assert.equal(event.data.reason, 'ip_denied');
    assert.equal(event.data.clientIp, '127.0.0.1');
  });

  it("counting tokens obeys the key's address and model rules, and spends no rate or budget", async () => {
    const count = (name: string, model = 'gpt-4o-mini') =>
      new Anthropic({ baseURL: gateway.url, apiKey: key(name), maxRetries: 0 }).messages
        .countTokens({ model, messages: [{ role: 'user', content: 'hi' }] })
        .catch((error: unknown) => error);
    const denied = await count('denied');
    assert.ok(denied instanceof Anthropic.PermissionDeniedError, String(denied));
    assert.match(denied.message, /127\.0\.0\.1/);
    const forbidden = await count('models', 'gpt-4.1-mini');
    assert.ok(forbidden instanceof Anthropic.PermissionDeniedError, String(forbidden));
    assert.match(forbidden.message, /gpt-4\.1-mini/);
    const allowed = await count('models');
    assert.ok(!(allowed instanceof Error) && (allowed as { input_tokens: number }).input_tokens > 0);
    // An rpm of 1 is not spent by three counts: the request after them is served.
    for (let i = 0; i < 3; i++) assert.ok(!((await count('counting')) instanceof Error));
    await ask(openai('counting'));
  });

  it('behind a trusted proxy the client is the address it forwards, read right to left', async () => {
    // The key denies 127.0.0.0/8; through the trusted proxy the client is 203.0.113.9.
    await ask(openai('denied', '127.0.0.5'), 'gpt-4o-mini', {
      'x-forwarded-for': '10.9.9.9, 203.0.113.9',
    });
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    assert.equal((event.data as { clientIp: string }).clientIp, '203.0.113.9');
    // The same header from a peer that is not a trusted proxy changes nothing.
    const refused = await ask(openai('denied', '127.0.0.6'), 'gpt-4o-mini', {
      'x-forwarded-for': '203.0.113.9',
    }).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
  });

  it('distinct client IPs are counted from real peers; a spoofed X-Forwarded-For changes nothing', async () => {
    await ask(openai('shared', '127.0.0.2'));
    // Claims to come from elsewhere: no trusted proxy is configured, so the peer counts.
    await ask(openai('shared', '127.0.0.3'), 'gpt-4o-mini', { 'x-forwarded-for': '198.51.100.7' });
    await ask(openai('shared', '127.0.0.2'), 'gpt-4o-mini', { 'x-forwarded-for': '198.51.100.8' });
    const refused = await ask(openai('shared', '127.0.0.4')).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
    const event = await lastRejected();
    assert.equal(event.data.reason, 'ip_cap');
    assert.equal(event.data.clientIp, '127.0.0.4');
    const completed = (await gateway.requestEvents()).filter(
      (e) => e.type === 'RequestCompleted' && e.data.clientIp.startsWith('198.51.100.'),
    );
    assert.equal(completed.length, 0, 'the spoofed addresses were never recorded');
  });

  it('a short real period renews the budget, with one LimitReset per period', async () => {
    const client = openai('short');
    const spend = async () => {
      let served = 0;
      for (let i = 0; i < 10; i++) {
        try {
          await ask(client);
          served++;
        } catch (error) {
          assert.ok(error instanceof OpenAI.RateLimitError, String(error));
          return served;
        }
      }
      return served;
    };
    // Start right after a 5 s boundary so both spends fit in one period.
    await new Promise((r) => setTimeout(r, 5000 - (Date.now() % 5000) + 50));
    const first = await spend();
    assert.ok(first >= 1 && first < 10);
    await new Promise((r) => setTimeout(r, 5000 - (Date.now() % 5000) + 50));
    const second = await spend();
    assert.ok(second >= 1, 'the next period has its budget again');
    const resets = (await gateway.allEvents()).filter(
      (e) => e.type === 'LimitReset' && e.data.limit === 'budget_usd' && e.data.scope === 'proxy-key',
    );
    // Per key: the day's budgets of the other keys start their periods at the same instant.
    const starts = resets.map((e) =>
      e.type === 'LimitReset' ? `${e.data.scopeId} ${e.data.periodStart}` : '',
    );
    assert.equal(new Set(starts).size, starts.length, 'one LimitReset per key and period');
    assert.ok(starts.length >= 2);
  });

  it('limits set through the admin API apply to the next request', async () => {
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${gateway.url}/admin/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const keys = (await (await admin('GET', '/orgs/acme/proxy-keys?limit=200')).json()) as {
      items: Array<{ id: string; name: string }>;
    };
    const api = keys.items.find((k) => k.name === 'api')!;
    const client = openai('api');
    await ask(client);
    const set = await admin('PUT', `/orgs/acme/policies/proxy-key/${api.id}`, {
      limits: { models: ['gpt-4.1-mini'] },
    });
    assert.equal(set.status, 200, await set.text());
    await new Promise((r) => setTimeout(r, 100)); // the data plane's registry follows the log
    const refused = await ask(client).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
    const cleared = await admin('PUT', `/orgs/acme/policies/proxy-key/${api.id}`, { limits: {} });
    assert.equal(cleared.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    await ask(client);
    const other = await admin('PUT', '/orgs/acme/policies/proxy-key/not-a-key', { limits: { rpm: 1 } });
    assert.equal(other.status, 404);
  });

  it('a Responses prompt with a photo is held at its image tokens, not at the text of its base64', async () => {
    // A PNG header for 1024 x 1024, then 300 KB of a photo's bytes: ~100k tokens read as text,
    // 100 USD at this org's price; as an image (2,833 tokens at low detail) under 3 USD.
    const header = Buffer.from('89504e470d0a1a0a0000000d4948445200000400000004000806000000', 'hex');
    const photo = `data:image/png;base64,${Buffer.concat([header, randomBytes(225_000)]).toString('base64')}`;
    const answer = await openai('photo').responses.create({
      model: 'gpt-4o-mini',
      max_output_tokens: 64,
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'what is in this photo?' },
            { type: 'input_image', image_url: photo, detail: 'low' },
          ],
        },
      ],
    });
    assert.equal(answer.status, 'completed');
  });
});
