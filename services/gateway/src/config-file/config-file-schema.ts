import {
  LoggingPolicySet,
  loggedBodies,
  loggingRule,
  modelPattern,
  PolicySet,
  ProviderConfigured,
  peakHoursSchema,
  periodSpec,
  priceTierSchema,
  providerKeyLimits,
  providerType,
} from '@kordon/events';
import { compileRules, RedactionConfigError } from '@kordon/redaction';
import { z } from 'zod';
import { isKnownTimeZone } from '../limits/index.js';
import { PriceBook } from '../pricing/index.js';
import { providerConfigProblems } from '../providers/provider-options.js';
import { parseProxyKey } from '../proxy-keys/index.js';
import { HINT_MIN_CHARACTERS, hasDisplayHint } from '../secrets/index.js';
import { ssoConfigSchema } from './sso-config-schema.js';

/**
 * The declarative configuration file (`KORDON_CONFIG=kordon.yaml`). Applied at start as
 * commands that become events; an unchanged file appends nothing. Secrets in it are
 * stored only encrypted (provider keys) or as keyed hashes (proxy keys).
 */
const slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'must be a slug: lowercase letters, digits and inner dashes')
  .max(63);
const name = z.string().trim().min(1).max(100);

/**
 * The stored limits' own fields: the file accepts exactly what the event holds, so a value the
 * log would refuse stops the start naming the file's field, not the event's.
 */
const policyLimit = PolicySet.schema.shape.limits.shape;

/** A USD amount as written in YAML, 25 or "25.50", held to the rule of the event field it fills. */
const usdValue = (stored: z.ZodType<string, string>) =>
  z
    .union([z.number().min(0), z.string()])
    .transform((value) => (typeof value === 'number' ? decimalText(value) : value.trim()))
    .pipe(stored);

const providerKeySchema = z.strictObject({
  name,
  // Refused here, naming the field: past this point it would stop the start unnamed.
  secret: z
    .string()
    .min(1, 'must not be empty')
    .refine(
      hasDisplayHint,
      `is too short: a provider key has at least ${HINT_MIN_CHARACTERS} visible characters`,
    ),
  weight: z.int().min(0).max(1000).default(1),
  /** Models this key may serve; all of the provider's when absent. */
  models: z.array(modelPattern).min(1).max(500).optional(),
  /** Priority tier (0 first): a higher tier serves only while every lower one is unusable. */
  tier: z.int().min(0).max(9).default(0),
  /** The key's own limits at the provider; the balancer keeps under them. */
  limits: z
    .strictObject({
      rpm: z.int().min(1).optional(),
      tpm: z.int().min(1).optional(),
      /** Spend per UTC day on this key; past it the key rests until midnight UTC. */
      dailyUsd: usdValue(providerKeyLimits.shape.dailyUsd.unwrap()).optional(),
    })
    .optional(),
});

/** The stored options' own fields, so the file accepts exactly what the log can hold. */
const storedOption = ProviderConfigured.schema.shape.options.shape;

const providerFields = z.strictObject({
  name: slug,
  type: providerType,
  baseUrl: z.url({ protocol: /^https?$/ }),
  models: z.array(modelPattern).min(1).max(500),
  keys: z.array(providerKeySchema).default([]),
  deployments: z.record(z.string(), z.string()).optional(),
  apiVersion: z.string().optional(),
  folderId: z.string().optional(),
  oauthUrl: z.url({ protocol: /^https$/ }).optional(),
  scope: z.string().optional(),
  /** openai-compatible: whose server it is (`generic` when absent): how stream usage is asked for, which operations exist. */
  vendor: storedOption.vendor,
  /** azure-openai, yandexgpt: `bearer` sends the key as a bearer token (an Entra ID or IAM token). */
  authScheme: storedOption.authScheme,
  /** openai: the `OpenAI-Organization` and `OpenAI-Project` headers. */
  organization: storedOption.organization,
  project: storedOption.project,
  /** Any type: extra CA certificates (PEM) to trust for the provider, e.g. the NUC root for GigaChat. */
  caCertificate: storedOption.caCertificate,
  /** How requests spread over the keys: `adaptive` (default), `weighted` or `round-robin`. */
  balancer: z.enum(['round-robin', 'weighted', 'adaptive']).optional(),
  /** Keep a conversation on one key: `session` (default), `prompt-prefix` or `off`. */
  stickiness: z.enum(['off', 'session', 'prompt-prefix']).optional(),
  /** anthropic: `max_tokens` of an OpenAI-dialect request that sets none (default 4,096). */
  defaultMaxTokens: z.int().min(1).max(1_000_000).optional(),
  /**
   * Limits of each call to this provider, in ms (the gateway's defaults where absent): TCP/TLS
   * connect, first byte of the answer, idle time between two chunks, and the whole call.
   */
  timeouts: z
    .strictObject({
      connectMs: z.int().min(1).max(3_600_000).optional(),
      firstByteMs: z.int().min(1).max(3_600_000).optional(),
      idleMs: z.int().min(1).max(3_600_000).optional(),
      totalMs: z.int().min(1).max(3_600_000).optional(),
    })
    .optional(),
});

