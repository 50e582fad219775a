import type { Actor, NewEvent, RecordedEvent } from '../envelope.js';
import { EventStoreUnavailableError, KordonError, WrongExpectedVersionError } from '../errors.js';
import type {
  AppendResult,
  EventStore,
  ExpectedVersion,
  ReadAllOptions,
  ReadStreamOptions,
  Subscription,
  SubscriptionOptions,
} from './port.js';
import {
  APPEND_LOCK_KEY,
  EVENTS_CHANNEL,
  eventStoreMigrations,
  isTransientSqlError,
  migrate,
  type SqlExecutor,
  type SqlQueryable,
} from './sql.js';
import { type AppendedSignal, type CommittedBatch, SqlSubscription } from './subscription.js';

const EVENT_COLUMNS = `position, event_id, stream_id, stream_version, type, schema_version, org_id, actor,
  causation_id, correlation_id, trace_id, data, occurred_at`;

interface EventRow {
  position: string | number | bigint;
  event_id: string;
  stream_id: string;
  stream_version: string | number | bigint;
  type: string;
  schema_version: number;
  org_id: string | null;
  actor: Actor;
  causation_id: string | null;
  correlation_id: string | null;
  trace_id: string | null;
  data: unknown;
  occurred_at: Date | string;
}

/** A row as `insertEvents` sends it (JSON, with its place in its stream), given its version and position. */
type SentRow = Omit<EventRow, 'position'>;

function toRecorded(row: SentRow, position: number): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    schemaVersion: Number(row.schema_version),
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    position,
    time: row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at),
    orgId: row.org_id,
    actor: row.actor,
    causationId: row.causation_id,
    correlationId: row.correlation_id,
    traceId: row.trace_id,
    data: row.data,
  };
}

export interface SqlEventStoreOptions {
  /** Test hook: awaited inside the append transaction just before COMMIT. */
  beforeCommit?: () => Promise<void>;
  /** How often a live subscription polls when no notification arrives (ms). */
  pollIntervalMs?: number;
  /** Whether `close()` closes the executor too (false when instances share one). */
  ownsExecutor?: boolean;
}

/**
 * The event store on SQL. Appends take one transaction-scoped advisory lock, so global
 * positions are handed out in commit order: a reader that follows `position` can never
 * pass over an event whose transaction commits later with a smaller position (the
 * sequence-gap problem). Group commit keeps the lock's cost per event small.
 */
