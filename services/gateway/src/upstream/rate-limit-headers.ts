/**
 * Rate-limit headers normalised across providers, for the balancer (pick the key with room)
 * and for cool-downs (how long until a spent key refills).
 *
 * - OpenAI (and Azure, Groq and other OpenAI-compatible vendors): `x-ratelimit-limit-*`,
 *   `x-ratelimit-remaining-*`, `x-ratelimit-reset-*` for `requests` and `tokens`; resets are
 *   Go durations (`20ms`, `1s`, `6m0s`, `1h2m3.5s`). Azure sends only the remaining counts.
 * - Anthropic: `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, resets are
 *   RFC 3339 instants; without the combined `tokens` headers the `input-tokens` ones count.
 * - OpenAI-compatible vendors that name them otherwise (Together, OpenRouter, Mistral): see
 *   `parseOpenAICompatibleRateLimits`.
 * Absent headers give absent fields; no header at all gives undefined.
 */
import { type HeaderBag, headerNumber, headerValue } from './headers.js';

export interface RateLimitInfo {
  readonly limitRequests?: number;
  readonly limitTokens?: number;
  readonly remainingRequests?: number;
  readonly remainingTokens?: number;
  /** Until the request budget is full again. */
  readonly resetRequestsMs?: number;
  /** Until the token budget is full again. */
  readonly resetTokensMs?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function parseOpenAIRateLimits(headers: HeaderBag): RateLimitInfo | undefined {
  const info: Mutable<RateLimitInfo> = {};
  set(info, 'limitRequests', headerNumber(headers, 'x-ratelimit-limit-requests'));
  set(info, 'limitTokens', headerNumber(headers, 'x-ratelimit-limit-tokens'));
  set(info, 'remainingRequests', headerNumber(headers, 'x-ratelimit-remaining-requests'));
  set(info, 'remainingTokens', headerNumber(headers, 'x-ratelimit-remaining-tokens'));
  set(info, 'resetRequestsMs', parseGoDuration(headerValue(headers, 'x-ratelimit-reset-requests')));
  set(info, 'resetTokensMs', parseGoDuration(headerValue(headers, 'x-ratelimit-reset-tokens')));
  return Object.keys(info).length > 0 ? info : undefined;
}

/**
 * OpenAI-compatible vendors: OpenAI's names (Groq, DeepSeek...), and where they are absent
 * the names of the vendors that send others, each read only as far as it is clear:
 * - Together (support.together.ai, "Rate limits"): `x-ratelimit-limit` and
 *   `x-ratelimit-remaining` count requests; its `x-ratelimit-reset` gives no unit: not read.
 * - OpenRouter (openrouter.ai/docs, "Limits"): the same two names, on a 429 of a request cap
 *   (`X-RateLimit-Limit: 16`, `X-RateLimit-Remaining: 0`); its reset's unit is not documented.
 * - Mistral: no documented headers; its answers carry `x-ratelimitbysize-limit-minute` and
 *   `x-ratelimitbysize-remaining-minute`, tokens per minute. The month's budget and the reset
 *   (`ratelimitbysize-reset`, of which window is unsaid) are not read.
 * The adapter does not know its vendor here, and the names do not collide.
 */
export function parseOpenAICompatibleRateLimits(headers: HeaderBag): RateLimitInfo | undefined {
  const openAI = parseOpenAIRateLimits(headers);
  // OpenAI's names said it all (Groq, DeepSeek): no other name to look for.
  if (openAI?.remainingRequests !== undefined && openAI.remainingTokens !== undefined) return openAI;
  const info: Mutable<RateLimitInfo> = { ...openAI };
  if (info.limitRequests === undefined)
    set(info, 'limitRequests', headerNumber(headers, 'x-ratelimit-limit'));
  if (info.remainingRequests === undefined)
    set(info, 'remainingRequests', headerNumber(headers, 'x-ratelimit-remaining'));
  if (info.limitTokens === undefined)
    set(info, 'limitTokens', headerNumber(headers, 'x-ratelimitbysize-limit-minute'));
  if (info.remainingTokens === undefined)
    set(info, 'remainingTokens', headerNumber(headers, 'x-ratelimitbysize-remaining-minute'));
  return Object.keys(info).length > 0 ? info : undefined;
}

export function parseAnthropicRateLimits(headers: HeaderBag, now: number): RateLimitInfo | undefined {
  const tokens =
    headerValue(headers, 'anthropic-ratelimit-tokens-remaining') !== undefined ? 'tokens' : 'input-tokens';
  const info: Mutable<RateLimitInfo> = {};
  set(info, 'limitRequests', headerNumber(headers, 'anthropic-ratelimit-requests-limit'));
  set(info, 'limitTokens', headerNumber(headers, `anthropic-ratelimit-${tokens}-limit`));
  set(info, 'remainingRequests', headerNumber(headers, 'anthropic-ratelimit-requests-remaining'));
  set(info, 'remainingTokens', headerNumber(headers, `anthropic-ratelimit-${tokens}-remaining`));
  set(info, 'resetRequestsMs', untilInstant(headerValue(headers, 'anthropic-ratelimit-requests-reset'), now));
  set(info, 'resetTokensMs', untilInstant(headerValue(headers, `anthropic-ratelimit-${tokens}-reset`), now));
  return Object.keys(info).length > 0 ? info : undefined;
}

/**
 * When a 429 carries no Retry-After: the reset of the budget that is spent (both spent: the
 * later one), or undefined when the headers do not say which one is.
 */
export function retryAfterFromRateLimits(info: RateLimitInfo | undefined): number | undefined {
  if (!info) return undefined;
  const waits: number[] = [];
  if (info.remainingRequests === 0 && info.resetRequestsMs !== undefined) waits.push(info.resetRequestsMs);
  if (info.remainingTokens === 0 && info.resetTokensMs !== undefined) waits.push(info.resetTokensMs);
  return waits.length > 0 ? Math.max(...waits) : undefined;
}

const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;
const GO_DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  ns: 1e-6,
};

/**
 * Durations seen lately: a provider sends the same few (`1ms`, `6m0s`, `8.64s`) on every
 * answer, and two regular expressions per header per answer add up.
 */
const recentDurations = new Map<string, number | undefined>();
const RECENT_DURATIONS = 512;

/** A Go duration (`6m0s`, `1.5s`, `20ms`) in whole milliseconds (rounded up); undefined if malformed. */
export function parseGoDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (recentDurations.has(text)) return recentDurations.get(text);
  let ms: number | undefined;
  if (text.length <= 64 && GO_DURATION.test(text)) {
    ms = 0;
    for (const [, amount, unit] of text.matchAll(GO_DURATION_PART)) {
      ms += Number(amount) * (UNIT_MS[unit ?? 's'] ?? 0);
    }
    ms = Math.ceil(ms);
  }
  if (recentDurations.size >= RECENT_DURATIONS) recentDurations.clear();
  recentDurations.set(text, ms);
  return ms;
}

/** Milliseconds from now until an RFC 3339 instant, 0 when it has passed; undefined if malformed. */
function untilInstant(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function set<K extends keyof RateLimitInfo>(
  info: Mutable<RateLimitInfo>,
  key: K,
  value: number | undefined,
): void {
  if (value !== undefined) info[key] = value;
}
