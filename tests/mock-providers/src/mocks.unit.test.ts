import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitIntoParts, splitWords, toolArguments, truncateToTokens } from './answers.js';
import { formatOpenAIDuration } from './openai-mock.js';
import { QuotaBook } from './quota.js';
import { parseScenario, UnknownScenarioError } from './scenarios.js';
import { awkwardPieces } from './wire.js';

describe('parseScenario', () => {
  test('combines names and values', () => {
    assert.deepEqual(parseScenario('slow-first-byte=250, split-frames,no-usage'), {
      firstByteDelayMs: 250,
      splitFrames: true,
      omitUsage: true,
    });
    assert.deepEqual(parseScenario('rate-limit'), { error: 'rate-limit', retryAfterSeconds: 1 });
    assert.deepEqual(parseScenario('overloaded, retry-after=5'), {
      error: 'overloaded',
      retryAfterSeconds: 5,
    });
  });

  test('rejects unknown names and bad values', () => {
    assert.throws(() => parseScenario('explode'), UnknownScenarioError);
    assert.throws(() => parseScenario('reset-mid-stream=soon'), UnknownScenarioError);
    assert.throws(() => parseScenario('toString'), UnknownScenarioError);
  });
});

describe('QuotaBook', () => {
  test('counts down within a window and refills after it', () => {
    let now = 0;
    const book = new QuotaBook({ requests: 2, tokens: 100, windowSeconds: 10 }, () => now);
    book.spendRequest('k');
    book.spendTokens('k', 60);
    assert.equal(book.snapshot('k').remainingRequests, 1);
    assert.equal(book.snapshot('k').remainingTokens, 40);
    book.spendRequest('k');
    assert.equal(book.verdict('k'), 'requests-spent');
    now = 4_000;
    assert.equal(book.snapshot('k').resetMs, 6_000);
    now = 10_000;
    assert.equal(book.verdict('k'), 'ok');
    assert.equal(book.snapshot('k').remainingRequests, 2);
  });

  test('a spent token budget is its own verdict', () => {
    const book = new QuotaBook({ requests: 10, tokens: 5, windowSeconds: 60 }, () => 0);
    book.spendTokens('k', 9);
    assert.equal(book.verdict('k'), 'tokens-spent');
    assert.equal(book.snapshot('k').remainingTokens, 0);
  });
});

describe('awkwardPieces', () => {
  test('cuts inside data:, inside the first multi-byte character and before the last newline', () => {
    const frame = Buffer.from('data: {"t":"é"}\n\n', 'utf8');
    const pieces = awkwardPieces(frame);
    assert.deepEqual(Buffer.concat(pieces), frame);
    assert.equal(pieces[0]?.toString(), 'da');
    assert.equal(pieces[1]?.at(-1), 0xc3);
    assert.equal(pieces.at(-1)?.toString(), '\n');
  });
});

describe('answers', () => {
  test('splitWords and splitIntoParts give the text back', () => {
    for (const text of ['Mock reply: a  b 🌍 ', '', 'x']) assert.equal(splitWords(text).join(''), text);
    assert.equal(splitIntoParts('{"city":"Zürich"}', 4).join(''), '{"city":"Zürich"}');
  });

  test('truncateToTokens keeps whole characters', () => {
    assert.equal(truncateToTokens('abcdefgh', 1), 'abcd');
    assert.equal(truncateToTokens('ééé', 1), 'éé');
    assert.equal(truncateToTokens('short', undefined), 'short');
  });

  test('toolArguments fills the declared properties by type', () => {
    const schema = {
      type: 'object',
      properties: {
        q: { type: 'string' },
        n: { type: 'number' },
        unit: { type: 'string', enum: ['c', 'f'] },
      },
    };
    assert.deepEqual(toolArguments(schema, 'Paris'), { q: 'Paris', n: 42, unit: 'c' });
    assert.deepEqual(toolArguments(undefined, 'Paris'), {});
  });

  test('formatOpenAIDuration writes Go durations', () => {
    assert.equal(formatOpenAIDuration(20), '20ms');
    assert.equal(formatOpenAIDuration(1500), '1.5s');
    assert.equal(formatOpenAIDuration(360_000), '6m0s');
  });
});
