/**
 * Property: a provider's answer streamed to a caller of another dialect assembles to what the
 * same answer, finished, translates to: the same text, tool calls (id, name, arguments as JSON),
 * finish reason and usage. The stream goes the gateway's whole way: the provider's events as
 * SSE bytes (its JSON escaped or not, keep-alive comments between frames) cut at random byte
 * positions, read by the SseReader, skimmed or parsed as provider-call.ts does, translated,
 * and rebuilt as the official SDKs rebuild a stream (`__fixtures__/accumulate.ts`, which also
 * checks the event order they rely on). For each pair of dialects Kordon translates.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SseReader } from '../upstream/sse-reader.js';
import { type AccumulatedMessage, accumulateAnthropic, accumulateOpenAI } from './__fixtures__/accumulate.js';
import { skimAnthropicEvent } from './anthropic-event-skim.js';
import { type AnthropicMessageOut, anthropicMessageResponse } from './anthropic-messages-types.js';
import { geminiGenerateContentResponse } from './gemini-types.js';
import {
  type OpenAIChatChunkOut,
  type OpenAIChatCompletionOut,
  openAIChatCompletion,
} from './openai-chat-types.js';
import { skimOpenAIChunk } from './openai-chunk-skim.js';
import { OPENAI_DONE } from './openai-stream-parser.js';
import {
  anthropicToOpenAIResponse,
  geminiToAnthropicResponse,
  geminiToOpenAIResponse,
  openAIToAnthropicResponse,
} from './responses.js';
import type { StreamTranslator } from './stream-translator.js';
import {
  anthropicToOpenAIStream,
  geminiToAnthropicStream,
  geminiToOpenAIStream,
  openAIToAnthropicStream,
} from './streams.js';

/** What an arbitrary generates. */
type Generated<A> = A extends fc.Arbitrary<infer T> ? T : never;

const RUNS = { seed: 20261206, numRuns: 500 };

// --- what an answer holds, whatever the dialect ----------------------------------------

/** Texts that break streams: astral and combining characters, escapes, line separators, quotes. */
const text = fc.oneof(
  fc.constantFrom('', 'Hi', ' there', '𝄞 é', 'e\u0301', '"q" \\ b', '\u2028\u2029', '\n\n', '😀'),
  fc.string({ unit: 'grapheme', maxLength: 16 }),
);
const jsonValue = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('\\u00e9', '\u0000', '"', '😀'),
  // A long argument (a file's content), every few characters an escape.
  fc.constant('é"\\\n\t😀'.repeat(1500)),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const toolArguments = fc
  .dictionary(
    fc.string({ maxLength: 6 }),
    fc.oneof(
      jsonValue,
      fc.array(jsonValue, { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), jsonValue),
    ),
    { maxKeys: 4 },
    // As JSON gives them (fast-check's dictionaries may have no prototype).
  )
  .map((args) => JSON.parse(JSON.stringify(args)) as Record<string, unknown>);
/** Function names Claude, OpenAI and Gemini all take. */
const toolName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,20}$/);
const count = fc.oneof(fc.constant(0), fc.nat({ max: 5000 }));

