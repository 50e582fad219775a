import { hkdfSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createRedactor, type Redactor } from '@kordon/redaction';
import pino, { type Logger, stdSerializers } from 'pino';
import type { KordonConfig } from './config.js';

const PINO_ROLL = createRequire(import.meta.url).resolve('pino-roll');

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
  Partial<Pick<KordonConfig, 'logFile'>> & { secrets?: Pick<KordonConfig['secrets'], 'proxyKeySecret'> };

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
  const logger = file ? pino(options, rollingFile(file)) : pino(options);
  // pino formats only the root's bindings; children's go through the redactor here (a child's
  // children inherit this `child`).
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactObject(redactor, bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/** pino-roll in a worker thread: size and time rotation, `keep` files at most. */
function rollingFile(file: NonNullable<KordonConfig['logFile']>) {
  return pino.transport({
    target: PINO_ROLL,
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
    },
  });
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
