import { Decimal } from 'decimal.js';
import type { ModelPrice, PriceTier } from './price-schema.js';

/*
 * Cost of one request from its token usage and a model price, in exact integer arithmetic
 * (bigints of 10^-COST_SCALE currency units).
 *
 * Usage is normalised the way RequestCompleted stores it: `inputTokens` is the WHOLE prompt.
 * Cache reads (`cachedInputTokens`) and cache writes (`cacheWriteTokens`,
 * `cacheWrite1hTokens`) are parts of it, not additions; `reasoningTokens` is part of
 * `outputTokens`. (An Anthropic adapter therefore reports
 * inputTokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.)
 * The audio of the prompt (`audioInputTokens`, Gemini's AUDIO prompt tokens) is a part of it
 * too, and the cached audio (`cachedAudioInputTokens`) a part of both the audio and the cache
 * reads: a model with audio rates bills that part at them, the rest at the text rates.
 *
 *   tier          = the highest tier whose aboveInputTokens < inputTokens, else the base rates
 *   uncached      = inputTokens - cachedInputTokens - cacheWriteTokens - cacheWrite1hTokens
 *   audio         = audioInputTokens - cachedAudioInputTokens  (the uncached audio)
 *   cost(input)   = (uncached - audio)  * input                              / unitTokens
 *                 + audio              * (audioInput ?? input)               / unitTokens
 *   cost(cached)  = (cachedInputTokens - cachedAudioInputTokens) * (cachedInput ?? input) / unitTokens
 *                 + cachedAudioInputTokens * (cachedAudioInput ?? audioInput ?? cachedInput ?? input) / unitTokens
 *   cost(write)   = cacheWriteTokens   * (cacheWrite ?? input)               / unitTokens
 *                 + cacheWrite1hTokens * (cacheWrite1h ?? cacheWrite ?? input) / unitTokens
 *   cost(output)  = outputTokens       * output                              / unitTokens
 *   cost(search)  = (webSearches - webSearchPreviews) * webSearch           / 1000
 *                 + webSearchPreviews  * (webSearchPreview ?? webSearch)     / 1000
 *   cost(files)   = fileSearches       * fileSearch                          / 1000
 *                   (server-side tool calls, priced per thousand whatever unitTokens is)
 *
 * Each part is rounded half-up to COST_SCALE (10) decimal places, and the total is the sum
 * of the rounded parts, so a report's breakdown always adds up to its total. Amounts are
 * plain decimal strings without exponent and without trailing zeros: "0", "0.0004503".
 * With the shipped table's prices (at most 4 decimals per million tokens) nothing is ever
 * rounded away; the scale is there for org overrides with finer prices.
 */

export const COST_SCALE = 10;

/** Decimal for comparing and adding amounts (reports); costs themselves are scaled bigints. */
const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -100, toExpPos: 100 });

const ZERO = new D(0);

export interface TokenUsage {
  /** The whole prompt, cache reads and cache writes included. */
  readonly inputTokens: number;
  /** The whole answer, reasoning included. */
  readonly outputTokens: number;
  /** Part of inputTokens served from the provider's prompt cache. */
  readonly cachedInputTokens: number;
  /** Part of inputTokens written to the cache (Anthropic 5-minute writes). */
  readonly cacheWriteTokens?: number;
  /** Part of inputTokens written to the 1-hour cache (Anthropic). */
  readonly cacheWrite1hTokens?: number;
  /** Part of inputTokens that was audio, cache reads included (Gemini bills it above text). */
  readonly audioInputTokens?: number;
  /** Part of cachedInputTokens, and of audioInputTokens, that was audio. */
  readonly cachedAudioInputTokens?: number;
  /** Part of outputTokens spent on reasoning; priced as output, kept for reports. */
  readonly reasoningTokens?: number;
  /** Web searches the provider ran for the request (Claude's and OpenAI's web search tools), billed apiece. */
  readonly webSearches?: number;
  /** Part of webSearches run by OpenAI's `web_search_preview` tool (its own price on some models). */
  readonly webSearchPreviews?: number;
  /** Calls of OpenAI's `file_search` tool, billed apiece. */
  readonly fileSearches?: number;
  /**
   * The service tier that billed the tokens when not the standard one. `computeCost` prices
   * the rates it is given; the price book picks the tier's (`PriceBook.priceRequest`).
   */
  readonly serviceTier?: 'priority' | 'flex';
  /** `us`: Claude ran the request on US-only infrastructure, every token rate 1.1x (the price book applies it). */
  readonly inferenceGeo?: 'us';
  /** `fast`: Claude ran the request in fast mode, every rate times the model's `fastMultiplier` (the price book applies it). */
  readonly speed?: 'fast';
}

