/**
 * What a long-lived owner keeps of each request in flight (an answer being sent, a way to end
 * a request early), as a doubly linked list rather than a `Set` or `Map`.
 *
 * Why not a Set: request objects that passed through a long-lived Set or Map, even only while
 * their request was open, outlived it: V8 promoted them to the old generation, where only a full
 * collection frees them. In a bare node:http server that answers after a 1 ms wait, holding each
 * response in a Set until it closed raised what is promoted from ~0.25 to ~1.5 KB a request; the
 * same responses on a linked list or a socket's property, ~0.25 (docs/benchmarks.md, stop 59).
 * Likely cause: a long-lived table is rehashed into a new old-generation table, and the one left
 * behind keeps pointing at the entries it held until the next full collection, so every young
 * collection in between finds them alive. An unlinked list entry has nothing pointing at it.
 */
export class InFlightList<T> {
  #first: Entry<T> | undefined;
  #size = 0;

  /** How many are in flight. */
  get size(): number {
    return this.#size;
  }

  /** Adds one; call the returned function once it has ended (calling it again does nothing). */
  add(value: T): () => void {
    const entry: Entry<T> = { value, previous: undefined, next: this.#first, linked: true };
    if (this.#first) this.#first.previous = entry;
    this.#first = entry;
    this.#size++;
    return () => this.#unlink(entry);
  }

  /** The values in flight now, newest first (a copy: removing during its use is safe). */
  values(): T[] {
    const values: T[] = [];
    for (let entry = this.#first; entry; entry = entry.next) values.push(entry.value as T);
    return values;
  }

  /** Takes every value out (their remove functions then do nothing), newest first. */
  takeAll(): T[] {
    const values = this.values();
    while (this.#first) this.#unlink(this.#first);
    return values;
  }

  #unlink(entry: Entry<T>): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.previous) entry.previous.next = entry.next;
    else this.#first = entry.next;
    if (entry.next) entry.next.previous = entry.previous;
    // Nothing of the request stays reachable from its old neighbours, nor from the entry.
    entry.previous = undefined;
    entry.next = undefined;
    entry.value = undefined;
    this.#size--;
  }
}

interface Entry<T> {
  value: T | undefined;
  previous: Entry<T> | undefined;
  next: Entry<T> | undefined;
  linked: boolean;
}
