import { z } from 'zod';

/*
 * Shapes of the price table and of org overrides. Every price is a decimal string (never a
 * float) per `unitTokens` tokens, in the entry's own `currency`: USD per million tokens for
 * most vendors, RUB per 1000 tokens where a vendor publishes it that way. Converting between
 * currencies is not Kordon's business; the currency travels with every computed cost.
 */

/** A non-negative price with at most 10 decimals, no sign, no exponent: `0`, `2.50`, `0.075`. */
export const PRICE_PATTERN = /^(0|[1-9]\d{0,9})(\.\d{1,10})?$/;
export const priceString = z.string().regex(PRICE_PATTERN, 'must be a decimal string like "0.075"');

/** ISO 4217 code (`USD`, `RUB`, `EUR`). */
export const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code');

/** How many tokens one price is for: vendors publish per million tokens or per thousand. */
export const unitTokens = z.union([z.literal(1_000_000), z.literal(1_000)]);

export const providerSlug = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a provider slug');

/** A model name as the table keys it: lower case, printable, no spaces. */
export const modelKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[a-z0-9][\x21-\x7e]*$/, 'must be a lower-case model name without spaces')
  .refine((s) => s === s.toLowerCase(), 'must be lower case');

const rateFields = {
  /** Input tokens that are neither cache reads nor cache writes. */
  input: priceString,
  /** Cache reads ("cached input", "cache hits"); absent: charged at `input`. */
  cachedInput: priceString.optional(),
  /** Cache writes (Anthropic's 5-minute writes); absent: charged at `input`. */
  cacheWrite: priceString.optional(),
  /** Anthropic's 1-hour cache writes; absent: charged at `cacheWrite`, then `input`. */
  cacheWrite1h: priceString.optional(),
  /**
   * Audio input tokens (`usage.audioInputTokens`), where the vendor bills them above text
   * (Gemini's Flash models); absent: charged at `input`.
   */
  audioInput: priceString.optional(),
  /** Cache reads of audio; absent: charged at `audioInput` when set, else at `cachedInput`. */
  cachedAudioInput: priceString.optional(),
  /** Output tokens, reasoning included. */
  output: priceString,
};

/**
 * Prices that replace the base rates for the WHOLE request (every token of it, output
 * included) when the prompt is longer than `aboveInputTokens` tokens. The prompt is
 * `usage.inputTokens`, which counts cache reads and writes too. This is how Gemini 2.5 Pro,
 * Claude Sonnet 4/4.5 with the 1M context and GPT-5.4 publish long-context prices.
 */
export const priceTier = z.strictObject({
  aboveInputTokens: z.int().min(1),
  ...rateFields,
});
export type PriceTier = z.infer<typeof priceTier>;

/**
 * The rates of OpenAI's priority processing (`service_tier: "priority"`), for the whole
 * request; published for prompts within the base rates only (no long-context tier).
 */
export const priorityRates = z.strictObject({
  input: priceString,
  cachedInput: priceString.optional(),
  output: priceString,
});

