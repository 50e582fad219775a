/*
 * Rate limits (requests or tokens per minute) and concurrency limits, in memory, per replica.
 *
 * Rate: a sliding-window counter. Time is cut into fixed windows of `windowMs` aligned to the
 * epoch; a key keeps the count of the current window and of the one before. At `elapsed` ms into
 * the current window the usage of the last `windowMs` is estimated as
 *
 *     used = previous * (windowMs - elapsed) / windowMs + current
 *
 * and a request of `cost` is admitted iff used + cost <= limit. Everything is computed in whole
 * numbers (counts times ms), so the 60th request of an rpm of 60 passes and the 61st does not,
 * exactly. Three numbers per key, O(1) per check.
 */

export interface WindowDecision {
  readonly allowed: boolean;
  /** The limit that was checked (a rate-limit header: http/limit-headers.ts). */
  readonly limit: number;
  /** Whole units still available after this decision. */
  readonly remaining: number;
  /** Ms until the usage counted against the limit drops to zero, if nothing more is admitted. */
  readonly resetMs: number;
  /** 0 when allowed; ms until the same request would be admitted (Retry-After); null when it never can (cost > limit). */
  readonly retryAfterMs: number | null;
}

export interface WindowCheck {
  readonly key: string;
  readonly limit: number;
}

interface WindowState {
  windowStart: number;
  previous: number;
  current: number;
}

export class SlidingWindowLimiter {
  private readonly windows = new Map<string, WindowState>();
  readonly windowMs: number;

  constructor(options: { readonly windowMs?: number } = {}) {
    this.windowMs = options.windowMs ?? 60_000;
    if (!Number.isInteger(this.windowMs) || this.windowMs < 1) {
      throw new RangeError('windowMs must be a whole number of ms');
    }
  }

  /** Admits `cost` units against one key's limit, and counts them when admitted. */
  check(key: string, limit: number, now: number, cost = 1): WindowDecision {
    return this.checkAll([{ key, limit }], now, cost);
  }

  /**
   * Admits a request against several limits at once (key, user, team, org): counted in all of
   * them or in none. The decision returned is the one that refused (the longest wait) or, when
   * all admit, the tightest (fewest remaining), for the response headers.
   */
  checkAll(
    checks: readonly WindowCheck[],
    now: number,
    cost = 1,
  ): WindowDecision & { readonly index: number } {
    checkCount(cost, 'cost');
    const at = Math.floor(now);
    let chosen: (WindowDecision & { index: number }) | null = null;
    let refused = false;
    for (let index = 0; index < checks.length; index++) {
      const { key, limit } = checks[index]!;
      checkCount(limit, 'limit');
      const decision = this.decide(this.windows.get(key), limit, at, cost);
      if (!decision.allowed) {
        if (!refused || waitsLonger(decision, chosen!)) chosen = { ...decision, index };
        refused = true;
      } else if (!refused && (chosen === null || decision.remaining < chosen.remaining)) {
        chosen = { ...decision, index };
      }
    }
    if (!refused) for (const { key } of checks) this.add(key, at, cost);
    return chosen ?? { allowed: true, limit: 0, remaining: 0, resetMs: 0, retryAfterMs: 0, index: -1 };
  }

  /**
   * The decision `check` would make, counting nothing: the state of a key (cost 0), or whether
   * and when `cost` units fit, for a caller that counts them later (`record`).
   */
  peek(key: string, limit: number, now: number, cost = 0): WindowDecision {
    checkCount(limit, 'limit');
    checkCount(cost, 'cost');
    return this.decide(this.windows.get(key), limit, Math.floor(now), cost);
  }

  /**
   * Counts units at `at` without a check: usage learned after the fact, or a hold given back
   * (tokens per minute hold the estimate at admission; at the end `record(key, admittedAt,
   * -estimate)` and `record(key, now, actual)`). Units of the previous window go to it, so a
   * hold given back after the window turned leaves the window it was counted in; older windows
   * weigh on no check any more and take nothing. A count never goes below zero.
   */
  record(key: string, at: number, amount: number): void {
    if (!Number.isInteger(amount)) throw new RangeError('amount must be a whole number');
    const t = Math.floor(at);
    const state = this.windows.get(key);
    if (state === undefined) {
      if (amount <= 0) return; // nothing counted (or swept as idle): nothing to give back
    } else {
      const start = this.windowStartOf(t);
      if (start < state.windowStart) {
        if (start === state.windowStart - this.windowMs)
          state.previous = Math.max(0, state.previous + amount);
        return;
      }
    }
    this.add(key, t, amount);
  }

  /** Forgets keys with nothing counted in the last two windows; returns how many. */
  sweep(now: number): number {
    let removed = 0;
    for (const [key, state] of this.windows) {
      if (state.windowStart + 2 * this.windowMs <= now) {
        this.windows.delete(key);
        removed += 1;
      }
    }
    return removed;
  }

