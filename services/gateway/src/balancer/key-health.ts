import { type RateLimitInfo, retryAfterFromRateLimits } from '../upstream/rate-limit-headers.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { SlidingWindowCounter } from './sliding-window.js';
import type {
  BalancerKey,
  CircuitOptions,
  CooldownReason,
  FailureReport,
  HealthDecision,
  HealthOptions,
  KeyStateName,
  SuccessReport,
} from './types.js';
import { LONGEST_REST_MS, UNCHANGED } from './types.js';

/** Something to tell when this key's usability changed: the groups holding it. */
export interface UsabilityListener {
  invalidate(): void;
}

/** Latency differences well under this are noise, not a reason to move traffic. */
const LATENCY_SLACK_MS = 100;

/** One budget (requests or tokens) as the provider last reported it. */
class QuotaDimension {
  /** -1: unknown. */
  remaining = -1;
  /** The reported limit, else the most seen remaining (Azure sends no limits). */
  limit = 0;
  /** Epoch ms when the budget is full again; 0: not said. */
  resetAt = 0;
  reportedAt = 0;

  update(remaining: number | undefined, limit: number | undefined, resetMs: number | undefined, now: number) {
    this.remaining = remaining ?? -1;
    this.limit = limit ?? Math.max(this.limit, remaining ?? 0);
    this.resetAt = resetMs === undefined ? 0 : now + resetMs;
    this.reportedAt = now;
  }

  /** Back to unknown: what the provider said was of another secret (its project's budget). */
  forget(): void {
    this.remaining = -1;
    this.limit = 0;
    this.resetAt = 0;
    this.reportedAt = 0;
  }

  /** What is left, or -1 when unknown or refilled since. */
  current(now: number): number {
    if (this.remaining < 0 || (this.resetAt !== 0 && now >= this.resetAt)) return -1;
    return this.remaining;
  }

  /** Fraction left, 1 when unknown or refilled. */
  factor(now: number): number {
    const remaining = this.current(now);
    if (remaining < 0 || this.limit <= 0) return 1;
    return Math.min(1, remaining / this.limit);
  }

  /** The provider said (Retry-After) a request fits again at `at`: the budget counts as refilled then. */
  capReset(at: number): void {
    if (this.remaining === 0 && (this.resetAt === 0 || this.resetAt > at)) this.resetAt = at;
  }

  /** Spent: unusable until the reset (or a short rest when the provider gave none). */
  exhaustedUntil(now: number, defaultRestMs: number): number {
    if (this.current(now) !== 0) return 0;
    return this.resetAt !== 0 ? this.resetAt : this.reportedAt + defaultRestMs;
  }
}

/**
 * Everything the balancer knows about one provider key, shared by every group the key is
 * in: the registry's view (disabled, cooled down), what reports taught (cool-down, circuit,
 * failure and latency EWMAs, the provider's remaining quota) and its own-limit counters.
 * Reports return a `HealthDecision`; nothing here emits or reads a clock.
 */
export class KeyHealth {
  readonly circuit: CircuitBreaker;
  readonly groups = new Set<UsabilityListener>();

  registryDisabled = false;
  #enabledCount = 0;
  #secretCount = 0;
  registryCooledDownUntil = 0;
  /** The provider refused the key (401/403): out until the registry or an admin re-enables it. */
  disabledByCredentials = false;
  cooledDownUntil = 0;
  /** The probe ticket the last `picked` claimed, 0 when it claimed none: read right after it. */
  claimedProbe = 0;

  #errorRate = 0;
  #errorAt = 0;
  #latencyEwma = -1;

  readonly #requests = new QuotaDimension();
  readonly #tokens = new QuotaDimension();

  #rpm = 0;
  #tpm = 0;
  #rpmWindow: SlidingWindowCounter | null = null;
  #tpmWindow: SlidingWindowCounter | null = null;

