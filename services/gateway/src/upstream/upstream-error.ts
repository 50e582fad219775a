/**
 * The one error of a provider call. `code` says what went wrong in a way the gateway can
 * switch on (each timeout has its own), `isRetryable` whether another attempt (the same key
 * later, or another key or provider) may succeed, `phase` how far the exchange got, which the
 * gateway needs to decide whether a retry is still possible (not once bytes were forwarded).
 *
 * HTTP errors carry the provider's answer normalised by its adapter (`provider`), the status,
 * the Retry-After in ms, and a short excerpt of the body with every secret cut out. Messages
 * never contain a secret: they are built from the provider's message after redaction.
 */
import type { RateLimitInfo } from './rate-limit-headers.js';
import { redactSecrets } from './redact.js';

export type UpstreamErrorCode =
  /** No TCP (or TLS) connection within the connect timeout. */
  | 'upstream_connect_timeout'
  /** Connected and sent, but no status line within the first-byte timeout. */
  | 'upstream_first_byte_timeout'
  /** The body stalled longer than the idle timeout between two chunks. */
  | 'upstream_idle_timeout'
  /** The whole exchange took longer than the total timeout. */
  | 'upstream_total_timeout'
  /** The connection could not be made: refused, DNS, unreachable, TLS. */
  | 'upstream_connection_failed'
  /** The connection broke (RST, closed early) before the response was complete. */
  | 'upstream_reset'
  /** Our side gave up: the caller's signal aborted (a client disconnect). */
  | 'upstream_aborted'
  /** The provider answered with a status >= 400. */
  | 'upstream_http_error'
  /** The provider answered something unreadable (not HTTP, not the JSON its status promised). */
  | 'upstream_invalid_response'
  /** A response body larger than the configured bound. */
  | 'upstream_response_too_large'
  /** A URL that would not go where the configuration says (request data in the host, `..`). */
  | 'upstream_target_refused';

/** How far the exchange got when it failed. */
export type UpstreamPhase =
  /** Before a request was written: nothing reached the provider. */
  | 'connect'
  /** Written, no response yet: the provider may have started working on it. */
  | 'headers'
  /** Response started: bytes may have been forwarded to the caller. */
  | 'body';

/** A provider error, normalised across dialects by the provider's adapter. */
export type ProviderErrorType =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'request_too_large'
  | 'context_length_exceeded'
  | 'content_filter'
  | 'rate_limit'
  /** The key's money or quota is gone: waiting does not help (OpenAI `insufficient_quota`). */
  | 'quota_exceeded'
  | 'overloaded'
  | 'server_error'
  | 'timeout'
  | 'unknown';

export interface ProviderErrorInfo {
  readonly status: number;
  readonly type: ProviderErrorType;
  /** The provider's message, secrets cut out. */
  readonly message: string;
  /** The provider's own code or type (`rate_limit_exceeded`, `RESOURCE_EXHAUSTED`, `overloaded_error`). */
  readonly code?: string | undefined;
  /**
   * The `error.type` of an OpenAI-shaped answer as the provider sent it (a 429's `tokens` or
   * `requests`: which budget ran out), for OpenAI callers, whose SDK exposes it as `type`.
   */
  readonly openAIType?: string | undefined;
  /**
   * The request field the provider names as the cause (OpenAI's `param`: `text.format.schema`,
   * `tools[3].parameters`), at most MAX_PROVIDER_PARAM_LENGTH characters, secrets cut out.
   */
  readonly param?: string | undefined;
  /**
   * Azure OpenAI's `innererror` of a content-filter refusal (which filter refused the prompt),
   * in its known shape only, bounded: `ProviderInnerError`.
   */
  readonly innerError?: ProviderInnerError | undefined;
  /** The field Azure put it in, for the caller to find it there too: `innererror` when unset. */
  readonly innerErrorField?: InnerErrorField | undefined;
  /**
   * Claude's `error.details` (`{ error_code: "thread_not_found" }`), flat and bounded: what the
   * Anthropic SDK tells its refusals apart by, and recovers from on its own (a lost message
   * thread replayed in full), for callers of its dialect.
   */
  readonly anthropicDetails?: ProviderErrorDetails | undefined;
  /**
   * The provider says it has no such model or deployment (Azure's 404 `DeploymentNotFound`,
   * OpenAI's `model_not_found`): not the caller's fault nor the key's, but this provider's
   * not serving the model, which the next provider of the chain may.
   */
  readonly modelNotServed?: boolean | undefined;
  /**
   * The key may not call this endpoint, though it works for others (OpenAI's restricted keys and
   * project roles grant endpoints one by one: 401 "You have insufficient permissions for this
   * operation. Missing scopes: api.responses.write"): not a key that stopped working.
   */
  readonly scopeMissing?: boolean | undefined;
  /**
   * A rate limit of one model, not of the key (Gemini's 429 whose QuotaFailure names the model
   * in each violation: its quotas are per project and model; OpenAI's 429 "Rate limit reached for
   * o3 in organization …"): the model the provider named.
   */
  readonly quotaModel?: string | undefined;
  readonly retryable: boolean;
  /** A retry delay the provider put in the body (Gemini's RetryInfo); headers are read separately. */
  readonly retryAfterMs?: number | undefined;
}

