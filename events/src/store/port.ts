import type { NewEvent, RecordedEvent } from '../envelope.js';

/**
 * `number`: the stream must be at exactly this version (the version of its last event,
 * starting at 1). `no-stream`: it must not exist yet. `stream-exists`: it must exist.
 * `any`: no check (high-volume category streams).
 */
export type ExpectedVersion = number | 'no-stream' | 'stream-exists' | 'any';

export interface AppendResult {
  /** Version of the stream's last event after the append (the last stream touched, for batches). */
  nextExpectedVersion: number;
  /** Global position of the last event written, or of the existing copy when all were duplicates. */
  lastPosition: number;
  /** Events really written; events whose id was already stored are skipped, not written twice. */
  written: number;
}

export interface ReadAllOptions {
  /** Exclusive: read events with a position greater than this. 0 reads from the start. */
  after: number;
  maxCount: number;
  /** Only events of these types (filtered by the store: the others are never transferred). */
  types?: readonly string[];
  /** Inclusive upper bound of the positions read. */
  upTo?: number;
}

export interface ReadStreamOptions {
  /** Inclusive stream version to start at (1 is the first event). */
  fromVersion?: number;
  maxCount?: number;
}

export interface SubscriptionOptions {
  /** Exclusive start position: catch up from here, then follow live. */
  after: number;
  batchSize?: number;
  /**
   * Only events of these types are handed over (the store filters them: a projection of the
   * control plane never transfers request events). `position` still advances over the rest.
   */
  types?: readonly string[];
  /**
   * With `types`: the types whose data a reader needs. Events of the other types may come
   * with `data: null` (position, type, org, time and the rest of the envelope only), which
   * saves moving their data for a reader that does not use it (the SQL store honours it).
   */
  dataOf?: readonly string[];
  /**
   * Live, at most one read per this many ms (default 0): appends in quick succession are read
   * together. A projection that may lag a little (the control plane, counters) saves the store
   * a query per append batch, which counts on an embedded store sharing the CPU.
   */
  minIntervalMs?: number;
  /** Called with events in global order; the next batch waits until this settles. */
  onEvents: (events: RecordedEvent[]) => Promise<void> | void;
  /** Reading failed (store unreachable...): the subscription retries with backoff. */
  onError?: (error: unknown) => void;
}

export interface Subscription {
  /** Position of the last event handed to `onEvents`. */
  readonly position: number;
  /** Resolves once the subscription has handed over every event up to `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The event store port. Every adapter runs the shared contract suite in
 * `@kordon/events/testing`.
 */
export interface EventStore {
  readonly name: string;
  /** Appends to one stream with an optimistic concurrency check. */
  append(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult>;
  /**
   * Appends events of several streams in one transaction, in the order given, with the
   * optimistic check of `append` on `streamId` alone (the stream a command decided on); the
   * other streams take their next versions. All or nothing: a wrong version writes none.
   * `nextExpectedVersion` is that of the last stream touched, as for `appendMany`.
   */
  appendAcross(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult>;
  /** Appends events of any streams without version checks, in the order given (group commit). */
  appendMany(events: NewEvent[]): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Events in global order. Never returns an event while an earlier-positioned one may still commit. */
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Position of the last committed event (0 when empty). */
  headPosition(): Promise<number>;
  subscribe(options: SubscriptionOptions): Subscription;
  /**
   * Cheap reachability check for readiness probes. With `timeoutMs`, a PostgreSQL that has not
   * answered by then fails it as an outage and its connection is closed, so probes of a hung
   * server do not each hold a pooled connection until it answers.
   */
  ping(options?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}