  constructor(
    readonly providerKeyId: string,
    private readonly options: HealthOptions,
    circuit: CircuitOptions,
  ) {
    this.circuit = new CircuitBreaker(circuit);
  }

  /** Takes the registry's view of the key. True when something that decides usability changed. */
  sync(key: BalancerKey): boolean {
    const disabled = key.disabled === true;
    const cooledDownUntil = key.cooledDownUntil ?? 0;
    let changed = disabled !== this.registryDisabled || cooledDownUntil !== this.registryCooledDownUntil;
    // Disabled -> enabled in the registry, or an enable counted since the last look, is an
    // admin's act: forget what got it disabled.
    const enabledCount = key.enabledCount ?? 0;
    if ((this.registryDisabled && !disabled) || enabledCount !== this.#enabledCount) {
      this.enable();
      changed = true;
    }
    this.#enabledCount = enabledCount;
    // A replaced secret is another credential: nothing the old one earned holds against it.
    const secretCount = key.secretCount ?? 0;
    if (secretCount !== this.#secretCount) {
      this.#freshSecret();
      changed = true;
    }
    this.#secretCount = secretCount;
    this.registryDisabled = disabled;
    this.registryCooledDownUntil = cooledDownUntil;
    const rpm = positive(key.limits?.rpm);
    const tpm = positive(key.limits?.tpm);
    if (rpm !== this.#rpm || tpm !== this.#tpm) changed = true;
    this.#rpm = rpm;
    this.#tpm = tpm;
    // A counter only while there is a limit; a changed limit keeps the minute's count.
    this.#rpmWindow = rpm > 0 ? (this.#rpmWindow ?? new SlidingWindowCounter()) : null;
    this.#tpmWindow = tpm > 0 ? (this.#tpmWindow ?? new SlidingWindowCounter()) : null;
    return changed;
  }

  enable(): void {
    this.disabledByCredentials = false;
    this.cooledDownUntil = 0;
    this.circuit.reset();
  }

  #freshSecret(): void {
    this.enable();
    this.#errorRate = 0;
    this.#errorAt = 0;
    this.#requests.forget();
    this.#tokens.forget();
  }

  get disabled(): boolean {
    return this.registryDisabled || this.disabledByCredentials;
  }

