import type { RecordedEvent } from '../envelope.js';
import type { EventStore, Subscription, SubscriptionOptions } from './port.js';

/**
 * An append this process committed, as its store hands it to its own subscriptions. Under
 * the append lock every event at or below `after` committed before it, so a reader that has
 * passed `after` may take the batch as it is instead of reading back what it just wrote.
 */
export interface CommittedBatch {
  /** The head of the log when the batch went in. */
  readonly after: number;
  /** The batch's last position (its events hold `after`+1... in order, holes aside). */
  readonly last: number;
  /** The types in it: a reader that wants none only moves on. */
  readonly types: ReadonlySet<string>;
  /**
   * The events as a read would return them (made on each call): of the `types` given, and
   * with `dataOf`, only those types with their data (the others with `data: null`).
   */
  events(types?: ReadonlySet<string>, dataOf?: ReadonlySet<string>): RecordedEvent[];
}

/** An append: this process's (with its events), or another's (its last position, when said). */
export type AppendedSignal = { readonly batch: CommittedBatch } | { readonly head: number | undefined };

const NO_TYPES: ReadonlySet<string> = new Set();

/** A committed batch (or several in a row) that holds nothing a reader wants: where it lies. */
class PositionsOnly implements CommittedBatch {
  readonly types: ReadonlySet<string> = NO_TYPES;
  constructor(
    readonly after: number,
    public last: number,
  ) {}
  events(): RecordedEvent[] {
    return [];
  }
}

/**
 * What a reader that has fallen behind keeps of this process's batches; past either bound it
 * reads the rest from the store instead. Counted in events, not only in batches: under load a
 * batch holds up to 500 events (~1.2 KB each in memory), and 1,000 batches kept for a reader
 * that could not keep up (an in-process request log at 4,000 requests a second) grew the
 * gateway's heap by ~1 KB a request, past 200 MB. A reader that keeps up wakes every 20-100 ms
 * and finds far fewer waiting.
 */
export const MAX_FED_EVENTS = 5_000;
const MAX_FED_BATCHES = 1_000;

/**
 * Catch-up subscription that turns live: reads batches in global order until it is
 * caught up, then sleeps until an append signal (or a poll tick, in case a notification
 * was lost). Batches this process appended are taken as they come when nothing came between
 * (no read); anything else is read. Read failures are retried with backoff.
 */
export class SqlSubscription implements Subscription {
  private current: number;
  private running = true;
  private wake: (() => void) | undefined;
  /** Set by an append signal that arrives while a read is under way. */
  private signalled = false;
  /** The highest position appends have announced; Infinity when one did not say. */
  private announced = 0;
  /** This process's committed batches not taken yet, in commit order. */
  private readonly fed: CommittedBatch[] = [];
  /** The positions the batches in `fed` span (their events, holes aside; none for positions only). */
  private fedEvents = 0;
  private readonly types: ReadonlySet<string> | undefined;
  private readonly dataOf: ReadonlySet<string> | undefined;
  private readonly waiters: Array<{ position: number; resolve: () => void }> = [];
  private readonly loop: Promise<void>;
  private readonly onAppended = (signal: AppendedSignal) => {
    if ('batch' in signal) {
      this.feed(signal.batch);
      this.announced = Math.max(this.announced, signal.batch.last);
    } else {
      this.announced =
        signal.head === undefined ? Number.POSITIVE_INFINITY : Math.max(this.announced, signal.head);
    }
    this.signalled = true;
    this.wake?.();
  };

  constructor(
    private readonly store: Pick<EventStore, 'readAll' | 'headPosition'> & {
      /** One round trip for a typed read (the SQL store has it). */
      readTyped?(
        after: number,
        maxCount: number,
        types: readonly string[],
        dataOf?: readonly string[],
      ): Promise<{ events: RecordedEvent[]; scannedTo: number }>;
    },
    private readonly options: SubscriptionOptions,
    private readonly appendedListeners: Set<(signal: AppendedSignal) => void>,
    private readonly pollIntervalMs: number,
  ) {
    this.current = options.after;
    this.types = options.types ? new Set(options.types) : undefined;
    this.dataOf = options.types && options.dataOf ? new Set(options.dataOf) : undefined;
    appendedListeners.add(this.onAppended);
    this.loop = this.run();
  }

  get position(): number {
    return this.current;
  }