interface Call {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

interface Answer {
  reasoning: string;
  text: string;
  calls: Call[];
  /** Where a stream cuts text and argument JSON: positions in code points, any order. */
  cuts: number[];
}

const answer: fc.Arbitrary<Answer> = fc.record({
  reasoning: fc.oneof(fc.constant(''), text),
  text: fc.oneof(
    fc.constant(''),
    text,
    fc.array(text, { maxLength: 4 }).map((texts) => texts.join('')),
  ),
  calls: fc
    .uniqueArray(
      fc.record({ id: fc.stringMatching(/^[a-zA-Z0-9_]{1,12}$/), name: toolName, args: toolArguments }),
      {
        maxLength: 3,
        selector: (call) => call.id,
      },
    )
    .map((calls) => calls.map((call) => ({ ...call, id: `call_${call.id}` }))),
  cuts: fc.array(fc.nat({ max: 20_000 }), { maxLength: 8 }),
});

/** `value` cut at the answer's positions (in code points, so a character is never split). */
function pieces(value: string, cuts: readonly number[]): string[] {
  const points = Array.from(value);
  const at = [...new Set(cuts.map((cut) => cut % (points.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const cut of [...at, points.length]) {
    if (cut > from) out.push(points.slice(from, cut).join(''));
    from = Math.max(from, cut);
  }
  return out;
}

// --- the wire: SSE bytes cut anywhere -----------------------------------------------------

interface Wire {
  /** JSON as some servers write it: every character outside ASCII as a \u escape (Python's default). */
  asciiOnly: boolean;
  /** `: ping` comments, and where they go between frames. */
  keepAlives: number[];
  crlf: boolean;
  /** Byte positions where the body is cut into the chunks the reader is given. */
  byteCuts: number[];
}

const wire: fc.Arbitrary<Wire> = fc.record({
  asciiOnly: fc.boolean(),
  keepAlives: fc.array(fc.nat({ max: 40 }), { maxLength: 4 }),
  crlf: fc.boolean(),
  byteCuts: fc.array(fc.nat({ max: 40_000 }), { maxLength: 12 }),
});

function json(value: unknown, asciiOnly: boolean): string {
  const text = JSON.stringify(value);
  return asciiOnly
    ? text.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : text;
}

/** Each frame: an Anthropic event with its `event:` line, else `data:` alone (OpenAI's [DONE] as it is). */
function sseBody(events: readonly unknown[], named: boolean, format: Wire): Buffer {
  const eol = format.crlf ? '\r\n' : '\n';
  const frames = events.map((event) => {
    const data = event === OPENAI_DONE ? OPENAI_DONE : json(event, format.asciiOnly);
    const type = named ? `event: ${(event as { type: string }).type}${eol}` : '';
    return `${type}data: ${data}${eol}${eol}`;
  });
  for (const at of format.keepAlives) frames.splice(at % (frames.length + 1), 0, `: ping${eol}${eol}`);
  return Buffer.from(frames.join(''), 'utf8');
}

async function* chunks(body: Buffer, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  const at = [...new Set(cuts.map((cut) => cut % (body.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const cut of [...at, body.length]) {
    if (cut > from) yield body.subarray(from, cut);
    from = Math.max(from, cut);
  }
}

/** The events of the body as provider-call.ts hands them on: skimmed where it skims, else parsed. */
async function replay<Out>(
  body: Buffer,
  format: Wire,
  skim: (data: string) => unknown,
  translator: StreamTranslator<Out>,
): Promise<Out[]> {
  const out: Out[] = [];
  for await (const frame of new SseReader(chunks(body, format.byteCuts))) {
    const event = frame.data === OPENAI_DONE ? OPENAI_DONE : (skim(frame.data) ?? JSON.parse(frame.data));
    out.push(...translator.push(event));
  }
  out.push(...translator.close());
  assert.ok(translator.finished, 'the stream ended cleanly');
  return out;
}

// --- what the caller gets, compared -------------------------------------------------------

function assertOpenAISame(chunks: OpenAIChatChunkOut[], plain: OpenAIChatCompletionOut): void {
  const streamed = accumulateOpenAI(chunks);
  assert.equal(streamed.choices.length, plain.choices.length, 'choices');
  plain.choices.forEach((choice, index) => {
    const got = streamed.choices[index];
    assert.ok(got, `choice ${index}`);
    assert.equal(got.content, choice.message.content, 'content');
    assert.deepEqual(
      got.toolCalls.map((call) => ({ id: call.id, name: call.name, args: JSON.parse(call.arguments) })),
      (choice.message.tool_calls ?? []).map((call) => ({
        id: call.id,
        name: call.function.name,
        args: JSON.parse(call.function.arguments),
      })),
      'tool calls',
    );
    assert.equal(got.finishReason, choice.finish_reason, 'finish reason');
  });
  assert.deepEqual(streamed.usage, plain.usage, 'usage');
}

/** The text, thinking and tool calls of a message's blocks (a text may come in several blocks). */
function contentOf(content: AccumulatedMessage['content'] | AnthropicMessageOut['content']) {
  return {
    text: content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join(''),
    thinking: content.flatMap((block) => (block.type === 'thinking' ? [block.thinking] : [])).join(''),
    calls: content.flatMap((block) =>
      block.type === 'tool_use' ? [{ id: block.id, name: block.name, input: block.input }] : [],
    ),
  };
}

function assertAnthropicSame(
  events: Parameters<typeof accumulateAnthropic>[0],
  plain: AnthropicMessageOut,
): void {
  const streamed = accumulateAnthropic(events);
  assert.ok(streamed.complete, 'message_stop came');
  assert.deepEqual(contentOf(streamed.content), contentOf(plain.content), 'content');
  assert.equal(streamed.stopReason, plain.stop_reason, 'stop reason');
  assert.deepEqual(streamed.usage, plain.usage, 'usage');
}

// --- Claude's answers ---------------------------------------------------------------------

const anthropicUsage = fc.record(
  {
    input_tokens: count,
    output_tokens: count,
    cache_creation_input_tokens: count,
    cache_read_input_tokens: count,
  },
  { requiredKeys: ['input_tokens', 'output_tokens'] },
);

const claudeAnswer = fc.record({
  answer,
  stopReason: fc.constantFrom(
    'end_turn',
    'max_tokens',
    'stop_sequence',
    'tool_use',
    'pause_turn',
    'refusal',
    'model_context_window_exceeded',
    null,
  ),
  usage: anthropicUsage,
  /** Claude splits a text into blocks around citations. */
  textBlocks: fc.integer({ min: 1, max: 2 }),
  /** Newer Claude models repeat every count in message_delta; older ones give output_tokens only. */
  fullDelta: fc.boolean(),
  bareEmptyInput: fc.boolean(),
  /** A web search Claude ran (its call and results: no other dialect's), and thinking it redacted. */
  webSearch: fc.boolean(),
  redacted: fc.boolean(),
});

type ClaudeBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use' | 'server_tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'web_search_tool_result'; tool_use_id: string; content: unknown[] };

function claudeBlocks({ answer, textBlocks, webSearch, redacted }: Generated<typeof claudeAnswer>) {
  const blocks: ClaudeBlock[] = [];
  if (answer.reasoning !== '')
    blocks.push({ type: 'thinking', thinking: answer.reasoning, signature: 'sig' });
  if (redacted) blocks.push({ type: 'redacted_thinking', data: 'opaque' });
  if (webSearch)
    blocks.push(
      { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'Paris' } },
      {
        type: 'web_search_tool_result',
        tool_use_id: 'srvtoolu_1',
        content: [{ type: 'web_search_result', url: 'https://example.com', title: 'Paris' }],
      },
    );
  if (answer.text !== '' || answer.calls.length === 0) {
    const [first = '', ...rest] =
      textBlocks === 2 ? pieces(answer.text, answer.cuts.slice(0, 1)) : [answer.text];
    blocks.push({ type: 'text', text: first });
    if (rest.length > 0) blocks.push({ type: 'text', text: rest.join('') });
  }
  for (const call of answer.calls)
    blocks.push({ type: 'tool_use', id: `toolu_${call.id}`, name: call.name, input: call.args });
  return blocks;
}

function claudeMessage(generated: Generated<typeof claudeAnswer>) {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: claudeBlocks(generated),
    stop_reason: generated.stopReason,
    stop_sequence: null,
    usage: generated.usage,
  };
}

function claudeEvents(generated: Generated<typeof claudeAnswer>): unknown[] {
  const { usage, stopReason, fullDelta, answer } = generated;
  const { output_tokens, ...input } = usage;
  const events: unknown[] = [
    {
      type: 'message_start',
      message: {
        ...claudeMessage(generated),
        content: [],
        stop_reason: null,
        usage: { ...input, output_tokens: Math.min(1, output_tokens) },
      },
    },
  ];
  claudeBlocks(generated).forEach((block, index) => {
    if (block.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const text of pieces(block.text, answer.cuts))
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
    } else if (block.type === 'redacted_thinking' || block.type === 'web_search_tool_result') {
      events.push({ type: 'content_block_start', index, content_block: block });
    } else if (block.type === 'thinking') {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      for (const thinking of pieces(block.thinking, answer.cuts))
        events.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } });
      events.push({
        type: 'content_block_delta',
        index,
        delta: { type: 'signature_delta', signature: 'sig' },
      });
    } else {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: block.type, id: block.id, name: block.name, input: {} },
      });
      // Claude's first fragment is empty; the JSON may be cut inside an escape.
      // A tool without arguments streams that empty fragment alone.
      const json =
        Object.keys(block.input).length === 0 && generated.bareEmptyInput ? '' : JSON.stringify(block.input);
      for (const partial_json of ['', ...pieces(json, answer.cuts)])
        events.push({
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json },
        });
    }
    events.push({ type: 'content_block_stop', index });
    events.push({ type: 'ping' });
  });
  events.push({
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: fullDelta ? usage : { output_tokens },
  });
  events.push({ type: 'message_stop' });
  return events;
}

