import type { enforceRequestLogRetention, RetentionResult } from '@kordon/admin';
import type { SqlExecutor } from '@kordon/events';

export interface RetentionLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface RetentionJob {
  /** One pass now (after the one running, if any); what it did. */
  runNow(): Promise<RetentionResult>;
  /** No pass starts after this; resolves when the one running has ended. */
  stop(): Promise<void>;
}

/**
 * Deletes expired requests from the request log: once at start, then every `intervalMs`.
 * Passes never overlap; one that fails is logged and the next one tries again.
 */
export function startRetentionJob(options: {
  sql: SqlExecutor;
  /** The admin package's pass, handed in by whoever loaded that package (kordon.ts). */
  enforce: typeof enforceRequestLogRetention;
  intervalMs: number;
  logger: RetentionLogger;
  now?: () => Date;
}): RetentionJob {
  const now = options.now ?? (() => new Date());
  let running: Promise<RetentionResult> = Promise.resolve({
    ran: false,
    droppedPartitions: [],
    deletedRows: 0,
    deletedBodyKeys: 0,
  });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const pass = (): Promise<RetentionResult> => {
    running = running
      .catch(() => undefined)
      .then(async () => {
        const result = await options.enforce(options.sql, now());
        if (result.deletedRows > 0 || result.droppedPartitions.length > 0 || result.deletedBodyKeys > 0)
          options.logger.info(result, 'request log retention: expired requests deleted');
        return result;
      });
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      pass()
        .catch((error: unknown) =>
          options.logger.warn({ err: error }, 'request log retention failed; retrying at the next pass'),
        )
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };

  pass()
    .catch((error: unknown) =>
      options.logger.warn({ err: error }, 'request log retention failed; retrying at the next pass'),
    )
    .finally(schedule);

  return {
    runNow: pass,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
