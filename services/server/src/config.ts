import { resolve } from 'node:path';
// The token check alone: the control plane's package is loaded only where it runs (kordon.ts).
import { adminTokenWeakness } from '@kordon/admin/admin-token';
import { CidrSet } from '@kordon/gateway';
import { distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { integer } from './env-values.js';
import { type CorsPolicy, parseCorsOrigins } from './http/cors.js';
import { OTEL_SECRET_BEARING, parseTracingConfig, type TracingConfig } from './telemetry-config.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Every setting of the one-process server, read from the environment once at start.
 * Values that may carry credentials (the database URL) are never echoed in errors.
 */
const EnvSchema = z.object({
  KORDON_PORT: integer(0, 65_535).default(8080),
  KORDON_HOST: z.string().trim().min(1).default('127.0.0.1'),
  KORDON_DATA_DIR: z.string().trim().min(1).default('./.kordon'),
  KORDON_DATABASE_URL: z
    .string()
    .trim()
    .refine((value) => /^postgres(ql)?:\/\/.+/.test(value), 'expected a postgres:// or postgresql:// URL')
    .optional(),
  KORDON_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** JSON lines to this file (rotated) instead of stdout. */
  KORDON_LOG_FILE: z.string().trim().min(1).optional(),
  KORDON_LOG_ROTATE_SIZE: z
    .string()
    .trim()
    // A size of 0 would rotate at every line.
    .regex(/^[1-9]\d{0,5}[kmg]$/i, 'expected a size like 500k, 100m or 1g (more than 0)')
    .default('100m'),
  KORDON_LOG_ROTATE_INTERVAL: z
    .string()
    .trim()
    .regex(
      /^(?:daily|hourly|[1-9]\d{3,9})$/,
      'expected daily, hourly or a number of milliseconds (1000 or more)',
    )
    .default('daily'),
  KORDON_LOG_KEEP: integer(1, 10_000).default(14),
  /** How often expired requests are deleted from the request log (also once at start). */
  KORDON_RETENTION_INTERVAL_MS: integer(1_000, 7 * 86_400_000).default(3_600_000),
  KORDON_REQUEST_LOG: z.enum(['in-process', 'off']).default('in-process'),
  KORDON_ADMIN_API: z.enum(['on', 'off']).default('on'),
  KORDON_SPOOL_MAX_BYTES: integer(1024 * 1024, Number.MAX_SAFE_INTEGER).default(1024 * 1024 * 1024),
  KORDON_EVENT_BATCH_MAX: integer(1, 10_000).default(500),
  KORDON_EVENT_BATCH_DELAY_MS: integer(0, 1_000).default(5),
  KORDON_EVENT_BATCH_INTERVAL_MS: integer(0, 1_000).default(20),
  KORDON_EVENT_WRITE_TIMEOUT_MS: integer(0, 600_000).default(5_000),
  KORDON_EVENT_WRITE_BACKLOG: integer(1, 1_000_000).default(10_000),
  KORDON_SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(10_000),
  KORDON_CONFIG: z.string().trim().min(1).optional(),
  KORDON_DEV_MODE: z.enum(['true', 'false', '1', '0']).default('false'),
  KORDON_MASTER_KEY: z.string().optional(),
  KORDON_MASTER_KEYS_OLD: z.string().optional(),
  KORDON_PROXY_KEY_SECRET: z.string().optional(),
  KORDON_PROXY_KEY_SECRETS_OLD: z.string().optional(),
  KORDON_MAX_BODY_BYTES: integer(1024, 100 * 1024 * 1024).default(10 * 1024 * 1024),
  /** Request bytes held in memory at once (503 past it); unset: an eighth of V8's heap limit. */
  KORDON_MAX_BODY_BYTES_IN_FLIGHT: integer(1024, 64 * 1024 * 1024 * 1024).optional(),
  /** How long a request body may send no byte before it is answered 408. */
  KORDON_BODY_IDLE_TIMEOUT_MS: integer(1_000, 600_000).default(60_000),
  /** `true`: the tokenizers load at start (memory held, no stall on the first count). */
  KORDON_PRELOAD_TOKENIZERS: z.enum(['true', 'false', '1', '0']).default('false'),
  /** Largest finished provider answer read (a 502 past it); V8 cannot hold a longer string than 512 MiB. */
  KORDON_MAX_RESPONSE_BYTES: integer(1024 * 1024, 512 * 1024 * 1024).default(64 * 1024 * 1024),
  /** `false`: the data plane counts nothing on /metrics (the event pipeline and process metrics stay). */
  KORDON_METRICS: z.enum(['true', 'false', '1', '0']).default('true'),
  /** A bearer token /metrics asks for (Prometheus's `authorization` scrape setting); unset: open. */
  KORDON_METRICS_TOKEN: z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const weakness = adminTokenWeakness(value);
      if (weakness) ctx.addIssue({ code: 'custom', message: weakness });
    })
    .optional(),
  /**
   * Where browsers reach this server (scheme, host, port, optional path prefix): the admin
   * API's OIDC redirect URIs are built from it. Default: the address it listens on.
   */
  KORDON_PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL like https://kordon.example.com' })
    .refine((value) => {
      const url = new URL(value);
      return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
    }, 'expected no query, fragment or credentials')
    .optional(),
  /** Web pages allowed to call /v1 from a browser: `*`, or origins separated by commas; unset is none. */
  KORDON_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const policy = parseCorsOrigins(value);
      if (policy && 'invalid' in policy) {
        ctx.addIssue({
          code: 'custom',
          message: `expected \`*\` or origins like https://chat.acme.example, separated by commas; not an origin: ${policy.invalid}`,
        });
        return z.NEVER;
      }
      return policy;
    }),
  /** The bootstrap owner of the admin API; refused when short, a placeholder or low in entropy. */
  KORDON_ADMIN_TOKEN: z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const weakness = adminTokenWeakness(value);
      if (weakness) ctx.addIssue({ code: 'custom', message: weakness });
    })
    .optional(),
  /** Comma-separated CIDRs of the load balancers whose X-Forwarded-For is believed. */
  KORDON_TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((range) => range.trim())
        .filter(Boolean),
    )
    .refine((ranges) => {
      try {
        CidrSet.parse(ranges);
        return true;
      } catch {
        return false;
      }
    }, 'expected comma-separated IPv4 or IPv6 ranges such as 10.0.0.0/8, fd00::/8'),
});

