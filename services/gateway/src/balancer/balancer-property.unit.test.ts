import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '@kordon/mock-providers';
import { Balancer } from './balancer.js';
import type { BalancerKey, FailureKind, Strategy } from './types.js';

const KINDS: FailureKind[] = [
  'rate_limited',
  'server_error',
  'timeout',
  'connection_failed',
  'auth_refused',
  'caller_cancelled',
];

/**
 * What the test itself knows must keep a key out, from the decisions the balancer returned
 * and the reports it was sent: never handed out while this says no.
 */
class Model {
  readonly disabled = new Set<string>();
  readonly restingUntil = new Map<string, number>();

  blocked(id: string, now: number): boolean {
    return this.disabled.has(id) || (this.restingUntil.get(id) ?? 0) > now;
  }
}

function run(seed: number, strategy: Strategy): void {
  const random = seededRandom(seed);
  const G = 'org/provider';
  const keys: BalancerKey[] = Array.from({ length: 8 }, (_, i) => ({
    providerKeyId: `k${i}`,
    weight: Math.floor(random() * 4), // some weight 0
    tier: random() < 0.6 ? 0 : 1 + Math.floor(random() * 2),
    limits: random() < 0.2 ? { rpm: 5 + Math.floor(random() * 20) } : null,
  }));
  const balancer = new Balancer({ recomputeIntervalMs: 50 });
  balancer.setGroup(G, keys, { strategy });
  const model = new Model();
  let now = 1_700_000_000_000;

  for (let step = 0; step < 3_000; step++) {
    now += Math.floor(random() * 200);
    const roll = random();
    const id = `k${Math.floor(random() * keys.length)}`;
    if (roll < 0.2) {
      const kind = KINDS[Math.floor(random() * KINDS.length)]!;
      const retryAfterMs = random() < 0.5 ? Math.floor(random() * 5_000) : undefined;
      const decision = balancer.reportFailure(id, { now, kind, retryAfterMs });
      if (decision.type === 'disabled') model.disabled.add(id);
      if (decision.type === 'cooled_down' || decision.type === 'circuit_opened') {
        model.restingUntil.set(id, Math.max(model.restingUntil.get(id) ?? 0, decision.until));
      }
    } else if (roll < 0.35) {
      const spent = random() < 0.2;
      balancer.reportSuccess(id, {
        now,
        latencyMs: 50 + random() * 2_000,
        rateLimits: spent
          ? { limitRequests: 100, remainingRequests: 0, resetRequestsMs: 1_000 }
          : { limitRequests: 100, remainingRequests: Math.floor(random() * 100) },
      });
    }

    const session = random() < 0.3 ? `s${Math.floor(random() * 20)}` : undefined;
    const views = balancer.describe(G, now);
    const usable = views.filter((view) => view.usable);
    const picked = balancer.pick(G, now, session);
    const where = `seed ${seed} ${strategy} step ${step}`;
    if (usable.length === 0) {
      assert.equal(picked, undefined, `${where}: nothing usable, yet ${picked?.providerKeyId}`);
      continue;
    }
    assert.ok(picked, `${where}: ${usable.map((v) => v.providerKeyId)} usable, nothing picked`);
    const view = views.find((v) => v.providerKeyId === picked.providerKeyId)!;
    assert.ok(view.usable, `${where}: picked ${view.providerKeyId} in state ${view.state}`);
    assert.ok(view.state === 'ok' || view.state === 'half_open', `${where}: state ${view.state}`);
    assert.equal(view.tier, Math.min(...usable.map((v) => v.tier)), `${where}: tier`);
    assert.ok(!model.blocked(picked.providerKeyId, now), `${where}: ${picked.providerKeyId} should rest`);
  }
}

describe('property: random reports never make the balancer hand out a key that must rest', () => {
  for (const strategy of ['adaptive', 'weighted', 'round-robin'] as const) {
    test(`${strategy}: 20 seeds x 3,000 steps`, () => {
      for (let seed = 1; seed <= 20; seed++) run(seed, strategy);
    });
  }
});
