import { Decimal } from 'decimal.js';
import { type Cost, computeCost, type TokenUsage } from './cost.js';
import { type MatchKind, nameCandidates, normalizeModelName } from './model-match.js';
import { inPeakHours } from './peak-hours.js';
import {
  type ModelPrice,
  type OrgPriceOverride,
  type OrgPriceOverrideInput,
  orgPriceOverride,
  type PriceTable,
  type PriceTableEntry,
  type PriceTier,
  priceTable,
} from './price-schema.js';
import { SHIPPED_PRICE_TABLE } from './price-table.js';

/*
 * The prices one gateway uses: the shipped table, with each org's overrides layered on top.
 *
 * Precedence, for a requested name: candidate names are tried most specific first (exact,
 * then snapshot stripped, then provider prefix stripped; see model-match.ts), and for each
 * candidate an org override in effect at the request's time beats the shipped entry. So an
 * override of `gpt-4o` prices `gpt-4o-2024-08-06` for that org, but the shipped exact entry
 * `gpt-4o-2024-05-13` (a different price) still prices that snapshot unless the org
 * overrides it by its own name.
 *
 * Among several overrides of one model by one org, the one with the latest effectiveFrom
 * that is not after the request's time applies; a future one waits for its date.
 *
 * An unknown model is not an error and never a silent zero: the result is
 * `{ status: 'unpriced' }` and the caller decides (the gateway records the request with no
 * cost and an unpriced flag, and finance prices the model with an override).
 */

export type PriceSource =
  | {
      readonly kind: 'shipped';
      /** The table's asOf date. */
      readonly asOf: string;
      readonly provider: string;
      /** When this provider's prices were last read, and from where. */
      readonly checkedAt: string;
      readonly source: string;
    }
  | {
      readonly kind: 'org-override';
      readonly orgId: string;
      readonly overrideId: string | null;
      /** As the override states it (`2026-12-01` or a date-time). */
      readonly effectiveFrom: string;
      /** The shipped table date of the fields the override did not set; null if none inherited. */
      readonly inheritedFromAsOf: string | null;
    };

export type UnpricedReason =
  /** Neither the shipped table nor the org knows the model. */
  | 'unknown-model'
  /** The org's override lacks input/output/currency and there is no shipped entry to fill them. */
  | 'incomplete-override'
  /** The request was billed at a service tier (priority) or speed (fast) the model has no price for. */
  | 'service-tier'
  /** The provider ran tool calls billed apiece (web or file searches) the model has no price for. */
  | 'tool-fee';

export type PriceLookup =
  | {
      readonly status: 'priced';
      /** The name as requested. */
      readonly model: string;
      /** The table key (or override model name) that priced it. */
      readonly matchedKey: string;
      readonly matchedBy: MatchKind;
      /** The provider of the shipped entry; null for an override of a model the table lacks. */
      readonly provider: string | null;
      readonly price: ModelPrice;
      readonly source: PriceSource;
    }
  | {
      readonly status: 'unpriced';
      readonly model: string;
      readonly reason: UnpricedReason;
      readonly detail: string;
    };

export type PricedRequest =
  | (Extract<PriceLookup, { status: 'priced' }> & { readonly cost: Cost })
  | Extract<PriceLookup, { status: 'unpriced' }>;

export interface LookupOptions {
  /** Whose overrides apply; none when absent. */
  readonly orgId?: string;
  /**
   * The request's time (a Date or epoch milliseconds): it chooses the override in effect and,
   * for a price with peak hours, the rates. Defaults to now.
   */
  readonly at?: Date | number;
}

export interface PriceRequestOptions extends LookupOptions {
  /**
   * The provider does not bill cache reads (GigaChat's `precached_prompt_tokens`): a price
   * without its own `cachedInput` charges them nothing rather than the input rate. A price that
   * names `cachedInput` is still what it says.
   */
  readonly cacheReadsUnbilled?: boolean;
}

export class PriceBookError extends Error {
  constructor(
    message: string,
    readonly issues: readonly string[],
  ) {
    super(message);
    this.name = 'PriceBookError';
  }
}

