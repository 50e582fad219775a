/**
 * The one SQL dialect both adapters speak: PGlite (embedded) and PostgreSQL (served) run
 * exactly these statements through a `SqlExecutor`.
 */
export interface SqlQueryable {
  query<Row = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: Row[] }>;
}

export interface QueryOptions {
  /**
   * Give up on an answer after this long (unset or 0: wait as long as it takes): the call
   * rejects with `Query read timeout` (an outage, `isTransientSqlError`) and its connection is
   * closed, not reused. PostgreSQL only: an embedded database answers in this process or not at
   * all.
   */
  timeoutMs?: number;
}

export interface SqlExecutor extends SqlQueryable {
  readonly dialect: 'pglite' | 'postgres';
  /** Runs several statements without parameters (DDL). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /** Calls `onNotify` for each NOTIFY on `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface Migration {
  /** Who owns the migration ('event-store', a projection's name...): versions count per scope. */
  scope: string;
  version: number;
  name: string;
  sql: string;
}

/** Advisory lock keys (arbitrary constants, unique to Kordon). */
export const APPEND_LOCK_KEY = 7_041_212_001;
export const MIGRATION_LOCK_KEY = 7_041_212_002;
export const EVENTS_CHANNEL = 'kordon_events';

/** `kordon_append`'s signature, as `to_regprocedure` reads it. */
export const APPEND_FUNCTION = 'kordon_append(json,json,uuid[],text,text)';
/** Raised with each change of the function's body, and kept as its comment in the database. */
const APPEND_FUNCTION_VERSION = 3;
/**
 * The SQLSTATE `kordon_append` raises, before it takes the lock, when run in a transaction
 * isolated above READ COMMITTED (a database or role whose `default_transaction_isolation` is
 * repeatable read or serializable): its statements would all share the snapshot taken before
 * the lock, blind to appends that committed while it waited. Nothing is written; the store
 * runs the append again in a transaction it sets to READ COMMITTED.
 */
export const APPEND_NEEDS_READ_COMMITTED = 'KA001';

/**
 * The append, whole, on the server (installed by `ensureAppendFunction`): the append lock is
 * held for no client round trip (sql-event-store.ts says why there is one lock). In READ
 * COMMITTED each statement of a PL/pgSQL function takes a new snapshot: the statements after
 * the lock see every append committed while this one waited for it (only there: see
 * APPEND_NEEDS_READ_COMMITTED).
 */
