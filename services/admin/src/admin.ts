import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { type EventStore, type KordonEvent, migrate, type SqlExecutor } from '@kordon/events';
import {
  CidrSet,
  type ConfigCrypto,
  decryptSecret,
  encryptSecret,
  generateProxyKey,
  last4,
  planDependencies,
  resolveClientIp,
} from '@kordon/gateway';
import { InMemoryProjectionRunner, type ParkedEvent, SqlProjectionRunner } from '@kordon/projections';
import { auditProjection, decodeForAudit } from './audit/audit-projection.js';
import { OidcSignIn } from './auth/oidc.js';
import { hashPassword } from './auth/passwords.js';
import { BootstrapToken } from './auth/principal.js';
import { LoginThrottle, loginThrottleMigrations } from './auth/throttle.js';
import { AdminKeys } from './auth/tokens.js';
import { createAdminApp } from './http/app.js';
import type { AdminCrypto, AdminDeps, AdminLogger, SpendExportSettings } from './http/deps.js';
import { docsPage } from './http/docs-page.js';
import { ExportSlots } from './http/export-slots.js';
import { openApiDocument } from './http/openapi.js';
import { newPassport } from './http/passport.js';
import type { AnyRoute } from './http/route.js';
import { usePasswordStrategy } from './http/routes/auth.js';
import { adminRoutes } from './http/routes/index.js';
import { SPEND_CSV_PAGE_ROWS, SPEND_CSV_TIME_LIMIT_MS, spendCsvConcurrency } from './http/routes/spend.js';
import type { RequestLog } from './request-log/index.js';
import { decodeForSpend, spendProjection } from './spend/spend-projection.js';
import { type AdminViewState, adminViewProjection, decodeForView } from './view/admin-view.js';

export const ADMIN_API_VERSION = '1.0.0';

export interface AdminApiOptions {
  store: EventStore;
  /** Where the audit log's read model lives: the event store's own database. */
  sql: SqlExecutor;
  /** The gateway's runtime secrets: master keys (provider keys), proxy-key hasher, id secret. */
  secrets: ConfigCrypto;
  /** KORDON_ADMIN_TOKEN (already checked for strength), or undefined: no bootstrap owner. */
  adminToken: string | undefined;
  maxBodyBytes?: number;
  logger: AdminLogger;
  now?: () => Date;
  /** The sign-in throttle (auth/throttle.ts): shared by every replica through `sql`. */
  loginThrottle?: { maxFailures: number; windowMs: number };
  /** Hashes new passwords; argon2id (auth/passwords.ts) unless given (tests count the calls). */
  hashPassword?: (password: string) => Promise<string>;
  /**
   * Waits until the data plane of this process has seen `position` (its registry): what a
   * command changed (a key issued, revoked) applies to the next request once it answers.
   */
  dataPlaneCaughtUp?: (position: number) => Promise<void>;
  /** The gateway's provider-key health, for `GET /orgs/{org}/provider-keys/health`. */
  keyHealth?: AdminDeps['keyHealth'];
  /** The request log (started by the server); without it the request routes answer 503. */
  requestLog?: RequestLog;
  /**
   * Where browsers reach this server (KORDON_PUBLIC_URL), for the OIDC redirect URI
   * (`<publicUrl>/admin/v1/auth/oidc/<org>/callback`); without it single sign-on answers 503.
   */
  publicUrl?: string;
  /** CIDRs of load balancers whose X-Forwarded-For is believed (KORDON_TRUSTED_PROXIES). */
  trustedProxies?: readonly string[];
  /**
   * Spend CSV exports (routes/spend.ts): by default 2,000 rows a page, a 60 s snapshot, spilled
   * to the OS's temporary folder (the server gives `<KORDON_DATA_DIR>/exports`); at most 2
   * reading at once on PostgreSQL (1 on the embedded store), and half of them (at least 1) for
   * one org.
   */
  spendExport?: Partial<SpendExportSettings>;
}

export interface AdminApi {
  /** The express app as a node:http handler: give it every request under /admin/. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  routes: readonly AnyRoute[];
  openApi(): object;
  view(): AdminViewState;
  /** The spend projection this process runs (every admin process builds it on the shared database). */
  spend: SpendProjectionHandle;
  stop(): Promise<void>;
}

export interface SpendProjectionHandle {
  /** Resolves once every event up to `position` is counted in the spend tables. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  parked(): Promise<ParkedEvent[]>;
  /** Empties the spend tables and counts the whole log again. */
  rebuild(): Promise<void>;
}