export interface CostBreakdown {
  /** The uncached prompt, its audio at the audio rate included. */
  readonly input: string;
  /** The cache reads, their audio at the cached audio rate included. */
  readonly cachedInput: string;
  readonly cacheWrite: string;
  readonly output: string;
  /** Web searches, `web_search_preview`'s at their own price included. */
  readonly webSearch: string;
  readonly fileSearch: string;
}

export interface Cost {
  /** Total, a decimal string with at most COST_SCALE decimals: "0.0004503". */
  readonly amount: string;
  /** The currency of the price that produced it (ISO 4217). */
  readonly currency: string;
  readonly breakdown: CostBreakdown;
  /** The long-context tier applied (its aboveInputTokens), or null for the base rates. */
  readonly tierAboveInputTokens: number | null;
}

/** Usage that cannot have come from a provider: negative, fractional, parts larger than the whole. */
export class InvalidUsageError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidUsageError';
  }
}

/** Returns why a usage is impossible, or null when it is consistent. */
export function checkUsage(usage: TokenUsage): string | null {
  const counts =
    isCount(usage.inputTokens) &&
    isCount(usage.outputTokens) &&
    isCount(usage.cachedInputTokens) &&
    (usage.cacheWriteTokens === undefined || isCount(usage.cacheWriteTokens)) &&
    (usage.cacheWrite1hTokens === undefined || isCount(usage.cacheWrite1hTokens)) &&
    (usage.audioInputTokens === undefined || isCount(usage.audioInputTokens)) &&
    (usage.cachedAudioInputTokens === undefined || isCount(usage.cachedAudioInputTokens)) &&
    (usage.reasoningTokens === undefined || isCount(usage.reasoningTokens)) &&
    (usage.webSearches === undefined || isCount(usage.webSearches)) &&
    (usage.webSearchPreviews === undefined || isCount(usage.webSearchPreviews)) &&
    (usage.fileSearches === undefined || isCount(usage.fileSearches));
  if (!counts) return countProblem(usage);
  const promptParts =
    usage.cachedInputTokens + (usage.cacheWriteTokens ?? 0) + (usage.cacheWrite1hTokens ?? 0);
  if (promptParts > usage.inputTokens) {
    return `cache reads and writes (${promptParts}) are parts of inputTokens (${usage.inputTokens}) and cannot exceed it`;
  }
  const audio = usage.audioInputTokens ?? 0;
  const cachedAudio = usage.cachedAudioInputTokens ?? 0;
  if (cachedAudio > usage.cachedInputTokens || cachedAudio > audio) {
    return `cachedAudioInputTokens (${cachedAudio}) are part of cachedInputTokens (${usage.cachedInputTokens}) and of audioInputTokens (${audio})`;
  }
  if (audio - cachedAudio > usage.inputTokens - promptParts) {
    return `uncached audio (${audio - cachedAudio}) is part of the uncached prompt (${usage.inputTokens - promptParts})`;
  }
  if ((usage.reasoningTokens ?? 0) > usage.outputTokens) {
    return `reasoningTokens (${usage.reasoningTokens}) are part of outputTokens (${usage.outputTokens})`;
  }
  if ((usage.webSearchPreviews ?? 0) > (usage.webSearches ?? 0)) {
    return `webSearchPreviews (${usage.webSearchPreviews}) are part of webSearches (${usage.webSearches ?? 0})`;
  }
  return null;
}

const isCount = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;

/** Which count is not a non-negative integer (checkUsage found one). */
function countProblem(usage: TokenUsage): string | null {
  const fields: Array<[string, number | undefined]> = [
    ['inputTokens', usage.inputTokens],
    ['outputTokens', usage.outputTokens],
    ['cachedInputTokens', usage.cachedInputTokens],
    ['cacheWriteTokens', usage.cacheWriteTokens],
    ['cacheWrite1hTokens', usage.cacheWrite1hTokens],
    ['audioInputTokens', usage.audioInputTokens],
    ['cachedAudioInputTokens', usage.cachedAudioInputTokens],
    ['reasoningTokens', usage.reasoningTokens],
    ['webSearches', usage.webSearches],
    ['webSearchPreviews', usage.webSearchPreviews],
    ['fileSearches', usage.fileSearches],
  ];
  for (const [name, value] of fields) {
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0)
      return `${name} must be a non-negative integer, got ${value}`;
  }
  return null;
}

