import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyHealth } from './key-health.js';
import { DEFAULT_CIRCUIT, DEFAULT_HEALTH, LONGEST_REST_MS } from './types.js';

const T = 1_700_000_000_000;
const health = () => new KeyHealth('pk_1', DEFAULT_HEALTH, DEFAULT_CIRCUIT);

describe('KeyHealth: 429', () => {
  test('rests for Retry-After', () => {
    const key = health();
    const decision = key.failure({ now: T, kind: 'rate_limited', retryAfterMs: 2_500 });
    assert.deepEqual(decision, {
      type: 'cooled_down',
      providerKeyId: 'pk_1',
      until: T + 2_500,
      reason: 'rate_limited',
      retryAfterMs: 2_500,
    });
    assert.equal(key.usableAt(T + 2_499), T + 2_500);
    assert.equal(key.usableAt(T + 2_500), 0);
    assert.equal(key.state(T + 1), 'cooling');
  });

  test("a provider's absurd Retry-After rests the key a day at most", () => {
    for (const retryAfterMs of [400 * 86_400_000, 9e15]) {
      const decision = health().failure({ now: T, kind: 'rate_limited', retryAfterMs });
      assert.equal(decision.type === 'cooled_down' && decision.until, T + LONGEST_REST_MS);
      const failing = health().failure({ now: T, kind: 'server_error', retryAfterMs });
      assert.equal(failing.type === 'cooled_down' && failing.until, T + LONGEST_REST_MS);
    }
  });

  test('without Retry-After: until the spent budget resets, else 1 s', () => {
    const byReset = health();
    const decision = byReset.failure({
      now: T,
      kind: 'rate_limited',
      rateLimits: { remainingRequests: 0, resetRequestsMs: 700, remainingTokens: 5_000 },
    });
    assert.equal(decision.type === 'cooled_down' && decision.until, T + 700);
    assert.equal(decision.type === 'cooled_down' && decision.retryAfterMs, null);
    const bare = health();
    const other = bare.failure({ now: T, kind: 'rate_limited' });
    assert.equal(other.type === 'cooled_down' && other.until, T + 1_000);
  });

  test('a storm of 429s on a resting key gives one decision, not one each', () => {
    const key = health();
    assert.equal(key.failure({ now: T, kind: 'rate_limited', retryAfterMs: 10_000 }).type, 'cooled_down');
    for (let i = 1; i < 50; i++) {
      assert.equal(key.failure({ now: T + i, kind: 'rate_limited', retryAfterMs: 10_000 }).type, 'unchanged');
    }
    // Pushed out by more than the default rest: worth telling.
    assert.equal(
      key.failure({ now: T + 100, kind: 'rate_limited', retryAfterMs: 30_000 }).type,
      'cooled_down',
    );
    assert.equal(key.usableAt(T + 200), T + 30_100);
  });

  test('a wait already over (Retry-After: 0, a reset of "0s") rests nothing and tells no one', () => {
    // Each decision becomes a ProviderKeyCooledDown every replica applies: a "rest" ending as it
    // starts would write one event per 429, for a key that never rested.
    const key = health();
    for (let i = 0; i < 5; i++) {
      assert.equal(key.failure({ now: T + i, kind: 'rate_limited', retryAfterMs: 0 }).type, 'unchanged');
      assert.equal(key.usableAt(T + i), 0);
    }
    const spent = { remainingRequests: 0, resetRequestsMs: 0 };
    assert.equal(key.failure({ now: T + 9, kind: 'rate_limited', rateLimits: spent }).type, 'unchanged');
    assert.equal(key.usableAt(T + 9), 0);
    assert.equal(key.failure({ now: T + 9, kind: 'server_error', retryAfterMs: 0 }).type, 'unchanged');
    // A wait of any length still rests the key and says so.
    assert.equal(key.failure({ now: T + 10, kind: 'rate_limited', retryAfterMs: 1 }).type, 'cooled_down');
  });

  test('does not count towards the circuit', () => {
    const key = health();
    for (let i = 0; i < 10; i++) key.failure({ now: T + i * 2_000, kind: 'rate_limited' });
    assert.equal(key.circuit.phase(T + 30_000), 'closed');
    assert.equal(key.errorRate(T + 30_000), 0);
  });
});

