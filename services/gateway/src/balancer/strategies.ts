import type { KeyHealth } from './key-health.js';
import type { Strategy } from './types.js';

/**
 * The weight a strategy selects by. `adaptive` multiplies the configured weight by four
 * factors in 0..1: what the provider says is left of the key's quota, room under the key's
 * own limits, health (recent failures), and latency against the group's fastest key. The
 * product is floored at `minFactor` so a weighed-down key still gets the odd request and
 * its numbers recover. A weighed-down key's weight is rounded to a power of 2^(1/8) (steps
 * of 9%, at most 4.4% off), so that however many keys there are, their weights fall into a
 * few dozen classes, which keeps `SmoothWeighted` fast (see smooth-weighted.ts).
 */
export function effectiveWeight(
  strategy: Strategy,
  weight: number,
  health: KeyHealth,
  now: number,
  bestLatency: number,
  minFactor: number,
): number {
  if (weight <= 0) return 0;
  switch (strategy) {
    case 'round-robin':
      return 1;
    case 'weighted':
      return weight;
    case 'adaptive': {
      const factor =
        health.quotaFactor(now) *
        health.ownLimitFactor(now) *
        health.healthFactor(now) *
        health.latencyFactor(bestLatency);
      // A healthy key keeps its configured weight exactly; the others land on the grid.
      return factor >= 1 ? weight : quantise(weight * Math.max(minFactor, factor));
    }
    default: {
      const unknown: never = strategy;
      return unknown;
    }
  }
}

/** Rounds a positive weight to the nearest power of 2^(1/8). */
export function quantise(weight: number): number {
  return 2 ** (Math.round(Math.log2(weight) * STEPS_PER_DOUBLING) / STEPS_PER_DOUBLING);
}

const STEPS_PER_DOUBLING = 8;