const SECRET_BEARING = new Set([
  'KORDON_ADMIN_TOKEN',
  'KORDON_DATABASE_URL',
  'KORDON_MASTER_KEY',
  'KORDON_MASTER_KEYS_OLD',
  'KORDON_METRICS_TOKEN',
  'KORDON_PROXY_KEY_SECRET',
  'KORDON_PROXY_KEY_SECRETS_OLD',
]);

export interface KordonConfig {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** KORDON_LOG_FILE and its rotation; undefined: JSON lines on stdout. */
  logFile: LogFileConfig | undefined;
  /** KORDON_RETENTION_INTERVAL_MS: period of the request log's retention pass. */
  retentionIntervalMs: number;
  /**
   * KORDON_REQUEST_LOG: `in-process` builds the request log (and runs its retention) here;
   * `off` leaves it to another Kordon process on the same store, so a data-plane replica
   * spends no CPU on it.
   */
  requestLog: 'in-process' | 'off';
  /**
   * KORDON_ADMIN_API: `on` serves the admin API under /admin/ (and runs its read models) here;
   * `off` leaves it to another Kordon process on the same store: a data-plane replica then
   * neither loads nor runs the control plane.
   */
  adminApi: 'on' | 'off';
  spoolMaxBytes: number;
  eventBatchMax: number;
  eventBatchDelayMs: number;
  /** Under load, the least time between the starts of two batch writes (KORDON_EVENT_BATCH_INTERVAL_MS). */
  eventBatchIntervalMs: number;
  /**
   * A write to PostgreSQL with no answer after this long is an outage: its batch and the ones
   * after it go to the spool (KORDON_EVENT_WRITE_TIMEOUT_MS; 0: wait as long as it takes).
   */
  eventWriteTimeoutMs: number;
  /**
   * Events waiting behind a write that has not answered, past which the write is given up on
   * as an outage and they go to the spool (KORDON_EVENT_WRITE_BACKLOG): memory held while the
   * store stalls stays bounded however busy the replica is.
   */
  eventWriteBacklog: number;
  shutdownTimeoutMs: number;
  /** The declarative configuration file, applied at start. */
  configFile: string | undefined;
  /** Generated secrets kept in the data folder instead of required settings (never in production). */
  devMode: boolean;
  secrets: {
    masterKey: string | undefined;
    oldMasterKeys: string | undefined;
    proxyKeySecret: string | undefined;
    oldProxyKeySecrets: string | undefined;
  };
  maxBodyBytes: number;
  /** KORDON_MAX_BODY_BYTES_IN_FLIGHT; undefined: the gateway's default (a share of the heap). */
  maxBodyBytesInFlight: number | undefined;
  /** KORDON_BODY_IDLE_TIMEOUT_MS: how long a request body may send no byte (408 after). */
  bodyIdleTimeoutMs: number;
  /** KORDON_MAX_RESPONSE_BYTES: the largest finished answer taken from a provider. */
  maxResponseBytes: number;
  /** KORDON_PRELOAD_TOKENIZERS: load the tokenizers before the server is ready. */
  preloadTokenizers: boolean;
  /** Ranges of trusted proxies (X-Forwarded-For is read through them); empty: the TCP peer is the client. */
  trustedProxies: string[];
  /** KORDON_ADMIN_TOKEN: the admin API's bootstrap owner; undefined disables it. */
  adminToken: string | undefined;
  /** KORDON_PUBLIC_URL: how browsers reach this server (OIDC redirect URIs); undefined: the listening address. */
  publicUrl: string | undefined;
  /** KORDON_CORS_ORIGINS: which web pages may call /v1 from a browser; undefined: none. */
  cors: CorsPolicy | undefined;
  /** NODE_ENV, so dev mode can refuse production. */
  nodeEnv: string | undefined;
  /** Prometheus metrics of the data plane (KORDON_METRICS). */
  metrics: boolean;
  /** KORDON_METRICS_TOKEN: the bearer token /metrics asks for; undefined: /metrics is open. */
  metricsToken: string | undefined;
  /** OpenTelemetry tracing, from the standard OTEL_* variables (off without an OTLP endpoint). */
  tracing: TracingConfig;
}

