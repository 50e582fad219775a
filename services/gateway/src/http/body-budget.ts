import type { ServerResponse } from 'node:http';
import { getHeapStatistics } from 'node:v8';
import { GatewayError } from './gateway-error.js';

/**
 * The request bytes held in memory at once, across the process (and the finished answers
 * being read for them, counted without refusal). A body costs the heap several
 * times its size while its request runs (the text, the parsed object, the text sent upstream),
 * and the heap is bounded (a 256 MB old generation by default): forty concurrent 9 MB bodies
 * crashed Kordon with "heap out of memory" inside JSON.parse, ending every request in flight.
 * A body that would pass the budget is refused before it is read (503, `Retry-After: 1`; both
 * SDKs retry a 503), and its request is recorded as RequestRejected `overloaded`.
 */
export class BodyBudget {
  #held = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes held by requests now. */
  get held(): number {
    return this.#held;
  }

  /** A hold for one request's body, given back when its response closes (however it ends). */
  holdFor(res: ServerResponse): BodyHold {
    const hold = new BodyHold(this);
    res.once('close', () => hold.releaseAll());
    return hold;
  }

  /** @internal for BodyHold */
  tryTake(bytes: number): boolean {
    if (this.#held + bytes > this.maxBytes) return false;
    this.#held += bytes;
    return true;
  }

  /** @internal for BodyHold */
  add(bytes: number): void {
    this.#held += bytes;
  }

  /** @internal for BodyHold */
  giveBack(bytes: number): void {
    this.#held -= bytes;
  }
}

/** One request's share of the budget. */
export class BodyHold {
  #bytes = 0;
  #released = false;

  constructor(readonly budget: BodyBudget) {}

  /** Takes `bytes` more, or throws the 503 (nothing taken) when the budget has no room. */
  take(bytes: number): void {
    if (this.#released || !this.budget.tryTake(bytes)) throw overloaded();
    this.#bytes += bytes;
  }

  /**
   * Counts `bytes` more without refusing them: a provider's finished answer as it is read
   * (up to the upstream client's own bound). It was paid for, so it is never cut; it only
   * leaves less room for the bodies of the requests that come after it.
   */
  readonly count = (bytes: number): void => {
    if (this.#released) return;
    this.budget.add(bytes);
    this.#bytes += bytes;
  };

  releaseAll(): void {
    if (this.#released) return;
    this.#released = true;
    this.budget.giveBack(this.#bytes);
    this.#bytes = 0;
  }
}

function overloaded(): GatewayError {
  return new GatewayError(
    'overloaded',
    'Kordon holds as many request bodies in memory as it may; retry in a moment',
    { retryAfterSeconds: 1 },
  );
}

/**
 * The budget when none is configured: a share of V8's heap limit (a body's peak cost is
 * several times its size, docs/operations.md), and never less than one largest body.
 */
export function defaultBodyBudget(maxBodyBytes: number): number {
  return Math.max(maxBodyBytes, Math.floor(getHeapStatistics().heap_size_limit / HEAP_SHARE_DIVISOR));
}

/** What share of the heap bodies may take: 1/8 (~35 MB of bodies with the default heap flags). */
const HEAP_SHARE_DIVISOR = 8;
