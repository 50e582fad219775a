export {
  addAmounts,
  amountOfNumber,
  COST_SCALE,
  type Cost,
  type CostBreakdown,
  checkUsage,
  compareAmounts,
  computeCost,
  InvalidUsageError,
  type TokenUsage,
} from './cost.js';
export { type MatchKind, type NameCandidate, nameCandidates, normalizeModelName } from './model-match.js';
export { inPeakHours } from './peak-hours.js';
export {
  indexPriceTable,
  type LookupOptions,
  PriceBook,
  PriceBookError,
  type PricedRequest,
  type PriceLookup,
  type PriceSource,
  type ShippedIndex,
  type UnpricedReason,
} from './price-book.js';
export {
  type ModelPrice,
  type OrgPriceOverride,
  type OrgPriceOverrideInput,
  orgPriceOverride,
  type PeakHours,
  type PriceTable,
  type PriceTableEntry,
  type PriceTier,
  priceTable,
} from './price-schema.js';
export { SHIPPED_PRICE_TABLE } from './price-table.js';
