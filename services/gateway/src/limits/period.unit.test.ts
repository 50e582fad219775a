import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Period,
  PeriodSpecError,
  PeriodTracker,
  parsePeriod,
  periodAt,
  periodsBetween,
} from './period.js';

const at = (iso: string) => Date.parse(iso);
const show = (p: Period) => [new Date(p.start).toISOString(), new Date(p.end).toISOString()];
const hours = (p: Period) => (p.end - p.start) / 3_600_000;

describe('parsePeriod', () => {
  test('calendar and fixed units', () => {
    assert.deepEqual(parsePeriod('1d'), { kind: 'calendar', unit: 'day', count: 1, text: '1d' });
    assert.deepEqual(parsePeriod('2w'), { kind: 'calendar', unit: 'week', count: 2, text: '2w' });
    assert.deepEqual(parsePeriod('3mo'), { kind: 'calendar', unit: 'month', count: 3, text: '3mo' });
    assert.deepEqual(parsePeriod('1y'), { kind: 'calendar', unit: 'month', count: 12, text: '1y' });
    assert.deepEqual(parsePeriod('90s'), { kind: 'fixed', ms: 90_000, text: '90s' });
    assert.deepEqual(parsePeriod('15m'), { kind: 'fixed', ms: 900_000, text: '15m' });
    assert.deepEqual(parsePeriod('6h'), { kind: 'fixed', ms: 21_600_000, text: '6h' });
    assert.deepEqual(parsePeriod('8784h'), { kind: 'fixed', ms: 366 * 86_400_000, text: '8784h' });
    assert.deepEqual(parsePeriod('lifetime'), { kind: 'lifetime', text: 'lifetime' });
  });

  test('refuses what is not a period', () => {
    for (const bad of [
      '',
      'd',
      '0d',
      '01d',
      '1.5h',
      '-1d',
      '1 d',
      '1D',
      '1x',
      '1min',
      '367d',
      '54w',
      '121mo',
      '11y',
      '8785h',
      'day',
      'month',
      'Lifetime',
    ]) {
      assert.throws(() => parsePeriod(bad), PeriodSpecError, bad);
    }
  });

  test('an unknown time zone is refused', () => {
    assert.throws(() => periodAt('1d', 'Mars/Olympus_Mons', at('2025-01-01T00:00:00Z')), PeriodSpecError);
    assert.throws(() => new PeriodTracker('1d', 'Not/AZone'), PeriodSpecError);
  });
});

