/**
 * Azure OpenAI: the OpenAI dialect in two APIs, told apart by the base URL.
 *
 * - Deployment URLs (a base URL of the resource, or a proxy in front of it):
 *   `{resource}/openai/deployments/{deployment}/chat/completions?api-version=...` (and
 *   `/embeddings`), plus the Responses API at `/openai/responses?api-version=...` where the
 *   body's `model` is the deployment. `api-version` is required.
 * - The v1 API (GA since August 2025), a base URL ending in `/openai/v1`: OpenAI's own paths
 *   under it (`/chat/completions`, `/embeddings`, `/responses`), the deployment in the body's
 *   `model`, and no monthly `api-version` (Azure "API version lifecycle"; the v1 reference
 *   takes an optional `api-version` of `v1` or `preview`, sent only when configured).
 *
 * The deployment comes from the configuration's map (model -> deployment) or is the model name
 * itself, and enters a path only through the path guard. Answers are forwarded as Azure sends
 * them, its `model` naming the version the deployment runs. Auth with the `api-key` header,
 * or a bearer Entra ID token (`authScheme: bearer`). Azure lists base models, not
 * deployments, so `models` is not served (the gateway lists the configured models).
 * Rate-limit headers: `x-ratelimit-remaining-*` only; 429s carry `retry-after-ms`.
 */
import { parseOpenAIRateLimits } from '../../upstream/rate-limit-headers.js';
import { UpstreamError } from '../../upstream/upstream-error.js';
import { type BaseUrl, parseBaseUrl, pathSegment, upstreamTarget } from '../../upstream/upstream-target.js';
import { openAIErrorInfo } from '../openai/openai-error.js';
import { bearerAuth, OPENAI_PATHS, openAIStyleBody } from '../openai/openai-provider.js';
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

const AZURE_OPERATIONS = [
  'chat',
  'embeddings',
  'responses',
  'responses_compact',
] as const satisfies readonly Operation[];
type AzureOperation = (typeof AZURE_OPERATIONS)[number];

function isAzureOperation(operation: Operation): operation is AzureOperation {
  return (AZURE_OPERATIONS as readonly Operation[]).includes(operation);
}

/**
 * Whether the configured resource serves the operation: compaction only on the v1 API, the one
 * Azure's REST reference documents it on (`POST /openai/v1/responses/compact`).
 */
function azureServes(operation: Operation, config: ProviderConfig): boolean {
  if (!isAzureOperation(operation)) return false;
  if (operation !== 'responses_compact') return true;
  const basePath = configuredBasePath(config);
  return basePath !== undefined && azureApiOf(basePath) === 'v1';
}

/** The deployment serving a model: the configured one, else the model's own name. */
export function azureDeployment(model: string, config: ProviderConfig): string {
  const deployments = config.deployments;
  const mapped = deployments && Object.hasOwn(deployments, model) ? deployments[model] : undefined;
  return pathSegment(mapped ?? model, 'deployment');
}

/** `/openai` is part of Azure's deployment paths; a base URL that already ends with it is accepted. */
function openAIRoot(base: BaseUrl): string {
  return base.basePath.endsWith('/openai') ? '' : '/openai';
}

/** Which of Azure's APIs a base URL is for. */
type AzureApi = 'v1' | 'deployments';

const V1_API_PATH = /\/openai\/v1$/;
/**
 * A base path already past `/openai` into a version or an operation (`/openai/v2`,
 * `/openai/v1/chat/completions`, a deployment's own URL): the paths built on it would not exist.
 */
const BUILT_ON_PATH = /\/openai\/(?:v\d[^/]*|deployments|responses|chat|embeddings)(?:\/|$)/;

/** The API a base path (without its trailing slash) is for; undefined when it is for neither. */
function azureApiOf(basePath: string): AzureApi | undefined {
  if (V1_API_PATH.test(basePath)) return 'v1';
  return BUILT_ON_PATH.test(basePath) ? undefined : 'deployments';
}

function apiProblem(basePath: string): string {
  return (
    `Azure OpenAI's baseUrl path ${basePath} is neither the resource (https://{resource}.openai.azure.com) ` +
    'nor its v1 API (https://{resource}.openai.azure.com/openai/v1)'
  );
}

/** The `api-version` values the v1 API takes (its REST reference: `v1` or `preview`, optional). */
const V1_API_VERSIONS: readonly string[] = ['v1', 'preview'];

