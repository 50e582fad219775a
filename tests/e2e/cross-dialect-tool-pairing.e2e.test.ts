/**
 * Tool conversations whose results do not answer the calls before them (a result for a call
 * that is not there, calls left unanswered before the next turn, a call id used twice, two
 * results for one call), sent with the official SDKs through Kordon to a model of another
 * dialect. The caller's own provider refuses each with a 400 in its own words (Claude's
 * `invalid_request_error` messages, OpenAI's messages and `param`; the mocks answer as they do,
 * with their sources in `openai-tool-order.ts` and `anthropic-tool-pairing.ts`); Kordon says the
 * same before any provider is asked, and records the request as refused. A request of the
 * provider's own dialect goes as sent: its provider judges it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { eventOfRequest } from './support/kordon-under-test.js';
import { startThreeDialects, type ThreeDialects } from './support/three-dialects.js';

const OPENAI_KEY = 'sk-proj-toolpairingabcdefghijklmnopqrstuvwxyz0';
const ANTHROPIC_KEY = 'sk-ant-api03-toolpairingabcdefghijklmnopqrst';
const GEMINI_KEY = 'AIzaSyToolPairingabcdefghijklmnopqrstuv';

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const question: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris and London?' };
const uses = (...ids: string[]): Anthropic.MessageParam => ({
  role: 'assistant',
  content: ids.map((id) => ({ type: 'tool_use', id, name: 'get_weather', input: { city: 'Paris' } })),
});
const results = (...ids: string[]): Anthropic.MessageParam => ({
  role: 'user',
  content: ids.map((id) => ({ type: 'tool_result', tool_use_id: id, content: 'sunny' })),
});

/** Each break of Claude's pairing, and Claude's 400 message for it. */
const CLAUDE_CASES: { name: string; messages: Anthropic.MessageParam[]; message: string }[] = [
  {
    name: 'a tool_result for a call the turn before did not make',
    messages: [question, uses('toolu_01A'), results('toolu_01Z')],
    message:
      'messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01Z. ' +
      'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
  },
  {
    name: 'calls left unanswered before the next user turn',
    messages: [question, uses('toolu_01A', 'toolu_01B'), results('toolu_01B')],
    message:
      'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01A. ' +
      'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
  },
  {
    name: 'a tool_use id used twice',
    messages: [question, uses('toolu_01A'), results('toolu_01A'), uses('toolu_01A'), results('toolu_01A')],
    message: 'messages.3.content.0: `tool_use` ids must be unique',
  },
  {
    name: 'two tool_results for one call',
    messages: [question, uses('toolu_01A'), results('toolu_01A', 'toolu_01A')],
    message:
      'messages.2.content.1: each tool_use must have a single result. Found multiple `tool_result` blocks with id: toolu_01A',
  },
];

const calls = (...ids: string[]): OpenAI.ChatCompletionMessageParam => ({
  role: 'assistant',
  content: null,
  tool_calls: ids.map((id) => ({
    id,
    type: 'function',
    function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
  })),
});
const toolMessage = (id: string): OpenAI.ChatCompletionMessageParam => ({
  role: 'tool',
  tool_call_id: id,
  content: 'sunny',
});
const ask: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris and London?' };
const functionTool: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** Each break of OpenAI's tool message order, and OpenAI's 400 for it. */
const OPENAI_CASES: {
  name: string;
  messages: OpenAI.ChatCompletionMessageParam[];
  message: string;
  param: string;
}[] = [
  {
    name: 'a tool message with no tool calls before it',
    messages: [ask, toolMessage('call_x')],
    message:
      "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
    param: 'messages.[1].role',
  },
  {
    name: 'a tool message answering a call the assistant did not make',
    messages: [ask, calls('call_a'), toolMessage('call_z')],
    message: "Invalid parameter: 'tool_call_id' of 'call_z' not found in 'tool_calls' of previous message.",
    param: 'messages.[2].tool_call_id',
  },
  {
    name: 'calls left unanswered before the next user message',
    messages: [ask, calls('call_a', 'call_b'), toolMessage('call_b'), { role: 'user', content: 'And?' }],
    message:
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. " +
      'The following tool_call_ids did not have response messages: call_a',
    param: 'messages.[3].role',
  },
  {
    name: 'two tool messages for one call',
    messages: [ask, calls('call_a'), toolMessage('call_a'), toolMessage('call_a')],
    message:
      "Invalid parameter: Duplicate value for 'tool_call_id' of 'call_a', in messages[2] and messages[3].",
    param: 'messages.[3].tool_call_id',
  },
];

