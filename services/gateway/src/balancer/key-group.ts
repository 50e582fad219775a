import type { KeyHealth, UsabilityListener } from './key-health.js';
import { SmoothWeighted } from './smooth-weighted.js';
import { fnv1a32, keySeed, rendezvous, StickyTable } from './stickiness.js';
import { effectiveWeight } from './strategies.js';
import type { BalancerKey, KeyDescription, Strategy } from './types.js';

/** One key's place in one group. */
export interface Slot<K extends BalancerKey> {
  key: K;
  readonly health: KeyHealth;
  /** The key's fixed part of its rendezvous scores. */
  readonly seed: number;
  tier: number;
  weight: number;
  effectiveWeight: number;
  /** Its smooth-weighted-round-robin current while it is out of the active set. */
  current: number;
  /** Position in the active set, -1 when not in it (unusable, lower tier, or removed). */
  pos: number;
  usable: boolean;
}

export interface GroupSettings {
  readonly recomputeIntervalMs: number;
  readonly minFactor: number;
  readonly stickyCapacity: number;
}

/**
 * The keys that can serve the same requests (one provider of one org, or those of them
 * that serve some models), and the precomputed state that makes a selection cheap: the
 * "active set" (the usable keys of the best tier that has any) as typed arrays and a
 * `SmoothWeighted` scheduler over them. A selection touches only those; they are rebuilt
 * when membership changes, when a report changes a key's usability, when a resting key's
 * time is up, and (adaptive) every `recomputeIntervalMs`. Between rebuilds a selection costs
 * one time compare.
 */
export class KeyGroup<K extends BalancerKey> implements UsabilityListener {
  strategy: Strategy;
  /** Sorted by tier, then in the order the keys were given. */
  slots: Slot<K>[] = [];
  /** In the order given, to see cheaply that a `setKeys` changed nothing. */
  #given: Slot<K>[] = [];
  readonly #sticky: StickyTable<Slot<K>>;

  #n = 0;
  readonly #scheduler = new SmoothWeighted();
  #slotOf = new Int32Array(0);
  #weights = new Float64Array(0);
  #current = new Float64Array(0);
  #seeds = new Int32Array(0);
  /** Round-robin: the next position in the active set, and the key served last. */
  #rr = 0;
  #lastServed: Slot<K> | null = null;
  /** `peek`'s own turn in the active set (taken modulo its size). */
  #peekAt = 0;
  /** The probe ticket of the key handed out last, 0 when it was not a probe: read right after. */
  probe = 0;

  /** When the active set must be rebuilt; -Infinity: at the next selection. */
  #refreshAt = Number.NEGATIVE_INFINITY;
  #recomputeAt = Number.NEGATIVE_INFINITY;

  constructor(
    strategy: Strategy,
    private readonly settings: GroupSettings,
  ) {
    this.strategy = strategy;
    this.#sticky = new StickyTable(settings.stickyCapacity);
  }

  invalidate(): void {
    this.#refreshAt = Number.NEGATIVE_INFINITY;
  }

  setStrategy(strategy: Strategy): void {
    if (strategy === this.strategy) return;
    this.#saveCurrents();
    this.strategy = strategy;
    for (const slot of this.slots) slot.current = 0;
    this.#recomputeAt = Number.NEGATIVE_INFINITY;
    this.#weighSlots(0);
    this.invalidate();
  }

