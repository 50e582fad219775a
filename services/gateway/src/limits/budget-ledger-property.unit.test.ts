import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BudgetLedger } from './budget-ledger.js';

/*
 * The ledger against a model over random interleavings: reservations on any of four scopes,
 * settles at, below or above the estimate (twice: redelivered), releases, expiries with late
 * settles, other replicas' usage (redelivered too, some stamped before a reset), resets and
 * snapshots. What is held is what the live reservations hold; what is used is every request's
 * cost counted once since the scope's reset; a refusal's numbers are the scope's.
 */

const SCOPES = ['k', 'u', 't', 'o'];
const SEED = 20261206;

type Op =
  | { kind: 'reserve'; scopes: boolean[]; estimate: number }
  | { kind: 'settle'; pick: number; percent: number }
  | { kind: 'release'; pick: number }
  | { kind: 'expire' }
  | { kind: 'remote'; scopes: boolean[]; amount: number; stale: boolean }
  | { kind: 'redeliver'; pick: number }
  | { kind: 'reset'; scope: number; rolledOver: number }
  | { kind: 'advance'; ms: number };

const scopes = fc.array(fc.boolean(), { minLength: 4, maxLength: 4 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('reserve' as const), scopes, estimate: fc.nat({ max: 1000 }) }),
  fc.record({
    kind: fc.constant('settle' as const),
    pick: fc.nat(),
    percent: fc.constantFrom(0, 40, 100, 250),
  }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.constant({ kind: 'expire' as const }),
  fc.record({
    kind: fc.constant('remote' as const),
    scopes,
    amount: fc.nat({ max: 1000 }),
    stale: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('redeliver' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('reset' as const),
    scope: fc.nat({ max: 3 }),
    rolledOver: fc.nat({ max: 500 }),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(1, 1000, 60_000, 600_000) }),
);

describe('BudgetLedger against a model', () => {
  it('holds, usage and refusals stay exact through any interleaving', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 3000 }), { minLength: 4, maxLength: 4 }),
        fc.array(op, { maxLength: 120 }),
        (allowances, ops) => {
          const ledger = new BudgetLedger({ idRetentionMs: 3_600_000 });
          for (const [i, s] of SCOPES.entries()) ledger.setAllowance(s, BigInt(allowances[i]!));
          let now = 1_000_000;
          let sequence = 0;
          const TTL = 900_000;
          // The model: reservations alive, per scope usage since its reset, its period start.
          const live = new Map<string, { scopes: string[]; amount: bigint; at: number; expired: boolean }>();
          const counted: Array<{ id: string; scopes: string[]; amount: bigint; at: number }> = [];
          const used = new Map(SCOPES.map((s) => [s, 0n]));
          const rolled = new Map(SCOPES.map((s) => [s, 0n]));
          const start = new Map(SCOPES.map((s) => [s, Number.NEGATIVE_INFINITY]));
          const ended: string[] = [];
          const pickOf = (keys: string[], n: number) => (keys.length ? keys[n % keys.length] : undefined);
          for (const o of ops) {
            if (o.kind === 'advance') now += o.ms;
            else if (o.kind === 'reserve') {
              const keys = SCOPES.filter((_, i) => o.scopes[i]);
              const id = `r${++sequence}`;
              const estimate = BigInt(o.estimate);
              const result = ledger.reserve(keys, id, estimate, now);
              const fits = keys.every((k) => {
                const v = ledger.view(k);
                return v.available === null || estimate <= v.available + (result.ok ? estimate : 0n);
              });
              assert.equal(result.ok, fits, 'admitted iff it fits every scope');
              if (result.ok) live.set(id, { scopes: keys, amount: estimate, at: now, expired: false });
              else {
                const v = ledger.view(result.scopeKey);
                assert.equal(result.available, v.available);
                assert.equal(result.reserved, v.reserved);
                assert.equal(result.used, v.used - v.baseline);
                assert.equal(result.allowance, v.allowance! + v.rolledOver);
                assert.ok(estimate > result.available);
              }
            } else if (o.kind === 'settle') {
              const id = pickOf([...live.keys()], o.pick);
              if (id === undefined) continue;
              const r = live.get(id)!;
              live.delete(id);
              const actual = (r.amount * BigInt(o.percent)) / 100n;
              assert.equal(ledger.settle(id, actual, r.scopes, now), r.expired ? 'unreserved' : 'settled');
              assert.equal(ledger.settle(id, actual, r.scopes, now), 'duplicate');
              for (const k of r.scopes) used.set(k, used.get(k)! + actual);
              counted.push({ id, scopes: r.scopes, amount: actual, at: now });
              ended.push(id);
            } else if (o.kind === 'release') {
              const id = pickOf(
                [...live.keys()].filter((k) => !live.get(k)!.expired),
                o.pick,
              );
              if (id === undefined) continue;
              assert.equal(ledger.release(id), true);
              live.delete(id);
            } else if (o.kind === 'expire') {
              const gone = ledger.expire(now - TTL);
              const due = [...live].filter(([, r]) => !r.expired && r.at < now - TTL).map(([id]) => id);
              assert.deepEqual(gone.sort(), due.sort());
              for (const id of due) live.get(id)!.expired = true;
            } else if (o.kind === 'remote') {
              const keys = SCOPES.filter((_, i) => o.scopes[i]);
              const id = `x${++sequence}`;
              const amount = BigInt(o.amount);
              const at = o.stale ? now - 10 * 86_400_000 : now;
              const result = ledger.applyRemoteUsage(keys, amount, id, at);
              const fresh = keys.filter((k) => at >= start.get(k)!);
              assert.equal(result, fresh.length > 0 || keys.length === 0 ? 'applied' : 'stale');
              for (const k of fresh) used.set(k, used.get(k)! + amount);
              counted.push({ id, scopes: keys, amount, at });
            } else if (o.kind === 'redeliver') {
              // Within the retention, by the time the ledger last remembered (see the report).
              const recent = counted.filter((c) => c.at >= now - 3_600_000);
              const c = recent[o.pick % Math.max(1, recent.length)];
              if (c === undefined) continue;
              assert.equal(ledger.applyRemoteUsage(c.scopes, c.amount, c.id, c.at), 'duplicate');
            } else {
              const k = SCOPES[o.scope]!;
              // Periods start after the last one (as LimitReset events do), a little before now.
              const periodStart = Math.max(now - 1, start.get(k)! + 1);
              assert.equal(ledger.reset(k, periodStart, BigInt(o.rolledOver)), true);
              start.set(k, periodStart);
              used.set(k, 0n);
              rolled.set(k, BigInt(o.rolledOver));
            }
            for (const k of SCOPES) {
              const v = ledger.view(k);
              const held = [...live.values()]
                .filter((r) => !r.expired && r.scopes.includes(k))
                .reduce((s, r) => s + r.amount, 0n);
              assert.equal(v.reserved, held, `${k}: held`);
              assert.equal(v.used - v.baseline, used.get(k), `${k}: used`);
              assert.equal(v.rolledOver, rolled.get(k));
            }
          }
          // Every request ends: nothing held.
          for (const [id] of live) ledger.release(id);
          for (const k of SCOPES) assert.equal(ledger.view(k).reserved, 0n);
          // A snapshot keeps the counters, not the holds.
          const restored = BudgetLedger.restore(JSON.parse(JSON.stringify(ledger.snapshot())));
          for (const k of SCOPES) {
            const { reserved: _r, ...view } = ledger.view(k);
            const { reserved, ...back } = restored.view(k);
            assert.deepEqual(back, view);
            assert.equal(reserved, 0n);
          }
        },
      ),
      { seed: SEED, numRuns: 600, includeErrorInReport: true },
    );
  });
});
