import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import { GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  LimitRefusalError,
  recordCallRefusal,
} from './generate.js';
import { readJsonBody } from './read-body.js';
import {
  askInTurn,
  checkedId,
  checkedQuery,
  keysToAsk,
  relayAnswer,
  type StoredKind,
  storedCall,
  storedTarget,
} from './stored-answers.js';

/*
 * A chat completion made with `store: true` (passed to the provider as sent) is kept in the
 * project of the key that made it; the official SDK reads, updates and deletes it with
 * `chat.completions.retrieve`, `.update`, `.delete` and `.messages.list`, and lists them with
 * `chat.completions.list` (OpenAI API reference, Chat Completions: "Get chat completion",
 * "Update chat completion", "Delete chat completion", "Get chat messages", "List Chat
 * Completions"; Azure OpenAI "stored completions", the same paths under `/openai`). Such a
 * call goes to each key of the caller's org whose OpenAI or Azure OpenAI provider the
 * caller's model lists reach, in turn, until one does not answer 404 (stored-answers.ts). No
 * key is pinned: Kordon does not note which key stored a chat completion.
 */

const COLLECTION_PATH = '/v1/chat/completions';

/** The calls on stored chat completions that are passed to the provider. */
type StoredOperation = 'list' | 'retrieve' | 'update' | 'delete' | 'messages';

/** The keys that may hold a stored chat completion: OpenAI's and Azure OpenAI's keep them. */
const STORED_CHAT_COMPLETIONS: StoredKind = {
  notFound: (id) => `Chat completion with id '${id}' not found`,
  served: 'Chat Completions with `store` (OpenAI, Azure OpenAI)',
  reached: 'stored chat completions',
  keeps: (provider) => provider.type === 'openai' || provider.type === 'azure-openai',
};

/** Listing names no id: "not found" is said of the list. */
const LISTED_CHAT_COMPLETIONS: StoredKind = {
  ...STORED_CHAT_COMPLETIONS,
  notFound: () => 'No stored chat completions can be listed',
};

/**
 * The query parameters of each call, as OpenAI's API reference documents them. `metadata`
 * filters the list as `metadata[key]=value` (the SDK's form). Update takes only `metadata`,
 * in its body.
 */
const QUERY_PARAMETERS: Readonly<Record<StoredOperation, ReadonlySet<string>>> = {
  list: new Set(['after', 'limit', 'metadata', 'model', 'order']),
  messages: new Set(['after', 'limit', 'order']),
  retrieve: new Set(),
  update: new Set(),
  delete: new Set(),
};

/**
 * `GET /v1/chat/completions` (list: `model`, `metadata[key]`, `after`, `limit`, `order`),
 * `GET` / `POST` (update: `{ metadata }` only) / `DELETE /v1/chat/completions/{id}`, `GET
 * /v1/chat/completions/{id}/messages` (`after`, `limit`, `order`): the provider's answer as it
 * is; its errors in the OpenAI dialect, 404 when no key has the completion.
 *
 * Listing is answered only when the caller's model lists reach exactly one provider key: each
 * key lists its own project's completions, and pages of several cannot be made one (each
 * project's `after` cursor and order are its own, `has_more` would lie), so with several the
 * caller gets a 400 saying so rather than a list that silently misses completions.
 */
