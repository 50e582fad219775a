/*
 * Budgets of one replica: exact admission with reservations. Amounts are bigint in fixed units
 * (see amount.ts): one ledger counts money in 10^-12 USD, another counts tokens.
 *
 * A scope key names one budget of one scope (`org:o1:team:t1:budget_usd`, the caller's choice).
 * A scope without an allowance has no limit but still counts, so a budget added later can be
 * checked at once.
 *
 *   available(scope) = allowance + rolledOver - (used - baseline) - reserved
 *
 * `reserve` admits a request only if its estimate fits in the available amount of every scope it
 * names (all or nothing: the tightest scope decides); `settle` swaps the reservation for the real
 * cost; usage learned from other replicas comes in through `applyRemoteUsage`. Request ids make
 * settle and remote usage idempotent. Usage counts in the period in which it is settled (the time
 * of its RequestCompleted event), so a rebuild from events reaches the same numbers.
 *
 * `baseline` makes a budget added mid-period count from the moment it is added: the usage of the
 * period so far is not held against it. Changing an existing budget applies to the whole period
 * (lowering it below what was spent refuses until the next period: that is what lowering means).
 */

export interface LedgerOptions {
  /** How long settled and remote request ids are remembered, to drop duplicates. Default 15 minutes. */
  readonly idRetentionMs?: number;
  /** At most this many remembered ids; the oldest go first. Default {@link DEFAULT_MAX_IDS}. */
  readonly maxIds?: number;
}

/**
 * How many settled and remote request ids a ledger remembers. A request is counted once by
 * the log itself (each event is read once, after the counters' snapshot position) and by
 * `LimitsEnforcer` (a replica's own request events, settled here already, are only closed off
 * when they come back); these ids are the ledger's own guard against a repeat of a recent
 * one. Every replica remembers every replica's requests: at the former 1,000,000 (over 15
 * minutes), a gateway whose org has a budget grew ~190 bytes of live heap a request
 * (bench:gateway with one, 274,000 requests: 34 -> 86 MB after full collections, VmHWM 229 MB;
 * 36 MB flat and 164 MB with 10,000), on its way to ~190 MB more, most of its 256 MB old
 * generation, at a sustained ~1,100 requests a second across the cluster. 10,000 ids are a
 * few MB.
 */
export const DEFAULT_MAX_IDS = 10_000;

export type ReserveResult =
  | {
      readonly ok: true;
      /** `reserved`: new; `duplicate`: this request id already holds a reservation or was settled. */
      readonly status: 'reserved' | 'duplicate';
    }
  | {
      readonly ok: false;
      /** The refusing scope with the least available amount, and its numbers. */
      readonly scopeKey: string;
      readonly allowance: bigint;
      readonly used: bigint;
      readonly reserved: bigint;
      readonly available: bigint;
    };

export type SettleResult =
  /** The reservation was replaced by the real amount. */
  | 'settled'
  /** No reservation was held (after a restart or an expiry): the amount was added as usage. */
  | 'unreserved'
  /** Already settled or applied: nothing changed. */
  | 'duplicate';

export type RemoteUsageResult = 'applied' | 'duplicate' | 'stale';

export interface ScopeView {
  /** null: no limit at this scope. */
  readonly allowance: bigint | null;
  readonly rolledOver: bigint;
  /** Settled usage of the current period, including what was spent before the budget was added. */
  readonly used: bigint;
  /** Part of `used` spent before the budget was added; not held against it. */
  readonly baseline: bigint;
  readonly reserved: bigint;
  /** allowance + rolledOver - (used - baseline) - reserved; null without a limit. May be negative. */
  readonly available: bigint | null;
  /** Start of the current period (epoch ms); -Infinity before the first reset. */
  readonly periodStart: number;
}

