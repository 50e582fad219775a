/**
 * Every hold admission takes is given back, however the request ends. A request admitted on a
 * proxy key holds a concurrency slot, a USD and a token reservation, its tokens per minute and,
 * under a cap on distinct addresses, its client address, until its one event is written
 * (`record` in http/generate.ts: settled with the usage of a RequestCompleted or RequestFailed,
 * released on a RequestRejected). A hold never given back locks the key out: the slot for good,
 * the reservations until they expire a day later.
 *
 * Each case runs one failure on a key of its own whose limits fit one request at a time (one
 * slot; budgets, tokens and tpm each a little more than one request's estimate; one address a
 * day), waits for the request's event, then sends a request that needs the whole of every
 * limit: it is admitted only if nothing of the failed request is still held.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { Agent, fetch as undiciFetch } from 'undici';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const K1 = 'sk-proj-holds1-abcdefghijklmnopqrstuvwxyz0123456';
const K2 = 'sk-proj-holds2-abcdefghijklmnopqrstuvwxyz0123456';

/**
 * What the chat requests below may produce: admission holds about 700 tokens for them (the
 * body's bytes as the prompt's bound, plus MAX_TOKENS), $0.70 at $1000 per million tokens.
 */
const MAX_TOKENS = 600;
/** A little more than one request's hold, less than two: a second hold never fits beside it. */
const ONE_AT_A_TIME = `{ concurrency: 1, tpm: 1000, budget: { usd: 1, period: 1d }, tokens: { total: 1000, period: 1d }, maxDistinctIps: { count: 1, period: 1d } }`;

const CASES = [
  'errors',
  'failover',
  'reset',
  'error-event',
  'left-stream',
  'left-waiting',
  'timeout',
  'untranslatable',
  'not-sendable',
  'not-served',
  'embeddings-error',
  'responses-error',
] as const;
type Case = (typeof CASES)[number];

describe('admission holds are given back on every way a request ends', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    // Streams go a frame every 40 ms: a caller can leave in the middle of one.
    mock = await startOpenAIMock({ keys: [K1, K2], frameDelayMs: 40 });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 1000, output: 1000 }
      mistral-small-2506: { input: 1000, output: 1000 }
      text-embedding-3-small: { input: 1000, output: 0 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini, text-embedding-3-small]
        keys: [{ name: k1, secret: "\${K1}" }, { name: k2, secret: "\${K2}" }]
        timeouts: { firstByteMs: 500 }
      - name: mistral
        type: openai-compatible
        vendor: mistral
        baseUrl: ${mock.url}/v1
        models: [mistral-small-2506]
        keys: [{ name: k1, secret: "\${K1}" }]
      - name: claude
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${K1}" }]
    users:
      - email: dev@acme.test
        proxyKeys:
