import type { RateLimitInfo } from '../upstream/rate-limit-headers.js';

/** How a group spreads its requests; `adaptive` is the default. */
export type Strategy = 'round-robin' | 'weighted' | 'adaptive';

/** A key's own limits, set by the admin (the provider's own limits come in headers). */
export interface KeyLimits {
  /** Requests per minute. */
  readonly rpm?: number | null | undefined;
  /** Tokens per minute. */
  readonly tpm?: number | null | undefined;
}

/**
 * What the balancer needs to know about a key. The registry's `ProviderKeyEntry` fits as it
 * is; `tier` and `limits` are optional until the registry carries them. The balancer hands
 * the same objects back, so callers get their own entries out of `pick` and `order`.
 */
export interface BalancerKey {
  readonly providerKeyId: string;
  /** Configured weight; 0 keeps the key in the group but sends it nothing. */
  readonly weight: number;
  /** Priority tier, 0 (the default) first: a tier gets traffic only when every key above it is unusable. */
  readonly tier?: number | undefined;
  readonly limits?: KeyLimits | null | undefined;
  /** Disabled in the registry (by an admin, or after an event this module asked for). */
  readonly disabled?: boolean | undefined;
  /** Epoch ms until which the registry says the key rests (every replica's cool-downs). */
  readonly cooledDownUntil?: number | undefined;
  /**
   * How many times an admin enabled the key: a change lifts what the balancer holds against
   * it (a 401), even when the registry's disable and enable came between two looks.
   */
  readonly enabledCount?: number | undefined;
  /**
   * How many times the key's secret was replaced: a change forgets what the old secret earned
   * (a 401, an open circuit, its error rate and the quota its provider reported).
   */
  readonly secretCount?: number | undefined;
}

export interface GroupOptions {
  readonly strategy?: Strategy;
}

/**
 * Why an attempt failed. `caller_cancelled` (the caller's own timeout or disconnect) never
 * counts against the key.
 */
export type FailureKind =
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection_failed'
  | 'auth_refused'
  | 'caller_cancelled';

export interface SuccessReport {
  /** Epoch ms. */
  readonly now: number;
  /** Time to the answer (or to its first byte, for streams): the latency EWMA's sample. */
  readonly latencyMs: number;
  readonly rateLimits?: RateLimitInfo | undefined;
  /** Tokens the request used, for a key's own TPM limit. */
  readonly tokens?: number | undefined;
  /** The probe ticket its key was handed out with (`Candidates.probe`); 0 or none: not a probe. */
  readonly probe?: number | undefined;
}

export interface FailureReport {
  /** Epoch ms. */
  readonly now: number;
  readonly kind: FailureKind;
  /** Retry-After as the provider sent it, in ms. */
  readonly retryAfterMs?: number | undefined;
  readonly rateLimits?: RateLimitInfo | undefined;
  /** The probe ticket its key was handed out with (`Candidates.probe`); 0 or none: not a probe. */
  readonly probe?: number | undefined;
}

/** Why a key rests; the same names as `ProviderKeyCooledDown.reason`. */
export type CooldownReason = 'rate_limited' | 'server_error' | 'timeout' | 'connection_failed';

/**
 * What a report changed, for the caller to turn into events (this module emits nothing):
 * `cooled_down` and `circuit_opened` -> `ProviderKeyCooledDown`, `disabled` ->
 * `ProviderKeyDisabled` (reason `invalid_credentials`), `circuit_closed` -> a log line.
 */
export type HealthDecision =
  | { readonly type: 'unchanged' }
  | {
      readonly type: 'cooled_down';
      readonly providerKeyId: string;
      /** Epoch ms. */
      readonly until: number;
      readonly reason: CooldownReason;
      readonly retryAfterMs: number | null;
    }
  | {
      readonly type: 'circuit_opened';
      readonly providerKeyId: string;
      /** Epoch ms; after it one probe at a time may go through (half-open). */
      readonly until: number;
      readonly reason: CooldownReason;
      readonly consecutiveFailures: number;
    }
  | { readonly type: 'circuit_closed'; readonly providerKeyId: string }
  | { readonly type: 'disabled'; readonly providerKeyId: string; readonly reason: 'invalid_credentials' };

