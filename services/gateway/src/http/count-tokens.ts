import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import { fetchesUrls } from '../providers/anthropic/anthropic-url-fetch.js';
import { callProvider, type ProviderAnswer, providerAdapter } from '../providers/index.js';
import type { RequestTrace } from '../telemetry/request-trace.js';
import { estimateRequestTokens } from '../tokens/index.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import { isUpstreamError, type UpstreamError } from '../upstream/index.js';
import { anthropicBetaOf } from './anthropic-beta.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import { answerHeaders, GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  LimitRefusalError,
  msUntilAKeyIsBack,
  providerConfig,
  recordCallRefusal,
  secretReplacedSince,
  usableProviderKey,
  whenAKeyIsBack,
} from './generate.js';
import { decisionEvent, failureKind, saysStorageNotReady, saysUrlFetchDisabled } from './key-choice.js';
import { readJsonBody } from './read-body.js';
import { type Route, routeModel } from './route-model.js';

/**
 * `POST /v1/messages/count_tokens` (Anthropic dialect). Claude models are counted by the
 * provider (exact), its keys asked in turn until one answers (`countedByClaude`); others with
 * Kordon's tokenizer. Counting is free at every provider, so it is not a usage event.
 */
export function countTokensHandler(deps: GenerateDependencies) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newEventId();
    const startedAt = performance.now();
    const trace = deps.tracing?.start(req, '/v1/messages/count_tokens', 'count_tokens', requestId, startedAt);
    let caller: Caller | undefined;
    let model: unknown;
    // A caller who leaves (or a stop cutting connections at its drain deadline) ends the call:
    // otherwise a stuck provider holds the request, and the stop, for its first-byte timeout.
    const abort = new ConnectionSignal();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      caller = authenticate(req, deps.registry(), deps.secrets.proxyKeyHasher, Date.now());
      trace?.authenticated(startedAt, caller);
      const hold = deps.bodyBudget.holdFor(res);
      const body = await readJsonBody(req, deps.maxBodyBytes, hold, deps.bodyIdleTimeoutMs);
      model = body.model;
      const routes = routeModel(deps.registry(), caller.key.orgId, body.model);
      const route = routes[0]!;
      // Counting is free and not usage, so no rate or budget applies; who may use the key from
      // where, for which model, does.
      const denied = deps.limits.checkAccess(
        { ...accessSubjectOf(caller, req, deps.trustedProxies), model: route.model },
        Date.now(),
      );
      if (denied) throw new LimitRefusalError(denied);
      let inputTokens = await countedByClaude(deps, req, body, routes, abort, trace);
      if (inputTokens === undefined) {
        // count_tokens bodies carry no max_tokens; it does not change the prompt's count.
        const estimate = estimateRequestTokens({
          dialect: 'anthropic-messages',
          body: { max_tokens: 1, ...body },
          model: route.model,
        });
        if (!estimate.ok) throw new GatewayError('invalid_request', estimate.error);
        inputTokens = estimate.estimate.inputTokens;
      }
      const text = JSON.stringify({ input_tokens: inputTokens });
      res.writeHead(200, answerHeaders('anthropic', requestId, 'application/json'));
      res.end(text);
      trace?.end(200);
    } catch (error) {
      const refused = asGatewayError(error);
      if (refused.kind === 'internal') deps.logger.error({ err: error, requestId }, 'count_tokens failed');
      const traceId = trace?.traceId;
      const unrecordable = recordCallRefusal(deps, error, {
        requestId,
        endpoint: 'messages.count_tokens',
        req,
        caller,
        model,
        traceId,
      });
      const answer = unrecordable ?? refused;
      if (trace && !caller) trace.unauthenticated(startedAt, answer.statusIn('anthropic'), answer.kind);
      else trace?.end(answer.statusIn('anthropic'), answer.kind);
      sendError(res, answer, 'anthropic', requestId);
    }
  };
}

