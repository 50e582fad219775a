import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inPeakHours } from './peak-hours.js';
import { PriceBook, PriceBookError } from './price-book.js';
import { type PeakHours, peakHours } from './price-schema.js';
import { SHIPPED_PRICE_TABLE } from './price-table.js';

const book = PriceBook.shipped();
const ms = (iso: string) => Date.parse(iso);
const deepSeekPeak = SHIPPED_PRICE_TABLE.models['deepseek-flash']?.peakHours as PeakHours;

// 2026-12-07 is a Monday, 2026-12-11 a Friday, 2026-12-12 and 2026-12-13 the weekend.
const edges: Array<[at: string, peak: boolean]> = [
  ['2026-12-07T00:59:59.999Z', false],
  ['2026-12-07T01:00:00.000Z', true],
  ['2026-12-07T03:59:59.999Z', true],
  ['2026-12-07T04:00:00.000Z', false],
  ['2026-12-07T05:59:59.999Z', false],
  ['2026-12-07T06:00:00.000Z', true],
  ['2026-12-07T09:59:59.999Z', true],
  ['2026-12-07T10:00:00.000Z', false],
  // The weekday edges: Friday peaks, Saturday and Sunday do not, Monday again.
  ['2026-12-11T09:59:59.999Z', true],
  ['2026-12-12T01:00:00.000Z', false],
  ['2026-12-12T06:00:00.000Z', false],
  ['2026-12-13T09:59:59.999Z', false],
  ['2026-12-14T01:00:00.000Z', true],
];

