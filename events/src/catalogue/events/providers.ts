import { z } from 'zod';
import { defineEvent } from '../define.js';
import { endpointUrl, id, modelName, modelPattern, slug } from './fields.js';

/*
 * The org's connections to AI providers: which kind of API (`type`), where it is, and which
 * models it serves. Keys (ProviderKeyAdded) name their provider by this `provider` slug.
 * Stream: `org:<orgId>:provider:<provider>`.
 */

export const providerType = z.enum([
  'openai',
  'anthropic',
  'gemini',
  'azure-openai',
  'openai-compatible',
  'yandexgpt',
  'gigachat',
]);

/** A call timeout: 1 ms to 1 hour. */
const timeoutMs = z.int().min(1).max(3_600_000);

/** Settings only some provider types take; validated again by the provider's adapter. (ProviderConfigured v1.) */
const providerOptionsV1 = z.strictObject({
  /** azure-openai: model name -> deployment name. */
  deployments: z.record(z.string().min(1).max(200), z.string().min(1).max(200)).optional(),
  /** azure-openai: the `api-version` query parameter. */
  apiVersion: z.string().min(1).max(40).optional(),
  /** yandexgpt: the Yandex Cloud folder whose models are used. */
  folderId: id.optional(),
  /** gigachat: the OAuth endpoint and scope of the authorization key. */
  oauthUrl: endpointUrl.optional(),
  scope: z.string().min(1).max(64).optional(),
  /** How the balancer spreads requests over the provider's keys; `adaptive` where absent. */
  balancer: z.enum(['round-robin', 'weighted', 'adaptive']).optional(),
  /**
   * Keep a conversation on one key so the provider's prompt cache keeps hitting: by the
   * caller's `x-kordon-session-id` header (`session`, the default) or, without it, also by a
   * hash of the prompt's beginning (`prompt-prefix`); `off` never.
   */
  stickiness: z.enum(['off', 'session', 'prompt-prefix']).optional(),
  /** Limits of a call to this provider, in ms; the gateway's defaults where absent. */
  timeouts: z
    .strictObject({
      connectMs: timeoutMs.optional(),
      firstByteMs: timeoutMs.optional(),
      idleMs: timeoutMs.optional(),
      totalMs: timeoutMs.optional(),
    })
    .optional(),
});

/** ProviderConfigured v2: also the answer length a request translated for Claude gets. */
const providerOptionsV2 = providerOptionsV1.extend({
  /**
   * anthropic: `max_tokens` of a request from an OpenAI-dialect caller that sets none (Claude
   * requires one, OpenAI does not; the gateway's default is 4,096, which cuts longer answers).
   */
  defaultMaxTokens: z.int().min(1).max(1_000_000).optional(),
});

/** The OpenAI-compatible servers the gateway knows the quirks of; `generic` for any other. */
export const openAICompatibleVendor = z.enum([
  'mistral',
  'deepseek',
  'groq',
  'openrouter',
  'together',
  'vllm',
  'ollama',
  'generic',
]);

/** The current options: what the adapters read beyond the address (v3). */
const providerOptions = providerOptionsV2.extend({
  /** openai-compatible: whose server it is, for its defaults (stream usage, operations). */
  vendor: openAICompatibleVendor.optional(),
  /** azure-openai, yandexgpt: the key as `api-key` (default) or a bearer token (Entra ID, IAM). */
  authScheme: z.enum(['api-key', 'bearer']).optional(),
  /** openai: the `OpenAI-Organization` and `OpenAI-Project` headers. */
  organization: z.string().min(1).max(200).optional(),
  project: z.string().min(1).max(200).optional(),
  /**
   * Any type: extra CA certificates (PEM) trusted for the provider's hosts, e.g. the Russian
   * NUC root GigaChat's certificates chain to. Public data, not a secret.
   */
  caCertificate: z.string().includes('-----BEGIN CERTIFICATE-----').max(100_000).optional(),
});

const providerConfiguredFields = {
  provider: slug,
  type: providerType,
  /** Only ever set by an admin: a request can never choose where Kordon connects. */
  baseUrl: endpointUrl,
  /** Models served (exact names or `prefix*`), in the order clients should see them. */
  models: z.array(modelPattern).min(1).max(500),
};

/** Added, or changed in place (the latest event wins). */
export const ProviderConfigured = defineEvent({
  type: 'ProviderConfigured',
  version: 3,
  schema: z.strictObject({ ...providerConfiguredFields, options: providerOptions }),
  previous: [
    // Version 3 adds `vendor`, `authScheme`, `organization`, `project` and `caCertificate`.
    {
      version: 2,
      schema: z.strictObject({ ...providerConfiguredFields, options: providerOptionsV2 }),
      upcast: (data: object) => data,
    },
    // Version 2 adds `defaultMaxTokens` to the options.
    {
      version: 1,
      schema: z.strictObject({ ...providerConfiguredFields, options: providerOptionsV1 }),
      upcast: (data: object) => data,
    },
  ],
});

