import { join } from 'node:path';
import { GroupCommitAppender, type GroupCommitAppenderOptions } from '../appender/group-commit-appender.js';
import { Spool } from '../appender/spool.js';
import type { EventStore } from '../store/port.js';

/**
 * An appender as the outage tests use it: its spool and dead-letter file under `dir`, small
 * batches, a short delay and quick retries, so a test sees a store come back within ~50 ms.
 */
export function testAppender(
  store: EventStore,
  dir: string,
  options: Partial<GroupCommitAppenderOptions> = {},
): GroupCommitAppender {
  return new GroupCommitAppender({
    store,
    spool: new Spool({ dir: join(dir, 'spool'), maxBytes: 10_000_000 }),
    deadLetterDir: dir,
    maxBatch: 100,
    maxDelayMs: 2,
    retryIntervalMs: 50,
    ...options,
  });
}
