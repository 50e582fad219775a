import {
  type CalendarOptions,
  type Period,
  type PeriodSpec,
  parsePeriod,
  periodAt,
  periodsBetween,
} from './period.js';

/*
 * Which resets a periodic limit of one scope needs now: the pure half of renewal. The caller
 * writes one LimitReset per planned reset with the id `limitResetEventId(org, key, periodStart)`
 * (the same on every replica, so concurrent writers and restarts store it once), then applies the
 * stored event to the ledger (`BudgetLedger.reset`), whichever replica's copy won.
 *
 * After downtime, with rollover, every missed period gets its reset, oldest first; nothing was
 * spent in the periods nobody was up for, so each one carries allowance + what came before
 * (capped). More than `max` missed periods: only the newest `max` are planned, with the carried
 * amount they would have had. Without rollover (budgets, distinct-IP caps) only the current
 * period's reset is planned: the missed ones would carry nothing and change nothing.
 */

export interface RenewalPolicy {
  readonly period: PeriodSpec | string;
  /** IANA zone of calendar periods (the org's); ignored by fixed ones. */
  readonly timeZone: string;
  readonly monthStartDay?: number;
  /** Carry the unused part of a period into the next one. */
  readonly rollover: boolean;
  /** Cap on what is carried, in percent of one period's allowance; null: no cap. */
  readonly rolloverMaxPercent: number | null;
}

export interface RenewalState {
  /** periodStart of the last reset applied to the scope; null: never (a budget just added). */
  readonly lastPeriodStart: number | null;
  /**
   * periodEnd of that reset, when known. A period that is not one of `policy.period`'s means
   * the period was changed (or the time zone, or monthStartDay) since: see `changedAt`.
   */
  readonly lastPeriodEnd?: number | undefined;
  /** When the change was first seen; default `now`. */
  readonly changedAt?: number | undefined;
  /** Allowance of one period, without rollover (0 for limits that do not roll over). */
  readonly allowance: bigint;
  /** What the last period left unused, uncapped: `BudgetLedger.rollover(scopeKey, null)`. */
  readonly unused: bigint;
}

export interface PlannedReset extends Period {
  readonly rolledOver: bigint;
}

export interface RenewalPlan {
  readonly resets: PlannedReset[];
  /** Missed periods left out before the first planned one (see `max`; all but one without rollover). */
  readonly omitted: number;
  /** The last period is not one of this spec's (it was changed): planned from `changedAt` on. */
  readonly changed?: true;
}

/**
 * The resets due at `now`, oldest first (with rollover; without it, the newest only); none when
 * the current period was already reset. A scope never reset starts with the current period and
 * nothing carried.
 *
 * When the last period is not one of the spec's (`1mo` changed to `1d` on the 10th), the spend
 * of that period stays in force until the spec's first boundary after the change, and renewal
 * counts from there: the new spec's periods before the change were never lived under it, so
 * none is planned and none carries an allowance.
 */
export function planResets(policy: RenewalPolicy, state: RenewalState, now: number, max = 100): RenewalPlan {
  const spec = typeof policy.period === 'string' ? parsePeriod(policy.period) : policy.period;
  if (spec.kind === 'lifetime') return { resets: [], omitted: 0 };
  const calendar: CalendarOptions =
    policy.monthStartDay === undefined ? {} : { monthStartDay: policy.monthStartDay };
  if (state.lastPeriodStart === null) {
    const current = periodAt(spec, policy.timeZone, now, calendar);
    return {
      resets: [{ start: current.start, end: current.end, rolledOver: 0n }],
      omitted: 0,
    };
  }
  let from = state.lastPeriodStart;
  let changed: true | undefined;
  // The last period ended before the change and nobody renewed it in between: it renews at its
  // end, as it would have then, into a period ending at the new spec's first boundary after it.
  let ended: Period | undefined;
  if (state.lastPeriodEnd !== undefined) {
    const last = periodAt(spec, policy.timeZone, from, calendar);
    if (last.start !== from || last.end !== state.lastPeriodEnd) {
      changed = true;
      const changedAt = Math.max(from, state.changedAt ?? now);
      const atChange = periodAt(spec, policy.timeZone, changedAt, calendar);
      if (state.lastPeriodEnd <= changedAt && changedAt <= now) {
        ended = { start: state.lastPeriodEnd, end: atChange.end };
        from = atChange.start;
      } else from = Math.max(from, atChange.start);
    }
  }
  const { periods, omitted } = periodsBetween(spec, policy.timeZone, from, now, { ...calendar, max });
  if (!policy.rollover) {
    // Without rollover a reset carries nothing, and each one empties the counter: only the
    // newest changes anything (the older ones would be applied and emptied at once), so it is
    // the only one planned, however many periods passed. Rollover needs each of them.
    const due = [...(ended ? [ended] : []), ...periods];
    const newest = due.at(-1);
    const resets = newest ? [{ start: newest.start, end: newest.end, rolledOver: 0n }] : [];
    const left = omitted + Math.max(0, due.length - 1);
    return changed ? { resets, omitted: left, changed } : { resets, omitted: left };
  }
  const { allowance } = state;
  const cap =
    policy.rolloverMaxPercent === null ? null : (allowance * BigInt(policy.rolloverMaxPercent)) / 100n;
  const capped = (amount: bigint) => (cap !== null && amount > cap ? cap : amount < 0n ? 0n : amount);
  const resets: PlannedReset[] = [];
  let unused = state.unused;
  if (ended) {
    resets.push({ ...ended, rolledOver: capped(unused) });
    // Nothing was spent in it (usage there would have renewed it): it leaves its allowance.
    unused = allowance + capped(unused);
  }
  // Carried into the first missed period, then into each omitted one.
  let carried = capped(unused);
  if (omitted > 0) {
    if (cap === null) {
      carried += allowance * BigInt(omitted);
    } else {
      // Non-decreasing and capped: it settles at the cap after at most cap/allowance + 1 steps.
      for (let i = 0; i < omitted; i++) {
        const next = capped(allowance + carried);
        if (next === carried) break;
        carried = next;
      }
    }
  }
  for (const [index, p] of periods.entries()) {
    if (index > 0) carried = capped(allowance + carried);
    resets.push({ start: p.start, end: p.end, rolledOver: carried });
  }
  return changed ? { resets, omitted, changed } : { resets, omitted };
}
