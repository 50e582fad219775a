/*
 * Exact amounts as bigint in fixed units. Money is counted in 10^-12 USD ("pico-dollars"), the
 * finest step the event schemas' decimal strings can hold (12 decimals), so every stored cost
 * converts without rounding; tokens are counted as whole tokens (scale 0). bigint was chosen over
 * decimal.js on the admission path: sums and comparisons are exact, allocate little and cost tens
 * of nanoseconds; a 15-digit dollar amount at scale 12 is a 27-digit integer, no problem for bigint.
 */

/** Decimal places of money amounts. */
export const USD_SCALE = 12;

const PLAIN_DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

/**
 * `"0.05"` at scale 12 → 50_000_000_000n. Non-negative plain decimals only (no sign, no
 * exponent); more decimals than `scale` throw rather than round.
 */
export function parseAmount(text: string, scale: number): bigint {
  const match = PLAIN_DECIMAL.exec(text);
  if (!match) throw new RangeError(`"${text}" is not a non-negative decimal`);
  const fraction = match[2] ?? '';
  if (fraction.length > scale) throw new RangeError(`"${text}" has more than ${scale} decimals`);
  return BigInt(match[1]! + fraction.padEnd(scale, '0'));
}

/** 50_000_000_000n at scale 12 → `"0.05"`: plain, without trailing zeros (negatives with a `-`). */
export function formatAmount(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

export const parseUsd = (text: string): bigint => parseAmount(text, USD_SCALE);
export const formatUsd = (value: bigint): string => formatAmount(value, USD_SCALE);
