import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateReadings } from '../limits/admission.js';
import type { AnthropicErrorDetails } from '../translate/index.js';
import type { InnerErrorField, ProviderInnerError } from '../upstream/upstream-error.js';
import { setLimitHeaders } from './limit-headers.js';

/** The API dialect a caller speaks, chosen by the endpoint it called. */
export type Dialect = 'openai' | 'anthropic';

export type GatewayErrorKind =
  | 'invalid_request'
  | 'invalid_json'
  | 'body_too_large'
  | 'unauthenticated'
  | 'forbidden'
  | 'model_not_found'
  | 'not_found'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'upstream_error'
  | 'upstream_auth'
  /** The provider account behind the gateway is out of credit or quota (every key tried). */
  | 'upstream_out_of_credit'
  | 'upstream_timeout'
  | 'overloaded'
  | 'internal';

const STATUS: Record<GatewayErrorKind, number> = {
  invalid_request: 400,
  invalid_json: 400,
  body_too_large: 413,
  unauthenticated: 401,
  forbidden: 403,
  model_not_found: 404,
  not_found: 404,
  rate_limited: 429,
  quota_exceeded: 429,
  upstream_error: 502,
  upstream_auth: 502,
  // Not the caller's doing, and not back until someone pays.
  upstream_out_of_credit: 503,
  upstream_timeout: 504,
  overloaded: 503,
  internal: 500,
};

/** Anthropic's `error.type` for each kind (its API reference, "Errors"). */
const ANTHROPIC_TYPE: Record<GatewayErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  body_too_large: 'request_too_large',
  unauthenticated: 'authentication_error',
  forbidden: 'permission_error',
  model_not_found: 'not_found_error',
  not_found: 'not_found_error',
  rate_limited: 'rate_limit_error',
  quota_exceeded: 'rate_limit_error',
  upstream_error: 'api_error',
  upstream_auth: 'api_error',
  upstream_out_of_credit: 'billing_error',
  // "504 - timeout_error: The request timed out while processing."
  upstream_timeout: 'timeout_error',
  overloaded: 'overloaded_error',
  internal: 'api_error',
};

/**
 * Anthropic's `error.type` for a status a provider chose (its refusal passed on with its
 * status): the type follows the status, as Claude's own answers do. Others keep the kind's.
 */
const ANTHROPIC_TYPE_OF_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
};

/** OpenAI's `error.type` and `error.code` for each kind (as its API answers them). */
const OPENAI_SHAPE: Record<GatewayErrorKind, { type: string; code: string | null }> = {
  invalid_request: { type: 'invalid_request_error', code: null },
  invalid_json: { type: 'invalid_request_error', code: 'invalid_json' },
  body_too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  unauthenticated: { type: 'invalid_request_error', code: 'invalid_api_key' },
  forbidden: { type: 'invalid_request_error', code: 'permission_denied' },
  model_not_found: { type: 'invalid_request_error', code: 'model_not_found' },
  not_found: { type: 'invalid_request_error', code: 'not_found' },
  rate_limited: { type: 'requests', code: 'rate_limit_exceeded' },
  // What OpenAI answers when an account's budget is spent.
  quota_exceeded: { type: 'insufficient_quota', code: 'insufficient_quota' },
  upstream_error: { type: 'api_error', code: 'upstream_error' },
  upstream_auth: { type: 'api_error', code: 'upstream_auth_failed' },
  upstream_out_of_credit: { type: 'insufficient_quota', code: 'insufficient_quota' },
  upstream_timeout: { type: 'api_error', code: 'upstream_timeout' },
  overloaded: { type: 'server_error', code: 'overloaded' },
  internal: { type: 'server_error', code: null },
};

/** OpenAI's `error.code` for a prompt longer than the model's context. */
export const CONTEXT_OVERFLOW_CODE = 'context_length_exceeded';

/**
 * Whether a provider's refusal says the prompt is longer than the model's context: OpenAI's
 * (and Azure's) code, or the words of Claude ("prompt is too long"), Gemini ("The input token
 * count (N) exceeds the maximum number of tokens allowed"), Mistral ("too large for model with N
 * maximum context length") and the OpenAI-compatible servers that copy OpenAI's message
 * without its code (DeepSeek, vLLM: "maximum context length is N tokens").
 */
export function saysContextOverflow(code: string | undefined, message: string): boolean {
  return (
    code === CONTEXT_OVERFLOW_CODE ||
    /^prompt is too long\b|input token count.{0,40}exceeds the maximum|maximum context length/i.test(message)
  );
}

