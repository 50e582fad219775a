/**
 * Check digits of the numbers the detectors look for. A pattern alone would redact every
 * long number in a log line (timestamps, ids, byte counts); the checksum keeps only the
 * numbers that really are cards, IBANs or Russian personal ids. Every function takes the
 * digits (or, for IBANs, the characters) with separators already removed.
 */

/** Luhn (ISO/IEC 7812-1), used by every payment card number. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/**
 * IBAN (ISO 13616): move the first four characters to the end, read letters as 10..35, and
 * the whole number modulo 97 must be 1. Computed piecewise so no big integers are needed.
 */
export function ibanValid(iban: string): boolean {
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      remainder = (remainder * 10 + (c - 48)) % 97;
    } else if (c >= 65 && c <= 90) {
      remainder = (remainder * 100 + (c - 55)) % 97;
    } else {
      return false;
    }
  }
  return remainder === 1;
}

const INN10_WEIGHTS = [2, 4, 10, 3, 5, 9, 4, 6, 8] as const;
const INN11_WEIGHTS = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8] as const;
const INN12_WEIGHTS = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8] as const;

function innCheckDigit(digits: string, weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += (digits.charCodeAt(i) - 48) * weights[i]!;
  return (sum % 11) % 10;
}

/** Russian taxpayer number (ИНН): 10 digits for organisations, 12 for people. */
export function innValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  if (digits.startsWith('00')) return false; // region code 00 does not exist
  if (digits.length === 10) {
    return innCheckDigit(digits, INN10_WEIGHTS) === digits.charCodeAt(9) - 48;
  }
  if (digits.length === 12) {
    return (
      innCheckDigit(digits, INN11_WEIGHTS) === digits.charCodeAt(10) - 48 &&
      innCheckDigit(digits, INN12_WEIGHTS) === digits.charCodeAt(11) - 48
    );
  }
  return false;
}

/**
 * Russian pension insurance number (СНИЛС): 9 digits and a 2-digit check number. The check
 * is only defined for numbers above 001-001-998.
 */
export function snilsValid(digits: string): boolean {
  if (!/^\d{11}$/.test(digits)) return false;
  const body = digits.slice(0, 9);
  if (Number(body) <= 1001998) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (body.charCodeAt(i) - 48) * (9 - i);
  let check = sum;
  if (check > 101) check %= 101;
  if (check === 100 || check === 101) check = 0;
  return check === Number(digits.slice(9));
}
