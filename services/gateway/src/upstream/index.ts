/**
 * Calls to providers: keep-alive undici pools, four timeouts with their own error codes,
 * streaming with backpressure, SSE and NDJSON framing, Retry-After and rate-limit headers,
 * secret redaction, and the guard that only configuration chooses the host.
 */
export { type CallerSignal, ConnectionSignal } from './caller-signal.js';
export { type HeaderBag, headerValue } from './headers.js';
export { NdjsonFramingError, NdjsonReader } from './ndjson-reader.js';
export {
  parseAnthropicRateLimits,
  parseGoDuration,
  parseOpenAIRateLimits,
  type RateLimitInfo,
  retryAfterFromRateLimits,
} from './rate-limit-headers.js';
export { redactSecrets } from './redact.js';
export { parseRetryAfterMs } from './retry-after.js';
export {
  type BodyEnd,
  type SseEvent,
  SseFramingError,
  SseReader,
  type SseReaderOptions,
} from './sse-reader.js';
export {
  DEFAULT_UPSTREAM_TIMEOUTS,
  type UpstreamBufferedResponse,
  UpstreamClient,
  type UpstreamClientOptions,
  type UpstreamErrorResponse,
  type UpstreamRequest,
  type UpstreamResponse,
  type UpstreamStreamingResponse,
  type UpstreamTimeouts,
  type UpstreamTls,
} from './upstream-client.js';
export {
  bodyExcerpt,
  errorTypeForStatus,
  isRetryableStatus,
  isUpstreamError,
  type ProviderErrorInfo,
  type ProviderErrorType,
  providerErrorFromStatus,
  UpstreamError,
  type UpstreamErrorCode,
  type UpstreamPhase,
} from './upstream-error.js';
export {
  type BaseUrl,
  parseBaseUrl,
  pathSegment,
  type UpstreamTarget,
  upstreamTarget,
} from './upstream-target.js';
