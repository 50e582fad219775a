/**
 * Anthropic error bodies, `{ type: "error", error: { type, message, details? }, request_id }`
 * (`details.error_code`: which refusal, such as a message thread's `thread_not_found`). The
 * type names the case better than the status: `overloaded_error` comes as 529,
 * `request_too_large` as 413. An account out of credit is the exception: Claude answers it as
 * a 400 `invalid_request_error`, told apart only by its message.
 */
import { z } from 'zod';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import {
  errorTypeForStatus,
  isRetryableStatus,
  type ProviderErrorInfo,
  type ProviderErrorType,
  providerErrorDetails,
} from '../../upstream/upstream-error.js';

const anthropicErrorBody = z.object({
  error: z.object({ type: z.string(), message: z.string().nullish(), details: z.unknown().optional() }),
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

/**
 * Claude's 400 for an account that cannot pay: its prepaid credit is spent ("Your credit balance
 * is too low to access the Anthropic API..."), or the spend limit set in its console is reached
 * ("You have reached your specified API usage limits. You will regain access on ..."; also for a
 * workspace). The request is fine: another key (another account) serves it.
 */
const OUT_OF_CREDIT = /credit balance is too low|reached your specified (?:workspace )?API usage limits/i;

export function anthropicErrorInfo(response: UpstreamErrorResponse): ProviderErrorInfo {
  const { status } = response;
  const parsed = anthropicErrorBody.safeParse(response.json);
  const errorType = parsed.success ? parsed.data.error.type : undefined;
  const message = parsed.success ? (parsed.data.error.message ?? '') : '';
  const type =
    status === 400 && OUT_OF_CREDIT.test(message)
      ? 'quota_exceeded'
      : (errorType && ERROR_TYPES[errorType]) || errorTypeForStatus(status);
  const retryable =
    type === 'overloaded' ||
    type === 'rate_limit' ||
    (isRetryableStatus(status) && type !== 'quota_exceeded');
  const anthropicDetails = parsed.success ? providerErrorDetails(parsed.data.error.details) : undefined;
  return {
    status,
    type,
    message,
    code: errorType,
    retryable,
    ...(anthropicDetails !== undefined && { anthropicDetails }),
  };
}