const APPEND_FUNCTION_SQL = `
      CREATE OR REPLACE FUNCTION kordon_append(envelopes json, batch_data json, ids uuid[], checked_stream text, expected text)
      RETURNS text LANGUAGE plpgsql AS $fn$
      DECLARE
        stored_ids uuid[];
        stored_last bigint;
        stored_last_version bigint;
        current_version bigint;
        written json;
      BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
          RAISE EXCEPTION 'kordon_append needs READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = '${APPEND_NEEDS_READ_COMMITTED}';
        END IF;
        PERFORM pg_advisory_xact_lock(${APPEND_LOCK_KEY});
        -- Events whose id is stored already are not written again (idempotent retries).
        -- The two lookups in the log go through EXECUTE, planned on every call: PL/pgSQL keeps
        -- a statement's plan for the connection's life, and one made while the log was a few
        -- rows long (a new database) scans the whole table, call after call, as the log grows.
        EXECUTE 'SELECT array_agg(e.event_id), max(e.position),
                        (array_agg(e.stream_version ORDER BY e.position DESC))[1]
                   FROM kordon_events e WHERE e.event_id = ANY($1)'
          INTO stored_ids, stored_last, stored_last_version USING ids;
        IF stored_ids IS NOT NULL AND NOT EXISTS (SELECT 1 FROM unnest(ids) AS i(id) WHERE i.id <> ALL(stored_ids)) THEN
          RETURN json_build_object('outcome', 'stored', 'last', stored_last, 'version', stored_last_version)::text;
        END IF;
        IF expected <> 'any' THEN
          EXECUTE 'SELECT s.version FROM kordon_streams s WHERE s.stream_id = $1'
            INTO current_version USING checked_stream;
          IF NOT ((expected = 'no-stream' AND current_version IS NULL)
               OR (expected = 'stream-exists' AND current_version IS NOT NULL)
               OR (expected ~ '^[0-9]+$' AND coalesce(current_version, 0) = expected::bigint)) THEN
            RETURN json_build_object('outcome', 'conflict', 'current', current_version)::text;
          END IF;
        END IF;
        -- An event's version: its stream's version before the batch plus its place among the
        -- stream's fresh events in the batch. Positions follow the batch's order.
        -- The envelopes and the data come as two arrays in the same order (seq from 0).
        WITH r AS (
          SELECT e.*, d.data FROM json_to_recordset(envelopes) AS e(seq int, event_id uuid, stream_id text,
                 type text, schema_version int, org_id text, actor json, causation_id text, correlation_id text,
                 trace_id text, occurred_at timestamptz)
            JOIN json_array_elements(batch_data) WITH ORDINALITY AS d(data, n) ON d.n = e.seq + 1),
        fresh AS (
          SELECT DISTINCT ON (r.event_id) r.* FROM r
           WHERE stored_ids IS NULL OR r.event_id <> ALL(stored_ids)
           ORDER BY r.event_id, r.seq),
        numbered AS (
          SELECT f.*, row_number() OVER (PARTITION BY f.stream_id ORDER BY f.seq) AS stream_offset FROM fresh f),
        counts AS (SELECT n.stream_id, count(*) AS added FROM numbered n GROUP BY n.stream_id),
        versions AS (
          INSERT INTO kordon_streams AS s (stream_id, version) SELECT c.stream_id, c.added FROM counts c
          ON CONFLICT (stream_id) DO UPDATE SET version = s.version + EXCLUDED.version
          RETURNING s.stream_id, s.version),
        bases AS (
          SELECT v.stream_id, v.version - c.added AS base FROM versions v JOIN counts c ON c.stream_id = v.stream_id),
        ins AS (
          INSERT INTO kordon_events (event_id, stream_id, stream_version, type, schema_version, org_id, actor,
                                     causation_id, correlation_id, trace_id, data, occurred_at)
          SELECT n.event_id, n.stream_id, b.base + n.stream_offset, n.type, n.schema_version, n.org_id, n.actor,
                 n.causation_id, n.correlation_id, n.trace_id, n.data, n.occurred_at
            FROM numbered n JOIN bases b ON b.stream_id = n.stream_id
           ORDER BY n.seq
          RETURNING position, event_id, stream_version)
        SELECT json_build_object(
                 'outcome', 'written', 'written', count(*), 'first', min(i.position), 'last', max(i.position),
                 -- the head before the batch: this statement's snapshot does not see its own insert
                 'before', (SELECT coalesce(max(e.position), 0) FROM kordon_events e),
                 'versions', json_agg(i.stream_version ORDER BY i.position),
                 'ids', CASE WHEN stored_ids IS NOT NULL OR count(*) <> cardinality(ids)
                             THEN json_agg(i.event_id ORDER BY i.position) END)
          INTO written FROM ins i;
        -- sent by PostgreSQL at COMMIT
        PERFORM pg_notify('${EVENTS_CHANNEL}', (written->>'last'));
        RETURN written::text;
      END
      $fn$;
    `;

/**
 * `data` and `actor` are `json`, not `jsonb`: the log is written far more than it is
 * queried by content (projections read it in order), `json` costs about half as much to
 * insert, and it keeps any JSON text as given (jsonb refuses U+0000).
 */
export const eventStoreMigrations: Migration[] = [
  {
    scope: 'event-store',
    version: 1,
    name: 'event log',
    sql: `
      CREATE TABLE kordon_events (
        position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id        uuid        NOT NULL UNIQUE,
        stream_id       text        NOT NULL,
        stream_version  bigint      NOT NULL,
        type            text        NOT NULL,
        schema_version  integer     NOT NULL,
        org_id          text,
        actor           json        NOT NULL,
        causation_id    text,
        correlation_id  text,
        trace_id        text,
        data            json        NOT NULL,
        occurred_at     timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (stream_id, stream_version)
      );
      CREATE TABLE kordon_streams (
        stream_id text   PRIMARY KEY,
        version   bigint NOT NULL
      );
    `,
  },
];

