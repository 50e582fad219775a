import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-limithdr-abcdefghijklmnopqrstuvwxyz0123456';
const ADMIN_TOKEN = randomBytes(32).toString('base64url');

/** A reset as Go's `time.Duration.String()` writes it (`20ms`, `59.5s`, `1m15.5s`), as OpenAI does. */
function isGoDuration(text: string | null | undefined): boolean {
  if (!text) return false;
  const ms = /^(\d+)ms$/.exec(text);
  if (ms) return Number(ms[1]) < 1000;
  const parts = /^(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)s$/.exec(text);
  if (!parts) return false;
  const [, hours, minutes, seconds] = parts;
  // Go writes minutes once there is one (`1m0s`, never `60s`), and hours the same way.
  if (Number(seconds) >= 60 || (minutes !== undefined && Number(minutes) >= 60)) return false;
  return hours === undefined || minutes !== undefined;
}

const OPENAI_NAMES = ['limit', 'remaining', 'reset'].flatMap((what) =>
  ['requests', 'tokens'].map((unit) => `x-ratelimit-${what}-${unit}`),
);
const ANTHROPIC_NAMES = ['requests', 'tokens'].flatMap((unit) =>
  ['limit', 'remaining', 'reset'].map((what) => `anthropic-ratelimit-${unit}-${what}`),
);

/**
 * Kordon's own rpm and tpm, told to each dialect in its provider's names and formats, with the
 * official SDKs reading them; the provider's own rate-limit headers never reach the caller.
 */
