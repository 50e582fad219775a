import { z } from 'zod';
import { ID_MAX_LENGTH, ID_PATTERN } from '../../streams.js';

/*
 * Field types shared by the event schemas. Stored shapes are forever, so these rules hold
 * everywhere: ids are bounded tokens without ':', times are UTC ISO strings, money is a
 * decimal string, absence is `null` (the field is still there; only policy limits and
 * `reasoningTokens` may be left out), and no field can hold a plaintext secret. Schemas have no transforms or defaults: what `create` writes is what
 * `decode` reads back.
 */

/** Any entity id (org, team, user, key, request...): the same rule as stream id parts. */
export const id = z
  .string()
  .min(1)
  .max(ID_MAX_LENGTH)
  .regex(ID_PATTERN, 'must be an id without ":" or spaces');

/** An instant, always UTC (`Z`, no offset) so every stored time reads the same way. */
export const isoTime = z.iso.datetime();

/** Non-negative exact decimal (no float, no exponent, no sign): `0`, `12.5`, `0.000123`. */
export const DECIMAL_PATTERN = /^(0|[1-9]\d{0,14})(\.\d{1,12})?$/;
export const decimal = z
  .string()
  .regex(DECIMAL_PATTERN, 'must be a non-negative decimal string like "0.0125"');

/**
 * The currency of a price and so of a cost: providers bill in their own (YandexGPT and
 * GigaChat in roubles); converting is finance's business, not the gateway's.
 */
export const CURRENCY_PATTERN = /^[A-Z]{3}$/;
export const currency = z.string().regex(CURRENCY_PATTERN, 'must be an ISO 4217 currency code');

export const count = z.int().min(0);
export const positiveCount = z.int().min(1);
export const durationMs = z.int().min(0);
export const httpStatus = z.int().min(100).max(599);

/** A provider id as the gateway's registry names it: a slug, so a new provider needs no new version. */
export const PROVIDER_ID_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
export const PROVIDER_ID_MAX_LENGTH = 40;
export const providerId = z
  .string()
  .min(1)
  .max(PROVIDER_ID_MAX_LENGTH)
  .regex(PROVIDER_ID_PATTERN, 'must be a provider slug');

/** A model name as providers spell them (`gpt-4o`, `openai/gpt-4o`, `claude-3-5-sonnet@20240620`, `ft:...`). */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][\x21-\x7e]*$/;
export const MODEL_NAME_MAX_LENGTH = 200;
export const modelName = z
  .string()
  .min(1)
  .max(MODEL_NAME_MAX_LENGTH)
  .regex(MODEL_NAME_PATTERN, 'must be a model name of printable characters without spaces');

/** An allowlist entry: an exact model name, or a prefix ending in `*`. */
export const modelPattern = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][!-)+-~]*\*?$/, 'must be a model name, optionally ending in "*"');

export const region = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a region slug');

/**
 * A service endpoint (provider base URL, egress gateway). http is allowed because whether
 * plain http is acceptable is deployment policy, not a stored shape; credentials, queries
 * and fragments are refused so no secret can ride along.
 */
export const endpointUrl = z
  .url({ protocol: /^https?$/ })
  .max(500)
  .refine((value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    return url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  }, 'must not contain credentials, a query or a fragment');

export const ipAddress = z.union([z.ipv4(), z.ipv6()]);
export const cidr = z.union([z.cidrv4(), z.cidrv6()]);

/** The usage endpoints of RequestCompleted v1-v6, RequestFailed v1-v4, RequestRejected v1-v3 (frozen). */
export const endpointV1 = z.enum(['chat.completions', 'completions', 'embeddings', 'responses', 'messages']);

/**
 * The calls that are usage. RequestCompleted v7, RequestFailed v5 and RequestRejected v4 add
 * `responses.compact`: OpenAI's Responses compaction runs the model and is billed.
 */
export const endpoint = z.enum([...endpointV1.options, 'responses.compact']);

/** Why an admitted request ended without a complete answer (RequestFailed). */
export const failureCode = z.enum([
  'no_provider_key',
  'upstream_rate_limited',
  'upstream_unavailable',
  'upstream_timeout',
  'upstream_auth_failed',
  'upstream_rejected',
  'egress_unavailable',
  'stream_interrupted',
  'client_disconnected',
  /** The replica shut down and its drain deadline passed: Kordon ended the request itself. */
  'gateway_shutdown',
  'internal_error',
]);

