import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConcurrencyLimiter, SlidingWindowLimiter } from './windows.js';

/** A window boundary (a multiple of 60 s). */
const T0 = Date.parse('2025-06-02T10:00:00Z');

describe('SlidingWindowLimiter: requests per minute', () => {
  test('the 60th request of 60 rpm passes, the 61st does not, with header values', () => {
    const rpm = new SlidingWindowLimiter();
    for (let i = 1; i <= 60; i++) {
      const decision = rpm.check('key:k1', 60, T0 + i);
      assert.equal(decision.allowed, true, `request ${i}`);
      assert.equal(decision.limit, 60);
      assert.equal(decision.remaining, 60 - i);
      assert.equal(decision.retryAfterMs, 0);
      // Usage of this window decays to zero at the end of the next one.
      assert.equal(decision.resetMs, 120_000 - i);
    }
    const refused = rpm.check('key:k1', 60, T0 + 61);
    assert.deepEqual(refused, {
      allowed: false,
      limit: 60,
      remaining: 0,
      resetMs: 119_939,
      retryAfterMs: 60_939,
      index: 0,
    });
  });

  test('exact at the boundary: Retry-After is the first instant that fits, not one ms earlier', () => {
    const rpm = new SlidingWindowLimiter();
    for (let i = 0; i < 60; i++) rpm.check('k', 60, T0);
    const refused = rpm.check('k', 60, T0 + 30_000);
    // Next window, e ms in: 60 * (60000 - e) / 60000 + 1 <= 60  <=>  e >= 1000.
    assert.equal(refused.retryAfterMs, 31_000);
    assert.equal(rpm.check('k', 60, T0 + 60_999).allowed, false);
    const admitted = rpm.check('k', 60, T0 + 61_000);
    assert.equal(admitted.allowed, true);
    assert.equal(admitted.remaining, 0);
    assert.equal(rpm.check('k', 60, T0 + 61_000).allowed, false);
  });

  test('the previous window is weighted by what is left of it', () => {
    const rpm = new SlidingWindowLimiter();
    for (let i = 0; i < 10; i++) rpm.check('k', 10, T0 + 50_000);
    // 15 s into the next window: 10 * 45/60 = 7.5 counted, so 2 more fit (9.5), not 3 (10.5).
    assert.equal(rpm.peek('k', 10, T0 + 75_000).remaining, 2);
    assert.equal(rpm.check('k', 10, T0 + 75_000).allowed, true);
    assert.equal(rpm.check('k', 10, T0 + 75_000).allowed, true);
    const refused = rpm.check('k', 10, T0 + 75_000);
    assert.equal(refused.allowed, false);
    // 10 * (60000 - e) / 60000 + 3 <= 10  <=>  e >= 18000, i.e. 3 s later.
    assert.equal(refused.retryAfterMs, 3_000);
    assert.equal(rpm.check('k', 10, T0 + 77_999).allowed, false);
    assert.equal(rpm.check('k', 10, T0 + 78_000).allowed, true);
  });

  test('after two quiet windows a key starts from zero, and sweep forgets it', () => {
    const rpm = new SlidingWindowLimiter();
    for (let i = 0; i < 5; i++) rpm.check('k', 5, T0);
    assert.equal(rpm.peek('k', 5, T0 + 120_000).remaining, 5);
    assert.equal(rpm.peek('k', 5, T0 + 120_000).resetMs, 0);
    assert.equal(rpm.sweep(T0 + 119_999), 0);
    assert.equal(rpm.sweep(T0 + 120_000), 1);
    assert.equal(rpm.size, 0);
  });

  test('several scopes: counted in all or none; the refusing scope is reported', () => {
    const rpm = new SlidingWindowLimiter();
    const checks = [
      { key: 'key:k1', limit: 5 },
      { key: 'org:o1', limit: 2 },
    ];
    const first = rpm.checkAll(checks, T0);
    assert.equal(first.allowed, true);
    assert.equal(first.index, 1); // the tightest: 1 left at the org
    assert.equal(first.remaining, 1);
    assert.equal(rpm.checkAll(checks, T0).allowed, true);
    const refused = rpm.checkAll(checks, T0);
    assert.equal(refused.allowed, false);
    assert.equal(refused.index, 1);
    assert.equal(refused.limit, 2);
    // The refused request was not counted at the key.
    assert.equal(rpm.peek('key:k1', 5, T0).remaining, 3);
  });
});