describe('periodAt: calendar days', () => {
  test('UTC day, boundaries inclusive at the start and exclusive at the end', () => {
    const day = periodAt('1d', 'UTC', at('2025-06-15T12:00:00Z'));
    assert.deepEqual(show(day), ['2025-06-15T00:00:00.000Z', '2025-06-16T00:00:00.000Z']);
    assert.deepEqual(periodAt('1d', 'UTC', day.start), day);
    assert.deepEqual(periodAt('1d', 'UTC', day.end - 1), day);
    assert.equal(periodAt('1d', 'UTC', day.end).start, day.end);
  });

  test('Europe/Berlin spring forward: a 23-hour day', () => {
    const day = periodAt('1d', 'Europe/Berlin', at('2025-03-30T12:00:00Z'));
    assert.deepEqual(show(day), ['2025-03-29T23:00:00.000Z', '2025-03-30T22:00:00.000Z']);
    assert.equal(hours(day), 23);
    // 01:59:59 CET and 03:00 CEST are one second apart and on the same day.
    assert.deepEqual(periodAt('1d', 'Europe/Berlin', at('2025-03-30T00:59:59Z')), day);
    assert.deepEqual(periodAt('1d', 'Europe/Berlin', at('2025-03-30T01:00:00Z')), day);
  });

  test('America/New_York fall back: a 25-hour day', () => {
    const day = periodAt('1d', 'America/New_York', at('2025-11-02T12:00:00Z'));
    assert.deepEqual(show(day), ['2025-11-02T04:00:00.000Z', '2025-11-03T05:00:00.000Z']);
    assert.equal(hours(day), 25);
    // Both 01:30 (EDT, then EST) are on 2 November.
    assert.deepEqual(periodAt('1d', 'America/New_York', at('2025-11-02T05:30:00Z')), day);
    assert.deepEqual(periodAt('1d', 'America/New_York', at('2025-11-02T06:30:00Z')), day);
    assert.deepEqual(show(periodAt('1d', 'America/New_York', at('2025-11-02T03:59:59Z'))), [
      '2025-11-01T04:00:00.000Z',
      '2025-11-02T04:00:00.000Z',
    ]);
  });

  test('Australia/Lord_Howe: half an hour of DST makes a 24.5-hour day', () => {
    const day = periodAt('1d', 'Australia/Lord_Howe', at('2025-04-06T05:00:00Z'));
    assert.deepEqual(show(day), ['2025-04-05T13:00:00.000Z', '2025-04-06T13:30:00.000Z']);
    assert.equal(hours(day), 24.5);
  });

  test('Asia/Kolkata: half-hour offset', () => {
    assert.deepEqual(show(periodAt('1d', 'Asia/Kolkata', at('2025-06-15T20:00:00Z'))), [
      '2025-06-15T18:30:00.000Z',
      '2025-06-16T18:30:00.000Z',
    ]);
  });

  test('America/Santiago: midnight does not exist, the day starts at 01:00', () => {
    const day = periodAt('1d', 'America/Santiago', at('2024-09-08T12:00:00Z'));
    // 2024-09-08 00:00 -04 became 01:00 -03; the day ends at 00:00 -03 on the 9th.
    assert.deepEqual(show(day), ['2024-09-08T04:00:00.000Z', '2024-09-09T03:00:00.000Z']);
    assert.equal(hours(day), 23);
    assert.equal(periodAt('1d', 'America/Santiago', at('2024-09-08T03:59:59.999Z')).end, day.start);
  });

  test('Pacific/Apia skipped 30 December 2011 entirely', () => {
    const before = periodAt('1d', 'Pacific/Apia', at('2011-12-30T09:59:59Z'));
    const after = periodAt('1d', 'Pacific/Apia', at('2011-12-30T10:00:00Z'));
    assert.equal(before.end, after.start);
    assert.equal(hours(before), 24);
    assert.equal(hours(after), 24);
    const listed = periodsBetween('1d', 'Pacific/Apia', before.start, after.start);
    assert.deepEqual(listed.periods, [after]);
  });

  test('2d counts pairs of days from 1970-01-01', () => {
    // 1971-01-04 is day 368 since 1970-01-01: an even day starts a pair.
    const pair = ['1971-01-04T00:00:00.000Z', '1971-01-06T00:00:00.000Z'];
    assert.deepEqual(show(periodAt('2d', 'UTC', at('1971-01-04T12:00:00Z'))), pair);
    assert.deepEqual(show(periodAt('2d', 'UTC', at('1971-01-05T23:59:59Z'))), pair);
  });
});

