import { InFlightList } from './in-flight-list.js';

/**
 * The requests in flight, each with a way to end it early. When a replica shuts down and its
 * drain deadline passes, each one still open is ended by Kordon, not cut under its caller (a
 * bare network error to both SDKs, and a request recorded as its caller's leaving): a stream
 * with an error event its SDK raises ("Kordon is shutting down"), a request still waiting on
 * its provider with a 503 its SDK retries. Each is recorded `gateway_shutdown`, a stream with
 * the tokens already streamed.
 */
export class LiveRequests {
  /** A list, not a Set: each interrupt holds its request's state (in-flight-list.ts says why). */
  readonly #interrupts = new InFlightList<() => void>();

  /** Registers a request's interrupt; call the returned function once the request has ended. */
  add(interrupt: () => void): () => void {
    return this.#interrupts.add(interrupt);
  }

  /** Interrupts every request still open; returns how many there were. */
  interruptAll(): number {
    const interrupts = this.#interrupts.takeAll();
    for (const interrupt of interrupts) interrupt();
    return interrupts.length;
  }
}

/** What a caller's stream ends with when the replica shuts down under it. */
export const SHUTDOWN_INTERRUPTION =
  'Kordon is shutting down and ended this stream; retry the request (another replica will answer)';

/** What a request still waiting on its provider is answered (503) when the replica shuts down under it. */
export const SHUTDOWN_REFUSAL =
  'Kordon is shutting down and ended this request before its answer came; retry the request (another replica will answer)';