/** A provider's machine-readable details of a refusal: its code and flat fields. */
export interface ProviderErrorDetails {
  readonly error_code: string;
  readonly [field: string]: string | number | boolean | null | readonly (string | number | boolean | null)[];
}

/** Longest JSON of an error's details kept, and the names and codes it may hold. */
const DETAILS_MAX_LENGTH = 1024;
const DETAILS_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * An error body's `details` as ProviderErrorInfo keeps it: its `error_code` (a snake_case name)
 * and the fields of the same kind of name whose values are scalars or lists of scalars, nested
 * objects left out; undefined without a code, or past DETAILS_MAX_LENGTH characters of JSON.
 */
export function providerErrorDetails(value: unknown): ProviderErrorDetails | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const code = record.error_code;
  if (typeof code !== 'string' || !DETAILS_NAME.test(code)) return undefined;
  const scalar = (item: unknown): item is string | number | boolean | null =>
    item === null || ['string', 'number', 'boolean'].includes(typeof item);
  const details: Record<string, ProviderErrorDetails[string]> = { error_code: code };
  for (const [name, item] of Object.entries(record)) {
    if (name === 'error_code' || !DETAILS_NAME.test(name)) continue;
    if (scalar(item) || (Array.isArray(item) && item.every(scalar))) details[name] = item;
  }
  return JSON.stringify(details).length > DETAILS_MAX_LENGTH ? undefined : (details as ProviderErrorDetails);
}

/** Every string of an error's details, for the secret check. */
function detailStrings(details: ProviderErrorDetails): string[] {
  return Object.entries(details).flatMap(([name, item]) => [name, ...[item].flat().map(String)]);
}

/** Per filter category, its flags and short labels (`{ hate: { filtered: true, severity: "high" } }`). */
export type FilterCategories = Readonly<Record<string, Readonly<Record<string, boolean | string>>>>;

/**
 * Azure's details of a content-filter refusal: the code, and per filter category its flags and
 * short labels, under the names Azure sent. Its deployment API sends `innererror: { code:
 * "ResponsibleAIPolicyViolation", content_filter_result: {...} }`; its REST reference names them
 * `inner_error` and `content_filter_results` (`innerError`), as its v1 API sends them. Built by
 * `providerInnerError`.
 */
export interface ProviderInnerError {
  readonly code?: string;
  readonly content_filter_result?: FilterCategories;
  readonly content_filter_results?: FilterCategories;
}

/** Where an Azure error body puts its `ProviderInnerError`. */
export type InnerErrorField = 'innererror' | 'inner_error';