type ResolvedOverride =
  | {
      readonly ok: true;
      readonly provider: string | null;
      readonly price: ModelPrice;
      readonly source: PriceSource;
    }
  | {
      readonly ok: false;
      readonly detail: string;
      /** The fields it would need, and why they were not inherited. */
      readonly missing: readonly string[];
      readonly tableEntry: boolean;
    };

interface CompiledOverride {
  readonly override: OrgPriceOverride;
  /** Its place in the list the book was given (to name it in `listProblems`). */
  readonly index: number;
  readonly effectiveFromMs: number;
  /** The price it yields, merged with the shipped entry when it was indexed. */
  readonly resolved: ResolvedOverride;
}

export interface ShippedIndex {
  readonly table: PriceTable;
  /** Canonical key -> entry. */
  readonly entries: ReadonlyMap<string, PriceTableEntry>;
  /** Alias -> canonical key. */
  readonly aliases: ReadonlyMap<string, string>;
  /** Cached plain prices per canonical key (stable objects, so cost compilation is cached too). */
  readonly prices: ReadonlyMap<string, ModelPrice>;
}

function toModelPrice(entry: PriceTableEntry): ModelPrice {
  const price: ModelPrice = {
    input: entry.input,
    output: entry.output,
    currency: entry.currency,
    unitTokens: entry.unitTokens,
  };
  if (entry.cachedInput !== undefined) price.cachedInput = entry.cachedInput;
  if (entry.cacheWrite !== undefined) price.cacheWrite = entry.cacheWrite;
  if (entry.cacheWrite1h !== undefined) price.cacheWrite1h = entry.cacheWrite1h;
  if (entry.audioInput !== undefined) price.audioInput = entry.audioInput;
  if (entry.cachedAudioInput !== undefined) price.cachedAudioInput = entry.cachedAudioInput;
  if (entry.webSearch !== undefined) price.webSearch = entry.webSearch;
  if (entry.webSearchPreview !== undefined) price.webSearchPreview = entry.webSearchPreview;
  if (entry.fileSearch !== undefined) price.fileSearch = entry.fileSearch;
  if (entry.priority !== undefined) price.priority = { ...entry.priority };
  if (entry.fastMultiplier !== undefined) price.fastMultiplier = entry.fastMultiplier;
  if (entry.peakHours !== undefined) price.peakHours = entry.peakHours;
  if (entry.tiers !== undefined) price.tiers = entry.tiers.map((t) => ({ ...t }));
  return deepFreeze(price);
}

/** Prices derived from a price object (a service tier's, US-only inference's), made once each. */
const variants = new WeakMap<ModelPrice, Map<string, ModelPrice | undefined>>();

function variant(
  price: ModelPrice,
  name: string,
  make: () => ModelPrice | undefined,
): ModelPrice | undefined {
  let made = variants.get(price);
  if (made === undefined) {
    made = new Map();
    variants.set(price, made);
  }
  if (!made.has(name)) made.set(name, make());
  return made.get(name);
}

/**
 * The price with cache reads at 0 where it names no rate for them, made once a price. Its
 * long-context tiers too: a tier replaces the rates of the whole request, and one without its
 * own cachedInput would bill the reads at the tier's input rate.
 */
function withUnbilledCacheReads(price: ModelPrice): ModelPrice {
  const unnamed = (rates: { cachedInput?: string }) => rates.cachedInput === undefined;
  if (!unnamed(price) && !price.tiers?.some(unnamed)) return price;
  return (
    variant(price, 'unbilled-cache-reads', () => {
      const free = { ...price, cachedInput: price.cachedInput ?? '0' };
      if (price.tiers !== undefined)
        free.tiers = price.tiers.map((tier) => ({ ...tier, cachedInput: tier.cachedInput ?? '0' }));
      return deepFreeze(free);
    }) ?? price
  );
}

/**
 * Claude's US-only inference (`inference_geo: "us"`, Opus 4.6 and later): every token rate
 * 1.1x (Anthropic's pricing; the models before it refuse the parameter).
 */
const US_ONLY_INFERENCE = '1.1';

/**
 * A model's price at a service tier: flex at half of every token rate (OpenAI's rule, the
 * Batch API's discount), priority at its own published rates, which exclude long context (a
 * prompt past the model's first long-context threshold has none). Undefined: no price.
 */
