/**
 * Anthropic: Messages (plain and streamed), count_tokens and Models, under
 * `https://api.anthropic.com` (a base URL that already ends in `/v1` is accepted too).
 * Auth with `x-api-key` and the `anthropic-version` header; the caller's `anthropic-beta`
 * features passed on; `anthropic-ratelimit-*` headers.
 * Streams always carry usage (message_start, message_delta).
 */
import { parseAnthropicRateLimits } from '../../upstream/rate-limit-headers.js';
import { type BaseUrl, upstreamTarget } from '../../upstream/upstream-target.js';
import {
  baseUrlOf,
  baseUrlProblems,
  foreignOptionProblems,
  keyHeaderAuth,
  prepareJsonCall,
  unsupportedOperation,
  withStream,
} from '../provider-support.js';
import type {
  Operation,
  OperationRequest,
  PreparedRequest,
  ProviderAdapter,
  ProviderConfig,
} from '../provider-types.js';
import { anthropicErrorInfo } from './anthropic-error.js';

/** The API version every current model accepts; a configuration may name a later one. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

const ANTHROPIC_PATHS = {
  messages: '/messages',
  count_tokens: '/messages/count_tokens',
  models: '/models',
} as const satisfies Partial<Record<Operation, string>>;

type AnthropicOperation = keyof typeof ANTHROPIC_PATHS;

function isAnthropicOperation(operation: Operation): operation is AnthropicOperation {
  return Object.hasOwn(ANTHROPIC_PATHS, operation);
}

const ANTHROPIC = { name: 'Anthropic', defaultBaseUrl: 'https://api.anthropic.com' };

/** `/v1` is part of Anthropic's paths; a configured base URL may or may not include it. */
function versionedPath(base: BaseUrl, path: string): string {
  return base.basePath.endsWith('/v1') ? path : `/v1${path}`;
}

function prepare(request: OperationRequest, config: ProviderConfig): PreparedRequest {
  const { operation, stream, body } = request;
  if (!isAnthropicOperation(operation)) throw unsupportedOperation(ANTHROPIC.name, operation);
  const base = baseUrlOf(ANTHROPIC, config);
  const streamed = stream && operation === 'messages';
  const isGet = operation === 'models';
  const version = config.apiVersion ?? DEFAULT_ANTHROPIC_VERSION;
  return prepareJsonCall(
    {
      target: upstreamTarget(base, versionedPath(base, ANTHROPIC_PATHS[operation])),
      get: isGet,
      streamed,
      headers: request.anthropicBeta
        ? { 'anthropic-version': version, 'anthropic-beta': request.anthropicBeta }
        : { 'anthropic-version': version },
      body: isGet
        ? undefined
        : JSON.stringify(operation === 'messages' ? withStream(body, stream) : (body ?? {})),
    },
    config,
  );
}

export const anthropicProvider = {
  id: 'anthropic',
  name: ANTHROPIC.name,
  dialect: 'anthropic',
  operations: ['messages', 'count_tokens', 'models'],
  defaultBaseUrl: ANTHROPIC.defaultBaseUrl,
  supports: (operation) => isAnthropicOperation(operation),
  configProblems: (config) => [
    ...baseUrlProblems(ANTHROPIC, config),
    ...foreignOptionProblems(ANTHROPIC.name, config, ['apiVersion']),
  ],
  streamUsage: () => 'always',
  prepare,
  authHeaders: async ({ key }) => keyHeaderAuth('x-api-key', key.reveal()),
  rateLimits: (headers, now) => parseAnthropicRateLimits(headers, now),
  mapError: anthropicErrorInfo,
} satisfies ProviderAdapter;