export interface UpstreamErrorOptions {
  readonly isRetryable?: boolean;
  readonly phase: UpstreamPhase;
  readonly status?: number | undefined;
  readonly retryAfterMs?: number | undefined;
  readonly bodyExcerpt?: string | undefined;
  readonly provider?: ProviderErrorInfo | undefined;
  readonly rateLimits?: RateLimitInfo | undefined;
  /** Where the call went (the provider's origin): for logs and traces, never in a message. */
  readonly origin?: string | undefined;
  readonly cause?: unknown;
}

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  readonly isRetryable: boolean;
  readonly phase: UpstreamPhase;
  /** HTTP status of the provider's answer; undefined when none came. */
  readonly status: number | undefined;
  /** How long the provider asked us to wait (Retry-After, retry-after-ms, reset headers, body). */
  readonly retryAfterMs: number | undefined;
  /** The start of the error body, secrets removed; for logs and support, not for callers. */
  readonly bodyExcerpt: string | undefined;
  /** The provider's error, normalised; set for `upstream_http_error`. */
  readonly provider: ProviderErrorInfo | undefined;
  readonly rateLimits: RateLimitInfo | undefined;
  /**
   * Where the call went (the provider's origin): for logs and traces. Messages say "the
   * provider" instead, as they reach callers, to whom an admin's base URLs (an internal host, an
   * egress gateway, an Azure resource name) are not shown.
   */
  readonly origin: string | undefined;
  override readonly cause?: unknown;

  constructor(code: UpstreamErrorCode, message: string, options: UpstreamErrorOptions) {
    super(message);
    this.name = 'UpstreamError';
    this.code = code;
    this.phase = options.phase;
    this.isRetryable = options.isRetryable ?? RETRYABLE_BY_DEFAULT[code];
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.bodyExcerpt = options.bodyExcerpt;
    this.provider = options.provider;
    this.rateLimits = options.rateLimits;
    this.origin = options.origin;
    if (options.cause !== undefined) this.cause = options.cause;
  }

  /** True once a response had started: what was forwarded cannot be taken back. */
  get responseStarted(): boolean {
    return this.phase === 'body';
  }
}

/**
 * Transport failures are transient; an abort is ours and a refused target is a configuration
 * (or attack) problem that no retry fixes. HTTP errors take the adapter's verdict instead.
 */
const RETRYABLE_BY_DEFAULT = {
  upstream_connect_timeout: true,
  upstream_first_byte_timeout: true,
  upstream_idle_timeout: true,
  upstream_total_timeout: true,
  upstream_connection_failed: true,
  upstream_reset: true,
  upstream_aborted: false,
  upstream_http_error: false,
  upstream_invalid_response: true,
  upstream_response_too_large: false,
  upstream_target_refused: false,
} satisfies Record<UpstreamErrorCode, boolean>;

export function isUpstreamError(error: unknown, code?: UpstreamErrorCode): error is UpstreamError {
  return error instanceof UpstreamError && (code === undefined || error.code === code);
}

/** Status codes worth another attempt (later, or with another key or provider). */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 ||
    status === 409 ||
    status === 425 ||
    status === 429 ||
    status === 500 ||
    status === 502 ||
    status === 503 ||
    status === 504 ||
    status === 529
  );
}

/** A normalised error from the status alone, for providers whose body says nothing more. */
export function providerErrorFromStatus(
  status: number,
  message: string,
  code?: string | undefined,
): ProviderErrorInfo {
  return { status, type: errorTypeForStatus(status), message, code, retryable: isRetryableStatus(status) };
}

export function errorTypeForStatus(status: number): ProviderErrorType {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request';
    case 401:
      return 'authentication';
    case 402:
      return 'quota_exceeded';
    case 403:
      return 'permission';
    case 404:
      return 'not_found';
    case 408:
    case 504:
      return 'timeout';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit';
    case 503:
    case 529:
      return 'overloaded';
    default:
      return status >= 500 ? 'server_error' : 'unknown';
  }
}

/** Longest `param` kept: a field path; a longer one is dropped, as a cut one would name another field. */
export const MAX_PROVIDER_PARAM_LENGTH = 256;

/** A provider's `param` as ProviderErrorInfo keeps it: a bounded string without control characters. */
export function providerParam(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '' || value.length > MAX_PROVIDER_PARAM_LENGTH) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  return /[\u0000-\u001f\u007f]/.test(value) ? undefined : value;
}

/** Filter categories of an `innererror` kept (Azure names about ten). */
const MAX_FILTER_CATEGORIES = 16;
/** Fields of one category kept (`filtered`, `severity`, `detected`). */
const MAX_FILTER_FIELDS = 8;
/** A code, a category or a field name: an identifier. */
const INNER_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** A category's label (`high`, `safe`): a short word; anything longer is no label (a message, a URL). */
const INNER_LABEL = /^[A-Za-z0-9_-]{1,32}$/;

