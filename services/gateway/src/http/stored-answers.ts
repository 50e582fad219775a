import type { ServerResponse } from 'node:http';
import {
  type ProviderAdapter,
  type ProviderConfig,
  type ProviderKey,
  providerAdapter,
  storedProviderConfig,
} from '../providers/index.js';
import {
  type ProviderEntry,
  type ProviderKeyEntry,
  policyKey,
  providerKeysOf,
  providersOf,
  type RegistryState,
} from '../registry/registry.js';
import type { ConnectionSignal } from '../upstream/caller-signal.js';
import {
  DEFAULT_UPSTREAM_TIMEOUTS,
  isUpstreamError,
  parseBaseUrl,
  redactSecrets,
  type UpstreamBufferedResponse,
  type UpstreamError,
  type UpstreamRequest,
  type UpstreamTarget,
  type UpstreamTls,
  upstreamTarget,
} from '../upstream/index.js';
import type { Caller } from './authenticate.js';
import type { BodyHold } from './body-budget.js';
import { endAnswer, unreadableAnswer } from './exchange.js';
import { answerHeaders, GatewayError } from './gateway-error.js';
import {
  type GenerateDependencies,
  ModelListsRefusalError,
  secretReplacedSince,
  usableProviderKey,
} from './generate.js';
import { decisionEvent, failureKind } from './key-choice.js';
import { modelMatches } from './route-model.js';

/*
 * What the routes of stored answers share (stored-responses.ts, the Responses API's;
 * stored-chat-completions.ts, Chat Completions made with `store: true`): the provider keeps
 * the answer in the project of the key that made it, so a call on it is sent to the keys of
 * the caller's org that may hold it, in turn, until one does not answer 404. Never another
 * org's key. Reading, updating or deleting is not usage: no request event is written (as for
 * GET /v1/models), and no rate or budget applies; who may use the key from where does.
 */

/** Which stored answers a route reaches, and how its messages name them. */
export interface StoredKind {
  /** The provider's "not found" for the id, without its final period: "Response with id 'resp_1' not found". */
  readonly notFound: (id: string) => string;
  /** What the keys' providers serve, for messages: "the Responses API". */
  readonly served: string;
  /** What is reached through them, for messages: "stored responses". */
  readonly reached: string;
  /** Whether the provider keeps such answers. */
  readonly keeps: (provider: ProviderEntry, adapter: ProviderAdapter, config: ProviderConfig) => boolean;
}

/** One key that may hold the stored answer, with what is needed to call its provider. */
export interface KeyToAsk {
  readonly provider: ProviderEntry;
  readonly adapter: ProviderAdapter;
  readonly config: ProviderConfig;
  readonly key: ProviderKeyEntry;
  /** Kordon saw this key store the answer: its 404 is the answer, no other key is asked. */
  readonly pinned: boolean;
}

/** The keys to ask, and how many keys of the org the caller reaches at all (disabled ones too). */
export interface KeysToAsk {
  readonly keys: KeyToAsk[];
  readonly reached: number;
}

/** OpenAI's ids are a prefix and hex; any id of one path segment that needs no encoding goes on. */
const STORED_ID = /^[A-Za-z0-9_-]{1,200}$/;

const MAX_QUERY_PARAMETERS = 32;
const MAX_QUERY_VALUE_CHARS = 256;

/** The id of the path, refused by the caller's name for it when it could leave its place in a URL. */
export function checkedId(id: string, param: string): string {
  if (!STORED_ID.test(id))
    throw new GatewayError('invalid_request', `Invalid '${param}': ${JSON.stringify(id.slice(0, 100))}`, {
      param,
    });
  return id;
}

/**
 * The caller's query parameters by the name sent, each documented for the call (`allowed`,
 * by its bare name: `include[]=...` is `include`, `metadata[app]=...` is `metadata`). Others
 * are refused by name, not dropped: the caller would believe they applied.
 */
export function checkedQuery(url: string, allowed: ReadonlySet<string>): Record<string, string[]> {
  const at = url.indexOf('?');
  const params = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
  const query: Record<string, string[]> = {};
  let count = 0;
  for (const [name, value] of params) {
    const bare = name.replace(/\[[^\]]*\]$/, '');
    if (!allowed.has(bare))
      throw new GatewayError(
        'invalid_request',
        `Unknown parameter: '${name.slice(0, 100)}'${allowed.size > 0 ? ` (this call takes ${[...allowed].join(', ')})` : ''}`,
        { param: bare.slice(0, 100) },
      );
    if (++count > MAX_QUERY_PARAMETERS || value.length > MAX_QUERY_VALUE_CHARS || name.length > 100)
      throw new GatewayError('invalid_request', `'${bare.slice(0, 100)}': too many values, or one too long`, {
        param: bare.slice(0, 100),
      });
    const values = query[name];
    if (values) values.push(value);
    else query[name] = [value];
  }
  return query;
}

