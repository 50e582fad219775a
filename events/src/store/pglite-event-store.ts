import { mkdirSync } from 'node:fs';
import type { SqlExecutor, SqlQueryable } from './sql.js';
import { SqlEventStore, type SqlEventStoreOptions } from './sql-event-store.js';

/** Embedded PostgreSQL (PGlite, WASM, in-process) on a data folder, or in memory. */
export async function createPgliteExecutor(dataDir?: string): Promise<SqlExecutor> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  // Loaded only when used: a process on PostgreSQL (every data-plane replica) would hold
  // PGlite's code (~1 MB of heap) for nothing.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  return {
    dialect: 'pglite',
    query: <Row>(text: string, params?: unknown[]) => db.query<Row>(text, params),
    exec: async (sql) => {
      await db.exec(sql);
    },
    transaction: <T>(fn: (tx: SqlQueryable) => Promise<T>) =>
      db.transaction((tx) =>
        fn({ query: <Row>(text: string, params?: unknown[]) => tx.query<Row>(text, params) }),
      ),
    listen: async (channel, onNotify) => {
      const unlisten = await db.listen(channel, onNotify);
      return async () => unlisten();
    },
    close: () => db.close(),
  };
}

export async function createPgliteEventStore(
  dataDir?: string,
  options: SqlEventStoreOptions = {},
): Promise<SqlEventStore> {
  return SqlEventStore.open('pglite', await createPgliteExecutor(dataDir), options);
}
