import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countTextTokens } from '../tokens/index.js';
import { accumulateAnthropic, accumulateOpenAI } from './__fixtures__/accumulate.js';
import { jsonFixture, sseEvents } from './__fixtures__/sse-fixtures.js';
import { geminiGenerateContentResponse } from './gemini-types.js';
import { geminiToAnthropicResponse, geminiToOpenAIResponse } from './responses.js';
import { geminiToAnthropicStream, geminiToOpenAIStream } from './streams.js';

const created = 1_750_000_000;
const context = { fallbackId: 'req_1', requestedModel: 'gemini-2.5-flash' };

function toOpenAI(events: readonly unknown[], options: { includeUsage?: boolean; choices?: number } = {}) {
  const translator = geminiToOpenAIStream({
    includeUsage: options.includeUsage ?? true,
    created,
    ...context,
    ...options,
  });
  // close(): the upstream body ended, as the edge calls it.
  return {
    translator,
    chunks: [...events.flatMap((event) => translator.push(event)), ...translator.close()],
  };
}

function toAnthropic(events: readonly unknown[]) {
  const translator = geminiToAnthropicStream(context);
  return {
    translator,
    events: [...events.flatMap((event) => translator.push(event)), ...translator.close()],
  };
}

/** The recorded stream without its last chunk's finishReason: what the no-terminator scenario sends. */
function withoutFinishReason(events: readonly unknown[]): unknown[] {
  const last = structuredClone(events.at(-1)) as { candidates: { finishReason?: string }[] };
  for (const candidate of last.candidates) delete candidate.finishReason;
  return [...events.slice(0, -1), last];
}

