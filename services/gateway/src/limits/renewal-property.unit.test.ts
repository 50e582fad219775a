import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { periodAt } from './period.js';
import { type PlannedReset, planResets, type RenewalPolicy } from './renewal.js';

/*
 * Renewal over random periods, zones (DST, half-hour and 45-minute offsets, a skipped day),
 * month start days and rollover: a counter renews exactly at each boundary, every planned reset
 * starts on a boundary of its spec, and a replica that lived through every period reaches the
 * same period and carried amount as one that slept through them and caught up at once.
 */

const SEED = 20261206;
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Santiago',
  'Australia/Lord_Howe',
  'Asia/Kathmandu',
  'Pacific/Apia',
  'Pacific/Chatham',
];
const SPECS = ['1d', '2d', '1w', '2w', '1mo', '3mo', '1y', '90s', '15m', '6h', '24h'];

const policy: fc.Arbitrary<RenewalPolicy & { allowance: bigint }> = fc
  .record({
    period: fc.constantFrom(...SPECS),
    timeZone: fc.constantFrom(...ZONES),
    monthStartDay: fc.option(fc.integer({ min: 1, max: 28 }), { nil: undefined }),
    rollover: fc.boolean(),
    rolloverMaxPercent: fc.option(fc.integer({ min: 0, max: 250 }), { nil: null }),
    allowance: fc.bigInt({ min: 0n, max: 10n ** 15n }),
  })
  .map(({ monthStartDay, ...rest }) => (monthStartDay === undefined ? rest : { ...rest, monthStartDay }));

/** 2011 (Apia's skipped day) to 2030, leap days and DST changes included. */
const instant = fc.integer({
  min: Date.parse('2011-06-01T00:00:00Z'),
  max: Date.parse('2030-12-31T00:00:00Z'),
});

interface Counter {
  start: number;
  end: number;
  rolledOver: bigint;
}

/** Applies a plan as the ledger does: only a newer period counts; nothing spent, so all is unused. */
function apply(counter: Counter | null, resets: readonly PlannedReset[]): Counter | null {
  let next = counter;
  for (const reset of resets)
    if (next === null || reset.start > next.start)
      next = { start: reset.start, end: reset.end, rolledOver: reset.rolledOver };
  return next;
}

function renew(p: RenewalPolicy & { allowance: bigint }, counter: Counter | null, now: number) {
  return planResets(
    p,
    {
      lastPeriodStart: counter?.start ?? null,
      lastPeriodEnd: counter?.end,
      allowance: p.allowance,
      unused: counter === null ? 0n : p.allowance + counter.rolledOver,
    },
    now,
  );
}

describe('planResets over random periods and zones', () => {
  it('renews exactly at the boundary, onto a period of the spec holding now', () => {
    fc.assert(
      fc.property(policy, instant, (p, t) => {
        const calendar = p.monthStartDay === undefined ? {} : { monthStartDay: p.monthStartDay };
        const first = apply(null, renew(p, null, t).resets)!;
        assert.ok(first.start <= t && t < first.end, 'the first period holds now');
        // A millisecond before its end nothing is due; at its end, the next period.
        assert.deepEqual(renew(p, first, first.end - 1).resets, []);
        const at = renew(p, first, first.end).resets;
        assert.equal(at.at(-1)?.start, first.end, 'renewed at the boundary');
        const next = periodAt(p.period, p.timeZone, first.end, calendar);
        assert.equal(at.at(-1)?.end, next.end);
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('living through every period reaches what catching up at once reaches', () => {
    fc.assert(
      fc.property(
        policy,
        instant,
        fc.array(fc.integer({ min: 1, max: 40 * 86_400_000 }), { minLength: 1, maxLength: 12 }),
        (p, t, gaps) => {
          const calendar = p.monthStartDay === undefined ? {} : { monthStartDay: p.monthStartDay };
          let lived = apply(null, renew(p, null, t).resets);
          const slept = lived;
          let now = t;
          for (const gap of gaps) {
            now += gap;
            // Wakes on every boundary in between too, as a busy replica would.
            for (let guard = 0; lived !== null && lived.end <= now && guard < 5000; guard++) {
              lived = apply(lived, renew(p, lived, lived.end).resets);
            }
            lived = apply(lived, renew(p, lived, now).resets);
          }
          const plan = renew(p, slept, now);
          const caughtUp = apply(slept, plan.resets)!;
          assert.equal(caughtUp.start, lived!.start, 'the same period');
          assert.equal(caughtUp.end, lived!.end);
          const holding = periodAt(p.period, p.timeZone, now, calendar);
          assert.equal(caughtUp.start, holding.start, 'the period holding now');
          // Every planned reset starts on a boundary of the spec; consecutive ones touch.
          for (const [i, reset] of plan.resets.entries()) {
            assert.equal(periodAt(p.period, p.timeZone, reset.start, calendar).start, reset.start);
            if (i > 0) assert.equal(plan.resets[i - 1]!.end, reset.start);
          }
          if (p.rollover) assert.equal(caughtUp.rolledOver, lived!.rolledOver, 'the same carried amount');
          else assert.equal(caughtUp.rolledOver, 0n);
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });
});
