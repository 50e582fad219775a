import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WindowDecision } from '../limits/windows.js';
import { parseAnthropicRateLimits, parseGoDuration, parseOpenAIRateLimits } from '../upstream/index.js';
import { goDuration, resetInstant, setLimitHeaders } from './limit-headers.js';

const decision = (limit: number, remaining: number, resetMs: number): WindowDecision => ({
  allowed: true,
  limit,
  remaining,
  resetMs,
  retryAfterMs: 0,
});

const headersOf = (
  dialect: 'openai' | 'anthropic',
  now: number,
  rates: Parameters<typeof setLimitHeaders>[2],
) => {
  const headers: Record<string, string> = {};
  setLimitHeaders({ setHeader: (name, value) => (headers[name] = value) }, dialect, rates, now);
  return headers;
};

describe('limit headers', () => {
  it("writes resets as Go's time.Duration.String() does, as OpenAI sends them", () => {
    assert.equal(goDuration(0), '0s');
    assert.equal(goDuration(20), '20ms');
    assert.equal(goDuration(999.6), '1s');
    assert.equal(goDuration(1000), '1s');
    assert.equal(goDuration(8640), '8.64s');
    assert.equal(goDuration(60_000), '1m0s');
    assert.equal(goDuration(75_500), '1m15.5s');
    assert.equal(goDuration(360_000), '6m0s');
    assert.equal(goDuration(3_600_000), '1h0m0s');
    assert.equal(goDuration(3_723_004), '1h2m3.004s');
    for (const ms of [0, 20, 1000, 8640, 60_000, 75_500, 3_723_004])
      assert.equal(parseGoDuration(goDuration(ms)), ms);
  });

  it('writes Anthropic resets as RFC 3339 instants to the second, never before the reset', () => {
    const now = Date.parse('2026-12-05T10:59:58.250Z');
    assert.equal(resetInstant(now, 0), '2026-12-05T10:59:59Z');
    assert.equal(resetInstant(now, 1750), '2026-12-05T11:00:00Z');
    assert.equal(resetInstant(now, 1751), '2026-12-05T11:00:01Z');
  });

  it("gives OpenAI callers x-ratelimit-* and Anthropic callers anthropic-ratelimit-*, each its provider's parser reads", () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    const rates = { requests: decision(60, 59, 1000), tokens: decision(10_000, 9_400, 75_500) };
    const openai = headersOf('openai', now, rates);
    assert.deepEqual(openai, {
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': '9400',
      'x-ratelimit-reset-tokens': '1m15.5s',
    });
    const anthropic = headersOf('anthropic', now, rates);
    assert.deepEqual(anthropic, {
      'anthropic-ratelimit-requests-limit': '60',
      'anthropic-ratelimit-requests-remaining': '59',
      'anthropic-ratelimit-requests-reset': '2026-12-05T10:00:01Z',
      'anthropic-ratelimit-tokens-limit': '10000',
      'anthropic-ratelimit-tokens-remaining': '9400',
      'anthropic-ratelimit-tokens-reset': '2026-12-05T10:01:16Z',
    });
    // Kordon's own parsers of the providers' headers read them back.
    const expected = { limitRequests: 60, remainingRequests: 59, limitTokens: 10_000, remainingTokens: 9400 };
    assert.deepEqual(parseOpenAIRateLimits(openai), {
      ...expected,
      resetRequestsMs: 1000,
      resetTokensMs: 75_500,
    });
    assert.deepEqual(parseAnthropicRateLimits(anthropic, now), {
      ...expected,
      resetRequestsMs: 1000,
      resetTokensMs: 76_000,
    });
  });

  it('writes nothing where no rate limit applies, and no negative remaining', () => {
    assert.deepEqual(headersOf('anthropic', 0, {}), {});
    assert.equal(
      headersOf('openai', 0, { tokens: decision(100, -5, 0) })['x-ratelimit-remaining-tokens'],
      '0',
    );
  });
});