describe('periodAt: weeks, months, years', () => {
  test('a week starts on Monday in the zone, across the DST Sunday', () => {
    const week = periodAt('1w', 'Europe/Berlin', at('2025-03-30T21:59:59Z'));
    assert.deepEqual(show(week), ['2025-03-23T23:00:00.000Z', '2025-03-30T22:00:00.000Z']);
    assert.equal(hours(week), 167);
    assert.equal(new Date(week.start + 3_600_000).getUTCDay(), 1);
  });

  test('months of 28, 29, 30 and 31 days; 31 January rolls into February', () => {
    const tz = 'Europe/Berlin';
    const january = periodAt('1mo', tz, at('2025-01-31T22:59:59Z'));
    assert.deepEqual(show(january), ['2024-12-31T23:00:00.000Z', '2025-01-31T23:00:00.000Z']);
    const february = periodAt('1mo', tz, at('2025-01-31T23:00:00Z'));
    assert.deepEqual(show(february), ['2025-01-31T23:00:00.000Z', '2025-02-28T23:00:00.000Z']);
    assert.equal(hours(february), 28 * 24);
    assert.equal(hours(periodAt('1mo', tz, at('2024-02-15T00:00:00Z'))), 29 * 24);
    // March has the spring-forward hour, October the fall-back one.
    assert.equal(hours(periodAt('1mo', tz, at('2025-03-15T00:00:00Z'))), 31 * 24 - 1);
    assert.equal(hours(periodAt('1mo', tz, at('2025-10-15T00:00:00Z'))), 31 * 24 + 1);
    assert.equal(hours(periodAt('1mo', tz, at('2025-04-15T00:00:00Z'))), 30 * 24);
  });

  test('New York month end with the fall-back hour', () => {
    assert.deepEqual(show(periodAt('1mo', 'America/New_York', at('2025-11-30T23:00:00Z'))), [
      '2025-11-01T04:00:00.000Z',
      '2025-12-01T05:00:00.000Z',
    ]);
  });

  test('monthStartDay moves the month boundary', () => {
    const options = { monthStartDay: 15 };
    assert.deepEqual(show(periodAt('1mo', 'UTC', at('2025-02-10T12:00:00Z'), options)), [
      '2025-01-15T00:00:00.000Z',
      '2025-02-15T00:00:00.000Z',
    ]);
    assert.deepEqual(show(periodAt('1mo', 'UTC', at('2025-02-15T00:00:00Z'), options)), [
      '2025-02-15T00:00:00.000Z',
      '2025-03-15T00:00:00.000Z',
    ]);
    assert.throws(
      () => periodAt('1mo', 'UTC', at('2025-02-15T00:00:00Z'), { monthStartDay: 29 }),
      PeriodSpecError,
    );
  });

  test('3mo is a calendar quarter, 1y a calendar year, in the zone', () => {
    assert.deepEqual(show(periodAt('3mo', 'Asia/Kolkata', at('2025-02-10T12:00:00Z'))), [
      '2024-12-31T18:30:00.000Z',
      '2025-03-31T18:30:00.000Z',
    ]);
    assert.deepEqual(show(periodAt('1y', 'Asia/Tokyo', at('2025-12-31T14:59:59Z'))), [
      '2024-12-31T15:00:00.000Z',
      '2025-12-31T15:00:00.000Z',
    ]);
  });

  test('lifetime never ends', () => {
    const p = periodAt('lifetime', 'UTC', at('2025-01-01T00:00:00Z'));
    assert.equal(p.start, Number.NEGATIVE_INFINITY);
    assert.equal(p.end, Number.POSITIVE_INFINITY);
    assert.deepEqual(
      periodsBetween('lifetime', 'UTC', at('2020-01-01T00:00:00Z'), at('2025-01-01T00:00:00Z')),
      {
        periods: [],
        omitted: 0,
      },
    );
  });

  test('periods are contiguous and hold their instant, in many zones (seeded sample)', () => {
    const zones = [
      'UTC',
      'Europe/Berlin',
      'America/New_York',
      'Australia/Lord_Howe',
      'Asia/Kathmandu',
      'America/Santiago',
      'Pacific/Chatham',
    ];
    const specs = ['1d', '2d', '1w', '2w', '1mo', '3mo', '1y', '90s', '6h'];
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const from = at('2000-01-01T00:00:00Z');
    const span = at('2040-01-01T00:00:00Z') - from;
    for (let i = 0; i < 300; i++) {
      const tz = zones[i % zones.length]!;
      const spec = specs[Math.floor(random() * specs.length)]!;
      const now = from + Math.floor(random() * span);
      const p = periodAt(spec, tz, now);
      assert.ok(p.start <= now && now < p.end, `${spec} ${tz} ${new Date(now).toISOString()}`);
      assert.equal(periodAt(spec, tz, p.end).start, p.end, `${spec} ${tz} next`);
      assert.equal(periodAt(spec, tz, p.start - 1).end, p.start, `${spec} ${tz} previous`);
    }
  });
});

