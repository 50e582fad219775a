import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  type MockServer,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-chainfallbackabcdefghijklmnopqrstuvw';
const ANTHROPIC_KEY = 'sk-ant-api03-chainfallbackabcdefghijklmnopq';
const GEMINI_KEY = 'AIzaSyChainfallbackabcdefghijklmnopqrstu';

/** A model name served by providers of different types, in configuration order. */
describe('fallback chains across provider types', () => {
  let k: KordonUnderTest;
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let geminiMock: MockServer;
  let key: string;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    geminiMock = await startGeminiMock({ keys: [GEMINI_KEY] });
    k = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      smart: { input: 1, output: 2, currency: USD }
      clever: { input: 1, output: 2, currency: USD }
      dual: { input: 1, output: 2, currency: USD }
    providers:
      - name: claude-first
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [dual]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY_1}" }]
      - name: oa
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [smart, dual]
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
      - name: claude
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [smart, clever]
        defaultMaxTokens: 1024
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY_1}" }]
      - name: google
        type: gemini
        baseUrl: ${geminiMock.url}
        models: [clever]
        keys: [{ name: k1, secret: "\${GEMINI_KEY_1}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { OPENAI_KEY_1: OPENAI_KEY, ANTHROPIC_KEY_1: ANTHROPIC_KEY, GEMINI_KEY_1: GEMINI_KEY },
    );
    key = k.proxyKeys.get('alice@acme.test--laptop')!;
  });
  after(async () => {
    await k?.stop();
    await openaiMock?.close();
    await anthropicMock?.close();
    await geminiMock?.close();
  });

  const openai = () => new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
  const anthropic = () => new Anthropic({ baseURL: k.url, apiKey: key, maxRetries: 0 });
  const lastEvent = async () => (await k.requestEvents()).at(-1)!;

  it('openai 503 before the first byte fails over to Claude, streamed, answer in OpenAI dialect with usage', async () => {
    openaiMock.enqueueScenario('server-error', { key: OPENAI_KEY, times: 1 });
    const stream = await openai().chat.completions.create({
      model: 'smart',
      messages: [{ role: 'user', content: 'failover stream' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.match(text, /failover stream/);
    assert.ok(usage);
    const event = await lastEvent();
    assert.ok(event.type === 'RequestCompleted', event.type);
    assert.equal(event.data.provider, 'claude');
    assert.equal(event.data.attempts, 2);
    assert.equal(event.data.usage.inputTokens, usage.prompt_tokens);
    assert.equal(event.data.usage.outputTokens, usage.completion_tokens);
    assert.equal(Number(event.data.cost), (usage.prompt_tokens * 1 + usage.completion_tokens * 2) / 1e6);
  });

  it('Claude 529 fails over to Gemini, the answer in Anthropic dialect', async () => {
    anthropicMock.enqueueScenario('overloaded', { key: ANTHROPIC_KEY, times: 1 });
    const reply = await anthropic().messages.create({
      model: 'clever',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'to gemini' }],
    });
    assert.match((reply.content[0] as { text: string }).text, /to gemini/);
    const event = await lastEvent();
    assert.ok(event.type === 'RequestCompleted', event.type);
    assert.equal(event.data.provider, 'google');
    assert.equal(event.data.usage.inputTokens, reply.usage.input_tokens);
  });

  it('a rate-limited first provider is not turned into a 400 because the next provider cannot take a field the first one serves', async () => {
    // `logprobs` is an OpenAI chat field the OpenAI provider serves; only Claude's translation refuses it.
    openaiMock.enqueueScenario('rate-limit=2', { key: OPENAI_KEY, times: 1 });
    const before = openaiMock.requests.length;
    const error = await openai()
      .chat.completions.create({
        model: 'smart',
        messages: [{ role: 'user', content: 'with logprobs' }],
        logprobs: true,
      })
      .catch((e: unknown) => e);
    assert.equal(openaiMock.requests.length - before, 1, 'the openai provider was asked (and said 429)');
    assert.ok(error instanceof OpenAI.APIError, String(error));
    // The request is valid; the only provider that can serve it is rate limited for 2 s: the
    // caller must be told so (429 + Retry-After, which the SDK retries), not that its request is invalid.
    assert.equal(error.status, 429, `got ${error.status}: ${error.message}`);
    assert.equal(error.headers?.get('retry-after'), '2');
    const event = await lastEvent();
    assert.ok(event.type === 'RequestFailed', event.type);
    assert.equal(event.data.errorCode, 'upstream_rate_limited');
  });

  it('a provider whose every key is disabled is skipped, not allowed to refuse a request the next provider serves', async () => {
    await new Promise((r) => setTimeout(r, 2_200)); // oa's key rests after the 429 above
    // claude-first's only key is refused (401): it is disabled, and the request goes on to oa.
    anthropicMock.enqueueScenario('unauthorized', { key: ANTHROPIC_KEY, times: 1 });
    const first = await openai().chat.completions.create({
      model: 'dual',
      messages: [{ role: 'user', content: 'disable claude-first' }],
    });
    assert.match(first.choices[0]!.message.content!, /disable claude-first/);
    const served = await lastEvent();
    assert.ok(served.type === 'RequestCompleted', served.type);
    assert.equal(served.data.provider, 'oa');
    // Now claude-first has no usable key; oa serves `logprobs` (an OpenAI field).
    const before = anthropicMock.requests.length;
    const reply = await openai()
      .chat.completions.create({
        model: 'dual',
        messages: [{ role: 'user', content: 'logprobs please' }],
        logprobs: true,
      })
      .catch((e: unknown) => e);
    assert.equal(anthropicMock.requests.length, before, 'no call to the disabled provider');
    assert.ok(!(reply instanceof Error), `refused: ${String(reply)}`);
    const event = await lastEvent();
    assert.ok(event.type === 'RequestCompleted', event.type);
    assert.equal(event.data.provider, 'oa');
  });
});
