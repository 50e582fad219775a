import {
  ApiTokenIssued,
  LoggingPolicySet,
  loggingRule,
  OrgCreated,
  PolicySet,
  ProviderConfigured,
  ProviderKeyAdded,
  ProviderKeyLimitsChanged,
  ProviderKeyModelsChanged,
  ProxyKeyIssued,
  ProxyKeyRevoked,
  RequestCompleted,
  RoleGranted,
  UserJoined,
} from '@kordon/events';
import { z } from 'zod';
import { newPassword } from '../auth/passwords.js';

/*
 * Request and response shapes. Request fields reuse the event schemas' field types, so the
 * API accepts exactly what the log can hold (the config file goes through the same events).
 * Requests are strict: an unknown field is refused (no mass assignment). Responses are
 * parsed through these schemas before they are sent, which drops any field not listed here.
 */

export const slug = OrgCreated.schema.shape.slug;
export const label = OrgCreated.schema.shape.name;
export const email = UserJoined.schema.shape.email;
export const role = RoleGranted.schema.shape.role.meta({ id: 'Role' });
export const note = ProxyKeyRevoked.schema.shape.note.unwrap();
export const limits = PolicySet.schema.shape.limits.meta({
  id: 'Limits',
  description:
    'Limits of a scope; absent fields are no limit at this scope (the tightest of every scope applies).',
});
const isoTime = z.iso.datetime();
/** A query's instant: year 0 passes the ISO check, but PostgreSQL's timestamptz has no year 0 (a 500). */
const queryTime = isoTime.refine((text) => !text.startsWith('0000'), 'must be in year 1 or later');
const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);

// --- path and query ---

/** `{org}`: the org's slug or id. */
export const orgParams = z.strictObject({ org: z.string().min(1).max(128) });
export const entityParams = (name: string) =>
  z.strictObject({ org: z.string().min(1).max(128), [name]: z.string().min(1).max(128) });

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size, 1-200 (default 50).'),
  cursor: z.string().max(400).optional().describe('Opaque cursor from the previous page (`nextCursor`).'),
});

// --- shared ---

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export const page = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).meta({ id: `${name}Page` });

// --- orgs ---

export const CreateOrgBody = z.strictObject({ slug, name: label });

export const Org = z
  .object({ id: z.string(), slug: z.string(), name: z.string(), createdAt: isoTime })
  .meta({ id: 'Org' });

// --- users ---

export const CreateUserBody = z.strictObject({
  email,
  role,
  displayName: label.optional(),
  password: newPassword.optional().describe('Set to let the user sign in with a password.'),
});

export const ChangeRoleBody = z.strictObject({ role });
export const DisableUserBody = z.strictObject({ note: note.optional() });
export const SetPasswordBody = z.strictObject({
  password: newPassword.describe(
    '12 to 256 characters, at least 5 different, not a well-known password. Tell the user out of band.',
  ),
});

export const User = z
  .object({
    id: z.string(),
    email: z.string(),
    displayName: z.string(),
    role: role.nullable(),
    roles: z.array(role),
    teamId: z.string().nullable().describe('The team the user is in.'),
    disabled: z.boolean(),
    hasPassword: z.boolean(),
    createdAt: isoTime,
  })
  .meta({ id: 'User' });

// --- proxy keys ---

export const IssueProxyKeyBody = z.strictObject({
  userEmail: email.describe('Owner of the key; developers may only name themselves.'),
  name: ProxyKeyIssued.schema.shape.name,
  limits: limits.optional(),
  expiresAt: isoTime.optional(),
});

export const ProxyKeyActionBody = z.strictObject({ note: note.optional() });
export const RevokeProxyKeyBody = z.strictObject({
  note: note.optional(),
  reason: z.enum(['manual', 'compromised']).optional(),
});

