/**
 * A `tool_choice` naming a tool the request does not declare, sent with the official SDKs
 * through Kordon to a provider of another dialect: refused with a 400 in the caller's dialect,
 * worded as the caller's provider words it, and no provider is asked. Without the check, Claude
 * and Gemini refused it in their own words (naming a field of the translated body), and GigaChat
 * and YandexGPT, or any of them when no tools were sent, answered without the tool asked for.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  type MockServer,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from '@kordon/mock-providers';
import OpenAI from 'openai';
import { eventOfRequest, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-namedchoiceabcdefghijklmnopqrstuvwxyz01';
const ANTHROPIC_KEY = 'sk-ant-api03-namedchoiceabcdefghijklmnopqrstu';
const GEMINI_KEY = 'AIzaSyNamedChoiceabcdefghijklmnopqrstuv';

const tool = (name: string): OpenAI.ChatCompletionFunctionTool => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: { city: { type: 'string' } } } },
});
const TOOLS = [tool('get_weather'), tool('get_time')];
const named = (name: string): OpenAI.ChatCompletionNamedToolChoice => ({
  type: 'function',
  function: { name },
});
const question = [{ role: 'user' as const, content: 'Weather in Paris?' }];

describe('tool_choice naming an undeclared tool, translated, through Kordon', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let geminiMock: MockServer;
  /** Stands in for YandexGPT: every request it gets is counted. */
  let yandex: Server;
  let yandexRequests = 0;
  let gateway: KordonUnderTest;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    geminiMock = await startGeminiMock({ keys: [GEMINI_KEY] });
    yandex = createServer((_req, res) => {
      yandexRequests += 1;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not expected"}}');
    });
    await new Promise<void>((resolve) => yandex.listen(0, '127.0.0.1', resolve));
    const yandexUrl = `http://127.0.0.1:${(yandex.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: anthropic
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
      - name: google
        type: gemini
        baseUrl: ${geminiMock.url}
        models: [gemini-2.5-flash]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
      - name: yandex
        type: yandexgpt
        baseUrl: ${yandexUrl}
        folderId: b1gfolder
        models: [yandexgpt/latest]
        keys: [{ name: k1, secret: "AQVNyandexkeyabcdefghijklmnop" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY },
    );
    const key = gateway.proxyKeys.get('dev@acme.test--dev')!;
    openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gateway.url, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await gateway?.stop();
    await openaiMock?.close();
    await anthropicMock?.close();
    await geminiMock?.close();
    await new Promise((resolve) => yandex?.close(resolve));
  });

  const upstreamRequests = () =>
    openaiMock.requests.length + anthropicMock.requests.length + geminiMock.requests.length + yandexRequests;
  const clear = () => {
    openaiMock.clearRequests();
    anthropicMock.clearRequests();
    geminiMock.clearRequests();
    yandexRequests = 0;
  };

  for (const model of ['claude-sonnet-4-5', 'gemini-2.5-flash', 'yandexgpt/latest']) {
    it(`OpenAI SDK to ${model}: a function not in tools is a BadRequestError as OpenAI's, no call`, async () => {
      clear();
      const refused = await openai.chat.completions
        .create({ model, messages: question, tools: TOOLS, tool_choice: named('get_stock') })
        .catch((error: unknown) => error);
      assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
      assert.equal(refused.param, 'tool_choice');
      assert.equal(refused.type, 'invalid_request_error');
      assert.equal(
        (refused.error as { message?: string }).message,
        "Invalid value for 'tool_choice': no function named 'get_stock' was specified in the 'tools' parameter.",
      );
      assert.equal(upstreamRequests(), 0);
    });
  }

  it('OpenAI SDK to Claude: a function named with no tools is refused, not dropped', async () => {
    clear();
    const refused = await openai.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: question, tool_choice: named('get_stock') })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'tool_choice');
    assert.match(refused.message, /'tool_choice' is only allowed when 'tools' are specified.*'get_stock'/);
    assert.equal(upstreamRequests(), 0);
  });

  it('OpenAI SDK to Claude: allowed_tools naming an undeclared tool is refused naming it', async () => {
    clear();
    const refused = await openai.chat.completions
      .create({
        model: 'claude-sonnet-4-5',
        messages: question,
        tools: TOOLS,
        tool_choice: {
          type: 'allowed_tools',
          allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'get_stock' } }] },
        },
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'tool_choice.allowed_tools.tools[0].function.name');
    assert.match(refused.message, /get_stock/);
    assert.equal(upstreamRequests(), 0);
  });

  it('Anthropic SDK to a GPT model: a tool not in tools is a BadRequestError as Claude words it', async () => {
    clear();
    const refused = await anthropic.messages
      .create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: question,
        tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
        tool_choice: { type: 'tool', name: 'get_stock' },
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.deepEqual((refused.error as { error?: unknown }).error, {
      type: 'invalid_request_error',
      message: "tool_choice.name: Tool 'get_stock' not found in provided tools.",
    });
    assert.equal(upstreamRequests(), 0);
  });

  // `auto` and `none` without tools ask for the answer there is anyway: each target that refuses a
  // tool choice without tools (OpenAI: 400 "'tool_choice' is only allowed when 'tools' are
  // specified.", which the mock answers too) gets none, and the request is answered.
  for (const type of ['auto', 'none'] as const) {
    it(`Anthropic SDK to a GPT model: tool_choice ${type} without tools is answered, no tool_choice sent`, async () => {
      clear();
      const answer = await anthropic.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: question,
        tool_choice: { type },
      });
      assert.equal(
        answer.content[0]?.type === 'text' ? answer.content[0].text : undefined,
        'Mock reply: Weather in Paris?',
      );
      const sent = openaiMock.requests.at(-1)?.body as Record<string, unknown> | undefined;
      assert.equal(openaiMock.requests.length, 1);
      assert.ok(sent !== undefined && !('tool_choice' in sent) && !('tools' in sent), JSON.stringify(sent));
    });

    it(`OpenAI SDK to Claude and Gemini: tool_choice ${type} without tools is answered, none sent`, async () => {
      clear();
      for (const model of ['claude-sonnet-4-5', 'gemini-2.5-flash']) {
        const answer = await openai.chat.completions.create({ model, messages: question, tool_choice: type });
        assert.match(answer.choices[0]?.message.content ?? '', /Weather in Paris\?/, model);
      }
      const claude = anthropicMock.requests.at(-1)?.body as Record<string, unknown> | undefined;
      assert.ok(
        claude !== undefined && !('tool_choice' in claude) && !('tools' in claude),
        JSON.stringify(claude),
      );
      const gemini = geminiMock.requests.at(-1)?.body as Record<string, unknown> | undefined;
      assert.ok(
        gemini !== undefined && !('toolConfig' in gemini) && !('tools' in gemini),
        JSON.stringify(gemini),
      );
    });
  }

  it('Anthropic SDK to a GPT model: tool_choice any without tools is a 400 naming tool_choice, no call', async () => {
    clear();
    const refused = await anthropic.messages
      .create({ model: 'gpt-4o-mini', max_tokens: 64, messages: question, tool_choice: { type: 'any' } })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.deepEqual((refused.error as { error?: unknown }).error, {
      type: 'invalid_request_error',
      message: "tool_choice may only be specified while providing tools (tool_choice is 'any').",
    });
    assert.equal(upstreamRequests(), 0);
  });

  it("OpenAI SDK to a GPT model as sent: tool_choice auto without tools is OpenAI's own 400", async () => {
    // Same dialect, the body goes as written: the caller hears what OpenAI says of it.
    clear();
    const refused = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: question, tool_choice: 'auto' })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'tool_choice');
  });

  it('OpenAI SDK to YandexGPT: a custom tool named, which it cannot call, is a 400 naming tool_choice, recorded rejected', async () => {
    clear();
    const refused = await openai.chat.completions
      .create({
        model: 'yandexgpt/latest',
        messages: question,
        tools: TOOLS,
        tool_choice: { type: 'custom', custom: { name: 'get_weather' } },
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'tool_choice');
    assert.match(refused.message, /`tool_choice` names a custom tool.*YandexGPT takes only `function` tools/);
    assert.equal(upstreamRequests(), 0);
    const event = await eventOfRequest(gateway, refused.headers.get('x-request-id'));
    assert.equal(event.type, 'RequestRejected');
    if (event.type !== 'RequestRejected') throw new Error('not rejected');
    assert.deepEqual([event.data.reason, event.data.status], ['invalid_request', 400]);
  });

  it('a name that does match still reaches the provider (OpenAI SDK to Claude)', async () => {
    clear();
    const answer = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Please call get_time Paris' }],
      tools: TOOLS,
      tool_choice: named('get_time'),
    });
    const sent = anthropicMock.requests.at(-1)?.body as { tool_choice?: unknown } | undefined;
    assert.deepEqual(sent?.tool_choice, { type: 'tool', name: 'get_time' });
    const call = answer.choices[0]?.message.tool_calls?.[0];
    assert.equal(call?.type === 'function' ? call.function.name : undefined, 'get_time');
  });
});