describe('periodAt: fixed durations', () => {
  test('a 90s period is aligned to the epoch, whatever the zone', () => {
    const now = at('2025-02-10T12:00:40Z');
    const p = periodAt('90s', 'Europe/Berlin', now);
    assert.equal(p.start % 90_000, 0);
    assert.deepEqual(show(p), ['2025-02-10T12:00:00.000Z', '2025-02-10T12:01:30.000Z']);
    assert.deepEqual(periodAt('90s', 'UTC', now), p);
    assert.deepEqual(periodAt('90s', 'UTC', p.end - 1), p);
    assert.deepEqual(show(periodAt('90s', 'UTC', p.end)), [
      '2025-02-10T12:01:30.000Z',
      '2025-02-10T12:03:00.000Z',
    ]);
  });

  test('6h starts at 00, 06, 12, 18 UTC, also in a DST zone', () => {
    assert.deepEqual(show(periodAt('6h', 'America/New_York', at('2025-11-02T07:00:00Z'))), [
      '2025-11-02T06:00:00.000Z',
      '2025-11-02T12:00:00.000Z',
    ]);
  });
});

describe('periodsBetween', () => {
  test('lists each day missed during 40 days down, DST day included', () => {
    const from = at('2025-02-28T23:00:00Z'); // start of 1 March in Berlin, the last reset applied
    const to = at('2025-04-09T10:00:00Z');
    const { periods, omitted } = periodsBetween('1d', 'Europe/Berlin', from, to);
    assert.equal(omitted, 0);
    assert.equal(periods.length, 39); // 2 March ... 9 April
    assert.equal(periods[0]!.start, at('2025-03-01T23:00:00Z'));
    assert.deepEqual(periods.at(-1), periodAt('1d', 'Europe/Berlin', to));
    for (let i = 1; i < periods.length; i++) assert.equal(periods[i]!.start, periods[i - 1]!.end);
    assert.deepEqual(
      periods.map(hours).filter((h) => h !== 24),
      [23],
    );
  });

  test('the period holding `from` is not listed, the one holding `to` is', () => {
    const from = at('2025-05-10T10:00:00Z');
    assert.deepEqual(periodsBetween('1d', 'UTC', from, at('2025-05-10T23:59:59Z')).periods, []);
    assert.deepEqual(periodsBetween('1d', 'UTC', from, at('2025-05-11T00:00:00Z')).periods, [
      periodAt('1d', 'UTC', at('2025-05-11T00:00:00Z')),
    ]);
    assert.deepEqual(periodsBetween('1d', 'UTC', from, from).periods, []);
    assert.deepEqual(periodsBetween('1d', 'UTC', from, from - 1).periods, []);
  });

  test('a 90s period across a week down keeps the newest 1000 and counts the rest', () => {
    const from = at('2025-01-06T00:00:00Z');
    const to = from + 7 * 86_400_000;
    const { periods, omitted } = periodsBetween('90s', 'UTC', from, to);
    assert.equal(periods.length + omitted, 6720);
    assert.equal(periods.length, 1000);
    assert.equal(omitted, 5720);
    assert.deepEqual(periods.at(-1), periodAt('90s', 'UTC', to));
    assert.equal(periods[0]!.start, from + 5721 * 90_000);
    const all = periodsBetween('90s', 'UTC', from, to, { max: 10_000 });
    assert.equal(all.periods.length, 6720);
    assert.equal(all.omitted, 0);
  });

  test('months over two years, with `max`', () => {
    const from = at('2023-01-01T05:00:00Z');
    const to = at('2025-01-15T00:00:00Z');
    const { periods, omitted } = periodsBetween('1mo', 'America/New_York', from, to, { max: 5 });
    assert.equal(omitted, 24 - 5);
    assert.deepEqual(
      periods.map((p) => new Date(p.start).toISOString()),
      [
        '2024-09-01T04:00:00.000Z',
        '2024-10-01T04:00:00.000Z',
        '2024-11-01T04:00:00.000Z',
        '2024-12-01T05:00:00.000Z',
        '2025-01-01T05:00:00.000Z',
      ],
    );
  });
});

describe('PeriodTracker', () => {
  test('keeps the current period and moves at the boundary', () => {
    const tracker = new PeriodTracker('1d', 'Europe/Berlin');
    const first = tracker.at(at('2025-03-30T12:00:00Z'));
    assert.equal(tracker.at(first.end - 1), first);
    const second = tracker.at(first.end);
    assert.equal(second.start, first.end);
    assert.equal(hours(second), 24);
  });
});
