/**
 * OpenAI: Chat Completions, Embeddings, Responses (with its compaction and its input token
 * count) and Models under a base URL that ends in `/v1` (`https://api.openai.com/v1`). Bearer
 * auth, optional organization and project headers, `x-ratelimit-*` headers. Streamed chat
 * asks for the usage chunk with `stream_options.include_usage`.
 *
 * The request builder here is the base the OpenAI-compatible vendors reuse.
 */
import { parseOpenAIRateLimits } from '../../upstream/rate-limit-headers.js';
import { upstreamTarget } from '../../upstream/upstream-target.js';
import {
  baseUrlOf,
  baseUrlProblems,
  foreignOptionProblems,
  prepareJsonCall,
  unsupportedOperation,
  withStream,
  withStreamUsage,
} from '../provider-support.js';
import type {
  AuthHeaders,
  Operation,
  OperationRequest,
  PreparedRequest,
  ProviderAdapter,
  ProviderConfig,
  StreamUsage,
} from '../provider-types.js';
import { openAIErrorInfo } from './openai-error.js';

/** Paths under the base URL, per operation. */
export const OPENAI_PATHS = {
  chat: '/chat/completions',
  embeddings: '/embeddings',
  responses: '/responses',
  // The Responses API's input token count ("Get input token counts"): free, a Responses body.
  count_tokens: '/responses/input_tokens',
  responses_compact: '/responses/compact',
  models: '/models',
} as const satisfies Partial<Record<Operation, string>>;

export type OpenAIOperation = keyof typeof OPENAI_PATHS;

export function isOpenAIOperation(operation: Operation): operation is OpenAIOperation {
  return Object.hasOwn(OPENAI_PATHS, operation);
}

/**
 * The body for an OpenAI-style operation: `stream` set for chat and responses; for a streamed
 * chat, usage asked for when the provider needs asking.
 */
export function openAIStyleBody(request: OperationRequest, streamUsage: StreamUsage): string | undefined {
  const { operation, body, stream } = request;
  if (operation === 'models') return undefined;
  if (operation === 'chat' && stream && streamUsage === 'stream_options') {
    return JSON.stringify(withStreamUsage(body ?? {}));
  }
  if (operation === 'chat' || operation === 'responses') return JSON.stringify(withStream(body, stream));
  return JSON.stringify(body ?? {});
}

export interface OpenAIStyleOptions {
  readonly name: string;
  readonly defaultBaseUrl: string | undefined;
  readonly streamUsage: StreamUsage;
  readonly supported: readonly OpenAIOperation[];
}

/** A request to an OpenAI-style server: `{base}/chat/completions` and friends. */
export function prepareOpenAIStyle(
  request: OperationRequest,
  config: ProviderConfig,
  options: OpenAIStyleOptions,
): PreparedRequest {
  const { operation, stream } = request;
  if (!isOpenAIOperation(operation) || !options.supported.includes(operation)) {
    throw unsupportedOperation(options.name, operation);
  }
  const base = baseUrlOf(options, config);
  const streamed = stream && (operation === 'chat' || operation === 'responses');
  const isGet = operation === 'models';
  return prepareJsonCall(
    {
      target: upstreamTarget(base, OPENAI_PATHS[operation]),
      get: isGet,
      streamed,
      body: openAIStyleBody(request, options.streamUsage),
    },
    config,
  );
}

/** `Authorization: Bearer <key>`. */
export function bearerAuth(secret: string, extra?: Record<string, string>): AuthHeaders {
  return { headers: { ...extra, authorization: `Bearer ${secret}` }, secrets: [secret] };
}

const OPENAI_OPERATIONS: readonly OpenAIOperation[] = [
  'chat',
  'embeddings',
  'responses',
  'count_tokens',
  'responses_compact',
  'models',
];

const OPENAI_OPTIONS: OpenAIStyleOptions = {
  name: 'OpenAI',
  defaultBaseUrl: 'https://api.openai.com/v1',
  streamUsage: 'stream_options',
  supported: OPENAI_OPERATIONS,
};

export const openAIProvider = {
  id: 'openai',
  name: OPENAI_OPTIONS.name,
  dialect: 'openai',
  operations: OPENAI_OPERATIONS,
  defaultBaseUrl: OPENAI_OPTIONS.defaultBaseUrl,
  supports: (operation) => isOpenAIOperation(operation),
  configProblems: (config) => [
    ...baseUrlProblems(OPENAI_OPTIONS, config),
    ...foreignOptionProblems(OPENAI_OPTIONS.name, config, ['organization', 'project']),
  ],
  streamUsage: () => 'stream_options',
  prepare: (request, config) => prepareOpenAIStyle(request, config, OPENAI_OPTIONS),
  authHeaders: async ({ key, config }) => {
    const extra: Record<string, string> = {};
    if (config.organization) extra['openai-organization'] = config.organization;
    if (config.project) extra['openai-project'] = config.project;
    return bearerAuth(key.reveal(), extra);
  },
  rateLimits: (headers) => parseOpenAIRateLimits(headers),
  mapError: openAIErrorInfo,
} satisfies ProviderAdapter;