describe('KeyHealth: refused credentials', () => {
  test('disables the key until the registry re-enables it', () => {
    const key = health();
    key.sync({ providerKeyId: 'pk_1', weight: 1 });
    assert.deepEqual(key.failure({ now: T, kind: 'auth_refused' }), {
      type: 'disabled',
      providerKeyId: 'pk_1',
      reason: 'invalid_credentials',
    });
    assert.equal(key.failure({ now: T, kind: 'auth_refused' }).type, 'unchanged');
    assert.equal(key.usableAt(T + 86_400_000), Number.POSITIVE_INFINITY);
    assert.equal(key.state(T), 'disabled');
    // The event lands in the registry (disabled), then an admin enables the key.
    key.sync({ providerKeyId: 'pk_1', weight: 1, disabled: true });
    assert.equal(key.state(T), 'disabled');
    key.sync({ providerKeyId: 'pk_1', weight: 1, disabled: false });
    assert.equal(key.state(T), 'ok');
    assert.equal(key.usableAt(T), 0);
  });

  test('a registry that has not caught up yet does not re-enable it', () => {
    const key = health();
    key.sync({ providerKeyId: 'pk_1', weight: 1 });
    key.failure({ now: T, kind: 'auth_refused' });
    key.sync({ providerKeyId: 'pk_1', weight: 1, disabled: false });
    assert.equal(key.state(T), 'disabled');
  });
});

describe('KeyHealth: a replaced secret', () => {
  test('forgets what the old secret earned: a 401, an open circuit, its error rate and quota', () => {
    const key = health();
    key.sync({ providerKeyId: 'pk_1', weight: 1 });
    key.failure({ now: T, kind: 'auth_refused' });
    for (let i = 0; i < 5; i++) key.failure({ now: T, kind: 'server_error' });
    key.success({ now: T, latencyMs: 10, rateLimits: { remainingRequests: 0, limitRequests: 100 } });
    assert.equal(key.state(T), 'disabled');
    // The gateway's ProviderKeyDisabled has not landed yet; the new secret has.
    assert.equal(key.sync({ providerKeyId: 'pk_1', weight: 1, secretCount: 1 }), true);
    assert.equal(key.state(T), 'ok');
    assert.equal(key.usableAt(T), 0);
    assert.equal(key.errorRate(T), 0);
    assert.equal(key.quotaFactor(T), 1);
    assert.equal(key.sync({ providerKeyId: 'pk_1', weight: 1, secretCount: 1 }), false, 'once');
  });

  test('keeps a disable the registry still holds (an admin disabled the key on purpose)', () => {
    const key = health();
    key.sync({ providerKeyId: 'pk_1', weight: 1, disabled: true });
    key.sync({ providerKeyId: 'pk_1', weight: 1, disabled: true, secretCount: 1 });
    assert.equal(key.state(T), 'disabled');
  });
});

describe('KeyHealth: 5xx, timeouts, connection failures', () => {
  test('five in a row open the circuit; a Retry-After alone only rests the key', () => {
    const key = health();
    const kinds = ['server_error', 'timeout', 'connection_failed', 'server_error'] as const;
    for (const kind of kinds) assert.equal(key.failure({ now: T, kind }).type, 'unchanged');
    assert.deepEqual(key.failure({ now: T, kind: 'timeout' }), {
      type: 'circuit_opened',
      providerKeyId: 'pk_1',
      until: T + 5_000,
      reason: 'timeout',
      consecutiveFailures: 5,
    });
    assert.equal(key.state(T), 'circuit_open');
    assert.equal(key.state(T + 5_000), 'half_open');

    const other = health();
    const rested = other.failure({ now: T, kind: 'server_error', retryAfterMs: 3_000 });
    assert.equal(rested.type, 'cooled_down');
    assert.equal(other.circuit.phase(T), 'closed');
  });

  test('the half-open probe: success closes, and says so', () => {
    const key = health();
    for (let i = 0; i < 5; i++) key.failure({ now: T, kind: 'server_error' });
    assert.equal(key.picked(T + 5_000), true, 'the probe is claimed: the key leaves rotation');
    assert.notEqual(key.usableAt(T + 5_001), 0);
    assert.deepEqual(key.success({ now: T + 5_200, latencyMs: 200, probe: key.claimedProbe }), {
      type: 'circuit_closed',
      providerKeyId: 'pk_1',
    });
    assert.equal(key.usableAt(T + 5_200), 0);
  });
});

describe('KeyHealth: a caller who gives up', () => {
  test('changes nothing', () => {
    const key = health();
    key.success({ now: T, latencyMs: 300 });
    const before = {
      rate: key.errorRate(T),
      latency: key.latencyEwma,
      at: key.usableAt(T),
      state: key.state(T),
    };
    for (let i = 0; i < 20; i++)
      assert.equal(key.failure({ now: T, kind: 'caller_cancelled' }).type, 'unchanged');
    assert.deepEqual(
      { rate: key.errorRate(T), latency: key.latencyEwma, at: key.usableAt(T), state: key.state(T) },
      before,
    );
  });
});

