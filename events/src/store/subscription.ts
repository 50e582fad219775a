import type { RecordedEvent } from '../envelope.js';
import type { EventStore, Subscription, SubscriptionOptions } from './port.js';

/**
 * Catch-up subscription that turns live: reads batches in global order until it is
 * caught up, then sleeps until an append notification (or a poll tick, in case a
 * notification was lost) and reads again. Read failures are retried with backoff.
 */
export class SqlSubscription implements Subscription {
  private current: number;
  private running = true;
  private wake: (() => void) | undefined;
  /** Set by an append notification that arrives while a read is under way. */
  private signalled = false;
  private readonly waiters: Array<{ position: number; resolve: () => void }> = [];
  private readonly loop: Promise<void>;
  private readonly onAppended = () => {
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
    private readonly appendedListeners: Set<() => void>,
    private readonly pollIntervalMs: number,
  ) {
    this.current = options.after;
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
    while (this.running) {
      let events: RecordedEvent[];
      // With a type filter the events read may be few or none: the head read first says how
      // far the read looked (appends are gapless in commit order, so nothing lands below it later).
      let scannedTo: number | undefined;
      this.signalled = false;
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
        backoffMs = 50;
      } catch (error) {
        this.options.onError?.(error);
        await this.sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
        continue;
      }
      if (events.length > 0) {
        try {
          await this.options.onEvents(events);
        } catch (error) {
          // The handler owns its failures (projections park poison events); a throw here
          // means it wants the same batch again after a pause.
          this.options.onError?.(error);
          await this.sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 5_000);
          continue;
        }
        this.current = events[events.length - 1]!.position;
      }
      // Fewer than a batch of the wanted types: everything up to the head was looked at.
      if (scannedTo !== undefined && events.length < batchSize && scannedTo > this.current)
        this.current = scannedTo;
      if (events.length > 0 || scannedTo !== undefined) this.releaseWaiters();
      if (events.length < batchSize) {
        const pause = this.options.minIntervalMs ?? 0;
        // Caught up: the next read waits for an append (or the poll), and at least `pause`.
        if (pause > 0) await this.pause(pause);
        if (!this.signalled) await this.sleep(this.pollIntervalMs);
      }
    }
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

  /** Sleeps until woken by an append or until `ms` pass. */
  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
