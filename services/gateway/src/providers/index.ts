/**
 * Provider adapters and the call path to them: the registry by id, what an adapter
 * describes, and `callProvider` / `streamProvider` that run an operation through the
 * upstream client and give the answer in the adapter's dialect.
 */
export { anthropicProvider, DEFAULT_ANTHROPIC_VERSION } from './anthropic/anthropic-provider.js';
export { azureDeployment, azureOpenAIProvider } from './azure-openai/azure-openai-provider.js';
export { DEFAULT_GEMINI_API_VERSION, geminiProvider } from './gemini/gemini-provider.js';
export { createGigaChatProvider, gigaChatProvider } from './gigachat/gigachat-provider.js';
export {
  DEFAULT_GIGACHAT_OAUTH_URL,
  DEFAULT_GIGACHAT_SCOPE,
  GigaChatTokens,
} from './gigachat/gigachat-token.js';
export { openAIProvider } from './openai/openai-provider.js';
export {
  OPENAI_COMPATIBLE_PRESETS,
  openAICompatibleProvider,
  type VendorPreset,
} from './openai-compatible/openai-compatible-provider.js';
export {
  callProvider,
  NOT_READY,
  type ProviderAnswer,
  type ProviderCall,
  type ProviderEventStream,
  RequestNotSendableError,
  streamProvider,
} from './provider-call.js';
export { providerConfigSchema, providerIdSchema } from './provider-config.js';
export { providerConfigProblems, storedProviderConfig } from './provider-options.js';
export { providerAdapter, providers } from './provider-registry.js';
export {
  type AuthContext,
  type AuthHeaders,
  type Dialect,
  GENERATE_OPERATION,
  isProviderId,
  OPENAI_COMPATIBLE_VENDORS,
  type OpenAICompatibleVendor,
  type Operation,
  type OperationRequest,
  PROVIDER_IDS,
  type PreparedRequest,
  type ProviderAdapter,
  type ProviderConfig,
  type ProviderId,
  type ProviderKey,
  providerKey,
  type StreamEventMapper,
  type StreamFraming,
  type StreamUsage,
} from './provider-types.js';
export { createYandexGPTProvider, yandexGPTProvider } from './yandexgpt/yandexgpt-provider.js';
