/*
 * Budget periods: when a periodic limit renews.
 *
 *   Nd, Nw, Nmo, Ny   calendar periods in an IANA time zone. A day starts at local midnight (or at
 *                     the first instant of the day where midnight does not exist), a week on
 *                     Monday, a month on day 1 (or on `monthStartDay`), a year on 1 January.
 *                     N > 1 groups units counted from 1970: `2d` from 1970-01-01, `2w` from Monday
 *                     1970-01-05, `3mo` gives calendar quarters, `6mo` halves, `Ny` years divisible
 *                     by N. A `1d` period is 23 or 25 hours long on a DST day.
 *   Ns, Nm, Nh        fixed durations aligned to the Unix epoch: period k is [k*len, (k+1)*len).
 *                     No time zone, no state: every replica computes the same boundaries.
 *   lifetime          never renews.
 *
 * Zone offsets come from Intl.DateTimeFormat (Node's ICU time-zone data, the same data luxon and
 * @date-fns/tz read); local wall times are turned into instants the way Temporal does it.
 * Everything is epoch milliseconds; no `Date.now()` in here.
 */

export interface Period {
  /** Inclusive, epoch ms. */
  readonly start: number;
  /** Exclusive, epoch ms. */
  readonly end: number;
}

export type CalendarUnit = 'day' | 'week' | 'month';

export type PeriodSpec =
  | { readonly kind: 'calendar'; readonly unit: CalendarUnit; readonly count: number; readonly text: string }
  | { readonly kind: 'fixed'; readonly ms: number; readonly text: string }
  | { readonly kind: 'lifetime'; readonly text: 'lifetime' };

export interface CalendarOptions {
  /** Day of the month a monthly (or yearly) period starts, 1 to 28. Default 1. */
  readonly monthStartDay?: number;
}

export class PeriodSpecError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'PeriodSpecError';
  }
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The longest fixed period: 366 days. */
const MAX_FIXED_MS = 366 * DAY;

/** `1d`, `90s`, `3mo`, `lifetime`. Counts have no leading zero. */
export const PERIOD_PATTERN = /^(?:lifetime|([1-9]\d{0,7})(s|m|h|d|w|mo|y))$/;

/** Most units of each calendar kind in one period. */
const MAX_COUNT = { d: 366, w: 53, mo: 120, y: 10 } as const;

export const LIFETIME: Period = { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY };

/** Parses a period spec; throws PeriodSpecError on anything else. */
export function parsePeriod(text: string): PeriodSpec {
  const match = PERIOD_PATTERN.exec(text);
  if (!match) {
    throw new PeriodSpecError(
      `period "${text}" must be lifetime or a count and a unit: s, m, h (fixed) or d, w, mo, y (calendar)`,
    );
  }
  if (text === 'lifetime') return { kind: 'lifetime', text: 'lifetime' };
  const count = Number(match[1]);
  const unit = match[2] as 's' | 'm' | 'h' | 'd' | 'w' | 'mo' | 'y';
  switch (unit) {
    case 's':
    case 'm':
    case 'h': {
      const ms = count * (unit === 's' ? SECOND : unit === 'm' ? MINUTE : HOUR);
      if (ms > MAX_FIXED_MS) throw new PeriodSpecError(`period "${text}" is longer than 366 days`);
      return { kind: 'fixed', ms, text };
    }
    case 'd':
    case 'w':
    case 'mo':
    case 'y': {
      if (count > MAX_COUNT[unit]) {
        throw new PeriodSpecError(`period "${text}": at most ${MAX_COUNT[unit]}${unit}`);
      }
      if (unit === 'd') return { kind: 'calendar', unit: 'day', count, text };
      if (unit === 'w') return { kind: 'calendar', unit: 'week', count, text };
      return { kind: 'calendar', unit: 'month', count: unit === 'y' ? count * 12 : count, text };
    }
    default: {
      const never: never = unit;
      throw new PeriodSpecError(`unknown unit ${String(never)}`);
    }
  }
}

/** Throws PeriodSpecError when the zone is not a known IANA time zone. */
export function checkTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

