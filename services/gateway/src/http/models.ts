import type { IncomingMessage, ServerResponse } from 'node:http';
import { providersOf, type RegistryState } from '../registry/registry.js';
import { dialectOfHeaders, GatewayError } from './gateway-error.js';
import { routeModel } from './route-model.js';

/** Whether the caller's policies (every scope's model list) let its requests name a model. */
export type ModelAllowed = (model: string) => boolean;

/** The path under which `GET /v1/models/{model}` answers one model. */
export const MODEL_PATH_PREFIX = '/v1/models/';

/** When a model "was created": Kordon does not know, and the SDKs need a value. */
const CREATED = 0;

/**
 * `GET /v1/models`: the models the caller may use (the org's, wildcard patterns left out as
 * not listable, minus those its policies' model lists forbid), in the OpenAI list shape, or
 * Anthropic's when the caller sends `anthropic-version` (the Anthropic SDK always does).
 */
export function listModels(
  req: IncomingMessage,
  res: ServerResponse,
  registry: RegistryState,
  orgId: string,
  allowed: ModelAllowed,
): void {
  const seen = new Map<string, string>();
  for (const provider of providersOf(registry, orgId)) {
    for (const model of provider.models)
      if (!model.endsWith('*') && !seen.has(model) && allowed(model)) seen.set(model, provider.name);
  }
  const ids = [...seen.keys()];
  const body =
    dialectOfHeaders(req) === 'anthropic'
      ? {
          data: ids.map(anthropicModel),
          has_more: false,
          first_id: ids[0] ?? null,
          last_id: ids.at(-1) ?? null,
        }
      : { object: 'list', data: [...seen].map(([id, provider]) => openAIModel(id, provider)) };
  sendModelJson(res, body);
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
  sendModelJson(
    res,
    dialectOfHeaders(req) === 'anthropic' ? anthropicModel(id) : openAIModel(id, route!.provider.name),
  );
}

function openAIModel(id: string, provider: string) {
  return { id, object: 'model', created: CREATED, owned_by: provider };
}

function anthropicModel(id: string) {
  return { type: 'model', id, display_name: id, created_at: new Date(CREATED).toISOString() };
}

function sendModelJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
