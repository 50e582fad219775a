import { KeyGroup, type Slot } from './key-group.js';
import { KeyHealth } from './key-health.js';
import {
  type BalancerKey,
  type BalancerOptions,
  type CircuitOptions,
  DEFAULT_CIRCUIT,
  DEFAULT_HEALTH,
  DEFAULT_RECOMPUTE_INTERVAL_MS,
  DEFAULT_STICKY_CAPACITY,
  type FailureReport,
  type GroupOptions,
  type HealthDecision,
  type HealthOptions,
  type KeyDescription,
  type Strategy,
  type SuccessReport,
  UNCHANGED,
} from './types.js';

/**
 * Chooses which provider key serves a request, across the keys of a group (an org's keys
 * of one provider), and learns from how each attempt went. Pure and in memory: time comes
 * in as `now` (epoch ms), nothing is random, nothing is emitted; reports return a
 * `HealthDecision` for the caller to turn into events.
 *
 *   balancer.setGroup('org/openai', keys)               // when the registry changes
 *   const attempts = balancer.candidates('org/openai', sessionId)
 *   for (let key = attempts.next(now); key; key = attempts.next(Date.now())) { ...try, report... }
 */
export class Balancer<K extends BalancerKey = BalancerKey> {
  readonly #groups = new Map<string, KeyGroup<K>>();
  readonly #health = new Map<string, KeyHealth>();
  readonly #circuit: CircuitOptions;
  readonly #healthOptions: HealthOptions;
  readonly #settings: { recomputeIntervalMs: number; minFactor: number; stickyCapacity: number };
  #lastProbe = 0;