const providerSchema = providerFields.superRefine(({ type, baseUrl, ...options }, ctx) => {
  // What the adapter would refuse at the first call (or silently ignore) stops the start.
  for (const message of providerConfigProblems({ type, baseUrl, options }))
    ctx.addIssue({ code: 'custom', message });
});

const count = z.int().min(1);
const ipCount = policyLimit.maxDistinctIps.unwrap().shape.count;

/** IP ranges as the event holds them: CIDR only, so one address is written 10.0.0.1/32 (as in the admin API). */
const ipRanges = (stored: typeof policyLimit.ipAllow) =>
  z
    .array(
      z
        .string()
        .refine(
          (range) => stored.unwrap().element.safeParse(range).success,
          'must be an IP range in CIDR form like 10.0.0.0/8 or 2001:db8::/32; one address is 10.0.0.1/32',
        ),
    )
    .pipe(stored.unwrap());

/**
 * Limits of one scope (org, team, user, proxy key); every scope a request belongs to
 * applies, the tightest wins. Periods: `1d`, `1w`, `1mo` (calendar, the org's time zone) or
 * fixed `90s`, `15m`, `6h`; `lifetime` never renews.
 */
const limitsSchema = z.strictObject({
  rpm: count.optional(),
  tpm: count.optional(),
  concurrency: count.optional(),
  budget: z
    .strictObject({ usd: usdValue(policyLimit.budget.unwrap().shape.usd), period: periodSpec })
    .optional(),
  /** Exactly one of total, input or output: which tokens count. */
  tokens: z
    .strictObject({
      total: count.optional(),
      input: count.optional(),
      output: count.optional(),
      period: periodSpec,
    })
    .refine((t) => [t.total, t.input, t.output].filter((v) => v !== undefined).length === 1, {
      message: 'give exactly one of total, input or output',
    })
    .optional(),
  /** Distinct client IPs per period (the budget's period, else a day), or `{ count, period }`. */
  maxDistinctIps: z.union([ipCount, z.strictObject({ count: ipCount, period: periodSpec })]).optional(),
  ipAllow: ipRanges(policyLimit.ipAllow).optional(),
  ipDeny: ipRanges(policyLimit.ipDeny).optional(),
  models: z.array(modelPattern).max(500).optional(),
  /** Unused budget carried into the next period, capped at `rolloverMaxPercent` of one period. */
  rollover: z.boolean().optional(),
  rolloverMaxPercent: z.int().min(0).max(1000).optional(),
});

const proxyKeySchema = z.strictObject({
  name,
  /** Imports a known key; when absent Kordon issues one and writes it to the data folder once. */
  secret: z
    .string()
    .min(1)
    // Refused here, before any event: past this point it would only be reported, the rest
    // of the file applied and the key missing.
    .refine(
      (secret) => parseProxyKey(secret).ok,
      'is not a Kordon proxy key (kdn_ and 38 letters and digits, its last 6 a checksum); ' +
        'omit secret to have one issued',
    )
    .optional(),
  expiresAt: z.iso.datetime().optional(),
  limits: limitsSchema.optional(),
});