function serviceTierPrice(
  price: ModelPrice,
  tier: 'priority' | 'flex',
  inputTokens: number,
): ModelPrice | undefined {
  if (tier === 'flex') return variant(price, 'flex', () => scaledPrice(price, '0.5'));
  if (price.tiers?.some((t) => inputTokens > t.aboveInputTokens)) return undefined;
  return variant(price, 'priority', () => priorityPrice(price));
}

/** Every token rate (long-context tiers' too) times `factor`, exactly, to 10 decimals; no priority rates. */
function scaledPrice(price: ModelPrice, factor: string): ModelPrice {
  const times = (rate: string) =>
    new Decimal(rate).times(factor).toDecimalPlaces(10, Decimal.ROUND_HALF_UP).toFixed();
  const rates = <R extends Omit<PriceTier, 'aboveInputTokens'>>(r: R): R => {
    const out = { ...r, input: times(r.input), output: times(r.output) };
    if (r.cachedInput !== undefined) out.cachedInput = times(r.cachedInput);
    if (r.cacheWrite !== undefined) out.cacheWrite = times(r.cacheWrite);
    if (r.cacheWrite1h !== undefined) out.cacheWrite1h = times(r.cacheWrite1h);
    if (r.audioInput !== undefined) out.audioInput = times(r.audioInput);
    if (r.cachedAudioInput !== undefined) out.cachedAudioInput = times(r.cachedAudioInput);
    return out;
  };
  const { priority: _, ...base } = price;
  const scaled: ModelPrice = rates(base);
  if (price.tiers !== undefined) scaled.tiers = price.tiers.map((tier) => rates(tier));
  return deepFreeze(scaled);
}

function priorityPrice(price: ModelPrice): ModelPrice | undefined {
  if (price.priority === undefined) return undefined;
  const priority: ModelPrice = {
    ...price.priority,
    currency: price.currency,
    unitTokens: price.unitTokens,
  };
  if (price.webSearch !== undefined) priority.webSearch = price.webSearch;
  if (price.webSearchPreview !== undefined) priority.webSearchPreview = price.webSearchPreview;
  if (price.fileSearch !== undefined) priority.fileSearch = price.fileSearch;
  return deepFreeze(priority);
}

/** A request's time as epoch milliseconds; now when not given. */
function epochMs(at: Date | number | undefined): number {
  return at === undefined ? Date.now() : typeof at === 'number' ? at : at.getTime();
}

/** Prices handed out are shared between requests: nobody may change them. */
function deepFreeze(price: ModelPrice): ModelPrice {
  for (const tier of price.tiers ?? []) Object.freeze(tier);
  if (price.tiers !== undefined) Object.freeze(price.tiers);
  return Object.freeze(price);
}

/** Validates a table and indexes it; throws PriceBookError listing every problem. */
export function indexPriceTable(input: unknown): ShippedIndex {
  const parsed = priceTable.safeParse(input);
  if (!parsed.success) {
    throw new PriceBookError(
      'invalid price table',
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    );
  }
  const table = parsed.data;
  const issues: string[] = [];
  const entries = new Map<string, PriceTableEntry>();
  const aliases = new Map<string, string>();
  const prices = new Map<string, ModelPrice>();
  for (const [key, entry] of Object.entries(table.models)) {
    if (table.providers[entry.provider] === undefined) {
      issues.push(`models.${key}: provider ${entry.provider} has no source in providers`);
    }
    entries.set(key, entry);
    prices.set(key, toModelPrice(entry));
  }
  for (const [key, entry] of Object.entries(table.models)) {
    for (const alias of entry.aliases ?? []) {
      if (entries.has(alias) || aliases.has(alias))
        issues.push(`models.${key}: alias ${alias} is used twice`);
      aliases.set(alias, key);
    }
  }
  if (issues.length > 0) throw new PriceBookError('invalid price table', issues);
  return { table, entries, aliases, prices };
}

let shippedIndex: ShippedIndex | undefined;
function shipped(): ShippedIndex {
  shippedIndex ??= indexPriceTable(SHIPPED_PRICE_TABLE);
  return shippedIndex;
}

