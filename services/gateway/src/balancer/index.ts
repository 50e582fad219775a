/**
 * The provider-key balancer: which of an org's keys of one provider serves the next request
 * (round-robin, smooth weighted round-robin, or adaptive to quota, limits, errors and latency),
 * priority tiers, per-key health (cool-downs, circuit breakers), and session stickiness.
 * Pure and in memory; see README.md for the maths.
 */
export { Balancer, Candidates } from './balancer.js';
export {
  type BalancerKey,
  type BalancerOptions,
  type CircuitOptions,
  type CooldownReason,
  DEFAULT_CIRCUIT,
  DEFAULT_HEALTH,
  type FailureKind,
  type FailureReport,
  type GroupOptions,
  type HealthDecision,
  type HealthOptions,
  type KeyDescription,
  type KeyLimits,
  type KeyStateName,
  type Strategy,
  type SuccessReport,
} from './types.js';
