import pino, { type Logger } from 'pino';
import type { KordonConfig } from './config.js';

/** JSON lines on stdout; credentials in known places are censored before writing. */
export function createLogger(config: Pick<KordonConfig, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'kordon' },
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
  });
}
