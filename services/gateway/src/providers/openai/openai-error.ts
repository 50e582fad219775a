/**
 * OpenAI error bodies, `{ error: { message, type, param, code } }`, normalised. The same
 * mapper serves Azure (whose refusals add `innererror`: which content filter refused the
 * prompt) and the OpenAI-compatible vendors, which answer in variants of it:
 * `{ error: "text" }` (Ollama), `{ object: "error", message, type, code }` (vLLM, Mistral),
 * `{ detail: ... }` (FastAPI-based servers). OpenRouter's 403 for an input its moderation flagged
 * (`error.metadata.reasons`, `flagged_input`) is a content-filter refusal, not a refused key.
 */
import { z } from 'zod';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import {
  errorTypeForStatus,
  type InnerErrorField,
  isRetryableStatus,
  type ProviderErrorInfo,
  type ProviderErrorType,
  type ProviderInnerError,
  providerInnerError,
  providerParam,
} from '../../upstream/upstream-error.js';

const code = z.union([z.string(), z.number()]).nullish();

const nestedError = z.object({
  error: z.object({
    message: z.string().nullish(),
    type: z.string().nullish(),
    /** The field at fault (`text.format.schema`); read by `providerParam`, never a reason to refuse the body. */
    param: z.unknown().optional(),
    code,
    /** Azure's details of a refusal; read by `providerInnerError`, never a reason to refuse the body. */
    innererror: z.unknown().optional(),
    /** The same under the name of Azure's REST reference, which its v1 API sends. */
    inner_error: z.unknown().optional(),
    /** OpenRouter's details (a moderation refusal's reasons); read by `moderationReasons`. */
    metadata: z.unknown().optional(),
  }),
});
const stringError = z.object({ error: z.string() });
const flatError = z.object({
  message: z.string(),
  type: z.string().nullish(),
  param: z.unknown().optional(),
  code,
});
/** Mistral's validation errors: `{"object":"error","message":{"detail":[{"msg": ...}]}}`. */
const detailItems = z.union([
  z.string(),
  z.array(z.object({ msg: z.string(), loc: z.array(z.union([z.string(), z.number()])).optional() })).min(1),
]);
const mistralError = z.object({
  message: z.object({ detail: detailItems }),
  type: z.string().nullish(),
  code,
});
const detailError = z.object({ detail: detailItems });

/**
 * The validation errors' text, each with the field it names (pydantic's `loc`, its leading
 * `body` left out): "store: Extra inputs are not permitted", so the caller learns which field.
 */
const detailText = (value: z.infer<typeof detailItems>) =>
  typeof value === 'string'
    ? value
    : value
        .map((item) => {
          const path = (item.loc?.[0] === 'body' ? item.loc.slice(1) : (item.loc ?? [])).join('.');
          return path === '' ? item.msg : `${path}: ${item.msg}`;
        })
        .join('; ');

interface ParsedError {
  readonly message: string;
  readonly type?: string | undefined;
  readonly code?: string | undefined;
  /** The request field the provider names as the cause. */
  readonly param?: string | undefined;
  /** Azure's `innererror` (a content-filter refusal's categories), in its known shape. */
  readonly innerError?: ProviderInnerError | undefined;
  /** Where Azure put it: unset for `innererror`. */
  readonly innerErrorField?: InnerErrorField | undefined;
  /** The categories a moderation flagged the input for (OpenRouter's `metadata.reasons`; maybe none named). */
  readonly flaggedFor?: readonly string[] | undefined;
}

/**
 * `innerError` when the provider gave one of the known shape (left out otherwise): Azure's
 * deployment API sends `innererror`, its REST reference and v1 API `inner_error`; the caller
 * finds it where Azure put it.
 */
const withInnerError = (
  innererror: unknown,
  inner_error: unknown,
): { innerError?: ProviderInnerError; innerErrorField?: InnerErrorField } => {
  const innerError = providerInnerError(innererror);
  if (innerError !== undefined) return { innerError };
  const named = providerInnerError(inner_error);
  return named === undefined ? {} : { innerError: named, innerErrorField: 'inner_error' };
};

/** `param` when the provider gave a usable one (left out otherwise). */
const withParam = (value: unknown): { param?: string } => {
  const param = providerParam(value);
  return param === undefined ? {} : { param };
};