export class SqlEventStore implements EventStore {
  private readonly appendedListeners = new Set<(signal: AppendedSignal) => void>();
  /**
   * Last positions of this instance's appends (from just before their commit): the
   * notification each sends comes back here too, before or after the append returns (an
   * embedded database calls back during the commit), and must not wake readers into reading
   * back a batch they are handed anyway.
   */
  private readonly ownHeads = new Set<number>();
  private unlisten: (() => Promise<void>) | undefined;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly executor: SqlExecutor,
    private readonly options: SqlEventStoreOptions,
  ) {}

  static async open(
    name: string,
    executor: SqlExecutor,
    options: SqlEventStoreOptions = {},
  ): Promise<SqlEventStore> {
    await migrate(executor, eventStoreMigrations);
    const store = new SqlEventStore(name, executor, options);
    // Other processes' appends arrive as notifications (the payload is their last position);
    // our own are handed to our readers directly, events included.
    store.unlisten = await executor.listen(EVENTS_CHANNEL, (payload) => {
      const head = payload === '' ? Number.NaN : Number(payload);
      if (store.ownHeads.delete(head)) return;
      store.notifyAppended({ head: Number.isSafeInteger(head) ? head : undefined });
    });
    return store;
  }

  get sql(): SqlExecutor {
    return this.executor;
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    for (const event of events) {
      if (event.streamId !== streamId) {
        throw new KordonError(
          'event_invalid',
          `event ${event.id} belongs to ${event.streamId}, not ${streamId}`,
        );
      }
    }
    return this.write(events, async (tx, fresh) => {
      const current = await currentVersion(tx, streamId);
      if (fresh.length === 0) return; // an idempotent retry: the events are stored already
      checkExpected(streamId, expected, current);
    });
  }

  appendMany(events: NewEvent[]): Promise<AppendResult> {
    return this.write(events, async () => {});
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    return this.readEvents(
      'WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3',
      [streamId, options.fromVersion ?? 1, options.maxCount ?? 1_000_000],
      'stream_version',
    );
  }

  readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const upTo = options.upTo ?? Number.MAX_SAFE_INTEGER;
    if (options.types) {
      return this.readEvents(
        'WHERE position > $1 AND position <= $2 AND type = ANY($3) ORDER BY position LIMIT $4',
        [options.after, upTo, [...options.types], options.maxCount],
        'position',
      );
    }
    return this.readEvents(
      'WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3',
      [options.after, upTo, options.maxCount],
      'position',
    );
  }

  /**
   * Events of some types after `after`, and how far the read looked (the head when it began),
   * in one round trip: what a typed subscription needs to move on over the other types. With
   * `dataOf`, only events of those types carry their data; the others come with `data: null`.
   */
  async readTyped(
    after: number,
    maxCount: number,
    types: readonly string[],
    dataOf?: readonly string[],
  ): Promise<{ events: RecordedEvent[]; scannedTo: number }> {
    const columns = dataOf
      ? EVENT_COLUMNS.replace('data,', 'CASE WHEN type = ANY($4) THEN data END AS data,')
      : EVENT_COLUMNS;
    const { rows } = await this.run((sql) =>
      sql.query<{ page: string; head: string | number | null }>(
        `WITH head AS (SELECT coalesce(max(position), 0) AS position FROM kordon_events)
         SELECT (SELECT position FROM head) AS head,
                coalesce(json_agg(e ORDER BY e.position), '[]')::text AS page
           FROM (SELECT ${columns} FROM kordon_events
                  WHERE position > $1 AND position <= (SELECT position FROM head) AND type = ANY($2)
                  ORDER BY position LIMIT $3) e`,
        dataOf ? [after, [...types], maxCount, [...dataOf]] : [after, [...types], maxCount],
      ),
    );
    const row = rows[0];
    return {
      events: (JSON.parse(row?.page ?? '[]') as EventRow[]).map((row) =>
        toRecorded(row, Number(row.position)),
      ),
      scannedTo: Number(row?.head ?? 0),
    };
  }

  /**
   * Reads a page of events as ONE JSON document built by the server: a single value to
   * transfer and parse instead of a row per event doubles catch-up speed on PGlite and
   * costs nothing on PostgreSQL (see docs/benchmarks.md).
   */
  private async readEvents(
    where: string,
    params: unknown[],
    order: 'position' | 'stream_version',
  ): Promise<RecordedEvent[]> {
    const { rows } = await this.run((sql) =>
      sql.query<{ page: string }>(
        `SELECT coalesce(json_agg(e ORDER BY e.${order}), '[]')::text AS page
           FROM (SELECT ${EVENT_COLUMNS} FROM kordon_events ${where}) e`,
        params,
      ),
    );
    return (JSON.parse(rows[0]?.page ?? '[]') as EventRow[]).map((row) =>
      toRecorded(row, Number(row.position)),
    );
  }

  async headPosition(): Promise<number> {
    const { rows } = await this.run((sql) =>
      sql.query<{ head: string | number | null }>('SELECT max(position) AS head FROM kordon_events'),
    );
    return Number(rows[0]?.head ?? 0);
  }

  subscribe(options: SubscriptionOptions): Subscription {
    return new SqlSubscription(this, options, this.appendedListeners, this.options.pollIntervalMs ?? 1000);
  }

  async ping(): Promise<void> {
    await this.run((sql) => sql.query('SELECT 1'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.unlisten?.().catch(() => {});
    if (this.options.ownsExecutor !== false) await this.executor.close();
  }

  private rememberOwnHead(position: number): void {
    // Bounded: without a listening connection no echo comes to remove them.
    if (this.ownHeads.size >= 1_024) this.ownHeads.delete(this.ownHeads.values().next().value as number);
    this.ownHeads.add(position);
  }

  private notifyAppended(signal: AppendedSignal): void {
    for (const listener of this.appendedListeners) listener(signal);
  }

  /** Runs a query, turning connection failures into a retryable `event_store_unavailable`. */
  private async run<T>(fn: (sql: SqlQueryable) => Promise<T>): Promise<T> {
    if (this.closed) throw new KordonError('closed', `event store ${this.name} is closed`);
    try {
      return await fn(this.executor);
    } catch (error) {
      throw translateError(this.name, error);
    }
  }

  private async write(
    events: NewEvent[],
    check: (tx: SqlQueryable, fresh: NewEvent[]) => Promise<void>,
  ): Promise<AppendResult> {
    if (this.closed) throw new KordonError('closed', `event store ${this.name} is closed`);
    if (events.length === 0)
      return { nextExpectedVersion: 0, lastPosition: await this.headPosition(), written: 0 };
    let outcome: { result: AppendResult; batch?: CommittedBatch };
    try {
      outcome = await this.executor.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
        const { fresh, existing } = await splitDuplicates(tx, events);
        await check(tx, fresh);
        if (fresh.length === 0) return { result: existing };
        const written = await insertEvents(tx, fresh);
        // Its notification (queued by the insert) comes back to this store's listener too.
        if (written.batch) this.rememberOwnHead(written.result.lastPosition);
        await this.options.beforeCommit?.();
        return written;
      });
    } catch (error) {
      throw translateError(this.name, error);
    }
    const { result, batch } = outcome;
    if (result.written > 0) this.notifyAppended(batch ? { batch } : { head: result.lastPosition });
    return result;
  }
}

