import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { countTextTokens } from './count.js';
import {
  baseModelName,
  getEncoder,
  MAX_SEGMENT_CHARS,
  preloadEncodings,
  segmentEnd,
  tokenizerForModel,
} from './tokenizer.js';

/** The library itself, counting a text whole: what a segmented count must equal. */
const wholeCount = (encoding: 'o200k_base' | 'cl100k_base', text: string): number =>
  (
    createRequire(import.meta.url)(`gpt-tokenizer/encoding/${encoding}`) as {
      countTokens(text: string, options: { disallowedSpecial: Set<string> }): number;
    }
  ).countTokens(text, { disallowedSpecial: new Set() });

describe('encodings', () => {
  test('"hello world" in o200k_base and cl100k_base (tiktoken reference ids)', () => {
    assert.deepEqual(getEncoder('o200k_base').encode('hello world'), [24912, 2375]);
    assert.deepEqual(getEncoder('cl100k_base').encode('hello world'), [15339, 1917]);
    assert.equal(getEncoder('o200k_base').count('hello world'), 2);
  });

  test('each encoding is loaded once and shared', () => {
    preloadEncodings();
    assert.equal(getEncoder('o200k_base'), getEncoder('o200k_base'));
    assert.notEqual(getEncoder('o200k_base'), getEncoder('cl100k_base'));
  });

  test('special-token strings in user text are plain text: no throw, not one control token', () => {
    const encoder = getEncoder('o200k_base');
    const n = encoder.count('<|endoftext|>');
    assert.ok(n > 1, `counted ${n}`);
    assert.equal(encoder.count(''), 0);
  });

  test('non-ASCII text', () => {
    // tiktoken's own example: "お誕生日おめでとう" is 8 tokens in o200k_base, 9 in cl100k_base.
    assert.equal(getEncoder('o200k_base').count('お誕生日おめでとう'), 8);
    assert.equal(getEncoder('cl100k_base').count('お誕生日おめでとう'), 9);
  });
});

describe('long text, counted in segments', () => {
  // Prose of many scripts and spacings: every kind of piece the pre-tokenizers make.
  const corpus = (length: number): string => {
    const lines = [
      'The quick brown fox, jumps over the lazy dog (again) and 42 times: it’s fine!',
      '  Indented   text\there;\r\n\n«Привет, мир» — 你好世界 お誕生日おめでとう 😀x 1234567 ',
      "const f = (a, b) => a + b; // don't    stop //// ----- ***** \n\n\n   ",
      'URL: https://example.test/path?q=1&r=2 e-mail: someone@example.test ',
    ];
    let text = '';
    for (let i = 0; text.length < length; i++) text += `${lines[i % lines.length]}${i} `;
    return text;
  };

  test('prose counts exactly as the library counts it whole, in both encodings', () => {
    const text = corpus(60_000);
    for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
      assert.equal(getEncoder(encoding).count(text), wholeCount(encoding, text), encoding);
    }
  });

  test('segments stay within the limit and never split a surrogate pair', () => {
    for (const text of [corpus(5_000), 'a'.repeat(5_000), '😀'.repeat(2_000), `x${'😀'.repeat(2_000)}`]) {
      for (let start = 0; text.length - start > MAX_SEGMENT_CHARS; ) {
        const end = segmentEnd(text, start);
        assert.ok(end > start && end - start <= MAX_SEGMENT_CHARS, `${start}..${end}`);
        const high = text.charCodeAt(end - 1);
        assert.ok(high < 0xd800 || high > 0xdbff, `cut after a high surrogate at ${end}`);
        start = end;
      }
    }
  });

  test('runs with no place to cut (one letter, spaces, symbols, base64) count close to whole', () => {
    // Whole, a megabyte of one letter took minutes (the merge is quadratic in a piece's length);
    // these are short enough to count whole for the comparison.
    const encoder = getEncoder('o200k_base');
    for (const text of [
      'a'.repeat(12_000),
      ' '.repeat(12_000),
      '/\n'.repeat(6_000),
      '!'.repeat(12_000),
      Buffer.from(Array.from({ length: 9_000 }, (_, i) => (i * 7919) % 251)).toString('base64'),
    ]) {
      const whole = wholeCount('o200k_base', text);
      const segmented = encoder.count(text);
      // A cut inside a piece can add a token: at most one a segment.
      assert.ok(
        segmented >= whole && segmented <= whole + text.length / (MAX_SEGMENT_CHARS / 2),
        `${segmented} vs ${whole}`,
      );
    }
  });

  test('a megabyte of one letter is counted (not minutes on the event loop)', { timeout: 30_000 }, () => {
    assert.equal(getEncoder('o200k_base').count('a'.repeat(1_000_000)), 125_000);
  });
});

