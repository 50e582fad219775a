import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accumulateOpenAI } from './__fixtures__/accumulate.js';
import { jsonFixture, sseEvents } from './__fixtures__/sse-fixtures.js';
import { anthropicMessageResponse } from './anthropic-messages-types.js';
import type { OpenAIChatChunkOut } from './openai-chat-types.js';
import { anthropicToOpenAIResponse } from './responses.js';
import type { StreamTranslator } from './stream-translator.js';
import { anthropicToOpenAIStream } from './streams.js';

const created = 1_750_000_000;

function replay(events: readonly unknown[], includeUsage = true) {
  const translator = anthropicToOpenAIStream({ includeUsage, created });
  const chunks = events.flatMap((event) => translator.push(event));
  return { translator, chunks };
}

function deltas(chunks: readonly OpenAIChatChunkOut[]) {
  return chunks.map((chunk) => chunk.choices[0]?.delta ?? 'usage');
}

describe('Anthropic stream -> OpenAI chunks', () => {
  it('a text stream (recorded): role first, one chunk per text delta, finish, then the usage chunk', () => {
    const { translator, chunks } = replay(sseEvents('anthropic-text.sse'));
    assert.deepEqual(deltas(chunks), [
      { role: 'assistant', content: '' },
      { content: 'Mock' },
      { content: ' reply:' },
      { content: ' Hello' },
      { content: ' there,' },
      { content: ' how' },
      { content: ' are' },
      { content: ' you?' },
      {},
      'usage',
    ]);
    assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(chunks.at(-1), {
      id: 'msg_mock000007',
      object: 'chat.completion.chunk',
      created,
      model: 'claude-haiku-4-5',
      choices: [],
      usage: {
        prompt_tokens: 13,
        completion_tokens: 10,
        total_tokens: 23,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    });
    assert.ok(
      chunks.slice(0, -1).every((chunk) => chunk.usage === null),
      'usage: null until the last chunk',
    );
    assert.ok(translator.finished);
    assert.equal(translator.failure, undefined);
    assert.deepEqual(translator.usage, { inputTokens: 13, outputTokens: 10, cachedInputTokens: 0 });
    assert.equal(translator.outputText(), 'Mock reply: Hello there, how are you?');
  });

  it('without include_usage: no usage chunk and no usage field', () => {
    const { chunks, translator } = replay(sseEvents('anthropic-text.sse'), false);
    assert.ok(chunks.every((chunk) => !('usage' in chunk) && chunk.choices.length === 1));
    assert.ok(translator.finished);
    assert.deepEqual(translator.usage?.outputTokens, 10, 'the gateway still sees the usage');
  });

  it('a tool call (recorded): id and name first, then argument fragments; the empty fragment is skipped', () => {
    const { chunks } = replay(sseEvents('anthropic-tool.sse'));
    const toolDeltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    assert.deepEqual(toolDeltas, [
      {
        index: 0,
        id: 'toolu_mock000010',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      },
      { index: 0, function: { arguments: '{"city"' } },
      { index: 0, function: { arguments: ':"Paris' } },
      { index: 0, function: { arguments: '","days' } },
      { index: 0, function: { arguments: '":42}' } },
    ]);
  });

  it('the accumulated stream means what the non-streamed translation means', () => {
    const streamed = accumulateOpenAI(replay(sseEvents('anthropic-tool.sse')).chunks);
    const whole = anthropicToOpenAIResponse(
      anthropicMessageResponse.parse(jsonFixture('anthropic-tool.json')),
      { created },
    );
    const [choice] = streamed.choices;
    const [expected] = whole.choices;
    assert.equal(choice?.content, expected?.message.content);
    assert.equal(choice?.finishReason, expected?.finish_reason);
    assert.deepEqual(
      choice?.toolCalls.map((call) => [call.name, JSON.parse(call.arguments)]),
      expected?.message.tool_calls?.map((call) => [call.function.name, JSON.parse(call.function.arguments)]),
    );
  });

  describe('a tool without arguments gets "{}" (Anthropic streams only `partial_json: ""` for it)', () => {
    const start = {
      type: 'message_start',
      message: {
        id: 'msg_noargs',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 20, output_tokens: 1 },
      },
    };
    const toolBlock = (index: number, id: string, name: string, json: string[]) => [
      { type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } },
      ...json.map((partial_json) => ({
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json },
      })),
      { type: 'content_block_stop', index },
    ];
    const end = [
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 12 },
      },
      { type: 'message_stop' },
    ];

    it('as the docs stream it: the arguments are "{}", as OpenAI and the plain answer give them', () => {
      const { chunks } = replay([start, ...toolBlock(0, 'toolu_1', 'get_time', ['']), ...end]);
      const completion = accumulateOpenAI(chunks);
      assert.deepEqual(completion.choices[0]?.toolCalls, [
        { id: 'toolu_1', name: 'get_time', arguments: '{}' },
      ]);
      assert.equal(completion.choices[0]?.finishReason, 'tool_calls');
    });

    it('beside a call with arguments: only the empty one gets "{}"', () => {
      const events = [
        start,
        ...toolBlock(0, 'toolu_1', 'get_time', []),
        ...toolBlock(1, 'toolu_2', 'get_weather', ['', '{"city":', ' "Paris"}']),
        ...end,
      ];
      assert.deepEqual(accumulateOpenAI(replay(events).chunks).choices[0]?.toolCalls, [
        { id: 'toolu_1', name: 'get_time', arguments: '{}' },
        { id: 'toolu_2', name: 'get_weather', arguments: '{"city": "Paris"}' },
      ]);
    });

    it('a block never stopped still gets "{}" before the finish reason', () => {
      const events = [start, ...toolBlock(0, 'toolu_1', 'get_time', ['']).slice(0, -1), ...end];
      const completion = accumulateOpenAI(replay(events).chunks);
      assert.deepEqual(completion.choices[0]?.toolCalls, [
        { id: 'toolu_1', name: 'get_time', arguments: '{}' },
      ]);
    });
  });

  it('max_tokens (recorded) finishes with length', () => {
    const { chunks } = replay(sseEvents('anthropic-text-max-tokens.sse'));
    assert.equal(accumulateOpenAI(chunks).choices[0]?.finishReason, 'length');
  });

  it('thinking is skipped, parallel tool calls get indexes 0 and 1, cache usage is normalised (docs)', () => {
    const { chunks, translator } = replay(sseEvents('docs-anthropic-thinking-cache.sse'));
    const completion = accumulateOpenAI(chunks);
    assert.deepEqual(completion.choices[0], {
      content: 'Checking Paris and Rome.',
      toolCalls: [
        { id: 'toolu_01Paris', name: 'get_weather', arguments: '{"city": "Paris"}' },
        { id: 'toolu_01Rome', name: 'get_weather', arguments: '{"city": "Rome"}' },
      ],
      finishReason: 'tool_calls',
    });
    assert.deepEqual(completion.usage, {
      prompt_tokens: 2012,
      completion_tokens: 95,
      total_tokens: 2107,
      prompt_tokens_details: { cached_tokens: 1800 },
    });
    assert.deepEqual(translator.usage, {
      inputTokens: 2012,
      outputTokens: 95,
      cachedInputTokens: 1800,
      cacheWriteTokens: 200,
    });
  });

  describe("the role chunk says what the answer opens with, as OpenAI's does", () => {
    const start = (id: string) => ({
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 30, output_tokens: 1 },
      },
    });
    const end = (stopReason: string) => [
      {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: 20 },
      },
      { type: 'message_stop' },
    ];
    const toolBlock = (index: number, id: string, json: string[]) => [
      {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id, name: 'get_weather', input: {} },
      },
      ...json.map((partial_json) => ({
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json },
      })),
      { type: 'content_block_stop', index },
    ];
    const thinkingBlock = [
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Paris, then.' } },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' },
      },
      { type: 'content_block_stop', index: 0 },
    ];
    /** What the plain answer of the same blocks says, for the streamed one to equal. */
    const plain = (id: string, content: object[], stopReason: string) =>
      anthropicToOpenAIResponse(
        anthropicMessageResponse.parse({
          id,
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content,
          stop_reason: stopReason,
          stop_sequence: null,
          usage: { input_tokens: 30, output_tokens: 20 },
        }),
        { created },
      ).choices[0]?.message;

    it("tool calls only (a forced tool_choice: no text block): content null in the call's chunk, as plain", () => {
      const { chunks, translator } = replay([
        start('msg_forced'),
        ...toolBlock(0, 'toolu_Paris', ['', '{"city": "Paris"}']),
        ...end('tool_use'),
      ]);
      assert.deepEqual(deltas(chunks), [
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              index: 0,
              id: 'toolu_Paris',
              type: 'function',
              function: { name: 'get_weather', arguments: '' },
            },
          ],
        },
        { tool_calls: [{ index: 0, function: { arguments: '{"city": "Paris"}' } }] },
        {},
        'usage',
      ]);
      const [choice] = accumulateOpenAI(chunks).choices;
      const expected = plain(
        'msg_forced',
        [{ type: 'tool_use', id: 'toolu_Paris', name: 'get_weather', input: { city: 'Paris' } }],
        'tool_use',
      );
      assert.equal(expected?.content, null);
      assert.equal(choice?.content, expected?.content);
      assert.deepEqual(
        choice?.toolCalls.map((call) => [call.id, call.name, JSON.parse(call.arguments)]),
        expected?.tool_calls?.map((call) => [
          call.id,
          call.function.name,
          JSON.parse(call.function.arguments),
        ]),
      );
      assert.equal(translator.outputText(), '{"city": "Paris"}');
    });

    it("parallel calls only: one role chunk, with the first call; the second call's chunk has none", () => {
      const { chunks } = replay([
        start('msg_two'),
        ...toolBlock(0, 'toolu_Paris', ['{"city": "Paris"}']),
        ...toolBlock(1, 'toolu_Rome', ['{"city": "Rome"}']),
        ...end('tool_use'),
      ]);
      assert.deepEqual(
        chunks.map((chunk) => chunk.choices[0]?.delta.role),
        ['assistant', undefined, undefined, undefined, undefined, undefined],
      );
      assert.deepEqual(accumulateOpenAI(chunks).choices[0]?.content, null);
    });

    it('nothing goes out for message_start; a text block\'s opening sends the role with content ""', () => {
      const translator = anthropicToOpenAIStream({ includeUsage: false, created });
      assert.deepEqual(translator.push(start('msg_text')), [], 'not yet known: text or a call');
      const opened = translator.push({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      });
      assert.deepEqual(deltas(opened), [{ role: 'assistant', content: '' }], 'before the first word');
      assert.equal(translator.content, false, 'an empty block is no content yet');
      const first = translator.push({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Hi' },
      });
      assert.deepEqual(deltas(first), [{ content: 'Hi' }]);
      assert.equal(translator.outputText(), 'Hi');
    });

    it('a text before the calls keeps content a string: the recorded tool answer as before', () => {
      const { chunks } = replay(sseEvents('anthropic-tool.sse'));
      assert.deepEqual(chunks[0]?.choices[0]?.delta, { role: 'assistant', content: '' });
    });

    it('thinking, then calls only: the role (content null) opens with the thinking, the call follows', () => {
      const { chunks, translator } = replay([
        start('msg_think_call'),
        ...thinkingBlock,
        ...toolBlock(1, 'toolu_Paris', ['{"city": "Paris"}']),
        ...end('tool_use'),
      ]);
      assert.deepEqual(deltas(chunks).slice(0, 2), [
        { role: 'assistant', content: null },
        {
          tool_calls: [
            {
              index: 0,
              id: 'toolu_Paris',
              type: 'function',
              function: { name: 'get_weather', arguments: '' },
            },
          ],
        },
      ]);
      const expected = plain(
        'msg_think_call',
        [
          { type: 'thinking', thinking: 'Paris, then.', signature: 'EqQBCgIYAhIM' },
          { type: 'tool_use', id: 'toolu_Paris', name: 'get_weather', input: { city: 'Paris' } },
        ],
        'tool_use',
      );
      assert.equal(accumulateOpenAI(chunks).choices[0]?.content, expected?.content);
      assert.equal(translator.outputText(), '{"city": "Paris"}', 'the thinking is not in the text');
    });

    it('thinking, then text: the text after a role chunk that said null is the content', () => {
      const { chunks } = replay([
        start('msg_think_text'),
        ...thinkingBlock,
        { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Sunny.' } },
        { type: 'content_block_stop', index: 1 },
        ...end('end_turn'),
      ]);
      assert.deepEqual(deltas(chunks).slice(0, 3), [
        { role: 'assistant', content: null },
        { content: '' },
        { content: 'Sunny.' },
      ]);
      assert.equal(accumulateOpenAI(chunks).choices[0]?.content, 'Sunny.');
    });

    it('a redacted thinking block opens the answer too (content null)', () => {
      const translator = anthropicToOpenAIStream({ includeUsage: false, created });
      translator.push(start('msg_redacted'));
      const opened = translator.push({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
      });
      assert.deepEqual(deltas(opened), [{ role: 'assistant', content: null }]);
      assert.equal(translator.content, false, 'no content: a failure now is still before the answer');
    });

    it('no content blocks at all: the role chunk comes with the finish, content null as plain', () => {
      const { chunks } = replay([start('msg_empty'), ...end('end_turn')]);
      assert.deepEqual(deltas(chunks), [{ role: 'assistant', content: null }, {}, 'usage']);
      assert.equal(accumulateOpenAI(chunks).choices[0]?.content, plain('msg_empty', [], 'end_turn')?.content);
    });

    it('an overload right after message_start: nothing was written, the edge may ask another key', () => {
      const { chunks, translator } = replay([
        start('msg_overloaded'),
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      ]);
      assert.deepEqual(chunks, []);
      assert.equal(translator.failure?.kind, 'upstream_error');
      assert.equal(translator.content, false);
    });
  });

  describe('a stream that does not end cleanly is never reported as finished', () => {
    it('cut before message_stop (no-terminator): not finished, no usage chunk, usage seen so far kept', () => {
      const events = sseEvents('anthropic-text.sse').slice(0, -1);
      const { translator, chunks } = replay(events);
      assert.equal(translator.finished, false);
      assert.equal(translator.failure, undefined);
      assert.ok(
        chunks.every((chunk) => chunk.usage === null),
        'no usage chunk',
      );
      assert.deepEqual(translator.usage, { inputTokens: 13, outputTokens: 10, cachedInputTokens: 0 });
    });

    it('cut midway (client gone or reset): usage from message_start and the text so far', () => {
      const { translator } = replay(sseEvents('anthropic-text.sse').slice(0, 6));
      assert.equal(translator.finished, false);
      assert.deepEqual(translator.usage, { inputTokens: 13, outputTokens: 1, cachedInputTokens: 0 });
      assert.equal(translator.outputText(), 'Mock reply: Hello');
    });

    it('an error event (overloaded, docs): failure recorded, nothing emitted after it', () => {
      const events = sseEvents('docs-anthropic-overloaded.sse');
      const { translator, chunks } = replay([...events, { type: 'message_stop' }]);
      assert.deepEqual(translator.failure, {
        kind: 'upstream_error',
        errorType: 'overloaded_error',
        message: 'Overloaded',
      });
      assert.equal(translator.finished, false);
      assert.deepEqual(deltas(chunks), [{ role: 'assistant', content: '' }, { content: 'Once upon' }]);
      assert.deepEqual(translator.usage, { inputTokens: 25, outputTokens: 1, cachedInputTokens: 0 });
    });

    it('a malformed event stops the translation', () => {
      const events = sseEvents('anthropic-text.sse');
      const broken = [
        ...events.slice(0, 4),
        { type: 'content_block_delta', delta: 'garbage' },
        ...events.slice(4),
      ];
      const { translator, chunks } = replay(broken);
      assert.equal(translator.failure?.kind, 'malformed_event');
      assert.equal(translator.finished, false);
      assert.deepEqual(deltas(chunks), [{ role: 'assistant', content: '' }, { content: 'Mock' }]);
    });

    it('an event without a type is malformed', () => {
      const { translator } = replay([42]);
      assert.equal(translator.failure?.kind, 'malformed_event');
    });
  });

  it('a translator is independent per request', () => {
    const first: StreamTranslator<OpenAIChatChunkOut> = anthropicToOpenAIStream({
      includeUsage: false,
      created,
    });
    const second = anthropicToOpenAIStream({ includeUsage: false, created });
    for (const event of sseEvents('anthropic-text.sse')) first.push(event);
    assert.ok(first.finished);
    assert.equal(second.finished, false);
    assert.equal(second.usage, undefined);
  });
});