/** Rates as integers of 10^-COST_SCALE currency units per `unit` tokens (prices have at most 10 decimals). */
interface CompiledRates {
  readonly input: bigint;
  readonly cachedInput: bigint;
  readonly cacheWrite: bigint;
  readonly cacheWrite1h: bigint;
  readonly audioInput: bigint;
  readonly cachedAudioInput: bigint;
  readonly output: bigint;
  /** The same rates as numbers, when every one is a safe integer (the usual case); else null. */
  readonly numbers: {
    readonly input: number;
    readonly cachedInput: number;
    readonly cacheWrite: number;
    readonly cacheWrite1h: number;
    readonly audioInput: number;
    readonly cachedAudioInput: number;
    readonly output: number;
  } | null;
}

interface CompiledPrice {
  readonly base: CompiledRates;
  /** Descending by threshold, so the first one exceeded is the one that applies. */
  readonly tiers: ReadonlyArray<{ readonly above: number; readonly rates: CompiledRates }>;
  readonly unit: bigint;
  readonly unitNumber: number;
  /** Per web search, scaled (the price is per 1,000); 0 when the model has no search price. */
  readonly webSearchPer1000: bigint;
  /** Per `web_search_preview` search, scaled; the web search price when it has none of its own. */
  readonly webSearchPreviewPer1000: bigint;
  /** Per file search, scaled; 0 when the model has no file search price. */
  readonly fileSearchPer1000: bigint;
}

/** Scaled integers per price object, so the hot path neither parses strings nor allocates decimals. */
const compiled = new WeakMap<ModelPrice, CompiledPrice>();

const SCALE = 10n ** BigInt(COST_SCALE);

/** "2.5" -> 25000000000n (at scale 10); the price schema guarantees at most 10 decimals. */
function scaled(price: string): bigint {
  const dot = price.indexOf('.');
  if (dot < 0) return BigInt(price) * SCALE;
  const fraction = price.slice(dot + 1);
  if (fraction.length > COST_SCALE)
    throw new RangeError(`price ${price} has more than ${COST_SCALE} decimals`);
  return BigInt(price.slice(0, dot)) * SCALE + BigInt(fraction.padEnd(COST_SCALE, '0'));
}

function compileRates(
  r: Pick<
    PriceTier,
    'input' | 'cachedInput' | 'cacheWrite' | 'cacheWrite1h' | 'audioInput' | 'cachedAudioInput' | 'output'
  >,
): CompiledRates {
  const input = scaled(r.input);
  const cachedInput = r.cachedInput === undefined ? input : scaled(r.cachedInput);
  const cacheWrite = r.cacheWrite === undefined ? input : scaled(r.cacheWrite);
  // Without audio rates audio is text; with an audio rate but no cached one, a cached audio
  // token is charged the audio rate (no discount assumed, as cachedInput falls back to input).
  const audioInput = r.audioInput === undefined ? input : scaled(r.audioInput);
  const cachedAudioInput =
    r.cachedAudioInput !== undefined
      ? scaled(r.cachedAudioInput)
      : r.audioInput !== undefined
        ? audioInput
        : cachedInput;
  const rates = {
    input,
    cachedInput,
    cacheWrite,
    cacheWrite1h: r.cacheWrite1h === undefined ? cacheWrite : scaled(r.cacheWrite1h),
    audioInput,
    cachedAudioInput,
    output: scaled(r.output),
  };
  const all = [
    rates.input,
    rates.cachedInput,
    rates.cacheWrite,
    rates.cacheWrite1h,
    rates.audioInput,
    rates.cachedAudioInput,
    rates.output,
  ];
  const safe = all.every((rate) => rate <= BigInt(Number.MAX_SAFE_INTEGER));
  return {
    ...rates,
    numbers: safe
      ? {
          input: Number(rates.input),
          cachedInput: Number(rates.cachedInput),
          cacheWrite: Number(rates.cacheWrite),
          cacheWrite1h: Number(rates.cacheWrite1h),
          audioInput: Number(rates.audioInput),
          cachedAudioInput: Number(rates.cachedAudioInput),
          output: Number(rates.output),
        }
      : null,
  };
}

function compile(price: ModelPrice): CompiledPrice {
  let c = compiled.get(price);
  if (c === undefined) {
    const webSearch = price.webSearch === undefined ? 0n : scaled(price.webSearch);
    const tiers = (price.tiers ?? [])
      .map((t) => ({ above: t.aboveInputTokens, rates: compileRates(t) }))
      .sort((a, b) => b.above - a.above);
    c = {
      base: compileRates(price),
      tiers,
      unit: BigInt(price.unitTokens),
      unitNumber: price.unitTokens,
      webSearchPer1000: webSearch,
      webSearchPreviewPer1000:
        price.webSearchPreview === undefined ? webSearch : scaled(price.webSearchPreview),
      fileSearchPer1000: price.fileSearch === undefined ? 0n : scaled(price.fileSearch),
    };
    compiled.set(price, c);
  }
  return c;
}

