/*
 * Exact decimals for tests of money: a non-negative decimal string as a whole number of
 * 10^-12 (the catalogue's finest cost), so sums are BigInt additions, never floating point.
 */

const SCALE = 12;

/** "12.5" -> 12500000000000n. Throws on anything that is not a plain non-negative decimal. */
export function picos(decimal: string): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(decimal);
  if (!match) throw new Error(`not a decimal: ${JSON.stringify(decimal)}`);
  const fraction = match[2] ?? '';
  // Digits past the 12th must be zeros (a sum of costs has at most 12 decimals).
  if (fraction.length > SCALE && /[1-9]/.test(fraction.slice(SCALE)))
    throw new Error(`more than ${SCALE} decimals: ${decimal}`);
  return BigInt(match[1]!) * 10n ** BigInt(SCALE) + BigInt(fraction.slice(0, SCALE).padEnd(SCALE, '0'));
}

/** The same amount written with the fewest digits: 12500000000000n -> "12.5". */
export function decimalOf(value: bigint): string {
  const digits = value.toString().padStart(SCALE + 1, '0');
  const whole = digits.slice(0, -SCALE);
  const fraction = digits.slice(-SCALE).replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}