/** The admin API's read side caught up, its audit log following the log, its app ready. */
export async function startAdminApi(options: AdminApiOptions): Promise<AdminApi> {
  const { logger } = options;
  const view = new InMemoryProjectionRunner<AdminViewState, KordonEvent>(adminViewProjection, decodeForView, {
    onParked: (parked) => logger.error({ parked }, 'admin view parked an event'),
    onError: (error) => logger.warn({ err: error }, 'admin view cannot read the log; retrying'),
    minIntervalMs: 20,
  });
  await view.start(options.store);
  const audit = new SqlProjectionRunner(auditProjection, decodeForAudit, options.store, options.sql, {
    onParked: (parked) => logger.error({ parked }, 'audit log parked an event'),
    onError: (error) => logger.warn({ err: error }, 'audit log cannot read the log; retrying'),
    minIntervalMs: 100,
  });
  // Spend reports: daily totals of the request events, kept for good (src/spend/).
  const spend = new SqlProjectionRunner(spendProjection, decodeForSpend, options.store, options.sql, {
    onParked: (parked) => logger.error({ parked }, 'spend projection parked an event'),
    onError: (error) => logger.warn({ err: error }, 'spend projection cannot read the log; retrying'),
    minIntervalMs: 100,
  });
  try {
    await audit.start();
    await spend.start();
    await migrate(options.sql, loginThrottleMigrations);
  } catch (error) {
    await spend.stop();
    await audit.stop();
    await view.stop();
    throw error;
  }

  let lastAppended = 0;
  const plan = planDependencies(options.secrets);
  const crypto: AdminCrypto = {
    entityId: (kind, naturalKey) => plan.entityId(kind, naturalKey),
    encrypt: (secret, context) => encryptSecret(secret, context, options.secrets.masterKeys),
    decrypt: (record, context) => decryptSecret(record, context, options.secrets.masterKeys).reveal(),
    last4: (secret) => last4(secret),
    issueProxyKey: () => {
      const made = generateProxyKey(options.secrets.proxyKeyHasher);
      return { secret: made.secret, prefix: made.prefix, hash: { ...made.hash } };
    },
  };
  const now = options.now ?? (() => new Date());
  const throttle = new LoginThrottle(options.sql, options.secrets.idSecret, {
    ...(options.loginThrottle
      ? { max: options.loginThrottle.maxFailures, windowMs: options.loginThrottle.windowMs }
      : {}),
  });
  const stopPruning = throttle.pruneEvery(
    60_000,
    () => now().getTime(),
    (error) => logger.warn({ err: error }, 'sign-in throttle cannot prune its old rows; retrying'),
  );
  const trustedProxies = CidrSet.parse(options.trustedProxies ?? []);
  const maxConcurrent = options.spendExport?.maxConcurrent ?? spendCsvConcurrency(options.sql.dialect);
  const spendExport: SpendExportSettings = {
    pageRows: options.spendExport?.pageRows ?? SPEND_CSV_PAGE_ROWS,
    timeLimitMs: options.spendExport?.timeLimitMs ?? SPEND_CSV_TIME_LIMIT_MS,
    tempDir: options.spendExport?.tempDir ?? tmpdir(),
    maxConcurrent,
    // Half the slots (at least one): one org's exports leave room for another's.
    maxConcurrentPerOrg:
      options.spendExport?.maxConcurrentPerOrg ?? Math.max(1, Math.floor(maxConcurrent / 2)),
  };
  const deps: AdminDeps = {
    store: options.store,
    sql: options.sql,
    spendExport,
    exportSlots: new ExportSlots(spendExport.maxConcurrent, spendExport.maxConcurrentPerOrg),
    view: () => view.state,
    bus: {
      store: options.store,
      caughtUp: async (position) => {
        lastAppended = Math.max(lastAppended, position);
        await view.waitFor(position, 10_000);
        await options.dataPlaneCaughtUp?.(position);
      },
    },
    keys: new AdminKeys(options.secrets.idSecret),
    crypto,
    throttle,
    hashPassword: options.hashPassword ?? hashPassword,
    oidc: new OidcSignIn(options.secrets.idSecret, { publicUrl: options.publicUrl, now }),
    bootstrap: options.adminToken ? new BootstrapToken(options.adminToken) : null,
    now,
    clientIp: (req) =>
      resolveClientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustedProxies)?.text ?? '',
    keyHealth: options.keyHealth,
    requestLog: options.requestLog,
    auditCaughtUp: async () => {
      if (lastAppended > 0) await audit.waitFor(lastAppended, 10_000);
    },
    logger,
  };
  const passport = newPassport();
  usePasswordStrategy(passport, deps);
  const routes = adminRoutes(passport);
  let document: object | undefined;
  const openApi = () => {
    document ??= openApiDocument(routes, ADMIN_API_VERSION);
    return document;
  };
  const app = createAdminApp({
    routes,
    deps,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    openApi,
    docsPage: docsPage(),
    passport,
  });
  if (!options.adminToken)
    logger.warn({}, 'KORDON_ADMIN_TOKEN is not set: no bootstrap owner, orgs cannot be created over the API');

  return {
    handle: (req, res) => {
      app(req as never, res as never);
    },
    routes,
    openApi,
    view: () => view.state,
    spend: {
      waitFor: (position, timeoutMs) => spend.waitFor(position, timeoutMs),
      parked: () => spend.parked(),
      rebuild: () => spend.rebuild(),
    },
    stop: async () => {
      await stopPruning();
      await spend.stop();
      await audit.stop();
      await view.stop();
    },
  };
}