export interface LedgerSnapshot {
  readonly scopes: ReadonlyArray<{
    readonly scopeKey: string;
    readonly allowance: string | null;
    readonly rolledOver: string;
    readonly used: string;
    readonly baseline: string;
    /** null for -Infinity (never reset). */
    readonly periodStart: number | null;
  }>;
}

interface ScopeState {
  allowance: bigint | null;
  rolledOver: bigint;
  used: bigint;
  baseline: bigint;
  reserved: bigint;
  periodStart: number;
}

interface Reservation {
  readonly scopeKeys: readonly string[];
  readonly amount: bigint;
  readonly createdAt: number;
}

export class BudgetLedger {
  private readonly scopes = new Map<string, ScopeState>();
  private readonly reservations = new Map<string, Reservation>();
  /** Request ids already counted as usage. */
  private readonly counted: RecentIds;

  constructor(options: LedgerOptions = {}) {
    this.counted = new RecentIds(options.maxIds ?? DEFAULT_MAX_IDS, options.idRetentionMs ?? 15 * 60_000);
  }

  /** Sets or removes (null) the allowance of one scope; see `baseline` above. */
  setAllowance(scopeKey: string, allowance: bigint | null): void {
    if (allowance !== null) checkAmount(allowance, 'allowance');
    const scope = this.scope(scopeKey);
    if (scope.allowance === null && allowance !== null) scope.baseline = scope.used;
    scope.allowance = allowance;
  }

  /**
   * Holds `estimate` in every scope, or in none when one of them lacks room. Synchronous, so
   * requests racing on one replica are admitted one at a time. A request id that already holds a
   * reservation or was settled is a duplicate and holds nothing more.
   */
  reserve(scopeKeys: readonly string[], requestId: string, estimate: bigint, now: number): ReserveResult {
    checkAmount(estimate, 'estimate');
    if (this.reservations.has(requestId) || this.counted.has(requestId)) {
      return { ok: true, status: 'duplicate' };
    }
    let refusal: Extract<ReserveResult, { ok: false }> | null = null;
    for (const scopeKey of scopeKeys) {
      const scope = this.scopes.get(scopeKey);
      if (!scope || scope.allowance === null) continue;
      const available = availableOf(scope)!;
      if (estimate > available && (refusal === null || available < refusal.available)) {
        refusal = {
          ok: false,
          scopeKey,
          allowance: scope.allowance + scope.rolledOver,
          used: scope.used - scope.baseline,
          reserved: scope.reserved,
          available,
        };
      }
    }
    if (refusal) return refusal;
    const keys = [...new Set(scopeKeys)];
    for (const scopeKey of keys) this.scope(scopeKey).reserved += estimate;
    this.reservations.set(requestId, { scopeKeys: keys, amount: estimate, createdAt: now });
    return { ok: true, status: 'reserved' };
  }

  /**
   * Replaces the reservation with the real amount. Idempotent by request id. Without a
   * reservation (lost in a restart, or expired) the amount is added as usage to `scopeKeys`; with
   * one, the reservation's own scopes are used.
   */
  settle(requestId: string, actual: bigint, scopeKeys: readonly string[], now: number): SettleResult {
    checkAmount(actual, 'actual');
    if (this.counted.has(requestId)) return 'duplicate';
    const reservation = this.reservations.get(requestId);
    this.remember(requestId, now);
    if (reservation) {
      this.reservations.delete(requestId);
      for (const scopeKey of reservation.scopeKeys) {
        const scope = this.scope(scopeKey);
        scope.reserved -= reservation.amount;
        scope.used += actual;
      }
      return 'settled';
    }
    for (const scopeKey of new Set(scopeKeys)) this.scope(scopeKey).used += actual;
    return 'unreserved';
  }

  /**
   * Frees a reservation without usage (refused upstream, nothing charged). Returns false when
   * none was held. It does not close the request: a later settle still counts its usage.
   */
  release(requestId: string): boolean {
    const reservation = this.reservations.get(requestId);
    if (!reservation) return false;
    this.reservations.delete(requestId);
    for (const scopeKey of reservation.scopeKeys) this.scope(scopeKey).reserved -= reservation.amount;
    return true;
  }

