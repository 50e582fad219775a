import {
  type KordonEvent,
  type KordonEventData,
  kordonCatalogue,
  limitResetEventId,
  type NewEvent,
  streams,
} from '@kordon/events';
import { modelMatches } from '../http/route-model.js';
import type { PolicyEntry, RegistryState } from '../registry/registry.js';
import { formatAmount, parseUsd, USD_SCALE } from './amount.js';
import { BudgetLedger, type LedgerSnapshot, type ScopeView } from './budget-ledger.js';
import { DistinctIps } from './distinct-ips.js';
import type { IpAddress } from './ip-address.js';
import { IpRules, type IpVerdict } from './ip-rules.js';
import { type PeriodSpec, parsePeriod, periodAt } from './period.js';
import { planResets } from './renewal.js';
import {
  ConcurrencyLimiter,
  SlidingWindowLimiter,
  type WindowCheck,
  type WindowDecision,
} from './windows.js';

/*
 * Admission: every limit of every scope a request belongs to (its proxy key, user, team and
 * org), checked before the provider is called; the tightest refuses. Money and token budgets
 * are reserved on an estimate and settled to the real usage by request id. Counters learn
 * other replicas' usage from the event log (`observe`), and renew at period boundaries with one
 * LimitReset per scope, limit and period (a deterministic id: two replicas, or a restart, store
 * it once). Rates (rpm, tpm) and concurrency are counted per replica, plus what the log tells of
 * the others: see README.md for what is exact and what is approximate.
 */

type Scope = KordonEventData<'PolicySet'>['scope'];
type RejectionReason = KordonEventData<'RequestRejected'>['reason'];
type PeriodicLimit = KordonEventData<'LimitReset'>['limit'];

export interface AdmissionSubject {
  readonly orgId: string;
  readonly proxyKeyId: string;
  readonly userId: string;
  readonly teamId: string | null;
  readonly requestId: string;
  /** The client address (canonical text in `.text`); null when unreadable. */
  readonly clientAddress: IpAddress | null;
  readonly model: string;
  /**
   * Models named inside the request's tools (an image model, an advisor), run with the org's
   * key beside `model`: held to the same model lists.
   */
  readonly toolModels?: readonly ToolModel[] | undefined;
}

/** A model a request names inside a tool, and where (`tools[0].model`). */
export interface ToolModel {
  /** Null when the request leaves the choice to the model at call time: no list can hold it. */
  readonly model: string | null;
  readonly param: string;
}

/**
 * What a request is expected to cost, computed only when a budget needs it: first as a cheap
 * upper bound (`bound`: true), then exactly (the prompt through the model's tokenizer) only
 * when the bound does not fit; an estimator may answer exactly at once.
 */
export interface AdmissionEstimate {
  /** True when this is an upper bound that may be well above the real count. */
  readonly bound: boolean;
  /** USD in 10^-12 units; null when the model has no USD price (the budget cannot hold it). */
  readonly usd: bigint | null;
  /**
   * Why `usd` is null when the model is not the reason: a fee the gateway cannot price (a
   * provider tool billed per container), said in the refusal.
   */
  readonly unpriced?: string | undefined;
  readonly inputTokens: number;
  /** max_tokens of the request, or a capped default. */
  readonly outputTokens: number;
}

export interface Refusal {
  readonly ok: false;
  readonly reason: RejectionReason;
  readonly limitScope: { scope: Scope; scopeId: string };
  readonly status: 403 | 429;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  /**
   * For the answer's headers: the tightest rpm and tpm as they stand, the refused request counted
   * in neither (a rate refusal tells its own limit, the scope that refused, beside the other's
   * tightest), as on a model-list refusal; none when the caller's address is refused (address
   * rules, the distinct-address cap), which is told nothing of the key's use.
   */
  readonly rates: RateReadings;
  /** A budget (not a rate) is spent: OpenAI callers see `insufficient_quota`. */
  readonly quota?: boolean;
}

export interface Ticket {
  readonly ok: true;
  readonly subject: AdmissionSubject;
  /** The tightest rpm and tpm, for the answer's headers, when such limits apply. */
  readonly rates: RateReadings;
  /** Budgets reserved (and so to be settled). */
  readonly usdScopes: readonly string[];
  readonly tokenScopes: readonly { key: string; kind: TokenKind }[];
  readonly tpmKeys: readonly string[];
  /**
   * The distinct-address sets the request's address is held in until its usage event is written
   * (`settle`), or leaves again when it ends without one (`release`).
   */
  readonly ipHolds: readonly IpHold[];
  /** Tokens held per minute under every tpm key since `admittedAt`, until the request ends. */
  readonly estimatedTokens: number;
  readonly admittedAt: number;
  release: (() => boolean) | null;
  settled: boolean;
}

export type Admission = Ticket | Refusal;

/**
 * The tightest rpm (`requests`) and tpm (`tokens`) of an admission, told to the caller in its
 * dialect's headers at the edge (`http/limit-headers.ts`): OpenAI's and Anthropic's differ.
 */
export interface RateReadings {
  requests?: WindowDecision;
  tokens?: WindowDecision;
}

/** What `LimitsEnforcer.snapshot()` returns: JSON-safe. */
export interface CountersSnapshot {
  version: 1;
  usd: LedgerSnapshot;
  tokens: LedgerSnapshot;
  ips: ReturnType<DistinctIps['snapshot']>;
  ipPeriodStart: Array<[string, number]>;
  pending: string[];
  /** End of each budget's current period (absent in snapshots of older versions). */
  periodEnds?: Array<[string, number]>;
  /**
   * Budgets whose period spec changed and that have not renewed under it yet: when it changed,
   * the spec, and where the counter's period now ends (absent in snapshots of older versions).
   */
  periodChanges?: Array<[string, number, string, number]>;
  /** Provider keys' spend today (the gateway adds it: key id, UTC day, 10^-12 USD). */
  keySpend?: Array<[string, number, string]>;
  /**
   * Sessions pinned to the key that stored their answer, oldest first (the gateway adds it:
   * `KeyChoice.snapshotPins`); absent in snapshots of older versions.
   */
  pins?: PinnedSessionEntry[];
}

/** A pinned session: its session (org included), provider, key, and conversation's tokens or null. */
export type PinnedSessionEntry = [string, string, string, number | null];

type TokenKind = 'input' | 'output' | 'total';
const TOKEN_KINDS: readonly TokenKind[] = ['input', 'output', 'total'];

