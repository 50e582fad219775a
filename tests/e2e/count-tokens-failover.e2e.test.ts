/**
 * POST /v1/messages/count_tokens asks Claude's keys in turn, as a message does, through the
 * official @anthropic-ai/sdk (`maxRetries: 0`: the SDK's own retry would hide the failover). Claude
 * Code counts before many messages: one tired, overloaded, revoked or unready key must not fail
 * the count while the provider's other keys (or another provider listing the model) would answer.
 * - the first key failing (429 with Retry-After, 500, 529, 503, a first-byte timeout, a refused
 *   connection, a revoked key, a workspace not ready, URL fetching off) -> the next one counts;
 * - the caller's own body refused (Claude's 400 about the prompt) -> one call, the 400 passed on;
 * - every key failing -> the last answer, with its status and Retry-After (a workspace not ready:
 *   when the first key is back);
 * - a key answering a count with a 429 rests for counting until its Retry-After: the counts pass it
 *   over meanwhile, every key resting is a 429 at once (when the first is back) without a call, and
 *   several 429s answer the soonest Retry-After; the metrics show each count's attempt by key;
 * - a counting 429 or 5xx is not the key's messages' (the next message still goes to the first
 *   key); a revoked key is disabled for every replica, and the next message skips it.
 * Each block has a provider (and model) of its own, so that one's keys' memories leave the rest be.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, startAnthropicMock } from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const FIRST = 'sk-ant-api03-countfail-first-abcdefghijklmnopq';
const SECOND = 'sk-ant-api03-countfail-second-abcdefghijklmnop';
/** A key Claude no longer accepts (revoked in the console): the mock does not know it. */
const REVOKED = 'sk-ant-api03-countfail-revoked-abcdefghijklmno';
/** A key of a workspace still being connected to its storage. */
const NOT_READY = 'sk-ant-api03-countfail-notready-abcdefghijklmn';
/** A key of an organization whose URL fetching is off. */
const URL_OFF = 'sk-ant-api03-countfail-urloff-abcdefghijklmnop';

const IMAGE_URL = 'https://example.com/cat.png';

