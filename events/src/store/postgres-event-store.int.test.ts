import { eventStoreContract } from '../testing/event-store-contract.js';
import { createTestDatabase, POSTGRES_SKIP_REASON } from '../testing/postgres.js';
import { createPostgresEventStore } from './postgres-event-store.js';

eventStoreContract('postgres', async () => {
  const database = await createTestDatabase();
  if (!database) return POSTGRES_SKIP_REASON;
  const opened: Array<{ close(): Promise<void> }> = [];
  return {
    separateConnections: true,
    open: async (options) => {
      const store = await createPostgresEventStore({ connectionString: database.url }, options);
      opened.push(store);
      return store;
    },
    close: async () => {
      for (const store of opened) await store.close();
      await database.drop();
    },
  };
});
