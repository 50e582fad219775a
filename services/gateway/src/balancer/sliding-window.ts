/**
 * A sliding count over the last `windowMs`, from two fixed windows (the current one and the
 * one before, weighted by how much of it still overlaps): O(1) time and memory, at most a
 * few percent off a true sliding log when traffic is even.
 */
export class SlidingWindowCounter {
  #index = 0;
  #current = 0;
  #previous = 0;

  constructor(readonly windowMs = 60_000) {}

  add(amount: number, now: number): void {
    this.#roll(now);
    this.#current += amount;
  }

  /** Takes back `amount` added lately (counted for something that did not happen). */
  remove(amount: number, now: number): void {
    this.#roll(now);
    const fromCurrent = Math.min(amount, this.#current);
    this.#current -= fromCurrent;
    this.#previous = Math.max(0, this.#previous - (amount - fromCurrent));
  }

  estimate(now: number): number {
    this.#roll(now, true);
    // A time from before the current window (see #roll) counts as its start.
    const into = Math.max(0, now - this.#index * this.windowMs);
    return this.#previous * (1 - into / this.windowMs) + this.#current;
  }

  /** The first instant from `now` on at which the estimate is below `limit`. */
  belowAt(limit: number, now: number): number {
    if (this.estimate(now) < limit) return now;
    const start = this.#index * this.windowMs;
    // Solve previous * (1 - (t - start) / W) + current = limit for t; +1 ms lands below it.
    if (this.#current < limit) {
      const t = start + this.windowMs * (1 - (limit - this.#current) / this.#previous);
      return Math.max(now, Math.floor(t) + 1);
    }
    // The current window alone is over: it has to slide out during the next one.
    const next = start + this.windowMs;
    return Math.floor(next + this.windowMs * (1 - limit / this.#current)) + 1;
  }

  #roll(now: number, reading = false): void {
    const index = Math.floor(now / this.windowMs);
    if (index === this.#index) return;
    if (index < this.#index) {
      // A time of the window before (a `now` read just before another request's) is counted in
      // the current one, and a read never goes back (a group reweighed at 0): either would
      // forget the minute's counts. A request more than a window back is the wall clock stepped
      // back: counting it in a window the clock reaches again only in an hour would hold the
      // key at its limit until then, so the count starts over there.
      if (reading || index === this.#index - 1) return;
      this.#previous = 0;
      this.#current = 0;
      this.#index = index;
      return;
    }
    this.#previous = index === this.#index + 1 ? this.#current : 0;
    this.#current = 0;
    this.#index = index;
  }
}
