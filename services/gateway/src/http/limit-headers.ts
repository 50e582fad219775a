/**
 * Kordon's own rpm and tpm, told in the caller's dialect, as its provider would tell them:
 *
 * - OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; the reset is a Go
 *   duration (`time.Duration.String()`: `20ms`, `1s`, `1m15.5s`, `6m0s`), which OpenAI's clients
 *   parse (go-openai with `time.ParseDuration`).
 * - Anthropic: `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`; the reset is the
 *   RFC 3339 instant the limit is whole again. Kordon's tpm counts input and output together:
 *   Anthropic's `tokens-*` (the tightest of its token limits), not `input-tokens-*`.
 *
 * Only Kordon's readings: a provider's own headers are never passed on, so the two never mix.
 */
import type { RateReadings } from '../limits/admission.js';
import type { WindowDecision } from '../limits/windows.js';
import type { Dialect } from './gateway-error.js';

type Unit = 'requests' | 'tokens';

/** Header names made once, not per answer. */
const NAMES: Readonly<Record<Dialect, Readonly<Record<Unit, readonly [string, string, string]>>>> = {
  openai: {
    requests: ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
    tokens: ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
  },
  anthropic: {
    requests: [
      'anthropic-ratelimit-requests-limit',
      'anthropic-ratelimit-requests-remaining',
      'anthropic-ratelimit-requests-reset',
    ],
    tokens: [
      'anthropic-ratelimit-tokens-limit',
      'anthropic-ratelimit-tokens-remaining',
      'anthropic-ratelimit-tokens-reset',
    ],
  },
};

/** Where the headers go: the answer (`ServerResponse`), before its head is written. */
export interface HeaderSink {
  setHeader(name: string, value: string): unknown;
}

/** Sets the rate-limit headers of `rates` in `dialect` on `res`; `now` is the admission's time. */
export function setLimitHeaders(res: HeaderSink, dialect: Dialect, rates: RateReadings, now: number): void {
  if (rates.requests) setUnit(res, NAMES[dialect].requests, dialect, rates.requests, now);
  if (rates.tokens) setUnit(res, NAMES[dialect].tokens, dialect, rates.tokens, now);
}

function setUnit(
  res: HeaderSink,
  [limit, remaining, reset]: readonly [string, string, string],
  dialect: Dialect,
  decision: WindowDecision,
  now: number,
): void {
  res.setHeader(limit, String(decision.limit));
  res.setHeader(remaining, String(Math.max(0, decision.remaining)));
  res.setHeader(
    reset,
    dialect === 'openai' ? goDuration(decision.resetMs) : resetInstant(now, decision.resetMs),
  );
}

/** A duration as Go's `time.Duration.String()` writes it, to the millisecond. */
export function goDuration(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  if (whole === 0) return '0s';
  if (whole < 1000) return `${whole}ms`;
  const hours = Math.floor(whole / 3_600_000);
  const minutes = Math.floor(whole / 60_000) % 60;
  // Go writes every smaller unit once a larger one is written: `1h0m0s`, `6m0s`.
  const head = hours > 0 ? `${hours}h${minutes}m` : minutes > 0 ? `${minutes}m` : '';
  return `${head}${(whole % 60_000) / 1000}s`;
}

/** When the limit is whole again, as Anthropic writes it: to the second, rounded up (never early). */
export function resetInstant(now: number, resetMs: number): string {
  const at = Math.ceil((now + Math.max(0, resetMs)) / 1000) * 1000;
  return `${new Date(at).toISOString().slice(0, 19)}Z`;
}