/** A model name's candidate keys and its shipped match (`PriceBook.#resolved`). */
interface ResolvedName {
  readonly candidates: ReadonlyArray<{ readonly key: string; readonly matchedBy: MatchKind }>;
  /** Index of the candidate the shipped table prices, or -1. */
  readonly shippedAt: number;
  shipped: Extract<PriceLookup, { status: 'priced' }> | undefined;
}

/** Model names whose resolution a price book keeps. */
const MAX_REMEMBERED_NAMES = 4096;

export class PriceBook {
  readonly #shipped: ShippedIndex;
  readonly #names = new Map<string, ResolvedName>();
  /** orgId -> canonical model key -> overrides, latest effectiveFrom first. */
  readonly #overrides: ReadonlyMap<string, ReadonlyMap<string, readonly CompiledOverride[]>>;

  /**
   * @param options.table a price table to use instead of the shipped one (validated here)
   * @param options.overrides org overrides (validated here; throws PriceBookError on any invalid one)
   */
  constructor(options: { table?: unknown; overrides?: readonly OrgPriceOverrideInput[] } = {}) {
    this.#shipped = options.table === undefined ? shipped() : indexPriceTable(options.table);
    this.#overrides = this.#indexOverrides(options.overrides ?? []);
  }

  /** The shipped table with no overrides. */
  static shipped(): PriceBook {
    return new PriceBook();
  }

  /**
   * What keeps an org's price list from pricing what it names, found before the list is
   * stored (config file, admin API) rather than at request time: an entry the book refuses
   * (the whole list would be ignored) or one it cannot complete (a model the shipped table
   * lacks, given without input, output or currency, would stay unpriced: no cost recorded,
   * and free to every USD budget). Empty when every entry prices its model.
   */
  static listProblems(
    prices: readonly Omit<OrgPriceOverrideInput, 'orgId'>[],
  ): Array<{ index: number | null; message: string }> {
    const orgId = 'this list'; // named in the book's own messages ("this list already overrides...")
    let book: PriceBook;
    try {
      book = PriceBook.shipped().withOverrides(prices.map((price) => ({ ...price, orgId })));
    } catch (error) {
      if (!(error instanceof PriceBookError)) throw error;
      return error.issues.map((issue) => {
        const at = /^overrides\[(\d+)\]\.?:?\s*(.*)$/.exec(issue);
        return at ? { index: Number(at[1]), message: at[2]! } : { index: null, message: issue };
      });
    }
    const problems: Array<{ index: number; message: string }> = [];
    for (const compiled of book.#overrides.get(orgId)?.values() ?? []) {
      for (const { override, index, resolved } of compiled) {
        if (resolved.ok) continue;
        const needs = resolved.missing
          .map((field) => (field === 'currency' ? 'currency (USD, EUR, RUB...)' : field))
          .join(', ');
        problems.push({
          index,
          message: resolved.tableEntry
            ? `${override.model} in another currency or unit than the shipped table's takes nothing from it: give ${needs}`
            : `the shipped price table has no ${override.model} to take the rest from: give ${needs}`,
        });
      }
    }
    return problems.sort((a, b) => a.index - b.index);
  }

