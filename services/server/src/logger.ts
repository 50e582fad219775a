import { hkdfSync, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createRedactor, type Redactor } from '@kordon/redaction';
import pino, { type Logger, stdSerializers } from 'pino';
import type { KordonConfig } from './config.js';
import {
  LOG_FILE_ERROR,
  LOG_FILE_RECOVERED,
  type LogFileError,
  type LogFileRecovered,
  type LogFileTargetOptions,
} from './log-file-messages.js';

/** The log file's writer, loaded by pino's worker: the built file, or the source under tsx. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const LOG_FILE_TARGET = fileURLToPath(
  new URL(FROM_SOURCE ? './log-file-target.ts' : './log-file-target.js', import.meta.url),
);

/**
 * Run from source (tests, `--conditions=development`), the worker needs tsx to load the target:
 * pino starts it without the parent's --import flags, and `--import tsx` does not hook a worker
 * thread on Node 20, so tsx's API registers it there. Never used by the built server.
 */
const TSX_IN_WORKER = FROM_SOURCE
  ? [
      '--import',
      `data:text/javascript,import{register}from${JSON.stringify(import.meta.resolve('tsx/esm/api'))};register();`,
    ]
  : [];

/** How often a log file that cannot be written is tried again (and an open one checked for removal). */
export const LOG_FILE_RETRY_MS = 5_000;

/**
 * The redactor every log line goes through. Its `hash` action (e-mails) is keyed by a key
 * derived from KORDON_PROXY_KEY_SECRET, so a value hashes the same across restarts and
 * replicas; without that secret (dev mode) by a random key of this process.
 */
export function logRedactor(proxyKeySecret: string | undefined): Redactor {
  const hashKey = proxyKeySecret
    ? Buffer.from(
        hkdfSync('sha256', Buffer.from(proxyKeySecret, 'utf8'), Buffer.alloc(0), 'kordon logs v1', 32),
      )
    : randomBytes(32);
  return createRedactor({ hashKey, hashScope: 'logs' });
}

/** The merged object of a log call, redacted; errors keep pino's shape (type, message, stack, cause). */
function redactObject(redactor: Redactor, object: Record<string, unknown>): Record<string, unknown> {
  let source = object;
  for (const key of Object.keys(object)) {
    if (object[key] instanceof Error) {
      if (source === object) source = { ...object };
      source[key] = stdSerializers.err(object[key] as Error);
    }
  }
  return redactor.redactValue(source) as Record<string, unknown>;
}

export type LoggerConfig = Pick<KordonConfig, 'logLevel'> &
  Partial<Pick<KordonConfig, 'logFile'>> & {
    secrets?: Pick<KordonConfig['secrets'], 'proxyKeySecret'>;
    /** LOG_FILE_RETRY_MS unless a test needs it shorter. */
    logFileRetryMs?: number;
    /** Where the log file's failures are said (stderr). */
    stderr?: Pick<NodeJS.WritableStream, 'write'>;
  };

/** The log file's health, for /metrics. */
export interface LogFileStatus {
  /** Failed writes and reopens of the log file since the start. */
  writeErrors: number;
  /** Lines that could not be written to it since the start. */
  droppedLines: number;
  /** Whether it takes lines now. */
  writable: boolean;
}

const statuses = new WeakMap<Logger, LogFileStatus>();

/** The log file's health; undefined when the log goes to stdout. */
export function logFileStatus(logger: Logger): LogFileStatus | undefined {
  return statuses.get(logger);
}

/**
 * JSON lines on stdout, or to KORDON_LOG_FILE rotated by size and time with a bounded number of
 * files kept (pino-roll, written from a worker thread). Every line passes through the redaction
 * engine before it is written: the logged object (errors included), the message and the child
 * bindings; credentials in known places are also censored by path.
 */
