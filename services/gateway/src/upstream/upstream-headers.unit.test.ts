import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseAnthropicRateLimits,
  parseGoDuration,
  parseOpenAIRateLimits,
  retryAfterFromRateLimits,
} from './rate-limit-headers.js';
import { redactSecrets } from './redact.js';
import { parseRetryAfterMs } from './retry-after.js';
import { BODY_EXCERPT_LENGTH, bodyExcerpt, errorTypeForStatus, isRetryableStatus } from './upstream-error.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');

describe('Go durations (OpenAI reset headers)', () => {
  const cases: [string, number | undefined][] = [
    ['20ms', 20],
    ['1s', 1000],
    ['1.5s', 1500],
    ['6m0s', 360_000],
    ['2m59.56s', 179_560],
    ['1h2m3s', 3_723_000],
    ['0s', 0],
    ['250us', 1],
    ['', undefined],
    ['6 minutes', undefined],
    ['1x', undefined],
    ['s', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${expected}`, () => assert.equal(parseGoDuration(text), expected));
  }
});

describe('rate-limit headers', () => {
  it('reads the OpenAI set', () => {
    const info = parseOpenAIRateLimits({
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-limit-tokens': '30000000',
      'x-ratelimit-remaining-requests': '9999',
      'x-ratelimit-remaining-tokens': '29999990',
      'x-ratelimit-reset-requests': '6ms',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    assert.deepEqual(info, {
      limitRequests: 10_000,
      limitTokens: 30_000_000,
      remainingRequests: 9999,
      remainingTokens: 29_999_990,
      resetRequestsMs: 6,
      resetTokensMs: 360_000,
    });
  });

  it('reads Azure, which sends only the remaining counts', () => {
    assert.deepEqual(
      parseOpenAIRateLimits({
        'x-ratelimit-remaining-requests': '99',
        'x-ratelimit-remaining-tokens': '9000',
      }),
      { remainingRequests: 99, remainingTokens: 9000 },
    );
  });

  it('gives undefined without any header, and skips unreadable values', () => {
    assert.equal(parseOpenAIRateLimits({ 'content-type': 'application/json' }), undefined);
    assert.deepEqual(
      parseOpenAIRateLimits({ 'x-ratelimit-remaining-requests': 'lots', 'x-ratelimit-reset-tokens': '1s' }),
      {
        resetTokensMs: 1000,
      },
    );
  });

  it('reads the Anthropic set with RFC 3339 resets', () => {
    const info = parseAnthropicRateLimits(
      {
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': '2025-06-01T12:00:07Z',
        'anthropic-ratelimit-tokens-limit': '40000',
        'anthropic-ratelimit-tokens-remaining': '39000',
        'anthropic-ratelimit-tokens-reset': '2025-06-01T11:59:00Z',
      },
      NOW,
    );
    assert.deepEqual(info, {
      limitRequests: 50,
      limitTokens: 40_000,
      remainingRequests: 0,
      remainingTokens: 39_000,
      resetRequestsMs: 7000,
      resetTokensMs: 0,
    });
  });

  it('falls back to the Anthropic input-token headers', () => {
    const info = parseAnthropicRateLimits(
      {
        'anthropic-ratelimit-input-tokens-remaining': '100',
        'anthropic-ratelimit-input-tokens-reset': '2025-06-01T12:00:01.500Z',
      },
      NOW,
    );
    assert.deepEqual(info, { remainingTokens: 100, resetTokensMs: 1500 });
  });

  it('takes the reset of the spent budget as the retry delay', () => {
    assert.equal(
      retryAfterFromRateLimits({ remainingRequests: 0, resetRequestsMs: 700, resetTokensMs: 9000 }),
      700,
    );
    assert.equal(
      retryAfterFromRateLimits({
        remainingRequests: 0,
        remainingTokens: 0,
        resetRequestsMs: 700,
        resetTokensMs: 9000,
      }),
      9000,
    );
    assert.equal(retryAfterFromRateLimits({ remainingRequests: 5, resetRequestsMs: 700 }), undefined);
    assert.equal(retryAfterFromRateLimits(undefined), undefined);
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds', () => assert.equal(parseRetryAfterMs({ 'retry-after': '7' }, NOW), 7000));
  it('reads fractional seconds', () => assert.equal(parseRetryAfterMs({ 'retry-after': '0.25' }, NOW), 250));
  it('reads an HTTP date', () =>
    assert.equal(parseRetryAfterMs({ 'retry-after': 'Sun, 01 Jun 2025 12:00:30 GMT' }, NOW), 30_000));
  it('gives 0 for a date in the past', () =>
    assert.equal(parseRetryAfterMs({ 'retry-after': 'Sun, 01 Jun 2025 11:00:00 GMT' }, NOW), 0));
  it('prefers retry-after-ms', () =>
    assert.equal(parseRetryAfterMs({ 'retry-after-ms': '1234.5', 'retry-after': '2' }, NOW), 1235));
  it('ignores garbage', () => {
    assert.equal(parseRetryAfterMs({ 'retry-after': 'soon' }, NOW), undefined);
    assert.equal(parseRetryAfterMs({ 'retry-after': '-3' }, NOW), undefined);
    assert.equal(parseRetryAfterMs({}, NOW), undefined);
  });
});

describe('secret redaction', () => {
  it('removes the secrets of the call wherever they appear', () => {
    const key = 'my-very-own-provider-key-123';
    assert.equal(
      redactSecrets(`bad key ${key}, really ${key}`, [key]),
      'bad key [redacted], really [redacted]',
    );
  });

  it('removes key-shaped strings it was not told about', () => {
    const text = [
      'Incorrect API key provided: sk-proj-abc*********************wxyz.',
      'Unknown api key AQVNabcdefghijklmnopqrstuvwxyz',
      'token t1.9euelZqOjY2Rm5KVkZmUnJOYx5Ll',
      'header Authorization: Bearer abcdef123456',
      'Basic ZTU2MjM2MjctYmI4Yy00MTJj',
      'https://example.test/v1?key=AIzaSyA-1234567890abcdefgh&alt=sse',
      'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc',
    ].join('\n');
    const clean = redactSecrets(text);
    for (const leaked of ['sk-proj', 'AQVN', 't1.9eu', 'abcdef123456', 'ZTU2MjM2', 'AIzaSy', 'eyJhbGci']) {
      assert.ok(!clean.includes(leaked), `${leaked} left in ${clean}`);
    }
    assert.match(clean, /alt=sse/);
  });

  it("removes Kordon's own secrets, whole or masked", () => {
    const secrets = [
      'kdn_Kordon0proxy0key0test0vector00011b5n6i',
      `kat_${'Ab3'.repeat(13)}x`,
      `krt_${'Cd4'.repeat(14)}y`,
      `kin_${'Ef5'.repeat(14)}z`,
      'kdn_Kord****b5n6i',
    ];
    const clean = redactSecrets(`Invalid input: ${secrets.join(', ')}.`);
    assert.equal(
      clean,
      'Invalid input: kdn_[redacted], kat_[redacted], krt_[redacted], kin_[redacted], kdn_[redacted].',
    );
    // In a raw JSON body a value on a new line follows `\n`; inside a word it is no key.
    assert.equal(
      redactSecrets(String.raw`{"error":"bad\n${secrets[1]}"} checkin_20240101abc`),
      String.raw`{"error":"bad\nkat_[redacted]"} checkin_20240101abc`,
    );
  });

  it('does not search for very short secrets', () => {
    assert.equal(redactSecrets('a b c', ['a']), 'a b c');
  });

  it('cuts excerpts after redacting, so no head of a secret remains at the edge', () => {
    const key = `k-${'x'.repeat(40)}`;
    const text = `${'.'.repeat(BODY_EXCERPT_LENGTH - 5)}${key}`;
    const excerpt = bodyExcerpt(text, [key]);
    assert.ok(excerpt !== undefined && !excerpt.includes('k-xxx'));
    assert.equal(bodyExcerpt(''), undefined);
  });
});

describe('status classification', () => {
  it('retries throttling and server errors only', () => {
    for (const status of [408, 429, 500, 502, 503, 504, 529])
      assert.ok(isRetryableStatus(status), String(status));
    for (const status of [400, 401, 403, 404, 413, 422])
      assert.ok(!isRetryableStatus(status), String(status));
  });

  it('names the error type', () => {
    assert.equal(errorTypeForStatus(401), 'authentication');
    assert.equal(errorTypeForStatus(429), 'rate_limit');
    assert.equal(errorTypeForStatus(529), 'overloaded');
    assert.equal(errorTypeForStatus(502), 'server_error');
  });
});