const userSchema = z.strictObject({
  email: z.email().max(254),
  role: z.enum(['owner', 'admin', 'finance', 'developer', 'auditor']).default('developer'),
  /** The team (by name, declared under the org's `teams`) whose limits also apply to this user's keys. */
  team: name.optional(),
  limits: limitsSchema.optional(),
  proxyKeys: z.array(proxyKeySchema).default([]),
});

const teamSchema = z.strictObject({
  name,
  limits: limitsSchema.optional(),
});

/** An IANA zone name the runtime knows (periods like `1d` and `1mo` are counted in it). */
const timeZone = z.string().refine(isKnownTimeZone, 'must be an IANA time zone such as Europe/Moscow or UTC');

/** A price as written in YAML: 0.15 or "0.15" (per million tokens unless unitTokens says 1000). */
const priceValue = z
  .union([z.number().min(0), z.string()])
  .transform((value) => (typeof value === 'number' ? decimalText(value) : value.trim()))
  .pipe(z.string().regex(/^\d{1,9}(\.\d{1,12})?$/, 'must be a non-negative price like 0.15'));

function decimalText(value: number): string {
  // Up to 12 decimals without float noise (0.1 + 0.2 style) or exponent notation.
  return value.toFixed(12).replace(/\.?0+$/, '');
}

/** A long-context tier and peak hours, as the PricesSet event has them, rates as written in YAML. */
const priceTier = priceTierSchema(priceValue);
const peakHours = peakHoursSchema(priceValue);

const modelPrice = z.strictObject({
  input: priceValue.optional(),
  cachedInput: priceValue.optional(),
  cacheWrite: priceValue.optional(),
  cacheWrite1h: priceValue.optional(),
  output: priceValue.optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  unitTokens: z.union([z.literal(1_000), z.literal(1_000_000)]).optional(),
  /** Long-context tiers replacing the table's (`[]`: none), ascending by `aboveInputTokens`. */
  tiers: z.array(priceTier).max(8).optional(),
  /** Peak hours replacing the table's (a multiplier of 1: every hour alike). */
  peakHours: peakHours.optional(),
});

/** A custom redaction rule of the org: RE2 syntax, checked by the redaction engine at load. */
const redactionRuleSchema = z
  .strictObject({
    name: loggingRule.shape.name,
    pattern: loggingRule.shape.pattern,
    action: loggingRule.shape.action,
    caseInsensitive: z.boolean().default(false),
    group: loggingRule.shape.group.default(0),
    keepLast: loggingRule.shape.keepLast.default(0),
  })
  .superRefine(({ name: id, ...rule }, ctx) => {
    try {
      compileRules([{ id, ...rule }]);
    } catch (error) {
      if (!(error instanceof RedactionConfigError)) throw error;
      const path = /built-in/.test(error.message) ? ['name'] : ['pattern'];
      ctx.addIssue({ code: 'custom', path, message: error.message });
    }
  });

/** What the org's request log keeps: text (`bodies`), for how long, and the org's own rules. */
const loggingSchema = z.strictObject({
  bodies: loggedBodies.default('none'),
  retentionDays: LoggingPolicySet.schema.shape.retentionDays.default(null),
  redact: z
    .array(redactionRuleSchema)
    .max(100)
    .default([])
    .refine((rules) => new Set(rules.map((rule) => rule.name)).size === rules.length, {
      message: 'rule names must be unique',
    }),
});

const orgSchema = z.strictObject({
  slug,
  name,
  /** The org's own prices per model, over the shipped table; absent: what the admin API set, else none. */
  prices: z
    .record(z.string().min(1).max(200), modelPrice)
    .optional()
    .superRefine((prices, ctx) => {
      if (prices === undefined) return;
      // A price the book cannot use would leave its model unpriced, silently: refused here.
      const models = Object.keys(prices);
      const entries = Object.values(prices).map((price, i) => ({
        ...price,
        model: models[i]!,
        effectiveFrom: '2000-01-01',
      }));
      for (const { index, message } of PriceBook.listProblems(entries))
        ctx.addIssue({ code: 'custom', path: index === null ? [] : [models[index]!], message });
    }),
  /** The zone calendar periods (`1d`, `1w`, `1mo`) of every limit of the org are counted in. */
  timeZone: timeZone.default('UTC'),
  /** Day of the month monthly periods start (1-28). */
  monthStartDay: z.int().min(1).max(28).optional(),
  limits: limitsSchema.optional(),
  /** The org's request log; absent: what the admin API set, else no text and no expiry. */
  logging: loggingSchema.optional(),
  teams: z.array(teamSchema).default([]),
  providers: z.array(providerSchema).default([]),
  users: z.array(userSchema).default([]),
  /** Single sign-on of the org's people to the admin API. */
  sso: ssoConfigSchema.optional(),
});

