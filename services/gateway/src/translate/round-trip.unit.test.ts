/**
 * Round trips through another dialect keep the meaning: what differs is only the form the
 * translations document (one system message, merged turns, single texts as strings).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { accumulateAnthropic, accumulateOpenAI } from './__fixtures__/accumulate.js';
import { sseEvents } from './__fixtures__/sse-fixtures.js';
import { anthropicMessageResponse, anthropicMessagesRequest } from './anthropic-messages-types.js';
import { neutralFromAnthropicRequest } from './anthropic-request-to-neutral.js';
import type { AssistantPart, NeutralChatRequest, NeutralMessage, UserPart } from './neutral-request.js';
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
    JSON.stringify(
      {
        ...request,
        system,
        messages: request.messages.map(joinedTexts),
        // No call is made with `none`: whether they may be parallel says nothing (Claude's `none` has no such field).
        ...(request.toolChoice?.type === 'none' ? { parallelToolCalls: undefined } : {}),
      },
      (key, value) => (key === 'path' ? undefined : value),
    ),
  );
}

/**
 * A turn with its texts in the one form both dialects give them: an assistant's texts run
 * together (OpenAI's assistant message has one content), a tool result's joined by newlines
 * (OpenAI's tool message carries one text).
 */
function joinedTexts(message: NeutralMessage): NeutralMessage {
  if (message.role === 'user') {
    const parts = message.parts.map((part): UserPart => {
      if (part.type !== 'tool-result' || part.content.some((item) => item.type !== 'text')) return part;
      const text = part.content.map((item) => (item.type === 'text' ? item.text : '')).join('\n');
      return { ...part, content: text === '' ? [] : [{ type: 'text', text }] };
    });
    return { ...message, parts };
  }
  const parts: AssistantPart[] = [];
  for (const part of message.parts) {
    const last = parts.at(-1);
    if (part.type === 'text' && last?.type === 'text')
      parts[parts.length - 1] = { ...last, text: last.text + part.text };
    else parts.push(part);
  }
  return { ...message, parts };
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

// --- random requests: what both dialects express, round trip by round trip ----------------

const RUNS = { seed: 20261206, numRuns: 800 };
/** Texts each dialect takes as they are: not blank, with astral and combining characters and escapes. */
const text = fc
  .oneof(
    fc.constantFrom('Hi', 'Paris?', '𝄞 é', 'e\u0301', '"q" \\ b', '\u2028', 'a\n\nb'),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
  )
  .filter((value) => value.trim() !== '' && value === value.trimEnd());
const toolName = fc.oneof(
  fc.constantFrom('get_weather', 'get_time'),
  fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_-]{0,30}$/),
);
const input = fc
  .dictionary(
    fc.string({ maxLength: 5 }),
    fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null)),
    {
      maxKeys: 3,
    },
  )
  .map((value) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>);
const image = fc.constantFrom(`data:image/png;base64,${PNG}`, 'https://example.com/cat.png');