  /** 0 when a request may be sent now; else when it may (Infinity: not until someone acts). */
  usableAt(now: number): number {
    if (this.disabled) return Number.POSITIVE_INFINITY;
    const at = Math.max(this.#restingUntil(now), this.circuit.usableAt(now));
    return at > now ? at : 0;
  }

  /** As `usableAt`, for a Retry-After: a probe in flight is not waited out (`CircuitBreaker.backAt`). */
  backAt(now: number): number {
    if (this.disabled) return Number.POSITIVE_INFINITY;
    const at = Math.max(this.#restingUntil(now), this.circuit.backAt(now));
    return at > now ? at : 0;
  }

  /**
   * The key was handed out for an attempt: count it against its own RPM and, in half-open,
   * make it the probe (its ticket in `claimedProbe`). True when that made the key unusable
   * (the groups must refresh).
   */
  picked(now: number): boolean {
    let changed = false;
    if (this.#rpmWindow !== null) {
      this.#rpmWindow.add(1, now);
      changed = this.#rpmWindow.estimate(now) >= this.#rpm;
    }
    this.claimedProbe = this.circuit.openUntil === 0 ? 0 : this.circuit.claimProbe(now);
    return changed || this.claimedProbe !== 0;
  }

  /**
   * The key was handed out but nothing was sent to it (skipped before any call): the request
   * it was counted for is taken back from its own RPM, and a probe it claimed (`probe`, its
   * ticket) is freed.
   */
  unused(now: number, probe = 0): void {
    this.#rpmWindow?.remove(1, now);
    this.circuit.release(probe);
  }

  success(report: SuccessReport): HealthDecision {
    const { now } = report;
    this.#sampleError(0, now);
    const latency = finite(report.latencyMs);
    if (latency !== undefined) {
      const sample = Math.max(0, latency);
      const alpha = this.options.latencyAlpha;
      this.#latencyEwma =
        this.#latencyEwma < 0 ? sample : this.#latencyEwma + alpha * (sample - this.#latencyEwma);
    }
    if (report.rateLimits) this.#updateQuota(report.rateLimits, now);
    if (report.tokens !== undefined) this.countTokens(report.tokens, now);
    return this.circuit.success(now, report.probe) === 'closed'
      ? { type: 'circuit_closed', providerKeyId: this.providerKeyId }
      : UNCHANGED;
  }

  /** Tokens the key used, against its own TPM limit. */
  countTokens(count: number, now: number): void {
    const tokens = finite(count);
    if (tokens !== undefined && tokens > 0 && this.#tpmWindow !== null) this.#tpmWindow.add(tokens, now);
  }

  failure(report: FailureReport): HealthDecision {
    const { now, kind } = report;
    const retryAfterMs = finite(report.retryAfterMs);
    if (kind === 'caller_cancelled') {
      // The caller gave up: nothing is learnt about the key, but a probe it was must not block others.
      this.circuit.release(report.probe);
      return UNCHANGED;
    }
    if (report.rateLimits) this.#updateQuota(report.rateLimits, now);
    switch (kind) {
      case 'auth_refused':
        if (this.disabledByCredentials) return UNCHANGED;
        this.disabledByCredentials = true;
        return { type: 'disabled', providerKeyId: this.providerKeyId, reason: 'invalid_credentials' };
      case 'rate_limited': {
        // The provider answered: a 429 is about capacity, not health, so the circuit ignores it.
        this.circuit.release(report.probe);
        // An explicit Retry-After says when one more request fits; a spent budget's reset says
        // when all of it is back (buckets refill continuously): the first one wins.
        if (retryAfterMs !== undefined) {
          this.#requests.capReset(now + retryAfterMs);
          this.#tokens.capReset(now + retryAfterMs);
        }
        const waitMs =
          retryAfterMs ?? retryAfterFromRateLimits(report.rateLimits) ?? this.options.defaultCooldownMs;
        return this.#coolDown(now, waitMs, 'rate_limited', retryAfterMs ?? null);
      }
      case 'server_error':
      case 'timeout':
      case 'connection_failed': {
        this.#sampleError(1, now);
        const opened = this.circuit.failure(now, report.probe) === 'opened';
        // A 503 with Retry-After says how long to stay away, circuit or not.
        const rested =
          retryAfterMs === undefined ? UNCHANGED : this.#coolDown(now, retryAfterMs, kind, retryAfterMs);
        if (!opened) return rested;
        return {
          type: 'circuit_opened',
          providerKeyId: this.providerKeyId,
          until: Math.max(this.circuit.openUntil, this.cooledDownUntil),
          reason: kind,
          consecutiveFailures: this.circuit.consecutiveFailures,
        };
      }
      default: {
        const unreachable: never = kind;
        return unreachable;
      }
    }
  }

  /** The failure EWMA, decayed towards 0 for the time without reports. */
  errorRate(now: number): number {
    if (this.#errorRate === 0) return 0;
    const idle = Math.max(0, now - this.#errorAt);
    return this.#errorRate * 2 ** (-idle / this.options.errorHalfLifeMs);
  }

  /** -1 until the first success. */
  get latencyEwma(): number {
    return this.#latencyEwma;
  }

  /** The provider's remaining budget, worst of requests and tokens: 1 = untouched or unknown. */
  quotaFactor(now: number): number {
    return Math.min(this.#requests.factor(now), this.#tokens.factor(now));
  }

  /** Room left under the key's own RPM and TPM. */
  ownLimitFactor(now: number): number {
    let factor = 1;
    if (this.#rpmWindow !== null) factor = Math.min(factor, 1 - this.#rpmWindow.estimate(now) / this.#rpm);
    if (this.#tpmWindow !== null) factor = Math.min(factor, 1 - this.#tpmWindow.estimate(now) / this.#tpm);
    return Math.max(0, factor);
  }

  /** Squared so that a key failing half its calls gets a quarter of its share, not half. */
  healthFactor(now: number): number {
    const ok = 1 - this.errorRate(now);
    return ok * ok;
  }

  /** Relative to the group's fastest key: twice as slow, half the share. */
  /**
   * The group's best latency against this key's, each with LATENCY_SLACK_MS added: a key 2 s
   * slower than a 1 s one weighs about half, while jitter of a few ms between equally fast
   * keys (or a fast local server) changes almost nothing.
   */
  latencyFactor(bestLatency: number): number {
    if (this.#latencyEwma <= 0 || bestLatency <= 0) return 1;
    return Math.min(1, (bestLatency + LATENCY_SLACK_MS) / (this.#latencyEwma + LATENCY_SLACK_MS));
  }

  state(now: number): KeyStateName {
    if (this.disabled) return 'disabled';
    const phase = this.circuit.phase(now);
    if (phase === 'open') return 'circuit_open';
    if (this.#restingUntil(now) > now) return 'cooling';
    return phase === 'half_open' ? 'half_open' : 'ok';
  }

  remaining(now: number): { requests: number | null; tokens: number | null } {
    const requests = this.#requests.current(now);
    const tokens = this.#tokens.current(now);
    return { requests: requests < 0 ? null : requests, tokens: tokens < 0 ? null : tokens };
  }

  usage(now: number): { requestsPerMinute: number; tokensPerMinute: number } {
    return {
      requestsPerMinute: this.#rpmWindow?.estimate(now) ?? 0,
      tokensPerMinute: this.#tpmWindow?.estimate(now) ?? 0,
    };
  }

  /** Rests other than the circuit's: cool-downs, a spent provider quota, the key's own limits. */
  #restingUntil(now: number): number {
    const rest = this.options.defaultCooldownMs;
    let at = Math.max(
      this.registryCooledDownUntil,
      this.cooledDownUntil,
      this.#requests.exhaustedUntil(now, rest),
      this.#tokens.exhaustedUntil(now, rest),
    );
    if (this.#rpmWindow !== null) at = Math.max(at, this.#rpmWindow.belowAt(this.#rpm, now));
    if (this.#tpmWindow !== null) at = Math.max(at, this.#tpmWindow.belowAt(this.#tpm, now));
    return at;
  }

  #sampleError(sample: 0 | 1, now: number): void {
    const decayed = this.errorRate(now);
    this.#errorRate = decayed + this.options.errorAlpha * (sample - decayed);
    this.#errorAt = now;
  }

  #updateQuota(info: RateLimitInfo, now: number): void {
    this.#requests.update(info.remainingRequests, info.limitRequests, info.resetRequestsMs, now);
    this.#tokens.update(info.remainingTokens, info.limitTokens, info.resetTokensMs, now);
  }

  /**
   * Rest until `now + waitMs`. One decision per rest: a storm of 429s on a key already resting
   * says nothing new unless it pushes the end out by more than the default rest.
   */
  #coolDown(
    now: number,
    waitMs: number,
    reason: CooldownReason,
    retryAfterMs: number | null,
  ): HealthDecision {
    const until = now + Math.min(Math.max(0, waitMs), LONGEST_REST_MS);
    const previous = this.cooledDownUntil;
    // A wait already over (Retry-After: 0) is no rest: no event for every replica to apply.
    if (until <= now || until <= previous) return UNCHANGED;
    this.cooledDownUntil = until;
    if (previous > now && until - previous < this.options.defaultCooldownMs) return UNCHANGED;
    return { type: 'cooled_down', providerKeyId: this.providerKeyId, until, reason, retryAfterMs };
  }
}

function finite(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

function positive(value: number | null | undefined): number {
  return value !== undefined && value !== null && value > 0 ? value : 0;
}