describe('SlidingWindowLimiter: tokens per minute', () => {
  test('costs, a request larger than the limit, corrections', () => {
    const tpm = new SlidingWindowLimiter();
    assert.equal(tpm.check('k', 1000, T0, 600).remaining, 400);
    const refused = tpm.check('k', 1000, T0, 500);
    assert.equal(refused.allowed, false);
    assert.equal(refused.remaining, 400);
    // Next window: 600 * (60000 - e) / 60000 + 500 <= 1000  <=>  e >= 10000.
    assert.equal(refused.retryAfterMs, 70_000);
    assert.equal(tpm.check('k', 1000, T0, 1001).retryAfterMs, null);
    // The answer used 100 tokens fewer than estimated.
    tpm.record('k', T0 + 5, -100);
    assert.equal(tpm.check('k', 1000, T0 + 5, 500).allowed, true);
    assert.equal(tpm.peek('k', 1000, T0 + 5).remaining, 0);
    tpm.record('k', T0 + 5, -5000);
    assert.equal(tpm.peek('k', 1000, T0 + 5).remaining, 1000);
  });

  test('a hold given back after the window turned leaves the window it was counted in', () => {
    const tpm = new SlidingWindowLimiter();
    tpm.record('k', T0 + 50_000, 600);
    tpm.record('k', T0 + 70_000, 100); // the next window
    // 10 s into it, the previous window weighs 50/60: 600 * 5/6 + 100.
    assert.equal(tpm.peek('k', 1000, T0 + 70_000).remaining, 400);
    tpm.record('k', T0 + 50_000, -600);
    assert.equal(tpm.peek('k', 1000, T0 + 70_000).remaining, 900);
    // Two windows on, the first weighs nothing and takes nothing.
    tpm.record('k', T0 + 130_000, 50);
    tpm.record('k', T0 + 70_000 - 60_000, 5000);
    // 1000 - (100 * 5/6 + 50), rounded down.
    assert.equal(tpm.peek('k', 1000, T0 + 130_000).remaining, 866);
    // Giving back what a swept (idle) key counted creates nothing.
    tpm.record('gone', T0, -10);
    assert.equal(tpm.size, 1);
  });

  test('refuses bad numbers', () => {
    const tpm = new SlidingWindowLimiter();
    assert.throws(() => tpm.check('k', 10, T0, -1), RangeError);
    assert.throws(() => tpm.check('k', 1.5, T0), RangeError);
    assert.throws(() => tpm.record('k', T0, 0.5), RangeError);
    assert.throws(() => new SlidingWindowLimiter({ windowMs: 0 }), RangeError);
  });
});

describe('ConcurrencyLimiter', () => {
  test('acquire up to the limit; release is idempotent', () => {
    const limiter = new ConcurrencyLimiter();
    const slots = [{ key: 'key:k1', limit: 2 }];
    const a = limiter.acquire(slots);
    const b = limiter.acquire(slots);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(limiter.acquire(slots), { ok: false, index: 0, key: 'key:k1', limit: 2, inFlight: 2 });
    assert.equal(a.release(), true);
    assert.equal(a.release(), false);
    assert.equal(a.release(), false);
    assert.equal(limiter.inFlight('key:k1'), 1);
    const c = limiter.acquire(slots);
    assert.ok(c.ok);
    assert.equal(limiter.inFlight('key:k1'), 2);
    assert.equal(b.release(), true);
    assert.equal(c.release(), true);
    assert.equal(b.release(), false);
    assert.equal(limiter.inFlight('key:k1'), 0);
    assert.equal(limiter.size, 0);
  });

  test('several scopes: a slot in all or in none', () => {
    const limiter = new ConcurrencyLimiter();
    const slots = [
      { key: 'key:k1', limit: 5 },
      { key: 'user:u1', limit: 1 },
    ];
    const first = limiter.acquire(slots);
    assert.ok(first.ok);
    const second = limiter.acquire(slots);
    assert.equal(second.ok, false);
    assert.equal(!second.ok && second.index, 1);
    assert.equal(limiter.inFlight('key:k1'), 1);
    first.release();
    assert.equal(limiter.acquire(slots).ok, true);
  });

  test('a limit of 0 refuses everything', () => {
    assert.equal(new ConcurrencyLimiter().acquire([{ key: 'k', limit: 0 }]).ok, false);
  });
});
