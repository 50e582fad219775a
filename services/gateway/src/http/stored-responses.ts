import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import {
  type ProviderAdapter,
  type ProviderConfig,
  type ProviderKey,
  providerAdapter,
  storedProviderConfig,
} from '../providers/index.js';
import { SSE_ACCEPT } from '../providers/provider-support.js';
import {
  type ProviderEntry,
  type ProviderKeyEntry,
  policyKey,
  providerKeysOf,
  providersOf,
  type RegistryState,
} from '../registry/registry.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import {
  DEFAULT_UPSTREAM_TIMEOUTS,
  headerValue,
  isUpstreamError,
  parseBaseUrl,
  redactSecrets,
  type SseEvent,
  SseReader,
  type UpstreamBufferedResponse,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamStreamingResponse,
  upstreamTarget,
} from '../upstream/index.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import type { BodyHold } from './body-budget.js';
import { drained, errorFrame, streamHeaders, unreadableAnswer, write } from './exchange.js';
import { answerHeaders, GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  LimitRefusalError,
  usableProviderKey,
} from './generate.js';
import { decisionEvent, failureKind, storedResponseSession } from './key-choice.js';
import { modelMatches } from './route-model.js';

/*
 * The Responses API keeps every answer it makes (`store` defaults to true) in the project of
 * the key that made it; the official SDK reads and removes it with `responses.retrieve`,
 * `responses.delete` and `responses.inputItems.list`. These routes send such a call to a
 * provider key of the caller's org that speaks the Responses API: first the key Kordon saw
 * store the answer (the pin `previous_response_id` follow-ups use, key-choice.ts), else each
 * of the org's Responses keys the caller's model lists reach, in turn, until one does not
 * answer 404 (the pin is per process and bounded: gone after a restart or on another
 * replica). Never another org's key. Reading or deleting is not usage: no request event is
 * written (as for GET /v1/models), and no rate or budget applies; who may use the key from
 * where does.
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

/** One key that may hold the stored response, with what is needed to call its provider. */
interface KeyToAsk {
  readonly provider: ProviderEntry;
  readonly adapter: ProviderAdapter;
  readonly config: ProviderConfig;
  readonly key: ProviderKeyEntry;
  /** Kordon saw this key store the answer: its 404 is the answer, no other key is asked. */
  readonly pinned: boolean;
}

const PATH_PREFIX = '/v1/responses/';

