/**
 * Deadlines that are rarely reached, checked by one sweep instead of a timer each.
 *
 * Every `/v1` request body is watched for idleness (read-body.ts) and every call to a
 * provider for its total time (upstream-client.ts), and almost every one ends well within
 * its deadline. A Node timer for each costs its insert, refresh and unenroll in the timer
 * lists on every request; here a request costs a set entry and a clock read, and one unref'd
 * interval looks over what is in progress. The price is precision: a deadline fires up to a
 * quarter of its length late and at most a second (undici's own timers for its headers and
 * body timeouts trade the same way, at half a second), never early.
 */
export interface IdleWatch {
  /** Marks activity: the deadline moves to `idleMs` from now. */
  touch(): void;
  /** Stops watching (the work ended or failed); `onIdle` will not be called. */
  stop(): void;
}

/** How often the sweep looks: a quarter of the shortest deadline it watches, 10 ms to 1 s. */
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 1_000;

class Watched implements IdleWatch {
  last = performance.now();
  constructor(
    private readonly sweep: IdleSweep,
    readonly idleMs: number,
    readonly onIdle: () => void,
  ) {}

  touch(): void {
    this.last = performance.now();
  }

  stop(): void {
    this.sweep.forget(this);
  }
}

export class IdleSweep {
  readonly #watched = new Set<Watched>();
  #timer: NodeJS.Timeout | undefined;
  #tickMs = MAX_TICK_MS;

  /** Calls `onIdle` (which must not throw) once `idleMs` pass without a `touch`, unless stopped first. */
  watch(idleMs: number, onIdle: () => void): IdleWatch {
    const watched = new Watched(this, idleMs, onIdle);
    this.#watched.add(watched);
    const tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(idleMs / 4)));
    if (this.#timer === undefined || tickMs < this.#tickMs) this.#start(tickMs);
    return watched;
  }

  /** How many are watched (for tests). */
  get size(): number {
    return this.#watched.size;
  }

  /** Whether its timer runs (for tests). */
  get sweeping(): boolean {
    return this.#timer !== undefined;
  }

  forget(watched: Watched): void {
    this.#watched.delete(watched);
  }

  #start(tickMs: number): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#tickMs = tickMs;
    this.#timer = setInterval(() => this.#sweep(), tickMs);
    // Never what keeps a process alive: the work it watches does that.
    this.#timer.unref();
  }

  #sweep(): void {
    // Stopped only when a sweep finds nothing, so a steady flow of short bodies starts none.
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#tickMs = MAX_TICK_MS;
      return;
    }
    const now = performance.now();
    for (const watched of this.#watched) {
      if (now - watched.last < watched.idleMs) continue;
      this.#watched.delete(watched);
      watched.onIdle();
    }
  }
}

/** The process's sweep for request bodies and provider calls. */
export const deadlineSweep = new IdleSweep();