export function storedChatCompletionsHandler(deps: GenerateDependencies) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newEventId();
    const abort = new ConnectionSignal();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    let caller: Caller | undefined;
    try {
      const url = req.url ?? '/';
      // HEAD is the GET without its body (the front routes it here, Node drops the body).
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
      const { operation, id } = operationOf(method, url.split('?', 1)[0]!);
      caller = authenticate(req, deps.registry(), deps.secrets.proxyKeyHasher, Date.now());
      if (id !== undefined) checkedId(id, 'completion_id');
      const query = checkedQuery(url, QUERY_PARAMETERS[operation]);
      const body =
        operation === 'update'
          ? updateBody(
              await readJsonBody(
                req,
                deps.maxBodyBytes,
                deps.bodyBudget.holdFor(res),
                deps.bodyIdleTimeoutMs,
              ),
            )
          : undefined;
      const access = deps.limits.modelAccess(accessSubjectOf(caller, req, deps.trustedProxies), Date.now());
      if (typeof access !== 'function') throw new LimitRefusalError(access);
      const kind = id === undefined ? LISTED_CHAT_COMPLETIONS : STORED_CHAT_COMPLETIONS;
      const { keys, reached } = keysToAsk(deps, caller, access, kind, id ?? '');
      if (operation === 'list' && reached > 1) throw listRefused(reached);
      const path = id === undefined ? '' : `/${id}${operation === 'messages' ? '/messages' : ''}`;
      await askInTurn(deps, keys, kind, id ?? '', res, abort, async (candidate, providerKey, hold) => {
        const where = storedTarget(
          candidate.adapter,
          candidate.config,
          'chat/completions',
          path,
          query,
          'application/json',
          body !== undefined,
        );
        const upstreamMethod = operation === 'update' ? 'POST' : operation === 'delete' ? 'DELETE' : 'GET';
        const call = await storedCall(deps, candidate, providerKey, where, upstreamMethod, abort, body);
        await relayAnswer(deps, call, res, hold, requestId);
      });
    } catch (error) {
      const unrecordable = recordCallRefusal(deps, error, {
        requestId,
        endpoint: 'chat.completions.stored',
        req,
        caller,
      });
      if (abort.aborted) return; // the caller left: no one to answer
      const answer = unrecordable ?? asGatewayError(error);
      if (answer.kind === 'internal')
        deps.logger.error({ err: error, requestId }, 'stored chat completion request failed');
      sendError(res, answer, 'openai', requestId);
    }
  };
}

function operationOf(method: string, path: string): { operation: StoredOperation; id?: string } {
  if (path === COLLECTION_PATH && method === 'GET') return { operation: 'list' };
  const [id, sub, ...rest] = path.slice(COLLECTION_PATH.length + 1).split('/');
  let operation: StoredOperation | undefined;
  if (id && rest.length === 0 && path.startsWith(`${COLLECTION_PATH}/`)) {
    if (sub === undefined)
      operation =
        method === 'GET'
          ? 'retrieve'
          : method === 'POST'
            ? 'update'
            : method === 'DELETE'
              ? 'delete'
              : undefined;
    else if (sub === 'messages' && method === 'GET') operation = 'messages';
  }
  if (operation === undefined) throw new GatewayError('not_found', `no route for ${method} ${path}`);
  return { operation, id };
}

/**
 * The update's body as sent on: OpenAI updates only `metadata` (a map of strings, or null to
 * clear it); any other field is refused by name, as it would not apply.
 */
function updateBody(body: Record<string, unknown>): string {
  for (const field of Object.keys(body))
    if (field !== 'metadata')
      throw new GatewayError(
        'invalid_request',
        `Unknown parameter: '${field.slice(0, 100)}' (a stored chat completion's update takes only metadata)`,
        { param: field.slice(0, 100) },
      );
  const { metadata } = body;
  if (metadata === undefined)
    throw new GatewayError('invalid_request', "Missing required parameter: 'metadata'.", {
      param: 'metadata',
    });
  const isMap =
    metadata === null ||
    (typeof metadata === 'object' &&
      !Array.isArray(metadata) &&
      Object.values(metadata).every((value) => typeof value === 'string'));
  if (!isMap)
    throw new GatewayError(
      'invalid_request',
      "Invalid 'metadata': expected an object of string values, or null.",
      { param: 'metadata' },
    );
  return JSON.stringify({ metadata });
}

function listRefused(reached: number): GatewayError {
  return new GatewayError(
    'invalid_request',
    `stored chat completions cannot be listed through this gateway for this API key: it reaches ${reached} provider keys, each listing only its own project's completions, and their pages cannot be merged into one (each key's \`after\` cursor and order are its own). Retrieve a completion by its id, or list with an API key whose model lists reach a single OpenAI or Azure OpenAI key`,
  );
}
