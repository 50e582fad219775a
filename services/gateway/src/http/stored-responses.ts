import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import { SSE_ACCEPT } from '../providers/provider-support.js';
import type { ProviderEntry } from '../registry/registry.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import {
  DEFAULT_UPSTREAM_TIMEOUTS,
  headerValue,
  isUpstreamError,
  type SseEvent,
  SseReader,
  UpstreamError,
  type UpstreamStreamingResponse,
} from '../upstream/index.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import { drained, responsesErrorFrame, sequenceAfter, streamHeaders, write } from './exchange.js';
import { GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  LimitRefusalError,
  recordCallRefusal,
} from './generate.js';
import { storedResponseSession } from './key-choice.js';
import {
  askInTurn,
  checkedId,
  checkedQuery,
  type KeyToAsk,
  keysToAsk,
  relayAnswer,
  type StoredKind,
  storedCall,
  storedTarget,
} from './stored-answers.js';

/*
 * The Responses API keeps every answer it makes (`store` defaults to true) in the project of
 * the key that made it; the official SDK reads and removes it with `responses.retrieve`,
 * `responses.delete` and `responses.inputItems.list`. These routes send such a call to a
 * provider key of the caller's org that speaks the Responses API: first the key Kordon saw
 * store the answer (the pin `previous_response_id` follow-ups use, key-choice.ts), else each
 * of the org's Responses keys the caller's model lists reach, in turn, until one does not
 * answer 404 (the pin is per process and bounded: gone after a restart or on another
 * replica). What is shared with stored chat completions is in stored-answers.ts.
 */

/** The calls on a stored response that are passed to its provider. */
type StoredOperation = 'retrieve' | 'delete' | 'input_items';

interface StoredRequest {
  readonly operation: StoredOperation;
  readonly id: string;
  /** The caller's query parameters by the name sent (`include[]`, repeated), each documented for the call. */
  readonly query: Readonly<Record<string, readonly string[]>>;
  /** `GET /v1/responses/{id}?stream=true`: a background response's events, replayed. */
  readonly stream: boolean;
}

const PATH_PREFIX = '/v1/responses/';

/** The keys that may hold a stored response: those of providers speaking the Responses API. */
const STORED_RESPONSES: StoredKind = {
  notFound: (id) => `Response with id '${id}' not found`,
  served: 'the Responses API',
  reached: 'stored responses',
  keeps: (_provider, adapter, config) => adapter.supports('responses', config),
};

/**
 * The query parameters of each call, as OpenAI's API reference documents them (Responses:
 * "Get a model response", "List input items"). A list comes as `include[]=...` (the SDK's brackets).
 */
const QUERY_PARAMETERS: Readonly<Record<StoredOperation, ReadonlySet<string>>> = {
  retrieve: new Set(['include', 'include_obfuscation', 'starting_after', 'stream']),
  input_items: new Set(['after', 'include', 'limit', 'order']),
  delete: new Set(),
};

/**
 * `GET /v1/responses/{id}` (`include`, `include_obfuscation`, `starting_after`, `stream`),
 * `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` (`after`, `limit`,
 * `order`, `include`): the provider's answer as it is; its errors in the OpenAI dialect, 404
 * when no key has the response. `POST /v1/responses/{id}/cancel` is refused: only background
 * responses can be cancelled, and `background` is refused when a response is made.
 */
export function storedResponsesHandler(deps: GenerateDependencies) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newEventId();
    const abort = new ConnectionSignal();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    let caller: Caller | undefined;
    try {
      const url = req.url ?? '/';
      const path = url.split('?', 1)[0]!;
      // HEAD is the GET without its body (the front routes it here, Node drops the body).
      const asked = operationOf(req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'), path);
      caller = authenticate(req, deps.registry(), deps.secrets.proxyKeyHasher, Date.now());
      if (asked.operation === 'cancel') throw cancelRefused();
      const request = storedRequest(asked.operation, asked.id, url);
      const access = deps.limits.modelAccess(accessSubjectOf(caller, req, deps.trustedProxies), Date.now());
      if (typeof access !== 'function') throw new LimitRefusalError(access);
      // The pin is looked up among this org's keys only: another org's key never matches.
      const pinnedKeyId = deps.keys.storedKey(
        storedResponseSession(caller.key.orgId, request.id),
      )?.providerKeyId;
      const { keys } = keysToAsk(deps, caller, access, STORED_RESPONSES, request.id, pinnedKeyId);
      const answered = await askInTurn(
        deps,
        keys,
        STORED_RESPONSES,
        request.id,
        res,
        abort,
        async (candidate, providerKey, hold) => {
          const where = storedTarget(
            candidate.adapter,
            candidate.config,
            'responses',
            `/${request.id}${request.operation === 'input_items' ? '/input_items' : ''}`,
            request.query,
            request.stream ? SSE_ACCEPT : 'application/json',
          );
          const method = request.operation === 'delete' ? 'DELETE' : 'GET';
          const call = await storedCall(deps, candidate, providerKey, where, method, abort);
          if (request.stream)
            await relayEvents(await deps.client.stream(call), res, requestId, candidate.provider);
          else await relayAnswer(deps, call, res, hold, requestId);
        },
      );
      remember(deps, answered, request, caller.key.orgId);
    } catch (error) {
      const unrecordable = recordCallRefusal(deps, error, {
        requestId,
        endpoint: 'responses.stored',
        req,
        caller,
      });
      if (abort.aborted) return; // the caller left: no one to answer
      const answer = unrecordable ?? asGatewayError(error);
      if (answer.kind === 'internal')
        deps.logger.error({ err: error, requestId }, 'stored response request failed');
      sendError(res, answer, 'openai', requestId);
    }
  };
}