describe('tool results that do not answer the calls before them, across dialects', () => {
  let kordon: ThreeDialects;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    kordon = await startThreeDialects({ openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY, gemini: GEMINI_KEY });
    openai = new OpenAI({ baseURL: `${kordon.gateway.url}/v1`, apiKey: kordon.proxyKey, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: kordon.gateway.url, apiKey: kordon.proxyKey, maxRetries: 0 });
  });
  after(async () => {
    await kordon?.stop();
  });

  const upstreamCalls = () =>
    kordon.openaiMock.requests.length +
    kordon.anthropicMock.requests.length +
    kordon.geminiMock.requests.length;

  /** The request's one event: refused before any provider was asked. */
  async function assertRejected(requestId: string | null | undefined): Promise<void> {
    const event = await eventOfRequest(kordon.gateway, requestId);
    assert.equal(event.type, 'RequestRejected', JSON.stringify(event.data));
    assert.ok(event.type === 'RequestRejected' && event.data.reason === 'invalid_request');
    const events = (await kordon.gateway.requestEvents()).filter(
      (e) => (e.data as { requestId?: string }).requestId === requestId,
    );
    assert.equal(events.length, 1);
  }

  for (const model of ['gpt-4o-mini', 'gemini-2.5-flash'])
    for (const stream of [false, true])
      for (const { name, messages, message } of CLAUDE_CASES)
        it(`Anthropic SDK to ${model}${stream ? ', streamed' : ''}: ${name} is Claude's 400, no provider asked`, async () => {
          const asked = upstreamCalls();
          const refused = await anthropic.messages
            .create({ model, max_tokens: 64, messages, tools: [weather], stream })
            .then(
              () => assert.fail('answered'),
              (error: unknown) => error,
            );
          assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
          const body = refused.error as { type: string; error: unknown; request_id: unknown };
          assert.deepEqual(body.error, { type: 'invalid_request_error', message });
          assert.equal(body.request_id, refused.requestID);
          assert.equal(upstreamCalls(), asked, 'no provider is asked');
          await assertRejected(refused.requestID);
        });

  for (const model of ['claude-sonnet-4-5', 'gemini-2.5-flash'])
    for (const stream of [false, true])
      for (const { name, messages, message, param } of OPENAI_CASES)
        it(`OpenAI SDK to ${model}${stream ? ', streamed' : ''}: ${name} is OpenAI's 400, no provider asked`, async () => {
          const asked = upstreamCalls();
          const refused = await openai.chat.completions
            .create({ model, messages, tools: [functionTool], stream })
            .then(
              () => assert.fail('answered'),
              (error: unknown) => error,
            );
          assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
          assert.equal(refused.status, 400);
          assert.deepEqual(refused.error, { message, type: 'invalid_request_error', param, code: null });
          assert.equal(upstreamCalls(), asked, 'no provider is asked');
          await assertRejected(refused.requestID);
        });

  it("OpenAI SDK to Claude: calls that share an id (GPT takes them, Claude refuses) are refused naming the call's id, no provider asked", async () => {
    const asked = upstreamCalls();
    const refused = await openai.chat.completions
      .create({
        model: 'claude-sonnet-4-5',
        messages: [ask, calls('call_a', 'call_a'), toolMessage('call_a')],
        tools: [functionTool],
      })
      .then(
        () => assert.fail('answered'),
        (error: unknown) => error,
      );
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'messages[1].tool_calls[1].id');
    assert.match(refused.message, /Claude models refuse a conversation in which two tool calls have one id/);
    assert.equal(upstreamCalls(), asked);
    await assertRejected(refused.requestID);
  });

  // One tool message answers both calls: Gemini would get two function calls and one response,
  // its 400 "the number of function response parts is equal to the number of function call parts".
  it("OpenAI SDK to Gemini: calls of one message that share an id (GPT takes them) are refused naming the call's id, no provider asked", async () => {
    const asked = upstreamCalls();
    const refused = await openai.chat.completions
      .create({
        model: 'gemini-2.5-flash',
        messages: [ask, calls('call_a', 'call_a'), toolMessage('call_a')],
        tools: [functionTool],
      })
      .then(
        () => assert.fail('answered'),
        (error: unknown) => error,
      );
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'messages[1].tool_calls[1].id');
    assert.match(refused.message, /Gemini models need one result for each function call/);
    assert.equal(upstreamCalls(), asked);
    await assertRejected(refused.requestID);
  });

  it('well-formed tool threads still go through in translation, both ways', async () => {
    const claude = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [ask, calls('call_a', 'call_b'), toolMessage('call_b'), toolMessage('call_a')],
      tools: [functionTool],
    });
    assert.equal(claude.choices[0]?.finish_reason, 'stop');
    for (const model of ['gpt-4o-mini', 'gemini-2.5-flash']) {
      const answer: Anthropic.Message = await anthropic.messages.create({
        model,
        max_tokens: 64,
        messages: [question, uses('toolu_01A', 'toolu_01B'), results('toolu_01B'), results('toolu_01A')],
        tools: [weather],
      });
      assert.equal(answer.stop_reason, 'end_turn', model);
    }
  });

  it("Anthropic SDK to Claude as sent: an orphan tool_result is Claude's own 400 (the provider judges its dialect)", async () => {
    const claudeCalls = kordon.anthropicMock.requests.length;
    const refused = await anthropic.messages
      .create({
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        messages: CLAUDE_CASES[0]!.messages,
        tools: [weather],
      })
      .then(
        () => assert.fail('answered'),
        (error: unknown) => error,
      );
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.equal((refused.error as { error: { message: string } }).error.message, CLAUDE_CASES[0]!.message);
    assert.equal(kordon.anthropicMock.requests.length, claudeCalls + 1, 'Claude was asked');
  });

  it("OpenAI SDK to GPT as sent: a duplicate tool message is OpenAI's own 400 (the provider judges its dialect)", async () => {
    const gptCalls = kordon.openaiMock.requests.length;
    const refused = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: OPENAI_CASES[3]!.messages, tools: [functionTool] })
      .then(
        () => assert.fail('answered'),
        (error: unknown) => error,
      );
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.message.includes(OPENAI_CASES[3]!.message), true, refused.message);
    assert.equal(refused.param, OPENAI_CASES[3]!.param);
    assert.equal(kordon.openaiMock.requests.length, gptCalls + 1, 'GPT was asked');
  });
});