// --- GPT's answers ------------------------------------------------------------------------

const openAIUsage = fc.option(
  fc.record(
    {
      prompt_tokens: count,
      completion_tokens: count,
      prompt_tokens_details: fc.record({ cached_tokens: count }),
      completion_tokens_details: fc.record({ reasoning_tokens: count }),
    },
    { requiredKeys: ['prompt_tokens', 'completion_tokens'] },
  ),
  { nil: undefined },
);

const gptAnswer = fc.record({
  answer,
  finishReason: fc.constantFrom(
    'stop',
    'length',
    'tool_calls',
    'content_filter',
    'insufficient_system_resource',
    'eos',
  ),
  usage: openAIUsage,
  /** DeepSeek's field, or OpenRouter's. */
  reasoningField: fc.constantFrom('reasoning_content', 'reasoning'),
  refusal: fc.boolean(),
  /**
   * How the calls stream: one after the other (OpenAI), their fragments interleaved, each whole
   * at index 0 with its own id (Ollama), or with no index (Gemini's OpenAI-compatible endpoint).
   */
  calls: fc.constantFrom('in-turn', 'interleaved', 'ollama', 'no-index'),
  /** vLLM and Groq put the usage on the finish chunk; DeepSeek names its cache hits its own way. */
  usageOnFinish: fc.boolean(),
  deepSeekCache: fc.boolean(),
  /**
   * Argument text a weaker model may write in place of an object, by call. Anthropic's
   * tool_use input must be an object: the plain answer gives `{}`. Only text that cannot begin
   * an object: a call's JSON that begins with `{` streams live, and could not be taken back.
   */
  brokenArguments: fc.array(
    fc.option(fc.constantFrom('[1,2]', '"s"', '42', 'null', 'not json', '  ', ' [{}]'), { freq: 3 }),
    {
      minLength: 3,
      maxLength: 3,
    },
  ),
});

