import { appendFileSync, closeSync, fdatasyncSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { NewEvent } from '../envelope.js';
import { EventStoreUnavailableError, KordonError } from '../errors.js';
import type { EventStore } from '../store/port.js';
import { type Spool, SpoolFullError } from './spool.js';

export interface AppenderLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface GroupCommitAppenderOptions {
  store: EventStore;
  spool: Spool;
  /** Folder for events the store refuses for good (e.g. text PostgreSQL cannot hold). */
  deadLetterDir: string;
  /** Flush when this many events are buffered... */
  maxBatch?: number;
  /** ...or this long after the first buffered event. */
  maxDelayMs?: number;
  /**
   * Under load, a write starts no sooner than this after the one before it started, unless
   * `maxBatch` events are waiting (0: the next batch goes as soon as the last is written).
   * A write costs the process mostly its round trip to the store, whatever the batch holds
   * (docs/benchmarks.md, stop 37): fewer, larger writes under load.
   */
  minIntervalMs?: number;
  /**
   * While a write is in flight, this many events waiting behind it give the write up as an
   * outage: its batch and theirs go to the spool, as after the store's append timeout. A store
   * that stalls under load would otherwise hold every request's event in memory until that
   * timeout (~1.7 KB an event: 5 s at 20,000 requests a second is ~170 MB, most of a 256 MB
   * heap). The write given up on may still commit; the replay then finds its ids stored.
   */
  maxWaitingEvents?: number;
  /** Past this many events held in memory (store down and spool full) `enqueue` throws. */
  maxBufferedEvents?: number;
  /** Pause between attempts to reach the store again while events wait in the spool. */
  retryIntervalMs?: number;
  logger?: AppenderLogger;
}

export interface AppenderStatus {
  /** Events handed over and not yet durable. */
  buffered: number;
  spooledEvents: number;
  spoolBytes: number;
  spoolMaxBytes: number;
  spoolFull: boolean;
  storeReachable: boolean;
  /** Events that went to the store first, each counted once. */
  writtenToStore: number;
  /** Events that went to the spool first (an outage), each counted once. */
  writtenToSpool: number;
  /** Events the replay moved from the spool into the store (already counted in `writtenToSpool`). */
  replayedToStore: number;
  deadLettered: number;
}

type Durable = { resolve: () => void; reject: (error: unknown) => void } | undefined;

const silentLogger: AppenderLogger = { info() {}, warn() {}, error() {} };

/**
 * Group commit for the hot path. Callers hand over events and go on; events are written
 * in batches (by count or after a few milliseconds), one batch in flight at a time, so
 * order is kept. While the store is unreachable batches go to the on-disk spool, which a
 * replay loop drains, oldest first, once the store is back; while the spool holds
 * anything, new batches queue behind it in the spool, so order holds across an outage.
 */
export class GroupCommitAppender {
  private buffer: NewEvent[] = [];
  private durables: Durable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private replaying: Promise<void> | undefined;
  private closed = false;
  private storeReachable = true;
  private spoolFull = false;
  private writtenToStore = 0;
  private writtenToSpool = 0;
  private replayedToStore = 0;
  private deadLettered = 0;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly minIntervalMs: number;
  /** When the last write to the store or the spool started (performance.now()). */
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  /** flush() calls waiting: while any does, batches go without waiting out the interval. */
  private draining = 0;
  private readonly maxBufferedEvents: number;
  private readonly maxWaitingEvents: number;
  /** Events of the write in flight to the store (they stay at the head of `buffer` until it answers). */
  private inFlight = 0;
  /** Gives the write in flight up, once `maxWaitingEvents` wait behind it. */
  private giveUpWrite: (() => void) | undefined;
  private readonly retryIntervalMs: number;
  private readonly logger: AppenderLogger;

  constructor(private readonly options: GroupCommitAppenderOptions) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 5;
    this.minIntervalMs = options.minIntervalMs ?? 0;
    this.maxBufferedEvents = options.maxBufferedEvents ?? 100_000;
    this.maxWaitingEvents = options.maxWaitingEvents ?? 10_000;
    this.retryIntervalMs = options.retryIntervalMs ?? 1_000;
    this.logger = options.logger ?? silentLogger;
    // A crash cut a spool write short: its batch was never acknowledged, but an operator
    // counting events after a power cut must be told the spool dropped a line.
    if (options.spool.tornLines > 0) {
      this.logger.warn(
        { tornLines: options.spool.tornLines },
        'event spool ends in a torn line (a write a crash cut short, never acknowledged); left out',
      );
    }
    if (!options.spool.isEmpty()) {
      this.logger.warn(
        { events: options.spool.events },
        'event spool holds events from an earlier run; replaying',
      );
      this.startReplay();
    }
  }

  /** Hands an event over without waiting. Throws `spool_full` when nothing can hold it. */
  enqueue(event: NewEvent): void {
    this.accept(event, undefined);
  }

  /** Hands an event over and resolves once it is durable (in the store or the spool). */
  append(event: NewEvent): Promise<void> {
    return new Promise((resolve, reject) => this.accept(event, { resolve, reject }));
  }

  /**
   * Resolves once every event handed over so far is durable, or throws `spool_full` when
   * the store is down and the spool cannot take them (they stay in memory, retried).
   */
  async flush(): Promise<void> {
    this.draining++;
    try {
      while (this.buffer.length > 0 || this.flushing) {
        this.clearTimer();
        await (this.flushing ?? this.runFlush());
        if (this.spoolFull && this.buffer.length > 0) {
          throw new SpoolFullError(this.options.spool.bytes, this.options.spool.maxBytes);
        }
      }
    } finally {
      this.draining--;
    }
  }

  /**
   * Whether an event handed over now will become durable: false while the store is
   * unreachable and the spool full, when it could only wait in memory and a crash would
   * lose it. The gateway refuses a request it could not record (decision 0004).
   */
  acceptsEvents(): boolean {
    return this.storeReachable || !this.spoolFull;
  }

  status(): AppenderStatus {
    const spool = this.options.spool;
    return {
      buffered: this.buffer.length,
      spooledEvents: spool.events,
      spoolBytes: spool.bytes,
      spoolMaxBytes: spool.maxBytes,
      spoolFull: this.spoolFull,
      storeReachable: this.storeReachable,
      writtenToStore: this.writtenToStore,
      writtenToSpool: this.writtenToSpool,
      replayedToStore: this.replayedToStore,
      deadLettered: this.deadLettered,
    };
  }

  /**
   * Flushes what is buffered, then gives the spool until `drainTimeoutMs` to empty into
   * the store; whatever is left stays on disk and is replayed at the next start.
   */
  async close(drainTimeoutMs = 5_000): Promise<void> {
    try {
      await this.flush();
    } catch (error) {
      this.logger.error(
        { err: error, lostEvents: this.buffer.length },
        'EVENTS LOST AT SHUTDOWN: store unreachable and spool full',
      );
      for (const durable of this.durables) durable?.reject(error);
    }
    this.closed = true;
    this.clearTimer();
    if (this.replaying) {
      await Promise.race([
        this.replaying,
        new Promise((resolve) => setTimeout(resolve, drainTimeoutMs).unref()),
      ]);
    }
    this.options.spool.close();
  }

  private accept(event: NewEvent, durable: Durable): void {
    if (this.closed) throw new KordonError('closed', 'event appender is closed');
    if (this.buffer.length >= this.maxBufferedEvents) {
      throw new SpoolFullError(this.options.spool.bytes, this.options.spool.maxBytes);
    }
    this.buffer.push(event);
    this.durables.push(durable);
    if (this.giveUpWrite && this.buffer.length - this.inFlight >= this.maxWaitingEvents) this.giveUpWrite();
    this.schedule();
  }

  /** A full batch is written now; otherwise the timer writes what waits within `maxDelayMs`. */
  private schedule(): void {
    if (this.flushing) return; // the running flush picks it up when it is done
    if (this.buffer.length >= this.maxBatch) {
      this.clearTimer();
      void this.runFlush();
    } else if (!this.timer) {
      this.flushAfter(this.maxDelayMs);
    }
  }

  /** The timer that writes what waits, `delayMs` from now. */
  private flushAfter(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runFlush();
    }, delayMs);
  }

  private runFlush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.flushLoop().finally(() => {
        this.flushing = undefined;
        // Events handed over after the loop's last look (a caller of `append` resumed before
        // this ran) were left to the running flush, which had ended: they start their own.
        if (this.buffer.length > 0 && !this.timer && !this.closed) this.schedule();
      });
    }
    return this.flushing;
  }

  private async flushLoop(): Promise<void> {
    while (this.buffer.length > 0) {
      if (this.waitsOutInterval()) return;
      this.lastWriteAt = performance.now();
      const events = this.buffer.slice(0, this.maxBatch);
      const durables = this.durables.slice(0, this.maxBatch);
      const placed = await this.writeBatch(events);
      if (!placed) {
        // Store down and spool full: keep the events in memory and try again later.
        if (!this.closed && !this.timer) this.flushAfter(this.retryIntervalMs);
        return;
      }
      this.buffer.splice(0, events.length);
      this.durables.splice(0, events.length);
      for (const durable of durables) durable?.resolve();
    }
  }

  /**
   * Whether the next batch waits for `minIntervalMs` since the last write began, and if so sets
   * the timer that writes it (`accept` writes at once when `maxBatch` events are waiting).
   */
  private waitsOutInterval(): boolean {
    if (this.draining > 0 || this.closed || this.buffer.length >= this.maxBatch) return false;
    const waitMs = this.lastWriteAt + this.minIntervalMs - performance.now();
    if (waitMs <= 0) return false;
    if (!this.timer) this.flushAfter(Math.ceil(waitMs));
    return true;
  }

  /** Puts a batch in the store, or in the spool; false when neither can take it now. */
  private async writeBatch(events: NewEvent[]): Promise<boolean> {
    if (this.options.spool.isEmpty() && !this.replaying) {
      try {
        this.writtenToStore += await this.writeToStore(events, true);
        this.markStoreReachable();
        this.markSpoolAccepting();
        return true;
      } catch (error) {
        this.markStoreUnreachable(error);
      }
    }
    try {
      this.options.spool.write(events);
      this.writtenToSpool += events.length;
      this.markSpoolAccepting();
    } catch (error) {
      if (!this.spoolFull) {
        this.spoolFull = true;
        this.logger.error(
          { err: error, bufferedEvents: this.buffer.length, spoolBytes: this.options.spool.bytes },
          'EVENT SPOOL FULL: the store is unreachable and the spool cannot take more; events are held in memory',
        );
      }
      this.startReplay();
      return false;
    }
    this.startReplay();
    return true;
  }

  /**
   * Writes a batch. A refusal that is not an outage (PostgreSQL cannot store a value, for
   * instance) is narrowed down to the events that cause it, which go to the dead-letter
   * file with the reason instead of blocking every event behind them. Resolves to the number
   * of events the store took (not those it held already, nor those dead-lettered).
   */
  private async writeToStore(events: NewEvent[], giveUpOnBacklog = false): Promise<number> {
    try {
      const append = this.options.store.appendMany(events);
      return (await (giveUpOnBacklog ? this.untilBacklog(append, events.length) : append)).written;
    } catch (error) {
      if (isOutage(error) || events.length === 0) throw error;
      if (events.length === 1) {
        this.deadLetter(events[0]!, error);
        return 0;
      }
      const middle = Math.ceil(events.length / 2);
      return (
        (await this.writeToStore(events.slice(0, middle))) + (await this.writeToStore(events.slice(middle)))
      );
    }
  }

  /**
   * The write's answer, or an outage once `maxWaitingEvents` wait behind it (only a batch's
   * first write: a refusal being narrowed down runs to its end, so no event is dead-lettered
   * twice). The write goes on unwatched; its failure, should it come, is nobody's.
   */
  private untilBacklog<T>(write: Promise<T>, size: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let watched = true;
      // Once given up on, the write's answer no longer touches the appender (another write may
      // be in flight by then).
      const unwatch = () => {
        if (!watched) return false;
        watched = false;
        this.giveUpWrite = undefined;
        this.inFlight = 0;
        return true;
      };
      this.inFlight = size;
      this.giveUpWrite = () => {
        const waiting = this.buffer.length - this.inFlight;
        if (!unwatch()) return;
        reject(
          new EventStoreUnavailableError(
            `event store has not answered a write while ${waiting} events waited behind it`,
          ),
        );
      };
      write.then(
        (value) => {
          if (unwatch()) resolve(value);
        },
        (error: unknown) => {
          if (unwatch()) reject(error);
        },
      );
    });
  }

  private deadLetter(event: NewEvent, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    // Synced: the event is in neither the store nor, once its segment is deleted, the spool.
    const fd = openSync(join(this.options.deadLetterDir, 'dead-letter.jsonl'), 'a');
    try {
      appendFileSync(fd, `${JSON.stringify({ reason, event })}\n`);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.deadLettered++;
    this.logger.error(
      { eventId: event.id, type: event.type, reason },
      'event refused by the store; dead-lettered',
    );
  }

  private startReplay(): void {
    if (this.replaying || this.options.spool.isEmpty()) return;
    this.replaying = this.replayLoop().finally(() => {
      this.replaying = undefined;
      // A batch spooled while the loop was finishing needs a new loop.
      if (!this.options.spool.isEmpty() && !this.closed) this.startReplay();
    });
  }

  private async replayLoop(): Promise<void> {
    const spool = this.options.spool;
    let pauseMs = this.retryIntervalMs;
    while (!spool.isEmpty()) {
      let segment: ReturnType<Spool['readOldest']>;
      try {
        segment = spool.readOldest();
      } catch (error) {
        // The disk failed the read: try again later rather than spin.
        this.logger.error({ err: error }, 'event spool segment could not be read; retrying');
        if (this.closed) return;
        await new Promise((resolve) => setTimeout(resolve, pauseMs).unref());
        pauseMs = Math.min(pauseMs * 2, 30_000);
        continue;
      }
      if (!segment) return;
      try {
        for (let i = 0; i < segment.events.length; i += this.maxBatch) {
          this.replayedToStore += await this.writeToStore(segment.events.slice(i, i + this.maxBatch));
        }
        spool.remove(segment);
        if (segment.corrupt.length > 0) {
          this.logger.error(
            { segment: segment.name, corruptLines: segment.corrupt, keptIn: segment.corruptFile },
            'event spool lines that hold no event were left out of the replay (copied to corrupt/)',
          );
        }
        this.markStoreReachable();
        pauseMs = this.retryIntervalMs;
      } catch (error) {
        this.markStoreUnreachable(error);
        if (this.closed) return;
        await new Promise((resolve) => setTimeout(resolve, pauseMs).unref());
        pauseMs = Math.min(pauseMs * 2, 30_000);
      }
    }
    this.logger.info({}, 'event spool drained into the store');
  }

  private markSpoolAccepting(): void {
    if (!this.spoolFull) return;
    this.spoolFull = false;
    this.logger.info({}, 'events are being written again after the spool was full');
  }

  private markStoreReachable(): void {
    if (this.storeReachable) return;
    this.storeReachable = true;
    this.logger.info({}, 'event store reachable again');
  }

  private markStoreUnreachable(error: unknown): void {
    if (!this.storeReachable) return;
    this.storeReachable = false;
    this.logger.warn({ err: error }, 'event store unreachable; spooling events to disk');
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Outages are retried from the spool; any other refusal is about the events themselves. */
function isOutage(error: unknown): boolean {
  return error instanceof KordonError && (error.isRetryable || error.code === 'closed');
}