  /** A new book with the same table and these overrides (e.g. after a projection update). */
  withOverrides(overrides: readonly OrgPriceOverrideInput[]): PriceBook {
    return new PriceBook({ table: this.#shipped.table, overrides });
  }

  /** The table's asOf date. */
  get asOf(): string {
    return this.#shipped.table.asOf;
  }

  /** Every canonical model key of the table (for `GET /v1/models`, docs, tests). */
  shippedModels(): string[] {
    return [...this.#shipped.entries.keys()];
  }

  lookup(model: string, options: LookupOptions = {}): PriceLookup {
    const orgOverrides = options.orgId === undefined ? undefined : this.#overrides.get(options.orgId);
    const atMs = orgOverrides === undefined ? 0 : epochMs(options.at);
    const resolved = this.#resolved(model);
    // An org's override of a name tried before (or the same as) the shipped match wins, if in effect.
    if (orgOverrides !== undefined) {
      const { candidates, shippedAt } = resolved;
      const last = shippedAt < 0 ? candidates.length - 1 : shippedAt;
      for (let i = 0; i <= last; i++) {
        const candidate = candidates[i] as { key: string; matchedBy: MatchKind };
        const override = effectiveOverride(orgOverrides.get(candidate.key), atMs);
        if (override !== undefined)
          return this.#fromOverride(model, candidate.key, candidate.matchedBy, override);
      }
    }
    if (resolved.shipped !== undefined) return resolved.shipped;
    return {
      status: 'unpriced',
      model,
      reason: 'unknown-model',
      detail: `no price for ${model} in the table of ${this.#shipped.table.asOf}${options.orgId === undefined ? '' : ` nor in the overrides of ${options.orgId}`}`,
    };
  }

  /**
   * Looks the model up and, when priced, computes the cost of `usage`, at the rates of the
   * service tier that billed it (`usage.serviceTier`: priority's own, flex half the base ones)
   * and of where it ran (`usage.inferenceGeo`: Claude's US-only inference at 1.1x), and at the
   * price's peak multiple when `options.at` (the request's arrival) is in its peak hours.
   */
  priceRequest(model: string, usage: TokenUsage, options: PriceRequestOptions = {}): PricedRequest {
    const looked = this.lookup(model, options);
    if (looked.status === 'unpriced') return looked;
    const unbilled = options.cacheReadsUnbilled ? withUnbilledCacheReads(looked.price) : looked.price;
    const found = unbilled === looked.price ? looked : { ...looked, price: unbilled };
    // Searches billed apiece at no price are unpriced, not free (a model the table does not
    // know as a searcher; an org's own model, whose prices are for tokens only).
    const unpricedTool =
      usage.webSearches && found.price.webSearch === undefined
        ? 'web searches'
        : usage.fileSearches && found.price.fileSearch === undefined
          ? 'file searches'
          : undefined;
    if (unpricedTool !== undefined)
      return {
        status: 'unpriced',
        model,
        reason: 'tool-fee',
        detail: `no price for ${unpricedTool} with ${model}`,
      };
    const peak = found.price.peakHours;
    const atPeak = peak !== undefined && inPeakHours(peak, epochMs(options.at));
    if (
      usage.serviceTier === undefined &&
      usage.inferenceGeo === undefined &&
      usage.speed === undefined &&
      !atPeak
    )
      return { ...found, cost: computeCost(found.price, usage) };
    let price = found.price;
    if (usage.serviceTier !== undefined) {
      const tierPrice = serviceTierPrice(found.price, usage.serviceTier, usage.inputTokens);
      if (tierPrice === undefined) {
        return {
          status: 'unpriced',
          model,
          reason: 'service-tier',
          detail: `no ${usage.serviceTier} price for ${model}${found.price.tiers?.length ? ' at this prompt length' : ''}`,
        };
      }
      price = tierPrice;
    }
    if (usage.speed === 'fast') {
      const multiplier = found.price.fastMultiplier;
      if (multiplier === undefined)
        return {
          status: 'unpriced',
          model,
          reason: 'service-tier',
          detail: `no fast mode price for ${model}`,
        };
      const base = price;
      price = variant(base, 'fast', () => scaledPrice(base, multiplier)) ?? base;
    }
    if (usage.inferenceGeo === 'us') {
      const base = price;
      price = variant(base, 'us', () => scaledPrice(base, US_ONLY_INFERENCE)) ?? base;
    }
    if (atPeak) {
      const base = price;
      price = variant(base, 'peak', () => scaledPrice(base, peak.multiplier)) ?? base;
    }
    return { ...found, price, cost: computeCost(price, usage) };
  }

  /**
   * What does not change between lookups of one model name: its candidate keys (canonical),
   * and the shipped table's match, made once (every request is priced; the names, aliases
   * and regular expressions of `nameCandidates` cost more than the rest of pricing).
   */
  #resolved(model: string): ResolvedName {
    let resolved = this.#names.get(model);
    if (resolved === undefined) {
      const candidates = nameCandidates(model).map((c) => ({
        key: this.#canonical(c.key),
        matchedBy: c.matchedBy,
      }));
      const shippedAt = candidates.findIndex(
        (c) => this.#shipped.entries.has(c.key) && this.#shipped.prices.has(c.key),
      );
      resolved = { candidates, shippedAt, shipped: undefined };
      const match = candidates[shippedAt];
      const entry = match && this.#shipped.entries.get(match.key);
      const price = match && this.#shipped.prices.get(match.key);
      if (match && entry !== undefined && price !== undefined) {
        const provider = this.#shipped.table.providers[entry.provider];
        resolved.shipped = Object.freeze({
          status: 'priced',
          model,
          matchedKey: match.key,
          matchedBy: match.matchedBy,
          provider: entry.provider,
          price,
          source: Object.freeze({
            kind: 'shipped',
            asOf: this.#shipped.table.asOf,
            provider: entry.provider,
            checkedAt: provider?.checkedAt ?? this.#shipped.table.asOf,
            source: provider?.source ?? '',
          }),
        } as const);
      }
      // Model names come from callers: the bound keeps a flood of made-up names from growing it.
      if (this.#names.size >= MAX_REMEMBERED_NAMES) this.#names.clear();
      this.#names.set(model, resolved);
    }
    return resolved;
  }

  #canonical(key: string): string {
    return this.#shipped.aliases.get(key) ?? key;
  }

  #fromOverride(model: string, key: string, matchedBy: MatchKind, c: CompiledOverride): PriceLookup {
    const r = c.resolved;
    if (!r.ok) return { status: 'unpriced', model, reason: 'incomplete-override', detail: r.detail };
    return {
      status: 'priced',
      model,
      matchedKey: key,
      matchedBy,
      provider: r.provider,
      price: r.price,
      source: r.source,
    };
  }

  /** Merges an override with the shipped entry of the same model, once, at indexing time. */
  #resolve(key: string, o: OrgPriceOverride): ResolvedOverride {
    const base = this.#shipped.entries.get(key);
    const currency = o.currency ?? base?.currency;
    const unitTokens = o.unitTokens ?? base?.unitTokens ?? 1_000_000;
    const inherit =
      base !== undefined && currency === base.currency && unitTokens === base.unitTokens ? base : undefined;
    const input = o.input ?? inherit?.input;
    const output = o.output ?? inherit?.output;
    if (currency === undefined || input === undefined || output === undefined) {
      const missing = [
        currency === undefined && 'currency',
        input === undefined && 'input',
        output === undefined && 'output',
      ].filter((field) => field !== false);
      return {
        ok: false,
        detail: `override of ${o.model} for ${o.orgId} lacks ${missing.join(', ')}${base === undefined ? ' and the table has no entry to inherit from' : ' (not inherited: currency or unit differs from the table)'}`,
        missing,
        tableEntry: base !== undefined,
      };
    }
    const price: ModelPrice = { input, output, currency, unitTokens };
    // An org's rate is the whole price of its tokens: the table's rates set relative to the
    // one it replaces (cache reads and writes to input; long-context tiers to both) do not
    // come along, or a price of 0 would still bill cache reads and a long prompt would be
    // billed at the table's tier instead of the org's rates.
    const derivesFromTable = o.input === undefined ? inherit : undefined;
    const tiersFromTable = o.output === undefined ? derivesFromTable : undefined;
    const cachedInput = o.cachedInput ?? derivesFromTable?.cachedInput;
    const cacheWrite = o.cacheWrite ?? derivesFromTable?.cacheWrite;
    const cacheWrite1h = o.cacheWrite1h ?? derivesFromTable?.cacheWrite1h;
    const tiers = o.tiers ?? tiersFromTable?.tiers;
    if (cachedInput !== undefined) price.cachedInput = cachedInput;
    if (cacheWrite !== undefined) price.cacheWrite = cacheWrite;
    if (cacheWrite1h !== undefined) price.cacheWrite1h = cacheWrite1h;
    // Org prices have no audio rates: the table's stay (audio billed at a text rate would
    // under-bill it several times).
    if (inherit?.audioInput !== undefined) price.audioInput = inherit.audioInput;
    if (inherit?.cachedAudioInput !== undefined) price.cachedAudioInput = inherit.cachedAudioInput;
    // An override prices the standard tier: the table's priority rates and fast-mode multiple
    // stay, as its search price.
    if (inherit?.priority !== undefined) price.priority = inherit.priority;
    if (inherit?.fastMultiplier !== undefined) price.fastMultiplier = inherit.fastMultiplier;
    // Peak hours are a multiple of the table's rates, as its tiers are: an org with its own
    // input or output rate does not take them (its rates are the whole price), unless it gives
    // its own.
    const peakHours = o.peakHours ?? tiersFromTable?.peakHours;
    if (peakHours !== undefined) price.peakHours = peakHours;
    // Overrides price tokens only: the table's prices of tool calls (searches) stay.
    if (inherit?.webSearch !== undefined) price.webSearch = inherit.webSearch;
    if (inherit?.webSearchPreview !== undefined) price.webSearchPreview = inherit.webSearchPreview;
    if (inherit?.fileSearch !== undefined) price.fileSearch = inherit.fileSearch;
    if (tiers !== undefined && tiers.length > 0) price.tiers = tiers;

    const inherited =
      inherit !== undefined &&
      (o.input === undefined ||
        o.output === undefined ||
        (o.cachedInput === undefined && derivesFromTable?.cachedInput !== undefined) ||
        (o.cacheWrite === undefined && derivesFromTable?.cacheWrite !== undefined) ||
        (o.cacheWrite1h === undefined && derivesFromTable?.cacheWrite1h !== undefined) ||
        (o.tiers === undefined && tiersFromTable?.tiers !== undefined) ||
        inherit.audioInput !== undefined ||
        inherit.cachedAudioInput !== undefined ||
        inherit.webSearch !== undefined ||
        inherit.webSearchPreview !== undefined ||
        inherit.fileSearch !== undefined ||
        inherit.priority !== undefined ||
        inherit.fastMultiplier !== undefined ||
        (o.peakHours === undefined && tiersFromTable?.peakHours !== undefined));
    return {
      ok: true,
      provider: base?.provider ?? null,
      price: deepFreeze(price),
      source: Object.freeze({
        kind: 'org-override',
        orgId: o.orgId,
        overrideId: o.id ?? null,
        effectiveFrom: o.effectiveFrom,
        inheritedFromAsOf: inherited ? this.#shipped.table.asOf : null,
      }),
    };
  }

