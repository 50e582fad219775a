import type { EventStore, SqlExecutor } from '@kordon/events';
import { type BodyKeyStore, BodyOpener } from '@kordon/gateway';
import { type ParkedEvent, SqlProjectionRunner } from '@kordon/projections';
import type { AdminLogger } from '../http/deps.js';
import {
  createRequestLogProjection,
  decodeForRequestLog,
  type RequestLogInput,
  type SealedTextReader,
} from './request-log-projection.js';

export {
  createRequestLogProjection,
  decodeForRequestLog,
  REQUEST_LOG_POLICIES_TABLE,
  REQUEST_LOG_TABLE,
  requestLogProjection,
} from './request-log-projection.js';
export * from './request-log-query.js';
export * from './retention.js';

/** The request log's projection, following the event log into its tables. */
export interface RequestLog {
  /** Resolves once every event up to `position` is in the request log. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  parked(): Promise<ParkedEvent[]>;
  /** Empties the request log and replays the event log into it (under today's policies). */
  rebuild(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Creates the request log's tables (first start), rebuilds it when its version changed, and
 * follows the event log. Lives in the event store's database: PGlite or PostgreSQL.
 */
export async function startRequestLog(options: {
  store: EventStore;
  sql: SqlExecutor;
  logger: AdminLogger;
  /** The keys of sealed texts (the gateway's store): without them, the log keeps no text. */
  bodyKeys?: Pick<BodyKeyStore, 'load'> | undefined;
}): Promise<RequestLog> {
  const { logger } = options;
  const reader: SealedTextReader | undefined = options.bodyKeys
    ? { opener: new BodyOpener({ store: options.bodyKeys }), sql: options.sql }
    : undefined;
  const runner = new SqlProjectionRunner<RequestLogInput>(
    createRequestLogProjection(reader),
    decodeForRequestLog,
    options.store,
    options.sql,
    {
      onParked: (parked) => logger.error({ parked }, 'request log parked an event'),
      onError: (error) => logger.warn({ err: error }, 'request log cannot read the log; retrying'),
      minIntervalMs: 100,
    },
  );
  await runner.start();
  return {
    waitFor: (position, timeoutMs) => runner.waitFor(position, timeoutMs),
    parked: () => runner.parked(),
    rebuild: () => runner.rebuild(),
    stop: () => runner.stop(),
  };
}