  constructor(options: BalancerOptions = {}) {
    this.#circuit = { ...DEFAULT_CIRCUIT, ...options.circuit };
    this.#healthOptions = { ...DEFAULT_HEALTH, ...options.health };
    this.#settings = {
      recomputeIntervalMs: options.recomputeIntervalMs ?? DEFAULT_RECOMPUTE_INTERVAL_MS,
      minFactor: this.#healthOptions.minFactor,
      stickyCapacity: options.stickyCapacity ?? DEFAULT_STICKY_CAPACITY,
    };
  }

  /**
   * A group's keys, all of them (disabled and resting ones too: the balancer skips them and
   * learns when they return). Call again whenever a key's weight, tier, limits, `disabled` or
   * `cooledDownUntil` changes; an unchanged list costs one pass of comparisons and keeps all
   * state. A key may be in several groups (all a provider's keys, those serving some
   * models); its health is shared.
   */
  setGroup(group: string, keys: readonly K[], options: GroupOptions = {}): void {
    let state = this.#groups.get(group);
    if (state === undefined) {
      state = new KeyGroup<K>(options.strategy ?? 'adaptive', this.#settings);
      this.#groups.set(group, state);
    } else if (options.strategy !== undefined) {
      state.setStrategy(options.strategy);
    }
    state.setKeys(keys, (id) => this.#healthOf(id));
  }

  removeGroup(group: string): void {
    this.#groups.get(group)?.detach();
    this.#groups.delete(group);
  }

  /** Forgets a removed key's health; its id is never reused. */
  forgetKey(providerKeyId: string): void {
    const health = this.#health.get(providerKeyId);
    if (health !== undefined && health.groups.size === 0) this.#health.delete(providerKeyId);
  }

  /** How many groups it holds (each listens to its keys' health). */
  get groupCount(): number {
    return this.#groups.size;
  }

  strategyOf(group: string): Strategy | undefined {
    return this.#groups.get(group)?.strategy;
  }

  /**
   * The key for the next request: the strategy's choice among the usable keys of the best
   * tier that has any; with `session`, the key that session used while it stays usable.
   * Undefined when no key is usable. No allocation. Handing a key out counts it against its
   * own RPM and, for a half-open key, makes this request its one probe.
   */
  pick(group: string, now: number, session?: string): K | undefined {
    const state = this.#groups.get(group);
    const slot = state?.pick(now, session);
    this.#lastProbe = slot === undefined ? 0 : state!.probe;
    return slot?.key;
  }

  /**
   * The probe ticket of the key the last `pick` or `order` handed out (0: not a probe). Only
   * a report carrying it (`probe`) decides a half-open circuit or frees its probe slot.
   */
  get lastProbe(): number {
    return this.#lastProbe;
  }

  /**
   * A usable key for a call that does not count as one of its requests (token counting):
   * the active set's keys in turn, on a turn apart from the requests'. Its own RPM is not
   * spent, no half-open probe is claimed (half-open keys are left out), the requests'
   * rotation does not move. Undefined when no key fits.
   */
  peek(group: string, now: number): K | undefined {
    return this.#groups.get(group)?.peek(now)?.key;
  }

  /**
   * A request's keys, one at a time: `next(now)` gives the first, then each failover, computed
   * when asked. `pinnedKeyId`: the key that holds what the provider stored for the session,
   * tried first while it is usable.
   */
  candidates(group: string, session?: string, pinnedKeyId?: string): Candidates<K> {
    return new Candidates(this.#groups.get(group), session, pinnedKeyId);
  }

  /**
   * `peek`'s keys for one call, one at a time: the first is `peek`'s, each later one the next
   * usable key the call has not tried, as `peek` chooses (no half-open key, nothing handed
   * out, no probe: `probe` stays 0, and a key passed over needs no `reportUnused`).
   * `pinnedKeyId`: the key that holds what the call continues, peeked first while it is usable.
   */
  peekCandidates(group: string, pinnedKeyId?: string): Candidates<K> {
    return new Candidates(this.#groups.get(group), undefined, pinnedKeyId, true);
  }

  /**
   * Given a group's keys (usable ones, or all), the order to try them in. The first is `pick`'s choice; the rest follow by tier, then
   * by rotation (round-robin) or weight. O(n) and allocates: prefer `pick` or `candidates`.
   */
  order(group: string, keys: readonly K[], now: number, session?: string): K[] {
    this.setGroup(group, keys);
    const state = this.#groups.get(group)!;
    const first = state.pick(now, session);
    this.#lastProbe = first === undefined ? 0 : state.probe;
    if (first === undefined) return [];
    const rest = state.rest(first, now);
    rest.unshift(first.key);
    return rest;
  }

  reportSuccess(providerKeyId: string, report: SuccessReport): HealthDecision {
    const health = this.#healthOf(providerKeyId);
    const before = health.usableAt(report.now);
    const decision = health.success(report);
    this.#afterReport(health, before, report.now);
    return decision;
  }

  reportFailure(providerKeyId: string, report: FailureReport): HealthDecision {
    if (report.kind === 'caller_cancelled' && !this.#health.has(providerKeyId)) return UNCHANGED;
    const health = this.#healthOf(providerKeyId);
    const before = health.usableAt(report.now);
    const decision = health.failure(report);
    this.#afterReport(health, before, report.now);
    return decision;
  }

  /**
   * A key `candidates` or `pick` handed out that the request then skipped before any call (it
   * lacks the model, the endpoint's scope, the request cannot be sent): not one of its requests.
   * Its own RPM gets the count back and the probe it claimed (`probe`, its ticket) is freed;
   * nothing else is learnt.
   */
  reportUnused(providerKeyId: string, now: number, probe = 0): void {
    const health = this.#health.get(providerKeyId);
    if (health === undefined) return;
    const before = health.usableAt(now);
    health.unused(now, probe);
    this.#afterReport(health, before, now);
  }

  /**
   * An attempt that says nothing of the key (the gateway's own error, a model or scope the key's
   * project lacks, a per-model rest, a 401 to a secret replaced since): nothing is learnt, but
   * the probe it was (`probe`, its ticket) is freed, or the key would wait out the probe's bound
   * (an hour) before anyone asked it again. A ticket already reported on is no longer the
   * probe's: then nothing changes.
   */
  releaseProbe(providerKeyId: string, now: number, probe: number): void {
    const health = this.#health.get(providerKeyId);
    if (health === undefined || probe === 0) return;
    const before = health.usableAt(now);
    health.circuit.release(probe);
    this.#afterReport(health, before, now);
  }

  /**
   * Tokens a key used, known only after its success was reported (a stream's usage comes at its
   * end): counted against the key's own TPM limit, nothing else learnt.
   */
  reportTokens(providerKeyId: string, tokens: number, now: number): void {
    const health = this.#health.get(providerKeyId);
    if (health === undefined) return;
    const before = health.usableAt(now);
    health.countTokens(tokens, now);
    this.#afterReport(health, before, now);
  }

  /** An admin re-enabled the key (the registry's disabled -> enabled does the same). */
  enable(providerKeyId: string): void {
    const health = this.#health.get(providerKeyId);
    if (health === undefined) return;
    health.enable();
    for (const group of health.groups) group.invalidate();
  }

  /** Per key, for the admin: effective weight, tier, state, error rate, latency, remaining quota. */
  describe(group: string, now: number): KeyDescription[] {
    return this.#groups.get(group)?.describe(now) ?? [];
  }

  /**
   * When no key is usable: when the first one may be again (for Retry-After). Null: none will by
   * itself. `notBefore`: a rest of a key the balancer does not keep (epoch ms, 0 for none).
   */
  nextUsableAt(group: string, now: number, notBefore?: (providerKeyId: string) => number): number | null {
    return this.#groups.get(group)?.nextUsableAt(now, notBefore) ?? null;
  }

  /** When a key may be asked again: 0 when it may now (or is unknown), else epoch ms. */
  usableAt(providerKeyId: string, now: number): number {
    return this.#health.get(providerKeyId)?.usableAt(now) ?? 0;
  }

  #healthOf(providerKeyId: string): KeyHealth {
    let health = this.#health.get(providerKeyId);
    if (health === undefined) {
      health = new KeyHealth(providerKeyId, this.#healthOptions, this.#circuit);
      this.#health.set(providerKeyId, health);
    }
    return health;
  }

  /** Adaptive weights catch up on their own timer; usability changes are seen at once. */
  #afterReport(health: KeyHealth, before: number, now: number): void {
    if (health.usableAt(now) !== before) for (const group of health.groups) group.invalidate();
  }
}

/**
 * The keys one request tries, computed lazily: the first is the group's pick, each later one
 * the best usable key the request has not tried yet (reports in between are taken into
 * account). Allocates the list of tried keys only on a failover.
 */
export class Candidates<K extends BalancerKey> {
  #tried: Slot<K>[] | null = null;
  #first: Slot<K> | undefined;
  #started = false;
  /**
   * The probe ticket of the key `next` returned last (0: not a probe): pass it in that
   * attempt's report (`probe`), or its answer will not count as the probe's.
   */
  probe = 0;

  constructor(
    private readonly group: KeyGroup<K> | undefined,
    private readonly session: string | undefined,
    private readonly pinnedKeyId?: string,
    /** `peek`'s keys (`Balancer.peekCandidates`): none is handed out, none is a probe. */
    readonly peeking = false,
  ) {}

  next(now: number): K | undefined {
    const group = this.group;
    if (group === undefined) return undefined;
    if (this.peeking) return this.#nextPeeked(group, now);
    if (!this.#started) {
      this.#started = true;
      const pinned = this.pinnedKeyId === undefined ? undefined : group.pinned(now, this.pinnedKeyId);
      this.#first = pinned ?? group.pick(now, this.session);
      this.probe = this.#first === undefined ? 0 : group.probe;
      return this.#first?.key;
    }
    this.probe = 0;
    if (this.#first === undefined) return undefined;
    this.#tried ??= [this.#first];
    const slot = group.next(now, this.#tried);
    if (slot === undefined) return undefined;
    this.probe = group.probe;
    this.#tried.push(slot);
    return slot.key;
  }

  #nextPeeked(group: KeyGroup<K>, now: number): K | undefined {
    if (!this.#started) {
      this.#started = true;
      const pinned = this.pinnedKeyId === undefined ? undefined : group.peekPinned(now, this.pinnedKeyId);
      this.#first = pinned ?? group.peek(now);
      return this.#first?.key;
    }
    if (this.#first === undefined) return undefined;
    this.#tried ??= [this.#first];
    const slot = group.peek(now, this.#tried);
    if (slot === undefined) return undefined;
    this.#tried.push(slot);
    return slot.key;
  }
}
