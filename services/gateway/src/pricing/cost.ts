import { Decimal } from 'decimal.js';
import type { ModelPrice, PriceTier } from './price-schema.js';

/*
 * Cost of one request from its token usage and a model price, in exact decimal arithmetic.
 *
 * Usage is normalised the way RequestCompleted stores it: `inputTokens` is the WHOLE prompt.
 * Cache reads (`cachedInputTokens`) and cache writes (`cacheWriteTokens`,
 * `cacheWrite1hTokens`) are parts of it, not additions; `reasoningTokens` is part of
 * `outputTokens`. (An Anthropic adapter therefore reports
 * inputTokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.)
 *
 *   tier          = the highest tier whose aboveInputTokens < inputTokens, else the base rates
 *   uncached      = inputTokens - cachedInputTokens - cacheWriteTokens - cacheWrite1hTokens
 *   cost(input)   = uncached           * input                               / unitTokens
 *   cost(cached)  = cachedInputTokens  * (cachedInput ?? input)              / unitTokens
 *   cost(write)   = cacheWriteTokens   * (cacheWrite ?? input)               / unitTokens
 *                 + cacheWrite1hTokens * (cacheWrite1h ?? cacheWrite ?? input) / unitTokens
 *   cost(output)  = outputTokens       * output                              / unitTokens
 *
 * Each part is rounded half-up to COST_SCALE (10) decimal places, and the total is the sum
 * of the rounded parts, so a report's breakdown always adds up to its total. Amounts are
 * plain decimal strings without exponent and without trailing zeros: "0", "0.0004503".
 * With the shipped table's prices (at most 4 decimals per million tokens) nothing is ever
 * rounded away; the scale is there for org overrides with finer prices.
 */

export const COST_SCALE = 10;

/** Decimal with enough precision for token counts up to 2^53 times 10-decimal prices. */
const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -100, toExpPos: 100 });
type Dec = InstanceType<typeof D>;

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
  /** Part of outputTokens spent on reasoning; priced as output, kept for reports. */
  readonly reasoningTokens?: number;
}

export interface CostBreakdown {
  readonly input: string;
  readonly cachedInput: string;
  readonly cacheWrite: string;
  readonly output: string;
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
  const fields: Array<[string, number | undefined]> = [
    ['inputTokens', usage.inputTokens],
    ['outputTokens', usage.outputTokens],
    ['cachedInputTokens', usage.cachedInputTokens],
    ['cacheWriteTokens', usage.cacheWriteTokens],
    ['cacheWrite1hTokens', usage.cacheWrite1hTokens],
    ['reasoningTokens', usage.reasoningTokens],
  ];
  for (const [name, value] of fields) {
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0)
      return `${name} must be a non-negative integer, got ${value}`;
  }
  const promptParts =
    usage.cachedInputTokens + (usage.cacheWriteTokens ?? 0) + (usage.cacheWrite1hTokens ?? 0);
  if (promptParts > usage.inputTokens) {
    return `cache reads and writes (${promptParts}) are parts of inputTokens (${usage.inputTokens}) and cannot exceed it`;
  }
  if ((usage.reasoningTokens ?? 0) > usage.outputTokens) {
    return `reasoningTokens (${usage.reasoningTokens}) are part of outputTokens (${usage.outputTokens})`;
  }
  return null;
}

interface CompiledRates {
  readonly input: Dec;
  readonly cachedInput: Dec;
  readonly cacheWrite: Dec;
  readonly cacheWrite1h: Dec;
  readonly output: Dec;
}

interface CompiledPrice {
  readonly base: CompiledRates;
  /** Descending by threshold, so the first one exceeded is the one that applies. */
  readonly tiers: ReadonlyArray<{ readonly above: number; readonly rates: CompiledRates }>;
  readonly unit: Dec;
}

/** Parsed decimals per price object, so the hot path does not re-parse strings. */
const compiled = new WeakMap<ModelPrice, CompiledPrice>();

function compileRates(
  r: Pick<PriceTier, 'input' | 'cachedInput' | 'cacheWrite' | 'cacheWrite1h' | 'output'>,
): CompiledRates {
  const input = new D(r.input);
  const cacheWrite = r.cacheWrite === undefined ? input : new D(r.cacheWrite);
  return {
    input,
    cachedInput: r.cachedInput === undefined ? input : new D(r.cachedInput),
    cacheWrite,
    cacheWrite1h: r.cacheWrite1h === undefined ? cacheWrite : new D(r.cacheWrite1h),
    output: new D(r.output),
  };
}

function compile(price: ModelPrice): CompiledPrice {
  let c = compiled.get(price);
  if (c === undefined) {
    const tiers = (price.tiers ?? [])
      .map((t) => ({ above: t.aboveInputTokens, rates: compileRates(t) }))
      .sort((a, b) => b.above - a.above);
    c = { base: compileRates(price), tiers, unit: new D(price.unitTokens) };
    compiled.set(price, c);
  }
  return c;
}

function part(tokens: number, rate: Dec, unit: Dec): Dec {
  if (tokens === 0) return ZERO;
  return rate.times(tokens).dividedBy(unit).toDecimalPlaces(COST_SCALE, Decimal.ROUND_HALF_UP);
}

/**
 * The cost of `usage` at `price`. Throws InvalidUsageError for usage that cannot be real
 * (see checkUsage); adapters normalise provider usage before calling this.
 *
 * Properties (tested): zero usage costs exactly "0"; the cost never decreases when
 * inputTokens or outputTokens grow, and never increases when part of the prompt moves from
 * uncached to cached (the shipped table keeps cachedInput <= input <= cacheWrite <= cacheWrite1h
 * and tier rates >= base rates).
 */
export function computeCost(price: ModelPrice, usage: TokenUsage): Cost {
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
  const uncached = usage.inputTokens - usage.cachedInputTokens - write5m - write1h;

  const input = part(uncached, rates.input, c.unit);
  const cachedInput = part(usage.cachedInputTokens, rates.cachedInput, c.unit);
  const cacheWrite = part(write5m, rates.cacheWrite, c.unit).plus(part(write1h, rates.cacheWrite1h, c.unit));
  const output = part(usage.outputTokens, rates.output, c.unit);
  const total = input.plus(cachedInput).plus(cacheWrite).plus(output);

  return {
    amount: total.toFixed(),
    currency: price.currency,
    breakdown: {
      input: input.toFixed(),
      cachedInput: cachedInput.toFixed(),
      cacheWrite: cacheWrite.toFixed(),
      output: output.toFixed(),
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
