import type { IncomingMessage } from 'node:http';
import type { EventStore, KordonEventData } from '@kordon/events';
import type { OidcSignIn } from '../auth/oidc.js';
import type { BootstrapToken } from '../auth/principal.js';
import type { LoginThrottle } from '../auth/throttle.js';
import type { AdminKeys } from '../auth/tokens.js';
import type { CommandBus } from '../commands/execute.js';
import type { RequestLog } from '../request-log/index.js';
import type { SqlSnapshots } from '../spend/spend-query.js';
import type { AdminViewState } from '../view/admin-view.js';
import type { ExportSlots } from './export-slots.js';

/** One provider key as the balancer sees it (the gateway's KeyHealthView). */
export interface KeyHealth {
  providerKeyId: string;
  provider: string;
  strategy: string;
  tier: number;
  weight: number;
  effectiveWeight: number;
  state: string;
  usable: boolean;
  usableAt: number | null;
  errorRate: number;
  latencyEwmaMs: number | null;
  consecutiveFailures: number;
  remaining: { requests: number | null; tokens: number | null };
  usage: { requestsPerMinute: number; tokensPerMinute: number };
}

export interface AdminLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** The crypto the admin API shares with the config file (ids, envelope encryption, proxy keys). */
export interface AdminCrypto {
  /**
   * Deterministic id of an org (by slug), user (by org slug and e-mail) or team (by org slug
   * and name): the config file's ids.
   */
  entityId(kind: 'org' | 'user' | 'team', naturalKey: string): string;
  encrypt(
    secret: string,
    context: { orgId: string; providerKeyId: string },
  ): KordonEventData<'ProviderKeyAdded'>['secret'];
  /** The plaintext of an envelope-encrypted secret (the OIDC client secret, for the token request). */
  decrypt(
    record: KordonEventData<'ProviderKeyAdded'>['secret'],
    context: { orgId: string; providerKeyId: string },
  ): string;
  last4(secret: string): string;
  issueProxyKey(): { secret: string; prefix: string; hash: KordonEventData<'ProxyKeyIssued'>['hash'] };
}

/** How a spend CSV export reads its one snapshot (routes/spend.ts). */
export interface SpendExportSettings {
  /** Rows read at a time through the snapshot's cursor. */
  pageRows: number;
  /** The longest the snapshot may be read for (it holds a connection meanwhile). */
  timeLimitMs: number;
  /** Where the export is spilled between the snapshot and the client (unlinked at once). */
  tempDir: string;
  /**
   * Exports of this process that may read their snapshot at once (each holds a connection
   * meanwhile); past it, or past `maxConcurrentPerOrg` for one org, an export is refused (503
   * with Retry-After).
   */
  maxConcurrent: number;
  /** Of `maxConcurrent`, the most one org's exports may hold at once. */
  maxConcurrentPerOrg: number;
}

/** What handlers may use. */
export interface AdminDeps {
  store: EventStore;
  /** Statements, and transactions on one connection (a report's snapshot). */
  sql: SqlSnapshots;
  spendExport: SpendExportSettings;
  /** The process's slots for exports that read a snapshot (`spendExport.maxConcurrent`). */
  exportSlots: ExportSlots;
  view(): AdminViewState;
  bus: CommandBus;
  keys: AdminKeys;
  crypto: AdminCrypto;
  throttle: LoginThrottle;
  /**
   * The argon2id hash of a new password (auth/passwords.ts): slow on purpose, so routes call it
   * only once every check that can refuse has passed.
   */
  hashPassword(password: string): Promise<string>;
  /** OpenID Connect sign-in flows (discovery cache, sealed flow cookies). */
  oidc: OidcSignIn;
  bootstrap: BootstrapToken | null;
  now(): Date;
  /**
   * The client's address: the TCP peer, or X-Forwarded-For read through the trusted proxies
   * (KORDON_TRUSTED_PROXIES) as the gateway reads it; '' when unknown. Throttles and events use it.
   */
  clientIp(req: IncomingMessage): string;
  /** The data plane's view of each provider key's health; absent when no gateway runs here. */
  keyHealth?: ((orgId: string) => readonly KeyHealth[]) | undefined;
  /** The request log's projection; undefined when none runs in this process (503). */
  requestLog?: RequestLog | undefined;
  /** Resolves once the audit log has every event this process appended. */
  auditCaughtUp(): Promise<void>;
  logger: AdminLogger;
}