  /**
   * Makes `keys` the group's members. Keys already in it keep their scheduler state and
   * sessions; unchanged input costs one pass of comparisons and no allocation.
   */
  setKeys(keys: readonly K[], healthOf: (providerKeyId: string) => KeyHealth): void {
    let sameMembers = keys.length === this.#given.length;
    for (let i = 0; sameMembers && i < keys.length; i++) {
      const key = keys[i]!;
      const slot = this.#given[i]!;
      sameMembers =
        slot.key.providerKeyId === key.providerKeyId &&
        slot.weight === key.weight &&
        slot.tier === tierOf(key);
    }
    if (sameMembers) {
      for (let i = 0; i < keys.length; i++) {
        const slot = this.#given[i]!;
        slot.key = keys[i]!;
        // The key's health is shared by every group holding it, and says "changed" only once:
        // each of those groups must refresh, not only the one that looked first.
        if (slot.health.sync(slot.key)) for (const group of slot.health.groups) group.invalidate();
      }
      return;
    }

    const previous = new Map<string, Slot<K>>();
    for (const slot of this.#given) previous.set(slot.key.providerKeyId, slot);
    const given: Slot<K>[] = [];
    const seen = new Set<string>();
    for (const key of keys) {
      const id = key.providerKeyId;
      if (seen.has(id)) continue; // listed twice: once is enough
      seen.add(id);
      const health = healthOf(id);
      const slot: Slot<K> = previous.get(id) ?? {
        key,
        health,
        seed: keySeed(id),
        tier: 0,
        weight: 0,
        effectiveWeight: 0,
        current: 0,
        pos: -1,
        usable: false,
      };
      previous.delete(id);
      slot.key = key;
      slot.tier = tierOf(key);
      slot.weight = key.weight;
      if (health.sync(key)) for (const group of health.groups) group.invalidate();
      health.groups.add(this);
      given.push(slot);
    }
    // Removed keys: out of the active set for good, so sessions held on them re-hash.
    for (const gone of previous.values()) {
      gone.pos = -1;
      gone.usable = false;
      gone.health.groups.delete(this);
    }
    this.#saveCurrents();
    this.#given = given;
    this.slots = given.slice().sort((a, b) => a.tier - b.tier); // stable: given order within a tier
    const size = given.length;
    this.#slotOf = new Int32Array(size);
    this.#weights = new Float64Array(size);
    this.#current = new Float64Array(size);
    this.#seeds = new Int32Array(size);
    this.#n = 0;
    this.#rr = 0;
    this.#recomputeAt = Number.NEGATIVE_INFINITY;
    this.#weighSlots(0);
    this.invalidate();
  }

  /** Leaves every key's listener set; the group is not used afterwards. */
  detach(): void {
    for (const slot of this.#given) slot.health.groups.delete(this);
    this.#sticky.clear();
  }

  /** The next key to use, or undefined when no key is usable. The fast path. */
  pick(now: number, session: string | undefined): Slot<K> | undefined {
    if (now >= this.#refreshAt) this.#refresh(now);
    const n = this.#n;
    if (n === 0) return undefined;
    let j: number;
    if (session !== undefined) {
      j = this.#sessionPosition(session);
    } else if (this.strategy === 'round-robin') {
      j = this.#rr;
      this.#rr = j + 1 === n ? 0 : j + 1;
      this.#lastServed = this.slots[this.#slotOf[j]!]!;
    } else {
      j = this.#scheduler.step();
    }
    return this.#handOut(this.slots[this.#slotOf[j]!]!, now);
  }

  /**
   * The key a session is pinned to (it holds what the provider stored for the session), when
   * it is a usable member of the group: whatever its tier or turn, since no other key can
   * serve the session. Undefined otherwise: the session goes where `pick` sends it.
   */
  pinned(now: number, providerKeyId: string): Slot<K> | undefined {
    const slot = this.slots.find((candidate) => candidate.key.providerKeyId === providerKeyId);
    if (slot === undefined || slot.weight <= 0 || slot.health.usableAt(now) !== 0) return undefined;
    return this.#handOut(slot, now);
  }

  /**
   * `pinned` for a call that is not one of the key's requests (`peek`): the key is not handed
   * out, and a half-open one is left out, its one probe kept for its requests.
   */
  peekPinned(now: number, providerKeyId: string): Slot<K> | undefined {
    const slot = this.slots.find((candidate) => candidate.key.providerKeyId === providerKeyId);
    if (slot === undefined || slot.weight <= 0 || slot.health.circuit.openUntil !== 0) return undefined;
    return slot.health.usableAt(now) === 0 ? slot : undefined;
  }

  /** The next key for a request that already tried `tried`: the active set first, then lower tiers. */
  next(now: number, tried: readonly Slot<K>[]): Slot<K> | undefined {
    if (now >= this.#refreshAt) this.#refresh(now);
    const n = this.#n;
    if (n > 0) {
      const slots = this.slots;
      const slotOf = this.#slotOf;
      if (this.strategy === 'round-robin') {
        for (let step = 0; step < n; step++) {
          const j = (this.#rr + step) % n;
          const slot = slots[slotOf[j]!]!;
          if (tried.includes(slot)) continue;
          this.#rr = j + 1 === n ? 0 : j + 1;
          this.#lastServed = slot;
          return this.#handOut(slot, now);
        }
      } else {
        const j = this.#scheduler.stepExcept((k) => tried.includes(slots[slotOf[k]!]!));
        if (j >= 0) return this.#handOut(slots[slotOf[j]!]!, now);
      }
    }
    // The active set is spent for this request: the best usable key of the next tiers.
    const best = this.#bestBelowActiveSet((slot) => tried.includes(slot));
    return best === undefined ? undefined : this.#handOut(best, now);
  }

  /** The best usable key outside the active set (lowest tier, then heaviest), `skip`ped ones aside. */
  #bestBelowActiveSet(skip: (slot: Slot<K>) => boolean): Slot<K> | undefined {
    let best: Slot<K> | undefined;
    for (const slot of this.slots) {
      if (!slot.usable || slot.pos >= 0 || skip(slot)) continue;
      if (best === undefined || slot.tier < best.tier) best = slot;
      else if (slot.tier === best.tier && slot.effectiveWeight > best.effectiveWeight) best = slot;
    }
    return best;
  }

  /**
   * A usable key for a call that is not one of the key's requests (Anthropic's token
   * counting: free, and limited apart from messages): the keys of the active set in turn, on
   * a turn of their own, then the best of the lower tiers. Nothing is handed out: the key's
   * own RPM is not spent, no half-open probe is taken (such keys are left out), and the
   * requests' rotation and sessions do not move. Spreading the calls keeps one key's limit
   * for them from being the whole group's. With `tried`, the next key for such a call that
   * failed on those: the turn is not moved again (one step per call, not per failover).
   */
  peek(now: number, tried?: readonly Slot<K>[]): Slot<K> | undefined {
    if (now >= this.#refreshAt) this.#refresh(now);
    const n = this.#n;
    const passedOver = (slot: Slot<K>) =>
      slot.health.circuit.openUntil !== 0 || (tried !== undefined && tried.includes(slot));
    for (let step = 0; step < n; step++) {
      const j = (this.#peekAt + step) % n;
      const slot = this.slots[this.#slotOf[j]!]!;
      if (passedOver(slot)) continue;
      if (tried === undefined) this.#peekAt = j + 1;
      return slot;
    }
    return this.#bestBelowActiveSet(passedOver);
  }

  /**
   * Usable keys other than `first`, for a failover list: by tier, then the round-robin
   * rotation or the heaviest first. Keys in half-open are left out: each may take one probe,
   * and a list is not a promise to send.
   */
  rest(first: Slot<K>, now: number): K[] {
    if (now >= this.#refreshAt) this.#refresh(now);
    const slots = this.slots;
    const others: Slot<K>[] = [];
    // Walking on from `first` gives round-robin its rotation; the sorts below are stable.
    const start = slots.indexOf(first);
    for (let step = 1; step <= slots.length; step++) {
      const slot = slots[(start + step) % slots.length]!;
      if (slot !== first && slot.usable && slot.health.circuit.openUntil === 0) others.push(slot);
    }
    if (this.strategy === 'round-robin') others.sort((a, b) => a.tier - b.tier);
    else others.sort((a, b) => a.tier - b.tier || b.effectiveWeight - a.effectiveWeight);
    return others.map((slot) => slot.key);
  }

  /**
   * When the first unusable key may be used again: for a Retry-After when none is usable.
   * `notBefore` gives a key's rest the group does not know of (epoch ms, 0: none).
   */
  nextUsableAt(now: number, notBefore?: (providerKeyId: string) => number): number | null {
    let soonest = Number.POSITIVE_INFINITY;
    for (const slot of this.slots) {
      if (slot.weight <= 0) continue;
      const at = slot.health.backAt(now);
      const usableAt = at === 0 ? now : at;
      soonest = Math.min(
        soonest,
        notBefore === undefined ? usableAt : Math.max(usableAt, notBefore(slot.key.providerKeyId)),
      );
    }
    return Number.isFinite(soonest) ? soonest : null;
  }

  describe(now: number): KeyDescription[] {
    const best = this.#bestLatency();
    return this.slots.map((slot) => {
      const health = slot.health;
      const usableAt = health.backAt(now);
      return {
        providerKeyId: slot.key.providerKeyId,
        tier: slot.tier,
        weight: slot.weight,
        effectiveWeight: effectiveWeight(
          this.strategy,
          slot.weight,
          health,
          now,
          best,
          this.settings.minFactor,
        ),
        state: health.state(now),
        usable: usableAt === 0 && slot.weight > 0,
        usableAt: usableAt === 0 || usableAt === Number.POSITIVE_INFINITY ? null : usableAt,
        errorRate: health.errorRate(now),
        latencyEwmaMs: health.latencyEwma < 0 ? null : health.latencyEwma,
        consecutiveFailures: health.circuit.consecutiveFailures,
        remaining: health.remaining(now),
        usage: health.usage(now),
      };
    });
  }

  #handOut(slot: Slot<K>, now: number): Slot<K> {
    // Counting against an own limit or claiming the probe may take the key out of use.
    if (slot.health.picked(now)) for (const group of slot.health.groups) group.invalidate();
    this.probe = slot.health.claimedProbe;
    return slot;
  }

  /** A session's position in the active set: where it went before if that key is still there. */
  #sessionPosition(session: string): number {
    const known = this.#sticky.get(session);
    if (known !== undefined && known.pos >= 0) return known.pos;
    const j = rendezvous(fnv1a32(session), this.#seeds, this.#weights, this.#n);
    this.#sticky.set(session, this.slots[this.#slotOf[j]!]!);
    return j;
  }

  /** Rebuilds the active set: which keys are usable now, and the best tier among them. */
  #refresh(now: number): void {
    if (this.strategy === 'adaptive' && now >= this.#recomputeAt) {
      this.#weighSlots(now);
      this.#recomputeAt = now + this.settings.recomputeIntervalMs;
    }
    this.#saveCurrents();
    let nextChange = Number.POSITIVE_INFINITY;
    let tier = Number.POSITIVE_INFINITY;
    for (const slot of this.slots) {
      const at = slot.health.usableAt(now);
      slot.usable = at === 0 && slot.effectiveWeight > 0;
      if (slot.usable) tier = Math.min(tier, slot.tier);
      else if (at > 0 && at < nextChange) nextChange = at;
    }
    let n = 0;
    let rr = -1;
    // Round-robin resumes right after the key it served last, whatever else joined or left.
    const lastServed = this.#lastServed === null ? -1 : this.slots.indexOf(this.#lastServed);
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      if (!slot.usable || slot.tier !== tier) continue;
      if (rr < 0 && i > lastServed) rr = n;
      this.#slotOf[n] = i;
      this.#weights[n] = slot.effectiveWeight;
      this.#current[n] = slot.current;
      this.#seeds[n] = slot.seed;
      slot.pos = n;
      n++;
    }
    this.#n = n;
    if (this.strategy !== 'round-robin') this.#scheduler.load(this.#weights, this.#current, n);
    this.#rr = Math.max(rr, 0);
    this.#refreshAt = this.strategy === 'adaptive' ? Math.min(nextChange, this.#recomputeAt) : nextChange;
  }

  /** Puts the scheduler state of the active set back on its slots before a rebuild. */
  #saveCurrents(): void {
    if (this.strategy !== 'round-robin' && this.#scheduler.size === this.#n) {
      this.#scheduler.currents(this.#current);
    }
    for (let j = 0; j < this.#n; j++) {
      const slot = this.slots[this.#slotOf[j]!];
      if (slot === undefined) continue;
      slot.current = this.#current[j]!;
      slot.pos = -1;
    }
    this.#n = 0;
  }

  #weighSlots(now: number): void {
    const best = this.strategy === 'adaptive' ? this.#bestLatency() : 0;
    for (const slot of this.slots) {
      slot.effectiveWeight = effectiveWeight(
        this.strategy,
        slot.weight,
        slot.health,
        now,
        best,
        this.settings.minFactor,
      );
    }
  }

  #bestLatency(): number {
    let best = Number.POSITIVE_INFINITY;
    for (const slot of this.slots) {
      const latency = slot.health.latencyEwma;
      if (latency > 0 && latency < best) best = latency;
    }
    return Number.isFinite(best) ? best : 0;
  }
}

function tierOf(key: BalancerKey): number {
  const tier = key.tier ?? 0;
  return Number.isFinite(tier) && tier > 0 ? Math.floor(tier) : 0;
}