function operationOf(method: string, path: string): { operation: StoredOperation | 'cancel'; id: string } {
  const [id, sub, ...rest] = path.slice(PATH_PREFIX.length).split('/');
  let operation: StoredOperation | 'cancel' | undefined;
  if (id && rest.length === 0) {
    if (sub === undefined)
      operation = method === 'GET' ? 'retrieve' : method === 'DELETE' ? 'delete' : undefined;
    else if (sub === 'input_items' && method === 'GET') operation = 'input_items';
    else if (sub === 'cancel' && method === 'POST') operation = 'cancel';
  }
  if (operation === undefined || id === undefined)
    throw new GatewayError('not_found', `no route for ${method} ${path}`);
  return { operation, id };
}

/**
 * OpenAI cancels only a response made with `background: true` (400 otherwise), and this
 * gateway refuses those: a response made through it has finished before its call answered.
 */
function cancelRefused(): GatewayError {
  return new GatewayError(
    'invalid_request',
    'only a background response can be cancelled, and this gateway does not make them (`background` is refused): a response made through it has finished when its call answers',
  );
}

function storedRequest(operation: StoredOperation, id: string, url: string): StoredRequest {
  checkedId(id, 'response_id');
  const query = checkedQuery(url, QUERY_PARAMETERS[operation]);
  return { operation, id, query, stream: operation === 'retrieve' && query.stream?.[0] === 'true' };
}

/**
 * A deleted response's pin is forgotten; one found by asking in turn (after a restart, on
 * another replica) is pinned, so that its follow-ups and later reads go straight to its key.
 */
function remember(
  deps: GenerateDependencies,
  candidate: KeyToAsk,
  request: StoredRequest,
  orgId: string,
): void {
  const session = storedResponseSession(orgId, request.id);
  if (request.operation === 'delete') deps.keys.unpin(session);
  else if (!candidate.pinned && deps.keys.storedKey(session) === undefined)
    deps.keys.pin(candidate, session, candidate.key.providerKeyId);
}

/** Content types a server sends instead of a stream (as provider-call.ts refuses them). */
const NOT_A_STREAM = /^\s*(?:application\/(?:[\w.+-]*\+)?json|text\/html)\b/i;

/**
 * A background response's events, frame by frame as the provider sent them, at the pace the
 * caller reads. A stream cut before its end ends with the error event the SDK raises: a replay
 * cut short must not pass for the whole.
 */
async function relayEvents(
  upstream: UpstreamStreamingResponse,
  res: ServerResponse,
  requestId: string,
  provider: ProviderEntry,
): Promise<void> {
  const type = headerValue(upstream.headers, 'content-type');
  if (type !== undefined && NOT_A_STREAM.test(type)) {
    upstream.cancel();
    throw new UpstreamError(
      'upstream_invalid_response',
      `the provider answered a stream request with ${type.split(';', 1)[0]!.trim()}, not a stream`,
      { phase: 'body', status: upstream.status },
    );
  }
  res.writeHead(200, streamHeaders('openai', requestId));
  // As for a generated stream: a caller that takes nothing for a whole call's time is gone.
  const stallMs = provider.options.timeouts?.totalMs ?? DEFAULT_UPSTREAM_TIMEOUTS.totalMs;
  const reader = new SseReader(upstream.body);
  /** The `sequence_number` of an error event of Kordon's after those relayed. */
  let nextSequence = 0;
  try {
    for await (const event of reader) {
      nextSequence = sequenceAfter(parsedOrNull(event.data), nextSequence);
      if (!write(res, sseText(event))) await drained(res, stallMs);
      if (res.destroyed) {
        upstream.cancel();
        return;
      }
    }
    if (reader.end === 'partial_frame')
      write(res, responsesErrorFrame('the provider stream ended mid-event', nextSequence));
  } catch (error) {
    const why = isUpstreamError(error) ? error.message : 'the provider stream failed';
    write(res, responsesErrorFrame(why, nextSequence));
  }
  res.end();
}

/** A relayed event's data as JSON; null when it is not (its number is then the one before's plus one). */
function parsedOrNull(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

function sseText(event: SseEvent): string {
  let text = event.event === undefined ? '' : `event: ${event.event}\n`;
  if (event.id !== undefined) text += `id: ${event.id}\n`;
  for (const line of event.data.split('\n')) text += `data: ${line}\n`;
  return `${text}\n`;
}
