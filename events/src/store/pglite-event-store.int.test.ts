import { eventStoreContract } from '../testing/event-store-contract.js';
import { createPgliteExecutor } from './pglite-event-store.js';
import { SqlEventStore } from './sql-event-store.js';

eventStoreContract('pglite', async () => {
  const executor = await createPgliteExecutor(); // in memory: same engine as the data-folder mode
  return {
    separateConnections: false,
    open: (options) => SqlEventStore.open('pglite', executor, { ...options, ownsExecutor: false }),
    close: () => executor.close(),
  };
});
