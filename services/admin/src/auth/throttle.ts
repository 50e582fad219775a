/**
 * Failed sign-in attempts, per account and per client IP: after `max` failures within
 * `windowMs` the key is refused until the oldest failure leaves the window (429 with
 * Retry-After). In memory, per process; bounded by evicting the oldest keys. Callers count an
 * attempt before its slow check and `forgive` it when it passes: otherwise guesses sent at
 * once would all pass `retryAfter` while the first ones are still being checked.
 *
 * A client that signed in to an account lately is remembered (`remember`, `isKnown`): the
 * account's failures do not hold it back, only its own. Otherwise anyone who knows an e-mail
 * could keep its owner out for good with five wrong guesses every 15 minutes.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  /** `<account key> <client key>` -> when that client last signed in to that account. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly maxKeys = 100_000,
    private readonly knownMs = 30 * 86_400_000,
  ) {}

  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfter(key: string, now: number): number {
    const recent = this.recent(key, now);
    if (recent.length < this.max) return 0;
    return Math.max(1, Math.ceil((recent[recent.length - this.max]! + this.windowMs - now) / 1000));
  }

  fail(key: string, now: number): void {
    const recent = this.recent(key, now);
    recent.push(now);
    this.failures.delete(key); // re-insert: Map order is then least recently failed first
    this.failures.set(key, recent.slice(-this.max));
    if (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  /** Takes back one failure counted at `at` (an attempt counted before its check, then passed). */
  forgive(key: string, at: number): void {
    const failures = this.failures.get(key);
    const index = failures?.lastIndexOf(at) ?? -1;
    if (failures && index >= 0) failures.splice(index, 1);
  }

  /** Notes that `client` signed in to `account` at `now`. */
  remember(account: string, client: string, now: number): void {
    const key = `${account} ${client}`;
    this.known.delete(key); // re-insert: Map order is then least recently signed in first
    this.known.set(key, now);
    if (this.known.size > this.maxKeys) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }

  /** Whether `client` signed in to `account` within the last `knownMs`. */
  isKnown(account: string, client: string, now: number): boolean {
    const at = this.known.get(`${account} ${client}`);
    return at !== undefined && at > now - this.knownMs;
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((at) => at > now - this.windowMs);
  }
}
