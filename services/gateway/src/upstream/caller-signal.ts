/**
 * How a provider call learns that its caller went away.
 *
 * An `AbortSignal` does the job, and tests pass one; the data plane passes a
 * `ConnectionSignal`, because every request needs one and Node's `AbortController` and
 * `EventTarget` cost a few microseconds a request to make and to listen on (~1.5% of a
 * request's CPU in bench:gateway's profile) for an event that almost never comes.
 */
export interface CallerSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * Aborted once, when the client connection closes before its answer is sent. Like an
 * `AbortSignal`: each listener is called once, at the abort; one added after it is not called.
 */
export class ConnectionSignal implements CallerSignal {
  #aborted = false;
  /** Usually one listener (the upstream call in flight), so no Set. */
  #listeners: Array<() => void> = [];

  get aborted(): boolean {
    return this.#aborted;
  }

  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.#aborted) this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.#listeners.indexOf(listener);
    if (at >= 0) this.#listeners.splice(at, 1);
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }
}