/** Whether periods can be counted in the zone (the config file's and the admin API's check). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    checkTimeZone(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The period containing `now`: start ≤ now < end. `lifetime` gives LIFETIME (infinite bounds). */
export function periodAt(
  spec: PeriodSpec | string,
  timeZone: string,
  now: number,
  options: CalendarOptions = {},
): Period {
  const parsed = typeof spec === 'string' ? parsePeriod(spec) : spec;
  checkInstant(now, 'now');
  switch (parsed.kind) {
    case 'lifetime':
      return LIFETIME;
    case 'fixed': {
      const start = Math.floor(now / parsed.ms) * parsed.ms;
      return { start, end: start + parsed.ms };
    }
    case 'calendar': {
      const { start, end } = calendarPeriodAt(new CalendarPeriods(parsed, timeZone, options), now);
      return { start, end };
    }
    default: {
      const never: never = parsed;
      return never;
    }
  }
}

export interface PeriodsBetween {
  /** Periods that begin after `from` and at or before `to`, oldest first. */
  readonly periods: Period[];
  /** How many earlier periods were left out to keep at most `max`. */
  readonly omitted: number;
}

/**
 * The periods that began in (from, to]: the resets missed between the last one applied
 * (`from`, usually its periodStart) and `to` (now). Keeps the newest `max` (default 1000) and
 * counts the rest in `omitted`: after a week down, a 90s period has 6720 of them.
 */
export function periodsBetween(
  spec: PeriodSpec | string,
  timeZone: string,
  from: number,
  to: number,
  options: CalendarOptions & { readonly max?: number } = {},
): PeriodsBetween {
  const parsed = typeof spec === 'string' ? parsePeriod(spec) : spec;
  checkInstant(from, 'from');
  checkInstant(to, 'to');
  const max = options.max ?? 1000;
  if (!Number.isInteger(max) || max < 0) throw new RangeError('max must be a whole number');
  if (parsed.kind === 'lifetime' || to <= from) return { periods: [], omitted: 0 };
  if (parsed.kind === 'fixed') {
    const first = Math.floor(from / parsed.ms) + 1;
    const last = Math.floor(to / parsed.ms);
    const kept = Math.max(first, last - max + 1);
    const periods: Period[] = [];
    for (let k = kept; k <= last; k++) periods.push({ start: k * parsed.ms, end: (k + 1) * parsed.ms });
    return { periods, omitted: Math.max(0, kept - first) };
  }
  const calendar = new CalendarPeriods(parsed, timeZone, options);
  const first = calendarPeriodAt(calendar, from).index + 1;
  const last = calendarPeriodAt(calendar, to).index;
  const kept = Math.max(first, last - max + 1);
  const periods: Period[] = [];
  let start = calendar.startOf(kept);
  for (let k = kept; k <= last; k++) {
    const end = calendar.startOf(k + 1);
    // A day a zone skipped entirely (Pacific/Apia, 30 December 2011) is an empty period.
    if (end > start) periods.push({ start, end });
    start = end;
  }
  return { periods, omitted: Math.max(0, kept - first) };
}

/**
 * The current period of one spec, recomputed only when `now` leaves it: for the hot path,
 * where `periodAt` (a few Intl calls) would be too slow on every request.
 */
export class PeriodTracker {
  private readonly spec: PeriodSpec;
  private current: Period = { start: 0, end: 0 };

  constructor(
    spec: PeriodSpec | string,
    private readonly timeZone: string,
    private readonly options: CalendarOptions = {},
  ) {
    this.spec = typeof spec === 'string' ? parsePeriod(spec) : spec;
    checkTimeZone(timeZone);
    if (options.monthStartDay !== undefined) checkMonthStartDay(options.monthStartDay);
  }

  at(now: number): Period {
    if (now >= this.current.start && now < this.current.end) return this.current;
    this.current = periodAt(this.spec, this.timeZone, now, this.options);
    return this.current;
  }
}

// ---------------------------------------------------------------------------------------------
// Calendar arithmetic. A "day index" is the number of days from 1970-01-01 of a local date; a
// "unit index" counts days, weeks (from Monday 1970-01-05) or months (from January 1970); period
// k of a spec with count N covers unit indexes [k*N, (k+1)*N).

/** 1970-01-05, the first Monday after the epoch, as a day index. */
const FIRST_MONDAY = 4;

class CalendarPeriods {
  readonly monthStartDay: number;

  constructor(
    readonly spec: { readonly unit: CalendarUnit; readonly count: number },
    readonly timeZone: string,
    options: CalendarOptions,
  ) {
    this.monthStartDay = options.monthStartDay ?? 1;
    checkMonthStartDay(this.monthStartDay);
    checkTimeZone(timeZone);
  }