/** A call's arguments as the model wrote them. */
function argumentsText(generated: Generated<typeof gptAnswer>, index: number): string {
  const call = generated.answer.calls[index];
  return generated.brokenArguments[index] ?? JSON.stringify(call?.args ?? {});
}

function gptMessage(generated: Generated<typeof gptAnswer>) {
  const { answer, refusal, reasoningField } = generated;
  const refused = refusal && answer.text !== '' && answer.calls.length === 0;
  return {
    role: 'assistant',
    content: refused ? null : answer.text === '' && answer.calls.length > 0 ? null : answer.text,
    refusal: refused ? answer.text : null,
    ...(answer.reasoning !== '' ? { [reasoningField]: answer.reasoning } : {}),
    ...(answer.calls.length > 0
      ? {
          tool_calls: answer.calls.map((call, index) => ({
            id: call.id,
            type: 'function',
            function: { name: call.name, arguments: argumentsText(generated, index) },
          })),
        }
      : {}),
  };
}

function gptCompletion(generated: Generated<typeof gptAnswer>) {
  const { finishReason } = generated;
  const usage =
    generated.usage && generated.deepSeekCache
      ? (({ prompt_tokens_details, ...rest }) => ({
          ...rest,
          prompt_cache_hit_tokens: prompt_tokens_details?.cached_tokens ?? 0,
        }))(generated.usage)
      : generated.usage;
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4.1',
    choices: [{ index: 0, message: gptMessage(generated), finish_reason: finishReason }],
    ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
  };
}