export const ProxyKey = z
  .object({
    id: z.string(),
    userId: z.string(),
    teamId: z.string().nullable().describe("The team whose limits also apply (the owner's when issued)."),
    name: z.string(),
    prefix: z.string(),
    status: z
      .enum(['active', 'suspended', 'revoked', 'expired'])
      .describe(
        'As the gateway sees it now: `expired` once `expiresAt` has passed (computed when answering; a revoked key stays `revoked`).',
      ),
    expiresAt: isoTime.nullable(),
    limits: limits.nullable(),
    createdAt: isoTime,
  })
  .meta({ id: 'ProxyKey' });

export const IssuedProxyKey = z
  .object({
    id: z.string(),
    secret: z.string().describe('The key itself: shown this once, never again.'),
    prefix: z.string(),
    expiresAt: isoTime.nullable(),
    limits: limits.nullable(),
  })
  .meta({ id: 'IssuedProxyKey' });

// --- providers and provider keys ---

const providerOptions = ProviderConfigured.schema.shape.options.describe(
  'Settings some provider types take, each refused on a type that does not read it: deployments (azure-openai), apiVersion (azure-openai, anthropic, gemini), authScheme (azure-openai, yandexgpt: bearer for an Entra ID or IAM token), folderId (yandexgpt), oauthUrl and scope (gigachat), organization and project (openai), vendor (openai-compatible: mistral, deepseek, groq, openrouter, together, vllm, ollama, generic), defaultMaxTokens (anthropic); caCertificate (PEM roots to trust), balancer, stickiness and timeouts (any).',
);

export const ConfigureProviderBody = z.strictObject({
  type: ProviderConfigured.schema.shape.type,
  baseUrl: ProviderConfigured.schema.shape.baseUrl,
  models: ProviderConfigured.schema.shape.models,
  options: providerOptions
    .optional()
    .describe('Replaces the options when given ({} clears them); left out, the current options stay.'),
});

export const Provider = z
  .object({
    name: z.string(),
    type: z.string(),
    baseUrl: z.string(),
    models: z.array(z.string()),
    options: providerOptions.describe(
      'The settings; lists leave `caCertificate` out (it can be large): read the provider itself for it.',
    ),
    hasCaCertificate: z.boolean().describe('Whether a CA certificate is set (in lists too).'),
  })
  .meta({ id: 'Provider' });

const providerSecret = z
  .string()
  .min(8)
  .max(12_288)
  .describe('The provider API key; stored encrypted, never returned (only its last 4 characters).');

const keyTier = ProviderKeyLimitsChanged.schema.shape.tier.describe(
  'Priority tier: 0 first; a higher tier gets traffic only while every lower one is unusable.',
);
const keyLimits = ProviderKeyLimitsChanged.schema.shape.limits.describe(
  "The key's own limits at the provider (rpm, tpm, dailyUsd), kept under by the balancer; null: none.",
);

export const AddProviderKeyBody = z.strictObject({
  provider: ProviderKeyAdded.schema.shape.provider,
  name: ProviderKeyAdded.schema.shape.name,
  secret: providerSecret,
  weight: ProviderKeyAdded.schema.shape.weight.optional(),
  models: z.array(z.string().min(1).max(200)).min(1).max(500).optional(),
  tier: keyTier.optional(),
  limits: keyLimits.optional(),
});
export const RotateProviderKeyBody = z.strictObject({ secret: providerSecret });
export const UpdateProviderKeyBody = z.strictObject({
  weight: ProviderKeyAdded.schema.shape.weight.optional(),
  tier: keyTier.optional(),
  limits: keyLimits.optional(),
  models: ProviderKeyModelsChanged.schema.shape.models
    .optional()
    .describe('Models the key may serve (exact or `prefix*`), replaced; null: every model of its provider.'),
  disabled: z.boolean().optional(),
  note: note.optional(),
});