/** Gemini 3: the finishReason chunk, then the final usage on a chunk of its own (docker/docker-agent#2848). */
const FINISH_THEN_USAGE = [
  {
    candidates: [{ content: { role: 'model', parts: [{ text: 'Hello' }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 1, totalTokenCount: 11 },
    responseId: 'r1',
  },
  {
    usageMetadata: {
      promptTokenCount: 10,
      candidatesTokenCount: 2,
      thoughtsTokenCount: 40,
      totalTokenCount: 52,
    },
    responseId: 'r1',
  },
];

describe('Gemini stream -> OpenAI chunks', () => {
  it('a text stream (recorded): role, word groups, finish, usage; means what the whole answer means', () => {
    const { translator, chunks } = toOpenAI(sseEvents('gemini-text.sse'));
    assert.deepEqual(
      chunks.map((chunk) => chunk.choices[0]?.delta ?? 'usage'),
      [
        { role: 'assistant', content: '' },
        { content: 'Mock reply: Hello' },
        { content: ' there, how are' },
        { content: ' you today my' },
        { content: ' friend?' },
        {},
        'usage',
      ],
    );
    const streamed = accumulateOpenAI(chunks);
    const whole = geminiToOpenAIResponse(
      geminiGenerateContentResponse.parse(jsonFixture('gemini-text.json')),
      {
        created,
        ...context,
      },
    );
    assert.equal(streamed.choices[0]?.content, whole.choices[0]?.message.content);
    assert.equal(streamed.choices[0]?.finishReason, 'stop');
    assert.deepEqual(streamed.usage, whole.usage);
    assert.equal(streamed.id, 'mock-response-000003');
    assert.ok(translator.finished);
  });

  it('a function call (recorded) arrives whole: one start and one argument delta; finish tool_calls', () => {
    const { chunks } = toOpenAI(sseEvents('gemini-tool.sse'));
    const completion = accumulateOpenAI(chunks);
    assert.deepEqual(completion.choices[0], {
      content: null,
      toolCalls: [
        { id: 'call_mock-response-000004_0', name: 'get_weather', arguments: '{"city":"Paris","days":42}' },
      ],
      finishReason: 'tool_calls',
    });
  });

  it("a function call only: its chunk opens the choice with content null, as OpenAI's and the plain answer", () => {
    const { chunks } = toOpenAI(sseEvents('gemini-tool.sse'));
    assert.deepEqual(chunks[0]?.choices[0]?.delta, {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          index: 0,
          id: 'call_mock-response-000004_0',
          type: 'function',
          function: { name: 'get_weather', arguments: '' },
        },
      ],
    });
    const whole = geminiToOpenAIResponse(
      geminiGenerateContentResponse.parse(jsonFixture('gemini-tool.json')),
      { created, ...context },
    );
    assert.equal(whole.choices[0]?.message.content, null);
    assert.equal(accumulateOpenAI(chunks).choices[0]?.content, whole.choices[0]?.message.content);
  });

  it('a prompt blocked before any candidate: one choice, content null (its role with the finish), as plain', () => {
    const blocked = { promptFeedback: { blockReason: 'SAFETY' }, responseId: 'r-blocked' };
    const { chunks } = toOpenAI([blocked]);
    assert.deepEqual(chunks[0]?.choices[0]?.delta, { role: 'assistant', content: null });
    const whole = geminiToOpenAIResponse(geminiGenerateContentResponse.parse(blocked), {
      created,
      ...context,
    });
    assert.deepEqual(
      accumulateOpenAI(chunks).choices.map((choice) => [choice.content, choice.finishReason]),
      whole.choices.map((choice) => [choice.message.content, choice.finish_reason]),
    );
  });

  it('without a responseId, call ids are made from the fallback (request) id: they differ between streams', () => {
    const chunk = {
      candidates: [
        {
          content: { parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
          finishReason: 'STOP',
        },
      ],
    };
    const ids = ['req_first', 'req_second'].map((fallbackId) => {
      const translator = geminiToOpenAIStream({ includeUsage: false, created, ...context, fallbackId });
      return accumulateOpenAI(translator.push(chunk)).choices[0]?.toolCalls[0]?.id;
    });
    assert.deepEqual(ids, ['call_req_first_0', 'call_req_second_0']);
  });

  it('thought parts are skipped; thoughts and cache are in the usage (docs)', () => {
    const { chunks, translator } = toOpenAI(sseEvents('docs-gemini-thinking-cache.sse'));
    const completion = accumulateOpenAI(chunks);
    assert.equal(completion.choices[0]?.content, 'Paris is sunny. Rome too.');
    assert.deepEqual(completion.usage, {
      prompt_tokens: 1040,
      completion_tokens: 37,
      total_tokens: 1077,
      prompt_tokens_details: { cached_tokens: 1000 },
      completion_tokens_details: { reasoning_tokens: 30 },
    });
    assert.equal(translator.outputText(), 'Paris is sunny. Rome too.');
  });

  it('two candidates (n=2) stream as two choices; complete when both finished', () => {
    const chunk = (candidates: object[]) => ({ candidates, responseId: 'r2' });
    const { chunks, translator } = toOpenAI(
      [
        chunk([
          { content: { parts: [{ text: 'A' }] }, index: 0 },
          { content: { parts: [{ text: 'B' }] }, index: 1 },
        ]),
        chunk([{ content: { parts: [{ text: '!' }] }, finishReason: 'STOP', index: 0 }]),
        chunk([{ content: { parts: [{ text: '?' }] }, finishReason: 'MAX_TOKENS', index: 1 }]),
      ],
      { choices: 2, includeUsage: false },
    );
    const completion = accumulateOpenAI(chunks);
    assert.deepEqual(
      completion.choices.map((choice) => [choice.content, choice.finishReason]),
      [
        ['A!', 'stop'],
        ['B?', 'length'],
      ],
    );
    assert.ok(translator.finished);
  });

  it('a prompt blocked before any candidate finishes with content_filter', () => {
    const { chunks, translator } = toOpenAI([
      {
        promptFeedback: { blockReason: 'SAFETY' },
        usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
      },
    ]);
    assert.equal(accumulateOpenAI(chunks).choices[0]?.finishReason, 'content_filter');
    assert.ok(translator.finished);
    assert.deepEqual(translator.usage, { inputTokens: 8, outputTokens: 0, cachedInputTokens: 0 });
  });

  it('a candidate flagged for an unsupported language (LANGUAGE) finishes with content_filter, as in Anthropic', () => {
    const flagged = [
      {
        candidates: [{ content: { role: 'model' }, finishReason: 'LANGUAGE', index: 0 }],
        usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
        responseId: 'r_lang',
      },
    ];
    const { chunks, translator } = toOpenAI(flagged);
    assert.equal(accumulateOpenAI(chunks).choices[0]?.finishReason, 'content_filter');
    assert.ok(translator.finished);
    assert.equal(accumulateAnthropic(toAnthropic(flagged).events).stopReason, 'refusal');
  });

  describe('usage that comes after the finishReason chunk (Gemini 3)', () => {
    it('the usage chunk, written when the body ends, carries the last usage reported (what is charged)', () => {
      const { chunks, translator } = toOpenAI(FINISH_THEN_USAGE);
      assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, 'stop');
      assert.equal(chunks.at(-1)?.usage?.completion_tokens, 42);
      assert.equal(translator.usage?.outputTokens, 42);
    });

    it('the finish chunk goes out at once, the usage chunk only at close()', () => {
      const translator = geminiToOpenAIStream({ includeUsage: true, created, ...context });
      const atFinish = translator.push(FINISH_THEN_USAGE[0]);
      assert.equal(atFinish.at(-1)?.choices[0]?.finish_reason, 'stop');
      assert.ok(atFinish.every((chunk) => !chunk.usage));
      assert.deepEqual(translator.push(FINISH_THEN_USAGE[1]), []);
      assert.ok(translator.finished);
      const atClose = translator.close();
      assert.deepEqual(
        atClose.map((chunk) => [
          chunk.choices.length,
          chunk.usage?.prompt_tokens,
          chunk.usage?.completion_tokens,
        ]),
        [[0, 10, 42]],
      );
      assert.deepEqual(translator.close(), [], 'only once');
    });

    it("a finish chunk without usage, then a usage-only chunk: the usage chunk says Gemini's, not a count", () => {
      const { chunks } = toOpenAI([
        {
          candidates: [{ content: { role: 'model', parts: [{ text: 'Hello' }] }, index: 0 }],
          responseId: 'r2',
        },
        {
          candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }],
        },
        {
          usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, totalTokenCount: 12 },
          responseId: 'r2',
        },
      ]);
      const usage = chunks.at(-1)?.usage;
      assert.deepEqual([usage?.prompt_tokens, usage?.completion_tokens], [10, 2]);
    });
  });

  describe('a stream that does not end cleanly is never reported as finished', () => {
    it('no finishReason on the last chunk (no-terminator): not finished, no finish or usage chunk', () => {
      const { chunks, translator } = toOpenAI(withoutFinishReason(sseEvents('gemini-text.sse')));
      assert.equal(translator.finished, false);
      assert.ok(chunks.every((chunk) => chunk.choices[0]?.finish_reason === null));
      assert.deepEqual(translator.usage, { inputTokens: 17, outputTokens: 14, cachedInputTokens: 0 });
    });

    it('cut after the first chunk: the running usage is what the gateway records', () => {
      const { translator } = toOpenAI(sseEvents('gemini-text.sse').slice(0, 1));
      assert.equal(translator.finished, false);
      assert.deepEqual(translator.usage, { inputTokens: 17, outputTokens: 5, cachedInputTokens: 0 });
    });

    it('a failed function call (MALFORMED_FUNCTION_CALL) before any content is a failure; its usage is kept', () => {
      const { chunks, translator } = toOpenAI([
        {
          candidates: [
            {
              content: { role: 'model' },
              finishReason: 'MALFORMED_FUNCTION_CALL',
              finishMessage: 'Malformed function call: print(default_api.get_weather(',
            },
          ],
          usageMetadata: { promptTokenCount: 40, totalTokenCount: 40 },
          responseId: 'resp_failed',
        },
      ]);
      assert.deepEqual(translator.failure, {
        kind: 'upstream_error',
        errorType: 'MALFORMED_FUNCTION_CALL',
        message:
          'Gemini ended the answer with MALFORMED_FUNCTION_CALL: Malformed function call: print(default_api.get_weather(',
        answered: true,
      });
      assert.equal(translator.finished, false);
      assert.ok(chunks.every((chunk) => chunk.choices[0]?.finish_reason == null));
      assert.deepEqual(translator.usageSoFar(), { inputTokens: 40, outputTokens: 0, cachedInputTokens: 0 });
    });

    it('a failed function call after some text ends normally with that text', () => {
      const { chunks, translator } = toOpenAI([
        { candidates: [{ content: { parts: [{ text: 'Let me check.' }] } }] },
        { candidates: [{ content: { role: 'model' }, finishReason: 'TOO_MANY_TOOL_CALLS' }] },
      ]);
      assert.ok(translator.finished);
      assert.deepEqual(accumulateOpenAI(chunks).choices[0], {
        content: 'Let me check.',
        toolCalls: [],
        finishReason: 'stop',
      });
    });

    it('an error object in the stream is a failure, with the status its code names', () => {
      const { translator } = toOpenAI([
        ...sseEvents('gemini-text.sse').slice(0, 2),
        { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } },
      ]);
      assert.deepEqual(translator.failure, {
        kind: 'upstream_error',
        errorType: 'UNAVAILABLE',
        message: 'The model is overloaded.',
        status: 503,
      });
      assert.equal(translator.finished, false);
    });

    it("a RESOURCE_EXHAUSTED event names the model of its QuotaFailure and its RetryInfo delay, as a 429's body does", () => {
      const exhausted = (...dimensions: Record<string, string>[]) => ({
        error: {
          code: 429,
          message: 'You exceeded your current quota, please check your plan and billing details.',
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: dimensions.map((quotaDimensions) => ({
                quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
                quotaDimensions,
              })),
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '50s' },
          ],
        },
      });
      const perModel = toOpenAI([exhausted({ location: 'global', model: 'gemini-3-flash-preview' })]);
      assert.deepEqual(perModel.translator.failure, {
        kind: 'upstream_error',
        errorType: 'RESOURCE_EXHAUSTED',
        message: 'You exceeded your current quota, please check your plan and billing details.',
        status: 429,
        retryAfterMs: 50_000,
        quotaModel: 'gemini-3-flash-preview',
      });
      // A quota of the whole project (a violation without a model) rests the whole key.
      const project = toOpenAI([exhausted({ model: 'gemini-3-flash-preview' }, { location: 'global' })]);
      const failure = project.translator.failure;
      assert.equal(failure?.kind === 'upstream_error' ? failure.quotaModel : 'not an error', undefined);
    });
  });

  describe('a thinking stream cut mid-answer is charged the thoughts and the text streamed', () => {
    const THOUGHTS = 2000;
    const WORDS = Array.from({ length: 6 }, (_, i) => ` lighthouse${i} keeper`.repeat(20));
    // What exchange.ts passes as fallbackUsage: the prompt estimate plus the streamed text counted.
    const fallbackUsage = (outputText: string) => ({
      inputTokens: 50,
      outputTokens: countTextTokens(outputText, 'gemini-2.5-pro').tokens,
      cachedInputTokens: 0,
    });
    const textTokens = countTextTokens(WORDS.join(''), 'gemini-2.5-pro').tokens;
    const cut = (usageMetadata: (i: number) => Record<string, number>) => {
      const translator = geminiToOpenAIStream({ includeUsage: true, created, ...context, fallbackUsage });
      WORDS.forEach((text, i) => {
        translator.push({
          candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0 }],
          usageMetadata: usageMetadata(i),
        });
      });
      return translator;
    };

    it('the middle chunks report the thoughts only (Gemini 2.5): the text counted is added to them', () => {
      const translator = cut(() => ({
        promptTokenCount: 50,
        thoughtsTokenCount: THOUGHTS,
        totalTokenCount: 50 + THOUGHTS,
      }));
      assert.equal(translator.finished, false);
      assert.deepEqual(translator.usageSoFar(), {
        inputTokens: 50,
        outputTokens: THOUGHTS + textTokens,
        cachedInputTokens: 0,
        reasoningTokens: THOUGHTS,
      });
    });

    it('the middle chunks report a running total of the text too: it is not charged twice', () => {
      const perChunk = Math.ceil(textTokens / WORDS.length) + 5;
      const translator = cut((i) => ({
        promptTokenCount: 50,
        candidatesTokenCount: perChunk * (i + 1),
        thoughtsTokenCount: THOUGHTS,
        totalTokenCount: 50 + THOUGHTS + perChunk * (i + 1),
      }));
      assert.deepEqual(translator.usageSoFar(), {
        inputTokens: 50,
        outputTokens: THOUGHTS + perChunk * WORDS.length,
        cachedInputTokens: 0,
        reasoningTokens: THOUGHTS,
      });
    });
  });
});