  waitFor(position: number, timeoutMs = 30_000): Promise<void> {
    if (this.current >= position) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`subscription did not reach position ${position} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        position,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.appendedListeners.delete(this.onAppended);
    this.stopPause?.();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const batchSize = this.options.batchSize ?? 1000;
    let backoffMs = 50;
    // The first pass catches up; later ones read only when something may be unread, and at
    // least once a poll interval (a notification lost while this process's own appends keep
    // the reader awake would otherwise go unseen).
    let mustRead = true;
    let readAt = 0;
    while (this.running) {
      this.signalled = false;
      if (!(await this.takeFed())) mustRead = true;
      if (mustRead || this.announced > this.current || performance.now() - readAt >= this.pollIntervalMs) {
        // What is announced from here on is read next time if this read does not reach it.
        this.announced = 0;
        readAt = performance.now();
        const read = await this.read(batchSize);
        if (read === 'failed') {
          this.announced = Number.POSITIVE_INFINITY;
          await this.sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 5_000);
          continue;
        }
        backoffMs = 50;
        // A full batch: more may wait behind it.
        mustRead = read === 'full';
        if (mustRead) continue;
      }
      mustRead = false;
      // Caught up: the next read waits for an append (or the poll), and at least `pause`.
      const pause = this.options.minIntervalMs ?? 0;
      if (pause > 0) await this.pause(pause);
      if (!this.signalled && !(await this.sleep(this.pollIntervalMs))) mustRead = true;
    }
  }

  /**
   * Queues a batch of this process's until the reader wakes (after its `minIntervalMs`: 20 to
   * 100 ms for the gateway's and admin's readers). A batch of no type it wants is queued as its positions only, merged with the one
   * before when nothing came between: a reader that keeps every batch holds each request's
   * event past a young-generation collection or two, and V8 then moves it to the old generation,
   * whose full collections cost the gateway most of its GC time (docs/benchmarks.md).
   */
  private feed(batch: CommittedBatch): void {
    const types = this.types;
    if (!types || [...batch.types].some((type) => types.has(type))) {
      const events = batch.last - batch.after;
      if (this.fed.length < MAX_FED_BATCHES && this.fedEvents + events <= MAX_FED_EVENTS) {
        this.fed.push(batch);
        this.fedEvents += events;
      }
      return;
    }
    const previous = this.fed[this.fed.length - 1];
    if (previous instanceof PositionsOnly && previous.last === batch.after) previous.last = batch.last;
    else if (this.fed.length < MAX_FED_BATCHES) this.fed.push(new PositionsOnly(batch.after, batch.last));
  }

  /** Takes the oldest batch off `fed`. */
  private dropFed(): void {
    const batch = this.fed.shift();
    if (batch !== undefined && !(batch instanceof PositionsOnly)) this.fedEvents -= batch.last - batch.after;
  }

  /**
   * Takes this process's batches in order while each starts where this reader is (nothing
   * between); stops at one that does not (a read brings it). False when the handler failed
   * (the read path takes the batch again, with its backoff).
   */
  private async takeFed(): Promise<boolean> {
    while (this.fed.length > 0) {
      const batch = this.fed[0]!;
      if (batch.last <= this.current) {
        this.dropFed();
        continue;
      }
      if (batch.after > this.current) return true;
      // A batch of no type this reader wants was queued as positions only (feed): no events.
      const events = batch.events(this.types, this.dataOf).filter((event) => event.position > this.current);
      if (events.length > 0) {
        try {
          await this.options.onEvents(events);
        } catch (error) {
          this.options.onError?.(error);
          this.fed.length = 0;
          this.fedEvents = 0;
          return false;
        }
      }
      this.current = batch.last;
      this.dropFed();
      this.releaseWaiters();
    }
    return true;
  }

  /** One read from `current`, handed over; 'full' when it filled a batch. */
  private async read(batchSize: number): Promise<'failed' | 'full' | 'partial'> {
    let events: RecordedEvent[];
    // With a type filter the events read may be few or none: the head read first says how
    // far the read looked (appends are gapless in commit order, so nothing lands below it later).
    let scannedTo: number | undefined;
    try {
      const types = this.options.types;
      if (types && this.store.readTyped) {
        const read = await this.store.readTyped(this.current, batchSize, types, this.options.dataOf);
        events = read.events;
        scannedTo = read.scannedTo;
      } else if (types) {
        scannedTo = await this.store.headPosition();
        events =
          scannedTo > this.current
            ? await this.store.readAll({ after: this.current, maxCount: batchSize, types, upTo: scannedTo })
            : [];
      } else {
        events = await this.store.readAll({ after: this.current, maxCount: batchSize });
      }
    } catch (error) {
      this.options.onError?.(error);
      return 'failed';
    }
    if (events.length > 0) {
      try {
        await this.options.onEvents(events);
      } catch (error) {
        // The handler owns its failures (projections park poison events); a throw here
        // means it wants the same batch again after a pause.
        this.options.onError?.(error);
        return 'failed';
      }
      this.current = events[events.length - 1]!.position;
    }
    // Fewer than a batch of the wanted types: everything up to the head was looked at.
    if (scannedTo !== undefined && events.length < batchSize && scannedTo > this.current)
      this.current = scannedTo;
    if (events.length > 0 || scannedTo !== undefined) this.releaseWaiters();
    return events.length < batchSize ? 'partial' : 'full';
  }

  private releaseWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (waiter.position <= this.current) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Waits `ms` whatever appends arrive (they are read together after it); stop cuts it short. */
  private pause(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.stopPause === done) self.stopPause = undefined;
        resolve();
      }
      this.stopPause = done;
    });
  }

  private stopPause: (() => void) | undefined;

  /** Sleeps until woken by an append (true) or until `ms` pass (false). */
  private sleep(ms: number): Promise<boolean> {
    if (!this.running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), ms);
      const self = this;
      function done(woken = true) {
        clearTimeout(timer);
        self.wake = undefined;
        resolve(woken);
      }
      this.wake = done;
    });
  }
}
