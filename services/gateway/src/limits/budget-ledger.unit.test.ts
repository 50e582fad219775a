import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { formatAmount, formatUsd, parseAmount, parseUsd } from './amount.js';
import { BudgetLedger, DEFAULT_MAX_IDS } from './budget-ledger.js';

const T0 = Date.parse('2025-06-01T00:00:00Z');
const KEY = 'org:o1:proxy-key:k1:budget_usd';
const ORG = 'org:o1:org:o1:budget_usd';
const usd = parseUsd;
const available = (ledger: BudgetLedger, scope: string) => formatUsd(ledger.view(scope).available ?? 0n);

describe('amounts', () => {
  test('decimal strings to pico-dollars and back, exactly', () => {
    assert.equal(parseUsd('0.05'), 50_000_000_000n);
    assert.equal(parseUsd('25'), 25_000_000_000_000n);
    assert.equal(parseUsd('0.000000000001'), 1n);
    assert.equal(formatUsd(parseUsd('0.0004503')), '0.0004503');
    assert.equal(formatUsd(0n), '0');
    assert.equal(formatUsd(-parseUsd('1.5')), '-1.5');
    assert.equal(formatAmount(2_000_000n, 0), '2000000');
    assert.equal(parseAmount('12', 0), 12n);
    for (const bad of ['', '-1', '1e-7', '.5', '01', '0.0000000000001', ' 1']) {
      assert.throws(() => parseUsd(bad), RangeError, bad);
    }
    assert.throws(() => parseAmount('1.5', 0), RangeError);
  });
});