  #indexOverrides(inputs: readonly OrgPriceOverrideInput[]) {
    const issues: string[] = [];
    const byOrg = new Map<string, Map<string, CompiledOverride[]>>();
    inputs.forEach((input, i) => {
      const parsed = orgPriceOverride.safeParse(input);
      if (!parsed.success) {
        for (const issue of parsed.error.issues)
          issues.push(`overrides[${i}].${issue.path.join('.')}: ${issue.message}`);
        return;
      }
      const override = parsed.data;
      const effectiveFromMs = Date.parse(override.effectiveFrom);
      if (Number.isNaN(effectiveFromMs)) {
        issues.push(`overrides[${i}].effectiveFrom: not a date`);
        return;
      }
      const key = this.#canonical(normalizeModelName(override.model));
      let models = byOrg.get(override.orgId);
      if (models === undefined) {
        models = new Map();
        byOrg.set(override.orgId, models);
      }
      const list = models.get(key) ?? [];
      if (list.some((c) => c.effectiveFromMs === effectiveFromMs)) {
        issues.push(
          `overrides[${i}]: ${override.orgId} already overrides ${key} from ${override.effectiveFrom}`,
        );
        return;
      }
      list.push({ override, index: i, effectiveFromMs, resolved: this.#resolve(key, override) });
      list.sort((a, b) => b.effectiveFromMs - a.effectiveFromMs);
      models.set(key, list);
    });
    if (issues.length > 0) throw new PriceBookError('invalid price overrides', issues);
    return byOrg;
  }
}

function effectiveOverride(
  list: readonly CompiledOverride[] | undefined,
  atMs: number,
): CompiledOverride | undefined {
  if (list === undefined) return undefined;
  for (const c of list) if (c.effectiveFromMs <= atMs) return c;
  return undefined;
}