function gptEvents(generated: Generated<typeof gptAnswer>): unknown[] {
  const { answer, usage, finishReason, reasoningField } = generated;
  const message = gptMessage(generated);
  const envelope = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1' };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...envelope,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const events: unknown[] = [chunk({ role: 'assistant', content: message.content === null ? null : '' })];
  for (const piece of pieces(answer.reasoning, answer.cuts)) events.push(chunk({ [reasoningField]: piece }));
  const shown = message.refusal ?? message.content ?? '';
  for (const piece of pieces(shown, answer.cuts))
    events.push(chunk(message.refusal !== null ? { refusal: piece } : { content: piece }));
  const fragments = answer.calls.map((_, index) => pieces(argumentsText(generated, index), answer.cuts));
  const opening = (call: Call, index: number) => ({
    ...(generated.calls === 'no-index' ? {} : { index: generated.calls === 'ollama' ? 0 : index }),
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: '' },
  });
  const fragment = (index: number, piece: string) => ({
    ...(generated.calls === 'no-index' ? {} : { index }),
    function: { arguments: piece },
  });
  if (generated.calls === 'ollama')
    for (const [index, call] of answer.calls.entries()) {
      const whole = {
        ...opening(call, index),
        function: { name: call.name, arguments: fragments[index]?.join('') },
      };
      events.push(chunk({ tool_calls: [whole] }));
    }
  else if (generated.calls === 'interleaved') {
    for (const [index, call] of answer.calls.entries())
      events.push(chunk({ tool_calls: [opening(call, index)] }));
    const longest = Math.max(0, ...fragments.map((list) => list.length));
    for (let at = 0; at < longest; at++)
      fragments.forEach((list, index) => {
        const piece = list[at];
        if (piece !== undefined) events.push(chunk({ tool_calls: [fragment(index, piece)] }));
      });
  } else
    answer.calls.forEach((call, index) => {
      events.push(chunk({ tool_calls: [opening(call, index)] }));
      for (const piece of fragments[index] ?? [])
        events.push(chunk({ tool_calls: [fragment(index, piece)] }));
    });
  const finalUsage = gptCompletion(generated).usage;
  if (usage && generated.usageOnFinish) events.push({ ...chunk({}, finishReason), usage: finalUsage });
  else {
    events.push(chunk({}, finishReason));
    if (usage) events.push({ ...envelope, choices: [], usage: finalUsage });
  }
  events.push(OPENAI_DONE);
  return events;
}

// --- Gemini's answers ---------------------------------------------------------------------