${CASES.map((name) => `          - { name: ${name}, limits: ${ONE_AT_A_TIME} }`).join('\n')}
`,
      { K1, K2 },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const keyOf = (name: Case) => gateway.proxyKeys.get(`dev@acme.test--${name}`)!;

  /** A call of `path` with `body` on the key of `name`, from a loopback `address`. */
  const call = (
    name: Case,
    path: string,
    body: Record<string, unknown>,
    options: { address?: string; signal?: AbortSignal; anthropic?: boolean } = {},
  ) =>
    undiciFetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: {
        ...(options.anthropic
          ? { 'x-api-key': keyOf(name), 'anthropic-version': '2023-06-01' }
          : { authorization: `Bearer ${keyOf(name)}` }),
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
      dispatcher: new Agent({ localAddress: options.address ?? '127.0.0.1' }),
      ...(options.signal ? { signal: options.signal } : {}),
    });

  const chat = (extra: Record<string, unknown> = {}) => ({
    model: 'gpt-4o-mini',
    max_tokens: MAX_TOKENS,
    messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }],
    ...extra,
  });

  /** The request events written so far. */
  const count = async () => (await gateway.requestEvents()).length;

  /** Waits for the events after the first `before` to reach `n` more, and returns them. */
  async function eventsAfter(before: number, n = 1): Promise<KordonEvent[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const events = await gateway.requestEvents();
      if (events.length >= before + n) return events.slice(before);
      if (Date.now() > deadline) assert.fail(`${events.length - before} of ${n} request events written`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * A request that needs the whole of every limit of the key (its one slot, more than half of
   * its budgets and tpm), from `address` (another one than the failed request's shows that its
   * address is not held either): admitted, whatever the provider then does.
   */
  async function assertEverythingGivenBack(name: Case, address = '127.0.0.1') {
    const before = await count();
    const response = await call(name, '/v1/chat/completions', chat(), { address });
    const text = await response.text();
    assert.ok(
      response.status !== 429 && response.status !== 403,
      `a request needing the whole of every limit of "${name}" is admitted: ${response.status} ${text}`,
    );
    const [event] = await eventsAfter(before);
    assert.notEqual(event?.type, 'RequestRejected', JSON.stringify(event?.data));
  }

  /** Runs `during` with every provider call playing `scenario` (every key fails alike). */
  async function failing<T>(scenario: string, during: () => Promise<T>): Promise<T> {
    mock.setScenario(scenario);
    try {
      return await during();
    } finally {
      mock.setScenario(undefined);
    }
  }

  const typesAndCodes = (events: KordonEvent[]) =>
    events.map((e) => [
      e.type,
      'errorCode' in e.data ? e.data.errorCode : 'reason' in e.data ? e.data.reason : null,
    ]);

  it('a provider error on every key (RequestFailed)', async () => {
    const before = await count();
    const response = await failing('server-error', () => call('errors', '/v1/chat/completions', chat()));
    assert.ok(response.status >= 500, `${response.status} ${await response.text()}`);
    assert.deepEqual(typesAndCodes(await eventsAfter(before)), [['RequestFailed', 'upstream_unavailable']]);
    await assertEverythingGivenBack('errors');
  });

  it('a failover to another key: the first attempt holds nothing more than the request', async () => {
    const before = await count();
    // The first key asked fails, the other one answers.
    mock.enqueueScenario('server-error');
    const response = await call('failover', '/v1/chat/completions', chat());
    assert.equal(response.status, 200, await response.text());
    const events = await eventsAfter(before);
    assert.equal(events[0]?.type, 'RequestCompleted');
    assert.equal(events[0]?.type === 'RequestCompleted' && events[0].data.attempts, 2);
    await assertEverythingGivenBack('failover');
  });

  it('a stream the provider breaks after the answer began (interrupted)', async () => {
    const before = await count();
    const text = await failing('reset-mid-stream=3', async () => {
      const response = await call('reset', '/v1/chat/completions', chat({ stream: true }));
      assert.equal(response.status, 200);
      return response.text();
    });
    assert.match(text, /error/);
    assert.deepEqual(typesAndCodes(await eventsAfter(before)), [['RequestFailed', 'stream_interrupted']]);
    await assertEverythingGivenBack('reset');
  });

  it('a stream that fails on its first event, on every key (nothing reached the caller)', async () => {
    const before = await count();
    await failing('server-error, error-in-stream', async () => {
      const response = await call('error-event', '/v1/chat/completions', chat({ stream: true }));
      return response.text();
    });
    assert.equal((await eventsAfter(before))[0]?.type, 'RequestFailed');
    await assertEverythingGivenBack('error-event');
  });

  it('a caller that leaves in the middle of its stream (client_disconnected)', async () => {
    const before = await count();
    const leave = new AbortController();
    const response = await call('left-stream', '/v1/chat/completions', chat({ stream: true }), {
      signal: leave.signal,
    });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    await reader.read(); // the answer has begun
    leave.abort();
    await reader.read().catch(() => undefined);
    assert.deepEqual(typesAndCodes(await eventsAfter(before)), [['RequestFailed', 'client_disconnected']]);
    await assertEverythingGivenBack('left-stream');
  });

  it('a caller that leaves while the provider has not answered yet (client_disconnected)', async () => {
    const before = await count();
    const leave = new AbortController();
    setTimeout(() => leave.abort(), 150);
    await failing('slow-first-byte=400', () =>
      assert.rejects(call('left-waiting', '/v1/chat/completions', chat(), { signal: leave.signal })),
    );
    const events = await eventsAfter(before);
    // Gone before admission on a slow machine: refused (499), which holds nothing either.
    assert.ok(
      ['client_disconnected', 'invalid_request'].includes(String(typesAndCodes(events)[0]?.[1])),
      JSON.stringify(typesAndCodes(events)),
    );
    await new Promise((r) => setTimeout(r, 400)); // the slow answers are gone
    await assertEverythingGivenBack('left-waiting');
  });

  it('a provider that does not answer in time, on every key (upstream_timeout)', async () => {
    const before = await count();
    const response = await failing('slow-first-byte=3000', () =>
      call('timeout', '/v1/chat/completions', chat()),
    );
    assert.equal(response.status, 504, await response.text());
    assert.deepEqual(typesAndCodes(await eventsAfter(before)), [['RequestFailed', 'upstream_timeout']]);
    await assertEverythingGivenBack('timeout');
  });

  it('a body no provider of the chain can be sent in translation (RequestRejected after admission)', async () => {
    const before = await count();
    // A Claude field the OpenAI provider has no counterpart for: refused after admission.
    const response = await call(
      'untranslatable',
      '/v1/messages',
      {
        model: 'gpt-4o-mini',
        max_tokens: MAX_TOKENS,
        container: 'container_1',
        messages: [{ role: 'user', content: 'hi' }],
      },
      { anthropic: true, address: '127.0.0.71' },
    );
    assert.equal(response.status, 400, await response.text());
    assert.deepEqual(typesAndCodes(await eventsAfter(before)), [['RequestRejected', 'invalid_request']]);
    // Another address: the refused one's place under the cap of one was given back too.
    await assertEverythingGivenBack('untranslatable', '127.0.0.72');
  });

  it("a body the provider's adapter refuses before any call (RequestNotSendableError)", async () => {
    const before = await count();
    const response = await call(
      'not-sendable',
      '/v1/chat/completions',
      { ...chat(), model: 'mistral-small-2506', logprobs: true },
      { address: '127.0.0.73' },
    );
    assert.equal(response.status, 400, await response.text());
    assert.deepEqual(typesAndCodes(await eventsAfter(before)), [['RequestRejected', 'invalid_request']]);
    await assertEverythingGivenBack('not-sendable', '127.0.0.74');
  });

  it('a model no provider serves on the endpoint (embeddings of a Claude model)', async () => {
    const before = await count();
    const response = await call(
      'not-served',
      '/v1/embeddings',
      { model: 'claude-sonnet-4-5', input: 'word '.repeat(600) },
      { address: '127.0.0.75' },
    );
    assert.equal(response.status, 400, await response.text());
    assert.deepEqual(typesAndCodes(await eventsAfter(before)), [['RequestRejected', 'invalid_request']]);
    await assertEverythingGivenBack('not-served', '127.0.0.76');
  });

  it('embeddings the provider fails on every key', async () => {
    const before = await count();
    // About 600 tokens held: more than half of the key's budgets and tpm.
    const body = { model: 'text-embedding-3-small', input: 'word '.repeat(600) };
    const response = await failing('server-error', () => call('embeddings-error', '/v1/embeddings', body));
    assert.ok(response.status >= 500, `${response.status} ${await response.text()}`);
    assert.equal((await eventsAfter(before))[0]?.type, 'RequestFailed');
    const probe = await count();
    const again = await call('embeddings-error', '/v1/embeddings', body);
    assert.equal(again.status, 200, await again.text());
    await eventsAfter(probe);
  });

  it('a Responses request the provider fails on every key', async () => {
    const before = await count();
    const response = await failing('server-error', () =>
      call('responses-error', '/v1/responses', {
        model: 'gpt-4o-mini',
        input: 'one two three four five six seven eight nine ten',
        max_output_tokens: MAX_TOKENS,
      }),
    );
    assert.ok(response.status >= 500, `${response.status} ${await response.text()}`);
    assert.equal((await eventsAfter(before))[0]?.type, 'RequestFailed');
    await assertEverythingGivenBack('responses-error');
  });
});
