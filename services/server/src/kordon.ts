import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import type { AdminApi, RequestLog } from '@kordon/admin';
import {
  checkStoredMasterKeys,
  type Gateway,
  loadRuntimeSecrets,
  rewrapStoredSecrets,
  startGateway,
} from '@kordon/gateway';
import type { Logger } from 'pino';
import type { KordonConfig } from './config.js';
import { adminApiOff } from './http/admin-off.js';
import { healthz, type Lifecycle, readyz } from './http/health.js';
import { createMetrics } from './http/metrics.js';
import { createHttpServer, type Handler } from './http/server.js';
import { logFileStatus } from './logger.js';
import { type RetentionJob, startRetentionJob } from './retention.js';
import { stopInOrder } from './stop-steps.js';
import { openStorage, type Storage } from './storage.js';
import type { Tracing } from './telemetry.js';
import { tracingOff } from './telemetry-config.js';

export interface RunningKordon {
  /** Base URL the server listens on. */
  url: string;
  port: number;
  storage: Storage;
  /** The request log's projection, when this process builds it (KORDON_REQUEST_LOG=in-process). */
  requestLog: RequestLog | undefined;
  /** Resolves once the data plane serves from the log up to `position` (an event appended directly). */
  dataPlaneCaughtUp(position: number): Promise<void>;
  /** Drains requests, flushes events, closes the store. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * During stop(): the drain's deadline is now (an operator's second signal). Requests still
   * open end as at the deadline; their events, and every other, are still flushed.
   */
  endDrainNow(): void;
}

/**
 * Kordon on one port: the probes, metrics and the data plane always; the admin API and the
 * request log's projection unless KORDON_ADMIN_API / KORDON_REQUEST_LOG leave them to another
 * process on the same store (a data-plane replica runs with both off).
 */