export const ProviderRemoved = defineEvent({
  type: 'ProviderRemoved',
  version: 1,
  schema: z.strictObject({ provider: slug }),
});

/**
 * The org's fallback chain: a model's providers are tried in this order, those it does not name
 * after them in the order they were first configured. Replaces the previous order; a name with
 * no provider (yet, or any more) takes its place when one is configured. Stream: `org:<orgId>`.
 */
export const ProvidersOrdered = defineEvent({
  type: 'ProvidersOrdered',
  version: 1,
  schema: z.strictObject({
    providers: z
      .array(slug)
      .max(1000)
      .refine((names) => new Set(names).size === names.length, { message: 'each provider is named once' }),
  }),
});

/** USD (or the price's currency) per `unitTokens` tokens, as an exact decimal string. */
const price = z.string().regex(/^\d{1,9}(\.\d{1,12})?$/, 'must be a non-negative decimal string like "0.15"');

const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code');

/** The fields of one org price PricesSet v1 carried. */
const priceV1Fields = {
  /** An exact model name: a price is never a wildcard. */
  model: modelName,
  effectiveFrom: z.iso.datetime(),
  input: price.optional(),
  cachedInput: price.optional(),
  output: price.optional(),
  currency: currency.optional(),
  /** Tokens the prices are per: 1,000,000 (default) or 1,000 (YandexGPT, GigaChat). */
  unitTokens: z.union([z.literal(1_000), z.literal(1_000_000)]).optional(),
};

/**
 * Rates for the whole request (every token of it) when the prompt is longer than
 * `aboveInputTokens` tokens: a long-context tier, the shape of the price table's, with rates
 * read by `rate` (the event's decimal strings; the config file also takes YAML numbers).
 */
export function priceTierSchema<Rate extends z.ZodType<string, unknown>>(rate: Rate) {
  return z.strictObject({
    aboveInputTokens: z.int().min(1).max(100_000_000),
    input: rate,
    cachedInput: rate.optional(),
    cacheWrite: rate.optional(),
    cacheWrite1h: rate.optional(),
    audioInput: rate.optional(),
    cachedAudioInput: rate.optional(),
    output: rate,
  });
}

/** A UTC time of day "HH:MM", 00:00 to 24:00. */
const utcTime = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be a UTC time "HH:MM"');

/**
 * Hours billed at a multiple of every rate (DeepSeek's peak hours), the shape of the price
 * table's: UTC windows (start included, end excluded), on ISO weekdays of the UTC date (1
 * Monday .. 7 Sunday; absent: every day); the multiplier read by `rate`, as in priceTierSchema.
 */
export function peakHoursSchema<Rate extends z.ZodType<string, unknown>>(rate: Rate) {
  return z.strictObject({
    utcWindows: z
      .array(
        z.strictObject({ from: utcTime, to: utcTime }).refine((w) => w.from < w.to, {
          message: 'from must be before to (split a window across midnight in two)',
        }),
      )
      .min(1)
      .max(8),
    utcWeekdays: z.array(z.int().min(1).max(7)).min(1).max(7).optional(),
    multiplier: rate,
  });
}

const priceTier = priceTierSchema(price);
const peakHours = peakHoursSchema(price);

/**
 * The org's own prices (negotiated rates, models the shipped table lacks), replacing the
 * whole previous set. Each applies from `effectiveFrom`; fields left out fall back to the
 * shipped table's entry for the model. Stream: `org:<orgId>`.
 */
export const PricesSet = defineEvent({
  type: 'PricesSet',
  version: 2,
  schema: z.strictObject({
    prices: z
      .array(
        z.strictObject({
          ...priceV1Fields,
          /** Claude's 5-minute cache writes; absent: the table's when input is, else input's rate. */
          cacheWrite: price.optional(),
          /** Claude's 1-hour cache writes; absent: as cacheWrite, then input. */
          cacheWrite1h: price.optional(),
          /** Long-context tiers replacing the table's (`[]`: none), ascending by `aboveInputTokens`. */
          tiers: z
            .array(priceTier)
            .max(8)
            .refine(
              (tiers) =>
                tiers.every((t, i) => i === 0 || t.aboveInputTokens > tiers[i - 1]!.aboveInputTokens),
              {
                message: 'tiers must be in ascending order of aboveInputTokens',
              },
            )
            .optional(),
          /** Peak hours replacing the table's (a multiplier of 1: every hour alike). */
          peakHours: peakHours.optional(),
        }),
      )
      .max(1000),
  }),
  previous: [
    // Version 2 adds `tiers` and `peakHours`; a v1 price has neither.
    {
      version: 1,
      schema: z.strictObject({ prices: z.array(z.strictObject(priceV1Fields)).max(1000) }),
      upcast: (data: object) => data,
    },
  ],
});

export const providerEvents = [ProviderConfigured, ProviderRemoved, ProvidersOrdered, PricesSet] as const;
