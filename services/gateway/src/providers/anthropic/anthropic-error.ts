/**
 * Anthropic error bodies, `{ type: "error", error: { type, message }, request_id }`. The
 * type names the case better than the status: `overloaded_error` comes as 529,
 * `request_too_large` as 413.
 */
import { z } from 'zod';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import {
  errorTypeForStatus,
  isRetryableStatus,
  type ProviderErrorInfo,
  type ProviderErrorType,
} from '../../upstream/upstream-error.js';

const anthropicErrorBody = z.object({
  error: z.object({ type: z.string(), message: z.string().nullish() }),
});

const ERROR_TYPES: Readonly<Record<string, ProviderErrorType>> = {
  invalid_request_error: 'invalid_request',
  authentication_error: 'authentication',
  permission_error: 'permission',
  not_found_error: 'not_found',
  request_too_large: 'request_too_large',
  rate_limit_error: 'rate_limit',
  api_error: 'server_error',
  overloaded_error: 'overloaded',
  billing_error: 'quota_exceeded',
};

export function anthropicErrorInfo(response: UpstreamErrorResponse): ProviderErrorInfo {
  const { status } = response;
  const parsed = anthropicErrorBody.safeParse(response.json);
  const errorType = parsed.success ? parsed.data.error.type : undefined;
  const type = (errorType && ERROR_TYPES[errorType]) || errorTypeForStatus(status);
  const message = parsed.success ? (parsed.data.error.message ?? '') : '';
  const retryable =
    type === 'overloaded' ||
    type === 'rate_limit' ||
    (isRetryableStatus(status) && type !== 'quota_exceeded');
  return { status, type, message, code: errorType, retryable };
}