/** Reasons at most this many, each at most this long: they reach the caller's message. */
const MAX_REASONS = 8;
const MAX_REASON_LENGTH = 64;

/**
 * The categories of OpenRouter's moderation refusal (openrouter.ai/docs/api/reference/errors:
 * `metadata: { reasons: string[], flagged_input: string, provider_name, model_slug }`);
 * undefined when the metadata is not one. `flagged_input` (the caller's own text) is not kept.
 */
function moderationReasons(metadata: unknown): string[] | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const { reasons, flagged_input } = metadata as Record<string, unknown>;
  if (!Array.isArray(reasons) && typeof flagged_input !== 'string') return undefined;
  return (Array.isArray(reasons) ? reasons : [])
    .filter((reason): reason is string => typeof reason === 'string' && reason !== '')
    .slice(0, MAX_REASONS)
    .map((reason) => reason.slice(0, MAX_REASON_LENGTH));
}

export function parseOpenAIErrorBody(json: unknown): ParsedError | undefined {
  const nested = nestedError.safeParse(json);
  if (nested.success) {
    const { message, type, param, code: errorCode, innererror, inner_error, metadata } = nested.data.error;
    const flaggedFor = moderationReasons(metadata);
    return {
      message: message ?? '',
      type: type ?? undefined,
      code: errorCode == null ? undefined : String(errorCode),
      ...withParam(param),
      ...withInnerError(innererror, inner_error),
      ...(flaggedFor !== undefined && { flaggedFor }),
    };
  }
  const text = stringError.safeParse(json);
  if (text.success) return { message: text.data.error };
  const flat = flatError.safeParse(json);
  if (flat.success) {
    const { message, type, param, code: errorCode } = flat.data;
    return {
      message,
      type: type ?? undefined,
      code: errorCode == null ? undefined : String(errorCode),
      ...withParam(param),
    };
  }
  const mistral = mistralError.safeParse(json);
  if (mistral.success) {
    const { message, type, code: errorCode } = mistral.data;
    return {
      message: detailText(message.detail),
      type: type ?? undefined,
      code: errorCode == null ? undefined : String(errorCode),
    };
  }
  const detail = detailError.safeParse(json);
  if (detail.success) return { message: detailText(detail.data.detail) };
  return undefined;
}

/**
 * OpenAI's 404 for a model the key's project does not have (or that does not exist), and its
 * 403 for a model the project may not use ("Project `proj_…` does not have access to model
 * `gpt-4o-mini`", type invalid_request_error: github.com/cursor/cursor/issues/2953); Azure says
 * it too of a deployment named in the body (its v1 and Responses APIs), with a 400 at times.
 */
const MODEL_NOT_FOUND = 'model_not_found';
/** Azure's 404 for a deployment URL whose deployment the resource does not have. */
const DEPLOYMENT_NOT_FOUND = 'DeploymentNotFound';

/**
 * OpenAI's billing stops, each a 429 of its own code under the type `insufficient_quota`
 * (help.openai.com, "Troubleshooting API usage and spend limits"): retrying does not restore
 * access, only credit or a raised limit does.
 */
const BILLING_CODES: ReadonlySet<string> = new Set([
  'insufficient_quota',
  'credit_balance_exhausted',
  'organization_usage_limit_exceeded',
  'organization_spend_limit_exceeded',
  'project_spend_limit_exceeded',
]);

/**
 * OpenAI's 429 for a request larger than the key's whole tokens-per-minute limit ("Request too
 * large for gpt-4o in organization org-… on tokens per min (TPM): Limit 30000, Requested 36278.
 * The input or output tokens must be reduced…"): the request is refused however long one waits,
 * while the key's budget is untouched.
 */
const REQUEST_TOO_LARGE = /^Request too large\b/;

/**
 * OpenAI's 429 for one model's own limit ("Rate limit reached for o3 in organization org-… on
 * requests per min (RPM)": its limits are set per model): the model it names. A limit of the
 * whole organization or project ("Rate limit reached for organization org-… on tokens per min")
 * names none. Groq's limits are per model too (console.groq.com/docs/rate-limits), its 429
 * naming it in backticks: "Rate limit reached for model `llama-3.3-70b-versatile` in
 * organization `org_…` service tier `on_demand` on tokens per minute (TPM)".
 */