  /** Index of the period that the local date of `instant` falls in. */
  indexOf(instant: number): number {
    const day = Math.floor(wallTime(this.timeZone, instant) / DAY);
    let unit: number;
    switch (this.spec.unit) {
      case 'day':
        unit = day;
        break;
      case 'week':
        unit = Math.floor((day - FIRST_MONDAY) / 7);
        break;
      case 'month': {
        const date = new Date(day * DAY);
        unit = (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
        if (date.getUTCDate() < this.monthStartDay) unit -= 1;
        break;
      }
    }
    return Math.floor(unit / this.spec.count);
  }

  /** First instant of period `index`. */
  startOf(index: number): number {
    const unit = index * this.spec.count;
    let day: number;
    switch (this.spec.unit) {
      case 'day':
        day = unit;
        break;
      case 'week':
        day = FIRST_MONDAY + unit * 7;
        break;
      case 'month': {
        const year = 1970 + Math.floor(unit / 12);
        const month = unit - Math.floor(unit / 12) * 12;
        day = Date.UTC(year, month, this.monthStartDay) / DAY;
        break;
      }
    }
    return startOfLocalDay(this.timeZone, day);
  }
}

function calendarPeriodAt(calendar: CalendarPeriods, now: number): Period & { index: number } {
  let index = calendar.indexOf(now);
  let start = calendar.startOf(index);
  let end = calendar.startOf(index + 1);
  // Where a zone set its clocks back across midnight a local date can repeat; the periods are
  // still contiguous, and these steps find the one that holds `now`.
  for (let guard = 0; guard < 4 && now >= end; guard++) {
    index += 1;
    start = end;
    end = calendar.startOf(index + 1);
  }
  for (let guard = 0; guard < 4 && now < start; guard++) {
    index -= 1;
    end = start;
    start = calendar.startOf(index);
  }
  return { index, start, end };
}

/**
 * The first instant of a local date (Temporal's `startOfDay`): local midnight; the earlier of two
 * midnights when clocks went back over it; the moment clocks jumped when midnight was skipped.
 */
function startOfLocalDay(timeZone: string, day: number): number {
  const wall = day * DAY;
  const offsetBefore = offsetAt(timeZone, wall - DAY);
  const offsetAfter = offsetAt(timeZone, wall + DAY);
  let best = Number.POSITIVE_INFINITY;
  for (const candidate of [wall - offsetBefore, wall - offsetAfter]) {
    if (wallTime(timeZone, candidate) === wall && candidate < best) best = candidate;
  }
  if (best !== Number.POSITIVE_INFINITY) return best;
  // Midnight is in a gap: find the transition, the first instant whose wall time is past it.
  let low = Math.min(wall - offsetBefore, wall - offsetAfter);
  let high = Math.max(wall - offsetBefore, wall - offsetAfter);
  if (wallTime(timeZone, low) >= wall || wallTime(timeZone, high) < wall) {
    throw new PeriodSpecError(`cannot find the start of a day in ${timeZone}`);
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (wallTime(timeZone, middle) >= wall) high = middle;
    else low = middle;
  }
  return high;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter) return formatter;
  try {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (cause) {
    throw Object.assign(new PeriodSpecError(`unknown time zone "${timeZone}"`), { cause });
  }
  formatters.set(timeZone, formatter);
  return formatter;
}

/** Local wall-clock time of an instant, as epoch ms of the same reading in UTC. */
function wallTime(timeZone: string, instant: number): number {
  const millis = instant - Math.floor(instant / 1000) * 1000;
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value);
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
      default:
        break;
    }
  }
  return Date.UTC(year, month - 1, day, hour, minute, second) + millis;
}

function offsetAt(timeZone: string, instant: number): number {
  return wallTime(timeZone, instant) - instant;
}

/** Years 1971 to 9999, where every zone's data and Date.UTC agree. */
const MIN_INSTANT = Date.UTC(1971, 0, 1);
const MAX_INSTANT = Date.UTC(9999, 0, 1);

function checkInstant(value: number, name: string): void {
  if (!Number.isFinite(value) || value < MIN_INSTANT || value > MAX_INSTANT) {
    throw new RangeError(`${name} must be epoch ms between 1971 and 9999, not ${value}`);
  }
}

function checkMonthStartDay(value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > 28) {
    throw new PeriodSpecError(`monthStartDay must be 1 to 28, not ${value}`);
  }
}