/** An OpenAI conversation: user turns, and assistant turns whose calls the next tool messages answer. */
const openAIMessages = fc
  .array(
    fc.oneof(
      fc.record({
        role: fc.constantFrom('system' as const, 'developer' as const),
        content: text,
      }),
      fc.record({
        role: fc.constant('user' as const),
        content: fc.oneof(
          text,
          fc.array(
            fc.oneof(
              text.map((t) => ({ type: 'text' as const, text: t })),
              image.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
            ),
            { minLength: 1, maxLength: 3 },
          ),
        ),
      }),
      fc.record({
        content: fc.option(text, { nil: null }),
        calls: fc.array(
          fc.record({ name: toolName, input, result: fc.array(text, { minLength: 1, maxLength: 2 }) }),
          {
            maxLength: 3,
          },
        ),
      }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((steps) =>
    steps.flatMap((step, turn): unknown[] => {
      if (!('calls' in step)) return [step];
      const { content, calls } = step;
      if (calls.length === 0) return [{ role: 'assistant' as const, content: content ?? 'ok' }];
      const id = (i: number) => `call_${turn}_${i}`;
      return [
        {
          role: 'assistant' as const,
          content,
          tool_calls: calls.map((call, i) => ({
            id: id(i),
            type: 'function' as const,
            function: { name: call.name, arguments: JSON.stringify(call.input) },
          })),
        },
        ...calls.map((call, i) => ({
          role: 'tool' as const,
          tool_call_id: id(i),
          content:
            call.result.length === 1
              ? (call.result[0] as string)
              : call.result.map((t) => ({ type: 'text' as const, text: t })),
        })),
      ];
    }),
  )
  // A turn to answer: Claude reads a conversation that ends on its own text as a prefill.
  .map((messages) => [...messages, { role: 'user' as const, content: 'Go on.' }]);

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather', parameters: weather },
};

const openAIRoundTrippable = fc
  .record(
    {
      messages: openAIMessages,
      tools: fc.constant([weatherTool]),
      tool_choice: fc.constantFrom('auto', 'none', 'required', {
        type: 'function',
        function: { name: 'get_weather' },
      }),
      parallel_tool_calls: fc.constant(false),
      max_completion_tokens: fc.integer({ min: 1, max: 64_000 }),
      temperature: fc.double({ min: 0, max: 1, noNaN: true }),
      top_p: fc.double({ min: 0, max: 1, noNaN: true }),
      stop: fc.array(text, { minLength: 1, maxLength: 4 }),
      stream: fc.constant(true),
      user: fc.stringMatching(/^u-[a-z]{1,8}$/),
    },
    // Claude needs a maximum (one is written when none is given); a tool choice goes with tools.
    { requiredKeys: ['messages', 'max_completion_tokens', 'tools', 'tool_choice'] },
  )
  .map((fields) => openAIChatRequest.parse({ model: 'claude-sonnet-4-0', ...fields }));

describe('OpenAI -> Anthropic -> OpenAI requests, random (property)', () => {
  it('keep the meaning', () => {
    fc.assert(
      fc.property(openAIRoundTrippable, (original) => {
        const back = anthropicToOpenAIRequest(
          anthropicMessagesRequest.parse(openAIToAnthropicRequest(original)),
        );
        assert.deepEqual(
          meaning(neutralFromOpenAIRequest(openAIChatRequest.parse(back))),
          meaning(neutralFromOpenAIRequest(original)),
        );
      }),
      RUNS,
    );
  });
});

/** An Anthropic conversation: user turns, and assistant turns whose calls the next user turn answers first. */
const anthropicMessages = fc
  .array(
    fc.oneof(
      fc.record({
        role: fc.constant('user' as const),
        content: fc.oneof(
          text,
          fc.array(
            fc.oneof(
              text.map((t) => ({ type: 'text' as const, text: t })),
              fc.constant({
                type: 'image' as const,
                source: { type: 'url' as const, url: 'https://example.com/cat.png' },
              }),
            ),
            { minLength: 1, maxLength: 3 },
          ),
        ),
      }),
      fc.record({
        text: fc.option(text, { nil: undefined }),
        calls: fc.array(
          fc.record({
            name: toolName,
            input,
            result: fc.option(text, { nil: undefined }),
            isError: fc.boolean(),
          }),
          {
            maxLength: 3,
          },
        ),
        after: fc.option(text, { nil: undefined }),
      }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((steps) =>
    steps.flatMap((step, turn): unknown[] => {
      if ('role' in step) return [step];
      const { text: said, calls, after } = step;
      const id = (i: number) => `toolu_${turn}_${i}`;
      const assistant = {
        role: 'assistant' as const,
        content: [
          ...(said !== undefined || calls.length === 0
            ? [{ type: 'text' as const, text: said ?? 'ok' }]
            : []),
          ...calls.map((call, i) => ({
            type: 'tool_use' as const,
            id: id(i),
            name: call.name,
            input: call.input,
          })),
        ],
      };
      if (calls.length === 0) return [assistant];
      const results = calls.map((call, i) => ({
        type: 'tool_result' as const,
        tool_use_id: id(i),
        ...(call.result !== undefined ? { content: call.result } : {}),
      }));
      return [
        assistant,
        {
          role: 'user' as const,
          content: [...results, ...(after !== undefined ? [{ type: 'text' as const, text: after }] : [])],
        },
      ];
    }),
  )
  .map((messages) => [...messages, { role: 'user' as const, content: 'Go on.' }]);

const anthropicRoundTrippable = fc
  .record(
    {
      system: fc.oneof(
        text,
        fc.array(
          text.map((t) => ({ type: 'text' as const, text: t })),
          { minLength: 1, maxLength: 2 },
        ),
      ),
      messages: anthropicMessages,
      tools: fc.constant([{ name: 'get_weather', input_schema: weather }]),
      tool_choice: fc.constantFrom(
        { type: 'auto' as const },
        { type: 'any' as const, disable_parallel_tool_use: true },
        { type: 'tool' as const, name: 'get_weather' },
        { type: 'none' as const },
      ),
      stop_sequences: fc.array(text, { minLength: 1, maxLength: 4 }),
      temperature: fc.double({ min: 0, max: 1, noNaN: true }),
      stream: fc.constant(true),
      metadata: fc.record({ user_id: fc.stringMatching(/^u-[a-z]{1,8}$/) }),
    },
    // A tool choice goes with tools.
    { requiredKeys: ['messages', 'tools'] },
  )
  .map((fields) => anthropicMessagesRequest.parse({ model: 'gpt-4.1', max_tokens: 500, ...fields }));

describe('Anthropic -> OpenAI -> Anthropic requests, random (property)', () => {
  it('keep the meaning', () => {
    fc.assert(
      fc.property(anthropicRoundTrippable, (original) => {
        const back = openAIToAnthropicRequest(openAIChatRequest.parse(anthropicToOpenAIRequest(original)));
        assert.deepEqual(
          meaning(neutralFromAnthropicRequest(anthropicMessagesRequest.parse(back))),
          meaning(neutralFromAnthropicRequest(original)),
        );
      }),
      RUNS,
    );
  });
});

/** A Claude answer both dialects say alike: one text, calls, a stop reason OpenAI has, no cache writes. */
const claudeAnswer = fc
  .record({
    text: fc.option(text, { nil: undefined }),
    calls: fc.array(fc.record({ name: toolName, input }), { maxLength: 3 }),
    stop: fc.constantFrom('end_turn', 'max_tokens', 'refusal'),
    usage: fc.record({
      input_tokens: fc.nat({ max: 10_000 }),
      output_tokens: fc.nat({ max: 10_000 }),
      cache_read_input_tokens: fc.nat({ max: 10_000 }),
    }),
  })
  .map(({ text: said, calls, stop, usage }) =>
    anthropicMessageResponse.parse({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [
        ...(said !== undefined || calls.length === 0 ? [{ type: 'text', text: said ?? 'ok' }] : []),
        ...calls.map((call, i) => ({
          type: 'tool_use',
          id: `toolu_${i}`,
          name: call.name,
          input: call.input,
        })),
      ],
      // OpenAI's stop with calls reads as tool_use: an answer with calls stops for them (or its length).
      stop_reason: calls.length > 0 && stop === 'end_turn' ? 'tool_use' : stop,
      stop_sequence: null,
      usage: { ...usage, cache_creation_input_tokens: 0 },
    }),
  );

describe('answers round trip, random (property)', () => {
  it('Anthropic message -> OpenAI completion -> Anthropic message', () => {
    fc.assert(
      fc.property(claudeAnswer, (original) => {
        const completion = openAIChatCompletion.parse(anthropicToOpenAIResponse(original, { created: 1 }));
        assert.deepEqual(openAIToAnthropicResponse(completion), {
          ...original,
          type: 'message',
          role: 'assistant',
        });
      }),
      RUNS,
    );
  });

  it('OpenAI completion -> Anthropic message -> OpenAI completion', () => {
    fc.assert(
      fc.property(claudeAnswer, (claude) => {
        // An OpenAI answer, made from a random Claude one, as OpenAI writes it.
        const original = openAIChatCompletion.parse(anthropicToOpenAIResponse(claude, { created: 1 }));
        const message = anthropicMessageResponse.parse(openAIToAnthropicResponse(original));
        assert.deepEqual(
          openAIChatCompletion.parse(anthropicToOpenAIResponse(message, { created: 1 })),
          original,
        );
      }),
      RUNS,
    );
  });
});
