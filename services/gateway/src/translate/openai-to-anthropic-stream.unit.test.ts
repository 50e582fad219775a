import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accumulateAnthropic } from './__fixtures__/accumulate.js';
import { jsonFixture, sseEvents } from './__fixtures__/sse-fixtures.js';
import { FOREIGN_REASONING_SIGNATURE } from './anthropic-messages-types.js';
import { openAIChatCompletion } from './openai-chat-types.js';
import { OPENAI_DONE } from './openai-stream-parser.js';
import { openAIToAnthropicResponse } from './responses.js';
import { openAIToAnthropicStream } from './streams.js';

function replay(events: readonly unknown[], options: Parameters<typeof openAIToAnthropicStream>[0] = {}) {
  const translator = openAIToAnthropicStream(options);
  const translated = events.flatMap((event) => translator.push(event));
  return { translator, events: translated };
}

describe('OpenAI chunks -> Anthropic stream', () => {
  it('a text stream (recorded): the full Anthropic event sequence', () => {
    const { translator, events } = replay(sseEvents('openai-text.sse'));
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'message_start',
        'content_block_start',
        ...Array(7).fill('content_block_delta'),
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    );
    assert.deepEqual(events[0], {
      type: 'message_start',
      message: {
        id: 'chatcmpl-mock000007',
        type: 'message',
        role: 'assistant',
        model: 'gpt-4o-mini',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 0,
          output_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      },
    });
    assert.deepEqual(events.at(-2), {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        input_tokens: 13,
        output_tokens: 10,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
    const message = accumulateAnthropic(events);
    assert.deepEqual(message.content, [{ type: 'text', text: 'Mock reply: Hello there, how are you?' }]);
    assert.ok(message.complete);
    assert.ok(translator.finished);
    assert.deepEqual(translator.usage, {
      inputTokens: 13,
      outputTokens: 10,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('a tool call (recorded): a tool_use block with input_json_delta fragments; means what the whole answer means', () => {
    const { events } = replay(sseEvents('openai-tool.sse'));
    assert.deepEqual(events[1], {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'tool_use', id: 'call_mock000010', name: 'get_weather', input: {} },
    });
    assert.deepEqual(events[2], {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'input_json_delta', partial_json: '{"city"' },
    });
    const streamed = accumulateAnthropic(events);
    const whole = openAIToAnthropicResponse(openAIChatCompletion.parse(jsonFixture('openai-tool.json')));
    assert.deepEqual(
      streamed.content.map((block) => (block.type === 'tool_use' ? [block.name, block.input] : block)),
      whole.content.map((block) => (block.type === 'tool_use' ? [block.name, block.input] : block)),
    );
    assert.equal(streamed.stopReason, 'tool_use');
  });

  it("a tool name shortened for OpenAI's limit starts its block under the caller's name (live and held calls)", () => {
    const toolNames = new Map([['get_weather', 'get_weather_for_a_city_named_at_length']]);
    const live = accumulateAnthropic(replay(sseEvents('openai-tool.sse'), { toolNames }).events);
    assert.equal(
      live.content[0]?.type === 'tool_use' ? live.content[0].name : undefined,
      toolNames.get('get_weather'),
    );
    const parallel = accumulateAnthropic(
      replay(sseEvents('docs-openai-parallel-tools.sse'), { toolNames }).events,
    );
    assert.deepEqual(
      parallel.content.map((block) => (block.type === 'tool_use' ? block.name : block.type)),
      [toolNames.get('get_weather'), toolNames.get('get_weather')],
    );
  });

  it("reasoning_content (DeepSeek) streams as a thinking block ended by Kordon's signature, before the tool call", () => {
    const chunk = (delta: object, finish_reason: string | null = null) => ({
      id: 'ds-1',
      model: 'deepseek-reasoner',
      choices: [{ index: 0, delta, finish_reason }],
    });
    const { events } = replay([
      chunk({ role: 'assistant', content: null, reasoning_content: 'The user wants ' }),
      chunk({ content: null, reasoning_content: 'the weather.' }),
      chunk({
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
        ],
      }),
      chunk({}, 'tool_calls'),
      OPENAI_DONE,
    ]);
    const message = accumulateAnthropic(events);
    assert.deepEqual(message.content, [
      { type: 'thinking', thinking: 'The user wants the weather.', signature: FOREIGN_REASONING_SIGNATURE },
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: {} },
    ]);
    assert.ok(message.complete);
  });

  it("Mistral's content chunks (magistral-*) stream as a thinking block, then the text", () => {
    const chunk = (delta: object, finish_reason: string | null = null) => ({
      id: 'mistral-1',
      model: 'magistral-medium-2509',
      choices: [{ index: 0, delta, finish_reason }],
    });
    const { events } = replay([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'The user ' }] }] }),
      chunk({ content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'greets me.' }] }] }),
      chunk({ content: [{ type: 'text', text: 'Hello' }] }),
      chunk({ content: '!' }),
      chunk({ content: '' }, 'stop'),
      OPENAI_DONE,
    ]);
    const message = accumulateAnthropic(events);
    assert.deepEqual(message.content, [
      { type: 'thinking', thinking: 'The user greets me.', signature: FOREIGN_REASONING_SIGNATURE },
      { type: 'text', text: 'Hello!' },
    ]);
    assert.ok(message.complete);
  });

  it('length (recorded) -> max_tokens', () => {
    assert.equal(
      accumulateAnthropic(replay(sseEvents('openai-text-length.sse')).events).stopReason,
      'max_tokens',
    );
  });

  describe("a vendor's answer cut short on its side (DeepSeek's insufficient_system_resource, OpenRouter's error): max_tokens, usage as reported", () => {
    const usage = { prompt_tokens: 12, completion_tokens: 300, total_tokens: 312 };
    const chunk = (delta: object, finish: string | null = null) => ({
      id: 'chatcmpl-s',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'deepseek-chat',
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    for (const reason of ['insufficient_system_resource', 'error']) {
      it(`${reason}, plain`, () => {
        const completion = openAIChatCompletion.parse({
          id: 'chatcmpl-x',
          object: 'chat.completion',
          created: 1,
          model: 'deepseek-chat',
          choices: [
            { index: 0, message: { role: 'assistant', content: 'The first half' }, finish_reason: reason },
          ],
          usage,
        });
        const message = openAIToAnthropicResponse(completion);
        assert.equal(message.stop_reason, 'max_tokens');
        assert.deepEqual([message.usage.input_tokens, message.usage.output_tokens], [12, 300]);
      });
      it(`${reason}, streamed (finish chunk, then the usage chunk)`, () => {
        const { translator, events } = replay([
          chunk({ role: 'assistant', content: 'The first half' }),
          chunk({ content: '' }, reason),
          { ...chunk({}), choices: [], usage },
          OPENAI_DONE,
        ]);
        assert.equal(translator.failure, undefined);
        assert.ok(translator.finished);
        assert.equal(accumulateAnthropic(events).stopReason, 'max_tokens');
        assert.deepEqual(translator.usage, { inputTokens: 12, outputTokens: 300, cachedInputTokens: 0 });
      });
    }
    it("OpenRouter's mid-stream error chunk (finish_reason error beside an error object) is still a failure", () => {
      const { translator } = replay([
        chunk({ role: 'assistant', content: 'The first half' }),
        {
          ...chunk({ content: '' }, 'error'),
          error: { code: 'server_error', message: 'Provider disconnected' },
        },
      ]);
      assert.deepEqual(translator.failure, {
        kind: 'upstream_error',
        errorType: 'server_error',
        message: 'Provider disconnected',
      });
    });
  });

  it('parallel tool calls become consecutive blocks; cached and reasoning usage normalised (docs)', () => {
    const { events, translator } = replay(sseEvents('docs-openai-parallel-tools.sse'), { model: 'gpt-4.1' });
    const message = accumulateAnthropic(events);
    assert.equal(message.model, 'gpt-4.1');
    assert.deepEqual(message.content, [
      { type: 'tool_use', id: 'call_Paris', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_Rome', name: 'get_weather', input: { city: 'Rome' } },
    ]);
    assert.deepEqual(message.usage, {
      input_tokens: 180,
      output_tokens: 140,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1920,
    });
    assert.deepEqual(translator.usage, {
      inputTokens: 2100,
      outputTokens: 140,
      cachedInputTokens: 1920,
      reasoningTokens: 64,
    });
  });

  it('text then a tool call: the text block is closed before the tool block opens', () => {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const chunk = (delta: object, finish: string | null = null) => ({
      ...base,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const { events } = replay([
      chunk({ role: 'assistant', content: 'Let me check.' }),
      chunk({
        tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      }),
      chunk({}, 'tool_calls'),
      OPENAI_DONE,
    ]);
    assert.deepEqual(
      events.map((event) => `${event.type}${'index' in event ? event.index : ''}`),
      [
        'message_start',
        'content_block_start0',
        'content_block_delta0',
        'content_block_stop0',
        'content_block_start1',
        'content_block_delta1',
        'content_block_stop1',
        'message_delta',
        'message_stop',
      ],
    );
  });

  it('interleaved argument deltas of parallel calls: each block starts, gets its deltas and stops before the next', () => {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const call = (index: number, fields: object) => ({
      ...base,
      choices: [{ index: 0, delta: { tool_calls: [{ index, ...fields }] }, finish_reason: null }],
    });
    const args = (index: number, text: string) => call(index, { function: { arguments: text } });
    const { events } = replay([
      call(0, { id: 'call_Paris', type: 'function', function: { name: 'get_weather', arguments: '' } }),
      args(0, '{"city":'),
      call(1, { id: 'call_Rome', type: 'function', function: { name: 'get_weather', arguments: '{"ci' } }),
      args(0, ' "Paris"}'),
      args(1, 'ty": "Rome"}'),
      call(2, { id: 'call_now', type: 'function', function: { name: 'get_time', arguments: '' } }),
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      OPENAI_DONE,
    ]);
    assert.deepEqual(
      events.map((event) => `${event.type}${'index' in event ? event.index : ''}`),
      [
        'message_start',
        'content_block_start0',
        'content_block_delta0',
        'content_block_delta0',
        'content_block_stop0',
        'content_block_start1',
        'content_block_delta1',
        'content_block_stop1',
        'content_block_start2',
        'content_block_stop2',
        'message_delta',
        'message_stop',
      ],
    );
    // accumulateAnthropic also checks that every delta names the open block.
    assert.deepEqual(accumulateAnthropic(events).content, [
      { type: 'tool_use', id: 'call_Paris', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_Rome', name: 'get_weather', input: { city: 'Rome' } },
      { type: 'tool_use', id: 'call_now', name: 'get_time', input: {} },
    ]);
  });

  it('arguments that cannot be an object (a live call and a held one) stream as {}, as the plain answer gives them', () => {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const call = (index: number, fields: object) => ({
      ...base,
      choices: [{ index: 0, delta: { tool_calls: [{ index, ...fields }] }, finish_reason: null }],
    });
    const args = (index: number, text: string) => call(index, { function: { arguments: text } });
    const { events } = replay([
      call(0, { id: 'call_list', type: 'function', function: { name: 'f', arguments: ' [1,' } }),
      call(1, { id: 'call_prose', type: 'function', function: { name: 'g', arguments: 'not ' } }),
      args(0, '2]'),
      args(1, 'json'),
      call(2, { id: 'call_object', type: 'function', function: { name: 'h', arguments: '{"a":' } }),
      args(2, '1}'),
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      OPENAI_DONE,
    ]);
    // The SDK parses each block's JSON: `[1,2]` is no input, `not json` no JSON at all.
    assert.deepEqual(accumulateAnthropic(events).content, [
      { type: 'tool_use', id: 'call_list', name: 'f', input: {} },
      { type: 'tool_use', id: 'call_prose', name: 'g', input: {} },
      { type: 'tool_use', id: 'call_object', name: 'h', input: { a: 1 } },
    ]);
  });

  it("parallel calls that all say index 0 (Ollama's streams) are told apart by their ids", () => {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'qwen2.5-coder:7b' };
    const call = (id: string, path: string) => ({
      ...base,
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              {
                index: 0,
                id,
                type: 'function',
                function: { name: 'file_write', arguments: `{"path":"${path}"}` },
              },
            ],
          },
          finish_reason: null,
        },
      ],
    });
    const { events } = replay([
      call('call_a', 'a.py'),
      call('call_b', 'b.py'),
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      OPENAI_DONE,
    ]);
    assert.deepEqual(accumulateAnthropic(events).content, [
      { type: 'tool_use', id: 'call_a', name: 'file_write', input: { path: 'a.py' } },
      { type: 'tool_use', id: 'call_b', name: 'file_write', input: { path: 'b.py' } },
    ]);
  });

  it("calls without an index (Gemini's OpenAI-compatible endpoint): a new id starts a call, none continues it", () => {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gemini-2.5-flash' };
    const delta = (call: object, finish: string | null = null) => ({
      ...base,
      choices: [{ index: 0, delta: { tool_calls: [call] }, finish_reason: finish }],
    });
    const fn = (name: string, args: string) => ({ type: 'function', function: { name, arguments: args } });
    const { events, translator } = replay([
      // Gemini 3's thought signature may come alone, before the call it belongs to.
      delta({ extra_content: { google: { thought_signature: 'c2lnbmF0dXJl' } } }),
      delta({ id: 'function-call-1', ...fn('get_weather', '{"location":') }),
      delta({ function: { arguments: '"Sydney"}' } }),
      delta({ id: 'function-call-2', ...fn('get_time', '{}') }, 'stop'),
      OPENAI_DONE,
    ]);
    assert.equal(translator.failure, undefined);
    const message = accumulateAnthropic(events);
    assert.deepEqual(message.content, [
      { type: 'tool_use', id: 'function-call-1', name: 'get_weather', input: { location: 'Sydney' } },
      { type: 'tool_use', id: 'function-call-2', name: 'get_time', input: {} },
    ]);
    assert.equal(message.stopReason, 'tool_use');
  });

  it('a forced call (named tool_choice) that OpenAI ends with stop stops with tool_use; text alone with stop is end_turn', () => {
    const chunk = (index: number, delta: object, finish: string | null = null) => ({
      id: 'c',
      model: 'gpt-4o-mini',
      choices: [{ index, delta, finish_reason: finish }],
    });
    const { events } = replay([
      chunk(0, { role: 'assistant', content: null }),
      chunk(0, {
        tool_calls: [{ index: 0, id: 'k', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
      }),
      chunk(0, {}, 'stop'),
      OPENAI_DONE,
    ]);
    const message = accumulateAnthropic(events);
    assert.deepEqual(message.content, [{ type: 'tool_use', id: 'k', name: 'f', input: { a: 1 } }]);
    assert.equal(message.stopReason, 'tool_use');
    const text = replay([chunk(0, { content: 'hi' }), chunk(0, {}, 'stop'), OPENAI_DONE]);
    assert.equal(accumulateAnthropic(text.events).stopReason, 'end_turn');
  });

  it('a refusal streams as text and stops with refusal', () => {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const { events } = replay([
      {
        ...base,
        choices: [{ index: 0, delta: { role: 'assistant', refusal: "I can't" }, finish_reason: null }],
      },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      OPENAI_DONE,
    ]);
    const message = accumulateAnthropic(events);
    assert.deepEqual(message.content, [{ type: 'text', text: "I can't" }]);
    assert.equal(message.stopReason, 'refusal');
  });

  it('without provider usage, the final counts come from the fallback counter', () => {
    const events = sseEvents('openai-text.sse').filter(
      (event) => !(typeof event === 'object' && event !== null && 'usage' in event && event.usage),
    );
    const { events: out, translator } = replay(events, {
      fallbackUsage: (text) => ({
        inputTokens: 13,
        outputTokens: Math.ceil(text.length / 4),
        cachedInputTokens: 0,
      }),
    });
    // What the caller's stream says is what the gateway records.
    assert.deepEqual(translator.usage, { inputTokens: 13, outputTokens: 10, cachedInputTokens: 0 });
    assert.deepEqual(accumulateAnthropic(out).usage.output_tokens, 10);
  });

  describe('a stream that does not end cleanly is never reported as finished', () => {
    it('cut before [DONE] (no-terminator): not finished, no message_delta or message_stop', () => {
      const { translator, events } = replay(sseEvents('openai-text.sse').slice(0, -1));
      assert.equal(translator.finished, false);
      assert.ok(!events.some((event) => event.type === 'message_stop' || event.type === 'message_delta'));
      assert.equal(accumulateAnthropic(events).complete, false);
      assert.deepEqual(translator.usage?.inputTokens, 13, 'the usage chunk before the cut is kept');
    });

    it('an error frame midway: failure recorded, nothing after', () => {
      const events = sseEvents('openai-text.sse');
      const { translator, events: out } = replay([
        ...events.slice(0, 3),
        { error: { message: 'The server had an error', type: 'server_error', code: null } },
        ...events.slice(3),
      ]);
      assert.deepEqual(translator.failure, {
        kind: 'upstream_error',
        errorType: 'server_error',
        message: 'The server had an error',
      });
      assert.equal(translator.finished, false);
      assert.ok(!out.some((event) => event.type === 'message_stop'));
    });

    it("vLLM's and OpenRouter's error frame (the HTTP status as an integer code): read as the status it names", () => {
      const events = sseEvents('openai-text.sse');
      const { translator } = replay([
        ...events.slice(0, 3),
        { error: { message: 'Overloaded', type: 'ServiceUnavailableError', param: null, code: 503 } },
      ]);
      assert.deepEqual(translator.failure, {
        kind: 'upstream_error',
        errorType: 'ServiceUnavailableError',
        message: 'Overloaded',
        status: 503,
      });
      const { translator: untyped } = replay([{ error: { message: 'Bad gateway', code: 502 } }]);
      assert.deepEqual(untyped.failure, {
        kind: 'upstream_error',
        errorType: 'error',
        message: 'Bad gateway',
        status: 502,
      });
    });
  });
});
