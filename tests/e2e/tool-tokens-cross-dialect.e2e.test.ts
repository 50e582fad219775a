/**
 * Tools offered to a GPT model through the Anthropic SDK: Kordon counts them as the function
 * tools GPT gets, never with Claude's tool-use system prompt (Anthropic adds that prompt itself,
 * for Claude models only). The same prompt is counted, and charged, the same from either SDK.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-testabcdefghijklmnopqrstuvwxyz01234567';

describe('tool tokens of a GPT prompt sent through either SDK', () => {
  let k: KordonUnderTest;
  let openaiMock: MockServer;
  let key: string;
  let budgetKey: string;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    k = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai-main
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: laptop }, { name: budget, limits: { budget: { usd: 100, period: 1d } } }]
`,
      { OPENAI_KEY_1: OPENAI_KEY },
    );
    key = k.proxyKeys.get('alice@acme.test--laptop')!;
    budgetKey = k.proxyKeys.get('alice@acme.test--budget')!;
  });
  after(async () => {
    await k?.stop();
    await openaiMock?.close();
  });

  const openai = (apiKey = key) => new OpenAI({ baseURL: `${k.url}/v1`, apiKey, maxRetries: 0 });
  const anthropic = (apiKey = key) => new Anthropic({ baseURL: k.url, apiKey, maxRetries: 0 });

  const weather = {
    name: 'get_weather',
    description: 'Weather of a city',
    input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
  };
  const weatherFunction = {
    type: 'function' as const,
    function: { name: weather.name, description: weather.description, parameters: weather.input_schema },
  };
  const prompt = [{ role: 'user' as const, content: 'what is the weather in Paris today?' }];

  it('countTokens for a GPT model counts a tool as GPT gets it, without the Claude tool-use prompt', async () => {
    const without = await anthropic().messages.countTokens({ model: 'gpt-4o-mini', messages: prompt });
    const withTool = await anthropic().messages.countTokens({
      model: 'gpt-4o-mini',
      messages: prompt,
      tools: [weather],
    });
    // OpenAI's own accounting of one small function (cookbook formula, count.ts): a few dozen
    // tokens, where the Claude prompt alone is 346.
    const toolCost = withTool.input_tokens - without.input_tokens;
    assert.ok(toolCost > 0 && toolCost < 100, `one small tool counted as ${toolCost} tokens for gpt-4o-mini`);
  });

  it('a GPT answer without usage is charged the same prompt whether the Anthropic or the OpenAI SDK sent it', async () => {
    openaiMock.enqueueScenario('no-usage');
    await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      max_completion_tokens: 50,
      messages: prompt,
      tools: [weatherFunction],
    });
    const viaOpenAI = (await k.requestEvents()).at(-1)!;
    openaiMock.enqueueScenario('no-usage');
    await anthropic().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 50,
      messages: prompt,
      tools: [weather],
    });
    const viaAnthropic = (await k.requestEvents()).at(-1)!;
    assert.ok(viaOpenAI.type === 'RequestCompleted' && viaAnthropic.type === 'RequestCompleted');
    const sent = openaiMock.requests.at(-1)!.body as { tools?: unknown[] };
    assert.equal(sent.tools?.length, 1, 'GPT got the same one tool, as an OpenAI function');
    assert.equal(
      viaAnthropic.data.usage.inputTokens,
      viaOpenAI.data.usage.inputTokens,
      'the same GPT prompt is charged the same input tokens from either SDK',
    );
  });

  it('a GPT call its caller leaves under a budget is charged the same prompt from either SDK', async () => {
    const leave = async (send: (signal: AbortSignal) => Promise<unknown>): Promise<KordonEvent> => {
      const before = (await k.requestEvents()).length;
      openaiMock.enqueueScenario('slow-first-byte=3000');
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(send(controller.signal));
      for (let waited = 0; waited < 3000; waited += 50) {
        const events = await k.requestEvents();
        const event = events.at(-1);
        if (events.length > before && event?.type === 'RequestFailed') return event;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail('no RequestFailed for the request left');
    };
    const viaOpenAI = await leave((signal) =>
      openai(budgetKey).chat.completions.create(
        { model: 'gpt-4o-mini', max_completion_tokens: 50, messages: prompt, tools: [weatherFunction] },
        { signal },
      ),
    );
    const viaAnthropic = await leave((signal) =>
      anthropic(budgetKey).messages.create(
        { model: 'gpt-4o-mini', max_tokens: 50, messages: prompt, tools: [weather] },
        { signal },
      ),
    );
    assert.ok(viaOpenAI.type === 'RequestFailed' && viaAnthropic.type === 'RequestFailed');
    assert.equal(viaOpenAI.data.errorCode, 'client_disconnected');
    assert.equal(viaAnthropic.data.errorCode, 'client_disconnected');
    assert.ok(viaOpenAI.data.usage.inputTokens > 0, 'the prompt is charged');
    assert.equal(viaAnthropic.data.usage.inputTokens, viaOpenAI.data.usage.inputTokens);
  });
});
