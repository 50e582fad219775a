import { z } from 'zod';
import { defineEvent } from '../define.js';
import { endpointUrl, id, modelPattern, slug } from './fields.js';

/*
 * The org's connections to AI providers: which kind of API (`type`), where it is, and which
 * models it serves. Keys (ProviderKeyAdded) name their provider by this `provider` slug.
 * Stream: `org:<orgId>:provider:<provider>`.
 */

export const providerType = z.enum([
  'openai',
  'anthropic',
  'gemini',
  'azure-openai',
  'openai-compatible',
  'yandexgpt',
  'gigachat',
]);

/** Settings only some provider types take; validated again by the provider's adapter. */
const providerOptions = z.strictObject({
  /** azure-openai: model name -> deployment name. */
  deployments: z.record(z.string().min(1).max(200), z.string().min(1).max(200)).optional(),
  /** azure-openai: the `api-version` query parameter. */
  apiVersion: z.string().min(1).max(40).optional(),
  /** yandexgpt: the Yandex Cloud folder whose models are used. */
  folderId: id.optional(),
  /** gigachat: the OAuth endpoint and scope of the authorization key. */
  oauthUrl: endpointUrl.optional(),
  scope: z.string().min(1).max(64).optional(),
});

/** Added, or changed in place (the latest event wins). */
export const ProviderConfigured = defineEvent({
  type: 'ProviderConfigured',
  version: 1,
  schema: z.strictObject({
    provider: slug,
    type: providerType,
    /** Only ever set by an admin: a request can never choose where Kordon connects. */
    baseUrl: endpointUrl,
    /** Models served (exact names or `prefix*`), in the order clients should see them. */
    models: z.array(modelPattern).min(1).max(500),
    options: providerOptions,
  }),
});

export const ProviderRemoved = defineEvent({
  type: 'ProviderRemoved',
  version: 1,
  schema: z.strictObject({ provider: slug }),
});

export const providerEvents = [ProviderConfigured, ProviderRemoved] as const;
