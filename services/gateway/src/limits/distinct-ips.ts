/*
 * Distinct client IPs per key per period (a cap on sharing a key). A key keeps the exact set of
 * addresses seen in its period, up to cap + 1: once a set holds more than the cap every new
 * address is refused anyway, so more would tell nothing. Memory per key: cap + 1 strings at most,
 * plus the addresses held for requests in flight.
 *
 * Addresses are compared by text; pass the canonical text of `parseIp` (IPv4-mapped IPv6 as IPv4,
 * IPv6 in RFC 5952 form), so one address counts once.
 *
 * Periods: every call says which period it belongs to (`periodStart`); a newer one empties the
 * set (the renewal), an older one is stale and ignored. `reset` does the same explicitly from a
 * LimitReset event.
 *
 * Holds: an address admitted for a request (`hold`) counts at once, so concurrent new addresses
 * cannot all pass, but other replicas learn it only from the request's usage event. Until that
 * event is written (`confirm`) or another replica's comes (`observe`), it is held by the requests
 * in flight from it; when the last of them is given back without one (`letGo`: refused after
 * admission), the address leaves the set, as it never entered any other replica's.
 */

export interface DistinctIpDecision {
  readonly allowed: boolean;
  /** Distinct addresses counted in the period, this one included when admitted. */
  readonly count: number;
  readonly cap: number;
  /** The address was not in the set before. */
  readonly isNew: boolean;
}

interface KeyIps {
  periodStart: number;
  readonly ips: Set<string>;
  /** Addresses of `ips` counted only for requests in flight, with how many hold each. */
  held?: Map<string, number>;
}

export class DistinctIps {
  private readonly byKey = new Map<string, KeyIps>();

  /**
   * Admits an address known in the period, or a new one while fewer than `cap` are known; a new
   * one past the cap is refused and not counted. `check` then `record`, for a single scope.
   */
  admit(key: string, ip: string, cap: number, periodStart: number): DistinctIpDecision {
    const decision = this.check(key, ip, cap, periodStart);
    if (decision.allowed && decision.isNew) {
      this.record(key, ip, periodStart);
      return { ...decision, count: decision.count + 1 };
    }
    return decision;
  }

  /**
   * Whether `admit` would admit the address, counting nothing: a request under several caps is
   * checked against all of them first, and recorded (`record`) only once it is admitted, in the
   * same synchronous step (so that concurrent requests cannot all pass the check).
   */
  check(key: string, ip: string, cap: number, periodStart: number): DistinctIpDecision {
    if (!Number.isInteger(cap) || cap < 0) throw new RangeError('cap must be a whole number >= 0');
    const entry = this.byKey.get(key);
    // A newer period starts empty (as `current` would make it); an older one is the current set.
    const ips = entry && periodStart <= entry.periodStart ? entry.ips : null;
    if (ips?.has(ip)) return { allowed: true, count: ips.size, cap, isNew: false };
    const count = ips?.size ?? 0;
    return { allowed: count < cap, count, cap, isNew: true };
  }

  /** Counts an address `check` allowed in the period for good (nothing when already known). */
  record(key: string, ip: string, periodStart: number): void {
    const entry = this.current(key, periodStart);
    entry.ips.add(ip);
    entry.held?.delete(ip);
  }

  /**
   * Counts an address `check` allowed in the period for a request in flight, until `confirm` or
   * `letGo`. True when the request holds it (give it back with either); false when the address
   * is counted for good already, or the period is not the key's current one.
   */
  hold(key: string, ip: string, periodStart: number): boolean {
    const entry = this.current(key, periodStart);
    if (entry.periodStart !== periodStart) return false;
    const holders = entry.held?.get(ip);
    if (holders === undefined && entry.ips.has(ip)) return false;
    entry.ips.add(ip);
    entry.held ??= new Map();
    entry.held.set(ip, (holders ?? 0) + 1);
    return true;
  }

  /** A held address's request wrote its usage event, which every replica counts: kept for good. */
  confirm(key: string, ip: string, periodStart: number): void {
    const entry = this.byKey.get(key);
    if (entry?.periodStart === periodStart) entry.held?.delete(ip);
  }

  /**
   * A request that held the address ended without a usage event: no replica learns the address
   * from it. The last such holder takes the address out of the set. Returns whether it left.
   */
  letGo(key: string, ip: string, periodStart: number): boolean {
    const entry = this.byKey.get(key);
    if (entry?.periodStart !== periodStart) return false;
    const holders = entry.held?.get(ip);
    if (holders === undefined) return false;
    if (holders > 1) {
      entry.held!.set(ip, holders - 1);
      return false;
    }
    entry.held!.delete(ip);
    entry.ips.delete(ip);
    return true;
  }

  /**
   * An address another replica admitted (from a usage event of the period). Counted without a
   * check and for good (a hold of it here becomes permanent), while fewer than cap + 1 addresses
   * are counted for good (held ones aside). Returns false when stale (an older period) or not kept.
   */
  observe(key: string, ip: string, cap: number, periodStart: number): boolean {
    const entry = this.current(key, periodStart);
    if (entry.periodStart !== periodStart) return false;
    if (entry.ips.has(ip)) {
      entry.held?.delete(ip);
      return false;
    }
    // Only addresses counted for good fill the cap + 1: a held one may be let go, and an address
    // dropped for it would be missing here once it is, while every other replica counts it.
    if (entry.ips.size - (entry.held?.size ?? 0) > cap) return false;
    entry.ips.add(ip);
    return true;
  }

  /** Starts a new period for the key; false (nothing changes) for the same or an older one. */
  reset(key: string, periodStart: number): boolean {
    const entry = this.byKey.get(key);
    if (entry && periodStart <= entry.periodStart) return false;
    this.byKey.set(key, { periodStart, ips: new Set() });
    return true;
  }

  count(key: string): number {
    return this.byKey.get(key)?.ips.size ?? 0;
  }

  /** Forgets keys whose period began before `periodStartBefore`; returns how many. */
  sweep(periodStartBefore: number): number {
    let removed = 0;
    for (const [key, entry] of this.byKey) {
      if (entry.periodStart < periodStartBefore) {
        this.byKey.delete(key);
        removed += 1;
      }
    }
    return removed;
  }

  /**
   * Every key's period and addresses, for a snapshot (JSON-safe; -Infinity as null). Held
   * addresses are left out: their requests die with the process, and one whose usage event is
   * written comes back from the log.
   */
  snapshot(): Array<{ key: string; periodStart: number | null; ips: string[] }> {
    return [...this.byKey].map(([key, entry]) => ({
      key,
      periodStart: Number.isFinite(entry.periodStart) ? entry.periodStart : null,
      ips: entry.held?.size ? [...entry.ips].filter((ip) => !entry.held!.has(ip)) : [...entry.ips],
    }));
  }

  static restore(snapshot: ReturnType<DistinctIps['snapshot']>): DistinctIps {
    const ips = new DistinctIps();
    for (const entry of snapshot)
      ips.byKey.set(entry.key, {
        periodStart: entry.periodStart ?? Number.NEGATIVE_INFINITY,
        ips: new Set(entry.ips),
      });
    return ips;
  }

  private current(key: string, periodStart: number): KeyIps {
    let entry = this.byKey.get(key);
    if (!entry || periodStart > entry.periodStart) {
      entry = { periodStart, ips: new Set() };
      this.byKey.set(key, entry);
    }
    return entry;
  }
}