export const ProviderKey = z
  .object({
    id: z.string(),
    provider: z.string(),
    name: z.string(),
    last4: z.string(),
    weight: z.int(),
    tier: z.int(),
    limits: keyLimits,
    models: z.array(z.string()).nullable(),
    disabled: z.boolean(),
    createdAt: isoTime,
    rotatedAt: isoTime.nullable(),
  })
  .meta({ id: 'ProviderKey' });

export const ProviderKeyHealth = z
  .object({
    id: z.string(),
    provider: z.string(),
    name: z.string(),
    last4: z.string(),
    strategy: z.string(),
    tier: z.int(),
    weight: z.int(),
    /** The weight selection uses now. */
    effectiveWeight: z.number(),
    state: z.enum(['ok', 'cooling', 'half_open', 'circuit_open', 'disabled']),
    usable: z.boolean(),
    usableAt: isoTime.nullable(),
    errorRate: z.number(),
    latencyEwmaMs: z.number().nullable(),
    consecutiveFailures: z.int(),
    remaining: z.object({ requests: z.number().nullable(), tokens: z.number().nullable() }),
    usage: z.object({ requestsPerMinute: z.number(), tokensPerMinute: z.number() }),
  })
  .meta({ id: 'ProviderKeyHealth' });

// --- API tokens ---

export const IssueApiTokenBody = z.strictObject({
  name: ApiTokenIssued.schema.shape.name,
  role,
  expiresAt: isoTime.optional(),
});

export const ApiToken = z
  .object({
    id: z.string(),
    name: z.string(),
    role,
    prefix: z.string(),
    revoked: z.boolean(),
    expiresAt: isoTime.nullable(),
    createdBy: z.object({ kind: z.string(), id: z.string() }),
    createdAt: isoTime,
  })
  .meta({ id: 'ApiToken' });

export const IssuedApiToken = z
  .object({
    id: z.string(),
    token: z.string().describe('The token itself: shown this once, never again.'),
    role,
    expiresAt: isoTime.nullable(),
  })
  .meta({ id: 'IssuedApiToken' });

// --- sign-in ---

export const LoginBody = z.strictObject({
  email,
  password: z.string().min(1).max(256),
  org: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe('Slug or id; needed when the e-mail is in several orgs.'),
});
export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(200) });
export const ChangePasswordBody = z.strictObject({
  currentPassword: z.string().min(1).max(256).describe('Your password now.'),
  newPassword: newPassword.describe(
    '12 to 256 characters, at least 5 different, not a well-known password, not the current one.',
  ),
});

export const MachineTokenBody = z.strictObject({ apiToken: z.string().min(1).max(200) });

export const MachineTokens = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.int().describe('Seconds the access token is valid: ask again before then.'),
  })
  .meta({ id: 'MachineTokens' });

export const Tokens = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.int().describe('Seconds the access token is valid.'),
    refreshToken: z.string().describe('Single use: each refresh returns a new one.'),
    user: z.object({ id: z.string(), orgId: z.string(), email: z.string(), role: role.nullable() }),
  })
  .meta({ id: 'Tokens' });

export const Me = z
  .object({
    kind: z.enum(['bootstrap', 'user', 'api-token']),
    id: z.string(),
    orgId: z.string().nullable(),
    email: z.string().nullable(),
    roles: z.array(role),
    actions: z.array(z.string()),
  })
  .meta({ id: 'Me' });

/** The query fields of a route that can answer as CSV instead of JSON. */
const csvExportQuery = {
  format: z.enum(['json', 'csv']).optional(),
  bom: z
    .enum(['true', 'false'])
    .optional()
    .describe(
      'With `format=csv`: `true` starts the file with a UTF-8 byte order mark, without which Excel reads non-ASCII text (Cyrillic names) as another encoding (default false).',
    ),
};

// --- audit ---