describe('KeyHealth: factors for adaptive', () => {
  test('quota: what is left of the tighter budget, restored after its reset', () => {
    const key = health();
    key.success({
      now: T,
      latencyMs: 100,
      rateLimits: {
        limitRequests: 100,
        remainingRequests: 80,
        limitTokens: 10_000,
        remainingTokens: 2_500,
        resetRequestsMs: 1_000,
        resetTokensMs: 6_000,
      },
    });
    assert.equal(key.quotaFactor(T), 0.25);
    assert.deepEqual(key.remaining(T), { requests: 80, tokens: 2_500 });
    assert.equal(key.quotaFactor(T + 6_000), 1);
    assert.deepEqual(key.remaining(T + 6_000), { requests: null, tokens: null });
  });

  test('quota without limits (Azure): relative to the most seen', () => {
    const key = health();
    key.success({ now: T, latencyMs: 1, rateLimits: { remainingRequests: 200 } });
    key.success({ now: T + 1, latencyMs: 1, rateLimits: { remainingRequests: 50 } });
    assert.equal(key.quotaFactor(T + 1), 0.25);
  });

  test('a spent quota makes the key unusable until its reset', () => {
    const key = health();
    key.success({
      now: T,
      latencyMs: 1,
      rateLimits: { limitTokens: 1_000, remainingTokens: 0, resetTokensMs: 4_000 },
    });
    assert.equal(key.usableAt(T + 1), T + 4_000);
    assert.equal(key.state(T + 1), 'cooling');
    assert.equal(key.usableAt(T + 4_000), 0);
  });

  test('own limits: room left under RPM and TPM; at the limit the key rests', () => {
    const key = health();
    key.sync({ providerKeyId: 'pk_1', weight: 1, limits: { rpm: 10, tpm: 1_000 } });
    for (let i = 0; i < 4; i++) key.picked(T);
    assert.equal(key.ownLimitFactor(T), 0.6);
    key.success({ now: T, latencyMs: 1, tokens: 900 });
    assert.ok(Math.abs(key.ownLimitFactor(T) - 0.1) < 1e-9);
    assert.deepEqual(key.usage(T), { requestsPerMinute: 4, tokensPerMinute: 900 });
    for (let i = 0; i < 5; i++) assert.equal(key.picked(T), false);
    assert.equal(key.picked(T), true, 'the tenth request reaches the limit');
    assert.ok(key.usableAt(T) > T);
  });

  test('own limits removed: the key is free again', () => {
    const key = health();
    key.sync({ providerKeyId: 'pk_1', weight: 1, limits: { rpm: 2 } });
    key.picked(T);
    key.picked(T);
    assert.ok(key.usableAt(T) > T);
    assert.equal(key.sync({ providerKeyId: 'pk_1', weight: 1, limits: null }), true);
    assert.equal(key.usableAt(T), 0);
    assert.equal(key.ownLimitFactor(T), 1);
  });

  test('health: failures weigh the key down, and a quiet key recovers', () => {
    const key = health();
    key.failure({ now: T, kind: 'server_error' });
    key.failure({ now: T, kind: 'server_error' });
    assert.ok(Math.abs(key.errorRate(T) - 0.36) < 1e-9);
    assert.ok(Math.abs(key.healthFactor(T) - 0.64 ** 2) < 1e-9);
    assert.ok(Math.abs(key.errorRate(T + 60_000) - 0.18) < 1e-9, 'halved after a half-life');
    key.success({ now: T + 60_000, latencyMs: 100 });
    assert.ok(key.errorRate(T + 60_000) < 0.18);
  });

  test('latency: an EWMA, and a factor against the fastest key', () => {
    const key = health();
    assert.equal(key.latencyFactor(100), 1, 'no samples yet');
    key.success({ now: T, latencyMs: 400 });
    key.success({ now: T, latencyMs: 900 });
    assert.equal(key.latencyEwma, 500);
    // With the 100 ms slack on both sides: (250 + 100) / (500 + 100).
    assert.equal(key.latencyFactor(250), 350 / 600);
    key.success({ now: T, latencyMs: Number.NaN });
    assert.equal(key.latencyEwma, 500, 'a nonsense sample is ignored');
  });
});

describe('KeyHealth: a 429 with Retry-After and a spent budget', () => {
  test('is back after the Retry-After, not at the budget reset a minute later', () => {
    const health = new KeyHealth('k1', DEFAULT_HEALTH, DEFAULT_CIRCUIT);
    const now = 1_000_000;
    health.failure({
      now,
      kind: 'rate_limited',
      retryAfterMs: 1_000,
      rateLimits: { remainingRequests: 0, limitRequests: 60, resetRequestsMs: 59_000 },
    });
    assert.equal(health.usableAt(now + 500), now + 1_000);
    assert.equal(health.usableAt(now + 1_001), 0);
  });
});
