import type { Migration, RecordedEvent } from '@kordon/events';

/** Turns a stored event into the typed event a projection reads (catalogue.decode). */
export type Decode<E> = (event: RecordedEvent) => E;

/** A pure view kept in memory: the gateway's hot-path state (key registry, counters...). */
export interface InMemoryProjection<State, E> {
  readonly name: string;
  /**
   * The event types `evolve` acts on; others are skipped without being decoded (the
   * gateway's registry should not validate every request event it ignores anyway).
   * Absent: every event is decoded and evolved.
   */
  readonly eventTypes?: ReadonlySet<string>;
  /**
   * Of `eventTypes`, those whose data `project` reads; the others may arrive with
   * `data: null` (the store does not move data nobody reads). Absent: all of them.
   */
  readonly dataOf?: ReadonlySet<string>;
  initialState(): State;
  /** Pure: the next state after `event`. May mutate and return `state` for speed. */
  evolve(state: State, event: E): State;
}

export interface SqlStatement {
  text: string;
  params: unknown[];
}

/**
 * A read model in SQL. `project` is pure: it returns the statements for one event, and
 * the runner executes them in the same transaction that moves the checkpoint, so each
 * event's effect is applied exactly once.
 */
export interface SqlProjection<E> {
  readonly name: string;
  /** Bump to rebuild the read model from position zero at the next start. */
  readonly version: number;
  /** DDL of the read model's tables (scope: the projection's name). */
  readonly migrations: Migration[];
  /** Tables emptied by a rebuild. */
  readonly tables: string[];
  /**
   * The event types `project` acts on: the store hands over only these (the others are not
   * read at all). Absent: every event.
   */
  readonly eventTypes?: ReadonlySet<string>;
  /**
   * Of `eventTypes`, those whose data `project` reads; the others may arrive with
   * `data: null` (the store does not move data nobody reads). Absent: all of them.
   */
  readonly dataOf?: ReadonlySet<string>;
  /**
   * Optional: loads what `project` needs beyond the events themselves (keys, lookups), before
   * a batch is planned and outside its transaction; it gets the batch as read from the log.
   */
  prepare?(events: RecordedEvent[]): Promise<void>;
  project(event: E): SqlStatement[];
  /**
   * Optional: the statements of a whole batch at once (e.g. one multi-row insert instead of a
   * statement per event), equivalent to `project` of each event in order. When the batch
   * fails, the runner falls back to `project` per event to park the one that cannot apply.
   */
  projectBatch?(events: E[]): SqlStatement[];
}

/** An event a projection could not apply, kept with the reason instead of a crash loop. */
export interface ParkedEvent {
  projection: string;
  position: number;
  eventId: string;
  eventType: string;
  reason: string;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
