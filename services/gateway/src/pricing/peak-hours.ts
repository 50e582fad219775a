import { minutesOfDay, type PeakHours } from './price-schema.js';

/*
 * Whether a moment falls in a price's peak hours (DeepSeek's: 01:00-04:00 and 06:00-10:00 UTC,
 * Monday to Friday). Read on every request of such a model, so from the epoch milliseconds by
 * integer arithmetic: no Date, no allocation. The windows are compiled once a price.
 */

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;
/** Bit n set: ISO weekday n (1 Monday .. 7 Sunday) has the windows. */
const EVERY_DAY = 0b1111_1110;

interface CompiledPeak {
  /** Pairs of minutes of the UTC day, [from, to). */
  readonly bounds: Int16Array;
  readonly weekdays: number;
}

const compiled = new WeakMap<PeakHours, CompiledPeak>();

function compile(peak: PeakHours): CompiledPeak {
  let c = compiled.get(peak);
  if (c === undefined) {
    const bounds = new Int16Array(peak.utcWindows.length * 2);
    peak.utcWindows.forEach((w, i) => {
      bounds[2 * i] = minutesOfDay(w.from);
      bounds[2 * i + 1] = minutesOfDay(w.to);
    });
    let weekdays = EVERY_DAY;
    if (peak.utcWeekdays !== undefined) {
      weekdays = 0;
      for (const day of peak.utcWeekdays) weekdays |= 1 << day;
    }
    c = { bounds, weekdays };
    compiled.set(peak, c);
  }
  return c;
}

/** ISO weekday (1 Monday .. 7 Sunday) of the UTC date of day `day` since 1970-01-01 (a Thursday). */
function isoWeekday(day: number): number {
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

/** True when `atMs` (epoch milliseconds) is in one of the windows, on one of the days. */
export function inPeakHours(peak: PeakHours, atMs: number): boolean {
  const c = compile(peak);
  const minutes = Math.floor(atMs / MINUTE_MS);
  const day = Math.floor(minutes / DAY_MINUTES);
  if ((c.weekdays & (1 << isoWeekday(day))) === 0) return false;
  const minute = minutes - day * DAY_MINUTES;
  const bounds = c.bounds;
  for (let i = 0; i < bounds.length; i += 2) {
    if (minute >= (bounds[i] as number) && minute < (bounds[i + 1] as number)) return true;
  }
  return false;
}
