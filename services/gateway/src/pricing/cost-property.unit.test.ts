import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatUsd, parseUsd } from '../limits/amount.js';
import { addAmounts, compareAmounts, computeCost, computeCostWithBigints, type TokenUsage } from './cost.js';
import { inPeakHours } from './peak-hours.js';
import type { PeakHours } from './price-schema.js';
import { SHIPPED_PRICE_TABLE } from './price-table.js';

/*
 * Properties of pricing over the whole shipped table: a request never costs less for more
 * tokens, a long-context tier applies from the first token past its threshold, the double and
 * bigint paths agree, peak hours start and end on the minute, and costs add up exactly as the
 * ledger (bigints of 10^-12 USD) and the events (decimal strings) add them.
 */

const MODELS = Object.entries(SHIPPED_PRICE_TABLE.models);
const SEED = 20261206;

const usage: fc.Arbitrary<TokenUsage> = fc
  .record({
    input: fc.nat({ max: 2_000_000 }),
    output: fc.nat({ max: 200_000 }),
    cachedShare: fc.nat({ max: 100 }),
    writeShare: fc.nat({ max: 100 }),
    write1hShare: fc.nat({ max: 100 }),
    reasoningShare: fc.nat({ max: 100 }),
    webSearches: fc.nat({ max: 30 }),
  })
  .map(({ input, output, cachedShare, writeShare, write1hShare, reasoningShare, webSearches }) => {
    const cached = Math.floor((input * cachedShare) / 100);
    const write = Math.floor(((input - cached) * writeShare) / 100);
    const write1h = Math.floor(((input - cached - write) * write1hShare) / 100);
    return {
      inputTokens: input,
      outputTokens: output,
      cachedInputTokens: cached,
      cacheWriteTokens: write,
      cacheWrite1hTokens: write1h,
      reasoningTokens: Math.floor((output * reasoningShare) / 100),
      webSearches,
    };
  });

const model = fc.constantFrom(...MODELS);

describe('computeCost over the shipped table', () => {
  it('the double path and the bigint path agree', () => {
    fc.assert(
      fc.property(model, usage, ([, price], u) => {
        assert.deepEqual(computeCost(price, u), computeCostWithBigints(price, u));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('more uncached prompt, more output or another search never costs less', () => {
    fc.assert(
      fc.property(model, usage, fc.integer({ min: 1, max: 300_000 }), ([name, price], u, more) => {
        const cost = computeCost(price, u).amount;
        for (const grown of [
          { ...u, inputTokens: u.inputTokens + more },
          { ...u, outputTokens: u.outputTokens + more },
          { ...u, webSearches: (u.webSearches ?? 0) + 1 },
        ]) {
          const after = computeCost(price, grown).amount;
          assert.ok(
            compareAmounts(after, cost) >= 0,
            `${name}: ${JSON.stringify(grown)} costs ${after} < ${cost}`,
          );
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('a cache read costs no more than the same token uncached, a cache write no less', () => {
    fc.assert(
      fc.property(model, usage, ([name, price], u) => {
        const uncached =
          u.inputTokens - u.cachedInputTokens - (u.cacheWriteTokens ?? 0) - (u.cacheWrite1hTokens ?? 0);
        if (uncached === 0) return;
        const cost = computeCost(price, u).amount;
        const read = computeCost(price, { ...u, cachedInputTokens: u.cachedInputTokens + 1 }).amount;
        const written = computeCost(price, { ...u, cacheWriteTokens: (u.cacheWriteTokens ?? 0) + 1 }).amount;
        assert.ok(compareAmounts(read, cost) <= 0, `${name}: a cache read costs more than an uncached token`);
        assert.ok(
          compareAmounts(written, cost) >= 0,
          `${name}: a cache write costs less than an uncached token`,
        );
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('a long-context tier applies from the first prompt token past its threshold, to the whole request', () => {
    const tiered = MODELS.filter(([, price]) => price.tiers?.length);
    assert.ok(tiered.length > 0);
    for (const [name, price] of tiered) {
      for (const tier of price.tiers!) {
        const at = computeCost(price, {
          inputTokens: tier.aboveInputTokens,
          outputTokens: 1,
          cachedInputTokens: 0,
        });
        const past = computeCost(price, {
          inputTokens: tier.aboveInputTokens + 1,
          outputTokens: 1,
          cachedInputTokens: 0,
        });
        assert.notEqual(at.tierAboveInputTokens, tier.aboveInputTokens, `${name}: at the threshold`);
        assert.equal(past.tierAboveInputTokens, tier.aboveInputTokens, `${name}: one past it`);
        // Every token at the tier's rates, the output too.
        const unit = BigInt(price.unitTokens);
        const scaled = (rate: string, tokens: number) => (parseUsd(rate) * BigInt(tokens)) / unit;
        assert.equal(parseUsd(past.breakdown.output), scaled(tier.output, 1), `${name}: output at the tier`);
        assert.equal(
          parseUsd(past.breakdown.input),
          scaled(tier.input, tier.aboveInputTokens + 1),
          `${name}: the whole prompt at the tier`,
        );
      }
    }
  });

  it('costs add up to the micro-unit as the ledger adds them (bigints) and as the events do (decimals)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(model, usage), { minLength: 1, maxLength: 200 }), (requests) => {
        const costs = requests
          .filter(([[, price]]) => price.currency === 'USD')
          .map(([[, price], u]) => computeCost(price, u).amount);
        const ledger = costs.reduce((sum, cost) => sum + parseUsd(cost), 0n);
        assert.equal(formatUsd(ledger), addAmounts(costs.length ? costs : ['0']));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('inPeakHours', () => {
  const minute = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const peak: fc.Arbitrary<PeakHours> = fc
    .record({
      windows: fc.array(
        fc
          .tuple(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: 1, max: 1440 }))
          .filter(([a, b]) => a < b),
        { minLength: 1, maxLength: 8 },
      ),
      weekdays: fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }), {
        nil: undefined,
      }),
    })
    .map(({ windows, weekdays }) => ({
      utcWindows: windows.map(([from, to]) => ({ from: minute(from), to: minute(to) })),
      ...(weekdays ? { utcWeekdays: weekdays } : {}),
      multiplier: '2',
    }));

  it('says what the UTC clock says, to the millisecond at every edge', () => {
    fc.assert(
      fc.property(peak, fc.integer({ min: -86_400_000 * 400, max: 4_102_444_800_000 }), (hours, around) => {
        // The edges of every window on the day of `around`, a millisecond either side.
        const day = Math.floor(around / 86_400_000) * 86_400_000;
        const instants = [around];
        for (const w of hours.utcWindows)
          for (const edge of [w.from, w.to]) {
            const at = day + (Number(edge.slice(0, 2)) * 60 + Number(edge.slice(3))) * 60_000;
            instants.push(at - 1, at, at + 1);
          }
        for (const at of instants) {
          const date = new Date(at);
          const isoDay = ((date.getUTCDay() + 6) % 7) + 1;
          const m = date.getUTCHours() * 60 + date.getUTCMinutes();
          const onDay = hours.utcWeekdays === undefined || hours.utcWeekdays.includes(isoDay);
          const inWindow = hours.utcWindows.some((w) => {
            const from = Number(w.from.slice(0, 2)) * 60 + Number(w.from.slice(3));
            const to = Number(w.to.slice(0, 2)) * 60 + Number(w.to.slice(3));
            return m >= from && m < to;
          });
          assert.equal(
            inPeakHours(hours, at),
            onDay && inWindow,
            `${date.toISOString()} ${JSON.stringify(hours)}`,
          );
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
