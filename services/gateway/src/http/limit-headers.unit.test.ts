import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { type Admission, LimitsEnforcer } from '../limits/admission.js';
import { parseIp } from '../limits/ip-address.js';
import type { WindowDecision } from '../limits/windows.js';
import { registryProjection } from '../registry/registry.js';
import { parseAnthropicRateLimits, parseGoDuration, parseOpenAIRateLimits } from '../upstream/index.js';
import { type Dialect, sendError } from './gateway-error.js';
import { LimitRefusalError } from './generate.js';
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

/** The headers of the answer a refusal gets, written by the edge as to a caller. */
function refusalHeaders(admission: Admission, dialect: Dialect): Record<string, unknown> {
  assert.ok(!admission.ok, 'refused');
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  sendError(res, new LimitRefusalError(admission), dialect, 'req_1');
  return res.getHeaders();
}

const OPENAI_NAMES = ['limit', 'remaining', 'reset'].flatMap((what) =>
  ['requests', 'tokens'].map((unit) => `x-ratelimit-${what}-${unit}`),
);
const ANTHROPIC_NAMES = ['requests', 'tokens'].flatMap((unit) =>
  ['limit', 'remaining', 'reset'].map((what) => `anthropic-ratelimit-${unit}-${what}`),
);

describe("a limit refusal's rate-limit headers", () => {
  const T0 = Date.parse('2026-12-05T10:00:00Z');
  const state = registryProjection.initialState();
  state.policies.set('org_1/proxy-key/pxk_1', {
    orgId: 'org_1',
    scope: 'proxy-key',
    scopeId: 'pxk_1',
    limits: { rpm: 2, tpm: 1000, models: ['gpt-4o-mini'] },
    renewal: {},
    managedBy: 'config',
  });
  let sequence = 0;
  const admit = (limits: LimitsEnforcer, tokens: number, at: number, model = 'gpt-4o-mini') =>
    limits.admit(
      {
        orgId: 'org_1',
        proxyKeyId: 'pxk_1',
        userId: 'usr_1',
        teamId: null,
        requestId: `00000000-0000-7000-8000-${String(++sequence).padStart(12, '0')}`,
        clientAddress: parseIp('10.1.2.3'),
        model,
      },
      () => ({ bound: false, usd: 0n, inputTokens: tokens, outputTokens: 0 }),
      at,
    );

  it('are the full set of both units in either dialect, whichever rate refused, as the providers send', () => {
    const limits = new LimitsEnforcer({ registry: () => state, emit: () => {} });
    assert.ok(admit(limits, 600, T0).ok);
    // 600 of 1000 tokens used, 1 of 2 requests: 500 more tokens do not fit.
    const tpm = admit(limits, 500, T0 + 1000);
    assert.ok(!tpm.ok && tpm.reason === 'rate_limit_tpm');
    assert.ok(admit(limits, 100, T0 + 2000).ok);
    // 2 of 2 requests, 700 tokens: a third request is over the rpm.
    const rpm = admit(limits, 100, T0 + 3000);
    assert.ok(!rpm.ok && rpm.reason === 'rate_limit_rpm');
    const model = admit(limits, 100, T0 + 4000, 'gpt-4o');
    assert.ok(!model.ok && model.reason === 'model_forbidden');
    for (const [refused, requests, tokens] of [
      [tpm, '1', '400'],
      [rpm, '0', '300'],
      [model, '0', '300'],
    ] as const) {
      const openai = refusalHeaders(refused, 'openai');
      for (const name of OPENAI_NAMES) assert.ok(name in openai, `${refused.reason}: ${name}`);
      for (const name of ANTHROPIC_NAMES) assert.ok(!(name in openai), `${refused.reason}: ${name}`);
      assert.equal(openai['x-ratelimit-remaining-requests'], requests, refused.reason);
      assert.equal(openai['x-ratelimit-remaining-tokens'], tokens, refused.reason);
      const anthropic = refusalHeaders(refused, 'anthropic');
      for (const name of ANTHROPIC_NAMES) assert.ok(name in anthropic, `${refused.reason}: ${name}`);
      for (const name of OPENAI_NAMES) assert.ok(!(name in anthropic), `${refused.reason}: ${name}`);
      assert.equal(anthropic['anthropic-ratelimit-requests-remaining'], requests, refused.reason);
      assert.equal(anthropic['anthropic-ratelimit-tokens-remaining'], tokens, refused.reason);
      // Kordon's own parsers of the providers' headers read every one of them back.
      const parsed = parseOpenAIRateLimits(openai as Record<string, string>);
      assert.equal(parsed?.remainingTokens, Number(tokens), refused.reason);
      assert.ok(parsed?.resetRequestsMs !== undefined && parsed.resetTokensMs !== undefined);
    }
  });
});
