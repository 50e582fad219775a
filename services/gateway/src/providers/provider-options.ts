/**
 * A provider as the log stores it (`ProviderConfigured`: type, address, options) checked the
 * way its adapter will read it: the config file at start and the admin API's PUT both refuse
 * what an adapter would refuse or silently ignore, before anything is written.
 */
import type { KordonEventData, openAICompatibleVendor } from '@kordon/events';
import type { z } from 'zod';
import { providerConfigSchema } from './provider-config.js';
import { providerAdapter } from './provider-registry.js';
import { OPENAI_COMPATIBLE_VENDORS, type ProviderConfig } from './provider-types.js';

type StoredProvider = KordonEventData<'ProviderConfigured'>;

// The catalogue and the adapters' presets must name the same vendors (checked both ways).
OPENAI_COMPATIBLE_VENDORS satisfies readonly z.infer<typeof openAICompatibleVendor>[];

/** The adapter's settings of a stored provider (what the gateway hands the adapter on each call). */
export function storedProviderConfig(baseUrl: string, options: StoredProvider['options']): ProviderConfig {
  return {
    baseUrl,
    apiVersion: options.apiVersion,
    deployments: options.deployments,
    folderId: options.folderId,
    authScheme: options.authScheme,
    oauthUrl: options.oauthUrl,
    scope: options.scope as ProviderConfig['scope'],
    vendor: options.vendor,
    organization: options.organization,
    project: options.project,
    caCertificate: options.caCertificate,
  };
}

/**
 * What is wrong with a provider's settings for its type, as messages naming the field: the
 * rules of `providerConfigSchema`, then the adapter's own (`configProblems`: a missing Azure
 * apiVersion, a `vendor` on a type that has none). Empty when the adapter will take it.
 */
export function providerConfigProblems(
  provider: Pick<StoredProvider, 'type' | 'baseUrl' | 'options'>,
): string[] {
  const parsed = providerConfigSchema.safeParse(storedProviderConfig(provider.baseUrl, provider.options));
  if (!parsed.success)
    return parsed.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`);
  return [...providerAdapter(provider.type).configProblems(parsed.data)];
}