const MODEL_RATE_LIMIT =
  /^Rate limit reached for (?:model `([^`]+)`|(?!(?:organization|project)\b)(\S+)) (?:in|on)\b/;

/** The model whose own limit a 429's message says is spent; undefined when it names none. */
function rateLimitedModel(message: string | undefined): string | undefined {
  const match = MODEL_RATE_LIMIT.exec(message ?? '');
  return match === null ? undefined : (match[1] ?? match[2]);
}

/**
 * OpenAI's 401 for a key without the scope an endpoint needs ("… Missing scopes:
 * api.responses.write. Check that you have the correct role …, and if you're using a restricted
 * API key, that it has the necessary scopes."), with code null or `missing_scope`.
 */
const MISSING_SCOPES = /\bMissing scopes?:/;

/** Codes that say more than the status does. */
function typeFromCode(
  errorCode: string | undefined,
  errorType: string | undefined,
): ProviderErrorType | undefined {
  // "Billing-related errors can still use the broader error.type insufficient_quota", whatever their code.
  if (errorType === 'insufficient_quota' || BILLING_CODES.has(errorCode ?? '')) return 'quota_exceeded';
  switch (errorCode ?? errorType) {
    case 'context_length_exceeded':
    case 'string_above_max_length':
      return 'context_length_exceeded';
    case 'content_filter':
    case 'content_policy_violation':
    case 'ResponsibleAIPolicyViolation':
      return 'content_filter';
    case 'invalid_api_key':
      return 'authentication';
    case MODEL_NOT_FOUND:
    case DEPLOYMENT_NOT_FOUND:
      return 'not_found';
    default:
      return undefined;
  }
}

export function openAIErrorInfo(response: UpstreamErrorResponse): ProviderErrorInfo {
  const { status } = response;
  const parsed = parseOpenAIErrorBody(response.json);
  const flaggedFor = parsed?.flaggedFor;
  if (status === 403 && flaggedFor !== undefined) {
    // OpenRouter's moderation flagged the caller's input: the key works, and the same input
    // would be flagged on any other key. A content-filter refusal, as Azure's 400 is.
    const reasons = flaggedFor.length > 0 ? ` (${flaggedFor.join(', ')})` : '';
    return {
      status,
      type: 'content_filter',
      message: parsed?.message || `the provider's moderation flagged the input${reasons}`,
      code: 'content_filter',
      retryable: false,
    };
  }
  const type =
    typeFromCode(parsed?.code, parsed?.type) ??
    (status === 429 && REQUEST_TOO_LARGE.test(parsed?.message ?? '')
      ? 'request_too_large'
      : errorTypeForStatus(status));
  const quotaModel = type === 'rate_limit' ? rateLimitedModel(parsed?.message) : undefined;
  const scopeMissing =
    (status === 401 || status === 403) &&
    (parsed?.code === 'missing_scope' || MISSING_SCOPES.test(parsed?.message ?? ''));
  return {
    status,
    type,
    message: parsed?.message ?? '',
    // The code alone: OpenAI says `code: null` when it has none, and callers read it as sent.
    code: parsed?.code,
    ...(parsed?.type !== undefined && { openAIType: parsed.type }),
    ...(parsed?.param !== undefined && { param: parsed.param }),
    ...(parsed?.innerError !== undefined && { innerError: parsed.innerError }),
    ...(parsed?.innerErrorField !== undefined && { innerErrorField: parsed.innerErrorField }),
    // The model is not here: the next provider of the chain may have it.
    ...((parsed?.code === MODEL_NOT_FOUND || parsed?.code === DEPLOYMENT_NOT_FOUND) && {
      modelNotServed: true,
    }),
    // The key's other models have limits of their own: it rests for this one alone.
    ...(quotaModel !== undefined && { quotaModel }),
    // The key serves the endpoints it has the scopes of.
    ...(scopeMissing && { scopeMissing }),
    // A spent quota does not come back by waiting: it needs money or a new key; nor does a
    // request too large for the key's limit fit later.
    retryable: isRetryableStatus(status) && type !== 'quota_exceeded' && type !== 'request_too_large',
  };
}
