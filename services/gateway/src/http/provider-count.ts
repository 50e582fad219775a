import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import { fetchesUrls } from '../providers/anthropic/anthropic-url-fetch.js';
import { callProvider, type ProviderAnswer, providerAdapter } from '../providers/index.js';
import type { ProviderAdapter, ProviderConfig } from '../providers/provider-types.js';
import type { AttemptResult } from '../telemetry/data-plane-metrics.js';
import type { RequestTrace } from '../telemetry/request-trace.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import { isUpstreamError, type UpstreamError } from '../upstream/index.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import { answerHeaders, GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  LimitRefusalError,
  msUntilAKeyIsBack,
  providerConfig,
  recordCallRefusal,
  usableProviderKey,
  whenAKeyIsBack,
} from './generate.js';
import { type CountingRest, failureKind, saysStorageNotReady, saysUrlFetchDisabled } from './key-choice.js';
import { readJsonBody } from './read-body.js';
import { type Route, routeModel } from './route-model.js';
import { noteKeyFailure } from './stored-answers.js';

/** What differs between the counting calls: Claude's `count_tokens`, OpenAI's Responses `input_tokens`. */
export interface ProviderCount {
  /** Whether a route's provider counts this dialect's body (the adapter's `count_tokens`). */
  readonly counts: (adapter: ProviderAdapter, config: ProviderConfig) => boolean;
  /** The caller's `anthropic-beta` features, passed on to Claude. */
  readonly anthropicBeta?: string | undefined;
  /** The pinned session the body continues (a stored response, a conversation): its key is asked first. */
  readonly session?: string | undefined;
  /**
   * A refusal that says another key may have what the body names (a conversation kept by
   * another project): the next key is asked, this one neither faulted nor credited.
   */
  readonly elsewhere?: ((error: UpstreamError, providerKeyId: string) => boolean) | undefined;
  /**
   * What the caller hears instead of a refusal that ends the count, if not the refusal itself:
   * another key saying it lacks a stored answer while the key holding it rests (a 429 until then).
   */
  readonly instead?: ((error: UpstreamError, providerKeyId: string) => GatewayError | undefined) | undefined;
}

/**
 * The provider's count of the body, its routes' keys asked in turn as a request's keys are
 * (`generate.ts` attempt: the chain with providers lately lacking the model last, each
 * provider's keys best first, the keys resting on a remembered refusal passed over), until one
 * answers. Undefined when no key could be asked (no route that counts, no usable key, none this
 * process can decrypt): the caller's tokenizer counts.
 *
 * Its own rules, since providers limit counting apart from generating:
 * - the keys are peeked (`KeyChoice.peekCandidates`): a count spends no key's own rpm and never
 *   takes a half-open key's one probe, which its requests need;
 * - a counting 429 (its quota headers), a 5xx or 529, a timeout, its latency and its success say
 *   nothing of the key's requests, so the balancer is not told: the next key is asked. A 429
 *   rests the key for counting alone until its Retry-After (`KeyChoice.markCountingRefused`):
 *   the counts meanwhile pass it over, rather than each paying the refused call. Only
 *   what is true of the key for every call is reported as for requests: a refused key (disabled
 *   on every replica), an unreachable provider, and the account's own refusals (a workspace not
 *   ready rests the key; an organization that fetches no URL is remembered for such bodies; a
 *   restricted key without the call's scope is not asked for it a while);
 * - the caller's own request refused (a 400 about the body, a 413...) ends the call at once: any
 *   other key would refuse it too, unless it names something another key may hold (`elsewhere`).
 * With every key failed, a key refusing to count (a 429 now, or resting on one) makes the answer a
 * 429 with when the first such key counts again (no call at all when every key rests), unless
 * another failed in a way a retry may clear at once (a 5xx, a timeout, a connection: its answer is
 * the caller's then); otherwise the caller hears the last key's answer, status and Retry-After.
 * Each call is counted in the metrics as a request's attempts are (operation `count_tokens`).
 */
