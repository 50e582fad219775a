import type { IncomingMessage, ServerResponse } from 'node:http';
import { SHIPPED_PRICE_TABLE } from '../pricing/price-table.js';
import { type ProviderEntry, providersOf, type RegistryState } from '../registry/registry.js';
import { answerHeaders, type Dialect, dialectOfHeaders, GatewayError } from './gateway-error.js';
import { type Route, routeModel } from './route-model.js';

/** Whether the caller's policies (every scope's model list) let its requests name a model. */
export type ModelAllowed = (model: string) => boolean;

/** The path under which `GET /v1/models/{model}` answers one model. */
export const MODEL_PATH_PREFIX = '/v1/models/';

/** When a model "was created": Kordon does not know, and the SDKs need a value. */
const CREATED = 0;

/** Anthropic's `GET /v1/models` page size: 20 unless asked, 1 to 1000. */
const ANTHROPIC_DEFAULT_LIMIT = 20;
const ANTHROPIC_MAX_LIMIT = 1000;

/**
 * The models Kordon knows of each vendor, by the shipped price table's vendor: its current,
 * priced models. A provider's pattern (`gpt-4.1*`) is listed as those it matches. A key one
 * of its aliases extends is a family the table prices, not a model id: Anthropic answers
 * `claude-sonnet-4` with a 404, so the alias (`claude-sonnet-4-0`) is listed in its place.
 */
const KNOWN_MODELS = new Map<string, string[]>();
for (const [model, entry] of Object.entries(SHIPPED_PRICE_TABLE.models)) {
  const names = KNOWN_MODELS.get(entry.provider) ?? [];
  const ids = (entry.aliases ?? []).filter((alias) => alias.startsWith(`${model}-`));
  names.push(...(ids.length > 0 ? ids : [model]));
  KNOWN_MODELS.set(entry.provider, names);
}

/**
 * The known models a provider may serve under a pattern: those of the vendor it reaches (an
 * Azure deployment runs OpenAI's models; an OpenAI-compatible provider only when it names its
 * vendor), never another vendor's (`*` on a vLLM is no Claude).
 */
function knownModelsOf(provider: ProviderEntry): readonly string[] {
  switch (provider.type) {
    case 'openai':
    case 'azure-openai':
      return KNOWN_MODELS.get('openai') ?? [];
    case 'anthropic':
      return KNOWN_MODELS.get('anthropic') ?? [];
    case 'gemini':
      return KNOWN_MODELS.get('google') ?? [];
    case 'openai-compatible':
      return KNOWN_MODELS.get(provider.options.vendor ?? '') ?? [];
    default:
      return [];
  }
}

/**
 * `GET /v1/models`: the models the caller may use (the org's; for a wildcard pattern, the
 * known models of its provider's vendor it matches, as a pattern is no model; minus those its
 * policies' model lists forbid), in the OpenAI list shape (all
 * of them: OpenAI's list has no pages), or Anthropic's when the caller sends
 * `anthropic-version` (the Anthropic SDK always does): one page of `limit` models after
 * `after_id` or before `before_id`, with `has_more` in that direction.
 */
export function listModels(
  req: IncomingMessage,
  res: ServerResponse,
  registry: RegistryState,
  orgId: string,
  allowed: ModelAllowed,
  requestId: string,
): void {
  const seen = new Map<string, string>();
  const add = (model: string) => {
    if (seen.has(model)) return;
    // As a request naming it is routed (retrieveModel): `openai/gpt-4o` of an OpenRouter
    // provider is the `openai` provider's `gpt-4o` when the org has one, held to the lists so.
    let route: Route | undefined;
    try {
      [route] = routeModel(registry, orgId, model);
    } catch (error) {
      if (error instanceof GatewayError) return; // a name no request can name
      throw error;
    }
    if (route && allowed(route.model)) seen.set(model, route.provider.name);
  };
  for (const provider of providersOf(registry, orgId)) {
    for (const model of provider.models) {
      if (!model.endsWith('*')) add(model);
      else {
        const prefix = model.slice(0, -1);
        for (const known of knownModelsOf(provider)) if (known.startsWith(prefix)) add(known);
      }
    }
  }
  if (dialectOfHeaders(req) === 'anthropic') {
    const page = anthropicPage([...seen.keys()], new URL(req.url ?? '/', 'http://kordon').searchParams);
    sendModelJson(res, 'anthropic', requestId, {
      data: page.ids.map(anthropicModel),
      has_more: page.hasMore,
      first_id: page.ids[0] ?? null,
      last_id: page.ids.at(-1) ?? null,
    });
    return;
  }
  sendModelJson(res, 'openai', requestId, {
    object: 'list',
    data: [...seen].map(([id, provider]) => openAIModel(id, provider)),
  });
}

