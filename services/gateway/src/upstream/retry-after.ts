/**
 * How long a provider asked us to wait, from its headers: `retry-after-ms` (OpenAI, Azure;
 * milliseconds, fractional allowed), then `retry-after` as delay-seconds or an HTTP date
 * (RFC 9110 §10.2.3). A date in the past is 0; anything unreadable is undefined.
 */
import { type HeaderBag, headerValue } from './headers.js';

const SECONDS = /^\d+(\.\d+)?$/;

export function parseRetryAfterMs(headers: HeaderBag, now: number): number | undefined {
  const ms = headerValue(headers, 'retry-after-ms');
  if (ms !== undefined && SECONDS.test(ms)) return Math.ceil(Number(ms));
  const value = headerValue(headers, 'retry-after');
  if (value === undefined) return undefined;
  if (SECONDS.test(value)) return Math.ceil(Number(value) * 1000);
  // An HTTP date names its weekday or month; a bare number that is not delay-seconds is garbage.
  if (!/[A-Za-z]/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