export const auditQuery = z.strictObject({
  ...pageQuery.shape,
  actor: z
    .string()
    .min(1)
    .max(200)
    .regex(/^\P{Cc}+$/u, 'must not contain control characters')
    .optional()
    .describe(
      'Actor id (user, API token or `admin-token`). Without `apiToken.read` it matches no API token.',
    ),
  action: z
    .string()
    .regex(/^[A-Z][A-Za-z]{1,99}$/, 'must be an event type like ProxyKeyIssued')
    .optional(),
  from: queryTime.optional().describe('Inclusive start (ISO instant).'),
  to: queryTime.optional().describe('Exclusive end (ISO instant).'),
  sort: z.enum(['time', '-time']).optional().describe('`time` (oldest first, default) or `-time`.'),
  ...csvExportQuery,
});

export const AuditEntry = z
  .object({
    id: z.string(),
    time: isoTime,
    actor: z.object({
      kind: z.string(),
      id: z.string().nullable().describe('null: a machine token, and you may not see machine tokens'),
      ip: z.string().nullable(),
    }),
    action: z.string(),
    subject: z.object({
      type: z.string(),
      id: z.string().nullable().describe('null: a machine token, and you may not see machine tokens'),
    }),
    before: z.unknown(),
    after: z.unknown(),
  })
  .meta({ id: 'AuditEntry' });

// --- request log ---

export const requestQuery = z.strictObject({
  ...pageQuery.shape,
  team: id.optional().describe('Team id. Without `team.read` it matches nothing (the entries show no team).'),
  user: id.optional().describe('User id. Without `request.readAny`, only your own.'),
  proxyKey: id.optional().describe('Proxy key id.'),
  provider: RequestCompleted.schema.shape.provider.optional().describe('Provider name.'),
  providerKey: id
    .optional()
    .describe(
      'Provider key id. Without `providerKey.read` it matches nothing (the entries show no provider key).',
    ),
  model: RequestCompleted.schema.shape.model.optional().describe('Model, as the provider served it.'),
  status: z
    .string()
    .regex(/^[1-5](?:\d\d|xx)$/, 'must be an HTTP status like 429 or a class like 4xx')
    .optional()
    .describe('HTTP status returned to the client (`429`) or a class (`4xx`).'),
  outcome: z.enum(['completed', 'failed', 'rejected']).optional(),
  from: queryTime.optional().describe('Inclusive start (ISO instant).'),
  to: queryTime.optional().describe('Exclusive end (ISO instant).'),
  sort: z.enum(['time', '-time']).optional().describe('`-time` (newest first, default) or `time`.'),
});

const tokenUsage = z.object({
  inputTokens: z.int(),
  outputTokens: z.int(),
  cachedInputTokens: z.int(),
  reasoningTokens: z.int().nullable(),
  cacheWriteInputTokens: z.int().describe('Part of inputTokens written to a 5-minute prompt cache.'),
  cacheWrite1hInputTokens: z.int().describe('Part of inputTokens written to a 1-hour prompt cache.'),
  webSearches: z.int().describe("Web searches the provider ran (Claude's web search tool), priced apiece."),
  serviceTier: z
    .enum(['priority', 'flex'])
    .nullable()
    .describe(
      "The service tier that billed the tokens, when not the standard one (OpenAI's priority or flex processing).",
    ),
  inferenceGeo: z
    .literal('us')
    .nullable()
    .describe('`us` when Claude ran the request on US-only infrastructure (billed at 1.1x).'),
  speed: z
    .literal('fast')
    .nullable()
    .describe('`fast` when Claude ran the request in fast mode (billed at a multiple).'),
});

