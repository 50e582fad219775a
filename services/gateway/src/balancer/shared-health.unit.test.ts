import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Balancer } from './balancer.js';
import type { BalancerKey } from './types.js';

const T = 1_700_000_000_000;
const key = (id: string, extra: Partial<BalancerKey> = {}): BalancerKey => ({
  providerKeyId: id,
  weight: 1,
  ...extra,
});

describe('a key disabled in the registry, seen first by another group that shares its health', () => {
  // KeyChoice keeps several groups over one key's health: the provider's group (requests,
  // count_tokens), per-model groups, and the admin view's. The key's health says "changed"
  // once; every group holding the key must refresh then, not only the one that looked first.
  for (const strategy of ['round-robin', 'weighted'] as const) {
    test(`${strategy}: peek (count_tokens) does not hand out the disabled key`, () => {
      const balancer = new Balancer();
      balancer.setGroup('base', [key('a'), key('b')], { strategy });
      balancer.setGroup('all', [key('a'), key('b')], { strategy });
      balancer.peek('base', T); // the active set is built: a and b
      // The registry disables `a`; the admin view happens to sync first, then a count_tokens call.
      balancer.setGroup('all', [key('a', { disabled: true }), key('b')], { strategy });
      balancer.setGroup('base', [key('a', { disabled: true }), key('b')], { strategy });
      const peeks = Array.from({ length: 4 }, () => balancer.peek('base', T + 1)?.providerKeyId);
      assert.deepEqual(peeks, ['b', 'b', 'b', 'b']);
    });

    test(`${strategy}: pick does not hand out the disabled key either (the same stale active set)`, () => {
      const balancer = new Balancer();
      balancer.setGroup('base', [key('a'), key('b')], { strategy });
      balancer.setGroup('all', [key('a'), key('b')], { strategy });
      balancer.pick('base', T);
      balancer.setGroup('all', [key('a', { disabled: true }), key('b')], { strategy });
      balancer.setGroup('base', [key('a', { disabled: true }), key('b')], { strategy });
      const picks = Array.from({ length: 4 }, () => balancer.pick('base', T + 1)?.providerKeyId);
      assert.deepEqual(picks, ['b', 'b', 'b', 'b']);
    });
  }
});