describe("Kordon's rate-limit headers in the caller's dialect", () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

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
        proxyKeys:
          - { name: oai, limits: { rpm: 2, tpm: 100000 } }
          - { name: claude, limits: { rpm: 2, tpm: 100000 } }
          - { name: spent, limits: { budget: { usd: 0.05, period: 1d } } }
          - { name: spentrpm, limits: { rpm: 10, tpm: 100000, budget: { usd: 0.05, period: 1d } } }
          - { name: tpmoai, limits: { rpm: 10, tpm: 1000 } }
          - { name: tpmclaude, limits: { rpm: 10, tpm: 1000 } }
          - { name: free }
`;

  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    gateway = await startKordonUnderTest(config(mock.url), { UPSTREAM_KEY, KORDON_ADMIN_TOKEN: ADMIN_TOKEN });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const key = (name: string) => gateway.proxyKeys.get(`dev@acme.test--${name}`)!;
  const openai = (name: string) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(name), maxRetries: 0 });
  const anthropic = (name: string, maxRetries = 0) =>
    new Anthropic({ baseURL: gateway.url, apiKey: key(name), maxRetries });
  const chat = (client: OpenAI) =>
    client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 16,
    });
  const message = (client: Anthropic) =>
    client.messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });

  it('OpenAI callers: x-ratelimit-* with Go durations, on the answer and on the 429', async () => {
    const client = openai('oai');
    const { response } = await chat(client).withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.equal(response.headers.get('x-ratelimit-limit-tokens'), '100000');
    for (const unit of ['requests', 'tokens']) {
      const reset = response.headers.get(`x-ratelimit-reset-${unit}`);
      assert.ok(isGoDuration(reset), `x-ratelimit-reset-${unit}: ${reset}`);
    }
    for (const name of ANTHROPIC_NAMES) assert.equal(response.headers.get(name), null, name);
    await chat(client);
    const refused = await chat(client).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.equal(refused.headers?.get('x-ratelimit-remaining-requests'), '0');
    // The full set, as OpenAI sends on its 429s: the tokens left beside the requests.
    assert.equal(refused.headers?.get('x-ratelimit-limit-tokens'), '100000');
    const tokensLeft = Number(refused.headers?.get('x-ratelimit-remaining-tokens'));
    assert.ok(tokensLeft > 99_000 && tokensLeft < 100_000, `x-ratelimit-remaining-tokens: ${tokensLeft}`);
    for (const unit of ['requests', 'tokens']) {
      const reset = refused.headers?.get(`x-ratelimit-reset-${unit}`);
      assert.ok(isGoDuration(reset), `x-ratelimit-reset-${unit}: ${reset}`);
    }
    // A minute's rate clears in seconds: the SDKs keep their retry advice.
    assert.ok(Number(refused.headers?.get('retry-after')) >= 1);
    assert.equal(refused.headers?.get('x-should-retry'), null);
  });

  it('Anthropic callers: anthropic-ratelimit-* with RFC 3339 resets, on the answer and on the 429', async () => {
    const client = anthropic('claude');
    const before = Date.now();
    const { response } = await message(client).withResponse();
    for (const name of OPENAI_NAMES) assert.equal(response.headers.get(name), null, name);
    assert.equal(response.headers.get('anthropic-ratelimit-requests-limit'), '2');
    assert.equal(response.headers.get('anthropic-ratelimit-requests-remaining'), '1');
    assert.equal(response.headers.get('anthropic-ratelimit-tokens-limit'), '100000');
    for (const unit of ['requests', 'tokens']) {
      const reset = response.headers.get(`anthropic-ratelimit-${unit}-reset`) ?? '';
      assert.match(reset, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `anthropic-ratelimit-${unit}-reset`);
      const at = Date.parse(reset);
      // A one-minute sliding window is whole again within two minutes.
      assert.ok(at > before && at <= Date.now() + 121_000, reset);
    }
    await message(client);
    const refused = await message(client).catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.RateLimitError, String(refused));
    assert.equal(refused.headers?.get('anthropic-ratelimit-requests-remaining'), '0');
    assert.ok(Date.parse(refused.headers?.get('anthropic-ratelimit-requests-reset') ?? '') > before);
    // The full set, as Anthropic sends on its 429s: the tokens left beside the requests.
    assert.equal(refused.headers?.get('anthropic-ratelimit-tokens-limit'), '100000');
    const tokensLeft = Number(refused.headers?.get('anthropic-ratelimit-tokens-remaining'));
    assert.ok(
      tokensLeft > 99_000 && tokensLeft < 100_000,
      `anthropic-ratelimit-tokens-remaining: ${tokensLeft}`,
    );
    assert.ok(Date.parse(refused.headers?.get('anthropic-ratelimit-tokens-reset') ?? '') > before);
    for (const name of OPENAI_NAMES) assert.equal(refused.headers?.get(name), null, name);
    assert.ok(Number(refused.headers?.get('retry-after')) >= 1);
    assert.equal(refused.headers?.get('x-should-retry'), null);
  });

  it('a tpm refusal carries the requests headers too, in both dialects, the refused request counted in neither', async () => {
    // About 700 tokens of prompt, as the provider counts them: most of the key's tpm of 1,000.
    const long = 'word '.repeat(560);
    const served = await openai('tpmoai')
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: long }],
        max_tokens: 16,
      })
      .withResponse();
    const used = served.data.usage?.total_tokens ?? 0;
    assert.ok(used > 600 && used < 1000, `the first request used ${used} tokens`);
    // 400 more would fit in the tpm alone, not beside what the first used.
    const big = (client: OpenAI) =>
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 400,
      });
    const refused = await big(openai('tpmoai')).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.equal((refused.error as { type?: string } | undefined)?.type, 'tokens');
    const headers = refused.headers;
    for (const name of OPENAI_NAMES) assert.notEqual(headers?.get(name), null, name);
    for (const name of ANTHROPIC_NAMES) assert.equal(headers?.get(name), null, name);
    assert.equal(headers?.get('x-ratelimit-limit-tokens'), '1000');
    assert.equal(headers?.get('x-ratelimit-remaining-tokens'), String(1000 - used));
    assert.equal(headers?.get('x-ratelimit-limit-requests'), '10');
    // One request served; the refused one takes no place under the rpm.
    assert.equal(headers?.get('x-ratelimit-remaining-requests'), '9');
    for (const unit of ['requests', 'tokens']) {
      const reset = headers?.get(`x-ratelimit-reset-${unit}`);
      assert.ok(isGoDuration(reset), `x-ratelimit-reset-${unit}: ${reset}`);
    }
    assert.ok(Number(headers?.get('retry-after')) >= 1);
    assert.equal(headers?.get('x-should-retry'), null);
    const again = await big(openai('tpmoai')).catch((error: unknown) => error);
    assert.ok(again instanceof OpenAI.RateLimitError, String(again));
    assert.equal(again.headers?.get('x-ratelimit-remaining-requests'), '9');
    assert.equal(again.headers?.get('x-ratelimit-remaining-tokens'), String(1000 - used));

    // Anthropic's names on its own key.
    const before = Date.now();
    const first = await anthropic('tpmclaude')
      .messages.create({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: long }] })
      .withResponse();
    const claudeUsed = first.data.usage.input_tokens + first.data.usage.output_tokens;
    assert.ok(claudeUsed > 600 && claudeUsed < 1000, `the first message used ${claudeUsed} tokens`);
    const claudeRefused = await anthropic('tpmclaude')
      .messages.create({ model: 'gpt-4o-mini', max_tokens: 400, messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    assert.ok(claudeRefused instanceof Anthropic.RateLimitError, String(claudeRefused));
    const claude = claudeRefused.headers;
    for (const name of ANTHROPIC_NAMES) assert.notEqual(claude?.get(name), null, name);
    for (const name of OPENAI_NAMES) assert.equal(claude?.get(name), null, name);
    assert.equal(claude?.get('anthropic-ratelimit-tokens-limit'), '1000');
    assert.equal(claude?.get('anthropic-ratelimit-tokens-remaining'), String(1000 - claudeUsed));
    assert.equal(claude?.get('anthropic-ratelimit-requests-limit'), '10');
    assert.equal(claude?.get('anthropic-ratelimit-requests-remaining'), '9');
    for (const unit of ['requests', 'tokens']) {
      const reset = claude?.get(`anthropic-ratelimit-${unit}-reset`) ?? '';
      assert.match(reset, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `anthropic-ratelimit-${unit}-reset`);
      assert.ok(Date.parse(reset) > before - 1000, reset);
    }
  });

  it("a spent budget tells both SDKs not to retry: the Anthropic SDK would sleep its Retry-After's hours", async () => {
    const spend = anthropic('spent');
    let refused: unknown;
    for (let i = 0; i < 10 && !refused; i++)
      refused = await message(spend).then(
        () => undefined,
        (error) => error,
      );
    assert.ok(refused instanceof Anthropic.RateLimitError, String(refused));
    assert.ok(Number(refused.headers?.get('retry-after')) > 60, 'the period ends later than a minute');
    assert.equal(refused.headers?.get('x-should-retry'), 'false');
    const events = (await gateway.requestEvents()).length;
    const startedAt = Date.now();
    const again = await message(anthropic('spent', 2)).catch((error: unknown) => error);
    assert.ok(again instanceof Anthropic.RateLimitError, String(again));
    assert.ok(Date.now() - startedAt < 5000, 'no retry slept');
    assert.equal((await gateway.requestEvents()).length, events + 1, 'one request, one refusal');
  });

  it('a spent budget`s refusal carries the rate-limit headers too, the refused requests counted in no rate', async () => {
    let served = 0;
    let refused: unknown;
    for (let i = 0; i < 8 && !refused; i++)
      refused = await chat(openai('spentrpm')).then(
        () => {
          served++;
          return undefined;
        },
        (error) => error,
      );
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.ok(served >= 1, 'the budget held a request first');
    assert.equal((refused.error as { code?: string } | undefined)?.code, 'insufficient_quota');
    const headers = refused.headers;
    assert.equal(headers?.get('x-ratelimit-limit-requests'), '10');
    // The refused request takes no place under the rpm: what the served ones left.
    assert.equal(headers?.get('x-ratelimit-remaining-requests'), String(10 - served));
    assert.equal(headers?.get('x-ratelimit-limit-tokens'), '100000');
    assert.ok(Number(headers?.get('x-ratelimit-remaining-tokens')) > 0);
    for (const unit of ['requests', 'tokens']) {
      const reset = headers?.get(`x-ratelimit-reset-${unit}`);
      assert.ok(isGoDuration(reset), `x-ratelimit-reset-${unit}: ${reset}`);
    }
    for (const name of ANTHROPIC_NAMES) assert.equal(headers?.get(name), null, name);
    // Retry-After and x-should-retry are the budget's, as before.
    assert.ok(Number(headers?.get('retry-after')) > 60, 'the period ends later than a minute');
    assert.equal(headers?.get('x-should-retry'), 'false');

    // The same key in Anthropic's dialect: its names, and still nothing counted for a refusal.
    const before = Date.now();
    const again = await message(anthropic('spentrpm')).catch((error: unknown) => error);
    assert.ok(again instanceof Anthropic.RateLimitError, String(again));
    assert.equal(again.headers?.get('anthropic-ratelimit-requests-limit'), '10');
    assert.equal(again.headers?.get('anthropic-ratelimit-requests-remaining'), String(10 - served));
    assert.equal(again.headers?.get('anthropic-ratelimit-tokens-limit'), '100000');
    for (const unit of ['requests', 'tokens']) {
      const reset = again.headers?.get(`anthropic-ratelimit-${unit}-reset`) ?? '';
      assert.match(reset, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `anthropic-ratelimit-${unit}-reset`);
      assert.ok(Date.parse(reset) > before - 1000, reset);
    }
    for (const name of OPENAI_NAMES) assert.equal(again.headers?.get(name), null, name);
    assert.ok(Number(again.headers?.get('retry-after')) > 60);
    assert.equal(again.headers?.get('x-should-retry'), 'false');
  });

  it("the provider's own rate-limit headers are not passed on", async () => {
    const { response } = await chat(openai('free')).withResponse();
    for (const name of [...OPENAI_NAMES, ...ANTHROPIC_NAMES])
      assert.equal(response.headers.get(name), null, name);
    const viaAnthropic = await message(anthropic('free')).withResponse();
    for (const name of [...OPENAI_NAMES, ...ANTHROPIC_NAMES])
      assert.equal(viaAnthropic.response.headers.get(name), null, name);
  });
});
