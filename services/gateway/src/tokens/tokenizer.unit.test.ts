import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countTextTokens } from './count.js';
import { baseModelName, getEncoder, preloadEncodings, tokenizerForModel } from './tokenizer.js';

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
