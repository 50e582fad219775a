/**
 * OpenAI's `tool_choice` forms `allowed_tools` (only the tools listed may be called, `auto` or
 * `required`, while `tools` stays whole) and `{type: "custom", custom: {name}}`, sent with the
 * official `openai` SDK through Kordon: to a GPT model they go as sent; to a Claude model
 * `allowed_tools` is the tools cut to the allowed ones with `tool_choice` auto or any, and a custom
 * tool named is refused with a 400 naming `tool_choice` before Claude is asked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-allowedtoolsabcdefghijklmnopqrstuvwxyz01';
const ANTHROPIC_KEY = 'sk-ant-api03-allowedtoolsabcdefghijklmnopqrstu';

const tool = (name: string): OpenAI.ChatCompletionFunctionTool => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: { city: { type: 'string' } } } },
});
const TOOLS = [tool('get_weather'), tool('get_time'), tool('get_news')];
const allowed = (mode: 'auto' | 'required', names: string[]): OpenAI.ChatCompletionAllowedToolChoice => ({
  type: 'allowed_tools',
  allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) },
});

describe('tool_choice allowed_tools and custom through Kordon', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let gateway: KordonUnderTest;
  let client: OpenAI;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "${OPENAI_KEY}" }]
      - name: anthropic
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-sonnet-5-5]
        keys: [{ name: k1, secret: "${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
    client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await gateway?.stop();
    await openaiMock?.close();
    await anthropicMock?.close();
  });

  it('allowed_tools reaches a GPT model as sent, with every tool, and the model keeps to it', async () => {
    openaiMock.clearRequests();
    const choice = allowed('auto', ['get_weather', 'get_news']);
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Please call get_weather Paris' }],
      tools: TOOLS,
      tool_choice: choice,
    });
    const call = answer.choices[0]?.message.tool_calls?.[0];
    assert.equal(call?.type === 'function' ? call.function.name : undefined, 'get_weather');
    const sent = openaiMock.requests.at(-1)?.body as { tool_choice?: unknown; tools?: unknown[] } | undefined;
    assert.deepEqual(sent?.tool_choice, choice);
    assert.equal(sent?.tools?.length, 3);

    // A tool outside the allowed ones is not called (the mock keeps to it as the API does).
    const outside = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Please call get_time Paris' }],
      tools: TOOLS,
      tool_choice: choice,
    });
    assert.equal(outside.choices[0]?.message.tool_calls, undefined);
    assert.equal(outside.choices[0]?.finish_reason, 'stop');
  });

  it('a custom tool_choice reaches a GPT model as sent', async () => {
    openaiMock.clearRequests();
    const choice: OpenAI.ChatCompletionNamedToolChoiceCustom = { type: 'custom', custom: { name: 'sql' } };
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Count the users' }],
      tools: [{ type: 'custom', custom: { name: 'sql' } }],
      tool_choice: choice,
    });
    const sent = openaiMock.requests.at(-1)?.body as { tool_choice?: unknown } | undefined;
    assert.deepEqual(sent?.tool_choice, choice);
  });

  it('allowed_tools to a Claude model: the tools cut to the allowed ones, tool_choice any', async () => {
    anthropicMock.clearRequests();
    const answer = await client.chat.completions.create({
      model: 'claude-sonnet-5-5',
      messages: [{ role: 'user', content: 'Please call get_time Paris' }],
      tools: TOOLS,
      tool_choice: allowed('required', ['get_weather', 'get_time']),
    });
    const sent = anthropicMock.requests.at(-1)?.body as
      | { tools?: { name: string }[]; tool_choice?: unknown }
      | undefined;
    assert.deepEqual(
      sent?.tools?.map((t) => t.name),
      ['get_weather', 'get_time'],
    );
    assert.deepEqual(sent?.tool_choice, { type: 'any' });
    const call = answer.choices[0]?.message.tool_calls?.[0];
    assert.equal(call?.type === 'function' ? call.function.name : undefined, 'get_time');
    assert.equal(answer.choices[0]?.finish_reason, 'tool_calls');
  });

  it('a custom tool_choice for a Claude model is a 400 naming tool_choice, Claude not asked', async () => {
    anthropicMock.clearRequests();
    const refused = await client.chat.completions
      .create({
        model: 'claude-sonnet-5-5',
        messages: [{ role: 'user', content: 'Please call get_time Paris' }],
        tools: TOOLS,
        tool_choice: { type: 'custom', custom: { name: 'get_time' } },
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'tool_choice');
    assert.match(refused.message, /custom/);
    assert.equal(anthropicMock.requests.length, 0);
  });
});
