import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppenderStatus } from '@kordon/events';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { LogFileStatus } from '../logger.js';

/**
 * Prometheus metrics of the event pipeline, read from the appender's status at scrape
 * time (nothing is counted on the hot path), plus the process's own metrics.
 */
export function createMetrics(
  appenderStatus: () => AppenderStatus | undefined,
  token?: string | undefined,
  logFileStatus?: () => LogFileStatus | undefined,
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kordon_' });

  const gauge = (name: string, help: string, read: (s: AppenderStatus) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const status = appenderStatus();
        if (status) this.set(read(status));
      },
    });
  gauge(
    'kordon_event_spool_events',
    'Events waiting in the on-disk spool for the store',
    (s) => s.spooledEvents,
  );
  gauge('kordon_event_spool_bytes', 'Bytes the on-disk spool holds', (s) => s.spoolBytes);
  gauge('kordon_event_spool_max_bytes', 'Bound of the on-disk spool', (s) => s.spoolMaxBytes);
  gauge('kordon_event_spool_full', '1 when the store is unreachable and the spool is full', (s) =>
    Number(s.spoolFull),
  );
  gauge('kordon_event_store_reachable', '1 while the event store accepts writes', (s) =>
    Number(s.storeReachable),
  );
  gauge('kordon_events_buffered', 'Events handed over and not yet durable', (s) => s.buffered);

  // Totals live in the appender; counters advance by what changed since the last scrape.
  const seen = { store: 0, spool: 0, dead: 0 };
  const written = new Counter({
    name: 'kordon_events_written_total',
    help: 'Events made durable, by where they went first',
    labelNames: ['destination'] as const,
    registers: [registry],
    collect() {
      const status = appenderStatus();
      if (!status) return;
      this.inc({ destination: 'store' }, status.writtenToStore - seen.store);
      this.inc({ destination: 'spool' }, status.writtenToSpool - seen.spool);
      seen.store = status.writtenToStore;
      seen.spool = status.writtenToSpool;
    },
  });
  written.inc({ destination: 'store' }, 0);
  new Counter({
    name: 'kordon_events_dead_lettered_total',
    help: 'Events the store refused for good, kept in dead-letter.jsonl',
    registers: [registry],
    collect() {
      const status = appenderStatus();
      if (!status) return;
      this.inc(status.deadLettered - seen.dead);
      seen.dead = status.deadLettered;
    },
  });

  // KORDON_LOG_FILE's health: a failing file is said on stderr once; these keep it in view.
  if (logFileStatus?.()) {
    let seenErrors = 0;
    new Counter({
      name: 'kordon_log_write_errors_total',
      help: 'Failed writes and reopens of KORDON_LOG_FILE (each retry that fails again counts)',
      registers: [registry],
      collect() {
        const status = logFileStatus();
        if (!status) return;
        this.inc(status.writeErrors - seenErrors);
        seenErrors = status.writeErrors;
      },
    });
    new Gauge({
      name: 'kordon_log_file_writable',
      help: '1 while KORDON_LOG_FILE takes log lines; 0 while they are dropped',
      registers: [registry],
      collect() {
        const status = logFileStatus();
        if (status) this.set(Number(status.writable));
      },
    });
  }

  return {
    registry,
    handler: async (req: IncomingMessage, res: ServerResponse) => {
      // The figures name orgs, provider keys and spend: with a token set, only its holder reads them.
      if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
        res.writeHead(401, {
          'content-type': 'text/plain; charset=utf-8',
          'www-authenticate': 'Bearer realm="kordon-metrics"',
          'cache-control': 'no-store',
        });
        res.end('/metrics needs the bearer token of KORDON_METRICS_TOKEN\n');
        return;
      }
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
    },
  };
}

/** Whether an Authorization header carries the token, compared in constant time (by digest). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  if (!match) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}
