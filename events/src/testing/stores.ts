import { createPgliteExecutor } from '../store/pglite-event-store.js';
import { createPostgresExecutor } from '../store/postgres-event-store.js';
import type { SqlExecutor } from '../store/sql.js';
import { SqlEventStore } from '../store/sql-event-store.js';
import { createTestDatabase, POSTGRES_SKIP_REASON } from './postgres.js';

export interface TestStore {
  store: SqlEventStore;
  sql: SqlExecutor;
  /** Opens the same database again, as a restarted process would. */
  reopen(): Promise<{ store: SqlEventStore; sql: SqlExecutor }>;
  close(): Promise<void>;
}

/**
 * The two SQL adapters as test fixtures: an in-memory PGlite, and a fresh database on
 * the test PostgreSQL (or the reason it is not available).
 */
export const testStores: Record<'pglite' | 'postgres', () => Promise<TestStore | string>> = {
  pglite: async () => {
    const sql = await createPgliteExecutor();
    const store = await SqlEventStore.open('pglite', sql, { ownsExecutor: false });
    return {
      store,
      sql,
      reopen: async () => ({ store: await SqlEventStore.open('pglite', sql, { ownsExecutor: false }), sql }),
      close: async () => {
        await store.close();
        await sql.close();
      },
    };
  },
  postgres: async () => {
    const database = await createTestDatabase();
    if (!database) return POSTGRES_SKIP_REASON;
    const opened: SqlEventStore[] = [];
    const open = async () => {
      const sql = createPostgresExecutor({ connectionString: database.url });
      const store = await SqlEventStore.open('postgres', sql);
      opened.push(store);
      return { store, sql };
    };
    const first = await open();
    return {
      ...first,
      reopen: open,
      close: async () => {
        for (const store of opened) await store.close();
        await database.drop();
      },
    };
  },
};