export const role = z.enum(['owner', 'admin', 'finance', 'developer', 'auditor']);

export const policyScope = z.enum(['org', 'team', 'user', 'proxy-key']);

/** How often a budget renews; `lifetime` never does. */
export const period = z.enum(['hour', 'day', 'week', 'month', 'lifetime']);

/**
 * A renewal period: calendar `Nd`, `Nw` (Monday weeks), `Nmo`, `Ny` counted in the policy's
 * time zone; fixed `Ns`, `Nm`, `Nh` aligned to the Unix epoch (every replica computes the
 * same boundaries without state); or `lifetime`. Parsed by the gateway's limits module.
 */
export const PERIOD_SPEC_PATTERN = /^(?:lifetime|([1-9]\d{0,7})(s|m|h|d|w|mo|y))$/;
const PERIOD_MAX = { s: 31_622_400, m: 527_040, h: 8_784, d: 366, w: 53, mo: 120, y: 10 } as const;
export const periodSpec = z
  .string()
  .regex(
    PERIOD_SPEC_PATTERN,
    'must be "lifetime" or a count and a unit: s, m, h, d, w, mo, y (e.g. 1mo, 90s)',
  )
  .refine((value) => {
    const match = PERIOD_SPEC_PATTERN.exec(value);
    return !match?.[1] || Number(match[1]) <= PERIOD_MAX[match[2] as keyof typeof PERIOD_MAX];
  }, 'at most a year: 366 days, 53 weeks, 120 months or 10 years');

/**
 * Shapes of well-known secrets. Free text written by people (names, notes) is refused when
 * it contains one: a pasted key must not end up in a log that is kept forever.
 */
const SECRET_SHAPES: readonly RegExp[] = [
  /kdn_[A-Za-z0-9]{16,}/, // Kordon proxy key
  /sk-[A-Za-z0-9_-]{20,}/, // OpenAI, Anthropic (sk-ant-...), DeepSeek, ...
  /\b(?:gsk|hf|xai|pplx|r8)[_-][A-Za-z0-9]{20,}/, // Groq, Hugging Face, xAI, Perplexity, Replicate
  /AIza[0-9A-Za-z_-]{35}/, // Google API key
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, // AWS access key id
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

export function looksLikeSecret(text: string): boolean {
  return SECRET_SHAPES.some((shape) => shape.test(text));
}

const noSecret = (text: string) => !looksLikeSecret(text);
const NO_SECRET = { message: 'looks like a secret key; secrets are never stored in events' };

/** A single-line label typed by a person (org, team, key names). */
export function label(max = 100) {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(/^\P{Cc}*$/u, 'must be one line without control characters')
    .regex(/\S/, 'must have visible text')
    .refine(noSecret, NO_SECRET);
}

/** A free-text explanation for people (why a key was revoked...). Never parsed by software. */
export const note = z
  .string()
  .min(1)
  .max(1000)
  .regex(/^[\t\n\P{Cc}]*$/u, 'must not contain control characters other than tabs and newlines')
  .refine(noSecret, NO_SECRET);

export const email = z.email().max(254);

/**
 * A keyed hash of a secret (proxy key, invitation token): HMAC-SHA-256 as 64 lowercase hex
 * characters, and the id of the HMAC key so that key can be rotated. A key itself
 * (`kdn_...`) can never match.
 */
export const keyedHash = z.strictObject({
  algorithm: z.literal('hmac-sha256'),
  keyId: id,
  value: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (HMAC-SHA-256)'),
});

/**
 * An AES-256-GCM envelope-encrypted secret: the secret is encrypted with a fresh data key,
 * the data key is wrapped by the master key `keyId` (environment or KMS). Binary fields are
 * base64; IV (12 bytes) and tag (16 bytes) have their fixed GCM sizes.
 */
export const encryptedSecret = z.strictObject({
  algorithm: z.literal('aes-256-gcm'),
  keyId: id,
  wrappedDataKey: z.base64().min(4).max(2048),
  iv: z.base64().length(16),
  ciphertext: z.base64().min(4).max(16384),
  authTag: z.base64().length(24),
});

/** The last four characters of a secret: the only part ever shown. */
export const last4 = z
  .string()
  .length(4)
  .regex(/^[\x21-\x7e]{4}$/, 'must be 4 printable characters');

/** A human-chosen handle (org slug, provider name): lowercase, URL-safe, stable. */
export const slug = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'must be a slug: lowercase letters, digits and inner dashes');