/** OpenAI's ids are `resp_` and hex; any id of one path segment that needs no encoding goes on. */
const RESPONSE_ID = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * The query parameters of each call, as OpenAI's API reference documents them (Responses:
 * "Get a model response", "List input items"). Others are refused by name, not dropped: the
 * caller would believe they applied. A list comes as `include[]=...` (the SDK's brackets).
 */
const QUERY_PARAMETERS: Readonly<Record<StoredOperation, ReadonlySet<string>>> = {
  retrieve: new Set(['include', 'include_obfuscation', 'starting_after', 'stream']),
  input_items: new Set(['after', 'include', 'limit', 'order']),
  delete: new Set(),
};
const MAX_QUERY_PARAMETERS = 32;
const MAX_QUERY_VALUE_CHARS = 256;

/** A model name no request sends: `prepare` needs one to say where the provider's Responses API is. */
const WHERE_MODEL = 'stored-response';

/** Calls on `/v1/responses/...` the SDK offers that are not served: said by name, not "no route". */
const NOT_SERVED: Readonly<Record<string, string>> = {
  'POST /v1/responses/compact': 'responses.compact',
  'POST /v1/responses/input_tokens': 'responses.inputTokens.count',
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
    try {
      const url = req.url ?? '/';
      const path = url.split('?', 1)[0]!;
      const asked = operationOf(req.method ?? 'GET', path);
      const caller = authenticate(req, deps.registry(), deps.secrets.proxyKeyHasher, Date.now());
      if (asked.operation === 'cancel') throw cancelRefused();
      const request = storedRequest(asked.operation, asked.id, url);
      const access = deps.limits.modelAccess(accessSubjectOf(caller, req, deps.trustedProxies), Date.now());
      if (typeof access !== 'function') throw new LimitRefusalError(access);
      const keys = keysToAsk(deps, caller, access, request.id);
      await askInTurn(deps, keys, request, res, abort, requestId);
    } catch (error) {
      if (abort.aborted) return; // the caller left: no one to answer
      const answer = asGatewayError(error);
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
  if (operation === undefined || id === undefined) {
    const call = NOT_SERVED[`${method} ${path}`];
    throw new GatewayError(
      'not_found',
      call ? `${call} (${method} ${path}) is not served by this gateway` : `no route for ${method} ${path}`,
    );
  }
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
  if (!RESPONSE_ID.test(id))
    throw new GatewayError('invalid_request', `Invalid 'response_id': ${JSON.stringify(id.slice(0, 100))}`, {
      param: 'response_id',
    });
  const at = url.indexOf('?');
  const params = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
  const allowed = QUERY_PARAMETERS[operation];
  const query: Record<string, string[]> = {};
  let count = 0;
  for (const [name, value] of params) {
    const bare = name.endsWith('[]') ? name.slice(0, -2) : name;
    if (!allowed.has(bare))
      throw new GatewayError(
        'invalid_request',
        `Unknown parameter: '${name.slice(0, 100)}'${allowed.size > 0 ? ` (this call takes ${[...allowed].join(', ')})` : ''}`,
        { param: bare.slice(0, 100) },
      );
    if (++count > MAX_QUERY_PARAMETERS || value.length > MAX_QUERY_VALUE_CHARS)
      throw new GatewayError('invalid_request', `'${bare}': too many values, or one too long`, {
        param: bare,
      });
    const values = query[name];
    if (values) values.push(value);
    else query[name] = [value];
  }
  return { operation, id, query, stream: operation === 'retrieve' && params.get('stream') === 'true' };
}

/**
 * The keys to ask, in order: the one Kordon saw store the answer, then the others whose
 * providers speak the Responses API and whose models the caller's model lists reach, resting
 * ones last (a rest is about generating: reading or deleting may still go through). 404 when
 * the org has no such key, 403 when the caller's lists reach none of them.
 */
function keysToAsk(
  deps: GenerateDependencies,
  caller: Caller,
  allowed: (model: string) => boolean,
  id: string,
): KeyToAsk[] {
  const registry = deps.registry();
  const orgId = caller.key.orgId;
  const lists = policyModelLists(registry, caller);
  // The pin is looked up among this org's keys only: another org's key never matches.
  const pinnedKeyId = deps.keys.storedKey(storedResponseSession(id))?.providerKeyId;
  const now = Date.now();
  const ready: KeyToAsk[] = [];
  const resting: KeyToAsk[] = [];
  let responsesKeys = 0;
  let callersKeys = 0;
  for (const provider of providersOf(registry, orgId)) {
    const adapter = providerAdapter(provider.type);
    const config = storedProviderConfig(provider.baseUrl, provider.options);
    if (!adapter.supports('responses', config)) continue;
    for (const key of providerKeysOf(registry, orgId, provider.name)) {
      responsesKeys++;
      if (!servesAllowedModel(provider, key, lists, allowed)) continue;
      callersKeys++;
      if (key.disabled) continue;
      const pinned = key.providerKeyId === pinnedKeyId;
      const entry: KeyToAsk = { provider, adapter, config, key, pinned };
      if (pinned) ready.unshift(entry);
      else (key.cooledDownUntil > now ? resting : ready).push(entry);
    }
  }
  if (responsesKeys === 0)
    throw new GatewayError(
      'not_found',
      `Response with id '${id}' not found: no provider of this organization serves the Responses API`,
    );
  if (callersKeys === 0)
    throw new GatewayError(
      'forbidden',
      'this API key may not use any model of the providers that serve the Responses API, so it cannot reach their stored responses',
    );
  const keys = [...ready, ...resting];
  if (keys.length === 0)
    throw new GatewayError(
      'overloaded',
      'no provider key can reach stored responses right now: the keys of the Responses API providers are disabled',
      { noRetry: true },
    );
  return keys;
}

/** The model lists of the caller's policies (its key, user, team and org), as admission reads them. */
function policyModelLists(registry: RegistryState, caller: Caller): (readonly string[])[] {
  const { key, user } = caller;
  const scopes: [string, string | null][] = [
    ['proxy-key', key.proxyKeyId],
    ['user', user.userId],
    ['team', key.teamId],
    ['org', key.orgId],
  ];
  const lists: (readonly string[])[] = [];
  for (const [scope, scopeId] of scopes) {
    if (scopeId === null) continue;
    const models = registry.policies.get(policyKey(key.orgId, scope, scopeId))?.limits.models;
    if (models) lists.push(models);
  }
  return lists;
}

/**
 * Whether the caller may use some model the key serves: the provider's models, the key's own
 * list, and every model list of the caller's policies share a name (`allowed` tests one against
 * them all). Each list is exact names and prefixes (`gpt-4.1*`), so they share one exactly when
 * one of their exact names, or their longest prefix taken as a name, is in all of them.
 */
function servesAllowedModel(
  provider: ProviderEntry,
  key: ProviderKeyEntry,
  lists: readonly (readonly string[])[],
  allowed: (model: string) => boolean,
): boolean {
  const keyModels = key.models;
  for (const list of [provider.models, keyModels ?? [], ...lists]) {
    for (const entry of list) {
      const name = entry.endsWith('*') ? entry.slice(0, -1) : entry;
      if (
        modelMatches(provider.models, name) &&
        (keyModels === null || modelMatches(keyModels, name)) &&
        allowed(name)
      )
        return true;
    }
  }
  return false;
}

/**
 * Asks each key in turn. A 404 (or a server without the route, 405) moves on: the response is
 * in another project; the pinned key's 404 is the answer. A refusal of the request itself (a
 * bad `include`) is the caller's answer. A key's failure (refused, unreachable, timed out,
 * overloaded) moves on too, and is the answer if no key has the response: that key might.
 */
async function askInTurn(
  deps: GenerateDependencies,
  keys: readonly KeyToAsk[],
  request: StoredRequest,
  res: ServerResponse,
  signal: ConnectionSignal,
  requestId: string,
): Promise<void> {
  let notFound: UpstreamError | undefined;
  let failure: UpstreamError | undefined;
  // The answers read count against the process's memory budget, as generated ones do.
  const hold = deps.bodyBudget.holdFor(res);
  for (const candidate of keys) {
    const providerKey = usableProviderKey(deps, candidate.key);
    if (!providerKey) continue; // a record this process cannot decrypt: the next key serves
    try {
      await answerFrom(deps, candidate, providerKey, request, res, signal, hold, requestId);
      remember(deps, candidate, request);
      return;
    } catch (error) {
      if (!isUpstreamError(error) || res.headersSent) throw error;
      const kind = failureKind(error, signal.aborted);
      if (kind === 'caller_cancelled') throw error;
      if (error.status === 404 || error.status === 405) {
        notFound = error;
        if (candidate.pinned) break;
        continue;
      }
      if (kind === 'not_the_key') throw error;
      noteKeyFailure(deps, candidate.key, error, kind);
      failure = error;
    }
  }
  if (failure) throw failure;
  if (notFound?.status === 404) throw notFound;
  if (notFound) throw new GatewayError('not_found', `Response with id '${request.id}' not found.`);
  throw new GatewayError('overloaded', 'no provider key can reach stored responses right now', {
    noRetry: true,
  });
}

/**
 * As for counting tokens, only what is true of the key for every call is reported: refused, or
 * its provider unreachable. A 429 or a slow answer here says nothing of the key's generating.
 */
function noteKeyFailure(
  deps: GenerateDependencies,
  key: ProviderKeyEntry,
  error: UpstreamError,
  kind: ReturnType<typeof failureKind>,
): void {
  if (kind !== 'auth_refused' && kind !== 'connection_failed') return;
  const decision = deps.keys.balancer.reportFailure(key.providerKeyId, {
    now: Date.now(),
    kind,
    retryAfterMs: error.retryAfterMs,
  });
  // Every replica learns of a disabled or resting key, as for a generating call.
  const event = decisionEvent(decision, key, error);
  if (event) deps.appender.enqueue(event);
  if (kind === 'auth_refused')
    deps.logger.error(
      { providerKeyId: key.providerKeyId, status: error.status },
      'provider refused a provider key',
    );
}

/**
 * A deleted response's pin is forgotten; one found by asking in turn (after a restart, on
 * another replica) is pinned, so that its follow-ups and later reads go straight to its key.
 */
function remember(deps: GenerateDependencies, candidate: KeyToAsk, request: StoredRequest): void {
  const session = storedResponseSession(request.id);
  if (request.operation === 'delete') deps.keys.unpin(session);
  else if (!candidate.pinned && deps.keys.storedKey(session) === undefined)
    deps.keys.pin(candidate, session, candidate.key.providerKeyId);
}

async function answerFrom(
  deps: GenerateDependencies,
  candidate: KeyToAsk,
  providerKey: ProviderKey,
  request: StoredRequest,
  res: ServerResponse,
  signal: ConnectionSignal,
  hold: BodyHold,
  requestId: string,
): Promise<void> {
  const { adapter, config, provider } = candidate;
  const timeouts = provider.options.timeouts;
  const where = storedTarget(adapter, config, request);
  const auth = await adapter.authHeaders({ config, key: providerKey, client: deps.client, signal, timeouts });
  const call: UpstreamRequest = {
    target: where.target,
    method: request.operation === 'delete' ? 'DELETE' : 'GET',
    headers: { ...where.headers, ...auth.headers },
    signal,
    timeouts,
    secrets: auth.secrets,
    tls: where.tls,
    mapError: adapter.mapError,
    rateLimits: adapter.rateLimits,
  };
  if (request.stream) {
    await relayEvents(await deps.client.stream(call), res, requestId, provider);
    return;
  }
  const answer = await deps.client.request({ ...call, onBodyBytes: hold.count });
  const text = answerText(answer, request, auth.secrets);
  res.writeHead(answer.status, {
    ...answerHeaders('openai', requestId, 'application/json'),
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Where the stored response is: under the URL the adapter sends a new response to (OpenAI
 * `{base}/responses`; Azure `/openai/responses?api-version=...`, or `/openai/v1/responses`),
 * `/{id}` and the sub-resource; the configured query (Azure's api-version) kept, the caller's
 * parameters added (the id and the parameters were checked: they cannot leave their places).
 */
function storedTarget(adapter: ProviderAdapter, config: ProviderConfig, request: StoredRequest) {
  const responses = adapter.prepare(
    { operation: 'responses', model: WHERE_MODEL, stream: false, body: {} },
    config,
  );
  const [path, search = ''] = responses.target.path.split('?', 2) as [string, string?];
  const configured = Object.fromEntries(new URLSearchParams(search));
  const sub = request.operation === 'input_items' ? '/input_items' : '';
  const target = upstreamTarget(parseBaseUrl(`${responses.target.origin}${path}`), `/${request.id}${sub}`, {
    ...request.query,
    ...configured,
  });
  // The content headers of a call with no body, asking for what the caller asked.
  const headers: Record<string, string> = {
    ...responses.headers,
    accept: request.stream ? SSE_ACCEPT : 'application/json',
  };
  delete headers['content-type'];
  return { target, headers, tls: responses.tls };
}

/**
 * The provider's answer as it came, once it is seen to be one: a JSON object that is not an
 * error object sent with a success status (another key is asked then). A stored response that
 * failed carries `error` beside `object: "response"`: it is an answer. A delete may come empty.
 */
function answerText(
  answer: UpstreamBufferedResponse,
  request: StoredRequest,
  secrets: readonly string[],
): string {
  if (request.operation === 'delete' && answer.text.trim() === '' && answer.status < 300) return '';
  const json = answer.json();
  const redact = (text: string) => redactSecrets(text, secrets);
  if (answer.status >= 300 || typeof json !== 'object' || json === null || Array.isArray(json))
    throw unreadableAnswer(json, redact, 'not a JSON object');
  if ((json as { error?: unknown }).error && !('object' in json))
    throw unreadableAnswer(json, redact, 'an error object');
  return answer.text;
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
  try {
    for await (const event of reader) {
      if (!write(res, sseText(event))) await drained(res, stallMs);
      if (res.destroyed) {
        upstream.cancel();
        return;
      }
    }
    if (reader.end === 'partial_frame')
      write(res, errorFrame('openai', 'the provider stream ended mid-event'));
  } catch (error) {
    const why = isUpstreamError(error) ? error.message : 'the provider stream failed';
    write(res, errorFrame('openai', why));
  }
  res.end();
}

function sseText(event: SseEvent): string {
  let text = event.event === undefined ? '' : `event: ${event.event}\n`;
  if (event.id !== undefined) text += `id: ${event.id}\n`;
  for (const line of event.data.split('\n')) text += `data: ${line}\n`;
  return `${text}\n`;
}
