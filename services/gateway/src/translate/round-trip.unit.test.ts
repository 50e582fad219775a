/**
 * Round trips through another dialect keep the meaning: what differs is only the form the
 * translations document (one system message, merged turns, single texts as strings).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accumulateAnthropic, accumulateOpenAI } from './__fixtures__/accumulate.js';
import { sseEvents } from './__fixtures__/sse-fixtures.js';
import { anthropicMessageResponse, anthropicMessagesRequest } from './anthropic-messages-types.js';
import { neutralFromAnthropicRequest } from './anthropic-request-to-neutral.js';
import type { NeutralChatRequest } from './neutral-request.js';
import { openAIRequestFromNeutral } from './neutral-to-openai-request.js';
import { type OpenAIChatChunkOut, openAIChatCompletion, openAIChatRequest } from './openai-chat-types.js';
import { neutralFromOpenAIRequest } from './openai-request-to-neutral.js';
import { OPENAI_DONE } from './openai-stream-parser.js';
import { anthropicToOpenAIRequest, openAIToAnthropicRequest } from './requests.js';
import { anthropicToOpenAIResponse, openAIToAnthropicResponse } from './responses.js';
import { anthropicToOpenAIStream, openAIToAnthropicStream } from './streams.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';
const weather = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

/**
 * The meaning of a request: its neutral form, with the system prompt as one text and
 * without the source paths kept for error messages (message positions shift when the
 * system messages are joined).
 */
function meaning(request: NeutralChatRequest): unknown {
  const system = request.system.length > 0 ? [request.system.join('\n\n')] : [];
  return JSON.parse(
    JSON.stringify({ ...request, system }, (key, value) => (key === 'path' ? undefined : value)),
  );
}

describe('OpenAI -> Anthropic -> OpenAI requests', () => {
  const original = openAIChatRequest.parse({
    model: 'claude-sonnet-4-0', // takes temperature with top_p (Opus 4.1 and later take one)
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'developer', content: 'Use metric units.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather here?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        ],
      },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '21 C, sunny' },
      { role: 'user', content: 'Thanks. Tomorrow?' },
    ],
    tools: [
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weather } },
    ],
    tool_choice: 'required',
    parallel_tool_calls: false,
    max_completion_tokens: 300,
    temperature: 0.4,
    top_p: 0.9,
    stop: ['END'],
    stream: true,
    user: 'u-1',
    // Closed, as Claude's structured outputs make every object.
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'response', schema: { ...weather, additionalProperties: false } },
    },
  });

  it('keeps system, content, images, tool calls and results, tools, choice and sampling', () => {
    const back = anthropicToOpenAIRequest(anthropicMessagesRequest.parse(openAIToAnthropicRequest(original)));
    assert.deepEqual(
      meaning(neutralFromOpenAIRequest(openAIChatRequest.parse(back))),
      meaning(neutralFromOpenAIRequest(original)),
    );
  });
});

describe('OpenAI tool_choice through the neutral form', () => {
  it('allowed_tools is written back to an OpenAI-dialect request as the same choice', () => {
    const choice = {
      type: 'allowed_tools' as const,
      allowed_tools: {
        mode: 'auto' as const,
        tools: [
          { type: 'function' as const, function: { name: 'get_weather' } },
          { type: 'function' as const, function: { name: 'get_time' } },
        ],
      },
    };
    const request = openAIChatRequest.parse({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'Hi' }],
      tools: ['get_weather', 'get_time', 'get_news'].map((name) => ({
        type: 'function',
        function: { name, parameters: weather },
      })),
      tool_choice: choice,
    });
    const written = openAIRequestFromNeutral(neutralFromOpenAIRequest(request));
    assert.deepEqual(written.tool_choice, choice);
    assert.equal(written.tools?.length, 3);
  });
});

describe('Anthropic -> OpenAI -> Anthropic requests', () => {
  const original = anthropicMessagesRequest.parse({
    model: 'gpt-4.1',
    max_tokens: 500,
    system: 'Be brief.',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
        ],
      },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'text', text: 'And?' },
        ],
      },
    ],
    tools: [{ name: 'get_weather', input_schema: weather }],
    tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
    stop_sequences: ['END'],
    temperature: 0.7,
    stream: true,
    metadata: { user_id: 'u-2' },
  });

  it('keeps the meaning', () => {
    const back = openAIToAnthropicRequest(openAIChatRequest.parse(anthropicToOpenAIRequest(original)));
    assert.deepEqual(
      meaning(neutralFromAnthropicRequest(anthropicMessagesRequest.parse(back))),
      meaning(neutralFromAnthropicRequest(original)),
    );
  });
});