describe('Gemini stream -> Anthropic events', () => {
  it('a text stream (recorded): message_start with the prompt tokens, one text block, message_delta, message_stop', () => {
    const { events, translator } = toAnthropic(sseEvents('gemini-text.sse'));
    assert.deepEqual(events[0], {
      type: 'message_start',
      message: {
        id: 'mock-response-000003',
        type: 'message',
        role: 'assistant',
        model: 'gemini-2.5-flash',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 17,
          output_tokens: 5,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      },
    });
    const streamed = accumulateAnthropic(events);
    const whole = geminiToAnthropicResponse(
      geminiGenerateContentResponse.parse(jsonFixture('gemini-text.json')),
      context,
    );
    assert.deepEqual(streamed.content, whole.content);
    assert.equal(streamed.stopReason, 'end_turn');
    assert.deepEqual(streamed.usage, whole.usage);
    assert.ok(streamed.complete);
    assert.ok(translator.finished);
  });

  it('a function call (recorded): a tool_use block with the whole input as one delta', () => {
    const { events } = toAnthropic(sseEvents('gemini-tool.sse'));
    const message = accumulateAnthropic(events);
    assert.deepEqual(message.content, [
      {
        type: 'tool_use',
        id: 'call_mock-response-000004_0',
        name: 'get_weather',
        input: { city: 'Paris', days: 42 },
      },
    ]);
    assert.equal(message.stopReason, 'tool_use');
  });

  it('a failed function call before any content: no message_stop, a failure', () => {
    const { events, translator } = toAnthropic([
      { candidates: [{ finishReason: 'UNEXPECTED_TOOL_CALL' }], usageMetadata: { promptTokenCount: 12 } },
    ]);
    assert.equal(translator.failure?.message, 'Gemini ended the answer with UNEXPECTED_TOOL_CALL.');
    assert.equal(translator.finished, false);
    assert.ok(events.every((event) => event.type !== 'message_stop' && event.type !== 'message_delta'));
    assert.equal(translator.usage?.inputTokens, 12);
  });

  it('usage after the finishReason chunk (Gemini 3): message_delta carries the last usage reported', () => {
    const translator = geminiToAnthropicStream(context);
    const atFinish = FINISH_THEN_USAGE.flatMap((event) => translator.push(event));
    assert.ok(atFinish.every((event) => event.type !== 'message_delta' && event.type !== 'message_stop'));
    const events = [...atFinish, ...translator.close()];
    const delta = events.find((event) => event.type === 'message_delta');
    assert.equal(delta?.type === 'message_delta' ? delta.usage.output_tokens : undefined, 42);
    assert.ok(accumulateAnthropic(events).complete);
  });

  it('no finishReason (no-terminator): no message_stop, not finished', () => {
    const { events, translator } = toAnthropic(withoutFinishReason(sseEvents('gemini-text.sse')));
    assert.equal(translator.finished, false);
    assert.equal(accumulateAnthropic(events).complete, false);
  });
});
