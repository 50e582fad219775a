import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AppenderLogger,
  createPgliteEventStore,
  createPostgresEventStore,
  GroupCommitAppender,
  Spool,
  type SqlEventStore,
} from '@kordon/events';
import type { KordonConfig } from './config.js';

export interface Storage {
  store: SqlEventStore;
  appender: GroupCommitAppender;
  /** 'pglite' (embedded, data folder) or 'postgres'. */
  adapter: 'pglite' | 'postgres';
  close(): Promise<void>;
}

/**
 * Opens the event store named by the config (PostgreSQL when KORDON_DATABASE_URL is
 * set, else PGlite under the data folder) and the group-commit appender with its spool,
 * which always lives on local disk: it is what keeps events while the store is away.
 */
export async function openStorage(config: KordonConfig, logger: AppenderLogger): Promise<Storage> {
  // Only this user's: it holds the embedded database (encrypted keys, the request log), the
  // spool of events and the issued proxy keys (as the dev-mode secrets' code makes it too).
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store = config.databaseUrl
    ? await createPostgresEventStore(
        {
          connectionString: config.databaseUrl,
          onListenError: (error) => logger.warn({ err: error }, 'event notifications lost; reconnecting'),
        },
        // A server that hangs (a stalled disk, a network path that drops packets) would keep
        // every event after the batch in memory: past this the batch goes to the spool instead.
        { appendTimeoutMs: config.eventWriteTimeoutMs },
      )
    : await createPgliteEventStore(join(config.dataDir, 'pglite'));
  const spoolDir = join(config.dataDir, 'spool');
  const appender = new GroupCommitAppender({
    store,
    spool: new Spool({ dir: spoolDir, maxBytes: config.spoolMaxBytes }),
    deadLetterDir: config.dataDir,
    maxBatch: config.eventBatchMax,
    maxDelayMs: config.eventBatchDelayMs,
    minIntervalMs: config.eventBatchIntervalMs,
    maxWaitingEvents: config.eventWriteBacklog,
    logger,
  });
  return {
    store,
    appender,
    adapter: config.databaseUrl ? 'postgres' : 'pglite',
    close: async () => {
      await appender.close();
      await store.close();
    },
  };
}
