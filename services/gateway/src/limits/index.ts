export {
  type Admission,
  type AdmissionEstimate,
  type AdmissionSubject,
  type CountersSnapshot,
  LimitsEnforcer,
  type PinnedSessionEntry,
  type Refusal,
  type Ticket,
  type Usage,
} from './admission.js';
export { formatAmount, formatUsd, parseAmount, parseUsd, USD_SCALE } from './amount.js';
export {
  BudgetLedger,
  type LedgerOptions,
  type LedgerSnapshot,
  type RemoteUsageResult,
  type ReserveResult,
  type ScopeView,
  type SettleResult,
} from './budget-ledger.js';
export { type ForwardedFor, resolveClientIp } from './client-ip.js';
export { type DistinctIpDecision, DistinctIps } from './distinct-ips.js';
export { type IpAddress, parseIp, parseIpOrThrow } from './ip-address.js';
export { CidrSet, IpRules, type IpVerdict } from './ip-rules.js';
export {
  type CalendarOptions,
  type CalendarUnit,
  checkTimeZone,
  isKnownTimeZone,
  LIFETIME,
  PERIOD_PATTERN,
  type Period,
  type PeriodSpec,
  PeriodSpecError,
  type PeriodsBetween,
  PeriodTracker,
  parsePeriod,
  periodAt,
  periodsBetween,
} from './period.js';
export {
  type PlannedReset,
  planResets,
  type RenewalPlan,
  type RenewalPolicy,
  type RenewalState,
} from './renewal.js';
export {
  type ConcurrencyGrant,
  ConcurrencyLimiter,
  SlidingWindowLimiter,
  type WindowCheck,
  type WindowDecision,
} from './windows.js';
