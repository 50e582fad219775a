import type { CircuitOptions } from './types.js';

export type CircuitPhase = 'closed' | 'open' | 'half_open';

/** What a report did to the circuit. */
export type CircuitTransition = 'none' | 'opened' | 'closed';

/**
 * One key's circuit breaker. Closed: requests flow and consecutive failures are counted;
 * at the threshold it opens. Open: no requests until `openUntil`. Half-open (open, and the
 * time has passed): one probe at a time; its success closes the circuit, its failure opens
 * it again for twice as long (up to `maxOpenMs`). Time comes in as `now` (epoch ms).
 *
 * The probe is known by the ticket `claimProbe` gave it: in half-open only a report carrying
 * that ticket decides the circuit or frees the slot. Any other answer (a request sent before
 * the circuit opened, a call on another path) tested the key as it was before the circuit
 * judged it, so it changes nothing of the circuit, as late answers while open do.
 */
export class CircuitBreaker {
  #open = false;
  #openUntil = 0;
  /** Failed probes since the circuit last closed: the backoff exponent. */
  #reopenings = 0;
  /** While a probe is out: when its slot frees itself if it never reports. */
  #probeUntil = 0;
  /** The ticket of the last probe handed out (0: none since the circuit last opened). */
  #probe = 0;
  #tickets = 0;
  consecutiveFailures = 0;

  constructor(private readonly options: CircuitOptions) {}

  phase(now: number): CircuitPhase {
    if (!this.#open) return 'closed';
    return now < this.#openUntil ? 'open' : 'half_open';
  }

  get openUntil(): number {
    return this.#open ? this.#openUntil : 0;
  }

  /** When a request may go through: 0 if it may now (closed, or half-open with the probe slot free). */
  usableAt(now: number): number {
    if (!this.#open) return 0;
    if (now < this.#openUntil) return this.#openUntil;
    return this.#probeUntil > now ? this.#probeUntil : 0;
  }

  /**
   * When a caller may expect the key back, for its Retry-After: as `usableAt`, but a probe in
   * flight is counted on to report within the circuit's current open period. Its slot's own
   * expiry only bounds a lost report (over an hour), and no caller should be sent away that long.
   */
  backAt(now: number): number {
    const at = this.usableAt(now);
    if (at === 0 || now < this.#openUntil) return at;
    const openFor = Math.min(this.options.openMs * 2 ** this.#reopenings, this.options.maxOpenMs);
    return Math.min(at, now + openFor);
  }

  /**
   * Called when the key is handed out: in half-open that request is the probe. Its ticket (0
   * when no probe was claimed) must come back with its report, or the report is not the probe's.
   */
  claimProbe(now: number): number {
    if (this.phase(now) !== 'half_open' || this.#probeUntil > now) return 0;
    this.#probeUntil = now + this.options.probeTimeoutMs;
    this.#probe = ++this.#tickets;
    return this.#probe;
  }

  /** Whether `probe` is the ticket of the probe this half-open circuit waits on. */
  #isProbe(probe: number): boolean {
    return probe !== 0 && probe === this.#probe;
  }

  success(now: number, probe = 0): CircuitTransition {
    this.consecutiveFailures = 0;
    // A success while still open, or not the probe's, comes from a request sent before the
    // circuit opened (or on another path): the probe alone decides.
    if (this.phase(now) !== 'half_open' || !this.#isProbe(probe)) return 'none';
    this.#open = false;
    this.#reopenings = 0;
    this.#probeUntil = 0;
    this.#probe = 0;
    return 'closed';
  }

  failure(now: number, probe = 0): CircuitTransition {
    this.consecutiveFailures++;
    const phase = this.phase(now);
    // In half-open, a failure not the probe's says what the circuit already knows (it opened).
    if (phase === 'half_open' && !this.#isProbe(probe)) return 'none';
    switch (phase) {
      case 'closed':
        if (this.consecutiveFailures < this.options.failureThreshold) return 'none';
        this.#openFor(now, this.options.openMs);
        return 'opened';
      case 'open':
        return 'none'; // a late answer from before it opened: already counted as down
      case 'half_open':
        this.#reopenings++;
        this.#openFor(now, this.options.openMs * 2 ** this.#reopenings);
        return 'opened';
      default: {
        const unreachable: never = phase;
        return unreachable;
      }
    }
  }

  /**
   * An answer that says nothing about health (a 429, a cancelled call, a key skipped before any
   * call): frees the probe slot when it is the probe's, so the next request probes instead.
   */
  release(probe = 0): void {
    if (!this.#isProbe(probe)) return;
    this.#probeUntil = 0;
    this.#probe = 0;
  }

  /** An admin re-enabled the key: start afresh. */
  reset(): void {
    this.#open = false;
    this.#openUntil = 0;
    this.#reopenings = 0;
    this.#probeUntil = 0;
    this.#probe = 0;
    this.consecutiveFailures = 0;
  }

  #openFor(now: number, ms: number): void {
    this.#open = true;
    this.#openUntil = now + Math.min(ms, this.options.maxOpenMs);
    this.#probeUntil = 0;
    this.#probe = 0;
  }
}