describe('inPeakHours: DeepSeek, 01:00-04:00 and 06:00-10:00 UTC, Monday to Friday', () => {
  for (const [at, peak] of edges) {
    test(`${at} is ${peak ? 'peak' : 'off-peak'}`, () => {
      assert.equal(inPeakHours(deepSeekPeak, ms(at)), peak);
    });
  }

  test('every day when no weekdays are given; a window may end at 24:00', () => {
    const daily = peakHours.parse({ utcWindows: [{ from: '22:30', to: '24:00' }], multiplier: '2' });
    assert.equal(inPeakHours(daily, ms('2026-12-12T22:29:59.999Z')), false);
    assert.equal(inPeakHours(daily, ms('2026-12-12T22:30:00.000Z')), true);
    assert.equal(inPeakHours(daily, ms('2026-12-12T23:59:59.999Z')), true);
    assert.equal(inPeakHours(daily, ms('2026-12-13T00:00:00.000Z')), false);
    // Before 1970 too (negative epoch milliseconds): 1969-12-31 was a Wednesday.
    assert.equal(inPeakHours(daily, ms('1969-12-31T23:00:00.000Z')), true);
    assert.equal(inPeakHours(deepSeekPeak, ms('1969-12-31T02:00:00.000Z')), true);
    assert.equal(inPeakHours(deepSeekPeak, ms('1969-12-28T02:00:00.000Z')), false);
  });

  test('a window that does not end after it starts, or a day that is no ISO weekday, is refused', () => {
    for (const bad of [
      { utcWindows: [{ from: '16:30', to: '00:30' }], multiplier: '2' },
      { utcWindows: [{ from: '01:00', to: '01:00' }], multiplier: '2' },
      { utcWindows: [{ from: '1:00', to: '04:00' }], multiplier: '2' },
      { utcWindows: [{ from: '01:00', to: '24:01' }], multiplier: '2' },
      { utcWindows: [], multiplier: '2' },
      { utcWindows: [{ from: '01:00', to: '04:00' }], utcWeekdays: [0], multiplier: '2' },
      { utcWindows: [{ from: '01:00', to: '04:00' }], multiplier: '2.0x' },
    ]) {
      assert.equal(peakHours.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});

describe('PriceBook.priceRequest: DeepSeek by the time the request arrived', () => {
  // 800,000 cache misses, 200,000 cache hits, 100,000 out.
  const usage = { inputTokens: 1_000_000, outputTokens: 100_000, cachedInputTokens: 200_000 };
  const cost = (model: string, at: string | Date | number) => {
    const found = book.priceRequest(model, usage, { at: typeof at === 'string' ? ms(at) : at });
    assert.equal(found.status, 'priced');
    return found.status === 'priced' ? found.cost.amount : '';
  };

  test('deepseek-flash: $0.15 / $0.003 / $0.60 off-peak, twice every rate at peak, on each side of each edge', () => {
    // 0.8 x 0.15 + 0.2 x 0.003 + 0.1 x 0.60 = 0.1806; at peak 0.3612.
    for (const [at, peak] of edges) assert.equal(cost('deepseek-flash', at), peak ? '0.3612' : '0.1806', at);
  });

  test('deepseek-v4-pro: $0.66 / $0.022 / $1.98 off-peak, twice at peak', () => {
    // 0.8 x 0.66 + 0.2 x 0.022 + 0.1 x 1.98 = 0.7304.
    assert.equal(cost('deepseek-v4-pro', '2026-12-07T00:59:59.999Z'), '0.7304');
    assert.equal(cost('deepseek-v4-pro', '2026-12-07T01:00:00.000Z'), '1.4608');
  });

  test('the legacy names and the V4 Flash ids are priced as deepseek-flash, with its peak hours', () => {
    for (const model of [
      'deepseek-chat',
      'deepseek-reasoner',
      'deepseek-v4-flash',
      'deepseek-v4-flash-vision-exp',
      'deepseek/deepseek-chat',
    ]) {
      assert.equal(cost(model, '2026-12-08T07:00:00Z'), '0.3612', model);
      assert.equal(cost(model, '2026-12-08T12:00:00Z'), '0.1806', model);
    }
  });

  test('a Date and its epoch milliseconds price alike; a model without peak hours ignores the time', () => {
    assert.equal(cost('deepseek-flash', new Date('2026-12-07T02:00:00Z')), '0.3612');
    assert.equal(cost('gpt-4o', '2026-12-07T02:00:00Z'), cost('gpt-4o', '2026-12-07T12:00:00Z'));
  });
});

describe('org prices of a model with peak hours', () => {
  const usage = { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 0 };
  const peak = ms('2026-12-07T02:00:00Z');
  const offPeak = ms('2026-12-07T12:00:00Z');
  const cost = (b: PriceBook, at: number) => {
    const found = b.priceRequest('deepseek-chat', usage, { orgId: 'acme', at });
    return found.status === 'priced' ? found.cost.amount : found.reason;
  };

  test("an org's own rates are its whole price at every hour: the table's peak hours do not come along", () => {
    const b = book.withOverrides([
      { orgId: 'acme', model: 'deepseek-flash', effectiveFrom: '2026-01-01', input: '0.10', output: '0.40' },
    ]);
    assert.equal(cost(b, offPeak), '0.1');
    assert.equal(cost(b, peak), '0.1');
  });

  test("an override of the cache rate only keeps the table's rates and their peak hours", () => {
    const b = book.withOverrides([
      { orgId: 'acme', model: 'deepseek-flash', effectiveFrom: '2026-01-01', cachedInput: '0.001' },
    ]);
    assert.equal(cost(b, offPeak), '0.15');
    assert.equal(cost(b, peak), '0.3');
  });

  test('an override states its own peak hours: with its own rates, or other windows and multiple', () => {
    const own = book.withOverrides([
      {
        orgId: 'acme',
        model: 'deepseek-flash',
        effectiveFrom: '2026-01-01',
        input: '0.10',
        peakHours: { utcWindows: [{ from: '01:00', to: '04:00' }], utcWeekdays: [1], multiplier: '2' },
      },
    ]);
    assert.equal(cost(own, peak), '0.2');
    assert.equal(cost(own, offPeak), '0.1');
    const evenings = book.withOverrides([
      {
        orgId: 'acme',
        model: 'deepseek-flash',
        effectiveFrom: '2026-01-01',
        peakHours: { utcWindows: [{ from: '12:00', to: '13:00' }], multiplier: '3' },
      },
    ]);
    assert.equal(cost(evenings, peak), '0.15');
    assert.equal(cost(evenings, offPeak), '0.45');
  });

  test('an override with a window that ends before it starts is refused', () => {
    assert.throws(
      () =>
        book.withOverrides([
          {
            orgId: 'acme',
            model: 'deepseek-flash',
            effectiveFrom: '2026-01-01',
            peakHours: { utcWindows: [{ from: '16:30', to: '00:30' }], multiplier: '0.5' },
          },
        ]),
      PriceBookError,
    );
  });
});
