import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SlidingWindowLimiter } from './windows.js';

/*
 * The sliding-window counter over random traffic: what README.md guarantees. At most `limit`
 * units pass in any window aligned to the minute, fewer than twice the limit in any 60 s, and
 * tokens held at admission and given back at the end (tpm) leave exactly the real counts.
 */

const W = 60_000;
const SEED = 20261206;

const traffic = fc.array(
  fc.record({
    gapMs: fc.constantFrom(0, 1, 7, 250, 999, 5_000, 29_999, 59_999, 60_000, 61_000),
    cost: fc.nat({ max: 40 }),
  }),
  { minLength: 1, maxLength: 400 },
);

describe('SlidingWindowLimiter, random traffic', () => {
  it('admits at most the limit in every aligned window, and fewer than twice it in any 60 s', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: W - 1 }),
        traffic,
        (limit, offset, steps) => {
          const limiter = new SlidingWindowLimiter();
          const admitted: Array<{ at: number; cost: number }> = [];
          let now = 1_800_000_000_000 + offset;
          for (const { gapMs, cost } of steps) {
            now += gapMs;
            const decision = limiter.check('k', limit, now, cost);
            if (decision.allowed) admitted.push({ at: now, cost });
            assert.equal(decision.allowed, decision.retryAfterMs === 0);
            assert.ok(decision.remaining >= 0 && decision.remaining <= limit);
          }
          const perWindow = new Map<number, number>();
          for (const { at, cost } of admitted) {
            const start = at - (at % W);
            perWindow.set(start, (perWindow.get(start) ?? 0) + cost);
          }
          for (const [start, sum] of perWindow)
            assert.ok(sum <= limit, `${sum} > ${limit} in the window at ${start}`);
          for (const { at } of admitted) {
            const sliding = admitted
              .filter((a) => a.at > at - W && a.at <= at)
              .reduce((s, a) => s + a.cost, 0);
            assert.ok(
              sliding < 2 * limit || sliding === 0,
              `${sliding} in the 60 s to ${at}, limit ${limit}`,
            );
          }
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('a refused request fits at its Retry-After, when nothing else came', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), traffic, fc.nat({ max: 100 }), (limit, steps, cost) => {
        const limiter = new SlidingWindowLimiter();
        let now = 1_800_000_000_000;
        for (const step of steps) {
          now += step.gapMs;
          limiter.check('k', limit, now, step.cost);
        }
        const refused = limiter.peek('k', limit, now, cost);
        if (refused.allowed || refused.retryAfterMs === null) return;
        assert.ok(limiter.peek('k', limit, now + refused.retryAfterMs, cost).allowed, 'fits at Retry-After');
        if (refused.retryAfterMs > 0)
          assert.equal(
            limiter.peek('k', limit, now + refused.retryAfterMs - 1, cost).allowed,
            false,
            'not sooner',
          );
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('holds given back and real counts recorded leave the windows with exactly the real counts', () => {
    const request = fc.record({
      gapMs: fc.constantFrom(0, 100, 20_000, 59_000, 61_000),
      hold: fc.nat({ max: 500 }),
      real: fc.nat({ max: 500 }),
      lastsMs: fc.constantFrom(0, 1, 30_000, 59_999, 60_000, 90_000),
    });
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 60 }), (requests) => {
        const limiter = new SlidingWindowLimiter();
        // As tpm does: the hold at admission; at the end, the hold back where it was counted
        // (`admittedAt`) and the real count at the end.
        const calls: Array<{ order: number; at: number; amount: number; real: boolean }> = [];
        let now = 1_800_000_000_000;
        for (const r of requests) {
          now += r.gapMs;
          const end = now + r.lastsMs;
          calls.push({ order: now, at: now, amount: r.hold, real: false });
          calls.push({ order: end + 0.1, at: now, amount: -r.hold, real: false });
          calls.push({ order: end + 0.2, at: end, amount: r.real, real: true });
        }
        calls.sort((a, b) => a.order - b.order);
        for (const call of calls) limiter.record('k', call.at, call.amount);
        const last = calls.at(-1)!.at;
        const start = last - (last % W);
        const realIn = (from: number, to: number) =>
          calls.filter((c) => c.real && c.at >= from && c.at < to).reduce((sum, c) => sum + c.amount, 0);
        // At the first ms of the window, the previous one weighs in whole: used = previous + current.
        const limit = 1_000_000;
        const probe = limiter.peek('k', limit, start, 0);
        assert.equal(limit - probe.remaining, realIn(start - W, start) + realIn(start, start + W));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
