/**
 * The OpenAI mock's stored chat completions: a completion made with `store: true` is kept,
 * found only with the key that made it (as on the real API, in that key's project), and
 * served as OpenAI's API reference describes (Chat Completions: Get chat completion, Update
 * chat completion (`metadata` only), Delete chat completion, Get chat messages, List Chat
 * Completions).
 */

import type { Exchange } from './mock-server.js';
import { type ChatContent, contentText } from './openai-api-types.js';
import { openAIError } from './openai-error.js';
import type { Reply } from './wire.js';

interface StoredChatCompletion {
  readonly key: string | undefined;
  readonly server: string;
  completion: { id: string; model: string; metadata: Record<string, string> | null } & object;
  readonly messages: readonly object[];
}

/** By server and id; bounded: the oldest are forgotten. Insertion order is creation order. */
const storedCompletions = new Map<string, StoredChatCompletion>();
const STORED_COMPLETIONS_MAX = 10_000;

const STORED_PATH = /^\/v1\/chat\/completions(?:\/([^/]+)(\/messages)?)?$/;

/** Keeps a completion made with `store: true`, with the request's messages and metadata. */
export function storeChatCompletion(
  exchange: Exchange,
  completion: { id: string; model: string } & object,
  messages: readonly { role: string; content?: ChatContent }[],
  metadata: Record<string, string> | null | undefined,
): void {
  const server = exchange.headers.host ?? '';
  if (storedCompletions.size >= STORED_COMPLETIONS_MAX)
    storedCompletions.delete(storedCompletions.keys().next().value!);
  storedCompletions.set(`${server} ${completion.id}`, {
    key: exchange.headers.authorization,
    server,
    completion: { ...completion, metadata: metadata ?? null },
    messages: messages.map((message, index) => ({
      id: `${completion.id}-${index}`,
      role: message.role,
      content: contentText(message.content),
      name: null,
      content_parts: null,
    })),
  });
}

/** Whether the call is on stored chat completions (every method but POST on the collection). */
export function isStoredChatCompletionCall(method: string, path: string): boolean {
  const match = STORED_PATH.exec(path);
  return match !== null && (match[1] !== undefined || method === 'GET');
}

export function handleStoredChatCompletion(exchange: Exchange): Reply {
  const [, id, sub] = STORED_PATH.exec(exchange.path) ?? [];
  const { method } = exchange;
  if (id === undefined) return listCompletions(exchange);
  const allowed = sub === undefined ? ['GET', 'POST', 'DELETE'].includes(method) : method === 'GET';
  if (!allowed)
    return openAIError({ kind: 'not-found', message: `Invalid URL (${method} ${exchange.path})` });
  const storedAt = `${exchange.headers.host ?? ''} ${id}`;
  const stored = storedCompletions.get(storedAt);
  if (!stored || stored.key !== exchange.headers.authorization)
    return openAIError({ kind: 'not-found', message: `Chat completion with id '${id}' not found.` });
  if (sub === '/messages') return page(exchange, stored.messages, 'asc');
  if (method === 'DELETE') {
    storedCompletions.delete(storedAt);
    return { kind: 'json', status: 200, body: { object: 'chat.completion.deleted', id, deleted: true } };
  }
  if (method === 'POST') {
    const body = exchange.body as { metadata?: unknown } | null;
    const fields = body && typeof body === 'object' ? Object.keys(body) : [];
    if (fields.some((field) => field !== 'metadata') || body?.metadata === undefined)
      return openAIError({ kind: 'bad-request', message: 'Only metadata can be updated.' });
    stored.completion = { ...stored.completion, metadata: body.metadata as Record<string, string> | null };
  }
  return { kind: 'json', status: 200, body: stored.completion };
}

/** This key's completions on this server, filtered by `model` and `metadata[key]=value`. */
function listCompletions(exchange: Exchange): Reply {
  const server = exchange.headers.host ?? '';
  const model = exchange.query.get('model');
  const metadata = [...exchange.query].flatMap(([name, value]) => {
    const key = /^metadata\[(.+)\]$/.exec(name)?.[1];
    return key === undefined ? [] : [[key, value] as const];
  });
  const completions = [...storedCompletions.values()]
    .filter(
      (stored) =>
        stored.server === server &&
        stored.key === exchange.headers.authorization &&
        (model === null || stored.completion.model === model) &&
        metadata.every(([key, value]) => stored.completion.metadata?.[key] === value),
    )
    .map((stored) => stored.completion);
  return page(exchange, completions, 'asc');
}

/** A page: `order` (asc by default, as both lists are), `limit` 1-100 (20), `after` an id. */
function page(exchange: Exchange, items: readonly object[], defaultOrder: 'asc' | 'desc'): Reply {
  const order = exchange.query.get('order') ?? defaultOrder;
  const limit = Number(exchange.query.get('limit') ?? 20);
  if ((order !== 'asc' && order !== 'desc') || !Number.isInteger(limit) || limit < 1 || limit > 100)
    return openAIError({ kind: 'bad-request', message: 'Invalid order or limit.' });
  const ordered = order === 'asc' ? [...items] : [...items].reverse();
  const idOf = (item: object | undefined) => (item as { id?: string } | undefined)?.id ?? null;
  const after = exchange.query.get('after');
  const from = after === null ? 0 : ordered.findIndex((item) => idOf(item) === after) + 1;
  const data = ordered.slice(from, from + limit);
  return {
    kind: 'json',
    status: 200,
    body: {
      object: 'list',
      data,
      first_id: idOf(data[0]),
      last_id: idOf(data.at(-1)),
      has_more: from + limit < ordered.length,
    },
  };
}