/** An error the gateway answers itself; expected ones (bad input, no key) are not faults. */
export class GatewayError extends Error {
  constructor(
    readonly kind: GatewayErrorKind,
    message: string,
    readonly options: {
      param?: string | null;
      retryAfterSeconds?: number;
      /**
       * The provider's own wait, to the millisecond (OpenAI's `retry-after-ms`): sent beside
       * Retry-After, which both SDKs read after it, so a 120 ms wait is not made a second.
       */
      retryAfterMs?: number;
      status?: number;
      /** Extra response headers. */
      headers?: Record<string, string>;
      /** Kordon's own rate limit that refused, told in the caller's dialect (`limit-headers.ts`). */
      rates?: RateReadings;
      /** OpenAI `code` more precise than the kind's (which of the four timeouts ran out). */
      code?: string;
      /** OpenAI `type` more precise than the kind's (a provider's 429 on `tokens`, not `requests`). */
      type?: string;
      /** Asking again would fail the same way and be billed again: the SDKs are told not to retry. */
      noRetry?: boolean;
      /** The status an Anthropic caller gets instead (529: the provider is overloaded, as Claude says it). */
      anthropicStatus?: number;
      /** Azure's `innererror` of a refusal (which content filter refused the prompt), to OpenAI callers. */
      innerError?: ProviderInnerError;
      /** The field Azure put it in (`inner_error` on its v1 API), where the caller finds it too. */
      innerErrorField?: InnerErrorField;
      /**
       * Claude's own `error.type` of a refusal passed on (a 503 `storage_not_ready`'s), to
       * Anthropic callers, instead of the one the kind or status gives.
       */
      anthropicType?: string;
      /** The message OpenAI callers get instead, when Claude's alone would not tell them what happened. */
      openAIMessage?: string;
      /** Anthropic's `error.details` (its `error_code`), to Anthropic callers: their SDK reads it. */
      anthropicDetails?: AnthropicErrorDetails;
      /**
       * The prompt is longer than the model's context, said in any provider's words: each
       * dialect's callers are told in the form their SDKs and agents look for (below).
       */
      contextOverflow?: boolean;
    } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  get status(): number {
    return this.options.status ?? STATUS[this.kind];
  }

  /** The status a caller of `dialect` is answered (and its request recorded) with. */
  statusIn(dialect: Dialect): number {
    return (dialect === 'anthropic' ? this.options.anthropicStatus : undefined) ?? this.status;
  }
}

/**
 * The dialect of a request whose path does not say (`/v1/models`, an unknown route): the
 * Anthropic SDK always sends `anthropic-version`, the OpenAI SDK never does.
 */
export function dialectOfHeaders(req: IncomingMessage): Dialect {
  return req.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai';
}

/**
 * The headers every answer starts with: its type and the request's id, as `x-request-id` and,
 * for the Anthropic dialect, as `request-id` (the Anthropic SDK's `_request_id`, Claude Code's
 * logs).
 */
export function answerHeaders(
  dialect: Dialect,
  requestId: string,
  contentType: string,
): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': contentType, 'x-request-id': requestId };
  if (dialect === 'anthropic') headers['request-id'] = requestId;
  return headers;
}

/**
 * The error body in the caller's dialect. An Anthropic error names its request (`request_id`,
 * as Claude's do; null when the answer has no request id, as the SDK's type allows).
 */
export function errorBody(error: GatewayError, dialect: Dialect, requestId: string | null = null): unknown {
  if (dialect === 'anthropic') {
    const status = error.statusIn(dialect);
    const type =
      error.options.anthropicType ??
      ((status !== STATUS[error.kind] && ANTHROPIC_TYPE_OF_STATUS[status]) || ANTHROPIC_TYPE[error.kind]);
    // Claude's words ("prompt is too long: 208310 tokens > 200000 maximum"), which agents such
    // as Claude Code match to compact their history, whichever provider said it.
    const message =
      error.options.contextOverflow && !/^prompt is too long/i.test(error.message)
        ? `prompt is too long: ${error.message}`
        : error.message;
    const details = error.options.anthropicDetails;
    return {
      type: 'error',
      error: { type, message, ...(details !== undefined && { details }) },
      request_id: requestId,
    };
  }
  const shape = OPENAI_SHAPE[error.kind];
  return {
    error: {
      message: error.options.openAIMessage ?? error.message,
      type: error.options.type ?? shape.type,
      param: error.options.param ?? null,
      // OpenAI's code, which SDK users and frameworks (LangChain) read to trim a prompt.
      code: error.options.contextOverflow ? CONTEXT_OVERFLOW_CODE : (error.options.code ?? shape.code),
      // Where Azure puts it, for the apps that read which filter refused (Anthropic's errors have none).
      ...(error.options.innerError !== undefined && {
        [error.options.innerErrorField ?? 'innererror']: error.options.innerError,
      }),
    },
  };
}

export function sendError(
  res: ServerResponse,
  error: GatewayError,
  dialect: Dialect,
  requestId: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(errorBody(error, dialect, requestId));
  const headers: Record<string, string | number> = answerHeaders(dialect, requestId, 'application/json');
  headers['content-length'] = Buffer.byteLength(text);
  // A spent budget stays spent until its period ends (hours, days): both SDKs would otherwise
  // retry a 429 twice, each refused again. They obey this header.
  if (error.kind === 'quota_exceeded' || error.options.noRetry) headers['x-should-retry'] = 'false';
  if (error.options.headers) Object.assign(headers, error.options.headers);
  if (error.options.rates) setLimitHeaders(res, dialect, error.options.rates, Date.now());
  if (error.options.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(error.options.retryAfterSeconds);
  if (error.options.retryAfterMs !== undefined && error.options.retryAfterSeconds !== undefined)
    headers['retry-after-ms'] = String(Math.ceil(error.options.retryAfterMs));
  res.writeHead(error.statusIn(dialect), headers);
  res.end(text);
}
