import { MODEL_NAME_MAX_LENGTH, MODEL_NAME_PATTERN } from '@kordon/events';
import {
  modelChoiceRefusal,
  vendorPreset,
} from '../providers/openai-compatible/openai-compatible-provider.js';
import type { ProviderEntry, RegistryState } from '../registry/registry.js';
import { providersOf } from '../registry/registry.js';
import { type Dialect, GatewayError } from './gateway-error.js';

export interface Route {
  provider: ProviderEntry;
  /** The model name the provider is asked for (without a `provider/` prefix). */
  model: string;
}

/**
 * `gpt-4o` matches `gpt-4o`; `gpt-4o*` matches every name starting with `gpt-4o`. A name
 * holding `*` is a pattern, not a model: it matches nothing (a caller asking for `gpt-4o*`
 * would otherwise be routed, and a provider asked for a model that cannot exist).
 */
export function modelMatches(patterns: readonly string[], model: string): boolean {
  if (model.includes('*')) return false;
  for (const pattern of patterns) {
    if (pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : pattern === model) return true;
  }
  return false;
}

/**
 * Whether the request events can hold `name` as their model (the catalogue's `modelName`).
 * Only such a name is routed: a wildcard (`local*`) matches any text, and a call to a name
 * the events refuse would be answered, then fail to be recorded, its tokens outside every
 * limit and budget. (The part after a `provider/` prefix is then one too: it matches a
 * configured name, which starts with a letter or a digit.)
 */
export function isRecordableModelName(name: string): boolean {
  return name.length <= MODEL_NAME_MAX_LENGTH && MODEL_NAME_PATTERN.test(name);
}

/**
 * The providers of the caller's org that serve `model`, in configuration order (the
 * fallback chain). `provider-name/model` picks one provider. Nothing here comes from the
 * request but the model name: where Kordon connects is the admin's configuration.
 */
export function routeModel(registry: RegistryState, orgId: string, requested: unknown): Route[] {
  if (typeof requested !== 'string' || requested.length === 0) {
    throw new GatewayError('invalid_request', 'you must provide a model parameter', { param: 'model' });
  }
  if (!isRecordableModelName(requested)) {
    throw new GatewayError(
      'invalid_request',
      `a model name is 1 to ${MODEL_NAME_MAX_LENGTH} printable ASCII characters, without spaces, starting with a letter or a digit`,
      { param: 'model' },
    );
  }
  const slash = requested.indexOf('/');
  if (slash > 0) {
    const named = registry.providers.get(orgId)?.get(requested.slice(0, slash));
    const model = requested.slice(slash + 1);
    if (named && modelMatches(named.models, model)) return [{ provider: named, model }];
  }
  const routes = providersOf(registry, orgId)
    .filter((provider) => modelMatches(provider.models, requested))
    .map((provider) => ({ provider, model: requested }));
  if (routes.length === 0) {
    throw new GatewayError(
      'model_not_found',
      `The model \`${requested}\` does not exist or you do not have access to it.`,
      { param: 'model' },
    );
  }
  return routes;
}

/**
 * Refuses (400 naming the field) a request field by which a provider of the chain would serve
 * other models than the routed one, with the org's key: OpenRouter tries a request's `models`
 * when the primary model fails and bills the one that answered. Those models were never held
 * to the provider's list, the caller's model lists, the estimate a budget reserves, nor named
 * in the request's event; so the field is refused before admission, as routing refuses a model.
 * Only an OpenAI-dialect body reaches an OpenAI-compatible server as sent: a translated one is
 * rebuilt from the fields the translation knows.
 */
export function refuseUpstreamModelChoice(
  routes: readonly Route[],
  body: Readonly<Record<string, unknown>>,
  dialect: Dialect,
): void {
  if (dialect !== 'openai') return;
  for (const { provider } of routes) {
    if (provider.type !== 'openai-compatible') continue;
    const refusal = modelChoiceRefusal(vendorPreset({ vendor: provider.options.vendor }), body);
    if (refusal) throw new GatewayError('invalid_request', refusal.message, { param: refusal.param });
  }
}