  get size(): number {
    return this.windows.size;
  }

  private add(key: string, now: number, amount: number): void {
    let state = this.windows.get(key);
    if (!state) {
      state = { windowStart: this.windowStartOf(now), previous: 0, current: 0 };
      this.windows.set(key, state);
    } else {
      this.roll(state, now);
    }
    state.current = Math.max(0, state.current + amount);
  }

  private windowStartOf(now: number): number {
    return now - (((now % this.windowMs) + this.windowMs) % this.windowMs);
  }

  /** Moves a state to the window of `now` (a clock that stepped back keeps the newer window). */
  private roll(state: WindowState, now: number): void {
    const start = this.windowStartOf(now);
    if (start <= state.windowStart) return;
    state.previous = start === state.windowStart + this.windowMs ? state.current : 0;
    state.current = 0;
    state.windowStart = start;
  }

  private decide(stored: WindowState | undefined, limit: number, now: number, cost: number): WindowDecision {
    const w = this.windowMs;
    const start = this.windowStartOf(now);
    let previous = 0;
    let current = 0;
    if (stored && stored.windowStart >= start) {
      previous = stored.previous;
      current = stored.current;
    } else if (stored && stored.windowStart + w === start) {
      previous = stored.current;
    }
    // Whole numbers throughout: units times ms.
    const elapsed = Math.max(0, now - start);
    const used = previous * (w - elapsed) + current * w;
    const capacity = limit * w;
    const allowed = used + cost * w <= capacity;
    const after = allowed ? used + cost * w : used;
    const remaining = Math.max(0, floorDiv(capacity - after, w));
    const counted = allowed ? current + cost : current;
    const resetMs = counted > 0 ? start + 2 * w - now : previous > 0 ? start + w - now : 0;
    if (allowed) return { allowed, limit, remaining, resetMs, retryAfterMs: 0 };
    if (cost > limit) return { allowed, limit, remaining, resetMs, retryAfterMs: null };
    // The earliest instant the request fits, if nothing else is admitted meanwhile.
    const room = limit - current - cost;
    if (room >= 0 && previous > 0) {
      // previous * (w - e) <= room * w  <=>  e >= w - floor(room * w / previous)
      const e = Math.max(elapsed, w - floorDiv(room * w, previous));
      if (e < w) return { allowed, limit, remaining, resetMs, retryAfterMs: e - elapsed };
    }
    // In the next window the current count becomes the previous one.
    const e = current > 0 ? Math.max(0, w - floorDiv((limit - cost) * w, current)) : 0;
    return { allowed, limit, remaining, resetMs, retryAfterMs: start + w + e - now };
  }
}

function waitsLonger(a: WindowDecision, b: WindowDecision): boolean {
  if (b.retryAfterMs === null) return false;
  return a.retryAfterMs === null || a.retryAfterMs > b.retryAfterMs;
}

/** floor(a / b) for whole numbers below 2^53, b > 0, without floating-point rounding surprises. */
function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  while (q * b > a) q -= 1;
  while ((q + 1) * b <= a) q += 1;
  return q;
}

function checkCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0`);
}

// ---------------------------------------------------------------------------------------------

export type ConcurrencyGrant =
  | {
      readonly ok: true;
      /** Gives the slots back; true the first time, false (and nothing changes) after that. */
      readonly release: () => boolean;
    }
  | {
      readonly ok: false;
      /** Which check refused, with its limit and the requests in flight under it. */
      readonly index: number;
      readonly key: string;
      readonly limit: number;
      readonly inFlight: number;
    };

/** Requests in flight per key; a key with none in flight takes no memory. */
export class ConcurrencyLimiter {
  private readonly inFlightByKey = new Map<string, number>();

  /** Takes one slot under every limit, or none when one of them is full. */
  acquire(checks: readonly WindowCheck[]): ConcurrencyGrant {
    for (let index = 0; index < checks.length; index++) {
      const { key, limit } = checks[index]!;
      checkCount(limit, 'limit');
      const inFlight = this.inFlightByKey.get(key) ?? 0;
      if (inFlight >= limit) return { ok: false, index, key, limit, inFlight };
    }
    const keys = checks.map((check) => check.key);
    for (const key of keys) this.inFlightByKey.set(key, (this.inFlightByKey.get(key) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return false;
        released = true;
        for (const key of keys) {
          const left = (this.inFlightByKey.get(key) ?? 1) - 1;
          if (left > 0) this.inFlightByKey.set(key, left);
          else this.inFlightByKey.delete(key);
        }
        return true;
      },
    };
  }

  inFlight(key: string): number {
    return this.inFlightByKey.get(key) ?? 0;
  }

  get size(): number {
    return this.inFlightByKey.size;
  }
}