describe('answers round trip', () => {
  it('Anthropic message -> OpenAI completion -> Anthropic message', () => {
    const original = anthropicMessageResponse.parse({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [
        { type: 'text', text: "I'll check." },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 40,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 1000,
        output_tokens: 25,
      },
    });
    const completion = openAIChatCompletion.parse(anthropicToOpenAIResponse(original, { created: 1 }));
    assert.deepEqual(openAIToAnthropicResponse(completion), {
      ...original,
      type: 'message',
      role: 'assistant',
    });
  });

  it('OpenAI completion -> Anthropic message -> OpenAI completion', () => {
    const original = openAIChatCompletion.parse({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4.1',
      choices: [
        {
          index: 0,
          message: {
            content: 'Sure.',
            refusal: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 20,
        total_tokens: 120,
        prompt_tokens_details: { cached_tokens: 64 },
      },
    });
    const message = anthropicMessageResponse.parse(openAIToAnthropicResponse(original));
    assert.deepEqual(
      openAIChatCompletion.parse(anthropicToOpenAIResponse(message, { created: 1 })),
      original,
    );
  });
});

describe('streams round trip', () => {
  /** What each Anthropic fixture means once translated: thinking has no place in the OpenAI dialect. */
  const anthropicStreams: { fixture: string; content: unknown[]; stopReason: string }[] = [
    {
      fixture: 'anthropic-text.sse',
      content: [{ type: 'text', text: 'Mock reply: Hello there, how are you?' }],
      stopReason: 'end_turn',
    },
    {
      fixture: 'anthropic-tool.sse',
      content: [
        { type: 'text', text: "I'll call get_weather." },
        { type: 'tool_use', id: 'toolu_mock000010', name: 'get_weather', input: { city: 'Paris', days: 42 } },
      ],
      stopReason: 'tool_use',
    },
    {
      fixture: 'docs-anthropic-thinking-cache.sse',
      content: [
        { type: 'text', text: 'Checking Paris and Rome.' },
        { type: 'tool_use', id: 'toolu_01Paris', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_01Rome', name: 'get_weather', input: { city: 'Rome' } },
      ],
      stopReason: 'tool_use',
    },
  ];
  for (const { fixture, content, stopReason } of anthropicStreams) {
    it(`Anthropic events -> OpenAI chunks -> Anthropic events (${fixture})`, () => {
      const toOpenAI = anthropicToOpenAIStream({ includeUsage: true, created: 1 });
      const toAnthropic = openAIToAnthropicStream();
      // Through JSON, as over the wire between the two.
      const chunks: unknown[] = sseEvents(fixture)
        .flatMap((event) => toOpenAI.push(event))
        .map((chunk) => JSON.parse(JSON.stringify(chunk)));
      if (toOpenAI.finished) chunks.push(OPENAI_DONE);
      const rebuilt = accumulateAnthropic(chunks.flatMap((chunk) => toAnthropic.push(chunk)));
      assert.deepEqual(rebuilt.content, content);
      assert.equal(rebuilt.stopReason, stopReason);
      assert.ok(rebuilt.complete && toAnthropic.finished);
      // OpenAI's usage has no field for cache writes: they come back as ordinary input.
      const {
        cacheWriteTokens: _write,
        cacheWrite1hTokens: _write1h,
        ...usage
      } = toOpenAI.usage ?? {
        inputTokens: -1,
        outputTokens: -1,
        cachedInputTokens: -1,
      };
      assert.deepEqual(toAnthropic.usage, usage);
    });
  }

  for (const fixture of ['openai-text.sse', 'openai-tool.sse', 'docs-openai-parallel-tools.sse']) {
    it(`OpenAI chunks -> Anthropic events -> OpenAI chunks (${fixture})`, () => {
      const original = sseEvents(fixture);
      const toAnthropic = openAIToAnthropicStream();
      const toOpenAI = anthropicToOpenAIStream({ includeUsage: true, created: 1 });
      const events: unknown[] = original
        .flatMap((event) => toAnthropic.push(event))
        .map((event) => JSON.parse(JSON.stringify(event)));
      const rebuilt = accumulateOpenAI(events.flatMap((event) => toOpenAI.push(event)));
      // The recorded chunks read by the same accumulator (they have the shape the translator emits).
      const direct = accumulateOpenAI(
        original.filter((event) => event !== OPENAI_DONE) as OpenAIChatChunkOut[],
      );
      assert.deepEqual(rebuilt.choices, direct.choices);
      assert.ok(toOpenAI.finished);
      const { reasoningTokens: _notInAnthropic, ...usage } = toAnthropic.usage ?? { inputTokens: -1 };
      assert.deepEqual(toOpenAI.usage, usage, 'usage kept, except reasoning that Anthropic cannot carry');
    });
  }
});
