import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppenderStatus } from '@kordon/events';
import { sendJson } from './respond.js';

export type Lifecycle = 'starting' | 'ready' | 'stopping';

export interface HealthSources {
  lifecycle(): Lifecycle;
  /** Resolves when the store answers within `timeoutMs`; rejects otherwise. */
  pingStore(timeoutMs: number): Promise<void>;
  storeAdapter: string;
  appender(): AppenderStatus | undefined;
}

const PING_TIMEOUT_MS = 1_000;

/** `GET /healthz`: is the process up and serving (200), starting or stopping (503)? */
export function healthz(sources: HealthSources) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    const state = sources.lifecycle();
    sendJson(res, state === 'ready' ? 200 : 503, { status: state === 'ready' ? 'ok' : state });
  };
}

/**
 * `GET /readyz`: can it take traffic without losing anything? 200 while the store answers
 * or the spool can still take events; 503 when the store is unreachable and the spool is
 * full. The body says which, with the spool's depth.
 */
export function readyz(sources: HealthSources) {
  return async (_req: IncomingMessage, res: ServerResponse) => {
    const state = sources.lifecycle();
    const storeReachable = await pingWithTimeout(sources.pingStore);
    const appender = sources.appender();
    const spoolFull = appender?.spoolFull ?? false;
    // With the spool full the gateway takes requests only once the appender has written to the
    // store again (acceptsEvents); a ping that answers before its replay has retried (it backs
    // off up to 30 s) does not make a replica that refuses every request ready.
    const ready = state === 'ready' && (!spoolFull || (storeReachable && (appender?.storeReachable ?? true)));
    sendJson(res, ready ? 200 : 503, {
      status: ready ? (storeReachable ? 'ready' : 'degraded') : 'unavailable',
      lifecycle: state,
      store: { adapter: sources.storeAdapter, reachable: storeReachable },
      spool: appender
        ? {
            events: appender.spooledEvents,
            bytes: appender.spoolBytes,
            maxBytes: appender.spoolMaxBytes,
            full: appender.spoolFull,
            bufferedInMemory: appender.buffered,
            deadLettered: appender.deadLettered,
          }
        : null,
    });
  };
}

async function pingWithTimeout(ping: (timeoutMs: number) => Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ping(PING_TIMEOUT_MS),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('ping timed out')), PING_TIMEOUT_MS);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