export interface Usage {
  /** The cost as recorded (a decimal string) when its currency is USD; else null. */
  readonly usd: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface AdmissionOptions {
  readonly registry: () => RegistryState;
  /** Writes an event (LimitReset) through the appender. */
  readonly emit: (event: NewEvent) => void;
  /**
   * A reservation whose request never ended is released after this long. Default 24 h: holds
   * die with the process, so this only catches a request the code failed to close, and must
   * outlast any call that is still running (each attempt may take its provider's `totalMs`, up
   * to 1 h, and a request fails over through every key of its chain).
   */
  readonly reservationTtlMs?: number;
}

/** The access rules passed; the address is to count in these distinct-address sets. */
interface AccessGranted {
  readonly ok: true;
  readonly address: string;
  readonly ipSlots: readonly IpSlot[];
}

interface IpSlot {
  readonly key: string;
  readonly periodStart: number;
  /** Not in the set before this request. */
  readonly isNew: boolean;
}

/** An address counted in one scope's distinct-address set for a request in flight. */
export interface IpHold {
  readonly key: string;
  readonly address: string;
  readonly periodStart: number;
}

/** A budget that cannot hold a request, with what the request would take of it and its counters. */
interface SpentBudget {
  readonly key: string;
  readonly ref: ScopeRef;
  readonly kind: 'usd' | TokenKind;
  readonly amount: bigint;
  readonly view: ScopeView;
}

function leftOf({ view }: SpentBudget): bigint {
  return view.available ?? 0n;
}

function budgetName({ kind, ref }: Pick<SpentBudget, 'kind' | 'ref'>): string {
  return kind === 'usd'
    ? `the USD budget of this ${label(ref)}`
    : `the ${kind} token budget of this ${label(ref)}`;
}

/** The money and token budgets a request is held to: a ledger key (and scope) each. */
interface RequestBudgets {
  readonly usdBudgets: readonly { ref: ScopeRef }[];
  readonly usdScopes: readonly string[];
  readonly tokenScopes: readonly { key: string; kind: TokenKind; ref: ScopeRef }[];
}

interface ScopeRef {
  readonly scope: Scope;
  readonly scopeId: string;
  readonly policy: PolicyEntry;
}

const NO_ESTIMATE: AdmissionEstimate = { bound: false, usd: 0n, inputTokens: 0, outputTokens: 0 };

const SCOPE_TAG: Record<Scope, string> = { 'proxy-key': 'k', user: 'u', team: 't', org: 'o' };

function tokenCount(kind: TokenKind, input: number, output: number): number {
  return kind === 'input' ? input : kind === 'output' ? output : input + output;
}

export class LimitsEnforcer {
  readonly #registry: () => RegistryState;
  readonly #emit: (event: NewEvent) => void;
  readonly #reservationTtlMs: number;
  #usd = new BudgetLedger();
  #tokens = new BudgetLedger();
  readonly #rpm = new SlidingWindowLimiter();
  readonly #tpm = new SlidingWindowLimiter();
  readonly #concurrency = new ConcurrencyLimiter();
  #ips = new DistinctIps();
  /** Start of the current distinct-IP period per scope key (budgets keep theirs in the ledger). */
  readonly #ipPeriodStart = new Map<string, number>();
  /** Periods and IP rules compiled per policy object (a new PolicySet brings a new object). */
  readonly #compiled = new WeakMap<PolicyEntry, CompiledPolicy>();
  /**
   * End of the period each periodic scope key is in, and the policy it was computed under:
   * renewal is checked only once it passes, or once a PolicySet changes the period (or the
   * time zone, or monthStartDay), which then counts from the new period's start.
   */
  readonly #periodEnd = new Map<string, { end: number; policy: CompiledPolicy }>();
  /**
   * End of the period each budget's counter is in, as its last applied reset said (a planned
   * one, or a stored LimitReset): when usage from the log falls after it, and, should the
   * period's spec change, which period the counter is really in.
   */
  readonly #storedEnd = new Map<string, number>();
  /**
   * Budgets whose period spec changed and that have not renewed since: when it changed (its
   * PolicySet's time), the spec it changed to (period, zone, monthStartDay), and where the
   * counter's period now ends (that spec's first boundary after the change, no longer the last
   * reset's end). A second change before the renewal changes that period, not the last reset's.
   */
  readonly #changedAt = new Map<string, PeriodChange>();
  /** Requests admitted here whose events have not come back yet: not to be counted twice. */
  readonly #local = new Set<string>();
  /** Requests settled here whose events the log has not delivered yet (a snapshot lists them). */
  readonly #settledAhead = new Set<string>();
  #lastSweep = 0;

  constructor(options: AdmissionOptions) {
    this.#registry = options.registry;
    this.#emit = options.emit;
    this.#reservationTtlMs = options.reservationTtlMs ?? 24 * 3_600_000;
  }

  /** The scopes of a request with a policy, narrowest first. */
  #scopes(subject: Pick<AdmissionSubject, 'orgId' | 'proxyKeyId' | 'userId' | 'teamId'>): ScopeRef[] {
    const policies = this.#registry().policies;
    const refs: ScopeRef[] = [];
    const add = (scope: Scope, scopeId: string | null) => {
      if (scopeId === null) return;
      const policy = policies.get(`${subject.orgId}/${scope}/${scopeId}`);
      if (policy) refs.push({ scope, scopeId, policy });
    };
    add('proxy-key', subject.proxyKeyId);
    add('user', subject.userId);
    add('team', subject.teamId);
    add('org', subject.orgId);
    return refs;
  }

