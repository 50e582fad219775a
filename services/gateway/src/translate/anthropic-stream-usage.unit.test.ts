/**
 * An Anthropic stream cut after message_start (an `error` event such as overloaded_error, a
 * client that leaves, a reset) is settled with the output already streamed, counted, not with
 * message_start's placeholder usage (`output_tokens: 1`): a caller who read a long answer and
 * left before message_delta was charged one output token. Extended thinking is output Claude
 * bills, so a stream cut while Claude thinks is charged the thinking streamed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countTextTokens } from '../tokens/index.js';
import { AnthropicStreamParser } from './anthropic-stream-parser.js';
import { OpenAIStreamParser } from './openai-stream-parser.js';
import { StreamTranslator } from './stream-translator.js';
import { anthropicToOpenAIStream, openAIToAnthropicStream } from './streams.js';

const MODEL = 'claude-haiku-4-5';
const WORDS = Array.from({ length: 400 }, (_, i) => ` word${i}`);
const STREAMED = WORDS.join('');

const events: unknown[] = [
  {
    type: 'message_start',
    message: {
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 25, output_tokens: 1 },
    },
  },
  { type: 'ping' },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  ...WORDS.map((text) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
];

// What exchange.ts passes as fallbackUsage: the prompt estimate plus the streamed text counted.
const fallbackUsage = (outputText: string) => ({
  inputTokens: 25,
  outputTokens: countTextTokens(outputText, MODEL).tokens,
  cachedInputTokens: 0,
});

const streamedTokens = countTextTokens(STREAMED, MODEL).tokens;

describe('Anthropic stream cut mid-answer is charged the tokens streamed', () => {
  it('same dialect (follow-only), overloaded_error mid-stream: usageSoFar counts the streamed text', () => {
    const translator = new StreamTranslator<never>(
      new AnthropicStreamParser(),
      { emit: () => [] as never[] },
      { fallbackUsage },
    );
    for (const event of [
      ...events,
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    ])
      translator.push(event);
    assert.equal(translator.failure?.kind, 'upstream_error');
    assert.equal(translator.outputText(), STREAMED);
    const usage = translator.usageSoFar();
    assert.ok(
      (usage?.outputTokens ?? 0) >= streamedTokens,
      `streamed ${streamedTokens} tokens, settled with outputTokens=${usage?.outputTokens}`,
    );
  });

  it('same dialect (follow-only), client leaves before message_delta: usageSoFar counts the streamed text', () => {
    const translator = new StreamTranslator<never>(
      new AnthropicStreamParser(),
      { emit: () => [] as never[] },
      { fallbackUsage },
    );
    for (const event of events) translator.push(event);
    const usage = translator.usageSoFar();
    assert.ok(
      (usage?.outputTokens ?? 0) >= streamedTokens,
      `streamed ${streamedTokens} tokens, settled with outputTokens=${usage?.outputTokens}`,
    );
  });

  it('translated to OpenAI chunks, client leaves: same undercount', () => {
    const translator = anthropicToOpenAIStream({ includeUsage: false, created: 1, fallbackUsage });
    for (const event of events) translator.push(event);
    const usage = translator.usageSoFar();
    assert.ok(
      (usage?.outputTokens ?? 0) >= streamedTokens,
      `streamed ${streamedTokens} tokens, settled with outputTokens=${usage?.outputTokens}`,
    );
  });

  /** A stream that thinks at length, then is cut before any text: extended thinking. */
  const THOUGHTS = Array.from({ length: 400 }, (_, i) => `Let me weigh possibility ${i} carefully. `);
  const THOUGHT = THOUGHTS.join('');
  const thinkingEvents: unknown[] = [
    events[0],
    {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    },
    ...THOUGHTS.map((thinking) => ({
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'thinking_delta', thinking },
    })),
    // The signature closes the block: an opaque check of the thinking, not counted.
    {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM'.repeat(50) },
    },
  ];
  const thoughtTokens = countTextTokens(THOUGHT, MODEL).tokens;

  it('same dialect (follow-only), cut during extended thinking: usageSoFar counts the thinking, not the signature', () => {
    const translator = new StreamTranslator<never>(
      new AnthropicStreamParser(),
      { emit: () => [] as never[] },
      { fallbackUsage },
    );
    for (const event of thinkingEvents) translator.push(event);
    const usage = translator.usageSoFar();
    assert.equal(usage?.outputTokens, thoughtTokens);
    assert.ok(thoughtTokens > 2000, `${thoughtTokens} tokens of thinking`);
    // The log keeps the answer's text, which has none yet.
    assert.equal(translator.outputText(), '');
  });

  it('translated to OpenAI chunks, cut during thinking: no thinking reaches the caller, yet it is charged', () => {
    const translator = anthropicToOpenAIStream({ includeUsage: false, created: 1, fallbackUsage });
    const chunks = thinkingEvents.flatMap((event) => translator.push(event));
    assert.ok(!JSON.stringify(chunks).includes('possibility'), JSON.stringify(chunks).slice(0, 300));
    assert.equal(translator.usageSoFar()?.outputTokens, thoughtTokens);
  });

  it('a stream that reports no usage is counted with its thinking and its text', () => {
    const translator = anthropicToOpenAIStream({ includeUsage: true, created: 1, fallbackUsage });
    const start = { type: 'message_start', message: { id: 'msg_02', model: MODEL } };
    for (const event of [
      start,
      ...thinkingEvents.slice(1),
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: STREAMED } },
      { type: 'message_stop' },
    ])
      translator.push(event);
    assert.ok(translator.finished);
    assert.equal(translator.usage?.outputTokens, countTextTokens(THOUGHT + STREAMED, MODEL).tokens);
    assert.equal(translator.outputText(), STREAMED);
  });

  /** DeepSeek's and vLLM's reasoning (`reasoning_content`), OpenRouter's (`reasoning`): output they bill. */
  const reasoningChunks = (field: 'reasoning_content' | 'reasoning') =>
    THOUGHTS.map((text) => ({
      id: 'chatcmpl-r1',
      model: 'deepseek-reasoner',
      choices: [{ index: 0, delta: { content: null, [field]: text }, finish_reason: null }],
    }));

  for (const field of ['reasoning_content', 'reasoning'] as const) {
    it(`an OpenAI-dialect stream cut while the model reasons (${field}): usageSoFar counts the reasoning`, () => {
      const translator = new StreamTranslator<never>(
        new OpenAIStreamParser(),
        { emit: () => [] as never[] },
        { fallbackUsage },
      );
      for (const chunk of reasoningChunks(field)) translator.push(chunk);
      assert.equal(translator.usageSoFar()?.outputTokens, thoughtTokens);
      assert.equal(translator.outputText(), '');
    });
  }

  it('translated to Anthropic events, cut while the model reasons: the reasoning reaches the caller as thinking, and is charged', () => {
    const translator = openAIToAnthropicStream({ fallbackUsage });
    const events = reasoningChunks('reasoning_content').flatMap((chunk) => translator.push(chunk));
    assert.deepEqual(
      events.flatMap((event) =>
        event.type === 'content_block_delta' && event.delta.type === 'thinking_delta'
          ? [event.delta.thinking]
          : [],
      ),
      THOUGHTS,
    );
    assert.equal(translator.usageSoFar()?.outputTokens, thoughtTokens);
  });

  it('reasoning of another shape (an object) is no reason to refuse the chunk; only text is counted', () => {
    const translator = new StreamTranslator<never>(
      new OpenAIStreamParser(),
      { emit: () => [] as never[] },
      { fallbackUsage },
    );
    translator.push({
      id: 'gen-1',
      model: 'm',
      choices: [{ index: 0, delta: { content: 'Hello', reasoning: { summary: 'x' } }, finish_reason: null }],
    });
    assert.equal(translator.failure, undefined);
    assert.equal(translator.outputText(), 'Hello');
  });

  it("Mistral's content chunks (magistral-*): thinking chunks are counted as reasoning, text chunks are the answer", () => {
    const translator = new StreamTranslator<never>(
      new OpenAIStreamParser(),
      { emit: () => [] as never[] },
      { fallbackUsage },
    );
    const chunk = (content: unknown) => ({
      id: 'mistral-1',
      model: 'magistral-medium-2509',
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    });
    for (const text of THOUGHTS)
      translator.push(chunk([{ type: 'thinking', thinking: [{ type: 'text', text }] }]));
    translator.push(chunk([{ type: 'text', text: 'Hello' }]));
    translator.push(chunk(' there'));
    assert.equal(translator.failure, undefined);
    assert.equal(translator.outputText(), 'Hello there');
    assert.equal(
      translator.usageSoFar()?.outputTokens,
      countTextTokens(`${THOUGHT}Hello there`, MODEL).tokens,
    );
  });
});

