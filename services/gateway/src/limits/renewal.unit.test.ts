import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { limitResetEventId } from '@kordon/events';
import { formatUsd, parseUsd } from './amount.js';
import { BudgetLedger } from './budget-ledger.js';
import { periodAt } from './period.js';
import { planResets, type RenewalPolicy } from './renewal.js';

const usd = parseUsd;
const iso = (ms: number) => new Date(ms).toISOString();
const DAILY: RenewalPolicy = {
  period: '1d',
  timeZone: 'Europe/Berlin',
  rollover: false,
  rolloverMaxPercent: null,
};
const MAY_31 = periodAt('1d', 'Europe/Berlin', Date.parse('2025-05-31T12:00:00Z')).start;

describe('planResets', () => {
  test('nothing due inside the current period; one reset at the boundary', () => {
    const state = { lastPeriodStart: MAY_31, allowance: usd('10'), unused: usd('4') };
    assert.deepEqual(planResets(DAILY, state, Date.parse('2025-05-31T21:59:59Z')), {
      resets: [],
      omitted: 0,
    });
    const { resets } = planResets(DAILY, state, Date.parse('2025-05-31T22:00:00Z'));
    assert.deepEqual(
      resets.map((r) => [iso(r.start), iso(r.end), r.rolledOver]),
      [['2025-05-31T22:00:00.000Z', '2025-06-01T22:00:00.000Z', 0n]],
    );
  });

  test('a budget never reset starts with the current period, nothing carried', () => {
    const now = Date.parse('2025-06-15T10:00:00Z');
    const plan = planResets(
      { ...DAILY, period: '1mo', rollover: true },
      { lastPeriodStart: null, allowance: usd('25'), unused: 0n },
      now,
    );
    assert.deepEqual(plan.resets, [{ ...periodAt('1mo', 'Europe/Berlin', now), rolledOver: 0n }]);
  });

  test('after three days down: every missed day, with rollover capped at 150%', () => {
    const policy = { ...DAILY, rollover: true, rolloverMaxPercent: 150 };
    const state = { lastPeriodStart: MAY_31, allowance: usd('10'), unused: usd('4') };
    const now = Date.parse('2025-06-03T08:00:00Z');
    const plan = planResets(policy, state, now);
    assert.equal(plan.omitted, 0);
    assert.deepEqual(
      plan.resets.map((r) => [iso(r.start), formatUsd(r.rolledOver)]),
      [
        ['2025-05-31T22:00:00.000Z', '4'],
        ['2025-06-01T22:00:00.000Z', '14'],
        ['2025-06-02T22:00:00.000Z', '15'],
      ],
    );
    // Keeping only the newest two gives the same amounts.
    const newest = planResets(policy, state, now, 2);
    assert.equal(newest.omitted, 1);
    assert.deepEqual(newest.resets, plan.resets.slice(1));
  });

  test('after three days down without rollover: only the current day, the missed ones counted', () => {
    const state = { lastPeriodStart: MAY_31, allowance: usd('10'), unused: usd('4') };
    const plan = planResets(DAILY, state, Date.parse('2025-06-03T08:00:00Z'));
    assert.deepEqual(plan, {
      resets: [
        {
          start: Date.parse('2025-06-02T22:00:00.000Z'),
          end: Date.parse('2025-06-03T22:00:00.000Z'),
          rolledOver: 0n,
        },
      ],
      omitted: 2,
    });
    // Idle past `max` periods: still the current one, the rest counted.
    const idle = planResets(DAILY, state, Date.parse('2025-12-03T08:00:00Z'), 100);
    assert.equal(idle.resets.length, 1);
    assert.equal(
      idle.resets[0]!.start,
      periodAt('1d', 'Europe/Berlin', Date.parse('2025-12-03T08:00:00Z')).start,
    );
    assert.equal(idle.omitted, 185);
  });

  test('without a cap the carried amount grows by one allowance per missed period', () => {
    const policy: RenewalPolicy = {
      period: '90s',
      timeZone: 'UTC',
      rollover: true,
      rolloverMaxPercent: null,
    };
    const start = Date.parse('2025-06-01T00:00:00Z');
    const plan = planResets(
      policy,
      { lastPeriodStart: start, allowance: 5n, unused: 2n },
      start + 7 * 86_400_000,
      3,
    );
    assert.equal(plan.omitted, 6717);
    assert.deepEqual(
      plan.resets.map((r) => r.rolledOver),
      [2n + 6717n * 5n, 2n + 6718n * 5n, 2n + 6719n * 5n],
    );
  });

  test('lifetime budgets never reset', () => {
    const plan = planResets(
      { ...DAILY, period: 'lifetime' },
      { lastPeriodStart: null, allowance: 1n, unused: 1n },
      MAY_31,
    );
    assert.deepEqual(plan, { resets: [], omitted: 0 });
  });

  test('two replicas plan the same resets, so the event ids collide and the store keeps one', () => {
    const policy = { ...DAILY, rollover: true, rolloverMaxPercent: 100 };
    const now = Date.parse('2025-06-01T22:00:01Z');
    const ids = [1, 2].map(() => {
      const ledger = new BudgetLedger();
      ledger.setAllowance('k', usd('10'));
      ledger.reset('k', MAY_31, 0n);
      ledger.settle('r1', usd('3'), ['k'], MAY_31 + 1000);
      const plan = planResets(
        policy,
        { lastPeriodStart: MAY_31, allowance: usd('10'), unused: ledger.rollover('k', null) },
        now,
      );
      return plan.resets.map((r) => ({
        id: limitResetEventId('o1', { scope: 'proxy-key', scopeId: 'k1', limit: 'budget_usd' }, iso(r.start)),
        rolledOver: formatUsd(r.rolledOver),
      }));
    });
    assert.equal(ids[0]!.length, 2);
    assert.deepEqual(ids[0], ids[1]);
    assert.deepEqual(
      ids[0]!.map((r) => r.rolledOver),
      ['7', '10'],
    );
  });
  test('a changed period counts from the change: the spend stays until the new spec`s next boundary, nothing invented', () => {
    const utc = { timeZone: 'UTC', rolloverMaxPercent: null } as const;
    const nov1 = Date.parse('2026-11-01T00:00:00Z');
    const state = {
      lastPeriodStart: nov1,
      lastPeriodEnd: Date.parse('2026-12-01T00:00:00Z'),
      changedAt: Date.parse('2026-11-10T10:00:00Z'),
      allowance: usd('1'),
      unused: usd('0.99'),
    };
    const daily: RenewalPolicy = { ...utc, period: '1d', rollover: true };
    assert.deepEqual(planResets(daily, state, Date.parse('2026-11-10T23:00:00Z')), {
      resets: [],
      omitted: 0,
      changed: true,
    });
    const { resets } = planResets(daily, state, Date.parse('2026-11-11T01:00:00Z'));
    assert.deepEqual(
      resets.map((r) => [iso(r.start), r.rolledOver]),
      [['2026-11-11T00:00:00.000Z', usd('0.99')]],
      'one reset, carrying what the month left, not nine days of allowance',
    );
    // A daily budget made monthly on the 10th: that day's spend stays until 1 December.
    const dayState = {
      ...state,
      lastPeriodStart: Date.parse('2026-11-10T00:00:00Z'),
      lastPeriodEnd: Date.parse('2026-11-11T00:00:00Z'),
    };
    const monthly: RenewalPolicy = { ...utc, period: '1mo', rollover: false };
    assert.equal(planResets(monthly, dayState, Date.parse('2026-11-20T00:00:00Z')).resets.length, 0);
    assert.deepEqual(
      planResets(monthly, dayState, Date.parse('2026-12-01T00:00:00Z')).resets.map((r) => iso(r.start)),
      ['2026-12-01T00:00:00.000Z'],
    );
    // The same spec (an allowance raised): renewed as after downtime, without rollover to the
    // current day only (the missed days would carry nothing and change nothing).
    const same = { ...dayState, lastPeriodEnd: Date.parse('2026-11-11T00:00:00Z') };
    const plan = planResets(
      { ...utc, period: '1d', rollover: false },
      same,
      Date.parse('2026-11-13T01:00:00Z'),
    );
    assert.deepEqual(
      plan.resets.map((r) => iso(r.start)),
      ['2026-11-13T00:00:00.000Z'],
    );
    assert.equal(plan.omitted, 2);
  });

  test('a period changed after the last one ended renews that one at its end, as it would have been', () => {
    const utc = { timeZone: 'UTC', rolloverMaxPercent: null } as const;
    // A spent month, made $1 a day at 09:00 on 1 December, before December's first request.
    const state = {
      lastPeriodStart: Date.parse('2026-11-01T00:00:00Z'),
      lastPeriodEnd: Date.parse('2026-12-01T00:00:00Z'),
      changedAt: Date.parse('2026-12-01T09:00:00Z'),
      allowance: usd('1'),
      unused: 0n,
    };
    const daily: RenewalPolicy = { ...utc, period: '1d', rollover: false };
    assert.deepEqual(
      planResets(daily, state, Date.parse('2026-12-01T09:05:00Z')).resets.map((r) => [
        iso(r.start),
        iso(r.end),
      ]),
      [['2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z']],
      'November is over: 1 December is not held to its spend',
    );
    // A spent day made monthly the next morning: a fresh counter until 1 December, then months.
    const dayState = {
      ...state,
      lastPeriodStart: Date.parse('2026-11-09T00:00:00Z'),
      lastPeriodEnd: Date.parse('2026-11-10T00:00:00Z'),
      changedAt: Date.parse('2026-11-10T09:00:00Z'),
    };
    const monthly: RenewalPolicy = { ...utc, period: '1mo', rollover: true };
    assert.deepEqual(
      planResets(monthly, dayState, Date.parse('2026-11-10T09:05:00Z')).resets.map((r) => [
        iso(r.start),
        iso(r.end),
        r.rolledOver,
      ]),
      [['2026-11-10T00:00:00.000Z', '2026-12-01T00:00:00.000Z', 0n]],
    );
    // Idle since: the days after the change are planned (and carry), none before it.
    const idle = { ...state, changedAt: Date.parse('2026-12-03T09:00:00Z'), unused: usd('0.25') };
    assert.deepEqual(
      planResets({ ...daily, rollover: true }, idle, Date.parse('2026-12-05T10:00:00Z')).resets.map((r) => [
        iso(r.start),
        formatUsd(r.rolledOver),
      ]),
      [
        ['2026-12-01T00:00:00.000Z', '0.25'],
        ['2026-12-04T00:00:00.000Z', '1.25'],
        ['2026-12-05T00:00:00.000Z', '2.25'],
      ],
    );
  });
});