  /**
   * Releases reservations made before `olderThan` (epoch ms): requests that never settled, as
   * after a crash in between. Returns their ids. A late settle of one still counts as usage.
   */
  expire(olderThan: number): string[] {
    const expired: string[] = [];
    for (const [requestId, reservation] of this.reservations) {
      if (reservation.createdAt < olderThan) expired.push(requestId);
    }
    for (const requestId of expired) this.release(requestId);
    return expired;
  }

  /**
   * Usage another replica settled (from its RequestCompleted or RequestFailed event), counted
   * once per request id. `at` is the event's time: usage from before a scope's current period is
   * `stale` and not counted (it belonged to the period that ended).
   */
  applyRemoteUsage(
    scopeKeys: string | readonly string[],
    amount: bigint,
    requestId: string,
    at: number,
  ): RemoteUsageResult {
    checkAmount(amount, 'amount');
    if (this.counted.has(requestId) || this.reservations.has(requestId)) return 'duplicate';
    const keys = typeof scopeKeys === 'string' ? [scopeKeys] : [...new Set(scopeKeys)];
    this.remember(requestId, at);
    let applied = false;
    for (const scopeKey of keys) {
      const scope = this.scope(scopeKey);
      if (at < scope.periodStart) continue;
      scope.used += amount;
      applied = true;
    }
    return applied || keys.length === 0 ? 'applied' : 'stale';
  }

  /**
   * Starts a new period for one scope: usage back to zero, `rolledOver` carried in. Only a newer
   * period counts: a second reset with the same periodStart, or an older one, is ignored (returns
   * false). Reservations in flight stay held and are settled into the new period. Call it with
   * the values of the stored LimitReset event, whichever replica wrote it.
   */
  reset(scopeKey: string, periodStart: number, rolledOver: bigint): boolean {
    checkAmount(rolledOver, 'rolledOver');
    const scope = this.scope(scopeKey);
    if (periodStart <= scope.periodStart) return false;
    scope.periodStart = periodStart;
    scope.rolledOver = rolledOver;
    scope.used = 0n;
    scope.baseline = 0n;
    return true;
  }

  /**
   * The stored LimitReset of the scope's current period, which `reset` ignores: when replicas
   * race, the store keeps one copy (same id) and each replica applied its own plan first. What
   * the stored copy carries is what a replay applies, so a live replica takes it too.
   */
  adoptReset(scopeKey: string, periodStart: number, rolledOver: bigint): void {
    checkAmount(rolledOver, 'rolledOver');
    const scope = this.scopes.get(scopeKey);
    if (scope && scope.periodStart === periodStart) scope.rolledOver = rolledOver;
  }

  /**
   * What would roll over into the next period: the unused part of this one (allowance +
   * rolledOver - (used - baseline), reservations not deducted: they settle into the next period),
   * capped at `maxPercent` of the allowance (null: no cap). 0 without an allowance.
   */
  rollover(scopeKey: string, maxPercent: number | null): bigint {
    const scope = this.scopes.get(scopeKey);
    if (!scope || scope.allowance === null) return 0n;
    let unused = scope.allowance + scope.rolledOver - (scope.used - scope.baseline);
    if (unused < 0n) unused = 0n;
    if (maxPercent !== null) {
      if (!Number.isInteger(maxPercent) || maxPercent < 0) throw new RangeError('maxPercent must be >= 0');
      const cap = (scope.allowance * BigInt(maxPercent)) / 100n;
      if (unused > cap) unused = cap;
    }
    return unused;
  }

  view(scopeKey: string): ScopeView {
    const scope = this.scopes.get(scopeKey) ?? emptyScope();
    return {
      allowance: scope.allowance,
      rolledOver: scope.rolledOver,
      used: scope.used,
      baseline: scope.baseline,
      reserved: scope.reserved,
      available: availableOf(scope),
      periodStart: scope.periodStart,
    };
  }