describe("Claude's web searches in a stream cut before its message_delta are charged", () => {
  const result = (index: number, content: unknown) => ({
    type: 'content_block_start',
    index,
    content_block: { type: 'web_search_tool_result', tool_use_id: `srvtoolu_${index}`, content },
  });
  const results = [
    { type: 'web_search_result', title: 'Notes', url: 'https://example.com', encrypted_content: 'Eq' },
  ];

  it('each web_search_tool_result with results counts; a failed search (an error object) does not', () => {
    const translator = new StreamTranslator<never>(
      new AnthropicStreamParser(),
      { emit: () => [] as never[] },
      { fallbackUsage },
    );
    for (const event of [
      ...events,
      result(1, results),
      result(2, { type: 'web_search_tool_result_error', error_code: 'max_uses_exceeded' }),
      result(3, results),
    ])
      translator.push(event);
    assert.equal(translator.usageSoFar()?.webSearches, 2);
  });

  it("at the end, Claude's own count when it is the larger", () => {
    const translator = new StreamTranslator<never>(new AnthropicStreamParser(), {
      emit: () => [] as never[],
    });
    for (const event of [
      ...events,
      result(1, results),
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 500, server_tool_use: { web_search_requests: 3 } },
      },
      { type: 'message_stop' },
    ])
      translator.push(event);
    assert.equal(translator.usageSoFar()?.webSearches, 3);
  });
});

describe("Claude's reasoning count in a stream", () => {
  it("message_delta's output_tokens_details.thinking_tokens is the usage's reasoningTokens, and an OpenAI caller's reasoning_tokens", () => {
    const chunks = anthropicToOpenAIStream({ includeUsage: true, created: 1 });
    const out = [
      {
        type: 'message_start',
        message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 40, output_tokens: 1 } },
      },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 1_200, output_tokens_details: { thinking_tokens: 1_000 } },
      },
      { type: 'message_stop' },
    ].flatMap((event) => chunks.push(event));
    assert.equal(chunks.usage?.reasoningTokens, 1_000);
    const usage = out.map((chunk) => (chunk as { usage?: unknown }).usage).find((u) => u != null);
    assert.deepEqual((usage as { completion_tokens_details?: unknown }).completion_tokens_details, {
      reasoning_tokens: 1_000,
    });
  });
});