async function currentVersion(tx: SqlQueryable, streamId: string): Promise<number | null> {
  const { rows } = await tx.query<{ version: string | number }>(
    'SELECT version FROM kordon_streams WHERE stream_id = $1',
    [streamId],
  );
  return rows[0] ? Number(rows[0].version) : null;
}

function checkExpected(streamId: string, expected: ExpectedVersion, current: number | null): void {
  const ok =
    expected === 'any' ||
    (expected === 'no-stream' && current === null) ||
    (expected === 'stream-exists' && current !== null) ||
    (typeof expected === 'number' && (current ?? 0) === expected);
  if (!ok) throw new WrongExpectedVersionError(streamId, expected, current);
}

/** Events whose id is stored already are not written again (idempotent retries). */
async function splitDuplicates(
  tx: SqlQueryable,
  events: NewEvent[],
): Promise<{ fresh: NewEvent[]; existing: AppendResult }> {
  const { rows } = await tx.query<{
    event_id: string;
    position: string | number;
    stream_version: string | number;
  }>('SELECT event_id, position, stream_version FROM kordon_events WHERE event_id = ANY($1::uuid[])', [
    events.map((event) => event.id),
  ]);
  const stored = new Set(rows.map((row) => row.event_id));
  const seen = new Set<string>();
  const fresh: NewEvent[] = [];
  for (const event of events) {
    if (stored.has(event.id) || seen.has(event.id)) continue;
    seen.add(event.id);
    fresh.push(event);
  }
  let lastPosition = 0;
  let nextExpectedVersion = 0;
  for (const row of rows) {
    if (Number(row.position) > lastPosition) {
      lastPosition = Number(row.position);
      nextExpectedVersion = Number(row.stream_version);
    }
  }
  return { fresh, existing: { lastPosition, nextExpectedVersion, written: 0 } };
}

/**
 * Writes fresh events, and tells other processes of them; with them, the batch as committed
 * for this store's subscriptions (when its positions are consecutive, as they are under the
 * append lock).
 *
 * One statement: the streams' versions reserved, the events inserted and the notification
 * queued (PostgreSQL sends it at COMMIT) in a single round trip. An append holds its events
 * until it commits, and each round trip waits for a turn of a busy event loop: with a statement
 * each for the versions, the insert and the notification, a loaded gateway's batches took
 * 13–56 ms, long enough for V8 to move many of their events into the old generation
 * (docs/benchmarks.md, stop 30).
 */