export const UNCHANGED: HealthDecision = Object.freeze({ type: 'unchanged' });

/** A key's state for people: the worst thing that applies, in this order. */
export type KeyStateName = 'disabled' | 'circuit_open' | 'cooling' | 'half_open' | 'ok';

export interface KeyDescription {
  readonly providerKeyId: string;
  readonly tier: number;
  readonly weight: number;
  /** The weight selection uses now (configured weight for `weighted`, 1 for `round-robin`). */
  readonly effectiveWeight: number;
  readonly state: KeyStateName;
  /** Whether a request could be sent to it now (tiers aside). */
  readonly usable: boolean;
  /** Epoch ms when it can be used again; null when usable now or never (disabled). */
  readonly usableAt: number | null;
  /** Recent failure rate (EWMA of 5xx/timeouts/connection failures), 0..1. */
  readonly errorRate: number;
  readonly latencyEwmaMs: number | null;
  readonly consecutiveFailures: number;
  /** What the provider last said is left; null when unknown or since refilled. */
  readonly remaining: { readonly requests: number | null; readonly tokens: number | null };
  /** Usage over the last minute against the key's own limits (sliding estimate). */
  readonly usage: { readonly requestsPerMinute: number; readonly tokensPerMinute: number };
}

export interface CircuitOptions {
  /** Consecutive 5xx/timeouts/connection failures that open the circuit. */
  readonly failureThreshold: number;
  /** First open period; doubled on every failed probe. */
  readonly openMs: number;
  readonly maxOpenMs: number;
  /**
   * A probe that never reports frees its slot after this long. Every call reports when it
   * ends, so this only bounds a lost report: it must outlast the longest call a probe may be,
   * or a second probe goes out while the first is still running.
   */
  readonly probeTimeoutMs: number;
}

export interface HealthOptions {
  /** Weight of a new sample in the failure EWMA. */
  readonly errorAlpha: number;
  /** Without reports, the failure rate halves every this many ms (a resting key recovers). */
  readonly errorHalfLifeMs: number;
  /** Weight of a new sample in the latency EWMA. */
  readonly latencyAlpha: number;
  /** How long a 429 rests without Retry-After or reset headers, and an exhausted quota without a reset. */
  readonly defaultCooldownMs: number;
  /** Smallest factor a slow, failing or nearly exhausted key is weighed down to. */
  readonly minFactor: number;
}

export interface BalancerOptions {
  readonly circuit?: Partial<CircuitOptions>;
  readonly health?: Partial<HealthOptions>;
  /** `adaptive` recomputes effective weights at most this often (and on any usability change). */
  readonly recomputeIntervalMs?: number;
  /** Sessions remembered per group for stickiness (oldest forgotten first). */
  readonly stickyCapacity?: number;
}

/**
 * The longest call the gateway lets a provider take: the upper bound of a provider's
 * `timeouts.totalMs` (the config refuses more; the default is 15 min).
 */
export const LONGEST_PROVIDER_CALL_MS = 3_600_000;

/**
 * The longest rest a provider's answer can put a key in (Retry-After, a quota's reset): a day,
 * past a daily quota's reset. A provider's absurd value (a bug, a proxy's garbage) would
 * otherwise take the key out of every replica for years, as events keep the longest rest.
 */
export const LONGEST_REST_MS = 86_400_000;

export const DEFAULT_CIRCUIT: CircuitOptions = {
  failureThreshold: 5,
  openMs: 5_000,
  maxOpenMs: 300_000,
  // A probe is a whole provider call: its slot lasts the longest one, plus a minute for its
  // report to arrive. Still bounded, so a report lost to a bug frees the key within the hour.
  probeTimeoutMs: LONGEST_PROVIDER_CALL_MS + 60_000,
};

export const DEFAULT_HEALTH: HealthOptions = {
  errorAlpha: 0.2,
  errorHalfLifeMs: 60_000,
  latencyAlpha: 0.2,
  defaultCooldownMs: 1_000,
  minFactor: 0.01,
};

export const DEFAULT_RECOMPUTE_INTERVAL_MS = 100;
export const DEFAULT_STICKY_CAPACITY = 10_000;