/** Applies missing migrations once, even when several processes start together. */
export async function migrate(executor: SqlExecutor, migrations: Migration[]): Promise<void> {
  await executor.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS kordon_schema_migrations (
      scope text NOT NULL, version integer NOT NULL, name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, version))`);
    const { rows } = await tx.query<{ scope: string; version: number }>(
      'SELECT scope, version FROM kordon_schema_migrations',
    );
    const applied = new Set(rows.map((row) => `${row.scope}/${Number(row.version)}`));
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(`${migration.scope}/${migration.version}`)) continue;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO kordon_schema_migrations (scope, version, name) VALUES ($1, $2, $3)', [
        migration.scope,
        migration.version,
        migration.name,
      ]);
    }
  });
}

/** The version of the installed `kordon_append` (its comment); 0 when there is none. */
export async function appendFunctionVersion(sql: SqlQueryable): Promise<number> {
  const { rows } = await sql.query<{ version: string | null }>(
    "SELECT obj_description(to_regprocedure($1), 'pg_proc') AS version",
    [APPEND_FUNCTION],
  );
  return Number(rows[0]?.version ?? 0);
}

/**
 * Installs `kordon_append` when the database lacks it (a new database, or a copy that kept the
 * tables and not the functions: logical replication, a partial restore) or holds an older
 * version; never replaces a newer one, so a replica of the previous release started during a
 * rolling upgrade leaves the new body in place. Under the migration lock, so processes
 * starting together install it once.
 */
export async function ensureAppendFunction(executor: SqlExecutor): Promise<void> {
  if ((await appendFunctionVersion(executor)) >= APPEND_FUNCTION_VERSION) return;
  await executor.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    if ((await appendFunctionVersion(tx)) >= APPEND_FUNCTION_VERSION) return;
    await tx.query(APPEND_FUNCTION_SQL);
    await tx.query(`COMMENT ON FUNCTION ${APPEND_FUNCTION} IS '${APPEND_FUNCTION_VERSION}'`);
  });
}

/**
 * Splits a migration into statements at each `;` outside quotes: string literals (`'a;b'`),
 * quoted identifiers and dollar-quoted bodies (`$$ ... $$`, `$fn$ ... $fn$`: PL/pgSQL
 * functions) stay whole. Comments are not parsed: migrations keep `;` out of them.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const char = sql[i]!;
    if (char === ';') {
      statements.push(sql.slice(start, i));
      start = ++i;
    } else if (char === "'" || char === '"') {
      const end = sql.indexOf(char, i + 1);
      i = end < 0 ? sql.length : end + 1; // a doubled quote ('it''s') is two literals in a row: same result
    } else if (char === '$') {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66))?.[0];
      if (tag === undefined) i++;
      else {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
      }
    } else i++;
  }
  statements.push(sql.slice(start));
  return statements.map((statement) => statement.trim()).filter((statement) => statement.length > 0);
}

/** Socket and name-resolution errors: the database could not be reached at all. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN', // DNS server did not answer (a resolver restarting, a cluster DNS hiccup)
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH', // no route: a network being reconfigured, a VPN down
  'ENETDOWN',
  'EADDRNOTAVAIL',
]);

/**
 * SQLSTATEs that say the database cannot do the work now, whatever the events: retried
 * (the appender spools, a projection offers the same batch again) rather than blamed on an
 * event, which would dead-letter or park it. Anything else (data exceptions, constraints,
 * a bad statement) is about what was sent.
 */
const OUTAGE_SQLSTATE = new RegExp(
  [
    '^08', // connection exception
    '^25006$', // read-only transaction: a failover to a standby, or a database put read-only
    '^25P0[34]$', // idle-in-transaction and transaction timeout ended the session
    '^28', // invalid authorization: a rotated password, a pg_hba.conf change, a role not (yet) there
    '^40', // serialization failure, deadlock: the transaction may simply be run again
    '^53', // insufficient resources: disk full, out of memory, too many connections
    '^55P03$', // lock not available (lock_timeout)
    '^57', // operator intervention: query cancelled (statement_timeout), shutdown, cannot connect now
    '^58', // system error outside PostgreSQL (I/O error)
  ].join('|'),
);

/**
 * A connection to the database could not be had (refused, unreachable, the login failed),
 * so nothing was sent: an outage whatever the cause says. Executors raise it for failures
 * to open a session; `code` and the message are the cause's (a SQLSTATE such as 55000 or
 * 28P01, or a socket error's code).
 */
export class SessionNotOpenedError extends Error {
  readonly code: string | undefined;
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'SessionNotOpenedError';
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/**
 * Whether a database error is an outage worth retrying rather than a fault of the
 * statement: a session that could not be opened (`SessionNotOpenedError`), connection
 * errors, the SQLSTATEs of `OUTAGE_SQLSTATE`, and any error of severity FATAL or PANIC. Those
 * end or refuse the session itself, so they say nothing about what was sent: 55000 (object
 * not in prerequisite state) is how PostgreSQL refuses a connection to a database with
 * ALLOW_CONNECTIONS false (a restore, a rename), while the same code raised by a statement
 * (an ERROR: currval before nextval) is about that statement and is not retried. The
 * severity is in the server's `lc_messages` language ("ВАЖНО" for FATAL in Russian), which is
 * why refusals at connect time are told by where they happened, not by it.
 */
export function isTransientSqlError(error: unknown): boolean {
  if (error instanceof SessionNotOpenedError) return true;
  const err = error as { code?: unknown; message?: unknown; severity?: unknown } | undefined;
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = typeof err?.message === 'string' ? err.message : '';
  return (
    CONNECTION_ERROR_CODES.has(code) ||
    OUTAGE_SQLSTATE.test(code) ||
    err?.severity === 'FATAL' ||
    err?.severity === 'PANIC' ||
    /Connection terminated|connection error|timeout exceeded when trying to connect|connect ECONNREFUSED|Query read timeout/i.test(
      message,
    )
  );
}