/** tokens * rate / unit, rounded half up to COST_SCALE decimals (exact integer arithmetic). */
function part(tokens: number, rate: bigint, unit: bigint): bigint {
  if (tokens === 0) return 0n;
  const numerator = BigInt(tokens) * rate;
  const quotient = numerator / unit;
  return (numerator % unit) * 2n >= unit ? quotient + 1n : quotient;
}

/**
 * The same as `part` in doubles, exact while every product stays a safe integer; NaN when
 * one would not (the caller then takes the bigint path). Costs are priced on every request,
 * and bigint arithmetic and formatting was most of what pricing cost there.
 */
function partNumber(tokens: number, rate: number, unit: number): number {
  if (tokens === 0) return 0;
  const numerator = tokens * rate;
  // A double at or below MAX_SAFE_INTEGER is the exact product (a larger one would round up past it).
  if (numerator > Number.MAX_SAFE_INTEGER) return Number.NaN;
  let quotient = Math.floor(numerator / unit);
  let remainder = numerator - quotient * unit;
  // The division was rounded: bring quotient and remainder back to the exact ones.
  if (remainder < 0) {
    quotient -= 1;
    remainder += unit;
  } else if (remainder >= unit) {
    quotient += 1;
    remainder -= unit;
  }
  return remainder * 2 >= unit ? quotient + 1 : quotient;
}

const SCALE_NUMBER = 10 ** COST_SCALE;

/** `formatScaled` of a safe integer. */
function formatScaledNumber(value: number): string {
  const whole = Math.floor(value / SCALE_NUMBER);
  const fraction = value - whole * SCALE_NUMBER;
  if (fraction === 0) return String(whole);
  return `${whole}.${String(fraction).padStart(COST_SCALE, '0').replace(/0+$/, '')}`;
}

/** 4503000n -> "0.0004503": no exponent, no trailing zeros. */
function formatScaled(value: bigint): string {
  const whole = value / SCALE;
  const fraction = value % SCALE;
  if (fraction === 0n) return whole.toString();
  return `${whole}.${fraction.toString().padStart(COST_SCALE, '0').replace(/0+$/, '')}`;
}

/**
 * The cost of `usage` at `price`. Throws InvalidUsageError for usage that cannot be real
 * (see checkUsage); adapters normalise provider usage before calling this.
 *
 * Computed in doubles while every product is a safe integer (checked; the usual case), else
 * in bigints: the same digits either way (tested against `computeCostWithBigints`).
 *
 * Properties (tested): zero usage costs exactly "0"; the cost never decreases when
 * inputTokens or outputTokens grow, and never increases when part of the prompt moves from
 * uncached to cached (the shipped table keeps cachedInput <= input <= cacheWrite <= cacheWrite1h
 * and tier rates >= base rates).
 */
export function computeCost(price: ModelPrice, usage: TokenUsage): Cost {
  const { c, rates, tierAbove, parts } = prepare(price, usage);
  const n = rates.numbers;
  if (n !== null) {
    const unit = c.unitNumber;
    const input =
      partNumber(parts.uncachedText, n.input, unit) + partNumber(parts.uncachedAudio, n.audioInput, unit);
    const cachedInput =
      partNumber(parts.cachedText, n.cachedInput, unit) +
      partNumber(parts.cachedAudio, n.cachedAudioInput, unit);
    const cacheWrite =
      partNumber(parts.write5m, n.cacheWrite, unit) + partNumber(parts.write1h, n.cacheWrite1h, unit);
    const output = partNumber(usage.outputTokens, n.output, unit);
    const previews = usage.webSearchPreviews ?? 0;
    const webSearch = usage.webSearches
      ? partNumber(usage.webSearches - previews, Number(c.webSearchPer1000), 1000) +
        partNumber(previews, Number(c.webSearchPreviewPer1000), 1000)
      : 0;
    const fileSearch = usage.fileSearches
      ? partNumber(usage.fileSearches, Number(c.fileSearchPer1000), 1000)
      : 0;
    const total = input + cachedInput + cacheWrite + output + webSearch + fileSearch;
    // NaN (a product too large for doubles) fails this too: then bigints.
    if (total <= Number.MAX_SAFE_INTEGER) {
      return {
        amount: formatScaledNumber(total),
        currency: price.currency,
        breakdown: {
          input: formatScaledNumber(input),
          cachedInput: formatScaledNumber(cachedInput),
          cacheWrite: formatScaledNumber(cacheWrite),
          output: formatScaledNumber(output),
          webSearch: formatScaledNumber(webSearch),
          fileSearch: formatScaledNumber(fileSearch),
        },
        tierAboveInputTokens: tierAbove,
      };
    }
  }
  return costWithBigints(price, usage, c, rates, tierAbove, parts);
}

