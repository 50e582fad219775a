/**
 * Google API errors, `{ error: { code, message, status, details } }`. The canonical status
 * and the details say more than the HTTP status: a wrong key is a 400 INVALID_ARGUMENT with
 * an ErrorInfo reason `API_KEY_INVALID`, and a 429 carries its delay as a RetryInfo detail
 * (`retryDelay: "7s"`), not as a Retry-After header, and the quotas exceeded as a QuotaFailure
 * (one model's, or the project's).
 */
import { z } from 'zod';
import { googleQuotaModel, googleRetryDelayMs } from '../../translate/gemini-types.js';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import {
  errorTypeForStatus,
  isRetryableStatus,
  type ProviderErrorInfo,
  type ProviderErrorType,
} from '../../upstream/upstream-error.js';

const detail = z.object({ '@type': z.string(), reason: z.string().optional() });

const googleErrorBody = z.object({
  error: z.object({
    code: z.number().int().optional(),
    message: z.string().nullish(),
    status: z.string().nullish(),
    details: z.array(z.unknown()).nullish(),
  }),
});

const STATUS_TYPES: Readonly<Record<string, ProviderErrorType>> = {
  INVALID_ARGUMENT: 'invalid_request',
  FAILED_PRECONDITION: 'invalid_request',
  OUT_OF_RANGE: 'invalid_request',
  UNAUTHENTICATED: 'authentication',
  PERMISSION_DENIED: 'permission',
  NOT_FOUND: 'not_found',
  RESOURCE_EXHAUSTED: 'rate_limit',
  INTERNAL: 'server_error',
  UNKNOWN: 'server_error',
  UNAVAILABLE: 'overloaded',
  DEADLINE_EXCEEDED: 'timeout',
};

const KEY_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_SERVICE_BLOCKED', 'API_KEY_HTTP_REFERRER_BLOCKED']);

/**
 * A FAILED_PRECONDITION about the key's project having no billing where the free tier is not
 * offered ("Gemini API free tier is not available in your country. Please enable billing on your
 * project in Google AI Studio.", "User location is not supported for the API use without a
 * billing account linked."): the project cannot pay, as an account out of credit; a key of a
 * project with billing serves. Other FAILED_PRECONDITIONs are about the request.
 */
const NO_BILLING = /enable billing|without a billing account|free tier is not available/i;

export function geminiErrorInfo(response: UpstreamErrorResponse): ProviderErrorInfo {
  const { status } = response;
  const parsed = googleErrorBody.safeParse(response.json);
  if (!parsed.success) {
    return { status, type: errorTypeForStatus(status), message: '', retryable: isRetryableStatus(status) };
  }
  const error = parsed.data.error;
  const details = (error.details ?? []).flatMap((item) => {
    const read = detail.safeParse(item);
    return read.success ? [read.data] : [];
  });
  const keyProblem = details.some((item) => item.reason !== undefined && KEY_REASONS.has(item.reason));
  const message = error.message ?? '';
  const type: ProviderErrorType = keyProblem
    ? 'authentication'
    : error.status === 'FAILED_PRECONDITION' && NO_BILLING.test(message)
      ? 'quota_exceeded'
      : ((error.status ? STATUS_TYPES[error.status] : undefined) ?? errorTypeForStatus(status));
  const quotaModel = type === 'rate_limit' ? googleQuotaModel(error.details) : undefined;
  return {
    status,
    type,
    message,
    code: error.status ?? undefined,
    retryable: !keyProblem && (isRetryableStatus(status) || type === 'rate_limit' || type === 'overloaded'),
    retryAfterMs: googleRetryDelayMs(error.details),
    ...(quotaModel !== undefined && { quotaModel }),
  };
}