/** A UTC time of day, "HH:MM" (00:00 to 24:00), as minutes since midnight. */
export function minutesOfDay(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

const utcTime = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be a UTC time "HH:MM"');

/** One window of the day, start included, end excluded; one across midnight is two windows. */
export const peakWindow = z
  .strictObject({ from: utcTime, to: utcTime })
  .refine((w) => minutesOfDay(w.from) < minutesOfDay(w.to), {
    message: 'from must be before to (split a window across midnight in two)',
  });

/**
 * Hours billed at a multiple of every rate (DeepSeek's peak hours: 2x, 01:00-04:00 and
 * 06:00-10:00 UTC, Monday to Friday). A request is priced by the UTC clock of the moment it
 * arrived; outside the windows, at the rates of the price. The days are read from the UTC
 * date, the same as the vendor's own date while the windows end before 16:00 UTC (Beijing).
 */
export const peakHours = z.strictObject({
  /** Ascending or not, at most 8; a request in any of them is a peak request. */
  utcWindows: z.array(peakWindow).min(1).max(8),
  /** ISO weekdays of the UTC date (1 Monday .. 7 Sunday) the windows are on; absent: every day. */
  utcWeekdays: z.array(z.int().min(1).max(7)).min(1).max(7).optional(),
  /** Every token rate (cache reads, long-context tiers) times this within the windows. */
  multiplier: priceString,
});
export type PeakHours = z.infer<typeof peakHours>;

/** What one model costs. */
export const modelPrice = z.strictObject({
  ...rateFields,
  /**
   * Per 1,000 web searches the provider runs for a request (Claude's web search tool, the
   * `search` calls of OpenAI's `web_search`).
   */
  webSearch: priceString.optional(),
  /** Per 1,000 searches of OpenAI's older `web_search_preview` tool; absent: at `webSearch`. */
  webSearchPreview: priceString.optional(),
  /** Per 1,000 calls of OpenAI's `file_search` tool (vector-store searches). */
  fileSearch: priceString.optional(),
  /** Priority processing's rates, where the vendor offers it; flex is half the base rates. */
  priority: priorityRates.optional(),
  /** Claude's fast mode: every rate (cache rates and long context included) this many times. */
  fastMultiplier: priceString.optional(),
  /** Hours of the day billed at a multiple of every rate (DeepSeek's peak hours). */
  peakHours: peakHours.optional(),
  currency: currencyCode,
  unitTokens,
  /** Ascending by `aboveInputTokens`; the highest one the prompt exceeds applies. */
  tiers: z.array(priceTier).max(8).optional(),
});
export type ModelPrice = z.infer<typeof modelPrice>;

/** An entry of the shipped table: a price, who sells it, other names it answers to. */
export const priceTableEntry = modelPrice.extend({
  provider: providerSlug,
  /** Other exact names of the same model at the same price (`claude-sonnet-4-0`). */
  aliases: z.array(modelKey).max(16).optional(),
  /** Why a number is what it is, when the vendor page needs reading between the lines. */
  note: z.string().max(500).optional(),
});
export type PriceTableEntry = z.infer<typeof priceTableEntry>;

const isoDate = z.iso.date();

export const providerSource = z.strictObject({
  /** Where the prices come from, in words a finance reviewer can follow. */
  source: z.string().min(1).max(1000),
  /** The day the prices of this provider were last read from the source. */
  checkedAt: isoDate,
});

export const priceTable = z.strictObject({
  /** The day this table was assembled; reports show it next to every shipped price. */
  asOf: isoDate,
  providers: z.record(providerSlug, providerSource),
  models: z.record(modelKey, priceTableEntry),
});
export type PriceTable = z.infer<typeof priceTable>;

/**
 * An org's own price for a model (a negotiated rate, a reseller's price list, a model the
 * shipped table does not know). Any subset of the price fields; the rest is taken from the
 * shipped entry of the same model. From `effectiveFrom` on, it beats the shipped price.
 *
 * When the override changes `currency` or `unitTokens`, nothing is inherited from the
 * shipped entry (rates in different units do not mix): `input` and `output` are then
 * required, and missing cache rates fall back to `input`.
 */
export const orgPriceOverride = z
  .strictObject({
    /** The override's own id (for audit trails and reports); optional. */
    id: z.string().min(1).max(100).optional(),
    orgId: z.string().min(1).max(100),
    /** The model name the override prices; matched like requests are (case-insensitive). */
    model: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9][\x21-\x7e]*$/, 'must be a model name without spaces'),
    /** ISO date (`2026-12-01`, midnight UTC) or date-time with offset. */
    effectiveFrom: z.union([z.iso.datetime({ offset: true }), isoDate]),
    input: priceString.optional(),
    cachedInput: priceString.optional(),
    cacheWrite: priceString.optional(),
    cacheWrite1h: priceString.optional(),
    output: priceString.optional(),
    currency: currencyCode.optional(),
    unitTokens: unitTokens.optional(),
    /** Replaces the shipped tiers when given; `[]` removes them. */
    tiers: z.array(priceTier).max(8).optional(),
    /** Replaces the shipped peak hours when given; a multiplier of 1 bills every hour alike. */
    peakHours: peakHours.optional(),
    note: z.string().max(500).optional(),
  })
  .refine(
    (o) =>
      o.input !== undefined ||
      o.cachedInput !== undefined ||
      o.cacheWrite !== undefined ||
      o.cacheWrite1h !== undefined ||
      o.output !== undefined ||
      o.currency !== undefined ||
      o.unitTokens !== undefined ||
      o.tiers !== undefined ||
      o.peakHours !== undefined,
    { message: 'an override must set at least one price field' },
  )
  .refine((o) => o.tiers === undefined || ascendingTiers(o.tiers), {
    message: 'tiers must be in ascending order of aboveInputTokens',
    path: ['tiers'],
  });
export type OrgPriceOverride = z.infer<typeof orgPriceOverride>;
/** What callers pass in (before zod defaults and checks). */
export type OrgPriceOverrideInput = z.input<typeof orgPriceOverride>;

export function ascendingTiers(tiers: readonly PriceTier[]): boolean {
  for (let i = 1; i < tiers.length; i++) {
    const prev = tiers[i - 1];
    const cur = tiers[i];
    if (prev === undefined || cur === undefined || cur.aboveInputTokens <= prev.aboveInputTokens)
      return false;
  }
  return true;
}