describe('BudgetLedger', () => {
  test('50 concurrent $0.05 reservations on a $1 budget: exactly 20 are admitted', async () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await tick();
        return ledger.reserve([KEY, ORG], `req-${i}`, usd('0.05'), T0);
      }),
    );
    assert.equal(results.filter((r) => r.ok).length, 20);
    assert.equal(ledger.inFlight, 20);
    assert.deepEqual(results[49], {
      ok: false,
      scopeKey: KEY,
      allowance: usd('1'),
      used: 0n,
      reserved: usd('1'),
      available: 0n,
    });
    assert.equal(available(ledger, KEY), '0');
  });

  test('settling to the real cost frees the difference; settling twice changes nothing', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    for (let i = 0; i < 20; i++) assert.ok(ledger.reserve([KEY], `req-${i}`, usd('0.05'), T0).ok);
    assert.equal(ledger.reserve([KEY], 'req-20', usd('0.05'), T0).ok, false);
    for (let i = 0; i < 20; i++)
      assert.equal(ledger.settle(`req-${i}`, usd('0.03'), [KEY], T0 + 1), 'settled');
    assert.equal(formatUsd(ledger.view(KEY).used), '0.6');
    assert.equal(ledger.view(KEY).reserved, 0n);
    assert.equal(available(ledger, KEY), '0.4');
    assert.equal(ledger.settle('req-0', usd('0.03'), [KEY], T0 + 2), 'duplicate');
    assert.equal(ledger.settle('req-0', usd('0.5'), [KEY], T0 + 2), 'duplicate');
    assert.equal(available(ledger, KEY), '0.4');
    // The difference admits 8 more, not 9.
    let admitted = 0;
    for (let i = 100; i < 110; i++) if (ledger.reserve([KEY], `req-${i}`, usd('0.05'), T0 + 3).ok) admitted++;
    assert.equal(admitted, 8);
    assert.deepEqual(ledger.reserve([KEY], 'req-100', usd('0.05'), T0 + 3), {
      ok: true,
      status: 'duplicate',
    });
    assert.deepEqual(ledger.reserve([KEY], 'req-0', usd('0.05'), T0 + 3), { ok: true, status: 'duplicate' });
  });

  test('the tightest scope refuses, and nothing is held anywhere', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    ledger.setAllowance(ORG, usd('0.1'));
    assert.ok(ledger.reserve([KEY, ORG], 'a', usd('0.08'), T0).ok);
    const refused = ledger.reserve([KEY, ORG], 'b', usd('0.05'), T0);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.scopeKey, ORG);
    assert.equal(!refused.ok && formatUsd(refused.available), '0.02');
    assert.equal(formatUsd(ledger.view(KEY).reserved), '0.08');
    // A scope without an allowance never refuses but counts.
    assert.ok(ledger.reserve(['team:t1'], 'c', usd('1000'), T0).ok);
    assert.equal(ledger.view('team:t1').available, null);
  });

  test('settling an unknown request (after a restart) adds its usage', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    assert.equal(ledger.settle('lost', usd('0.25'), [KEY, ORG], T0), 'unreserved');
    assert.equal(formatUsd(ledger.view(KEY).used), '0.25');
    assert.equal(formatUsd(ledger.view(ORG).used), '0.25');
    assert.equal(ledger.settle('lost', usd('0.25'), [KEY, ORG], T0), 'duplicate');
    assert.equal(available(ledger, KEY), '0.75');
  });

  test('release frees a hold without usage', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('0.1'));
    assert.ok(ledger.reserve([KEY], 'a', usd('0.1'), T0).ok);
    assert.equal(ledger.reserve([KEY], 'b', usd('0.01'), T0).ok, false);
    assert.equal(ledger.release('a'), true);
    assert.equal(ledger.release('a'), false);
    assert.equal(available(ledger, KEY), '0.1');
    assert.equal(ledger.view(KEY).used, 0n);
  });

  test('expire releases stale reservations; a late settle still counts', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    ledger.reserve([KEY], 'old-1', usd('0.4'), T0);
    ledger.reserve([KEY], 'old-2', usd('0.4'), T0 + 1000);
    ledger.reserve([KEY], 'new', usd('0.1'), T0 + 600_000);
    assert.deepEqual(ledger.expire(T0 + 300_000), ['old-1', 'old-2']);
    assert.deepEqual(ledger.expire(T0 + 300_000), []);
    assert.equal(formatUsd(ledger.view(KEY).reserved), '0.1');
    assert.equal(ledger.settle('old-1', usd('0.3'), [KEY], T0 + 700_000), 'unreserved');
    assert.equal(available(ledger, KEY), '0.6');
  });

  test('usage from other replicas counts once, and not across a reset', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    assert.equal(ledger.applyRemoteUsage([KEY, ORG], usd('0.2'), 'remote-1', T0), 'applied');
    assert.equal(ledger.applyRemoteUsage([KEY, ORG], usd('0.2'), 'remote-1', T0), 'duplicate');
    assert.equal(ledger.applyRemoteUsage(KEY, usd('0.2'), 'remote-1', T0), 'duplicate');
    assert.equal(available(ledger, KEY), '0.8');
    assert.equal(formatUsd(ledger.view(ORG).used), '0.2');
    // Our own settled request comes back through the event stream.
    ledger.reserve([KEY], 'mine', usd('0.1'), T0);
    ledger.settle('mine', usd('0.1'), [KEY], T0 + 1);
    assert.equal(ledger.applyRemoteUsage(KEY, usd('0.1'), 'mine', T0 + 1), 'duplicate');
    assert.equal(available(ledger, KEY), '0.7');
    // A usage event from before the current period arrives late: it belonged to the old period.
    const june2 = Date.parse('2025-06-02T00:00:00Z');
    ledger.reset(KEY, june2, 0n);
    assert.equal(ledger.applyRemoteUsage(KEY, usd('0.5'), 'remote-2', june2 - 1), 'stale');
    assert.equal(ledger.applyRemoteUsage(KEY, usd('0.5'), 'remote-3', june2), 'applied');
    assert.equal(available(ledger, KEY), '0.5');
  });

  test('reset is idempotent per period; older periods are ignored; holds survive it', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    const june2 = Date.parse('2025-06-02T00:00:00Z');
    const june3 = Date.parse('2025-06-03T00:00:00Z');
    ledger.settle('a', usd('0.7'), [KEY], T0);
    ledger.reserve([KEY], 'in-flight', usd('0.2'), june2 - 5);
    assert.equal(ledger.reset(KEY, june2, 0n), true);
    assert.equal(ledger.view(KEY).used, 0n);
    assert.equal(available(ledger, KEY), '0.8');
    ledger.settle('b', usd('0.1'), [KEY], june2 + 1);
    assert.equal(ledger.reset(KEY, june2, 0n), false);
    assert.equal(ledger.reset(KEY, T0, usd('5')), false);
    assert.equal(formatUsd(ledger.view(KEY).used), '0.1');
    // The request reserved before the boundary settles into the new period.
    assert.equal(ledger.settle('in-flight', usd('0.15'), [KEY], june2 + 10), 'settled');
    assert.equal(formatUsd(ledger.view(KEY).used), '0.25');
    assert.equal(ledger.reset(KEY, june3, 0n), true);
    assert.equal(ledger.view(KEY).periodStart, june3);
    assert.equal(available(ledger, KEY), '1');
  });

  test('rollover carries the unused part, capped', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    ledger.settle('a', usd('0.3'), [KEY], T0);
    assert.equal(formatUsd(ledger.rollover(KEY, null)), '0.7');
    assert.equal(formatUsd(ledger.rollover(KEY, 50)), '0.5');
    assert.equal(ledger.rollover('no-budget', null), 0n);
    assert.equal(ledger.reset(KEY, T0 + 86_400_000, ledger.rollover(KEY, null)), true);
    assert.equal(available(ledger, KEY), '1.7');
    assert.equal(formatUsd(ledger.rollover(KEY, 100)), '1');
    ledger.settle('b', usd('2'), [KEY], T0 + 86_400_001);
    assert.equal(ledger.rollover(KEY, null), 0n);
  });

  test('a budget added mid-period counts from then on; a lowered one applies at once', () => {
    const ledger = new BudgetLedger();
    ledger.settle('before', usd('30'), [KEY], T0);
    ledger.setAllowance(KEY, usd('25'));
    assert.equal(available(ledger, KEY), '25');
    assert.ok(ledger.reserve([KEY], 'after', usd('5'), T0).ok);
    ledger.settle('after', usd('5'), [KEY], T0);
    ledger.setAllowance(KEY, usd('4'));
    assert.equal(ledger.reserve([KEY], 'refused', usd('0.01'), T0).ok, false);
    ledger.setAllowance(KEY, null);
    assert.ok(ledger.reserve([KEY], 'unlimited', usd('100'), T0).ok);
  });

  test('token budgets: the same ledger in whole tokens', () => {
    const tokens = new BudgetLedger();
    tokens.setAllowance('key:k1:tokens', 2_000_000n);
    assert.ok(tokens.reserve(['key:k1:tokens'], 'r1', 1_500_000n, T0).ok);
    assert.equal(tokens.reserve(['key:k1:tokens'], 'r2', 600_000n, T0).ok, false);
    tokens.settle('r1', 1_200_000n, ['key:k1:tokens'], T0);
    assert.ok(tokens.reserve(['key:k1:tokens'], 'r2', 600_000n, T0).ok);
    assert.equal(tokens.view('key:k1:tokens').available, 200_000n);
  });

  test('snapshot and restore keep the counters, not the holds', () => {
    const ledger = new BudgetLedger();
    ledger.setAllowance(KEY, usd('1'));
    ledger.reset(KEY, T0, usd('0.5'));
    ledger.settle('a', usd('0.25'), [KEY], T0);
    ledger.reserve([KEY], 'held', usd('0.1'), T0);
    const snapshot = JSON.parse(JSON.stringify(ledger.snapshot()));
    const restored = BudgetLedger.restore(snapshot);
    assert.deepEqual(restored.view(KEY), { ...ledger.view(KEY), reserved: 0n, available: usd('1.25') });
    assert.equal(restored.reset(KEY, T0, 0n), false);
  });

  test('remembered request ids are bounded', () => {
    const ledger = new BudgetLedger({ maxIds: 3, idRetentionMs: 1000 });
    for (let i = 0; i < 5; i++) ledger.settle(`r${i}`, 1n, [KEY], T0);
    assert.equal(ledger.settle('r4', 1n, [KEY], T0), 'duplicate');
    assert.equal(ledger.settle('r0', 1n, [KEY], T0), 'unreserved'); // forgotten: past maxIds
    ledger.settle('late', 1n, [KEY], T0 + 5000);
    assert.equal(ledger.settle('r3', 1n, [KEY], T0 + 5000), 'unreserved'); // forgotten: past retention
  });

  test('remembers the last DEFAULT_MAX_IDS ids by default, not every request for 15 minutes', () => {
    const ledger = new BudgetLedger();
    ledger.settle('first', 1n, [KEY], T0);
    for (let i = 0; i < DEFAULT_MAX_IDS - 1; i++) ledger.settle(`r${i}`, 1n, [KEY], T0);
    assert.equal(ledger.settle('first', 1n, [KEY], T0), 'duplicate');
    assert.equal(ledger.applyRemoteUsage(KEY, 1n, 'remote', T0), 'applied'); // one more: 'first' goes
    assert.equal(ledger.settle('first', 1n, [KEY], T0), 'unreserved');
    assert.equal(ledger.applyRemoteUsage(KEY, 1n, 'remote', T0), 'duplicate');
  });

  test('the remembered ids wrap around their ring in order, by count and by age', () => {
    const ledger = new BudgetLedger({ maxIds: 4, idRetentionMs: 1000 });
    for (let i = 0; i < 10; i++) ledger.settle(`r${i}`, 1n, [KEY], T0 + i);
    for (const i of [6, 7, 8, 9]) assert.equal(ledger.settle(`r${i}`, 1n, [KEY], T0 + 10), 'duplicate');
    assert.equal(ledger.settle('r5', 1n, [KEY], T0 + 10), 'unreserved'); // now remembered, r6 forgotten
    assert.equal(ledger.applyRemoteUsage(KEY, 1n, 'r6', T0 + 10), 'applied'); // r7 forgotten
    // Remembered now: r8 (T0 + 8), r9 (T0 + 9), r5 and r6 (T0 + 10). An id 1,001 ms after r8
    // forgets r8 by age alone (three remain, under the four a count would allow), not r9.
    assert.equal(ledger.applyRemoteUsage(KEY, 1n, 'late', T0 + 1009), 'applied');
    for (const id of ['r9', 'r5', 'r6', 'late'])
      assert.equal(ledger.applyRemoteUsage(KEY, 1n, id, T0 + 1009), 'duplicate');
    assert.equal(ledger.applyRemoteUsage(KEY, 1n, 'r8', T0 + 1009), 'applied');
  });

  test('refuses negative amounts', () => {
    const ledger = new BudgetLedger();
    assert.throws(() => ledger.reserve([KEY], 'a', -1n, T0), RangeError);
    assert.throws(() => ledger.settle('a', -1n, [KEY], T0), RangeError);
    assert.throws(() => ledger.setAllowance(KEY, -1n), RangeError);
  });
});