  #compile(policy: PolicyEntry): CompiledPolicy {
    let compiled = this.#compiled.get(policy);
    if (!compiled) {
      compiled = compilePolicy(policy);
      this.#compiled.set(policy, compiled);
    }
    return compiled;
  }

  /**
   * The rules of who may use the key from where, for which model (IP rules, model lists, the
   * cap on distinct addresses), without rates or money: for calls that cost nothing and are
   * not usage, such as counting tokens. The refusal is the one `admit` would give.
   */
  checkAccess(subject: Omit<AdmissionSubject, 'requestId'>, now: number): Refusal | undefined {
    this.#sweep(now);
    const scopes = this.#scopes(subject);
    if (scopes.length === 0) return undefined;
    const access = this.#access(
      scopes.map((ref) => ({ ref, policy: this.#compile(ref.policy) })),
      subject,
      now,
    );
    if (!access.ok) return access;
    this.#recordAddress(access);
    return undefined;
  }

  /**
   * For listing models: who may use the key from where (IP rules and the cap on distinct
   * addresses, refused as `admit` would), then a test of a model against every scope's model
   * list, so that a caller is shown only the models its requests may name.
   */
  modelAccess(
    subject: Omit<AdmissionSubject, 'requestId' | 'model'>,
    now: number,
    usdPriced: (model: string) => boolean = () => true,
  ): Refusal | ((model: string) => boolean) {
    this.#sweep(now);
    const compiled = this.#scopes(subject).map((ref) => ({ ref, policy: this.#compile(ref.policy) }));
    const access = this.#access(compiled, subject, now);
    if (!access.ok) return access;
    this.#recordAddress(access);
    const lists = compiled.flatMap(({ policy }) => (policy.models ? [policy.models] : []));
    // Under a USD budget a model without a USD price is refused (admit), so it is not offered.
    const budgeted = compiled.some(({ policy }) => policy.budget);
    return (model) => lists.every((models) => modelMatches(models, model)) && (!budgeted || usdPriced(model));
  }

  /**
   * 403s: rules that no waiting changes, then every scope's cap on distinct addresses, checked
   * without counting the address: the caller records it (`#recordAddress`) once the request is
   * admitted, in the same synchronous step, so that concurrent new addresses cannot all pass.
   * Without a model (listing models), the model lists are left to the caller.
   */
  #access(
    compiled: readonly { ref: ScopeRef; policy: CompiledPolicy }[],
    subject: Omit<AdmissionSubject, 'requestId' | 'model'> & { readonly model?: string },
    now: number,
  ): Refusal | AccessGranted {
    for (const { ref, policy } of compiled) {
      if (policy.ipRules) {
        const verdict: IpVerdict = subject.clientAddress
          ? policy.ipRules.check(subject.clientAddress)
          : 'not_allowed';
        if (verdict !== 'allowed')
          return refusal(
            'ip_denied',
            ref,
            403,
            `requests from ${subject.clientAddress?.text ?? 'an unknown address'} are not allowed for this ${label(ref)}`,
          );
      }
      if (policy.models && subject.model !== undefined && !modelMatches(policy.models, subject.model))
        return refusal(
          'model_forbidden',
          ref,
          403,
          `the model ${subject.model} is not allowed for this ${label(ref)}`,
        );
      if (policy.models && subject.toolModels) {
        const denied = toolModelDenied(policy.models, subject.toolModels);
        if (denied !== undefined)
          return refusal(
            'model_forbidden',
            ref,
            403,
            denied.model === null
              ? `${denied.param} is left out, so the model would choose which model the tool runs, which the model list of this ${label(ref)} cannot check: name the model there`
              : `the model ${denied.model} (${denied.param}) is not allowed for this ${label(ref)}`,
          );
      }
    }

    // Distinct client IPs: every scope's cap is checked before the address counts in any (an
    // address a wider scope refuses is not a narrower one's), and a request refused later (a
    // rate, a budget) is not counted either: other replicas learn addresses from usage events.
    const address = subject.clientAddress?.text ?? '';
    const ipSlots: IpSlot[] = [];
    for (const { ref, policy } of compiled) {
      if (!policy.ipCap) continue;
      const key = policy.keys.ip;
      const periodStart = this.#renew(subject.orgId, ref, 'ip_cap', key, policy.ipCap.period, now);
      const decision = this.#ips.check(key, address, policy.ipCap.count, periodStart);
      if (!decision.allowed)
        return refusal(
          'ip_cap',
          ref,
          403,
          `this ${label(ref)} was used from ${decision.count} addresses this period, its cap; ${subject.clientAddress?.text} is one more`,
        );
      ipSlots.push({ key, periodStart, isNew: decision.isNew });
    }
    return { ok: true, address, ipSlots };
  }

  /** A call that is not usage was let through: its address counts in every scope's set. */
  #recordAddress(access: AccessGranted): void {
    for (const { key, periodStart, isNew } of access.ipSlots)
      if (isNew) this.#ips.record(key, access.address, periodStart);
  }

  /**
   * The request is admitted: its address counts in every scope's distinct-address set, held
   * by the request until its usage event tells the other replicas (`settle`), or given back
   * should it end without one (`release`), like the rpm a later refusal gives back.
   */
  #holdAddress(access: AccessGranted): readonly IpHold[] {
    if (access.ipSlots.length === 0) return NO_HOLDS;
    const holds: IpHold[] = [];
    for (const { key, periodStart } of access.ipSlots)
      if (this.#ips.hold(key, access.address, periodStart))
        holds.push({ key, address: access.address, periodStart });
    return holds;
  }

  /**
   * Checks every limit; on success holds the request's reservations and concurrency slots
   * (give them back with `settle` or `release`). `estimate` is called only when a budget applies.
   */
  admit(
    subject: AdmissionSubject,
    estimate: (precision: 'bound' | 'exact') => AdmissionEstimate,
    now: number,
  ): Admission {
    this.#sweep(now);
    const scopes = this.#scopes(subject);
    const rates: RateReadings = {};
    if (scopes.length === 0) return this.#ticket(subject, rates, [], [], [], NO_HOLDS, 0, null, now);
    const compiled = scopes.map((ref) => ({ ref, policy: this.#compile(ref.policy) }));

    const rpmChecks = compiled.flatMap(({ ref, policy }) =>
      policy.rpm ? [{ key: policy.keys.rpm, limit: policy.rpm, ref }] : [],
    );
    const tpmChecks = compiled.flatMap(({ ref, policy }) =>
      policy.tpm ? [{ key: policy.keys.tpm, limit: policy.tpm, ref }] : [],
    );

    const access = this.#access(compiled, subject, now);
    if (!access.ok)
      // A model the caller may not name: its rates as they stand. An address shut out (the
      // address rules, the distinct-address cap) is told nothing of the key's use.
      return access.reason === 'model_forbidden'
        ? { ...access, rates: this.#readings(rpmChecks, tpmChecks, now) }
        : access;

    const concurrencyChecks = compiled.flatMap(({ ref, policy }) =>
      policy.concurrency ? [{ key: policy.keys.cc, limit: policy.concurrency, ref }] : [],
    );
    const usdBudgets = compiled.filter(({ policy }) => policy.budget);
    const tokenBudgets = compiled.filter(({ policy }) => policy.tokens);
    const needsEstimate = usdBudgets.length > 0 || tokenBudgets.length > 0 || tpmChecks.length > 0;
    // A cheap upper bound first; the exact count (a tokenizer pass) only when the bound does not fit.
    let expected: AdmissionEstimate = needsEstimate ? estimate('bound') : NO_ESTIMATE;
    const exactly = () => {
      expected = estimate('exact');
      return expected;
    };

    // Tokens per minute: room for the estimate now; it is held once every check passed.
    let tpmRefusal = this.#checkTpm(tpmChecks, expected, rates, now);
    if (tpmRefusal && expected.bound) tpmRefusal = this.#checkTpm(tpmChecks, exactly(), rates, now);
    if (tpmRefusal) {
      // The retry must pass the rpm too: when it refuses as well, its wait may be the longer.
      const rpmWaitMs = Math.max(
        0,
        ...rpmChecks.map(({ key, limit }) => this.#rpm.peek(key, limit, now, 1).retryAfterMs ?? 0),
      );
      // Its answer tells the rpm as well, as it stands: the request was counted under none.
      const requests = tightestReading(this.#rpm, rpmChecks, now);
      const refused = requests ? { ...tpmRefusal, rates: { ...tpmRefusal.rates, requests } } : tpmRefusal;
      return waitAtLeast(refused, rpmWaitMs);
    }

    // Budgets whose period passed renew before anything is held: a renewal writes a LimitReset,
    // and `emit` throws when the appender cannot take it (its buffer full, closed at shutdown).
    // Thrown after the rpm count and the slot were taken, they would stay taken: no ticket is
    // made to give them back, and a slot has no expiry (the key locked out until a restart).
    const usdScopes: string[] = [];
    for (const { ref, policy } of usdBudgets) {
      const key = policy.keys.usd;
      this.#renewBudget(this.#usd, subject.orgId, ref, 'budget_usd', key, policy.budget!, now);
      usdScopes.push(key);
    }
    const tokenScopes: { key: string; kind: TokenKind; ref: ScopeRef; allowance: bigint }[] = [];
    for (const { ref, policy } of tokenBudgets) {
      const { kind, allowance, period } = policy.tokens!;
      const key = policy.keys.tok;
      this.#renewBudget(this.#tokens, subject.orgId, ref, 'budget_tokens', key, { allowance, period }, now);
      tokenScopes.push({ key, kind, ref, allowance });
    }

    if (rpmChecks.length > 0) {
      const decision = this.#rpm.checkAll(rpmChecks, now);
      const ref = rpmChecks[decision.index]?.ref;
      if (!decision.allowed && ref) {
        // The tpm as it stands beside it (`rates.tokens` counts the request's estimate, which
        // is never held for a refused request).
        const tokens = tightestReading(this.#tpm, tpmChecks, now);
        return refusal('rate_limit_rpm', ref, 429, `requests per minute of this ${label(ref)} are used up`, {
          retryAfterMs: decision.retryAfterMs ?? 60_000,
          rates: tokens ? { requests: decision, tokens } : { requests: decision },
        });
      }
      rates.requests = decision;
    }
    let release: (() => boolean) | null = null;
    if (concurrencyChecks.length > 0) {
      const grant = this.#concurrency.acquire(concurrencyChecks);
      if (!grant.ok) {
        const ref = concurrencyChecks[grant.index]!.ref;
        this.#uncountRpm(rpmChecks, now);
        return refusal(
          'concurrency',
          ref,
          429,
          `this ${label(ref)} already has ${grant.inFlight} requests in flight, its limit`,
          { retryAfterMs: 1000, rates: this.#readings(rpmChecks, tpmChecks, now) },
        );
      }
      release = grant.release;
    }

    const budgets = { usdBudgets, usdScopes, tokenScopes };
    let budgetRefusal = this.#reserveBudgets(subject, budgets, expected, now);
    if (budgetRefusal && expected.bound) {
      try {
        budgetRefusal = this.#reserveBudgets(subject, budgets, exactly(), now);
      } catch (error) {
        // The exact count (a tokenizer pass) failed after the slot and the rpm were taken: no
        // ticket is made, so nothing would ever give them back and the key would stay full.
        release?.();
        this.#uncountRpm(rpmChecks, now);
        throw error;
      }
    }
    if (budgetRefusal) {
      release?.();
      this.#uncountRpm(rpmChecks, now);
      return { ...budgetRefusal, rates: this.#readings(rpmChecks, tpmChecks, now) };
    }

    // Held like a budget's reservation, so requests in flight count (settle swaps in the real
    // count). `expected` is what the budgets settled on: exact when a bound did not fit.
    const held = expected.inputTokens + expected.outputTokens;
    const tpmKeys = tpmChecks.map((c) => c.key);
    if (held > 0) for (const key of tpmKeys) this.#tpm.record(key, now, held);
    // Counted only now, every check passed: no await since the check, so none raced it.
    const ipHolds = this.#holdAddress(access);
    return this.#ticket(
      subject,
      rates,
      usdScopes,
      tokenScopes.map(({ key, kind }) => ({ key, kind })),
      tpmKeys,
      ipHolds,
      held,
      release,
      now,
    );
  }

  #checkTpm(
    checks: readonly { key: string; limit: number; ref: ScopeRef }[],
    expected: AdmissionEstimate,
    rates: RateReadings,
    now: number,
  ): Refusal | null {
    const tokens = expected.inputTokens + expected.outputTokens;
    // Every scope is checked: the headers describe the tightest, and a refusal waits for the
    // scope that lets the request through last, or the SDK's retry is refused again.
    let tightest: WindowDecision | null = null;
    let refused: { decision: WindowDecision; ref: ScopeRef } | null = null;
    const waitOf = (decision: WindowDecision) => decision.retryAfterMs ?? decision.resetMs;
    for (const check of checks) {
      // A request past the whole limit could never fit: it passes while a token is left. Only
      // an exact count is: a cheap bound past it may count far less, so it is counted first.
      const oversize = tokens > check.limit && !expected.bound;
      // Decided as if counted (it is, once every check passed): the headers say what is left
      // after it, and a refusal's Retry-After when it fits.
      const decision = this.#tpm.peek(check.key, check.limit, now, oversize ? 1 : Math.max(1, tokens));
      if (!decision.allowed) {
        if (refused === null || waitOf(decision) > waitOf(refused.decision))
          refused = { decision, ref: check.ref };
      } else if (tightest === null || decision.remaining < tightest.remaining) tightest = decision;
    }
    if (refused) {
      const { decision, ref } = refused;
      return refusal('rate_limit_tpm', ref, 429, `tokens per minute of this ${label(ref)} are used up`, {
        retryAfterMs: waitOf(decision),
        rates: { tokens: decision },
      });
    }
    if (tightest) rates.tokens = tightest;
    return null;
  }

  /** Reserves the estimate in every money and token budget, or in none (and says which refused). */
  #reserveBudgets(
    subject: AdmissionSubject,
    budgets: RequestBudgets,
    expected: AdmissionEstimate,
    now: number,
  ): Refusal | null {
    const { requestId } = subject;
    if (budgets.usdScopes.length > 0) {
      if (expected.usd === null) {
        // Unpriced (or priced in another currency), a request would cost the budget nothing
        // whatever the provider bills: a money limit that does not hold. Refused until priced.
        const ref = budgets.usdBudgets[0]!.ref;
        return refusal(
          'budget_usd',
          ref,
          403,
          expected.unpriced !== undefined
            ? `the USD budget of this ${label(ref)} cannot hold this request: ${expected.unpriced}`
            : `${subject.model} has no price in USD, so the USD budget of this ${label(ref)} cannot hold its requests; an admin can price it in the org's prices`,
        );
      }
      const estimate = expected.usd;
      const reserved = this.#usd.reserve(budgets.usdScopes, requestId, estimate, now);
      if (!reserved.ok) {
        const ref = budgets.usdBudgets[budgets.usdScopes.indexOf(reserved.scopeKey)]!.ref;
        const budget = `the USD budget of this ${label(ref)}`;
        const spent = `${formatUsdShort(reserved.used)} of ${formatUsdShort(reserved.allowance)}`;
        const short = this.#shortBudgets(budgets, expected);
        if (short.length === 0)
          return heldRefusal(
            'budget_usd',
            ref,
            `this request may cost up to ${formatUsdShort(estimate)}, more than the ${formatUsdShort(positive(reserved.available))} left of ${budget} (${spent} spent${heldInFlight(reserved.reserved, formatUsdShort)})`,
          );
        return this.#spentRefusal(reserved.scopeKey, short, now);
      }
    }
    for (const [index, { key, kind, ref }] of budgets.tokenScopes.entries()) {
      const amount = BigInt(tokenCount(kind, expected.inputTokens, expected.outputTokens));
      const reserved = this.#tokens.reserve([key], `${requestId}/${key}`, amount, now);
      if (!reserved.ok) {
        this.#usd.release(requestId);
        for (const held of budgets.tokenScopes.slice(0, index))
          this.#tokens.release(`${requestId}/${held.key}`);
        const budget = `the ${kind} token budget of this ${label(ref)}`;
        const tokens = (n: bigint) => `${n} tokens`;
        const short = this.#shortBudgets(budgets, expected);
        if (short.length === 0)
          return heldRefusal(
            'budget_tokens',
            ref,
            `this request may take up to ${tokens(amount)}, more than the ${tokens(positive(reserved.available))} left of ${budget}${heldInFlight(reserved.reserved, tokens)}`,
          );
        return this.#spentRefusal(key, short, now);
      }
    }
    return null;
  }

  /**
   * A final budget refusal (429 `insufficient_quota`), told when to come back. Every budget
   * that cannot hold the request even were the requests in flight to cost nothing (the one
   * the ledger refused with, `refusedBy`, and any other of its scopes, USD or tokens) refuses
   * it until its period ends: Retry-After is the last of those ends, and there is none when one
   * of them is a lifetime budget, which never renews. The refusal names one of them: `refusedBy`
   * when it is one, else (`refusedBy` is short only by the holds of requests in flight, which
   * end with them: neither spent nor final) the one the ledger would have named, USD first, the
   * one with the least left; its message names each other one: at the named one's renewal they
   * still refuse.
   */
  #spentRefusal(refusedBy: string, short: readonly SpentBudget[], now: number): Refusal {
    // As the ledger names one: USD first, the one with the least left.
    const named =
      short.find(({ key }) => key === refusedBy) ??
      short.reduce((first, budget) =>
        first.kind === 'usd' && budget.kind === 'usd' && leftOf(budget) < leftOf(first) ? budget : first,
      );
    const others = short
      .filter((budget) => budget !== named)
      .map(
        (budget) =>
          `; ${budgetName(budget)} cannot hold this request either${this.#renewsNever(budget.key) ? OTHER_NEVER_RENEWS : ''}`,
      )
      .join('');
    return refusal(
      named.kind === 'usd' ? 'budget_usd' : 'budget_tokens',
      named.ref,
      429,
      `${this.#spentMessage(named)}${others}`,
      {
        ...this.#retryAfter(
          short.map(({ key }) => key),
          now,
        ),
        quota: true,
      },
    );
  }

  /**
   * The request's budgets, USD and tokens, that cannot hold it even were the requests in flight
   * to cost nothing: none when a budget refused it only for their holds, which end with them.
   */
  #shortBudgets(budgets: RequestBudgets, expected: AdmissionEstimate): SpentBudget[] {
    const { usd, inputTokens, outputTokens } = expected;
    const short: SpentBudget[] = [];
    const cannotHold = (ledger: BudgetLedger, key: string, amount: bigint) => {
      const view = ledger.view(key);
      return view.available !== null && view.available + view.reserved < amount ? view : undefined;
    };
    if (usd !== null)
      for (const [index, key] of budgets.usdScopes.entries()) {
        const view = cannotHold(this.#usd, key, usd);
        if (view) short.push({ key, ref: budgets.usdBudgets[index]!.ref, kind: 'usd', amount: usd, view });
      }
    for (const { key, kind, ref } of budgets.tokenScopes) {
      const amount = BigInt(tokenCount(kind, inputTokens, outputTokens));
      const view = cannotHold(this.#tokens, key, amount);
      if (view) short.push({ key, ref, kind, amount, view });
    }
    return short;
  }

  /**
   * Why a budget that cannot hold the request refuses it: the request may cost more than is
   * left (its caller can ask for less), more than is not yet spent when requests in flight hold
   * the rest (the budget is not spent: they will cost what they use), or nothing is left.
   */
  #spentMessage(budget: SpentBudget): string {
    const { view, amount } = budget;
    const name = budgetName(budget);
    const available = view.available ?? 0n;
    // What the budget has that no request has spent; requests in flight hold part of it.
    const unspent = available + view.reserved;
    const never = this.#renewsNever(budget.key) ? NEVER_RENEWS : '';
    if (budget.kind !== 'usd') {
      const tokens = (n: bigint) => `${n} tokens`;
      if (available > 0n)
        return `this request may take up to ${tokens(amount)} (${ESTIMATE_BASIS}), more than the ${tokens(available)} left of ${name}${heldInFlight(view.reserved, tokens)}; ${SMALLER_REQUEST}`;
      return unspent > 0n
        ? `this request may take up to ${tokens(amount)} (${ESTIMATE_BASIS}), more than the ${tokens(unspent)} of ${name} not yet spent (${tokens(view.reserved)} held for requests in flight); ${SMALLER_REQUEST}`
        : `${name} is spent${never}`;
    }
    const spent = `${formatUsdShort(view.used - view.baseline)} of ${formatUsdShort((view.allowance ?? 0n) + view.rolledOver)}`;
    if (available > 0n)
      return `this request may cost up to ${formatUsdShort(amount)} (${ESTIMATE_BASIS}), more than the ${formatUsdShort(available)} left of ${name} (${spent} spent${heldInFlight(view.reserved, formatUsdShort)}); ${SMALLER_REQUEST}`;
    return unspent > 0n
      ? `this request may cost up to ${formatUsdShort(amount)} (${ESTIMATE_BASIS}), more than the ${formatUsdShort(unspent)} of ${name} not yet spent (${spent} spent${heldInFlight(view.reserved, formatUsdShort)}); ${SMALLER_REQUEST}`
      : `${name} is spent (${spent})${never}`;
  }

  /**
   * The tightest rpm and tpm as they stand, counting nothing: the headers of an answer refused
   * after every rate let it through (the concurrency limit, a budget) or for its model. It takes no
   * place under them (its rpm count is given back, its tokens never held), so a caller reads
   * what is left for its next request, as on any other answer (docs/limits.md).
   */
  #readings(rpmChecks: readonly WindowCheck[], tpmChecks: readonly WindowCheck[], now: number): RateReadings {
    if (rpmChecks.length === 0 && tpmChecks.length === 0) return NO_RATES;
    const readings: RateReadings = {};
    const requests = tightestReading(this.#rpm, rpmChecks, now);
    if (requests) readings.requests = requests;
    const tokens = tightestReading(this.#tpm, tpmChecks, now);
    if (tokens) readings.tokens = tokens;
    return readings;
  }

  /**
   * Gives back the rpm count `checkAll` made for a request a later check refused: other
   * replicas never count a refused request, and retries of a full concurrency limit would use
   * up the minute.
   */
  #uncountRpm(rpmChecks: readonly Pick<WindowCheck, 'key'>[], now: number): void {
    for (const { key } of rpmChecks) this.#rpm.record(key, now, -1);
  }

  #ticket(
    subject: AdmissionSubject,
    rates: RateReadings,
    usdScopes: string[],
    tokenScopes: { key: string; kind: TokenKind }[],
    tpmKeys: string[],
    ipHolds: readonly IpHold[],
    estimatedTokens: number,
    release: (() => boolean) | null,
    now: number,
  ): Ticket {
    this.#local.add(subject.requestId);
    return {
      ok: true,
      subject,
      rates,
      usdScopes,
      tokenScopes,
      tpmKeys,
      ipHolds,
      estimatedTokens,
      admittedAt: now,
      release,
      settled: false,
    };
  }

  /**
   * The request ended (once; later calls do nothing): reservations become the real usage,
   * slots are given back, the tokens are counted per minute. Its event, when it comes back
   * through the log, is then not counted again.
   */
  settle(ticket: Ticket, usage: Usage, now: number): void {
    if (ticket.settled) return;
    ticket.settled = true;
    ticket.release?.();
    const { requestId } = ticket.subject;
    this.#settledAhead.add(requestId);
    // Its usage event carries the address to every replica: counted for good.
    for (const { key, address, periodStart } of ticket.ipHolds) this.#ips.confirm(key, address, periodStart);
    // Every other replica (and a rebuild) counts the address for good in the period its event is
    // stamped in: here too, should that period have begun since the request was admitted (where
    // another request may only hold it, which would let it go).
    const address = ticket.subject.clientAddress?.text;
    if (address !== undefined)
      for (const ref of this.#scopes(ticket.subject)) {
        const policy = this.#compile(ref.policy);
        if (!policy.ipCap) continue;
        const key = policy.keys.ip;
        const cached = this.#periodEnd.get(key);
        const start =
          cached !== undefined && cached.policy === policy && now < cached.end
            ? this.#currentStart(key, 'ip_cap')
            : periodAt(policy.ipCap.period, policy.timeZone, now, policy.calendar).start;
        this.#ips.observe(key, address, policy.ipCap.count, start);
      }
    // Usage counts in the period in which it is settled: a request admitted before a boundary
    // and ending after it renews its budgets first (its hold stays, and settles into the new
    // period), or the next admission's renewal would wipe the cost. A LimitReset the appender
    // cannot take throws out of the renewal (the counter is renewed already): the holds are
    // settled all the same, or they would stay held until they expire.
    try {
      if (ticket.usdScopes.length > 0 || ticket.tokenScopes.length > 0) {
        const tokenKeys = new Set(ticket.tokenScopes.map((t) => t.key));
        this.#renewForUsage(
          this.#scopes(ticket.subject),
          ticket.subject.orgId,
          ticket.usdScopes,
          tokenKeys,
          now,
        );
      }
    } finally {
      this.#settleHolds(ticket, usage, now);
    }
  }

  /** The reservations become the real usage; the tpm estimate leaves for the real count. */
  #settleHolds(ticket: Ticket, usage: Usage, now: number): void {
    const { requestId } = ticket.subject;
    if (ticket.usdScopes.length > 0) {
      const actual = usage.usd === null ? 0n : parseUsd(usage.usd);
      this.#usd.settle(requestId, actual, ticket.usdScopes, now);
    }
    for (const { key, kind } of ticket.tokenScopes) {
      const actual = BigInt(tokenCount(kind, usage.inputTokens, usage.outputTokens));
      this.#tokens.settle(`${requestId}/${key}`, actual, [key], now);
    }
    // The hold leaves the window it was counted in; the real count goes where other replicas
    // put it from the request's event (at its time), so every replica's windows agree.
    const tokens = usage.inputTokens + usage.outputTokens;
    for (const key of ticket.tpmKeys) {
      if (ticket.estimatedTokens > 0) this.#tpm.record(key, ticket.admittedAt, -ticket.estimatedTokens);
      if (tokens > 0) this.#tpm.record(key, now, tokens);
    }
  }

  /**
   * The request ended without usage and without a usage event (refused after admission, e.g. no
   * provider serves its endpoint): everything held is given back.
   */
  release(ticket: Ticket): void {
    if (ticket.settled) return;
    ticket.settled = true;
    ticket.release?.();
    const { requestId } = ticket.subject;
    this.#local.delete(requestId);
    this.#usd.release(requestId);
    for (const { key } of ticket.tokenScopes) this.#tokens.release(`${requestId}/${key}`);
    if (ticket.estimatedTokens > 0)
      for (const key of ticket.tpmKeys) this.#tpm.record(key, ticket.admittedAt, -ticket.estimatedTokens);
    // No replica learns the address from a refusal: it leaves the sets it entered for this request.
    for (const { key, address, periodStart } of ticket.ipHolds) this.#ips.letGo(key, address, periodStart);
  }

  /** Whether the request was admitted here and its event has not come back yet. */
  admittedHere(requestId: string): boolean {
    return this.#local.has(requestId);
  }

  /**
   * This replica's own request event came back through the log: everything was counted at
   * settle already, so it only closes the books (no decoding needed for that).
   */
  observeOwn(requestId: string): void {
    this.#settledAhead.delete(requestId);
    this.#local.delete(requestId);
  }

  /** Usage and renewals from the log: other replicas' requests, and every stored LimitReset. */
  observe(event: KordonEvent): void {
    switch (event.type) {
      case 'RequestCompleted':
      case 'RequestFailed': {
        const d = event.data;
        this.#settledAhead.delete(d.requestId);
        if (this.#local.delete(d.requestId)) return; // settled here already
        const orgId = event.orgId;
        if (!orgId) return;
        const at = event.time.getTime();
        const scopes = this.#scopes({ orgId, proxyKeyId: d.proxyKeyId, userId: d.userId, teamId: d.teamId });
        const input = d.usage.inputTokens;
        const output = d.usage.outputTokens;
        const cost = d.currency === 'USD' ? d.cost : null;
        // Usage of a period this replica has not renewed yet (its writer renews at settle, and
        // logs the LimitReset first; this catches a writer that did not): renewed, as settle does.
        this.#renewForUsage(scopes, orgId, null, null, at, true);
        // One request id charges every USD scope at once, as `settle` does: applied scope by scope,
        // the id would be counted after the first and the wider scopes never charged.
        let usdKeys: string[] | null = null;
        for (const ref of scopes) {
          const policy = this.#compile(ref.policy);
          // Allowances first: a budget set after usage was counted would hold none of it (see the ledger's baseline).
          if (policy.budget && cost !== null) {
            const key = policy.keys.usd;
            this.#syncAllowance(this.#usd, key, policy.budget.allowance);
            if (usdKeys === null) usdKeys = [key];
            else usdKeys.push(key);
          }
          if (policy.tokens) {
            const key = policy.keys.tok;
            this.#syncAllowance(this.#tokens, key, policy.tokens.allowance);
            const amount = BigInt(tokenCount(policy.tokens.kind, input, output));
            this.#tokens.applyRemoteUsage(key, amount, `${d.requestId}/${key}`, at);
          }
          if (policy.rpm) this.#rpm.record(policy.keys.rpm, at, 1);
          if (policy.tpm && input + output > 0) this.#tpm.record(policy.keys.tpm, at, input + output);
          if (policy.ipCap) {
            const period = periodAt(policy.ipCap.period, policy.timeZone, at, policy.calendar);
            this.#ips.observe(policy.keys.ip, d.clientIp, policy.ipCap.count, period.start);
          }
        }
        if (usdKeys && cost !== null) this.#usd.applyRemoteUsage(usdKeys, parseUsd(cost), d.requestId, at);
        return;
      }
      case 'LimitReset': {
        const d = event.data;
        const ref = { scope: d.scope, scopeId: d.scopeId } as const;
        const start = Date.parse(d.periodStart);
        const end = Date.parse(d.periodEnd);
        // A reset of the current period: another replica's copy may have won the race (same id).
        if (d.limit === 'budget_usd') {
          const key = scopeKey(ref, 'usd');
          const rolledOver = parseUsd(d.rolledOver);
          if (this.#usd.reset(key, start, rolledOver)) this.#setPeriodEnd(key, end);
          else this.#usd.adoptReset(key, start, rolledOver);
        } else if (d.limit === 'budget_tokens') {
          // The counter of the kind it renewed; a version-1 reset named none: every kind's.
          for (const kind of d.tokenKind === null ? TOKEN_KINDS : [d.tokenKind]) {
            const key = scopeKey(ref, `tok-${kind}`);
            if (this.#tokens.reset(key, start, BigInt(d.rolledOver))) this.#setPeriodEnd(key, end);
            else this.#tokens.adoptReset(key, start, BigInt(d.rolledOver));
          }
        } else this.#ips.reset(scopeKey(ref, 'ip'), start);
        return;
      }
      default:
        return;
    }
  }

  /**
   * The counters as of the log position they were built to, for a restart that does not read
   * the whole log again. Requests settled here whose events the log has not delivered yet are
   * listed, so that replaying from the position does not count them twice.
   */
  snapshot(): CountersSnapshot {
    return {
      version: 1,
      usd: this.#usd.snapshot(),
      tokens: this.#tokens.snapshot(),
      ips: this.#ips.snapshot(),
      ipPeriodStart: [...this.#ipPeriodStart],
      pending: [...this.#settledAhead],
      periodEnds: [...this.#storedEnd],
      periodChanges: [...this.#changedAt].map(([key, { at, spec, end }]) => [key, at, spec, end]),
    };
  }

  /** Restores `snapshot()` into a fresh enforcer, before the log after its position is replayed. */
  restore(snapshot: CountersSnapshot, now: number): void {
    if (snapshot.version !== 1) throw new Error(`unknown counters snapshot version ${snapshot.version}`);
    this.#usd = BudgetLedger.restore(snapshot.usd);
    this.#tokens = BudgetLedger.restore(snapshot.tokens);
    this.#ips = DistinctIps.restore(snapshot.ips);
    for (const [key, start] of snapshot.ipPeriodStart) this.#ipPeriodStart.set(key, start);
    for (const [key, end] of snapshot.periodEnds ?? []) this.#storedEnd.set(key, end);
    // Without it, a PolicySet replayed after the snapshot would date the change from itself.
    for (const [key, at, spec, end] of snapshot.periodChanges ?? [])
      this.#changedAt.set(key, { at, spec, end });
    // Counted already: their events, when replayed, change nothing.
    for (const requestId of snapshot.pending) {
      this.#usd.applyRemoteUsage([], 0n, requestId, now);
      this.#local.add(requestId);
    }
  }

  /** Spent and reserved USD of one scope (for tests, the admin view and metrics). */
  usdView(scope: Scope, scopeId: string) {
    const view = this.#usd.view(scopeKey({ scope, scopeId }, 'usd'));
    return { ...view, usedUsd: formatAmount(view.used - view.baseline, USD_SCALE) };
  }

  /**
   * Renews the money and token budgets of `scopes` that usage at `at` is charged to (all of them
   * when the key lists are null), as admission does, LimitReset events included. From the log
   * (`ended`) only a scope whose known current period ended before `at` is renewed: replaying
   * history with today's policies must not write resets the original replicas did not.
   */
  #renewForUsage(
    scopes: readonly ScopeRef[],
    orgId: string,
    usdKeys: readonly string[] | null,
    tokenKeys: ReadonlySet<string> | null,
    at: number,
    ended = false,
  ): void {
    for (const ref of scopes) {
      const policy = this.#compile(ref.policy);
      const budgets = [
        { limit: 'budget_usd' as const, ledger: this.#usd, key: policy.keys.usd, budget: policy.budget },
        {
          limit: 'budget_tokens' as const,
          ledger: this.#tokens,
          key: policy.keys.tok,
          budget: policy.tokens,
        },
      ];
      for (const { limit, ledger, key, budget } of budgets) {
        if (!budget) continue;
        const listed =
          limit === 'budget_usd'
            ? usdKeys === null || usdKeys.includes(key)
            : tokenKeys === null || tokenKeys.has(key);
        if (!listed) continue;
        if (ended) {
          const end = this.#storedEnd.get(key);
          if (end === undefined || at < end) continue;
        }
        this.#renewBudget(ledger, orgId, ref, limit, key, budget, at);
      }
    }
  }

  /**
   * Renews a budget and gives it the policy's allowance. An allowance set after the counter's
   * period ended (a raise on 1 December before December's first request) is not that period's:
   * the periods up to the change renew at the allowance they had, so what rolls over does not
   * depend on whether a request came between the boundary and the change. A budget set again
   * after its counter's period ended (removed in between, `budgetSince`) is a new budget: it
   * renews at `now` only, carrying nothing, as one added for the first time; set again within
   * that period, it keeps the period's spend (removing it is no way to reset what was spent).
   */
  #renewBudget(
    ledger: BudgetLedger,
    orgId: string,
    ref: ScopeRef,
    limit: 'budget_usd' | 'budget_tokens',
    key: string,
    budget: { readonly allowance: bigint; readonly period: PeriodSpec },
    now: number,
  ): void {
    const end = this.#storedEnd.get(key);
    const since = limit === 'budget_usd' ? ref.policy.budgetSince : ref.policy.tokensSince;
    const setAgain = end !== undefined && since !== undefined && end <= since && since <= now;
    const setAt = ref.policy.setAt;
    const changedSinceEnd =
      !setAgain && end !== undefined && setAt !== undefined && end <= setAt && setAt <= now;
    if (changedSinceEnd && ledger.view(key).allowance !== null)
      this.#renew(orgId, ref, limit, key, budget.period, setAt);
    this.#syncAllowance(ledger, key, budget.allowance);
    this.#renew(orgId, ref, limit, key, budget.period, now, setAgain);
  }

  #syncAllowance(ledger: BudgetLedger, key: string, allowance: bigint): void {
    if (ledger.view(key).allowance !== allowance) ledger.setAllowance(key, allowance);
  }

  /**
   * Renews a periodic limit when its period has passed: resets the counter and writes the
   * LimitReset (deterministic id: whichever replica writes it first, it is stored once).
   * Returns the start of the current period. `anew`: a budget set again after its counter's
   * period ended, renewed as one never reset (the current period, nothing carried).
   */
  #renew(
    orgId: string,
    ref: { scope: Scope; scopeId: string; policy: PolicyEntry },
    limit: PeriodicLimit,
    key: string,
    period: PeriodSpec,
    now: number,
    anew = false,
  ): number {
    const policy = this.#compile(ref.policy);
    if (period.kind === 'lifetime') {
      this.#periodEnd.set(key, { end: Number.POSITIVE_INFINITY, policy });
      return Number.NEGATIVE_INFINITY;
    }
    const cached = this.#periodEnd.get(key);
    if (!anew && cached !== undefined && cached.policy === policy && now < cached.end)
      return this.#currentStart(key, limit);
    const ledger = limit === 'budget_usd' ? this.#usd : limit === 'budget_tokens' ? this.#tokens : null;
    const view = ledger?.view(key);
    const lastStart = ledger ? view!.periodStart : (this.#ipPeriodStart.get(key) ?? Number.NEGATIVE_INFINITY);
    // The ledger's: the policy's, but the one before a change when renewing up to it first.
    const allowance = view?.allowance ?? 0n;
    // A change seen under another spec is not this one's: counted from its own (later) PolicySet,
    // or the spend settled between the two changes would be wiped by resets it never lived under.
    const spec = `${period.text}|${policy.timeZone}|${policy.calendar.monthStartDay ?? 1}`;
    const seen = this.#changedAt.get(key);
    const changedAt = earliest(seen?.spec === spec ? seen.at : undefined, ref.policy.setAt);
    // After a change the counter's period ends where that change put it, not at the last reset's end.
    const lastPeriodEnd = ledger ? (seen?.end ?? this.#storedEnd.get(key)) : undefined;
    // A counter never reset that has spent is a lifetime budget's (a periodic one renews before
    // it counts): made periodic, its spend holds until the new period's first boundary after
    // the change, as a changed period's does, instead of being wiped by a first reset now.
    const fromLifetime =
      !anew && !Number.isFinite(lastStart) && view !== undefined && view.used > view.baseline;
    const lastPeriodStart = fromLifetime
      ? periodAt(period, policy.timeZone, Math.min(now, changedAt ?? now), policy.calendar).start
      : !anew && Number.isFinite(lastStart)
        ? lastStart
        : null;
    const plan = planResets(
      {
        period,
        timeZone: policy.timeZone,
        ...policy.calendar,
        rollover: ledger !== null && policy.rollover,
        rolloverMaxPercent: policy.rolloverMaxPercent,
      },
      {
        lastPeriodStart,
        lastPeriodEnd,
        changedAt,
        allowance,
        unused: ledger ? ledger.rollover(key, null) : 0n,
      },
      now,
    );
    const tokenKind = limit === 'budget_tokens' ? (policy.tokens?.kind ?? 'total') : null;
    // A changed period counts from its PolicySet (when first seen here, without one), until it renews.
    if (plan.changed && plan.resets.length === 0 && seen?.spec !== spec) {
      const at = Math.min(now, changedAt ?? now);
      this.#changedAt.set(key, { at, spec, end: periodAt(period, policy.timeZone, at, policy.calendar).end });
    }
    for (const reset of plan.resets) {
      if (ledger) {
        if (ledger.reset(key, reset.start, reset.rolledOver)) this.#setPeriodEnd(key, reset.end);
      } else this.#ips.reset(key, reset.start);
      const data = {
        scope: ref.scope,
        scopeId: ref.scopeId,
        limit,
        periodStart: new Date(reset.start).toISOString(),
        periodEnd: new Date(reset.end).toISOString(),
        rolledOver:
          limit === 'budget_usd' ? formatAmount(reset.rolledOver, USD_SCALE) : reset.rolledOver.toString(),
        // The counter it renews: a token budget of another kind is another counter.
        tokenKind,
      };
      const id = limitResetEventId(
        orgId,
        { scope: ref.scope, scopeId: ref.scopeId, limit, tokenKind },
        data.periodStart,
      );
      this.#emit(
        kordonCatalogue.create('LimitReset', streams.limits(orgId), data, {
          orgId,
          actor: { kind: 'system', id: 'limits' },
          id,
        }),
      );
    }
    const current = periodAt(period, policy.timeZone, now, policy.calendar);
    this.#periodEnd.set(key, { end: current.end, policy });
    if (!ledger) this.#ipPeriodStart.set(key, current.start);
    return current.start;
  }

  /** A budget's counter entered a new period: it ends at `end`, and any change is behind it. */
  #setPeriodEnd(key: string, end: number): void {
    this.#storedEnd.set(key, end);
    this.#changedAt.delete(key);
  }

  #currentStart(key: string, limit: PeriodicLimit): number {
    if (limit === 'budget_usd') return this.#usd.view(key).periodStart;
    if (limit === 'budget_tokens') return this.#tokens.view(key).periodStart;
    return this.#ipPeriodStart.get(key) ?? Number.NEGATIVE_INFINITY;
  }

  /** A lifetime budget never renews: no Retry-After, which would promise an allowance that never comes. */
  #renewsNever(key: string): boolean {
    return this.#periodEnd.get(key)?.end === Number.POSITIVE_INFINITY;
  }

  /** Retry-After of spent budgets: the last of their periods' ends; none when one never ends. */
  #retryAfter(keys: readonly string[], now: number): { retryAfterMs?: number } {
    let waitMs = 1000;
    for (const key of keys) {
      const end = this.#periodEnd.get(key)?.end;
      if (end === Number.POSITIVE_INFINITY) return {};
      waitMs = Math.max(waitMs, end === undefined || !Number.isFinite(end) ? 3_600_000 : end - now);
    }
    return { retryAfterMs: waitMs };
  }

  /** Once a minute: forget idle rate windows and release reservations never settled. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    this.#rpm.sweep(now);
    this.#tpm.sweep(now);
    this.#usd.expire(now - this.#reservationTtlMs);
    this.#tokens.expire(now - this.#reservationTtlMs);
    // Events lost in between (never written): never grow forever.
    if (this.#local.size > 100_000) this.#local.clear();
    if (this.#settledAhead.size > 100_000) this.#settledAhead.clear();
  }
}

/** A budget's period spec changed, not yet renewed under it (`LimitsEnforcer.#changedAt`). */
interface PeriodChange {
  readonly at: number;
  readonly spec: string;
  readonly end: number;
}

interface CompiledPolicy {
  /** The counters' keys of this scope, made once per policy rather than per request. */
  readonly keys: Readonly<Record<'ip' | 'rpm' | 'tpm' | 'cc' | 'usd' | 'tok', string>>;
  readonly timeZone: string;
  readonly calendar: { monthStartDay?: number };
  readonly rollover: boolean;
  readonly rolloverMaxPercent: number | null;
  readonly rpm?: number;
  readonly tpm?: number;
  readonly concurrency?: number;
  readonly budget?: { allowance: bigint; period: PeriodSpec };
  readonly tokens?: { kind: TokenKind; allowance: bigint; period: PeriodSpec };
  readonly ipCap?: { count: number; period: PeriodSpec };
  readonly ipRules?: IpRules;
  readonly models?: readonly string[];
}

function compilePolicy(entry: PolicyEntry): CompiledPolicy {
  const { limits, renewal } = entry;
  const key = (limit: string) => scopeKey(entry, limit);
  const compiled: { -readonly [K in keyof CompiledPolicy]: CompiledPolicy[K] } = {
    keys: {
      ip: key('ip'),
      rpm: key('rpm'),
      tpm: key('tpm'),
      cc: key('cc'),
      usd: key('usd'),
      tok: key(`tok-${limits.tokens?.kind ?? 'total'}`),
    },
    timeZone: renewal.timeZone ?? 'UTC',
    calendar: renewal.monthStartDay === undefined ? {} : { monthStartDay: renewal.monthStartDay },
    rollover: renewal.rollover === true,
    rolloverMaxPercent: renewal.rolloverMaxPercent ?? null,
  };
  if (limits.rpm !== undefined) compiled.rpm = limits.rpm;
  if (limits.tpm !== undefined) compiled.tpm = limits.tpm;
  if (limits.concurrency !== undefined) compiled.concurrency = limits.concurrency;
  if (limits.budget)
    compiled.budget = { allowance: parseUsd(limits.budget.usd), period: parsePeriod(limits.budget.period) };
  if (limits.tokens)
    compiled.tokens = {
      kind: limits.tokens.kind,
      allowance: BigInt(limits.tokens.count),
      period: parsePeriod(limits.tokens.period),
    };
  if (limits.maxDistinctIps)
    compiled.ipCap = {
      count: limits.maxDistinctIps.count,
      period: parsePeriod(limits.maxDistinctIps.period),
    };
  if (limits.ipAllow?.length || limits.ipDeny?.length)
    compiled.ipRules = IpRules.parse({ allow: limits.ipAllow ?? [], deny: limits.ipDeny ?? [] });
  if (limits.models) compiled.models = limits.models;
  return compiled;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function scopeKey(ref: { scope: Scope; scopeId: string }, limit: string): string {
  return `${SCOPE_TAG[ref.scope]}:${ref.scopeId}:${limit}`;
}

function label(ref: { scope: Scope }): string {
  return ref.scope === 'proxy-key' ? 'key' : ref.scope;
}

function refusal(
  reason: RejectionReason,
  ref: { scope: Scope; scopeId: string },
  status: 403 | 429,
  message: string,
  options: { retryAfterMs?: number; rates?: RateReadings; quota?: boolean } = {},
): Refusal {
  const result: Refusal = {
    ok: false,
    reason,
    limitScope: { scope: ref.scope, scopeId: ref.scopeId },
    status,
    message,
    rates: options.rates ?? NO_RATES,
  };
  const withQuota = options.quota ? { ...result, quota: true } : result;
  if (options.retryAfterMs !== undefined)
    return { ...withQuota, retryAfterSeconds: Math.max(1, Math.ceil(options.retryAfterMs / 1000)) };
  return withQuota;
}

/**
 * A budget refused only for the holds of requests in flight: not spent, so not a final
 * `insufficient_quota`; a 429 the SDKs retry, as when the concurrency limit is full.
 */
function heldRefusal(reason: RejectionReason, ref: ScopeRef, message: string): Refusal {
  return refusal(reason, ref, 429, `${message}; it may fit once they end`, { retryAfterMs: 1000 });
}

function positive(amount: bigint): bigint {
  return amount > 0n ? amount : 0n;
}

/** A rate refusal whose retry must also wait `waitMs` (another limit that refuses as well). */
function waitAtLeast(refused: Refusal, waitMs: number): Refusal {
  const seconds = Math.ceil(waitMs / 1000);
  if (refused.retryAfterSeconds === undefined || seconds <= refused.retryAfterSeconds) return refused;
  return { ...refused, retryAfterSeconds: seconds };
}

/**
 * The tightest of `checks` (fewest remaining) as it stands, counting nothing: a refused
 * request's answer tells what is left for the next one. Undefined when no such limit applies.
 */
function tightestReading(
  limiter: SlidingWindowLimiter,
  checks: readonly WindowCheck[],
  now: number,
): WindowDecision | undefined {
  let chosen: WindowDecision | undefined;
  for (const { key, limit } of checks) {
    const decision = limiter.peek(key, limit, now);
    if (chosen === undefined || decision.remaining < chosen.remaining) chosen = decision;
  }
  return chosen;
}

/** A ticket holding no address: shared, never written to. */
const NO_HOLDS: readonly IpHold[] = Object.freeze([]);

/** A refusal by no rate limit: shared, never written to. */
const NO_RATES: RateReadings = Object.freeze({});

/** What a budget refusal's estimate is made of, and what the caller can change. */
const ESTIMATE_BASIS = 'its prompt and the longest answer it allows';
const SMALLER_REQUEST = 'set max_tokens (lower) or send a shorter prompt';
const NEVER_RENEWS = '; it is a lifetime budget, which does not renew: an admin can raise it';
const OTHER_NEVER_RENEWS = ' (a lifetime budget, which does not renew: an admin can raise it)';

function heldInFlight(reserved: bigint, format: (amount: bigint) => string): string {
  return reserved > 0n ? `, ${format(reserved)} held for requests in flight` : '';
}

function formatUsdShort(amount: bigint): string {
  return `$${formatAmount(amount, USD_SCALE)}`;
}

/** The first model named in a tool that `models` does not allow. */
function toolModelDenied(models: readonly string[], named: readonly ToolModel[]): ToolModel | undefined {
  for (const tool of named) if (tool.model === null || !modelMatches(models, tool.model)) return tool;
  return undefined;
}