describe('tokenizerForModel', () => {
  const cases: Array<[model: string, encoding: 'o200k_base' | 'cl100k_base', exact: boolean]> = [
    ['gpt-4o', 'o200k_base', true],
    ['gpt-4o-mini-2024-07-18', 'o200k_base', true],
    ['chatgpt-4o-latest', 'o200k_base', true],
    ['gpt-4.1-nano', 'o200k_base', true],
    ['gpt-4.5-preview', 'o200k_base', true],
    ['o1', 'o200k_base', true],
    ['o3-mini', 'o200k_base', true],
    ['o4-mini-2025-04-16', 'o200k_base', true],
    ['gpt-5', 'o200k_base', true],
    ['gpt-5.4-mini', 'o200k_base', true],
    ['openai/gpt-4o', 'o200k_base', true],
    ['ft:gpt-4o-mini-2024-07-18:acme::abc123', 'o200k_base', true],
    ['gpt-4', 'cl100k_base', true],
    ['gpt-4-0613', 'cl100k_base', true],
    ['gpt-4-turbo', 'cl100k_base', true],
    ['gpt-3.5-turbo-0125', 'cl100k_base', true],
    ['gpt-35-turbo', 'cl100k_base', true],
    ['gpt-35-turbo-16k', 'cl100k_base', true],
    ['text-embedding-3-small', 'cl100k_base', true],
    ['text-embedding-ada-002', 'cl100k_base', true],
    ['claude-sonnet-4-5-20250929', 'o200k_base', false],
    ['gemini-2.5-pro', 'o200k_base', false],
    ['mistral-large-2512', 'o200k_base', false],
    ['deepseek-chat', 'o200k_base', false],
    ['gpt://b1g/yandexgpt/latest', 'o200k_base', false],
    ['GigaChat-2-Max', 'o200k_base', false],
    ['gpt-oss-120b', 'o200k_base', false],
    ['o5-turbo-from-the-future', 'o200k_base', false],
  ];
  for (const [model, encoding, exact] of cases) {
    test(`${model}: ${encoding}${exact ? '' : ' (approximation)'}`, () => {
      const t = tokenizerForModel(model);
      assert.equal(t.encoding, encoding);
      assert.equal(t.exact, exact);
    });
  }

  test('baseModelName strips provider prefixes and fine-tune wrappers', () => {
    assert.equal(baseModelName(' OpenAI/GPT-4o '), 'gpt-4o');
    assert.equal(baseModelName('ft:gpt-4.1-mini-2025-04-14:acme:support:xyz'), 'gpt-4.1-mini-2025-04-14');
  });
});

describe('countTextTokens', () => {
  test('an OpenAI model is counted exactly with its own encoding', () => {
    assert.deepEqual(countTextTokens('hello world', 'gpt-4o'), {
      tokens: 2,
      encoding: 'o200k_base',
      exact: true,
      approximations: [],
    });
    assert.equal(countTextTokens('hello world', 'gpt-4').encoding, 'cl100k_base');
  });

  test('other vendors are counted with o200k_base and say it is an approximation', () => {
    assert.deepEqual(countTextTokens('hello world', 'claude-haiku-4-5'), {
      tokens: 2,
      encoding: 'o200k_base',
      exact: false,
      approximations: ['tokenizer'],
    });
  });

  test('a long completion is counted without building token arrays per call', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(2000);
    const count = countTextTokens(text, 'gpt-4o-mini').tokens;
    assert.equal(count, getEncoder('o200k_base').encode(text).length);
  });
});
