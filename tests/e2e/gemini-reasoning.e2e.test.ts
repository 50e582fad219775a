/**
 * Reasoning through Kordon to Gemini models on the Gemini mock, from both dialects: the official
 * openai SDK's `reasoning_effort` and @anthropic-ai/sdk's `thinking`, against a Gemini 2.5 model
 * (`thinkingBudget`) and a Gemini 3 one (`thinkingLevel`). What the mock received is the
 * thinkingConfig Google documents for the model (the mock refuses a level on 2.5 and a level
 * with a budget, as Gemini does); the thought tokens it reports (`thoughtsTokenCount`, outside
 * `candidatesTokenCount`) come back in the caller's usage (OpenAI
 * `completion_tokens_details.reasoning_tokens`, within `completion_tokens`; Anthropic
 * `output_tokens`, which counts thinking) and are recorded and priced as output in the
 * RequestCompleted event, answered whole and streamed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { countTokens, type MockServer, startGeminiMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const GEMINI_KEY = 'AIzaSyDgeminireasoningabcdefghijklmnopq';
const GEMINI_25 = 'gemini-2.5-flash';
const GEMINI_3 = 'gemini-3-flash-preview';

/** The mock's thought tokens: a budget up to 64, levels low 16 and medium 32. */
const THOUGHTS_OF_BUDGET = 64;
const THOUGHTS_LOW = 16;
const THOUGHTS_MEDIUM = 32;

describe('reasoning to Gemini models (mock), from the openai and Anthropic SDKs', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    mock = await startGeminiMock({ keys: [GEMINI_KEY] });
    // Output at $1,000,000 per million tokens, input free: a request's cost is its output tokens,
    // thoughts included, in dollars.
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      ${GEMINI_25}: { input: 0, output: 1000000 }
      ${GEMINI_3}: { input: 0, output: 1000000, currency: USD }
    providers:
      - name: google
        type: gemini
        baseUrl: ${mock.url}
        models: [${GEMINI_25}, ${GEMINI_3}]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { GEMINI_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const proxyKey = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: proxyKey(), maxRetries: 0 });
  const anthropic = () => new Anthropic({ baseURL: gateway.url, apiKey: proxyKey(), maxRetries: 0 });

  /** The thinkingConfig of the last generateContent the mock received. */
  const sentThinking = () => {
    const body = mock.requests.at(-1)?.body as
      | { generationConfig?: { thinkingConfig?: Record<string, unknown> } }
      | undefined;
    return body?.generationConfig?.thinkingConfig;
  };

  /** The last RequestCompleted event's usage and cost. */
  const lastCompleted = async () => {
    const completed = (await gateway.requestEvents()).filter((e) => e.type === 'RequestCompleted');
    const last = completed.at(-1);
    assert.ok(last?.type === 'RequestCompleted', 'a RequestCompleted event');
    return { usage: last.data.usage, cost: last.data.cost, currency: last.data.currency };
  };

  /** The event records the thoughts as reasoning within output, and prices them as output. */
  async function assertRecorded(answerText: string, thoughts: number): Promise<void> {
    const output = countTokens(answerText) + thoughts;
    const { usage, cost, currency } = await lastCompleted();
    assert.equal(usage?.reasoningTokens, thoughts);
    assert.equal(usage?.outputTokens, output);
    assert.deepEqual([cost, currency], [String(output), 'USD']);
  }

  const cases = [
    { model: GEMINI_25, effort: 'low', sent: { thinkingBudget: 1024 }, thoughts: THOUGHTS_OF_BUDGET },
    { model: GEMINI_3, effort: 'medium', sent: { thinkingLevel: 'medium' }, thoughts: THOUGHTS_MEDIUM },
  ] as const;

  for (const { model, effort, sent, thoughts } of cases) {
    it(`openai SDK, ${model}: reasoning_effort ${effort} is ${JSON.stringify(sent)}; the thoughts are reasoning_tokens`, async () => {
      const completion = await openai().chat.completions.create({
        model,
        reasoning_effort: effort,
        messages: [{ role: 'user', content: 'Think about the sky' }],
      });
      assert.deepEqual(sentThinking(), sent);
      const text = completion.choices[0]?.message.content ?? '';
      assert.equal(text, 'Mock reply: Think about the sky');
      assert.equal(completion.usage?.completion_tokens_details?.reasoning_tokens, thoughts);
      assert.equal(completion.usage?.completion_tokens, countTokens(text) + thoughts);
      await assertRecorded(text, thoughts);
    });

    it(`openai SDK, ${model}, streamed: the same in the usage chunk and the event`, async () => {
      const stream = await openai().chat.completions.create({
        model,
        reasoning_effort: effort,
        messages: [{ role: 'user', content: 'Think about the sea while streaming' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined | null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      assert.deepEqual(sentThinking(), sent);
      assert.equal(text, 'Mock reply: Think about the sea while streaming');
      assert.equal(usage?.completion_tokens_details?.reasoning_tokens, thoughts);
      assert.equal(usage?.completion_tokens, countTokens(text) + thoughts);
      await assertRecorded(text, thoughts);
    });
  }

  // budget_tokens 2,048: the budget on 2.5 Flash; on Gemini 3 the level it reaches (low).
  const thinkingCases = [
    { model: GEMINI_25, sent: { thinkingBudget: 2048 }, thoughts: THOUGHTS_OF_BUDGET },
    { model: GEMINI_3, sent: { thinkingLevel: 'low' }, thoughts: THOUGHTS_LOW },
  ] as const;
  const thinking = { type: 'enabled', budget_tokens: 2048 } as const;

  for (const { model, sent, thoughts } of thinkingCases) {
    it(`Anthropic SDK, ${model}: thinking enabled (2,048) is ${JSON.stringify(sent)}; output_tokens count the thoughts`, async () => {
      const message = await anthropic().messages.create({
        model,
        max_tokens: 4096,
        thinking,
        messages: [{ role: 'user', content: 'Think about the moon' }],
      });
      assert.deepEqual(sentThinking(), sent);
      const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
      assert.equal(text, 'Mock reply: Think about the moon');
      assert.equal(message.usage.output_tokens, countTokens(text) + thoughts);
      await assertRecorded(text, thoughts);
    });

    it(`Anthropic SDK, ${model}, streamed: the final usage counts the thoughts too`, async () => {
      const stream = anthropic().messages.stream({
        model,
        max_tokens: 4096,
        thinking,
        messages: [{ role: 'user', content: 'Think about the stars while streaming' }],
      });
      const message = await stream.finalMessage();
      assert.deepEqual(sentThinking(), sent);
      const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
      assert.equal(text, 'Mock reply: Think about the stars while streaming');
      assert.equal(message.usage.output_tokens, countTokens(text) + thoughts);
      await assertRecorded(text, thoughts);
    });
  }

  it('a Gemini 2.5 model is never sent a thinkingLevel, which Gemini refuses there', async () => {
    for (const effort of ['minimal', 'low', 'medium', 'high'] as const) {
      await openai().chat.completions.create({
        model: GEMINI_25,
        reasoning_effort: effort,
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(sentThinking()?.thinkingLevel, undefined, effort);
    }
  });
});
