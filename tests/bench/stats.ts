/**
 * The little statistics bench:gateway's verdicts need: a median, and how far the median of
 * a handful of noisy rounds can be trusted (a bootstrap interval). This machine's speed
 * drifts by ±10-20% within minutes (docs/benchmarks.md), so a figure a few points from a
 * target says nothing either way: the interval tells a verdict from a coin toss.
 */
import { seededRandom } from '@kordon/mock-providers';

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * A percentile bootstrap interval of the median: the rounds drawn again with replacement
 * `resamples` times, the median of each draw, and the `(1 - level) / 2` and `(1 + level) / 2`
 * quantiles of those medians. Undefined for fewer than three rounds (nothing to resample).
 */
export function medianInterval(
  values: readonly number[],
  level = 0.9,
  resamples = 10_000,
): { low: number; high: number } | undefined {
  const rounds = values.filter((v) => !Number.isNaN(v));
  if (rounds.length < 3) return undefined;
  const random = seededRandom(0x5eed);
  const medians = new Float64Array(resamples);
  const draw = new Array<number>(rounds.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < rounds.length; i++) draw[i] = rounds[Math.floor(random() * rounds.length)] as number;
    medians[r] = median(draw);
  }
  medians.sort();
  const at = (q: number) =>
    medians[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))] as number;
  return { low: at((1 - level) / 2), high: at((1 + level) / 2) };
}

/**
 * A verdict on "cost under `target`": met when the point estimates and the whole interval
 * are under it, missed when the whole interval is at or above it, and otherwise not settled
 * by the run (the target lies inside the interval).
 */
export function verdictUnder(
  estimates: readonly number[],
  interval: { low: number; high: number } | undefined,
  target: number,
): 'MET' | 'MISSED' | 'NOT SETTLED' {
  const worst = Math.max(...estimates.filter((e) => !Number.isNaN(e)));
  if (!interval) return worst < target ? 'MET' : 'MISSED';
  if (interval.low >= target) return 'MISSED';
  if (interval.high < target && worst < target) return 'MET';
  return 'NOT SETTLED';
}

/**
 * The same for "at least `target`" (a ratio that must reach it): met when the point estimates
 * and the whole interval are at or above it, missed when the whole interval is below it, and
 * otherwise not settled.
 */
export function verdictAtLeast(
  estimates: readonly number[],
  interval: { low: number; high: number } | undefined,
  target: number,
): 'MET' | 'MISSED' | 'NOT SETTLED' {
  const worst = Math.min(...estimates.filter((e) => !Number.isNaN(e)));
  if (!interval) return worst >= target ? 'MET' : 'MISSED';
  if (interval.high < target) return 'MISSED';
  if (interval.low >= target && worst >= target) return 'MET';
  return 'NOT SETTLED';
}
