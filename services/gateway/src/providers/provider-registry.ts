/**
 * Every provider adapter by id. The mapped type ties each entry to its key, so the registry
 * cannot list an adapter under another id, and `satisfies` keeps it complete: a new
 * ProviderId does not compile until it has an adapter.
 */
import { anthropicProvider } from './anthropic/anthropic-provider.js';
import { azureOpenAIProvider } from './azure-openai/azure-openai-provider.js';
import { geminiProvider } from './gemini/gemini-provider.js';
import { gigaChatProvider } from './gigachat/gigachat-provider.js';
import { openAIProvider } from './openai/openai-provider.js';
import { openAICompatibleProvider } from './openai-compatible/openai-compatible-provider.js';
import type { ProviderAdapter, ProviderId } from './provider-types.js';
import { yandexGPTProvider } from './yandexgpt/yandexgpt-provider.js';

export const providers = {
  openai: openAIProvider,
  anthropic: anthropicProvider,
  gemini: geminiProvider,
  'azure-openai': azureOpenAIProvider,
  'openai-compatible': openAICompatibleProvider,
  yandexgpt: yandexGPTProvider,
  gigachat: gigaChatProvider,
} satisfies { readonly [Id in ProviderId]: ProviderAdapter & { readonly id: Id } };

export function providerAdapter(id: ProviderId): ProviderAdapter {
  return providers[id];
}