export interface LogFileConfig {
  path: string;
  /** Rotate when the file reaches this size (`100m`, `500k`, `1g`). */
  rotateSize: string;
  /** Rotate daily, hourly, or every this many milliseconds. */
  rotateInterval: 'daily' | 'hourly' | number;
  /** Rotated log files kept besides the current one; older ones are deleted at rotation. */
  keep: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * A URL's user and password left out of a line (`https://***@host`): a variable that is not
 * secret-bearing (KORDON_PUBLIC_URL, KORDON_CORS_ORIGINS) is echoed when refused, and one refused
 * for holding credentials would otherwise print them.
 */
const withoutCredentials = (line: string) => line.replace(/\/\/[^\s"]*@/g, '//***@');

/** The settings this server reads (docs/operations.md): the schema's keys, so the list cannot drift. */
const SETTING_NAMES: readonly string[] = Object.keys(EnvSchema.shape);

/**
 * `KORDON_` variables that are not settings yet are read, by Kordon's own tests and benchmarks
 * (README.md, docs/benchmarks.md), which start the server with their environment: never warned.
 */
const READ_ELSEWHERE: ReadonlySet<string> = new Set([
  'KORDON_TEST_DATABASE_URL',
  'KORDON_BENCH_DATABASE_URL',
  // tests/e2e/support/record-loaded-modules.cjs, preloaded into a server by a test.
  'KORDON_TEST_LOADED_MODULES',
]);

export interface UnknownSetting {
  /** The variable as set. */
  name: string;
  /** The setting it is spelled closest to, when it is close to one. */
  meant: string | undefined;
}

/**
 * `KORDON_` variables (in any case) that are neither a setting nor read elsewhere: a setting
 * misspelled (`KORDON_DATABSE_URL`) would otherwise fall back to its default in silence. Each is
 * named, with the setting it is close to (`KORDON_LOG_LEVL`, `kordon_port`,
 * `KORDON_TRUSTED_PROXY`); never refused. `readByConfigFile`: the variables the configuration
 * file's `${NAME}` reads, which may be `KORDON_` ones.
 */
export function unknownSettings(
  env: NodeJS.ProcessEnv,
  readByConfigFile: ReadonlySet<string> = new Set(),
): UnknownSetting[] {
  const found: UnknownSetting[] = [];
  for (const name of Object.keys(env)) {
    if (!/^kordon_/i.test(name) || SETTING_NAMES.includes(name)) continue;
    if (READ_ELSEWHERE.has(name) || readByConfigFile.has(name)) continue;
    const upper = name.toUpperCase();
    let meant: string | undefined;
    let closest = Number.POSITIVE_INFINITY;
    for (const setting of SETTING_NAMES) {
      const edits = distance(upper, setting);
      // At most one edit in five letters of the setting's own part: KORDON_HOME is not offered
      // KORDON_HOST, nor a variable that shares one word with a setting offered that setting.
      if (edits < closest && edits <= Math.floor((setting.length - 'KORDON_'.length) / 5)) {
        closest = edits;
        meant = setting;
      }
    }
    found.push({ name, meant });
  }
  return found;
}

/** The warning for an unknown `KORDON_` variable: its name and the setting meant, never its value. */
export function unknownSettingMessage({ name, meant }: UnknownSetting): string {
  return meant === undefined
    ? `${name} is not a Kordon setting and is ignored`
    : `${name} is not a Kordon setting and is ignored: did you mean ${meant}?`;
}

/** Parses the environment; throws a ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv, cwd = process.cwd()): KordonConfig {
  // An empty variable means "not set": shells and compose files often export empty values.
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key.startsWith('KORDON_') && value !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  const tracing = parseTracingConfig(env);
  if (!parsed.success || tracing.problems.length > 0) {
    const shown = (name: string) => {
      const value = present[name] ?? (name.startsWith('OTEL_') ? env[name] : undefined);
      return value === undefined || SECRET_BEARING.has(name) || OTEL_SECRET_BEARING.has(name)
        ? ''
        : ` (got ${JSON.stringify(value)})`;
    };
    throw new ConfigError([
      ...(parsed.error?.issues ?? []).map((issue) => {
        const name = String(issue.path[0] ?? '(environment)');
        return withoutCredentials(`${name}: ${issue.message}${shown(name)}`);
      }),
      ...tracing.problems.map(({ name, message }) => withoutCredentials(`${name}: ${message}${shown(name)}`)),
    ]);
  }
  const e = parsed.data;
  if (
    e.KORDON_MAX_BODY_BYTES_IN_FLIGHT !== undefined &&
    e.KORDON_MAX_BODY_BYTES_IN_FLIGHT < e.KORDON_MAX_BODY_BYTES
  )
    throw new ConfigError([
      `KORDON_MAX_BODY_BYTES_IN_FLIGHT: expected at least KORDON_MAX_BODY_BYTES (${e.KORDON_MAX_BODY_BYTES}), or no body that size could be served (got ${e.KORDON_MAX_BODY_BYTES_IN_FLIGHT})`,
    ]);
  return {
    port: e.KORDON_PORT,
    host: e.KORDON_HOST,
    dataDir: resolve(cwd, e.KORDON_DATA_DIR),
    databaseUrl: e.KORDON_DATABASE_URL,
    logLevel: e.KORDON_LOG_LEVEL,
    logFile: e.KORDON_LOG_FILE
      ? {
          path: resolve(cwd, e.KORDON_LOG_FILE),
          rotateSize: e.KORDON_LOG_ROTATE_SIZE.toLowerCase(),
          rotateInterval:
            e.KORDON_LOG_ROTATE_INTERVAL === 'daily' || e.KORDON_LOG_ROTATE_INTERVAL === 'hourly'
              ? e.KORDON_LOG_ROTATE_INTERVAL
              : Number(e.KORDON_LOG_ROTATE_INTERVAL),
          keep: e.KORDON_LOG_KEEP,
        }
      : undefined,
    retentionIntervalMs: e.KORDON_RETENTION_INTERVAL_MS,
    requestLog: e.KORDON_REQUEST_LOG,
    adminApi: e.KORDON_ADMIN_API,
    spoolMaxBytes: e.KORDON_SPOOL_MAX_BYTES,
    eventBatchMax: e.KORDON_EVENT_BATCH_MAX,
    eventBatchDelayMs: e.KORDON_EVENT_BATCH_DELAY_MS,
    eventBatchIntervalMs: e.KORDON_EVENT_BATCH_INTERVAL_MS,
    eventWriteTimeoutMs: e.KORDON_EVENT_WRITE_TIMEOUT_MS,
    eventWriteBacklog: e.KORDON_EVENT_WRITE_BACKLOG,
    shutdownTimeoutMs: e.KORDON_SHUTDOWN_TIMEOUT_MS,
    configFile: e.KORDON_CONFIG ? resolve(cwd, e.KORDON_CONFIG) : undefined,
    devMode: e.KORDON_DEV_MODE === 'true' || e.KORDON_DEV_MODE === '1',
    secrets: {
      masterKey: e.KORDON_MASTER_KEY,
      oldMasterKeys: e.KORDON_MASTER_KEYS_OLD,
      proxyKeySecret: e.KORDON_PROXY_KEY_SECRET,
      oldProxyKeySecrets: e.KORDON_PROXY_KEY_SECRETS_OLD,
    },
    maxBodyBytes: e.KORDON_MAX_BODY_BYTES,
    maxBodyBytesInFlight: e.KORDON_MAX_BODY_BYTES_IN_FLIGHT,
    bodyIdleTimeoutMs: e.KORDON_BODY_IDLE_TIMEOUT_MS,
    maxResponseBytes: e.KORDON_MAX_RESPONSE_BYTES,
    preloadTokenizers: e.KORDON_PRELOAD_TOKENIZERS === 'true' || e.KORDON_PRELOAD_TOKENIZERS === '1',
    trustedProxies: e.KORDON_TRUSTED_PROXIES,
    adminToken: e.KORDON_ADMIN_TOKEN,
    publicUrl: e.KORDON_PUBLIC_URL?.replace(/\/+$/, ''),
    cors: e.KORDON_CORS_ORIGINS,
    nodeEnv: env.NODE_ENV,
    metrics: e.KORDON_METRICS === 'true' || e.KORDON_METRICS === '1',
    metricsToken: e.KORDON_METRICS_TOKEN,
    tracing: tracing.config,
  };
}