/**
 * The keys to ask, in order: the one Kordon saw store the answer (`pinnedKeyId`), then the
 * others whose providers keep such answers and whose models the caller's model lists reach,
 * resting ones last (a rest is about generating: reading or deleting may still go through).
 * 404 when the org has no such key, 403 when the caller's lists reach none of them.
 */
export function keysToAsk(
  deps: GenerateDependencies,
  caller: Caller,
  allowed: (model: string) => boolean,
  kind: StoredKind,
  id: string,
  pinnedKeyId?: string,
): KeysToAsk {
  const registry = deps.registry();
  const orgId = caller.key.orgId;
  const lists = policyModelLists(registry, caller);
  const now = Date.now();
  const ready: KeyToAsk[] = [];
  const resting: KeyToAsk[] = [];
  let keepingKeys = 0;
  let reached = 0;
  for (const provider of providersOf(registry, orgId)) {
    const adapter = providerAdapter(provider.type);
    const config = storedProviderConfig(provider.baseUrl, provider.options);
    if (!kind.keeps(provider, adapter, config)) continue;
    for (const key of providerKeysOf(registry, orgId, provider.name)) {
      keepingKeys++;
      if (!servesAllowedModel(provider, key, lists, allowed)) continue;
      reached++;
      if (key.disabled) continue;
      const pinned = key.providerKeyId === pinnedKeyId;
      const entry: KeyToAsk = { provider, adapter, config, key, pinned };
      if (pinned) ready.unshift(entry);
      else (key.cooledDownUntil > now ? resting : ready).push(entry);
    }
  }
  if (keepingKeys === 0)
    throw new GatewayError(
      'not_found',
      `${kind.notFound(id)}: no provider of this organization serves ${kind.served}`,
    );
  if (reached === 0)
    throw new ModelListsRefusalError(
      `this API key may not use any model of the providers that serve ${kind.served}, so it cannot reach their ${kind.reached}`,
    );
  const keys = [...ready, ...resting];
  if (keys.length === 0)
    throw new GatewayError(
      'overloaded',
      `no provider key can reach ${kind.reached} right now: the keys of the providers that serve ${kind.served} are disabled`,
      { noRetry: true },
    );
  return { keys, reached };
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
 * Asks each key in turn (`answer` sends the call to one and writes its answer); the key that
 * answered is returned. A 404 (or a server without the route, 405) moves on: the answer is in
 * another project; the pinned key's 404 is the answer. A refusal of the request itself (a bad
 * parameter) is the caller's answer. A key's failure (refused, unreachable, timed out,
 * overloaded, without the call's scope) moves on too, and is the answer if no key has the
 * stored answer: that key might.
 */
export async function askInTurn(
  deps: GenerateDependencies,
  keys: readonly KeyToAsk[],
  kind: StoredKind,
  id: string,
  res: ServerResponse,
  signal: ConnectionSignal,
  answer: (candidate: KeyToAsk, providerKey: ProviderKey, hold: BodyHold) => Promise<void>,
): Promise<KeyToAsk> {
  let notFound: UpstreamError | undefined;
  let failure: UpstreamError | undefined;
  // The answers read count against the process's memory budget, as generated ones do.
  const hold = deps.bodyBudget.holdFor(res);
  for (const candidate of keys) {
    const providerKey = usableProviderKey(deps, candidate.key);
    if (!providerKey) continue; // a record this process cannot decrypt: the next key serves
    try {
      await answer(candidate, providerKey, hold);
      return candidate;
    } catch (error) {
      if (!isUpstreamError(error) || res.headersSent) throw error;
      const kindOfFailure = failureKind(error, signal.aborted);
      if (kindOfFailure === 'caller_cancelled') throw error;
      if (error.status === 404 || error.status === 405) {
        notFound = error;
        if (candidate.pinned) break;
        continue;
      }
      // A restricted key without this call's scope (OpenAI's 401 "Missing scopes:
      // api.responses.read") says nothing of where the answer is: another key may hold it.
      if (error.provider?.scopeMissing) {
        // The caller's error says an admin has been told: as for a generating call, they are.
        deps.logger.error(
          { providerKeyId: candidate.key.providerKeyId, status: error.status, endpoint: kind.reached },
          'a provider key lacks the scope of an endpoint',
        );
        failure = error;
        continue;
      }
      if (kindOfFailure === 'not_the_key') throw error;
      noteKeyFailure(deps, candidate.key, error, kindOfFailure);
      failure = error;
    }
  }
  if (failure) throw failure;
  if (notFound?.status === 404) throw notFound;
  if (notFound) throw new GatewayError('not_found', `${kind.notFound(id)}.`);
  throw new GatewayError('overloaded', `no provider key can reach ${kind.reached} right now`, {
    noRetry: true,
  });
}

/**
 * For a call that is not one of the key's requests (a stored answer, a token count), only what
 * is true of the key for every call is reported: refused, or its provider unreachable. A 429 or
 * a slow answer here says nothing of the key's generating. A refusal of a secret the admin
 * replaced while the call was out (`secretAtCall`, when known) is not the key's.
 */
export function noteKeyFailure(
  deps: GenerateDependencies,
  key: ProviderKeyEntry,
  error: UpstreamError,
  kind: ReturnType<typeof failureKind>,
  secretAtCall?: number,
): void {
  if (kind !== 'auth_refused' && kind !== 'connection_failed') return;
  if (
    kind === 'auth_refused' &&
    secretAtCall !== undefined &&
    secretReplacedSince(deps, key.providerKeyId, secretAtCall)
  )
    return;
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

/** A model name no request sends: `prepare` needs one to say where the provider's Responses API is. */
const WHERE_MODEL = 'stored-answer';

/** Where a stored answer is, and the headers of a call to it. */
export interface StoredTarget {
  readonly target: UpstreamTarget;
  readonly headers: Record<string, string>;
  readonly tls: UpstreamTls | undefined;
}

/**
 * Where a stored answer is: beside the URL the adapter sends a new response to (OpenAI
 * `{base}/responses`; Azure `/openai/responses?api-version=...`, or `/openai/v1/responses`),
 * with `collection` in its last segment's place (`responses`, `chat/completions`), then
 * `path` (`/{id}`, `/{id}/messages`); the configured query (Azure's api-version) kept, the
 * caller's parameters added (the id and the parameters were checked: they cannot leave their
 * places). Stored chat completions are not under a deployment on Azure either: the SDK's
 * AzureOpenAI puts only calls with a body's `model` there.
 */
export function storedTarget(
  adapter: ProviderAdapter,
  config: ProviderConfig,
  collection: string,
  path: string,
  query: Readonly<Record<string, readonly string[]>>,
  accept: string,
  withBody = false,
): StoredTarget {
  const responses = adapter.prepare(
    { operation: 'responses', model: WHERE_MODEL, stream: false, body: {} },
    config,
  );
  const [responsesPath, search = ''] = responses.target.path.split('?', 2) as [string, string?];
  const root = responsesPath.slice(0, responsesPath.lastIndexOf('/'));
  const configured = Object.fromEntries(new URLSearchParams(search));
  const target = upstreamTarget(parseBaseUrl(`${responses.target.origin}${root}`), `/${collection}${path}`, {
    ...query,
    ...configured,
  });
  // The content headers of the call, asking for what the caller asked.
  const headers: Record<string, string> = { ...responses.headers, accept };
  if (!withBody) delete headers['content-type'];
  return { target, headers, tls: responses.tls };
}

/** One call on a stored answer at a key's provider, authenticated as the key. */
export async function storedCall(
  deps: GenerateDependencies,
  candidate: KeyToAsk,
  providerKey: ProviderKey,
  where: StoredTarget,
  method: UpstreamRequest['method'],
  signal: ConnectionSignal,
  body?: string,
): Promise<UpstreamRequest> {
  const { adapter, config, provider } = candidate;
  const timeouts = provider.options.timeouts;
  const auth = await adapter.authHeaders({ config, key: providerKey, client: deps.client, signal, timeouts });
  return {
    target: where.target,
    method,
    headers: { ...where.headers, ...auth.headers },
    body,
    signal,
    timeouts,
    secrets: auth.secrets,
    tls: where.tls,
    mapError: adapter.mapError,
    rateLimits: adapter.rateLimits,
  };
}

/**
 * Sends the call and writes the provider's answer as it came, once it is seen to be one: a
 * JSON object that is not an error object sent with a success status (another key is asked
 * then). A stored answer that failed carries `error` beside `object`: it is an answer. A
 * delete may come empty.
 */
export async function relayAnswer(
  deps: GenerateDependencies,
  call: UpstreamRequest,
  res: ServerResponse,
  hold: BodyHold,
  requestId: string,
): Promise<void> {
  const answer = await deps.client.request({ ...call, onBodyBytes: hold.count });
  const text = answerText(answer, call.method === 'DELETE', call.secrets ?? []);
  res.writeHead(answer.status, {
    ...answerHeaders('openai', requestId, 'application/json'),
    'content-length': Buffer.byteLength(text),
  });
  // At the caller's pace, as a generated answer: one that stops reading is given up.
  endAnswer(res, text, call.timeouts?.totalMs ?? DEFAULT_UPSTREAM_TIMEOUTS.totalMs);
}

function answerText(answer: UpstreamBufferedResponse, deletes: boolean, secrets: readonly string[]): string {
  if (deletes && answer.text.trim() === '' && answer.status < 300) return '';
  const json = answer.json();
  const redact = (text: string) => redactSecrets(text, secrets);
  if (answer.status >= 300 || typeof json !== 'object' || json === null || Array.isArray(json))
    throw unreadableAnswer(json, redact, 'not a JSON object');
  if ((json as { error?: unknown }).error && !('object' in json))
    throw unreadableAnswer(json, redact, 'an error object');
  return answer.text;
}