export async function countedByProvider(
  deps: GenerateDependencies,
  call: ProviderCount,
  body: Record<string, unknown>,
  routes: Route[],
  signal: ConnectionSignal,
  trace: RequestTrace | undefined,
): Promise<number | undefined> {
  /** The last failure that was not a counting 429. */
  let lastError: UpstreamError | undefined;
  /** The key back soonest of those that refused to count (a 429 now, or resting on one). */
  let soonestBack: CountingRest | undefined;
  const refusedCounting = (rest: CountingRest) => {
    if (soonestBack === undefined || rest.until < soonestBack.until) soonestBack = rest;
  };
  let attempts = 0;
  /** The routes whose keys were offered: when one of theirs is back, the caller may ask again. */
  const offered: Route[] = [];
  let fetchingUrls: boolean | undefined;
  const fetchesUrl = () => {
    fetchingUrls ??= fetchesUrls(body);
    return fetchingUrls;
  };
  // What the body continues is kept by one provider: it is asked first, wherever in the chain.
  const storedAt = call.session === undefined ? undefined : deps.keys.storedAt(call.session);
  let chain = deps.keys.presentFirst(routes, Date.now());
  const holder = chain.find((route) => route.provider.name === storedAt);
  if (holder) chain = [holder, ...chain.filter((route) => route !== holder)];
  for (const route of chain) {
    const adapter = providerAdapter(route.provider.type);
    const config = providerConfig(route);
    if (!call.counts(adapter, config)) continue;
    offered.push(route);
    const keys = deps.keys.peekCandidates(route, deps.registry, call.session);
    let choosing = performance.now();
    for (let keyEntry = keys.next(Date.now()); keyEntry; keyEntry = keys.next(Date.now())) {
      const remembered = deps.keys.rememberedRefusal(
        keyEntry.providerKeyId,
        'count_tokens',
        Date.now(),
        fetchesUrl,
      );
      if (remembered) {
        lastError = remembered;
        continue;
      }
      const resting = deps.keys.countingRefused(keyEntry.providerKeyId, Date.now());
      if (resting) {
        refusedCounting(resting);
        continue;
      }
      // A key this process cannot decrypt: the next key counts, else the tokenizer.
      const providerKey = usableProviderKey(deps, keyEntry);
      if (!providerKey) continue;
      attempts++;
      trace?.chose(choosing, route, keyEntry, attempts);
      const span = trace?.attempt(route, 'count_tokens', keyEntry, attempts);
      // The secret the call goes with: a 401 to it after an admin replaced it is not the key's.
      const secretAtCall = keyEntry.secretCount;
      const counted = (result: AttemptResult) =>
        deps.metrics?.attempt({
          orgId: route.provider.orgId,
          provider: route.provider.name,
          providerKeyId: keyEntry.providerKeyId,
          operation: 'count_tokens',
          result,
        });
      let answer: ProviderAnswer;
      try {
        answer = await callProvider(
          {
            client: deps.client,
            adapter,
            config,
            key: providerKey,
            signal,
            timeouts: route.provider.options.timeouts,
            traceHeaders: span?.headers,
          },
          {
            operation: 'count_tokens',
            model: route.model,
            stream: false,
            body: { ...body, model: route.model },
            anthropicBeta: call.anthropicBeta,
          },
        );
      } catch (error) {
        if (!isUpstreamError(error)) {
          span?.failed(error, undefined, false);
          counted('error');
          throw error;
        }
        const kind = failureKind(error, signal.aborted);
        counted(kind);
        const urlFetchOff = saysUrlFetchDisabled(error);
        const scopeMissing = error.provider?.scopeMissing === true;
        const nextKey =
          urlFetchOff ||
          scopeMissing ||
          (kind !== 'not_the_key' && kind !== 'caller_cancelled') ||
          (kind === 'not_the_key' && call.elsewhere?.(error, keyEntry.providerKeyId) === true);
        span?.failed(error, kind, nextKey);
        if (!nextKey) throw call.instead?.(error, keyEntry.providerKeyId) ?? error;
        const now = Date.now();
        // Counting's own limit: the key is not asked to count until its Retry-After.
        if (error.status === 429 && kind === 'rate_limited') {
          refusedCounting(deps.keys.markCountingRefused(keyEntry.providerKeyId, error, now));
          choosing = performance.now();
          continue;
        }
        lastError = error;
        if (urlFetchOff) deps.keys.markUrlFetchDisabled(keyEntry.providerKeyId, error, now);
        else if (scopeMissing) deps.keys.markScopeMissing(keyEntry.providerKeyId, 'count_tokens', error, now);
        else if (saysStorageNotReady(error)) deps.keys.markNotReady(keyEntry.providerKeyId, error, now);
        else noteKeyFailure(deps, keyEntry, error, kind, secretAtCall);
        choosing = performance.now();
        continue;
      }
      span?.answered(answer, undefined);
      counted('ok');
      const inputTokens = (answer.json() as { input_tokens?: unknown }).input_tokens;
      if (typeof inputTokens !== 'number')
        throw new GatewayError('upstream_error', 'the provider gave no token count');
      return inputTokens;
    }
  }
  if (soonestBack !== undefined && (lastError === undefined || !clearsAtOnce(lastError))) {
    // The keys refused to count: the caller may ask again when the first of them can.
    const backInMs = Math.max(1, soonestBack.until - Date.now());
    throw whenAKeyIsBack(asGatewayError(soonestBack.error), backInMs);
  }
  if (lastError === undefined) return undefined;
  // A provider's 400 stays a 400 saying why, its 5xx a 5xx: as for requests. The balancer knows
  // nothing of counting's limits, so only a workspace not ready (each key resting on it) is
  // answered with when the first key is back.
  const refused = asGatewayError(lastError);
  throw saysStorageNotReady(lastError) ? whenAKeyIsBack(refused, msUntilAKeyIsBack(deps, offered)) : refused;
}