export async function startKordon(
  config: KordonConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningKordon> {
  let lifecycle: Lifecycle = 'starting';
  let storage: Storage | undefined;
  const sources = {
    lifecycle: () => lifecycle,
    pingStore: async (timeoutMs: number) => {
      if (!storage) throw new Error('storage is not open yet');
      await storage.store.ping({ timeoutMs });
    },
    storeAdapter: config.databaseUrl ? 'postgres' : 'pglite',
    appender: () => storage?.appender.status(),
  };
  const metrics = createMetrics(sources.appender, config.metricsToken, () => logFileStatus(logger));
  // Filled in once storage and the gateway are up; until then only the probes answer.
  const routes: Record<string, Handler> = {
    'GET /healthz': healthz(sources),
    'GET /readyz': readyz(sources),
    'GET /metrics': metrics.handler,
  };
  // The admin API (express) gets every path under /admin/; the data plane stays on exact routes.
  const mounts: Record<string, Handler> = {};
  const http = createHttpServer(
    routes,
    (error) => logger.error({ err: error }, 'request handler failed'),
    mounts,
    config.cors,
    { bodyIdleTimeoutMs: config.bodyIdleTimeoutMs },
  );

  // Listen first, so probes see "starting" rather than a refused connection.
  await new Promise<void>((resolve, reject) => {
    // Named by the settings that chose the address: `listen EADDRINUSE` alone does not say
    // which variable to change. (No `cause`: pino would print its message a second time.)
    const refused = (error: Error) =>
      reject(
        new Error(
          `cannot listen on ${config.host} port ${config.port} (KORDON_HOST, KORDON_PORT): ${error.message}`,
        ),
      );
    http.server.once('error', refused);
    http.server.listen(config.port, config.host, () => {
      http.server.off('error', refused);
      resolve();
    });
  });
  const { port } = http.server.address() as AddressInfo;
  let gateway: Gateway | undefined;
  /** Resolves once the data plane serves from the log up to `position`. */
  const dataPlaneCaughtUp = (position: number) => gateway?.registryCaughtUp(position) ?? Promise.resolve();
  let admin: AdminApi | undefined;
  let tracing: Tracing | undefined;
  let requestLog: RequestLog | undefined;
  let retention: RetentionJob | undefined;
  try {
    // The OpenTelemetry SDK and its exporters are loaded only when tracing is on.
    const telemetryLogger = logger.child({ component: 'telemetry' });
    tracing = config.tracing.enabled
      ? await (await import('./telemetry.js')).startTracing(config.tracing, telemetryLogger)
      : tracingOff(config.tracing, telemetryLogger);
    const secrets = loadRuntimeSecrets({
      ...config.secrets,
      devMode: config.devMode,
      dataDir: config.dataDir,
      nodeEnv: config.nodeEnv,
    });
    storage = await openStorage(config, logger.child({ component: 'events' }));
    // Before anything reads or writes a secret: a ring that cannot open the stored records (a
    // wrong KORDON_MASTER_KEY, an old key dropped too early) refuses the start, writing nothing.
    await checkStoredMasterKeys({
      store: storage.store,
      sql: storage.store.sql,
      masterKeys: secrets.masterKeys,
    });
    // After a master key rotation: provider keys and OIDC client secrets under the current key,
    // so the old key can leave KORDON_MASTER_KEYS_OLD (the gateway re-wraps the body keys).
    const { rewrapped } = await rewrapStoredSecrets({ store: storage.store, masterKeys: secrets.masterKeys });
    if (rewrapped > 0) logger.info({ rewrapped }, 'stored secrets re-wrapped under the current master key');
    gateway = await startGateway({
      store: storage.store,
      appender: storage.appender,
      maxBodyBytes: config.maxBodyBytes,
      maxBodyBytesInFlight: config.maxBodyBytesInFlight,
      bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
      maxResponseBytes: config.maxResponseBytes,
      preloadTokenizers: config.preloadTokenizers,
      trustedProxies: config.trustedProxies,
      sql: storage.store.sql,
      secrets,
      configFile: config.configFile,
      env,
      dataDir: config.dataDir,
      logger: logger.child({ component: 'gateway' }),
      spanPipeline: tracing?.pipeline,
      metricsRegistry: config.metrics ? metrics.registry : undefined,
    });
    // The control plane's package (express, passport, the OIDC client, the admin's read models)
    // is loaded only by a process that runs part of it: a data-plane replica (KORDON_ADMIN_API=off,
    // KORDON_REQUEST_LOG=off) never holds its code in memory (docs/operations.md).
    const controlPlane =
      config.adminApi === 'on' || config.requestLog === 'in-process'
        ? await import('@kordon/admin')
        : undefined;
    if (controlPlane && config.requestLog === 'in-process') {
      requestLog = await controlPlane.startRequestLog({
        store: storage.store,
        sql: storage.store.sql,
        bodyKeys: gateway.bodyKeys,
        logger: logger.child({ component: 'request-log' }),
      });
      retention = startRetentionJob({
        sql: storage.store.sql,
        enforce: controlPlane.enforceRequestLogRetention,
        intervalMs: config.retentionIntervalMs,
        logger: logger.child({ component: 'request-log' }),
      });
    }
    if (controlPlane && config.adminApi === 'on')
      admin = await controlPlane.startAdminApi({
        store: storage.store,
        sql: storage.store.sql,
        secrets,
        adminToken: config.adminToken,
        logger: logger.child({ component: 'admin' }),
        keyHealth: (orgId) => gateway?.keyHealth(orgId) ?? [],
        dataPlaneCaughtUp,
        requestLog,
        trustedProxies: config.trustedProxies,
        // Spend exports spill there between their snapshot and the client (unlinked at once).
        spendExport: { tempDir: join(config.dataDir, 'exports') },
        publicUrl:
          config.publicUrl ??
          `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
      });
  } catch (error) {
    // A failed start still flushes what it appended (the config file's events) and lets go.
    await stopInOrder(
      [
        { name: 'retention', run: () => retention?.stop() },
        { name: 'request log', run: () => requestLog?.stop() },
        { name: 'gateway', run: () => gateway?.stop() },
        { name: 'event store', run: () => storage?.close() },
        { name: 'tracing', run: () => tracing?.shutdown() },
        { name: 'http', run: () => http.drain(0) },
      ],
      (stopError, step) => logger.error({ err: stopError, step }, 'a part of the process failed to stop'),
    ).catch(() => {});
    throw error;
  }
  Object.assign(routes, gateway.routes);
  mounts['/admin/'] = admin ? admin.handle : adminApiOff();
  const running = gateway;
  const runningLog = { requestLog, retention };
  lifecycle = 'ready';
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info(
    {
      url,
      store: storage.adapter,
      dataDir: config.dataDir,
      // What this process serves beside the data plane (off: another process on the store does).
      adminApi: config.adminApi,
      requestLog: config.requestLog,
      // The V8 heap limit (docs/operations.md: --max-old-space-size), for whoever reads RSS.
      heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 1048576),
    },
    'kordon is ready',
  );

  let stopping: Promise<void> | undefined;
  const openStorageHandle = storage;
  return {
    url,
    port,
    storage: openStorageHandle,
    requestLog,
    dataPlaneCaughtUp,
    stop: () => {
      stopping ??= (async () => {
        lifecycle = 'stopping';
        logger.info({ inFlight: http.inFlight() }, 'draining');
        await http.drain(config.shutdownTimeoutMs, () => {
          const requests = gateway?.interruptRequests() ?? 0;
          if (requests > 0)
            logger.warn(
              { requests },
              'drain deadline passed: requests still open end with a 503 or, streaming, an error event',
            );
        });
        // Each part stops whatever the others did: the store is flushed (or spooled) last, always.
        await stopInOrder(
          [
            { name: 'admin API', run: () => admin?.stop() },
            { name: 'retention', run: () => runningLog.retention?.stop() },
            { name: 'request log', run: () => runningLog.requestLog?.stop() },
            { name: 'gateway', run: () => running.stop() },
            // The spans of the drained requests are exported before the process goes.
            { name: 'tracing', run: () => tracing?.shutdown() },
            { name: 'event store', run: () => openStorageHandle.close() },
          ],
          (error, step) => logger.error({ err: error, step }, 'a part of the process failed to stop'),
        );
        logger.info(openStorageHandle.appender.status(), 'stopped: events flushed');
      })();
      return stopping;
    },
    endDrainNow: () => {
      if (stopping === undefined) return;
      logger.warn({ inFlight: http.inFlight() }, 'drain cut short: requests still open are ended now');
      http.endDrainNow();
    },
  };
}
