import { z } from 'zod';
import { ID_MAX_LENGTH, ID_PATTERN } from '../../streams.js';
import {
  CURRENCY_PATTERN,
  DECIMAL_PATTERN,
  endpoint,
  failureCode,
  MODEL_NAME_MAX_LENGTH,
  MODEL_NAME_PATTERN,
  PROVIDER_ID_MAX_LENGTH,
  PROVIDER_ID_PATTERN,
} from './fields.js';

/*
 * Fast checks of the events every data-plane request writes (RequestCompleted,
 * RequestFailed). Each accepts data only when its schema would accept it and write it
 * unchanged (no default filled in); anything else, valid or not, goes to the schema, which
 * stays the definition and says what is wrong. Why: zod's pass over a request's event cost
 * ~10 µs a request in bench:gateway (about 5% of a request's CPU), these a fraction of that.
 * They use the same patterns as the schema (zod's own for IPv4 and UUIDs) and know nothing
 * the schema does not: an IPv6 client address, for one, is left to the schema.
 * `request-fast-checks.unit.test.ts` mutates every field of valid events and checks that
 * what a fast check accepts, the schema accepts unchanged.
 */

type Data = Record<string, unknown>;

const IPV4 = z.regexes.ipv4;
const UUID = z.regexes.uuid();
const ENDPOINTS: ReadonlySet<unknown> = new Set(endpoint.options);
const FAILURE_CODES: ReadonlySet<unknown> = new Set(failureCode.options);

const isObject = (value: unknown): value is Data =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isId = (value: unknown): boolean =>
  typeof value === 'string' && value.length >= 1 && value.length <= ID_MAX_LENGTH && ID_PATTERN.test(value);
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isStatus = (value: unknown): boolean =>
  Number.isSafeInteger(value) && (value as number) >= 100 && (value as number) <= 599;
const isDecimal = (value: unknown): boolean => typeof value === 'string' && DECIMAL_PATTERN.test(value);
const isCurrency = (value: unknown): boolean => typeof value === 'string' && CURRENCY_PATTERN.test(value);
const isProvider = (value: unknown): boolean =>
  typeof value === 'string' &&
  value.length >= 1 &&
  value.length <= PROVIDER_ID_MAX_LENGTH &&
  PROVIDER_ID_PATTERN.test(value);
const isModel = (value: unknown): boolean =>
  typeof value === 'string' &&
  value.length >= 1 &&
  value.length <= MODEL_NAME_MAX_LENGTH &&
  MODEL_NAME_PATTERN.test(value);
const isText = (value: unknown, max: number): boolean =>
  value === null || (typeof value === 'string' && value.length <= max);
const isIpv4 = (value: unknown): boolean => typeof value === 'string' && IPV4.test(value);

/** The optional counts of `usage`: absent, or a count (never present as undefined). */
const OPTIONAL_USAGE_COUNTS = [
  'reasoningTokens',
  'cacheWriteInputTokens',
  'cacheWrite1hInputTokens',
  'webSearches',
] as const;

/**
 * The `usage` object: three counts, up to four optional ones, the optional service tier,
 * inference geography and speed, its parts within their wholes.
 */
function isUsage(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { inputTokens, outputTokens, cachedInputTokens, reasoningTokens, serviceTier, inferenceGeo, speed } =
    value;
  let keys = 3;
  if (serviceTier !== undefined) {
    if (serviceTier !== 'priority' && serviceTier !== 'flex') return false;
    keys++;
  } else if ('serviceTier' in value) return false;
  if (inferenceGeo !== undefined) {
    if (inferenceGeo !== 'us') return false;
    keys++;
  } else if ('inferenceGeo' in value) return false;
  if (speed !== undefined) {
    if (speed !== 'fast') return false;
    keys++;
  } else if ('speed' in value) return false;
  for (const name of OPTIONAL_USAGE_COUNTS) {
    const count = value[name];
    if (count !== undefined) {
      if (!isCount(count)) return false;
      keys++;
    } else if (name in value) return false;
  }
  if (Object.keys(value).length !== keys) return false;
  const writes =
    ((value.cacheWriteInputTokens as number | undefined) ?? 0) +
    ((value.cacheWrite1hInputTokens as number | undefined) ?? 0);
  return (
    isCount(inputTokens) &&
    isCount(outputTokens) &&
    isCount(cachedInputTokens) &&
    cachedInputTokens + writes <= inputTokens &&
    (reasoningTokens === undefined || (reasoningTokens as number) <= outputTokens)
  );
}

function isSealedBodies(value: unknown): boolean {
  if (value === null) return true;
  if (!isObject(value) || Object.keys(value).length !== 3) return false;
  return (
    typeof value.keyId === 'string' &&
    UUID.test(value.keyId) &&
    isText(value.prompt, 65_536) &&
    isText(value.response, 65_536)
  );
}

/** The fields RequestCompleted and RequestFailed share, checked the same way. */
function sharedFieldsHold(d: Data): boolean {
  return (
    isId(d.requestId) &&
    isId(d.proxyKeyId) &&
    isId(d.userId) &&
    (d.teamId === null || isId(d.teamId)) &&
    isModel(d.model) &&
    ENDPOINTS.has(d.endpoint) &&
    typeof d.stream === 'boolean' &&
    isUsage(d.usage) &&
    (d.cost === null || isDecimal(d.cost)) &&
    (d.currency === null || isCurrency(d.currency)) &&
    isCount(d.latencyMs) &&
    isIpv4(d.clientIp)
  );
}

/** `storedAnswer`: null, or a kind and an id (two fields). */
function isStoredAnswer(value: unknown): boolean {
  if (value === null) return true;
  if (!isObject(value) || Object.keys(value).length !== 2) return false;
  return (value.kind === 'response' || value.kind === 'thread') && isId(value.id);
}

/**
 * RequestCompleted, written unchanged by its schema (21 fields, `sealedBodies` and
 * `storedAnswer` present).
 */
export function requestCompletedHolds(data: unknown): boolean {
  if (!isObject(data) || Object.keys(data).length !== 21) return false;
  return (
    sharedFieldsHold(data) &&
    isProvider(data.provider) &&
    isId(data.providerKeyId) &&
    (data.timeToFirstTokenMs === null || isCount(data.timeToFirstTokenMs)) &&
    isStatus(data.status) &&
    isCount(data.attempts) &&
    (data.attempts as number) >= 1 &&
    isText(data.redactedPrompt, 32_768) &&
    isText(data.redactedResponse, 32_768) &&
    isSealedBodies(data.sealedBodies) &&
    isStoredAnswer(data.storedAnswer)
  );
}

/** RequestFailed v1 (18 fields). */
export function requestFailedHolds(data: unknown): boolean {
  if (!isObject(data) || Object.keys(data).length !== 18) return false;
  return (
    sharedFieldsHold(data) &&
    FAILURE_CODES.has(data.errorCode) &&
    (data.provider === null || isProvider(data.provider)) &&
    (data.providerKeyId === null || isId(data.providerKeyId)) &&
    (data.status === null || isStatus(data.status)) &&
    (data.upstreamStatus === null || isStatus(data.upstreamStatus)) &&
    isCount(data.attempts)
  );
}
