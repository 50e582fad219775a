/**
 * GigaChat (Sber): `POST {base}/chat/completions` and `GET {base}/models` under
 * `https://gigachat.devices.sberbank.ru/api/v1`, spoken to the gateway in the OpenAI dialect
 * through the mappers in gigachat-mappers.ts. The configured key is the authorization key;
 * calls carry the access token it is exchanged for (gigachat-token.ts), refreshed before it
 * expires and once more after a 401. GigaChat's servers use certificates of the Russian NUC
 * root: configure it as `caCertificate`. Usage always comes in the last streamed chunk.
 */
import { upstreamTarget } from '../../upstream/upstream-target.js';
import {
  baseUrlOf,
  baseUrlProblems,
  foreignOptionProblems,
  prepareJsonCall,
  unsupportedOperation,
} from '../provider-support.js';
import type {
  OperationRequest,
  PreparedRequest,
  ProviderAdapter,
  ProviderConfig,
} from '../provider-types.js';
import {
  GigaChatStreamMapper,
  gigaChatRequestFromOpenAI,
  gigaChatResponseToOpenAI,
} from './gigachat-mappers.js';
import { type GigaChatTokenOptions, GigaChatTokens, gigaChatErrorInfo } from './gigachat-token.js';

const GIGACHAT = { name: 'GigaChat', defaultBaseUrl: 'https://gigachat.devices.sberbank.ru/api/v1' };

function prepare(request: OperationRequest, config: ProviderConfig): PreparedRequest {
  const { operation, stream } = request;
  const base = baseUrlOf(GIGACHAT, config);
  if (operation === 'models') {
    return prepareJsonCall(
      { target: upstreamTarget(base, '/models'), get: true, streamed: false, body: undefined },
      config,
    );
  }
  if (operation !== 'chat') throw unsupportedOperation(GIGACHAT.name, operation);
  const body = gigaChatRequestFromOpenAI(request.body ?? {}, {
    model: request.model,
    stream,
    callerDialect: request.callerDialect,
  });
  return prepareJsonCall(
    { target: upstreamTarget(base, '/chat/completions'), streamed: stream, body: JSON.stringify(body) },
    config,
  );
}

export function createGigaChatProvider(options: GigaChatTokenOptions = {}) {
  const tokens = new GigaChatTokens(options);
  const now = options.now ?? Date.now;
  const adapter = {
    id: 'gigachat',
    name: GIGACHAT.name,
    dialect: 'openai',
    operations: ['chat', 'models'],
    defaultBaseUrl: GIGACHAT.defaultBaseUrl,
    supports: (operation) => operation === 'chat' || operation === 'models',
    configProblems: (config) => [
      ...baseUrlProblems(GIGACHAT, config),
      ...foreignOptionProblems(GIGACHAT.name, config, ['oauthUrl', 'scope']),
    ],
    streamUsage: () => 'always',
    prepare,
    authHeaders: async ({ client, config, key, signal, timeouts }) => {
      const token = await tokens.token(client, config, key, { signal, timeouts });
      return { headers: { authorization: `Bearer ${token}` }, secrets: [token, key.reveal()] };
    },
    invalidateAuth: ({ config, key }, refused) => {
      const token = /^Bearer (.+)$/.exec(refused.headers.authorization ?? '')?.[1];
      return token !== undefined && tokens.invalidate(config, key, token);
    },
    rateLimits: () => undefined,
    mapError: gigaChatErrorInfo,
    mapResponse: (request, body) =>
      request.operation === 'chat'
        ? gigaChatResponseToOpenAI(body, { model: request.model, created: Math.floor(now() / 1000) })
        : body,
    streamMapper: (request) =>
      new GigaChatStreamMapper({ model: request.model, created: Math.floor(now() / 1000) }),
  } satisfies ProviderAdapter;
  return Object.assign(adapter, { tokens });
}

export const gigaChatProvider = createGigaChatProvider();
