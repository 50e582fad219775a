import type { IncomingMessage, ServerResponse } from 'node:http';
import { providersOf, type RegistryState } from '../registry/registry.js';
import { dialectOfHeaders } from './gateway-error.js';

/**
 * `GET /v1/models`: the models the caller's org serves (wildcard patterns are not
 * listable), in the OpenAI list shape, or Anthropic's when the caller sends
 * `anthropic-version` (the Anthropic SDK always does).
 */
export function listModels(
  req: IncomingMessage,
  res: ServerResponse,
  registry: RegistryState,
  orgId: string,
): void {
  const seen = new Map<string, string>();
  for (const provider of providersOf(registry, orgId)) {
    for (const model of provider.models)
      if (!model.endsWith('*') && !seen.has(model)) seen.set(model, provider.name);
  }
  const created = 0;
  const body =
    dialectOfHeaders(req) === 'anthropic'
      ? {
          data: [...seen.keys()].map((id) => ({
            type: 'model',
            id,
            display_name: id,
            created_at: new Date(created).toISOString(),
          })),
          has_more: false,
          first_id: [...seen.keys()][0] ?? null,
          last_id: [...seen.keys()].at(-1) ?? null,
        }
      : {
          object: 'list',
          data: [...seen].map(([id, provider]) => ({ id, object: 'model', created, owned_by: provider })),
        };
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
