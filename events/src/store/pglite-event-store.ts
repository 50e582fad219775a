import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { lockDataFolder } from './data-folder-lock.js';
import type { SqlExecutor, SqlQueryable } from './sql.js';
import { SqlEventStore, type SqlEventStoreOptions } from './sql-event-store.js';

/**
 * Embedded PostgreSQL (PGlite, WASM, in-process) on a data folder, or in memory. A folder
 * is locked for this process until `close` (`lockDataFolder`): a second process on it is
 * refused with `data_folder_in_use`.
 */
export async function createPgliteExecutor(dataDir?: string): Promise<SqlExecutor> {
  let unlock = () => {};
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    unlock = lockDataFolder(dataDir);
  }
  let db: PGlite;
  try {
    // Loaded only when used: a process on PostgreSQL (every data-plane replica) would hold
    // PGlite's code (~1 MB of heap) for nothing.
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create(dataDir ? { dataDir } : {});
  } catch (error) {
    unlock();
    throw error;
  }
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
    close: async () => {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

export async function createPgliteEventStore(
  dataDir?: string,
  options: SqlEventStoreOptions = {},
): Promise<SqlEventStore> {
  return SqlEventStore.open('pglite', await createPgliteExecutor(dataDir), options);
}
