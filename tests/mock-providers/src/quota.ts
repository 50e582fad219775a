/**
 * Per-key rate-limit quota: a fixed window of requests and tokens that starts at the
 * key's first request and refills when the window has passed. The mocks print it in
 * their rate-limit headers and answer 429 when it is spent, as the providers do.
 */

export interface QuotaLimits {
  readonly requests: number;
  readonly tokens: number;
  /** Length of the window. */
  readonly windowSeconds: number;
}

export interface QuotaSnapshot {
  readonly limitRequests: number;
  readonly remainingRequests: number;
  readonly limitTokens: number;
  readonly remainingTokens: number;
  /** Milliseconds until the window refills. */
  readonly resetMs: number;
  /** Epoch milliseconds at which the window refills. */
  readonly resetAt: number;
}

export type QuotaVerdict = 'ok' | 'requests-spent' | 'tokens-spent';

export const DEFAULT_QUOTA: QuotaLimits = { requests: 10_000, tokens: 10_000_000, windowSeconds: 60 };

interface Window {
  limits: QuotaLimits;
  startedAt: number;
  requestsUsed: number;
  tokensUsed: number;
}

export class QuotaBook {
  readonly #windows = new Map<string, Window>();
  readonly #defaults: QuotaLimits;
  readonly #now: () => number;

  constructor(defaults: QuotaLimits, now: () => number) {
    this.#defaults = defaults;
    this.#now = now;
  }

  /** Replaces the limits of one key and starts a fresh window for it. */
  set(key: string, limits: Partial<QuotaLimits>): void {
    const current = this.#windows.get(key)?.limits ?? this.#defaults;
    this.#windows.set(key, this.#freshWindow({ ...current, ...limits }));
  }

  /** Whether one more request fits, without spending anything. */
  verdict(key: string): QuotaVerdict {
    const window = this.#window(key);
    if (window.requestsUsed >= window.limits.requests) return 'requests-spent';
    if (window.tokensUsed >= window.limits.tokens) return 'tokens-spent';
    return 'ok';
  }

  spendRequest(key: string): void {
    this.#window(key).requestsUsed += 1;
  }

  spendTokens(key: string, tokens: number): void {
    this.#window(key).tokensUsed += tokens;
  }

  snapshot(key: string): QuotaSnapshot {
    const window = this.#window(key);
    const resetAt = window.startedAt + window.limits.windowSeconds * 1000;
    return {
      limitRequests: window.limits.requests,
      remainingRequests: Math.max(0, window.limits.requests - window.requestsUsed),
      limitTokens: window.limits.tokens,
      remainingTokens: Math.max(0, window.limits.tokens - window.tokensUsed),
      resetMs: Math.max(0, resetAt - this.#now()),
      resetAt,
    };
  }

  #window(key: string): Window {
    const existing = this.#windows.get(key);
    if (existing && this.#now() < existing.startedAt + existing.limits.windowSeconds * 1000) return existing;
    const fresh = this.#freshWindow(existing?.limits ?? this.#defaults);
    this.#windows.set(key, fresh);
    return fresh;
  }

  #freshWindow(limits: QuotaLimits): Window {
    return { limits, startedAt: this.#now(), requestsUsed: 0, tokensUsed: 0 };
  }
}
