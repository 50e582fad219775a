import pg from 'pg';
import { type QueryOptions, SessionNotOpenedError, type SqlExecutor, type SqlQueryable } from './sql.js';
import { SqlEventStore, type SqlEventStoreOptions } from './sql-event-store.js';

export interface PostgresOptions {
  connectionString: string;
  /** Pool size; appends serialize on one lock, so a small pool is enough. */
  maxConnections?: number;
  connectTimeoutMs?: number;
  /** Called when the LISTEN connection fails and is being re-established. */
  onListenError?: (error: unknown) => void;
}

/** PostgreSQL through a `pg` pool, with a dedicated connection for LISTEN. */
export function createPostgresExecutor(options: PostgresOptions): SqlExecutor {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle client that loses its server emits here; without a listener the process dies.
  pool.on('error', () => {});
  const listeners: Array<() => Promise<void>> = [];

  return {
    dialect: 'postgres',
    query: <Row>(text: string, params?: unknown[], options?: QueryOptions) =>
      withClient(pool, async (client) => {
        // pg's query_timeout: past it the call rejects and the connection is dropped (a
        // server that hangs keeps no pooled connection busy); the server may still finish it.
        const result = await client.query<pg.QueryResultRow>(
          options?.timeoutMs
            ? ({ text, values: params, query_timeout: options.timeoutMs } as pg.QueryConfig)
            : { text, values: params },
        );
        return { rows: result.rows as Row[] };
      }),
    exec: (sql) =>
      withClient(pool, async (client) => {
        await client.query(sql);
      }),
    transaction: <T>(fn: (tx: SqlQueryable) => Promise<T>) =>
      withClient(
        pool,
        async (client, discard) => {
          try {
            await client.query('BEGIN');
            const result = await fn({
              query: async <Row>(text: string, params?: unknown[]) => {
                const r = await client.query(text, params);
                return { rows: r.rows as Row[] };
              },
            });
            await client.query('COMMIT');
            return result;
          } catch (error) {
            // Rolled back, the connection is clean and goes back to the pool; if not, it goes.
            await client.query('ROLLBACK').catch(discard);
            throw error;
          }
        },
        { keepAfterError: true },
      ),
    listen: async (channel, onNotify) => {
      const { stop, firstAttempt } = listenWithReconnect(options, channel, onNotify);
      listeners.push(stop);
      // Listening (or retrying in the background) before the store is handed out: its readers
      // hear of other processes' appends from their first read on.
      await firstAttempt;
      return stop;
    },
    close: async () => {
      await Promise.all(listeners.map((stop) => stop()));
      await pool.end();
    },
  };
}

/**
 * Runs `fn` on a pooled connection. A connection that could not be had fails as
 * `SessionNotOpenedError` (sql.ts): whatever PostgreSQL said, nothing was sent, so it is an
 * outage, which a caller can tell without reading the error's severity (translated under a
 * non-English `lc_messages`). A connection whose work failed is discarded rather than reused,
 * as `pool.query` does (a transaction keeps one it rolled back), and a checked-out one whose
 * server goes away reports it to the work that is failing instead of to no listener (which
 * would end the process).
 */
async function withClient<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient, discard: (error: Error) => void) => Promise<T>,
  options: { keepAfterError?: boolean } = {},
): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new SessionNotOpenedError(error);
  }
  let broken: Error | undefined;
  const discard = (error: Error) => {
    broken ??= error;
  };
  client.on('error', discard);
  try {
    return await fn(client, discard);
  } catch (error) {
    if (!options.keepAfterError) discard(error instanceof Error ? error : new Error(String(error)));
    throw error;
  } finally {
    client.off('error', discard);
    client.release(broken);
  }
}

/**
 * Keeps one LISTEN connection alive across server restarts; pollers cover the gaps.
 * `firstAttempt` settles (never rejects) when the first connection listens or has failed.
 */
function listenWithReconnect(
  options: PostgresOptions,
  channel: string,
  onNotify: (payload: string) => void,
): { stop: () => Promise<void>; firstAttempt: Promise<void> } {
  let stopped = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoffMs = 100;

  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      keepAlive: true,
    });
    client = c;
    const retry = (error: unknown) => {
      if (stopped || client !== c) return;
      client = undefined;
      options.onListenError?.(error);
      c.end().catch(() => {});
      retryTimer = setTimeout(connect, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 5_000);
    };
    c.on('error', retry);
    c.on('end', () => retry(new Error('LISTEN connection ended')));
    c.on('notification', (message) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      backoffMs = 100;
      // Events may have been appended while we were away: wake readers once.
      onNotify('');
    } catch (error) {
      retry(error);
    }
  };
  const firstAttempt = connect();

  const stop = async () => {
    stopped = true;
    if (retryTimer) clearTimeout(retryTimer);
    const c = client;
    client = undefined;
    await c?.end().catch(() => {});
  };
  return { stop, firstAttempt };
}

export async function createPostgresEventStore(
  options: PostgresOptions,
  storeOptions: SqlEventStoreOptions = {},
): Promise<SqlEventStore> {
  return SqlEventStore.open('postgres', createPostgresExecutor(options), storeOptions);
}