/** The configured base URL's path; undefined without one that parses (baseUrlProblems says why). */
function configuredBasePath(config: ProviderConfig): string | undefined {
  if (config.baseUrl === undefined) return undefined;
  try {
    return parseBaseUrl(config.baseUrl).basePath;
  } catch {
    return undefined;
  }
}

function apiProblems(config: ProviderConfig): string[] {
  const basePath = configuredBasePath(config);
  if (basePath === undefined) return [];
  const api = azureApiOf(basePath);
  if (api === undefined) return [apiProblem(basePath)];
  if (api === 'deployments') {
    return config.apiVersion
      ? []
      : [
          'Azure OpenAI needs an apiVersion (e.g. 2024-10-21), or a baseUrl ending in /openai/v1 (its v1 API)',
        ];
  }
  return config.apiVersion === undefined || V1_API_VERSIONS.includes(config.apiVersion)
    ? []
    : [`Azure OpenAI's v1 API takes apiVersion v1 or preview (or none), not ${config.apiVersion}`];
}

/**
 * Azure honours `stream_options.include_usage` since api-version 2024-09-01-preview (GA
 * 2024-10-21), and on the v1 API as OpenAI does; older versions refuse the field with a 400,
 * which would fail every stream: they are not asked, and a stream's usage is then counted
 * with the tokenizer.
 */
export function azureStreamUsage(config: ProviderConfig): StreamUsage {
  const basePath = configuredBasePath(config);
  if (basePath !== undefined && azureApiOf(basePath) === 'v1') return 'stream_options';
  const date = /^(\d{4}-\d{2}-\d{2})/.exec(config.apiVersion ?? '')?.[1];
  return date !== undefined && date < '2024-09-01' ? 'never' : 'stream_options';
}

function prepare(request: OperationRequest, config: ProviderConfig): PreparedRequest {
  const { operation, stream } = request;
  if (!isAzureOperation(operation)) throw unsupportedOperation(AZURE.name, operation);
  const base = baseUrlOf(AZURE, config);
  const api = azureApiOf(base.basePath);
  if (api === undefined) {
    throw new UpstreamError('upstream_target_refused', apiProblem(base.basePath), { phase: 'connect' });
  }
  if (api === 'deployments' && !config.apiVersion) {
    throw unsupportedOperation(`${AZURE.name} without an apiVersion`, operation);
  }
  if (api === 'deployments' && operation === 'responses_compact') {
    throw unsupportedOperation(`${AZURE.name}'s deployment API`, operation);
  }
  const deployment = azureDeployment(request.model, config);
  const query = { 'api-version': config.apiVersion };
  // The v1 API, and the Responses API on either, name the deployment in the body's model.
  const named = api === 'v1' || operation === 'responses' || operation === 'responses_compact';
  const streamUsage = azureStreamUsage(config);
  let sent = named ? { ...request.body, model: deployment } : request.body;
  // An api-version that refuses the field refuses a caller's own stream_options too (a 400
  // for every stream); the gateway writes the usage chunk the caller asked for from its count.
  // `max_completion_tokens` came with the same versions: the older ones take the limit as
  // `max_tokens` (the OpenAI SDK's users write the newer name, as OpenAI asks).
  if (operation === 'chat' && streamUsage === 'never' && sent) {
    const { stream_options: _refused, max_completion_tokens: limit, ...rest } = sent;
    if (_refused !== undefined || limit !== undefined)
      sent = limit === undefined || 'max_tokens' in rest ? rest : { ...rest, max_tokens: limit };
  }
  const body = openAIStyleBody({ ...request, body: sent }, streamUsage);
  const path =
    api === 'v1'
      ? OPENAI_PATHS[operation]
      : operation === 'responses'
        ? `${openAIRoot(base)}/responses`
        : `${openAIRoot(base)}/deployments/${deployment}${OPENAI_PATHS[operation]}`;
  return prepareJsonCall(
    {
      target: upstreamTarget(base, path, query),
      streamed: stream && operation !== 'embeddings',
      body,
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
  supports: azureServes,
  configProblems: (config) => [
    ...baseUrlProblems(AZURE, config),
    ...apiProblems(config),
    ...foreignOptionProblems(AZURE.name, config, ['apiVersion', 'deployments', 'authScheme']),
  ],
  streamUsage: azureStreamUsage,
  // `max_completion_tokens` came with the same api-versions as stream usage (and is on v1).
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