const geminiAnswer = fc
  .record({
    answer,
    finishReason: fc.constantFrom(
      'STOP',
      'MAX_TOKENS',
      'SAFETY',
      'RECITATION',
      'OTHER',
      'LANGUAGE',
      'MALFORMED_FUNCTION_CALL',
      'UNEXPECTED_TOOL_CALL',
    ),
    usage: fc.option(
      fc.record(
        {
          promptTokenCount: count,
          candidatesTokenCount: count,
          cachedContentTokenCount: count,
          thoughtsTokenCount: count,
        },
        // Gemini leaves out a count of zero candidates (an empty or blocked answer).
        { requiredKeys: ['promptTokenCount'] },
      ),
      { nil: undefined },
    ),
    /** Gemini 3 sends the final usage on a chunk of its own, after the finishReason. */
    usageAfterFinish: fc.boolean(),
    responseId: fc.option(fc.constant('resp-1'), { nil: undefined }),
    /** Gemini gives its own call ids only now and then. */
    givesIds: fc.boolean(),
  })
  // A failed call with nothing before it is an error streamed and a cut answer plain (README):
  // after some content it is an end like any other.
  .map((generated) =>
    /^(MALFORMED|UNEXPECTED)/.test(generated.finishReason) &&
    generated.answer.text === '' &&
    generated.answer.calls.length === 0
      ? { ...generated, finishReason: 'STOP' }
      : generated,
  );

function geminiParts({ answer, givesIds }: Generated<typeof geminiAnswer>) {
  return {
    thought: answer.reasoning === '' ? [] : [{ text: answer.reasoning, thought: true }],
    text: pieces(answer.text, answer.cuts).map((text) => ({ text })),
    calls: answer.calls.map((call) => ({
      functionCall: { ...(givesIds ? { id: call.id } : {}), name: call.name, args: call.args },
    })),
  };
}

function geminiResponse(generated: Generated<typeof geminiAnswer>) {
  const { thought, text, calls } = geminiParts(generated);
  const joined = text.length === 0 ? [] : [{ text: text.map((part) => part.text).join('') }];
  return {
    candidates: [
      {
        content: { role: 'model', parts: [...thought, ...joined, ...calls] },
        finishReason: generated.finishReason,
        index: 0,
      },
    ],
    ...(generated.usage ? { usageMetadata: generated.usage } : {}),
    modelVersion: 'gemini-2.5-flash',
    ...(generated.responseId ? { responseId: generated.responseId } : {}),
  };
}

function geminiEvents(generated: Generated<typeof geminiAnswer>): unknown[] {
  const { thought, text, calls } = geminiParts(generated);
  const { usage, finishReason, usageAfterFinish, responseId } = generated;
  const envelope = { modelVersion: 'gemini-2.5-flash', ...(responseId ? { responseId } : {}) };
  // A running count on every chunk (the prompt's, and the output so far), the final one last.
  const running = usage ? { usageMetadata: { promptTokenCount: usage.promptTokenCount } } : {};
  const parts = [...thought, ...text, ...calls];
  const events: unknown[] = parts.map((part) => ({
    candidates: [{ content: { role: 'model', parts: [part] }, index: 0 }],
    ...running,
    ...envelope,
  }));
  const final = usage ? { usageMetadata: usage } : {};
  events.push({
    candidates: [{ content: { role: 'model', parts: [] }, finishReason, index: 0 }],
    ...(usageAfterFinish ? running : final),
    ...envelope,
  });
  if (usageAfterFinish && usage) events.push({ ...final, ...envelope });
  return events;
}

/** A Gemini chunk's candidates as those of candidate `index`. */
function renumbered(event: unknown, index: number): unknown {
  const chunk = event as { candidates?: object[] };
  return chunk.candidates
    ? { ...chunk, candidates: chunk.candidates.map((candidate) => ({ ...candidate, index })) }
    : chunk;
}

const GEMINI = { fallbackId: 'req-1', requestedModel: 'gemini-2.5-flash' };

/**
 * The caller's own names for the tools the provider was sent under other names (too long for
 * it): every call of the answer named `a...` is the caller's `a...` with a suffix.
 */
function callerNames(calls: readonly Call[]): ReadonlyMap<string, string> {
  return new Map(
    calls
      .filter((call) => call.name.startsWith('a'))
      .map((call) => [call.name, `${call.name}_${'x'.repeat(60)}`]),
  );
}