/**
 * The count of the Claude keys of the model's routes, asked in turn as a message's keys are
 * (`generate.ts` attempt: the chain with providers lately lacking the model last, each
 * provider's keys best first, the keys resting on a remembered refusal passed over), until one
 * answers. Undefined when no key could be asked (no Claude route, no usable key, none this
 * process can decrypt): the tokenizer counts.
 *
 * Its own rules, since Anthropic limits counting apart from messages:
 * - the keys are peeked (`KeyChoice.peekCandidates`): a count spends no key's own rpm and never
 *   takes a half-open key's one probe, which its messages need;
 * - a counting 429 (its quota headers), a 5xx or 529, a timeout, its latency and its success say
 *   nothing of the key's messages, so the balancer is not told: the next key is asked. Only
 *   what is true of the key for every call is reported as for messages: a refused key (disabled
 *   on every replica), an unreachable provider, and the account's own refusals (a workspace not
 *   ready rests the key; an organization that fetches no URL is remembered for such bodies);
 * - the caller's own request refused (a 400 about the body, a 413...) ends the call at once: any
 *   other key would refuse it too.
 * With every key failed, the caller hears the last one's answer, status and Retry-After.
 */
async function countedByClaude(
  deps: GenerateDependencies,
  req: IncomingMessage,
  body: Record<string, unknown>,
  routes: Route[],
  signal: ConnectionSignal,
  trace: RequestTrace | undefined,
): Promise<number | undefined> {
  let lastError: UpstreamError | undefined;
  let attempts = 0;
  /** The routes whose keys were offered: when one of theirs is back, the caller may ask again. */
  const offered: Route[] = [];
  let fetchingUrls: boolean | undefined;
  const fetchesUrl = () => {
    fetchingUrls ??= fetchesUrls(body);
    return fetchingUrls;
  };
  const anthropicBeta = anthropicBetaOf(req);
  for (const route of deps.keys.presentFirst(routes, Date.now())) {
    const adapter = providerAdapter(route.provider.type);
    const config = providerConfig(route);
    if (adapter.dialect !== 'anthropic' || !adapter.supports('count_tokens', config)) continue;
    offered.push(route);
    const keys = deps.keys.peekCandidates(route, deps.registry);
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
      // A key this process cannot decrypt: the next key counts, else the tokenizer.
      const providerKey = usableProviderKey(deps, keyEntry);
      if (!providerKey) continue;
      attempts++;
      trace?.chose(choosing, route, keyEntry, attempts);
      const span = trace?.attempt(route, 'count_tokens', keyEntry, attempts);
      // The secret the call goes with: a 401 to it after an admin replaced it is not the key's.
      const secretAtCall = keyEntry.secretCount;
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
            anthropicBeta,
          },
        );
      } catch (error) {
        if (!isUpstreamError(error)) {
          span?.failed(error, undefined, false);
          throw error;
        }
        const kind = failureKind(error, signal.aborted);
        const urlFetchOff = saysUrlFetchDisabled(error);
        const nextKey = urlFetchOff || (kind !== 'not_the_key' && kind !== 'caller_cancelled');
        span?.failed(error, kind, nextKey);
        if (!nextKey) throw error;
        lastError = error;
        const now = Date.now();
        if (urlFetchOff) deps.keys.markUrlFetchDisabled(keyEntry.providerKeyId, error, now);
        else if (saysStorageNotReady(error)) deps.keys.markNotReady(keyEntry.providerKeyId, error, now);
        else if (
          kind === 'connection_failed' ||
          (kind === 'auth_refused' && !secretReplacedSince(deps, keyEntry.providerKeyId, secretAtCall))
        ) {
          const decision = deps.keys.balancer.reportFailure(keyEntry.providerKeyId, {
            now,
            kind,
            retryAfterMs: error.retryAfterMs,
          });
          // As for messages: every replica learns of a disabled or resting key.
          const event = decisionEvent(decision, keyEntry, error);
          if (event) deps.appender.enqueue(event);
          if (kind === 'auth_refused')
            deps.logger.error(
              { providerKeyId: keyEntry.providerKeyId, status: error.status },
              'provider refused a provider key',
            );
        }
        choosing = performance.now();
        continue;
      }
      span?.answered(answer, undefined);
      const counted = (answer.json() as { input_tokens?: unknown }).input_tokens;
      if (typeof counted !== 'number')
        throw new GatewayError('upstream_error', 'the provider gave no token count');
      return counted;
    }
  }
  if (lastError === undefined) return undefined;
  // A provider's 429 stays a 429 with its Retry-After, its 400 a 400 saying why: as for
  // messages. The balancer knows nothing of counting's limits, so only a workspace not ready
  // (each key resting on it) is answered with when the first key is back.
  const refused = asGatewayError(lastError);
  throw saysStorageNotReady(lastError) ? whenAKeyIsBack(refused, msUntilAKeyIsBack(deps, offered)) : refused;
}