export function createLogger(config: LoggerConfig): Logger {
  const redactor = logRedactor(config.secrets?.proxyKeySecret);
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { service: 'kordon' },
    formatters: {
      log: (object) => redactObject(redactor, object),
      bindings: (bindings) => redactObject(redactor, bindings),
    },
    serializers: {
      // Errors are serialised (then redacted) by `formatters.log`; pino must not redo it.
      err: (value: unknown) => (value instanceof Error ? stdSerializers.err(value) : value),
      msg: (message: unknown) => (typeof message === 'string' ? redactor.redactString(message) : message),
    },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'headers.authorization',
        'headers["x-api-key"]',
        'config.databaseUrl',
        'err.config',
      ],
      censor: '[redacted]',
    },
  };
  const file = config.logFile;
  const logger = file
    ? pino(options, rollingFile(file, config.logFileRetryMs ?? LOG_FILE_RETRY_MS))
    : pino(options);
  if (file) watchLogFile(logger, config.stderr ?? process.stderr, config.logFileRetryMs ?? LOG_FILE_RETRY_MS);
  // pino formats only the root's bindings; children's go through the redactor here (a child's
  // children inherit this `child`).
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactObject(redactor, bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/** pino-roll in a worker thread (log-file-target.ts): size and time rotation, `keep` files at most. */
function rollingFile(file: NonNullable<KordonConfig['logFile']>, retryMs: number) {
  return pino.transport({
    target: LOG_FILE_TARGET,
    ...(FROM_SOURCE ? { worker: { execArgv: TSX_IN_WORKER } } : {}),
    options: {
      file: file.path,
      size: file.rotateSize,
      frequency: file.rotateInterval,
      // The current file and `keep` rotated ones; files of earlier runs count too.
      limit: { count: file.keep + 1, removeOtherLogFiles: true },
      mkdir: true,
      // Synchronous writes in the worker (never in the request path): a roll opens the new
      // file before old ones are counted, so exactly `keep` rotated files stay.
      sync: true,
      retryMs,
    } satisfies LogFileTargetOptions,
  });
}

const loggerStream = (logger: Logger) =>
  (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as EventEmitter & {
    worker?: unknown;
  };

/**
 * A log file that fails after the start (disk full, its folder removed or made read-only) is
 * said on stderr, where a process manager keeps it: once when it fails, once when it takes
 * lines again; lines in between are dropped and counted. The log file is never a reason to
 * stop serving. Should pino's worker itself end (a fault of the writer), the log goes on to
 * stderr rather than throwing at every log call.
 */
function watchLogFile(logger: Logger, stderr: Pick<NodeJS.WritableStream, 'write'>, retryMs: number): void {
  const status: LogFileStatus = { writeErrors: 0, droppedLines: 0, writable: true };
  statuses.set(logger, status);
  const stream = loggerStream(logger);
  stream.on(LOG_FILE_ERROR, (error: LogFileError) => {
    status.writeErrors++;
    if (!status.writable) return;
    status.writable = false;
    stderr.write(
      `kordon: cannot write the log file ${error.path}: ${error.message}; log lines are dropped ` +
        `until it can be written again (tried again every ${retryMs / 1000} s); ` +
        'requests are still served\n',
    );
  });
  stream.on(LOG_FILE_RECOVERED, (recovered: LogFileRecovered) => {
    status.writable = true;
    status.droppedLines += recovered.dropped;
    stderr.write(
      `kordon: the log file ${recovered.path} is written again after ` +
        `${Math.round(recovered.failedForMs / 1000)} s; ${recovered.dropped} log lines were dropped\n`,
    );
  });
  // Before 'ready' an error is the start's (logReady refuses it, on stderr).
  stream.once('ready', () =>
    stream.on('error', (error: Error) => {
      if (loggerStream(logger) !== stream) return;
      status.writable = false;
      status.writeErrors++;
      stderr.write(
        `kordon: the log file's writer stopped (${error.message}); log lines go to stderr from now on\n`,
      );
      // Children look their stream up on the root: they follow.
      (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = stderr;
    }),
  );
}

/**
 * Resolves once the log file's worker has opened the file (at once on stdout). A file it cannot
 * open would otherwise fail in the worker after the start began: an error no one listens to,
 * logged only to that broken file, and the process would exit 1 without a word.
 */
export function logReady(logger: Logger, path: string | undefined): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | (NodeJS.EventEmitter & { worker?: unknown; ready?: boolean })
    | undefined;
  if (path === undefined || !stream || stream.worker === undefined) return Promise.resolve();
  if (stream.ready) return Promise.resolve(); // opened already: no 'ready' is coming
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      stream.off('ready', onReady);
      reject(new Error(`KORDON_LOG_FILE: cannot write ${path}: ${error.message}`));
    };
    const onReady = () => {
      stream.off('error', onError);
      resolve();
    };
    stream.once('ready', onReady);
    stream.once('error', onError);
  });
}

/** Flushes and closes the log file's worker (stdout needs nothing). */
export async function closeLogger(logger: Logger): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | (NodeJS.WritableStream & { worker?: unknown; closed?: boolean })
    | undefined;
  if (!stream || stream.worker === undefined || stream.closed) return;
  // The worker does not keep the process alive (pino unrefs it): this timer does, meanwhile.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await new Promise<void>((resolve) => {
      const done = setTimeout(resolve, 10_000); // never hang a shutdown on the log
      stream.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      logger.flush(() => stream.end());
    });
  } finally {
    clearInterval(keepAlive);
  }
}