/**
 * One page of `ids` as Anthropic pages lists: `limit` of them after `after_id`, or the
 * `limit` just before `before_id`, else the first `limit`; `hasMore` says whether more lie
 * beyond the page in the direction asked (the SDK pages on with `last_id`, or `first_id`).
 */
function anthropicPage(ids: readonly string[], query: URLSearchParams): { ids: string[]; hasMore: boolean } {
  const limitText = query.get('limit');
  const limit = limitText === null ? ANTHROPIC_DEFAULT_LIMIT : Number(limitText);
  if (limitText !== null && (!/^\d+$/.test(limitText) || limit < 1 || limit > ANTHROPIC_MAX_LIMIT)) {
    throw new GatewayError(
      'invalid_request',
      `limit: must be an integer from 1 to ${ANTHROPIC_MAX_LIMIT}, got ${JSON.stringify(limitText.slice(0, 40))}`,
      { param: 'limit' },
    );
  }
  const afterId = query.get('after_id');
  const beforeId = query.get('before_id');
  if (afterId !== null && beforeId !== null) {
    throw new GatewayError('invalid_request', 'give after_id or before_id, not both');
  }
  const cursor = afterId ?? beforeId;
  if (cursor === null) return { ids: ids.slice(0, limit), hasMore: ids.length > limit };
  const at = ids.indexOf(cursor);
  if (at < 0) {
    // A model this caller does not see is no place in its list.
    const param = afterId !== null ? 'after_id' : 'before_id';
    throw new GatewayError(
      'invalid_request',
      `${param}: ${JSON.stringify(cursor.slice(0, 200))} is not a model of this list`,
      { param },
    );
  }
  if (afterId !== null)
    return { ids: ids.slice(at + 1, at + 1 + limit), hasMore: at + 1 + limit < ids.length };
  const from = Math.max(0, at - limit);
  return { ids: ids.slice(from, at), hasMore: from > 0 };
}

/**
 * `GET /v1/models/{model}` (both SDKs' `models.retrieve`): the model when a request naming it
 * would be routed and allowed (a wildcard's match and `provider-name/model` included), else
 * the 404 a request naming it gets, whether it does not exist or is not the caller's to use.
 */
export function retrieveModel(
  req: IncomingMessage,
  res: ServerResponse,
  registry: RegistryState,
  orgId: string,
  allowed: ModelAllowed,
  requestId: string,
): void {
  const path = (req.url ?? '').split('?', 1)[0]!;
  let id: string;
  try {
    id = decodeURIComponent(path.slice(MODEL_PATH_PREFIX.length));
  } catch {
    throw new GatewayError(
      'invalid_request',
      `the model in ${path.slice(0, 300)} is not a valid URL path segment`,
    );
  }
  // A configured pattern (`gpt-4.1*`) is no model: routeModel finds no route for it (404).
  const [route] = routeModel(registry, orgId, id);
  if (!allowed(route!.model)) {
    throw new GatewayError(
      'model_not_found',
      `The model \`${id}\` does not exist or you do not have access to it.`,
      {
        param: 'model',
      },
    );
  }
  const dialect = dialectOfHeaders(req);
  sendModelJson(
    res,
    dialect,
    requestId,
    dialect === 'anthropic' ? anthropicModel(id) : openAIModel(id, route!.provider.name),
  );
}

function openAIModel(id: string, provider: string) {
  return { id, object: 'model', created: CREATED, owned_by: provider };
}

/**
 * Anthropic's ModelInfo, every field the SDK types as present: a model this caller may use is
 * `active` (a caller keeps those); what Kordon does not know of it is null, as Anthropic's is.
 */
function anthropicModel(id: string) {
  return {
    type: 'model',
    id,
    display_name: id,
    created_at: new Date(CREATED).toISOString(),
    lifecycle: 'active',
    capabilities: null,
    deprecated_at: null,
    retires_at: null,
    line: null,
    max_input_tokens: null,
    max_tokens: null,
  };
}

/** With the request's id, as every other answer carries it. */
function sendModelJson(res: ServerResponse, dialect: Dialect, requestId: string, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, {
    ...answerHeaders(dialect, requestId, 'application/json'),
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