async function insertEvents(
  tx: SqlQueryable,
  events: NewEvent[],
): Promise<{ result: AppendResult; batch?: CommittedBatch }> {
  // Each event's place among its stream's in the batch (1, 2, ...): its version once the
  // statement has added the stream's version before the batch (`bases`).
  const offsets = new Map<string, number>();
  const rows = events.map((event, seq) => {
    const streamOffset = (offsets.get(event.streamId) ?? 0) + 1;
    offsets.set(event.streamId, streamOffset);
    return {
      seq,
      event_id: event.id,
      stream_id: event.streamId,
      stream_offset: streamOffset,
      type: event.type,
      schema_version: event.schemaVersion,
      org_id: event.orgId,
      actor: event.actor,
      causation_id: event.causationId,
      correlation_id: event.correlationId,
      trace_id: event.traceId,
      data: event.data ?? null,
      occurred_at: event.time.toISOString(),
    };
  });
  // One JSON parameter for the whole batch: one parse on the server, positions in batch order.
  // `before`: the head when the batch went in (the statement's snapshot does not see its own
  // insert), so a reader that has passed it may take the batch without reading it back.
  const sent = storableJson(JSON.stringify(rows));
  const { rows: inserted } = await tx.query<{
    first: string | number | null;
    last: string | number | null;
    before: string | number;
    bases: string;
  }>(
    `WITH r AS (
       SELECT * FROM json_to_recordset($1::json) AS r(seq int, event_id uuid, stream_id text, stream_offset bigint,
              type text, schema_version int, org_id text, actor json, causation_id text, correlation_id text,
              trace_id text, data json, occurred_at timestamptz)),
     counts AS (SELECT stream_id, count(*) AS n FROM r GROUP BY stream_id),
     versions AS (
       INSERT INTO kordon_streams AS s (stream_id, version) SELECT stream_id, n FROM counts
       ON CONFLICT (stream_id) DO UPDATE SET version = s.version + EXCLUDED.version
       RETURNING stream_id, version),
     bases AS (SELECT v.stream_id, v.version - c.n AS base FROM versions v JOIN counts c USING (stream_id)),
     ins AS (
       INSERT INTO kordon_events (event_id, stream_id, stream_version, type, schema_version, org_id, actor,
                                  causation_id, correlation_id, trace_id, data, occurred_at)
       SELECT r.event_id, r.stream_id, b.base + r.stream_offset, r.type, r.schema_version, r.org_id, r.actor,
              r.causation_id, r.correlation_id, r.trace_id, r.data, r.occurred_at
         FROM r JOIN bases b USING (stream_id)
        ORDER BY r.seq
       RETURNING position)
     SELECT min(position) AS first, max(position) AS last,
            (SELECT coalesce(max(position), 0) FROM kordon_events) AS before,
            (SELECT json_object_agg(stream_id, base) FROM bases)::text AS bases,
            -- queued here, sent by PostgreSQL at COMMIT; the column itself is not read
            (SELECT pg_notify($2, max(position)::text) FROM ins) IS NULL AS unnotified
       FROM ins`,
    [sent, EVENTS_CHANNEL],
  );
  const first = Number(inserted[0]?.first ?? 0);
  const last = Number(inserted[0]?.last ?? 0);
  const bases = JSON.parse(inserted[0]?.bases ?? '{}') as Record<string, number | string>;
  const versionOf = (row: { stream_id: string; stream_offset: number }) =>
    Number(bases[row.stream_id]) + row.stream_offset;
  const lastRow = rows[rows.length - 1];
  const lastVersion = lastRow ? versionOf(lastRow) : 0;
  const result = { lastPosition: last, nextExpectedVersion: lastVersion, written: events.length };
  if (last - first + 1 !== events.length) return { result };
  const types = new Set(events.map((event) => event.type));
  return {
    result,
    batch: {
      after: Number(inserted[0]?.before ?? 0),
      last,
      types,
      // Parsed from the JSON the store was sent (U+0000 already replaced), with the versions it
      // gave: the events as a read would return them. Each call parses anew, so no two readers
      // share objects (and a row may take its version).
      events: () =>
        (JSON.parse(sent) as Array<SentRow & { stream_offset: number }>).map((row, seq) => {
          row.stream_version = versionOf(row);
          return toRecorded(row, first + seq);
        }),
    },
  };
}

/**
 * PostgreSQL cannot hold U+0000 in JSON strings, nor an unpaired UTF-16 surrogate (a
 * stream cut inside an emoji leaves one). Rather than refuse a whole event (and with it,
 * spend), both become U+FFFD. JSON.stringify escapes exactly these as `\u0000` and
 * `\udXXX` (paired surrogates stay raw), so a scan of the text finds them; an escape
 * counts only after an even run of backslashes (`\\u0000` is a literal backslash).
 */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;

export function storableJson(json: string): string {
  if (!json.includes('\\u0000') && !json.includes('\\ud')) return json;
  return json.replace(UNSTORABLE_ESCAPE, '$1\\ufffd');
}

function translateError(storeName: string, error: unknown): unknown {
  if (error instanceof KordonError) return error;
  if (isTransientSqlError(error))
    return new EventStoreUnavailableError(`event store ${storeName} is unreachable`, error);
  return error;
}