/** A failure the same key may not repeat when asked again at once: a 5xx, a timeout, a connection. */
function clearsAtOnce(error: UpstreamError): boolean {
  const kind = failureKind(error, false);
  return kind === 'server_error' || kind === 'timeout' || kind === 'connection_failed';
}

/** One free token-count route: Anthropic's `count_tokens` or OpenAI's Responses `input_tokens`. */
export interface CountingRoute {
  readonly path: '/v1/messages/count_tokens' | '/v1/responses/input_tokens';
  readonly dialect: 'anthropic' | 'openai';
  /** How a refusal names the call (`RequestRejected.endpoint`). */
  readonly endpoint: 'messages.count_tokens' | 'responses.input_tokens';
  /** The answer's body, counted for the model's routes (the caller's access already checked). */
  readonly answer: (count: CountRequest) => Promise<Record<string, unknown>>;
}

/** A count the caller may make: who asks, what, and where the model goes. */
export interface CountRequest {
  readonly req: IncomingMessage;
  readonly caller: Caller;
  readonly body: Record<string, unknown>;
  /** Every route of the model, in the order a request would try them (never empty). */
  readonly routes: Route[];
  /** Aborted when the caller leaves. */
  readonly signal: ConnectionSignal;
  readonly trace: RequestTrace | undefined;
}

/**
 * What every count does around its counting: authenticate, read the body, route the model and
 * check who may use it from where (counting is free and not usage: no rate or budget applies and
 * no event is written when served), answer in the caller's dialect, and record a refusal as a
 * `RequestRejected` naming the call.
 */
export function countingHandler(deps: GenerateDependencies, route: CountingRoute) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newEventId();
    const startedAt = performance.now();
    const trace = deps.tracing?.start(req, route.path, 'count_tokens', requestId, startedAt);
    let caller: Caller | undefined;
    let model: unknown;
    // A caller who leaves (or a stop cutting connections at its drain deadline) ends the call:
    // otherwise a stuck provider holds the request, and the stop, for its first-byte timeout.
    const signal = new ConnectionSignal();
    res.once('close', () => {
      if (!res.writableFinished) signal.abort();
    });
    try {
      caller = authenticate(req, deps.registry(), deps.secrets.proxyKeyHasher, Date.now());
      trace?.authenticated(startedAt, caller);
      const hold = deps.bodyBudget.holdFor(res);
      const body = await readJsonBody(req, deps.maxBodyBytes, hold, deps.bodyIdleTimeoutMs);
      model = body.model;
      const routes = routeModel(deps.registry(), caller.key.orgId, body.model);
      const denied = deps.limits.checkAccess(
        { ...accessSubjectOf(caller, req, deps.trustedProxies), model: routes[0]!.model },
        Date.now(),
      );
      if (denied) throw new LimitRefusalError(denied);
      const answer = await route.answer({ req, caller, body, routes, signal, trace });
      res.writeHead(200, answerHeaders(route.dialect, requestId, 'application/json'));
      res.end(JSON.stringify(answer));
      trace?.end(200);
    } catch (error) {
      // A provider's 429 stays a 429 with its Retry-After, its 400 a 400 saying why: as for messages.
      const refused = asGatewayError(error);
      if (refused.kind === 'internal')
        deps.logger.error({ err: error, requestId }, `${route.endpoint} failed`);
      const unrecordable = recordCallRefusal(deps, error, {
        requestId,
        endpoint: route.endpoint,
        req,
        caller,
        model,
        traceId: trace?.traceId,
      });
      const answer = unrecordable ?? refused;
      if (trace && !caller) trace.unauthenticated(startedAt, answer.statusIn(route.dialect), answer.kind);
      else trace?.end(answer.statusIn(route.dialect), answer.kind);
      sendError(res, answer, route.dialect, requestId);
    }
  };
}