export const RequestLogEntry = z
  .object({
    id: z.string().describe('The request id (also in the answer to the client).'),
    time: isoTime,
    outcome: z.enum(['completed', 'failed', 'rejected']),
    status: z.int().nullable().describe('HTTP status returned to the client; null when it was gone.'),
    upstreamStatus: z.int().nullable(),
    errorCode: z.string().nullable().describe('Why a failed request failed.'),
    rejectionReason: z.string().nullable().describe('Why a rejected request was refused.'),
    limitScope: z
      .object({
        scope: z.string().describe('`org`, `team`, `user` or `proxy-key`.'),
        scopeId: z.string().nullable().describe("null: a team's, and you may not see teams (`team.read`)."),
      })
      .nullable()
      .describe("For limit reasons: whose limit refused the request (a team's budget, the key's RPM...)."),
    teamId: z.string().nullable().describe('null: no team, or you may not see teams (`team.read`).'),
    userId: z.string().nullable(),
    proxyKeyId: z.string().nullable(),
    provider: z.string().nullable(),
    providerKeyId: z
      .string()
      .nullable()
      .describe('null: no provider key was used, or you may not see provider keys (`providerKey.read`).'),
    model: z.string().nullable(),
    endpoint: z.string(),
    stream: z.boolean().nullable(),
    usage: tokenUsage.nullable(),
    cost: z.string().nullable().describe('Exact decimal; null when the model has no price.'),
    currency: z.string().nullable(),
    latencyMs: z.int().nullable(),
    timeToFirstTokenMs: z.int().nullable(),
    clientIp: z.string().nullable(),
    attempts: z.int(),
    hasText: z.boolean().describe('Whether prompt or response text was logged (see the single request).'),
  })
  .meta({ id: 'RequestLogEntry' });

export const RequestLogDetail = RequestLogEntry.extend({
  prompt: z.string().nullable().describe('As logged: redacted, per the org logging policy.'),
  response: z.string().nullable(),
}).meta({ id: 'RequestLogDetail' });

// --- spend ---

const spendDimension = '(?:day|team|user|proxyKey|provider|providerKey|model)';
/** A UTC day: a date, or an instant (refused by the route unless at midnight UTC). */
const spendDay = z
  .union([z.iso.date(), isoTime])
  .refine((text) => !text.startsWith('0000'), 'must be in year 1 or later');