/** A port on 127.0.0.1 nothing listens on: a connection to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('count_tokens fails over across keys and routes', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  const anthropic = () =>
    new Anthropic({
      apiKey: gateway.proxyKeys.get('dev@acme.test--laptop')!,
      baseURL: gateway.url,
      maxRetries: 0,
    });
  const names = new Map([
    [FIRST, 'first'],
    [SECOND, 'second'],
    [NOT_READY, 'not-ready'],
    [URL_OFF, 'url-off'],
  ]);
  /** The keys the counts reached (the mock records a revoked key's call unauthenticated). */
  const keysCounting = () =>
    mock.requests
      .filter((r) => r.path === '/v1/messages/count_tokens')
      .map((r) => (r.key === undefined ? 'revoked' : (names.get(r.key) ?? '?')));
  const keysMessaging = () =>
    mock.requests.filter((r) => r.path === '/v1/messages').map((r) => names.get(r.key ?? '') ?? '?');
  const count = (model: string, content: Anthropic.MessageParam['content'] = 'hello there') =>
    anthropic().messages.countTokens({ model, messages: [{ role: 'user', content }] });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => error,
    );

  before(async () => {
    mock = await startAnthropicMock({
      keys: [FIRST, SECOND, NOT_READY, URL_OFF],
      storageNotReady: [NOT_READY],
      urlFetchDisabled: [URL_OFF],
    });
    const down = `http://127.0.0.1:${await closedPort()}`;
    // Tier 0 is asked first while usable: the failing key first, the one that answers after it.
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: claude
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-haiku-4-5]
        timeouts: { firstByteMs: 300 }
        keys:
          - { name: first, secret: "\${FIRST}", tier: 0 }
          - { name: second, secret: "\${SECOND}", tier: 1 }
      - name: claude-unreachable
        type: anthropic
        baseUrl: ${down}
        models: [claude-opus-4-6]
        keys:
          - { name: unreachable, secret: "\${FIRST}" }
      - name: claude-reachable
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-opus-4-6]
        keys:
          - { name: reachable, secret: "\${SECOND}" }
      - name: claude-revoked
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-5]
        keys:
          - { name: revoked, secret: "\${REVOKED}", tier: 0 }
          - { name: still-good, secret: "\${SECOND}", tier: 1 }
      - name: claude-storage
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-6]
        keys:
          - { name: not-ready, secret: "\${NOT_READY}", tier: 0 }
          - { name: ready, secret: "\${SECOND}", tier: 1 }
      - name: claude-not-ready-only
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-opus-4-1]
        keys:
          - { name: not-ready-alone, secret: "\${NOT_READY}" }
      - name: claude-count-rest
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-0]
        keys:
          - { name: rest-first, secret: "\${FIRST}", tier: 0 }
          - { name: rest-second, secret: "\${SECOND}", tier: 1 }
      - name: claude-count-soonest
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-opus-4-0]
        keys:
          - { name: soonest-first, secret: "\${FIRST}", tier: 0 }
          - { name: soonest-second, secret: "\${SECOND}", tier: 1 }
      - name: claude-count-mixed
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-3-7-sonnet]
        keys:
          - { name: mixed-first, secret: "\${FIRST}", tier: 0 }
          - { name: mixed-second, secret: "\${SECOND}", tier: 1 }
      - name: claude-url-off
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-opus-4-5]
        keys:
          - { name: url-off, secret: "\${URL_OFF}", tier: 0 }
          - { name: fetches, secret: "\${SECOND}", tier: 1 }
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: laptop }
`,
      { FIRST, SECOND, REVOKED, NOT_READY, URL_OFF },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.clearRequests());

  describe('the first key failing, the second counting', () => {
    for (const [scenario, what] of [
      ['server-error', '500'],
      ['overloaded', '529 overloaded'],
      ['unavailable', '503'],
      ['slow-first-byte=1500', 'a first-byte timeout'],
    ] as const) {
      it(`${what}: the count comes from the second key, and messages still go to the first`, async () => {
        mock.enqueueScenario(scenario, { key: FIRST });
        const counted = await count('claude-haiku-4-5');
        assert.ok(counted.input_tokens > 0);
        assert.deepEqual(keysCounting(), ['first', 'second']);
        // Counting is limited apart from messages: the first key was not cooled for them.
        await anthropic().messages.create({
          model: 'claude-haiku-4-5',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'hi' }],
        });
        assert.deepEqual(keysMessaging(), ['first']);
      });
    }

    it('a refused connection: the next provider listing the model counts', async () => {
      const counted = await count('claude-opus-4-6');
      assert.ok(counted.input_tokens > 0);
      assert.deepEqual(keysCounting(), ['second'], 'the unreachable provider was tried, the other counted');
    });

    it('a workspace not ready: the next key counts, and the resting key is not asked again', async () => {
      await count('claude-sonnet-4-6');
      assert.deepEqual(keysCounting(), ['not-ready', 'second']);
      mock.clearRequests();
      await count('claude-sonnet-4-6');
      assert.deepEqual(keysCounting(), ['second'], 'the workspace rests a minute');
    });

    it("URL fetching off: another organization's key counts a URL image; the first still counts text", async () => {
      const withUrl: Anthropic.MessageParam['content'] = [
        { type: 'image', source: { type: 'url', url: IMAGE_URL } },
        { type: 'text', text: 'What is this?' },
      ];
      await count('claude-opus-4-5', withUrl);
      assert.deepEqual(keysCounting(), ['url-off', 'second']);
      mock.clearRequests();
      await count('claude-opus-4-5', withUrl);
      assert.deepEqual(keysCounting(), ['second'], 'not asked again to fetch a URL');
      mock.clearRequests();
      await count('claude-opus-4-5');
      assert.deepEqual(keysCounting(), ['url-off'], 'a count without a URL still goes to it');
    });

    it('a revoked key: the next key counts, the key is disabled everywhere and the next message skips it', async () => {
      const counted = await count('claude-sonnet-4-5');
      assert.ok(counted.input_tokens > 0);
      assert.deepEqual(keysCounting(), ['revoked', 'second']);
      const events = await gateway.allEvents();
      const disabled = events.filter((e) => e.type === 'ProviderKeyDisabled');
      assert.equal(disabled.length, 1, 'reported as a message would report it');
      assert.equal((disabled[0]!.data as { upstreamStatus: number }).upstreamStatus, 401);
      mock.clearRequests();
      await anthropic().messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.deepEqual(keysMessaging(), ['second'], 'the revoked key is not asked');
    });
  });

  it("the caller's own body refused: one call only, Claude's 400 passed on", async () => {
    mock.enqueueScenario('context-overflow', { key: FIRST });
    const refused = await refusal(count('claude-haiku-4-5'));
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.equal(refused.status, 400);
    assert.equal(refused.type, 'invalid_request_error');
    assert.match(refused.message, /prompt is too long/);
    assert.deepEqual(keysCounting(), ['first'], 'no other key is sent a body Claude refused');
  });

  it("every key failing: the caller hears the last one's error, with its Retry-After", async () => {
    mock.enqueueScenario('overloaded', { key: FIRST });
    mock.enqueueScenario('server-error, retry-after=9', { key: SECOND });
    const refused = await refusal(count('claude-haiku-4-5'));
    assert.ok(refused instanceof Anthropic.APIError, String(refused));
    assert.equal(refused.status, 502, "Claude's 500, as a message's");
    assert.equal(refused.headers?.get('retry-after'), '9');
    assert.deepEqual(keysCounting(), ['first', 'second']);

    mock.clearRequests();
    mock.enqueueScenario('server-error', { key: FIRST });
    mock.enqueueScenario('overloaded', { key: SECOND });
    const overloaded = await refusal(count('claude-haiku-4-5'));
    assert.ok(overloaded instanceof Anthropic.APIError, String(overloaded));
    assert.equal(overloaded.status, 529);
    assert.equal(overloaded.type, 'overloaded_error');
    assert.deepEqual(keysCounting(), ['first', 'second']);
    // And a count after it counts again at once: nothing rested on the counting 5xx.
    mock.clearRequests();
    assert.ok((await count('claude-haiku-4-5')).input_tokens > 0);
    assert.deepEqual(keysCounting(), ['first']);
  });

  describe('a key answering a count with a 429 rests for counting alone, until its Retry-After', () => {
    const message = (model: string) =>
      anthropic().messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

    it('the next counts pass it over while the other key counts; its messages go to it; then it counts again', async () => {
      mock.enqueueScenario('rate-limit=1', { key: FIRST });
      assert.ok((await count('claude-sonnet-4-0')).input_tokens > 0);
      assert.deepEqual(keysCounting(), ['first', 'second']);
      mock.clearRequests();
      assert.ok((await count('claude-sonnet-4-0')).input_tokens > 0);
      assert.deepEqual(keysCounting(), ['second'], 'the resting key is not asked');
      // Counting is limited apart from messages: the key was not cooled for them.
      await message('claude-sonnet-4-0');
      assert.deepEqual(keysMessaging(), ['first']);
      await sleep(1_100);
      mock.clearRequests();
      assert.ok((await count('claude-sonnet-4-0')).input_tokens > 0);
      assert.deepEqual(keysCounting(), ['first'], 'back after its Retry-After');
    });

    it('two 429s: the soonest Retry-After; then, every key resting, a 429 at once without a call', async () => {
      mock.enqueueScenario('rate-limit=7', { key: FIRST });
      mock.enqueueScenario('rate-limit=30', { key: SECOND });
      const refused = await refusal(count('claude-opus-4-0'));
      assert.ok(refused instanceof Anthropic.RateLimitError, String(refused));
      assert.equal(refused.headers?.get('retry-after'), '7', 'when the first key counts again');
      assert.deepEqual(keysCounting(), ['first', 'second']);
      mock.clearRequests();
      const again = await refusal(count('claude-opus-4-0'));
      assert.ok(again instanceof Anthropic.RateLimitError, String(again));
      assert.equal(again.type, 'rate_limit_error');
      const retryAfter = Number(again.headers?.get('retry-after'));
      assert.ok(retryAfter >= 6 && retryAfter <= 7, `Retry-After ${retryAfter}: the first key's rest`);
      assert.deepEqual(keysCounting(), [], 'no key was asked');
      // Both keys rest for counting; a message goes to the first at once.
      await message('claude-opus-4-0');
      assert.deepEqual(keysMessaging(), ['first']);
    });

    it('a 5xx among the 429s is the answer (a retry may find it well), and the limited key rests', async () => {
      mock.enqueueScenario('rate-limit=30', { key: FIRST });
      mock.enqueueScenario('overloaded', { key: SECOND });
      const overloaded = await refusal(count('claude-3-7-sonnet'));
      assert.ok(overloaded instanceof Anthropic.APIError, String(overloaded));
      assert.equal(overloaded.status, 529);
      assert.deepEqual(keysCounting(), ['first', 'second']);
      mock.clearRequests();
      assert.ok((await count('claude-3-7-sonnet')).input_tokens > 0);
      assert.deepEqual(keysCounting(), ['second'], 'the limited key is passed over');
    });

    it('the metrics show each count attempt by provider key and result', async () => {
      const keyIds = new Map<string, string>();
      for (const e of await gateway.allEvents())
        if (e.type === 'ProviderKeyAdded')
          keyIds.set((e.data as { name: string }).name, (e.data as { providerKeyId: string }).providerKeyId);
      const first = keyIds.get('rest-first');
      const second = keyIds.get('rest-second');
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      /** `operation key result` -> attempts, of the provider the first test counted on. */
      const attempts: Record<string, number> = {};
      for (const [, labelText, value] of text.matchAll(
        /^kordon_upstream_attempts_total\{([^}]*)\} (\d+)$/gm,
      )) {
        const labels = Object.fromEntries(
          [...labelText!.matchAll(/([a-z_]+)="([^"]*)"/g)].map(([, name, label]) => [name, label]),
        );
        if (labels.provider !== 'claude-count-rest') continue;
        const key =
          labels.provider_key_id === first ? 'first' : labels.provider_key_id === second ? 'second' : '?';
        attempts[`${labels.operation} ${key} ${labels.result}`] = Number(value);
      }
      // The first test's counts: first 429 and second, second alone (first resting), first again;
      // its message went to the first key.
      assert.deepEqual(attempts, {
        'count_tokens first rate_limited': 1,
        'count_tokens second ok': 2,
        'count_tokens first ok': 1,
        'messages first ok': 1,
      });
      assert.ok(!text.includes(FIRST) && !text.includes(SECOND), 'no secret in a label');
    });
  });

  it("no key's workspace ready: Claude's 503 with when the key is back, then at once without a call", async () => {
    const refused = await refusal(count('claude-opus-4-1'));
    assert.ok(refused instanceof Anthropic.StorageNotReadyError, String(refused));
    assert.equal(refused.status, 503);
    const retryAfter = Number(refused.headers?.get('retry-after'));
    assert.ok(retryAfter > 50 && retryAfter <= 60, `Retry-After ${retryAfter}: the key rests a minute`);
    assert.deepEqual(keysCounting(), ['not-ready']);
    mock.clearRequests();
    const again = await refusal(count('claude-opus-4-1'));
    assert.ok(again instanceof Anthropic.StorageNotReadyError, String(again));
    assert.deepEqual(keysCounting(), [], 'the resting key is not asked');
  });
});
