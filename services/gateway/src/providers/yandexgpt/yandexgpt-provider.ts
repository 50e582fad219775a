/**
 * YandexGPT (Yandex Foundation Models): the synchronous completion method
 * `POST {base}/foundationModels/v1/completion` at `https://llm.api.cloud.yandex.net`, spoken
 * to the gateway in the OpenAI dialect through the mappers in yandexgpt-mappers.ts.
 *
 * - The model URI is `gpt://<folderId>/<model>` (`yandexgpt/latest`, `yandexgpt-lite/rc`):
 *   the folder comes from the configuration only; a model that is itself a URI (which could
 *   name another folder) is refused.
 * - Auth: `Authorization: Api-Key <key>` (a service-account API key, the default) or
 *   `Authorization: Bearer <IAM token>` (`authScheme: bearer`), with `x-folder-id`.
 * - Reasoning: `reasoning_effort` (an Anthropic caller's `thinking`, with its
 *   `output_config.effort`, too: `reasoningSwitch`) turns YandexGPT Pro's hidden reasoning mode
 *   on or off; an effort without `thinking` leaves it off, as Claude does not think then.
 * - Streams are newline-delimited JSON (`completionOptions.stream: true`) with the running
 *   usage on every line; no rate-limit headers.
 */
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import {
  errorTypeForStatus,
  isRetryableStatus,
  type ProviderErrorInfo,
  type ProviderErrorType,
  UpstreamError,
} from '../../upstream/upstream-error.js';
import { type BaseUrl, pathSegment, upstreamTarget } from '../../upstream/upstream-target.js';
import {
  baseUrlOf,
  baseUrlProblems,
  configuredTls,
  foreignOptionProblems,
  POST_JSON_HEADERS,
  unsupportedOperation,
} from '../provider-support.js';
import type {
  OperationRequest,
  PreparedRequest,
  ProviderAdapter,
  ProviderConfig,
} from '../provider-types.js';
import { yandexError } from './yandexgpt-api-types.js';
import { YandexStreamMapper, yandexRequestFromOpenAI, yandexResponseToOpenAI } from './yandexgpt-mappers.js';

const YANDEX = { name: 'YandexGPT', defaultBaseUrl: 'https://llm.api.cloud.yandex.net' };

const COMPLETION_PATH = '/foundationModels/v1/completion';

/** `gpt://<folder>/<model>[/<version>]`, refusing anything that could name another folder or host. */
export function yandexModelUri(model: string, config: ProviderConfig): string {
  const folderId = config.folderId;
  if (!folderId) {
    throw new UpstreamError('upstream_target_refused', 'YandexGPT needs a folderId in its configuration', {
      phase: 'connect',
    });
  }
  const parts = model.split('/');
  if (parts.length > 2 || model.includes('://')) {
    throw new UpstreamError(
      'upstream_target_refused',
      `model ${JSON.stringify(model.slice(0, 100))} is not a YandexGPT model name`,
      {
        phase: 'connect',
      },
    );
  }
  const path = parts.map((part) => pathSegment(part, 'model')).join('/');
  return `gpt://${pathSegment(folderId, 'folderId')}/${path}`;
}

function completionPath(base: BaseUrl): string {
  return base.basePath.endsWith('/foundationModels/v1') ? '/completion' : COMPLETION_PATH;
}

function prepare(request: OperationRequest, config: ProviderConfig): PreparedRequest {
  if (request.operation !== 'chat') throw unsupportedOperation(YANDEX.name, request.operation);
  const base = baseUrlOf(YANDEX, config);
  const modelUri = yandexModelUri(request.model, config);
  const body = yandexRequestFromOpenAI(request.body ?? {}, {
    modelUri,
    stream: request.stream,
    callerDialect: request.callerDialect,
  });
  return {
    target: upstreamTarget(base, completionPath(base)),
    method: 'POST',
    headers: {
      ...POST_JSON_HEADERS,
      'x-folder-id': config.folderId ?? '',
    },
    body: JSON.stringify(body),
    framing: request.stream ? 'ndjson' : undefined,
    tls: configuredTls(config),
  };
}

/** gRPC status codes, which Yandex puts beside the HTTP status. */
const GRPC_TYPES: Readonly<Record<number, ProviderErrorType>> = {
  3: 'invalid_request',
  4: 'timeout',
  5: 'not_found',
  7: 'permission',
  8: 'rate_limit',
  13: 'server_error',
  14: 'overloaded',
  16: 'authentication',
};

export function yandexErrorInfo(response: UpstreamErrorResponse): ProviderErrorInfo {
  const { status } = response;
  const parsed = yandexError.safeParse(response.json);
  const error = parsed.success ? parsed.data.error : undefined;
  const grpcCode = error?.grpcCode ?? undefined;
  const type = (grpcCode === undefined ? undefined : GRPC_TYPES[grpcCode]) ?? errorTypeForStatus(status);
  return {
    status,
    type,
    message: error?.message ?? '',
    code: grpcCode === undefined ? undefined : String(grpcCode),
    retryable: isRetryableStatus(status) || type === 'rate_limit' || type === 'overloaded',
  };
}

export function createYandexGPTProvider(options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  return {
    id: 'yandexgpt',
    name: YANDEX.name,
    dialect: 'openai',
    operations: ['chat'],
    defaultBaseUrl: YANDEX.defaultBaseUrl,
    supports: (operation) => operation === 'chat',
    configProblems: (config) => [
      ...baseUrlProblems(YANDEX, config),
      ...(config.folderId ? [] : ['YandexGPT needs a folderId']),
      ...foreignOptionProblems(YANDEX.name, config, ['folderId', 'authScheme']),
    ],
    streamUsage: () => 'always',
    // An Anthropic caller's thinking reaches the mapper as reasoning_effort, for every model.
    reasoningSwitch: true,
    prepare,
    authHeaders: async ({ key, config }) => {
      const secret = key.reveal();
      const scheme = config.authScheme === 'bearer' ? 'Bearer' : 'Api-Key';
      return { headers: { authorization: `${scheme} ${secret}` }, secrets: [secret] };
    },
    rateLimits: () => undefined,
    mapError: yandexErrorInfo,
    mapResponse: (request, body) =>
      request.operation === 'chat'
        ? yandexResponseToOpenAI(body, { model: request.model, created: Math.floor(now() / 1000) })
        : body,
    streamMapper: (request) =>
      new YandexStreamMapper({ model: request.model, created: Math.floor(now() / 1000) }),
  } satisfies ProviderAdapter;
}

export const yandexGPTProvider = createYandexGPTProvider();