export const spendQuery = z.strictObject({
  from: spendDay.optional().describe('Inclusive first UTC day (`2026-01-01`, or a midnight UTC instant).'),
  to: spendDay.optional().describe('Exclusive last UTC day (default: tomorrow, so today is in).'),
  groupBy: z
    .string()
    .regex(
      new RegExp(`^${spendDimension}(?:,${spendDimension}){0,6}$`),
      'must list day, team, user, proxyKey, provider, providerKey or model, comma-separated',
    )
    .optional()
    .describe('Comma-separated: day, team, user, proxyKey, provider, providerKey, model (default day).'),
  team: id.optional().describe('Team id. Without `team.read` it matches nothing (the entries show no team).'),
  user: id.optional().describe('User id.'),
  proxyKey: id.optional().describe('Proxy key id.'),
  provider: RequestCompleted.schema.shape.provider.optional().describe('Provider name.'),
  model: RequestCompleted.schema.shape.model.optional().describe('Model, as the provider served it.'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe('Rows per page, 1-10000 (default 1000).'),
  cursor: z.string().max(4000).optional().describe('Opaque cursor from the previous page (`nextCursor`).'),
  ...csvExportQuery,
});

const SpendSums = {
  requests: z.int().describe('Every request: completed, failed and rejected.'),
  completed: z.int(),
  failed: z.int(),
  rejected: z.int().describe('Refused by the gateway: no spend.'),
  unpricedRequests: z.int().describe('Requests of a model without a price: their cost is in no total.'),
  inputTokens: z.int(),
  outputTokens: z.int(),
  cachedInputTokens: z.int().describe('Part of inputTokens read from the prompt cache.'),
  costs: z
    .array(z.object({ currency: z.string(), cost: z.string().describe('Exact decimal.') }))
    .describe('The cost in each currency the requests were priced in, by currency.'),
};

export const SpendRow = z
  .object({
    day: z.string().optional().describe('UTC day (groupBy day).'),
    teamId: z.string().nullable().optional().describe('groupBy team; null: no team.'),
    userId: z.string().nullable().optional(),
    proxyKeyId: z.string().nullable().optional(),
    provider: z.string().nullable().optional().describe('null: refused before a provider was chosen.'),
    providerKeyId: z.string().nullable().optional(),
    model: z.string().nullable().optional(),
    ...SpendSums,
  })
  .meta({ id: 'SpendRow' });

export const SpendReport = z
  .object({
    from: z.string().describe('First UTC day (inclusive).'),
    to: z.string().describe('Last UTC day (exclusive).'),
    groupBy: z.array(z.string()),
    rows: z.array(SpendRow),
    totals: z.object(SpendSums).meta({ id: 'SpendTotals' }),
    unreadEvents: z
      .int()
      .describe(
        "The org's request events in the range the projection could not add (parked): their spend " +
          'is in no row and no total. Whatever the filters: a filtered report may name some outside it.',
      ),
    changedSinceFirstPage: z
      .boolean()
      .describe(
        'False on a first page. On a later page (read with `cursor`): false when no request event of ' +
          "the org in the range was added since the first page was read (this page's rows and totals " +
          "are then as of the first page's moment), true when one may have been: its rows and totals " +
          'may hold spend the first page did not. For one consistent report, start again or export CSV.',
      ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'SpendReport' });

// --- logging policy ---

const ruleShape = loggingRule.shape;
export const LoggingRuleBody = z
  .strictObject({
    name: ruleShape.name,
    pattern: ruleShape.pattern.describe('RE2 syntax (linear time): no backreferences or lookarounds.'),
    action: ruleShape.action,
    caseInsensitive: ruleShape.caseInsensitive.optional(),
    group: ruleShape.group.optional(),
    keepLast: ruleShape.keepLast.optional(),
  })
  .meta({ id: 'RedactionRule' });

export const SetLoggingPolicyBody = z
  .strictObject({
    bodies: LoggingPolicySet.schema.shape.bodies,
    retentionDays: LoggingPolicySet.schema.shape.retentionDays.optional(),
    redact: z.array(LoggingRuleBody).max(100).optional(),
  })
  .meta({ id: 'SetLoggingPolicyBody', description: 'The whole policy; it replaces the previous one.' });

export const LoggingPolicy = z
  .object({
    bodies: z.enum(['none', 'redacted', 'full']),
    retentionDays: z.int().nullable(),
    redact: z.array(
      z.object({
        name: z.string(),
        pattern: z.string(),
        action: z.enum(['mask', 'hash', 'drop']),
        caseInsensitive: z.boolean(),
        group: z.int(),
        keepLast: z.int(),
      }),
    ),
    erasedBefore: isoTime
      .nullable()
      .describe(
        "The org's logged texts of requests before this instant were erased (the latest " +
          '`POST …/logging/erase`); null when they never were. Not set by `PUT`.',
      ),
  })
  .meta({ id: 'LoggingPolicy' });

export const EraseLoggedTextBody = z
  .strictObject({
    before: z
      .union([z.iso.date(), isoTime])
      .refine((text) => !text.startsWith('0000'), 'must be in year 1 or later')
      .optional()
      .describe(
        'Erase the texts of requests of UTC days before this one (exclusive): a date (`2026-12-01`) ' +
          'or a midnight UTC instant, at most today. Absent: every text logged up to now.',
      ),
  })
  .meta({ id: 'EraseLoggedTextBody' });

export const LoggedTextErasure = z
  .object({
    erasedBefore: z
      .string()
      .describe(
        "The org's texts of requests before this instant are erased (by this or an earlier erasure).",
      ),
    recorded: z
      .boolean()
      .describe('False when an earlier erasure already covered the range: nothing was appended.'),
  })
  .meta({ id: 'LoggedTextErasure' });

export { id as idSchema };
