/**
 * What the log file's writer (log-file-target.ts, in pino's worker thread) and the main thread
 * (logger.ts) share: its options and the names and shapes of the events it posts back. Kept
 * apart so that the main thread does not load the writer's module, and with it pino-roll and
 * date-fns (~300 modules, 2-3 MB of heap), which only the worker uses.
 */

/** What the main thread is told, as the name of an event of pino's stream. */
export const LOG_FILE_ERROR = 'kordonLogFileError';
export const LOG_FILE_RECOVERED = 'kordonLogFileRecovered';

/** A write or reopen that failed: the first of a failure, and every retry that failed again. */
export interface LogFileError {
  /** The file being written. */
  path: string;
  /** The system's error code (`ENOSPC`, `ENOTDIR`, `ENOENT`...), when it has one. */
  code: string | undefined;
  message: string;
}

export interface LogFileRecovered {
  path: string;
  /** Lines that could not be written while it failed. */
  dropped: number;
  /** How long it failed. */
  failedForMs: number;
}

export interface LogFileTargetOptions {
  file: string;
  size: string;
  frequency: 'daily' | 'hourly' | number;
  limit: { count: number; removeOtherLogFiles: boolean };
  mkdir: boolean;
  sync: boolean;
  /** How often a failing file is reopened, and a healthy one checked for removal. */
  retryMs: number;
}