describe('a streamed answer assembles to the answer translated whole (property)', () => {
  it('Claude -> OpenAI caller', async () => {
    await fc.assert(
      fc.asyncProperty(claudeAnswer, wire, async (generated, format) => {
        const plain = anthropicToOpenAIResponse(anthropicMessageResponse.parse(claudeMessage(generated)), {
          created: 1,
        });
        const body = sseBody(claudeEvents(generated), true, format);
        const chunks = await replay(
          body,
          format,
          skimAnthropicEvent,
          anthropicToOpenAIStream({ includeUsage: true, created: 1 }),
        );
        assertOpenAISame(chunks, plain);
      }),
      RUNS,
    );
  });

  it('GPT -> Anthropic caller', async () => {
    await fc.assert(
      fc.asyncProperty(gptAnswer, wire, async (generated, format) => {
        const toolNames = callerNames(generated.answer.calls);
        const plain = openAIToAnthropicResponse(openAIChatCompletion.parse(gptCompletion(generated)), {
          toolNames,
        });
        const body = sseBody(gptEvents(generated), false, format);
        const events = await replay(body, format, skimOpenAIChunk, openAIToAnthropicStream({ toolNames }));
        assertAnthropicSame(events, plain);
      }),
      RUNS,
    );
  });

  it('Gemini -> OpenAI caller', async () => {
    await fc.assert(
      fc.asyncProperty(geminiAnswer, wire, async (generated, format) => {
        const response = geminiGenerateContentResponse.parse(geminiResponse(generated));
        const plain = geminiToOpenAIResponse(response, { ...GEMINI, created: 1 });
        const body = sseBody(geminiEvents(generated), false, format);
        const chunks = await replay(
          body,
          format,
          () => undefined,
          geminiToOpenAIStream({ ...GEMINI, includeUsage: true, created: 1 }),
        );
        assertOpenAISame(chunks, plain);
      }),
      RUNS,
    );
  });

  it('Gemini, two candidates -> OpenAI caller (n: 2)', async () => {
    await fc.assert(
      fc.asyncProperty(geminiAnswer, geminiAnswer, wire, async (first, second, format) => {
        const [one, two] = [
          geminiResponse(first),
          geminiResponse({ ...second, responseId: first.responseId }),
        ];
        const candidates = [one.candidates[0], { ...two.candidates[0], index: 1 }];
        const response = geminiGenerateContentResponse.parse({ ...one, candidates });
        const plain = geminiToOpenAIResponse(response, { ...GEMINI, created: 1 });
        // The candidates' chunks in turn, each candidate's usage as the first's (one answer has one).
        const events = [
          ...geminiEvents(first),
          ...geminiEvents({
            ...second,
            usage: first.usage,
            usageAfterFinish: false,
            responseId: first.responseId,
          }).map((event) => renumbered(event, 1)),
        ];
        const body = sseBody(events, false, format);
        const chunks = await replay(
          body,
          format,
          () => undefined,
          geminiToOpenAIStream({ ...GEMINI, choices: 2, includeUsage: true, created: 1 }),
        );
        assertOpenAISame(chunks, plain);
      }),
      RUNS,
    );
  });

  it('Gemini -> Anthropic caller', async () => {
    await fc.assert(
      fc.asyncProperty(geminiAnswer, wire, async (generated, format) => {
        const response = geminiGenerateContentResponse.parse(geminiResponse(generated));
        const toolNames = callerNames(generated.answer.calls);
        const plain = geminiToAnthropicResponse(response, { ...GEMINI, toolNames });
        const body = sseBody(geminiEvents(generated), false, format);
        const events = await replay(
          body,
          format,
          () => undefined,
          geminiToAnthropicStream({ ...GEMINI, toolNames }),
        );
        assertAnthropicSame(events, plain);
      }),
      RUNS,
    );
  });
});
