/**
 * Azure OpenAI: the OpenAI dialect at deployment URLs,
 * `{resource}/openai/deployments/{deployment}/chat/completions?api-version=...` (and
 * `/embeddings`), plus the Responses API at `/openai/responses?api-version=...` where the
 * body's `model` is the deployment. The deployment comes from the configuration's map
 * (model -> deployment) or is the model name itself, and enters the path only through the
 * path guard. Auth with the `api-key` header, or a bearer Entra ID token
 * (`authScheme: bearer`). `api-version` is required. Azure lists base models, not
 * deployments, so `models` is not served (the gateway lists the configured models).
 * Rate-limit headers: `x-ratelimit-remaining-*` only; 429s carry `retry-after-ms`.
 */
import { parseOpenAIRateLimits } from '../../upstream/rate-limit-headers.js';
import { type BaseUrl, pathSegment, upstreamTarget } from '../../upstream/upstream-target.js';
import { openAIErrorInfo } from '../openai/openai-error.js';
import { bearerAuth, openAIStyleBody } from '../openai/openai-provider.js';
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
  StreamUsage,
} from '../provider-types.js';

const AZURE = { name: 'Azure OpenAI', defaultBaseUrl: undefined };

const AZURE_OPERATIONS = ['chat', 'embeddings', 'responses'] as const satisfies readonly Operation[];
type AzureOperation = (typeof AZURE_OPERATIONS)[number];

function isAzureOperation(operation: Operation): operation is AzureOperation {
  return (AZURE_OPERATIONS as readonly Operation[]).includes(operation);
}

/** The deployment serving a model: the configured one, else the model's own name. */
export function azureDeployment(model: string, config: ProviderConfig): string {
  const deployments = config.deployments;
  const mapped = deployments && Object.hasOwn(deployments, model) ? deployments[model] : undefined;
  return pathSegment(mapped ?? model, 'deployment');
}

/** `/openai` is part of Azure's paths; a base URL that already ends with it is accepted. */
function openAIRoot(base: BaseUrl): string {
  return base.basePath.endsWith('/openai') ? '' : '/openai';
}

/**
 * Azure honours `stream_options.include_usage` since api-version 2024-09-01-preview (GA
 * 2024-10-21); older versions refuse the field with a 400, which would fail every stream:
 * they are not asked, and a stream's usage is then counted with the tokenizer.
 */
export function azureStreamUsage(config: ProviderConfig): StreamUsage {
  const date = /^(\d{4}-\d{2}-\d{2})/.exec(config.apiVersion ?? '')?.[1];
  return date !== undefined && date < '2024-09-01' ? 'never' : 'stream_options';
}

function prepare(request: OperationRequest, config: ProviderConfig): PreparedRequest {
  const { operation, stream } = request;
  if (!isAzureOperation(operation)) throw unsupportedOperation(AZURE.name, operation);
  if (!config.apiVersion) throw unsupportedOperation(`${AZURE.name} without an apiVersion`, operation);
  const base = baseUrlOf(AZURE, config);
  const deployment = azureDeployment(request.model, config);
  const root = openAIRoot(base);
  const query = { 'api-version': config.apiVersion };
  const streamed = stream && operation !== 'embeddings';
  if (operation === 'responses') {
    return prepareJsonCall(
      {
        target: upstreamTarget(base, `${root}/responses`, query),
        streamed,
        body: JSON.stringify({ ...request.body, model: deployment, stream }),
      },
      config,
    );
  }
  const path = operation === 'chat' ? '/chat/completions' : '/embeddings';
  return prepareJsonCall(
    {
      target: upstreamTarget(base, `${root}/deployments/${deployment}${path}`, query),
      streamed,
      body: openAIStyleBody(request, azureStreamUsage(config)),
    },
    config,
  );
}

export const azureOpenAIProvider = {
  id: 'azure-openai',
  name: AZURE.name,
  dialect: 'openai',
  operations: AZURE_OPERATIONS,
  defaultBaseUrl: AZURE.defaultBaseUrl,
  supports: (operation) => isAzureOperation(operation),
  configProblems: (config) => [
    ...baseUrlProblems(AZURE, config),
    ...(config.apiVersion ? [] : ['Azure OpenAI needs an apiVersion (e.g. 2024-10-21)']),
    ...foreignOptionProblems(AZURE.name, config, ['apiVersion', 'deployments', 'authScheme']),
  ],
  streamUsage: azureStreamUsage,
  // `max_completion_tokens` came with the same api-versions as stream usage.
  outputLimitField: (config) =>
    azureStreamUsage(config) === 'never' ? 'max_tokens' : 'max_completion_tokens',
  prepare,
  authHeaders: async ({ key, config }) => {
    const secret = key.reveal();
    return config.authScheme === 'bearer' ? bearerAuth(secret) : keyHeaderAuth('api-key', secret);
  },
  rateLimits: (headers) => parseOpenAIRateLimits(headers),
  mapError: openAIErrorInfo,
} satisfies ProviderAdapter;
