import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { LoggedBodies } from '../http/logged-bodies.js';
import { DEFAULT_LOGGING_POLICY } from '../registry/registry.js';
import { OpenAIStreamParser } from './openai-stream-parser.js';
import { StreamTranslator, UsageReport } from './stream-translator.js';
import { anthropicToOpenAIStream, geminiToOpenAIStream } from './streams.js';

const redactedText = { ...DEFAULT_LOGGING_POLICY, bodies: 'redacted' as const };
const KEY_A = `sk-proj-${'Ab3dE'.repeat(8)}`;
const KEY_B = `sk-proj-${'Zy9xW'.repeat(8)}`;

const chunk = (index: number, delta: object) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o',
  choices: [{ index, delta, finish_reason: null }],
});

/** Same dialect: the gateway follows the stream with the OpenAI parser and a follow-only emitter. */
const following = () => new StreamTranslator<never>(new OpenAIStreamParser(), { emit: () => [] });

describe('StreamTranslator.outputText: the text the request log keeps', () => {
  it('with n > 1, each choice is kept whole, so a key each echoes is redacted', () => {
    const translator = following();
    // Two choices streamed token by token, as OpenAI interleaves them for n=2.
    const pieces = (key: string) => key.match(/.{1,5}/g) ?? [];
    const a = pieces(KEY_A);
    const b = pieces(KEY_B);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]) translator.push(chunk(0, { content: a[i] }));
      if (b[i]) translator.push(chunk(1, { content: b[i] }));
    }
    translator.push('[DONE]');
    assert.equal(translator.outputText(), `${KEY_A}\n${KEY_B}`);
    const logged = new LoggedBodies(randomBytes(32), undefined).response(redactedText, 'org-1', '', () =>
      translator.outputText(),
    );
    assert.ok(
      !logged.includes(KEY_A.slice(8, 20)) && !logged.includes(KEY_B.slice(8, 20)),
      `stored: ${logged}`,
    );
  });

  it('a line between choices and between a choice’s text and each tool call, in choice order', () => {
    const translator = following();
    const call = (toolIndex: number, extra: object) => ({ tool_calls: [{ index: toolIndex, ...extra }] });
    translator.push(chunk(1, { content: 'second ' }));
    translator.push(chunk(0, { content: 'first ' }));
    translator.push(
      chunk(0, call(0, { id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a":' } })),
    );
    translator.push(
      chunk(0, call(1, { id: 'call_2', type: 'function', function: { name: 'get', arguments: '{"b":' } })),
    );
    translator.push(chunk(0, call(0, { function: { arguments: '1}' } })));
    translator.push(chunk(0, call(1, { function: { arguments: '2}' } })));
    translator.push(chunk(1, { content: 'choice' }));
    translator.push(chunk(0, { content: 'choice' }));
    translator.push('[DONE]');
    assert.equal(translator.outputText(), 'first choice\n{"a":1}\n{"b":2}\nsecond choice');
  });
});

describe('StreamTranslator.content: where time to first token ends', () => {
  it('is set by the first text, reasoning or tool call, not by the opening or an empty delta', () => {
    const cases: Array<[string, object, boolean]> = [
      ['role and empty content', { role: 'assistant', content: '' }, false],
      ['text', { content: 'Hi' }, true],
      ['reasoning', { reasoning_content: 'hmm' }, true],
      [
        'tool call',
        { tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }] },
        true,
      ],
    ];
    for (const [name, delta, expected] of cases) {
      const translator = following();
      translator.push(chunk(0, { role: 'assistant', content: '' }));
      assert.equal(translator.content, false, 'the opening chunk');
      translator.push(chunk(0, delta));
      assert.equal(translator.content, expected, name);
    }
  });
});

describe("StreamTranslator.facts: the provider's own finish reason, as a plain answer's span has it", () => {
  it("keeps Claude's, Gemini's and OpenAI's words, while the caller gets its dialect's", () => {
    const claude = anthropicToOpenAIStream({ includeUsage: false, created: 1 });
    claude.push({
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    });
    const out = claude.push({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 2 },
    });
    assert.deepEqual(claude.facts.finishReasons, ['end_turn']);
    assert.equal(out.map((c) => c.choices[0]?.finish_reason).find(Boolean), 'stop');

    const gemini = geminiToOpenAIStream({
      includeUsage: false,
      created: 1,
      model: 'gemini-2.5-flash',
      fallbackId: 'req_1',
      requestedModel: 'gemini-2.5-flash',
    });
    gemini.push({
      candidates: [
        { index: 0, content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'MAX_TOKENS' },
      ],
    });
    assert.deepEqual(gemini.facts.finishReasons, ['MAX_TOKENS']);

    const openai = following();
    openai.push({
      ...chunk(0, { content: 'Hi' }),
      choices: [{ index: 0, delta: {}, finish_reason: 'length' }],
    });
    assert.deepEqual(openai.facts.finishReasons, ['length']);
  });
});

describe('StreamTranslator.usageSoFar: what a failed stream is charged', () => {
  it('a Gemini stream failed by a malformed call is charged the usage reported on the chunk after it', () => {
    const gemini = geminiToOpenAIStream({
      includeUsage: true,
      created: 1,
      model: 'gemini-3-flash-preview',
      fallbackId: 'req_1',
      requestedModel: 'gemini-3-flash-preview',
    });
    gemini.push({
      candidates: [
        { index: 0, content: { role: 'model', parts: [] }, finishReason: 'MALFORMED_FUNCTION_CALL' },
      ],
    });
    assert.equal(gemini.failure?.kind, 'upstream_error');
    const late = gemini.push({ usageMetadata: { promptTokenCount: 10, thoughtsTokenCount: 900 } });
    assert.deepEqual(late, [], 'nothing more reaches the caller');
    const usage = gemini.usageSoFar();
    assert.deepEqual({ input: usage?.inputTokens, output: usage?.outputTokens }, { input: 10, output: 900 });
  });

  it('a UsageReport beside the stream: no event, not malformed; charged on a cut with the text after it counted, the final usage once whole', () => {
    const counted = new StreamTranslator<unknown>(
      new OpenAIStreamParser(),
      { emit: (part) => [part.type] },
      { fallbackUsage: (text) => ({ inputTokens: 5, outputTokens: text.length, cachedInputTokens: 0 }) },
    );
    counted.push(chunk(0, { content: 'abc' }));
    const report = { inputTokens: 40, outputTokens: 300, cachedInputTokens: 0, reasoningTokens: 290 };
    assert.deepEqual(counted.push(new UsageReport(report)), [], 'nothing for the caller');
    assert.equal(counted.failure, undefined);
    assert.deepEqual(counted.usageSoFar(), report, 'the report, not the larger tokenizer count');
    counted.push(chunk(0, { content: 'defg' }));
    assert.deepEqual(counted.usageSoFar(), { ...report, outputTokens: 304 }, 'plus the 4 counted after it');
    const final = {
      prompt_tokens: 40,
      completion_tokens: 305,
      completion_tokens_details: { reasoning_tokens: 290 },
    };
    counted.push({ ...chunk(0, {}), choices: [], usage: final });
    counted.push('[DONE]');
    const whole = { inputTokens: 40, outputTokens: 305, cachedInputTokens: 0, reasoningTokens: 290 };
    assert.deepEqual(counted.usageSoFar(), whole, 'once finished, the final usage');
  });
});