/** `computeCost` in bigints only: the reference its fast path is tested against. */
export function computeCostWithBigints(price: ModelPrice, usage: TokenUsage): Cost {
  const { c, rates, tierAbove, parts } = prepare(price, usage);
  return costWithBigints(price, usage, c, rates, tierAbove, parts);
}

/** The prompt cut into the parts each priced at one rate. */
interface PromptParts {
  readonly uncachedText: number;
  readonly uncachedAudio: number;
  readonly cachedText: number;
  readonly cachedAudio: number;
  readonly write5m: number;
  readonly write1h: number;
}

/** Checks the usage, and picks the rates (the tier) and the prompt's parts. */
function prepare(price: ModelPrice, usage: TokenUsage) {
  const problem = checkUsage(usage);
  if (problem !== null) throw new InvalidUsageError(problem);

  const c = compile(price);
  let rates = c.base;
  let tierAbove: number | null = null;
  for (const tier of c.tiers) {
    if (usage.inputTokens > tier.above) {
      rates = tier.rates;
      tierAbove = tier.above;
      break;
    }
  }
  const write5m = usage.cacheWriteTokens ?? 0;
  const write1h = usage.cacheWrite1hTokens ?? 0;
  const cachedAudio = usage.cachedAudioInputTokens ?? 0;
  const uncachedAudio = (usage.audioInputTokens ?? 0) - cachedAudio;
  const parts: PromptParts = {
    uncachedText: usage.inputTokens - usage.cachedInputTokens - write5m - write1h - uncachedAudio,
    uncachedAudio,
    cachedText: usage.cachedInputTokens - cachedAudio,
    cachedAudio,
    write5m,
    write1h,
  };
  return { c, rates, tierAbove, parts };
}

function costWithBigints(
  price: ModelPrice,
  usage: TokenUsage,
  c: CompiledPrice,
  rates: CompiledRates,
  tierAbove: number | null,
  parts: PromptParts,
): Cost {
  const input =
    part(parts.uncachedText, rates.input, c.unit) + part(parts.uncachedAudio, rates.audioInput, c.unit);
  const cachedInput =
    part(parts.cachedText, rates.cachedInput, c.unit) +
    part(parts.cachedAudio, rates.cachedAudioInput, c.unit);
  const cacheWrite =
    part(parts.write5m, rates.cacheWrite, c.unit) + part(parts.write1h, rates.cacheWrite1h, c.unit);
  const output = part(usage.outputTokens, rates.output, c.unit);
  const previews = usage.webSearchPreviews ?? 0;
  const webSearch =
    part((usage.webSearches ?? 0) - previews, c.webSearchPer1000, 1000n) +
    part(previews, c.webSearchPreviewPer1000, 1000n);
  const fileSearch = part(usage.fileSearches ?? 0, c.fileSearchPer1000, 1000n);
  return {
    amount: formatScaled(input + cachedInput + cacheWrite + output + webSearch + fileSearch),
    currency: price.currency,
    breakdown: {
      input: formatScaled(input),
      cachedInput: formatScaled(cachedInput),
      cacheWrite: formatScaled(cacheWrite),
      output: formatScaled(output),
      webSearch: formatScaled(webSearch),
      fileSearch: formatScaled(fileSearch),
    },
    tierAboveInputTokens: tierAbove,
  };
}

/** Compares two decimal amounts (for tests and reports): -1, 0 or 1. */
export function compareAmounts(a: string, b: string): -1 | 0 | 1 {
  return new D(a).comparedTo(new D(b)) as -1 | 0 | 1;
}

/** Adds decimal amounts of one currency exactly (for reports and budget counters). */
export function addAmounts(amounts: readonly string[]): string {
  let sum = ZERO;
  for (const a of amounts) sum = sum.plus(new D(a));
  return sum.toFixed();
}

/**
 * A non-negative amount as the events' decimal (12 places at most, no exponent, no trailing
 * zeros); undefined past what an event holds.
 */
export function amountOfNumber(amount: number): string | undefined {
  if (!(amount >= 0 && amount < 1e15)) return undefined;
  const fixed = amount.toFixed(12);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}
