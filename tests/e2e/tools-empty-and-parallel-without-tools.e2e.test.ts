/**
 * `tools: []` and the parallel-call switch with no tools, sent with the official SDKs through
 * Kordon. OpenAI refuses both (400 `empty_array` naming `tools`; 400 naming
 * `parallel_tool_calls`), Claude any `tool_choice` without tools, where its
 * `disable_parallel_tool_use` lives; the mocks answer as they do. A request translated for
 * another dialect carries neither, so what the caller's own provider would answer is answered;
 * a request of the provider's own dialect goes as sent, and the caller hears its provider's 400.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { MockServer } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { startThreeDialects, type ThreeDialects } from './support/three-dialects.js';

const OPENAI_KEY = 'sk-proj-emptytoolsabcdefghijklmnopqrstuvwxyz01';
const ANTHROPIC_KEY = 'sk-ant-api03-emptytoolsabcdefghijklmnopqrstu';
const GEMINI_KEY = 'AIzaSyEmptyToolsabcdefghijklmnopqrstuvw';

const question = [{ role: 'user' as const, content: 'Weather in Paris?' }];
const TOOL_FIELDS = ['tools', 'tool_choice', 'parallel_tool_calls', 'toolConfig'];

describe('tools: [] and parallel tool calls without tools, through Kordon', () => {
  let kordon: ThreeDialects;
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let geminiMock: MockServer;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    kordon = await startThreeDialects({ openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY, gemini: GEMINI_KEY });
    ({ openaiMock, anthropicMock, geminiMock } = kordon);
    openai = new OpenAI({ baseURL: `${kordon.gateway.url}/v1`, apiKey: kordon.proxyKey, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: kordon.gateway.url, apiKey: kordon.proxyKey, maxRetries: 0 });
  });
  after(async () => {
    await kordon?.stop();
  });

  const clear = () => {
    openaiMock.clearRequests();
    anthropicMock.clearRequests();
    geminiMock.clearRequests();
  };
  /** The tool fields of the one body the mock got (none: the translation dropped them all). */
  const toolFieldsOfOnlyRequest = (mock: MockServer) => {
    assert.equal(mock.requests.length, 1);
    const body = mock.requests[0]?.body as Record<string, unknown>;
    return Object.keys(body).filter((key) => TOOL_FIELDS.includes(key));
  };
  const textOf = (message: Anthropic.Message) =>
    message.content[0]?.type === 'text' ? message.content[0].text : undefined;

  it('Anthropic SDK to a GPT model: tools: [] is answered, no tools sent', async () => {
    clear();
    const answer = await anthropic.messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 64,
      messages: question,
      tools: [],
    });
    assert.equal(textOf(answer), 'Mock reply: Weather in Paris?');
    assert.deepEqual(toolFieldsOfOnlyRequest(openaiMock), []);
  });

  it('Anthropic SDK to a GPT model, streamed: tools: [] is answered, no tools sent', async () => {
    clear();
    const answer = await anthropic.messages
      .stream({ model: 'gpt-4o-mini', max_tokens: 64, messages: question, tools: [] })
      .finalMessage();
    assert.equal(textOf(answer), 'Mock reply: Weather in Paris?');
    assert.deepEqual(toolFieldsOfOnlyRequest(openaiMock), []);
  });

  it('Anthropic SDK to a GPT model: tools: [] with auto and disable_parallel_tool_use sends no parallel_tool_calls', async () => {
    clear();
    const answer = await anthropic.messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 64,
      messages: question,
      tools: [],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
    });
    assert.equal(textOf(answer), 'Mock reply: Weather in Paris?');
    assert.deepEqual(toolFieldsOfOnlyRequest(openaiMock), []);
  });

  it('Anthropic SDK to Claude as sent: tools: [] alone is answered', async () => {
    clear();
    const answer = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: question,
      tools: [],
    });
    assert.equal(textOf(answer), 'Mock reply: Weather in Paris?');
  });

  it("Anthropic SDK to Claude as sent: tool_choice without tools is Claude's own 400", async () => {
    clear();
    const refused = await anthropic.messages
      .create({
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        messages: question,
        tool_choice: { type: 'auto' },
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.deepEqual((refused.error as { error?: unknown }).error, {
      type: 'invalid_request_error',
      message: 'tool_choice may only be specified while providing tools.',
    });
    assert.equal(anthropicMock.requests.length, 1);
  });

  for (const parallel_tool_calls of [false, true]) {
    it(`OpenAI SDK to Claude: parallel_tool_calls ${parallel_tool_calls} without tools is answered, no tool_choice sent`, async () => {
      clear();
      const answer = await openai.chat.completions.create({
        model: 'claude-sonnet-4-5',
        messages: question,
        parallel_tool_calls,
      });
      assert.match(answer.choices[0]?.message.content ?? '', /Weather in Paris\?/);
      assert.deepEqual(toolFieldsOfOnlyRequest(anthropicMock), []);
    });

    it(`OpenAI SDK to Gemini: parallel_tool_calls ${parallel_tool_calls} without tools is answered, no toolConfig sent`, async () => {
      clear();
      const answer = await openai.chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: question,
        parallel_tool_calls,
      });
      assert.match(answer.choices[0]?.message.content ?? '', /Weather in Paris\?/);
      assert.deepEqual(toolFieldsOfOnlyRequest(geminiMock), []);
    });
  }

  it('OpenAI SDK to Claude, streamed: parallel_tool_calls false without tools is answered', async () => {
    clear();
    const stream = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: question,
      parallel_tool_calls: false,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.match(text, /Weather in Paris\?/);
    assert.deepEqual(toolFieldsOfOnlyRequest(anthropicMock), []);
  });

  it("OpenAI SDK to a GPT model as sent: parallel_tool_calls without tools is OpenAI's own 400", async () => {
    clear();
    const refused = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: question, parallel_tool_calls: false })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'parallel_tool_calls');
    assert.equal(
      refused.message,
      "400 Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
    );
    assert.equal(openaiMock.requests.length, 1);
  });

  it("OpenAI SDK to a GPT model as sent: tools: [] is OpenAI's own 400, code empty_array", async () => {
    clear();
    const refused = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: question, tools: [] })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'tools');
    assert.equal(refused.code, 'empty_array');
    assert.equal(openaiMock.requests.length, 1);
  });
});
