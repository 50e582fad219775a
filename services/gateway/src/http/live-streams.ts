/**
 * The answers streaming now, each with a way to end it early. When a replica shuts down and
 * its drain deadline passes, each stream still open is ended with an error event its SDK
 * raises ("Kordon is shutting down") and recorded with the tokens already streamed, instead
 * of the connection being cut under it (which both SDKs report as a bare network error).
 */
export class LiveStreams {
  readonly #interrupts = new Set<() => void>();

  /** Registers a stream's interrupt; call the returned function once the stream has ended. */
  add(interrupt: () => void): () => void {
    this.#interrupts.add(interrupt);
    return () => this.#interrupts.delete(interrupt);
  }

  /** Interrupts every stream still open; returns how many there were. */
  interruptAll(): number {
    const interrupts = [...this.#interrupts];
    this.#interrupts.clear();
    for (const interrupt of interrupts) interrupt();
    return interrupts.length;
  }
}

/** What a caller's stream ends with when the replica shuts down under it. */
export const SHUTDOWN_INTERRUPTION =
  'Kordon is shutting down and ended this stream; retry the request (another replica will answer)';