  /** Reservations held now. */
  get inFlight(): number {
    return this.reservations.size;
  }

  /** Counters of every scope, for a snapshot event or file. Reservations are not included. */
  snapshot(): LedgerSnapshot {
    return {
      scopes: [...this.scopes].map(([scopeKey, s]) => ({
        scopeKey,
        allowance: s.allowance === null ? null : s.allowance.toString(),
        rolledOver: s.rolledOver.toString(),
        used: s.used.toString(),
        baseline: s.baseline.toString(),
        periodStart: Number.isFinite(s.periodStart) ? s.periodStart : null,
      })),
    };
  }

  static restore(snapshot: LedgerSnapshot, options: LedgerOptions = {}): BudgetLedger {
    const ledger = new BudgetLedger(options);
    for (const s of snapshot.scopes) {
      ledger.scopes.set(s.scopeKey, {
        allowance: s.allowance === null ? null : BigInt(s.allowance),
        rolledOver: BigInt(s.rolledOver),
        used: BigInt(s.used),
        baseline: BigInt(s.baseline),
        reserved: 0n,
        periodStart: s.periodStart ?? Number.NEGATIVE_INFINITY,
      });
    }
    return ledger;
  }

  private scope(scopeKey: string): ScopeState {
    let scope = this.scopes.get(scopeKey);
    if (!scope) {
      scope = emptyScope();
      this.scopes.set(scopeKey, scope);
    }
    return scope;
  }

  private remember(requestId: string, at: number): void {
    this.counted.add(requestId, at);
  }
}

/**
 * The ids remembered last, oldest first: at most `max`, none from more than `retentionMs` before
 * the latest. A ring beside the set, so that each id costs a few constant steps: a Map walked
 * from its oldest entry steps over the holes its deletions leave (~4.7 µs an id at 10,000 ids
 * on the bench machine, against ~0.15 for a set and a ring).
 */
class RecentIds {
  readonly #ids = new Set<string>();
  readonly #max: number;
  readonly #retentionMs: number;
  readonly #order: (string | undefined)[];
  readonly #at: Float64Array;
  #oldest = 0;
  #size = 0;

  constructor(max: number, retentionMs: number) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`maxIds must be a positive integer, got ${max}`);
    this.#max = max;
    this.#retentionMs = retentionMs;
    this.#order = new Array<string | undefined>(max);
    this.#at = new Float64Array(max);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Remembers `id` at `at`, forgetting the oldest beyond the bounds; an id remembered already stays as it was. */
  add(id: string, at: number): void {
    if (this.#ids.has(id)) return;
    const cutoff = at - this.#retentionMs;
    while (this.#size > 0 && (this.#size >= this.#max || this.#at[this.#oldest]! < cutoff)) {
      this.#ids.delete(this.#order[this.#oldest]!);
      this.#order[this.#oldest] = undefined;
      this.#oldest = (this.#oldest + 1) % this.#max;
      this.#size--;
    }
    const slot = (this.#oldest + this.#size) % this.#max;
    this.#order[slot] = id;
    this.#at[slot] = at;
    this.#size++;
    this.#ids.add(id);
  }
}

function emptyScope(): ScopeState {
  return {
    allowance: null,
    rolledOver: 0n,
    used: 0n,
    baseline: 0n,
    reserved: 0n,
    periodStart: Number.NEGATIVE_INFINITY,
  };
}

function availableOf(scope: ScopeState): bigint | null {
  if (scope.allowance === null) return null;
  return scope.allowance + scope.rolledOver - (scope.used - scope.baseline) - scope.reserved;
}

function checkAmount(value: bigint, name: string): void {
  if (typeof value !== 'bigint' || value < 0n) throw new RangeError(`${name} must be a bigint >= 0`);
}
