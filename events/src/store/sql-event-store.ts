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
  APPEND_NEEDS_READ_COMMITTED,
  EVENTS_CHANNEL,
  ensureAppendFunction,
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

/** An event's envelope as `write` sends it (JSON, in batch order); its data goes in a second array. */
type SentEnvelope = Omit<EventRow, 'position' | 'stream_version' | 'data'> & { seq: number };

function toRecorded(row: Omit<EventRow, 'position'>, position: number): RecordedEvent {
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
  /**
   * An append with no answer after this long fails as an outage (the appender spools its
   * batch); the server may still commit it, and the spool's replay then finds its ids stored.
   * PostgreSQL only (`QueryOptions`); unset or 0: no limit.
   */
  appendTimeoutMs?: number;
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
   * Last positions of this instance's appends, from their answers: the notification each
   * sends comes back here too and must not wake readers into reading back a batch they are
   * handed anyway. It may come before the answer (an embedded database calls back during the
   * commit; PostgreSQL's listening connection races the appending one), so notifications that
   * arrive while an append of ours is in flight wait for its answer (`unclaimedHeads`).
   */
  private readonly ownHeads = new Set<number>();
  /** Appends of this instance awaiting their answer, and the notifications that came meanwhile. */
  private appending = 0;
  private unclaimedHeads: number[] = [];
  private unlisten: (() => Promise<void>) | undefined;
  private closed = false;
  /** Set once the database's default isolation refused an append (APPEND_NEEDS_READ_COMMITTED). */
  private appendInReadCommitted = false;

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
    await ensureAppendFunction(executor);
    const store = new SqlEventStore(name, executor, options);
    // Other processes' appends arrive as notifications (the payload is their last position);
    // our own are handed to our readers directly, events included.
    store.unlisten = await executor.listen(EVENTS_CHANNEL, (payload) => {
      const head = payload === '' ? Number.NaN : Number(payload);
      if (store.ownHeads.delete(head)) return;
      // It may be the echo of an append of ours whose answer has not come back yet.
      if (store.appending > 0) store.unclaimedHeads.push(head);
      else store.notifyOthersAppended(head);
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
    return this.write(events, streamId, expected);
  }

  appendAcross(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return this.write(events, streamId, expected);
  }

  appendMany(events: NewEvent[]): Promise<AppendResult> {
    return this.write(events, null, 'any');
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

  async ping(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.run((sql) => sql.query('SELECT 1', [], options));
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

  private notifyOthersAppended(head: number): void {
    this.notifyAppended({ head: Number.isSafeInteger(head) ? head : undefined });
  }

  /** Once an append has answered: the notifications that came meanwhile and were not its own. */
  private settleUnclaimedHeads(): void {
    const heads = this.unclaimedHeads;
    if (heads.length === 0) return;
    this.unclaimedHeads = [];
    for (const head of heads) if (!this.ownHeads.delete(head)) this.notifyOthersAppended(head);
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

  /**
   * One call of `kordon_append` (sql.ts): the lock, the look for stored ids, the
   * expected-version check, the insert and the notification all run on the server, in one round
   * trip and its own transaction, so the append lock is held for no client round trip: four
   * replicas append about twice as many events a second as with a transaction of five round
   * trips (docs/benchmarks.md, bench:store's replicas row).
   */
  private async write(
    events: NewEvent[],
    checkedStream: string | null,
    expected: ExpectedVersion,
  ): Promise<AppendResult> {
    if (this.closed) throw new KordonError('closed', `event store ${this.name} is closed`);
    if (events.length === 0)
      return { nextExpectedVersion: 0, lastPosition: await this.headPosition(), written: 0 };
    // The batch as two JSON arrays, one `JSON.stringify` each: the envelopes, and the events'
    // data in the same order. Built per event and joined, the batch's text cost ~5-8% of a
    // streamed request's CPU in bench:gateway (the strings of each row, joined, then flattened
    // by the send); as two arrays it is two strings a batch (docs/benchmarks.md, stop 58). This
    // process's subscriptions take the data from its array (committedBatch).
    const envelopes: SentEnvelope[] = new Array(events.length);
    const data: unknown[] = new Array(events.length);
    for (let seq = 0; seq < events.length; seq++) {
      const event = events[seq]!;
      envelopes[seq] = {
        seq,
        event_id: event.id,
        stream_id: event.streamId,
        type: event.type,
        schema_version: event.schemaVersion,
        org_id: event.orgId,
        actor: event.actor,
        causation_id: event.causationId,
        correlation_id: event.correlationId,
        trace_id: event.traceId,
        occurred_at: event.time.toISOString(),
      };
      data[seq] = event.data ?? null;
    }
    const dataJson = storableJson(JSON.stringify(data));
    // The ids apart too: the look for stored ids, under the lock, then needs no parse of the batch.
    const params = [
      storableJson(JSON.stringify(envelopes)),
      dataJson,
      events.map((event) => event.id),
      checkedStream,
      String(expected),
    ];
    let answer: AppendAnswer;
    this.appending++;
    try {
      const { beforeCommit } = this.options;
      const inReadCommitted = () =>
        this.executor.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
          const inside = await callAppend(tx, params);
          await beforeCommit?.();
          return inside;
        });
      if (beforeCommit || this.appendInReadCommitted) answer = await inReadCommitted();
      else {
        try {
          answer = await callAppend(this.executor, params, this.options.appendTimeoutMs);
        } catch (error) {
          if ((error as { code?: unknown } | undefined)?.code !== APPEND_NEEDS_READ_COMMITTED) throw error;
          // Refused before the lock, nothing written: from now on in a transaction set to READ
          // COMMITTED (two round trips more, and no appendTimeoutMs: run inside a transaction).
          this.appendInReadCommitted = true;
          answer = await inReadCommitted();
        }
      }
      // Its notification comes back to this store's listener too, before or after this answer.
      if (answer.outcome === 'written') this.rememberOwnHead(answer.last);
    } catch (error) {
      throw translateError(this.name, error);
    } finally {
      this.appending--;
      this.settleUnclaimedHeads();
    }
    switch (answer.outcome) {
      case 'conflict':
        throw new WrongExpectedVersionError(checkedStream ?? '', expected, answer.current);
      case 'stored': // an idempotent retry: every event is stored already
        return { lastPosition: answer.last, nextExpectedVersion: answer.version, written: 0 };
      case 'written':
        this.notifyAppended(
          answer.last - answer.first + 1 === answer.written
            ? { batch: committedBatch(events, dataJson, answer) }
            : { head: answer.last },
        );
        return {
          lastPosition: answer.last,
          nextExpectedVersion: answer.versions[answer.versions.length - 1] ?? 0,
          written: answer.written,
        };
    }
  }
}

/** What `kordon_append` answers (numbers as JSON numbers). */
type AppendAnswer =
  | { outcome: 'conflict'; current: number | null }
  | { outcome: 'stored'; last: number; version: number }
  | {
      outcome: 'written';
      written: number;
      /** The positions of the written events, `first` to `last` when they are consecutive. */
      first: number;
      last: number;
      /** The head before the batch. */
      before: number;
      /** The versions of the written events, in position order. */
      versions: number[];
      /** Their ids in position order, when some of the batch was stored already. */
      ids: string[] | null;
    };

async function callAppend(sql: SqlQueryable, params: unknown[], timeoutMs?: number): Promise<AppendAnswer> {
  const { rows } = await sql.query<{ answer: string }>(
    'SELECT kordon_append($1::json, $2::json, $3::uuid[], $4, $5) AS answer',
    params,
    { timeoutMs },
  );
  return JSON.parse(rows[0]?.answer ?? '{}') as AppendAnswer;
}

/**
 * The batch as committed, for this store's subscriptions, as a read would return it: versions
 * and positions as the store gave them, text as the store keeps it (U+0000 and lone
 * surrogates replaced), data as its JSON gives it back (undefined fields dropped). The
 * envelope is copied from the events in memory and the data is parsed from the array that was
 * sent, only when a read wants some; each call makes new objects, so no two readers share any.
 */
function committedBatch(
  events: NewEvent[],
  dataJson: string,
  answer: Extract<AppendAnswer, { outcome: 'written' }>,
): CommittedBatch {
  // Indexes into the batch of the events written, in position order.
  let written = events.map((_, i) => i);
  if (answer.ids) {
    // Some were stored already: the written ones, in the order they were written.
    const firstIndex = new Map<string, number>();
    events.forEach((event, i) => {
      if (!firstIndex.has(event.id)) firstIndex.set(event.id, i);
    });
    written = answer.ids.map((id) => firstIndex.get(id) as number);
  }
  // The envelopes as stored, taken now: the caller may reuse its event objects once answered.
  // `data` holds the event's index in the sent data array; each read puts its data in its place.
  const stored = written.map((i, n) => {
    const event = events[i]!;
    return {
      id: storableText(event.id),
      type: storableText(event.type),
      schemaVersion: Number(event.schemaVersion),
      streamId: storableText(event.streamId),
      streamVersion: answer.versions[n] ?? 0,
      position: answer.first + n,
      time: event.time.getTime(),
      orgId: nullableText(event.orgId),
      actor: actorAsRead(event.actor),
      causationId: nullableText(event.causationId),
      correlationId: nullableText(event.correlationId),
      traceId: nullableText(event.traceId),
      data: i,
    };
  });
  return {
    after: answer.before,
    last: answer.last,
    types: new Set(stored.map((event) => event.type)),
    events: reader(stored, dataJson),
  };
}

/**
 * A batch's reads, from its stored envelopes and its data's JSON alone: made apart from
 * `committedBatch` so that the closure, which readers hold until they wake, keeps no reference
 * to the caller's events.
 */
function reader(
  stored: Array<Omit<RecordedEvent, 'time' | 'data'> & { time: number; data: number }>,
  dataJson: string,
) {
  return (wanted?: ReadonlySet<string>, dataOf?: ReadonlySet<string>): RecordedEvent[] => {
    const recorded: RecordedEvent[] = [];
    // One parse of the batch's data for a read that wants any: fresh objects for this reader.
    let data: unknown[] | undefined;
    for (const event of stored) {
      if (wanted && !wanted.has(event.type)) continue;
      const withData = !dataOf || dataOf.has(event.type);
      if (withData) data ??= JSON.parse(dataJson) as unknown[];
      recorded.push({
        ...event,
        time: new Date(event.time),
        actor: { ...event.actor },
        data: withData ? data![event.data] : null,
      });
    }
    return recorded;
  };
}

/** A string as the store gives it back: storableJson's replacements, only when it needs them. */
function storableText(text: string): string {
  if (!text.includes('\0') && (text as string & { isWellFormed(): boolean }).isWellFormed()) return text;
  return JSON.parse(storableJson(JSON.stringify(text))) as string;
}

function nullableText(text: string | null | undefined): string | null {
  return text == null ? null : storableText(text);
}

/** The actor as a read parses it: a copy, through JSON unless it is plain text fields. */
function actorAsRead(actor: Actor): Actor {
  const { kind, id, ip } = actor;
  const keys = Object.keys(actor).length;
  if (typeof kind === 'string' && typeof id === 'string') {
    if (ip === undefined && keys === 2)
      return { kind: storableText(kind) as Actor['kind'], id: storableText(id) };
    if (typeof ip === 'string' && keys === 3)
      return { kind: storableText(kind) as Actor['kind'], id: storableText(id), ip: storableText(ip) };
  }
  return JSON.parse(storableJson(JSON.stringify(actor))) as Actor;
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
