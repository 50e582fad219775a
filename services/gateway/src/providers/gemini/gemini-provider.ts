/**
 * Gemini (Google Generative Language API): generateContent, streamGenerateContent (always
 * `?alt=sse`: SSE frames, not the streamed JSON array), countTokens, batchEmbedContents (the
 * `embeddings` operation; its body is Gemini's own, written by translate/gemini-embeddings.ts)
 * and the model list, under `https://generativelanguage.googleapis.com` and an API version
 * (`v1beta` unless the configuration or the base URL names one). The model goes in the path,
 * through the path guard; the key in `x-goog-api-key` (never in the query, where it would land
 * in logs). Gemini sends no rate-limit headers; usage comes in every streamed chunk.
 */
import { pathSegment, upstreamTarget } from '../../upstream/upstream-target.js';
import {
  baseUrlOf,
  baseUrlProblems,
  foreignOptionProblems,
  keyHeaderAuth,
  prepareJsonCall,
  unsupportedOperation,
} from '../provider-support.js';
import type {
  Operation,
  OperationRequest,
  PreparedRequest,
  ProviderAdapter,
  ProviderConfig,
} from '../provider-types.js';
import { geminiErrorInfo } from './gemini-error.js';

export const DEFAULT_GEMINI_API_VERSION = 'v1beta';

const GEMINI = { name: 'Gemini', defaultBaseUrl: 'https://generativelanguage.googleapis.com' };

const GEMINI_OPERATIONS = [
  'generate_content',
  'count_tokens',
  'embeddings',
  'models',
] as const satisfies readonly Operation[];
type GeminiOperation = (typeof GEMINI_OPERATIONS)[number];

function isGeminiOperation(operation: Operation): operation is GeminiOperation {
  return (GEMINI_OPERATIONS as readonly Operation[]).includes(operation);
}

const VERSION_IN_PATH = /\/(v1|v1beta|v1alpha)$/;

/** `gemini-2.5-flash`; a `models/` prefix (as the API lists them) is accepted. */
export function geminiModelSegment(model: string): string {
  return pathSegment(model.startsWith('models/') ? model.slice('models/'.length) : model, 'model');
}

function methodPath(request: OperationRequest): string {
  const { operation, stream } = request;
  if (operation === 'models') return '/models';
  const model = geminiModelSegment(request.model);
  if (operation === 'count_tokens') return `/models/${model}:countTokens`;
  if (operation === 'embeddings') return `/models/${model}:batchEmbedContents`;
  return `/models/${model}:${stream ? 'streamGenerateContent' : 'generateContent'}`;
}

function prepare(request: OperationRequest, config: ProviderConfig): PreparedRequest {
  const { operation, stream, body } = request;
  if (!isGeminiOperation(operation)) throw unsupportedOperation(GEMINI.name, operation);
  const base = baseUrlOf(GEMINI, config);
  const version = VERSION_IN_PATH.test(base.basePath)
    ? ''
    : `/${config.apiVersion ?? DEFAULT_GEMINI_API_VERSION}`;
  const streamed = stream && operation === 'generate_content';
  const isGet = operation === 'models';
  return prepareJsonCall(
    {
      target: upstreamTarget(base, `${version}${methodPath(request)}`, streamed ? { alt: 'sse' } : undefined),
      get: isGet,
      streamed,
      // The model and the stream flag live in the URL; a generateContent body has neither.
      body: isGet ? undefined : JSON.stringify(body ?? {}),
    },
    config,
  );
}

export const geminiProvider = {
  id: 'gemini',
  name: GEMINI.name,
  dialect: 'gemini',
  operations: GEMINI_OPERATIONS,
  defaultBaseUrl: GEMINI.defaultBaseUrl,
  supports: (operation) => isGeminiOperation(operation),
  configProblems: (config) => [
    ...baseUrlProblems(GEMINI, config),
    ...foreignOptionProblems(GEMINI.name, config, ['apiVersion']),
  ],
  streamUsage: () => 'always',
  prepare,
  authHeaders: async ({ key }) => keyHeaderAuth('x-goog-api-key', key.reveal()),
  rateLimits: () => undefined,
  mapError: geminiErrorInfo,
} satisfies ProviderAdapter;
