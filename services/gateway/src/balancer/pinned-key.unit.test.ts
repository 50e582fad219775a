import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Balancer } from './balancer.js';
import type { BalancerKey } from './types.js';

// A stored Responses answer (`stored:<id>`) is found only by the key that made it: the gateway
// names that key to `candidates`, which tries it first while it is usable, whatever its tier
// or turn, and otherwise chooses as for any request.

const T = 1_700_000_000_000;
const key = (id: string, extra: Partial<BalancerKey> = {}): BalancerKey => ({
  providerKeyId: id,
  weight: 1,
  ...extra,
});
const first = (balancer: Balancer, now: number, pinned: string) =>
  balancer.candidates('g', 'stored:resp_1', pinned).next(now)?.providerKeyId;

for (const strategy of ['round-robin', 'weighted', 'adaptive'] as const) {
  describe(`${strategy}: a session pinned to a usable key goes to it`, () => {
    test('the answer was stored by the tier-1 key a failover reached: the follow-up goes to that key', () => {
      const balancer = new Balancer();
      balancer.setGroup('g', [key('primary'), key('backup', { tier: 1 })], { strategy });
      const attempts = balancer.candidates('g', 'stored:resp_1');
      assert.equal(attempts.next(T)?.providerKeyId, 'primary');
      balancer.reportFailure('primary', { now: T, kind: 'rate_limited', retryAfterMs: 2_000 });
      assert.equal(attempts.next(T)?.providerKeyId, 'backup');
      balancer.reportSuccess('backup', { now: T + 500, latencyMs: 500 });
      // A minute later the primary is back and first in line, but only the backup has resp_1.
      assert.equal(first(balancer, T + 60_000, 'backup'), 'backup');
    });

    test('a pinned key resting a moment is passed over while it rests, and gone back to after', () => {
      const balancer = new Balancer();
      balancer.setGroup('g', [key('a'), key('b'), key('c')], { strategy });
      assert.equal(first(balancer, T, 'b'), 'b');
      balancer.reportFailure('b', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
      assert.notEqual(first(balancer, T + 10, 'b'), 'b');
      assert.equal(first(balancer, T + 5_000, 'b'), 'b');
    });

    test('a pinned key that is disabled, or not in the group, is not handed out', () => {
      const balancer = new Balancer();
      balancer.setGroup('g', [key('a'), key('b', { disabled: true })], { strategy });
      assert.equal(first(balancer, T, 'b'), 'a');
      assert.equal(first(balancer, T, 'elsewhere'), 'a');
    });
  });
}