export const ConfigFileSchema = z
  .strictObject({
    orgs: z.array(orgSchema).default([]),
  })
  .superRefine((file, ctx) => {
    for (const { path, message } of declarationProblems(file))
      ctx.addIssue({ code: 'custom', path, message });
  });

type Path = (string | number)[];

/**
 * What the file declares twice. Each declaration would be planned against the same starting
 * state, so two of one name undo each other on alternate starts (a provider there one start and
 * gone the next), and one proxy-key secret under two names would become two working keys.
 */
function declarationProblems(file: { orgs: z.infer<typeof orgSchema>[] }): { path: Path; message: string }[] {
  const problems: { path: Path; message: string }[] = [];
  /** Refuses a second item whose `field` (normalised by `key`) an earlier one has. */
  const unique = <T, F extends keyof T & string>(
    at: Path,
    items: readonly T[],
    field: F,
    what: string,
    key: (value: T[F]) => string = String,
  ) => {
    const first = new Map<string, number>();
    items.forEach((item, index) => {
      const value = key(item[field]);
      const earlier = first.get(value);
      if (earlier === undefined) first.set(value, index);
      else
        problems.push({
          path: [...at, index, field],
          message: `${what} ${value} is declared twice (first at ${[...at, earlier].join('.')}); each must be unique`,
        });
    });
  };
  // One secret is one key (a key is found by its hash): across names, users and orgs.
  const secretHolders = new Map<string, string>();

  unique(['orgs'], file.orgs, 'slug', 'org');
  file.orgs.forEach((org, o) => {
    const at: Path = ['orgs', o];
    unique([...at, 'teams'], org.teams, 'name', 'team');
    unique([...at, 'providers'], org.providers, 'name', 'provider');
    org.providers.forEach((provider, p) => {
      unique([...at, 'providers', p, 'keys'], provider.keys, 'name', `provider ${provider.name}'s key`);
    });
    // Users are matched by e-mail without regard to case.
    unique([...at, 'users'], org.users, 'email', 'user', (email) => email.toLowerCase());
    const teams = new Set(org.teams.map((team) => team.name));
    org.users.forEach((user, u) => {
      // Refused, not reported: applying the rest would leave the user outside the team meant.
      if (user.team !== undefined && !teams.has(user.team))
        problems.push({
          path: [...at, 'users', u, 'team'],
          message: `team ${user.team} is not declared under orgs.${o}.teams`,
        });
      const keysAt = [...at, 'users', u, 'proxyKeys'];
      unique(keysAt, user.proxyKeys, 'name', `${user.email}'s proxy key`);
      user.proxyKeys.forEach((proxyKey, k) => {
        if (proxyKey.secret === undefined) return;
        const holder = secretHolders.get(proxyKey.secret);
        if (holder === undefined) secretHolders.set(proxyKey.secret, [...keysAt, k].join('.'));
        else
          problems.push({
            path: [...keysAt, k, 'secret'],
            message: `the same secret as ${holder}: one secret is one key, so give each key its own (or none to have one issued)`,
          });
      });
    });
  });
  return problems;
}

export type ConfigFile = z.infer<typeof ConfigFileSchema>;
export type ConfigOrg = ConfigFile['orgs'][number];
export type ConfigProvider = ConfigOrg['providers'][number];
export type ConfigUser = ConfigOrg['users'][number];
export type ConfigLimits = z.infer<typeof limitsSchema>;
export type ConfigLogging = z.infer<typeof loggingSchema>;