/** A filter result's categories as kept: flags and short labels only, bounded; undefined if none. */
function filterCategories(result: unknown): FilterCategories | undefined {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return undefined;
  const categories: Record<string, Record<string, boolean | string>> = {};
  let kept = 0;
  for (const [category, flags] of Object.entries(result)) {
    if (kept === MAX_FILTER_CATEGORIES) break;
    if (!INNER_NAME.test(category) || typeof flags !== 'object' || flags === null) continue;
    const fields: Record<string, boolean | string> = {};
    let count = 0;
    for (const [name, flag] of Object.entries(flags)) {
      if (count === MAX_FILTER_FIELDS) break;
      if (!INNER_NAME.test(name)) continue;
      if (typeof flag !== 'boolean' && !(typeof flag === 'string' && INNER_LABEL.test(flag))) continue;
      fields[name] = flag;
      count++;
    }
    if (count === 0) continue;
    categories[category] = fields;
    kept++;
  }
  return kept === 0 ? undefined : categories;
}

/**
 * Azure's `innererror` (or `inner_error`) as ProviderErrorInfo keeps it: its `code` and its
 * categories (`content_filter_result`, or the REST reference's `content_filter_results`, under
 * the name sent), each category's booleans and short labels only (a blocklist's details, a
 * citation's URL, an error's message are left out), bounded; undefined when nothing of that
 * shape is in it. Azure "Content filtering"
 * (learn.microsoft.com/azure/ai-services/openai/concepts/content-filter): a prompt refused by a
 * filter is a 400 `content_filter` whose innererror names the category.
 */
export function providerInnerError(value: unknown): ProviderInnerError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { code, content_filter_result, content_filter_results } = value as Record<string, unknown>;
  const inner: {
    code?: string;
    content_filter_result?: FilterCategories;
    content_filter_results?: FilterCategories;
  } = {};
  if (typeof code === 'string' && INNER_NAME.test(code)) inner.code = code;
  const result = filterCategories(content_filter_result);
  if (result !== undefined) inner.content_filter_result = result;
  const results = filterCategories(content_filter_results);
  if (results !== undefined) inner.content_filter_results = results;
  return Object.keys(inner).length === 0 ? undefined : inner;
}

/** Every string of an innererror, for the secret check. */
function innerStrings(inner: ProviderInnerError): string[] {
  const strings = inner.code === undefined ? [] : [inner.code];
  for (const categories of [inner.content_filter_result, inner.content_filter_results]) {
    for (const [category, fields] of Object.entries(categories ?? {})) {
      strings.push(category);
      for (const [name, flag] of Object.entries(fields)) strings.push(name, String(flag));
    }
  }
  return strings;
}

/**
 * The provider's error with the call's secrets, and anything key-shaped, cut out of the text
 * that may reach the caller: its message, and its `code`, `openAIType`, `param`,
 * `innerError` and `anthropicDetails`, dropped when they quote one (a credential names no code, field or filter; an
 * identifier-shaped key passes the caller's check of a code or type).
 */
export function redactProviderError(info: ProviderErrorInfo, secrets: readonly string[]): ProviderErrorInfo {
  const { code, openAIType, param, innerError, innerErrorField, anthropicDetails, ...rest } = info;
  const quotesNone = (text: string) => redactSecrets(text, secrets) === text;
  return {
    ...rest,
    message: redactSecrets(info.message, secrets),
    ...(code !== undefined && quotesNone(code) && { code }),
    ...(openAIType !== undefined && quotesNone(openAIType) && { openAIType }),
    ...(param !== undefined && quotesNone(param) && { param }),
    ...(innerError !== undefined &&
      innerStrings(innerError).every(quotesNone) && {
        innerError,
        ...(innerErrorField !== undefined && { innerErrorField }),
      }),
    ...(anthropicDetails !== undefined &&
      detailStrings(anthropicDetails).every(quotesNone) && { anthropicDetails }),
  };
}

/** Longest body excerpt kept on an error. */
export const BODY_EXCERPT_LENGTH = 512;

/** The first characters of an error body, with the given secrets and anything key-shaped removed. */
export function bodyExcerpt(text: string, secrets: readonly string[] = []): string | undefined {
  if (text === '') return undefined;
  // Redact the whole text first: cutting first could leave the head of a secret at the edge.
  const clean = redactSecrets(text, secrets);
  return clean.length > BODY_EXCERPT_LENGTH ? `${clean.slice(0, BODY_EXCERPT_LENGTH)}…` : clean;
}
