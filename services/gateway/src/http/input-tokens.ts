import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import { providerAdapter } from '../providers/index.js';
import type { ProviderAdapter, ProviderConfig } from '../providers/provider-types.js';
import { estimateRequestTokens } from '../tokens/index.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import type { UpstreamError } from '../upstream/index.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import { answerHeaders, GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  holderResting,
  LimitRefusalError,
  providerConfig,
  recordCallRefusal,
} from './generate.js';
import { storedResponseSession } from './key-choice.js';
import { countedByProvider, type ProviderCount } from './provider-count.js';
import { readJsonBody } from './read-body.js';
import { type Route, routeModel } from './route-model.js';
import { conversationNotFound, conversationSession, namedConversation } from './stored-conversations.js';

/**
 * `POST /v1/responses/input_tokens` (OpenAI dialect; the SDK's `responses.inputTokens.count`):
 * the input tokens of a Responses body, as `/v1/responses` would route it. Counting is free at
 * OpenAI and not usage: no rate or budget, no event when served.
 * - a model of a provider with OpenAI's counting route is counted there, its keys asked in turn
 *   (`countedByProvider`, as `/v1/messages/count_tokens` asks Claude's), the key that stored a
 *   `previous_response_id` or `conversation` first;
 * - a model only a provider without that route serves through the Responses API (Azure, vLLM),
 *   or whose keys none could be asked, is counted by Kordon's tokenizer (with the recorded size
 *   of a stored conversation it continues): an estimate, not the provider's count;
 * - a model no provider serves through the Responses API is refused as `/v1/responses` refuses
 *   it: a count of a request that cannot be made would say it can.
 */
export function inputTokensHandler(deps: GenerateDependencies) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newEventId();
    const startedAt = performance.now();
    const trace = deps.tracing?.start(
      req,
      '/v1/responses/input_tokens',
      'count_tokens',
      requestId,
      startedAt,
    );
    let caller: Caller | undefined;
    let model: unknown;
    // A caller who leaves ends the call, as for count_tokens.
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
      // Counting is free and not usage, so no rate or budget applies; who may use the key from
      // where, for which model, does.
      const denied = deps.limits.checkAccess(
        { ...accessSubjectOf(caller, req, deps.trustedProxies), model: routes[0]!.model },
        Date.now(),
      );
      if (denied) throw new LimitRefusalError(denied);
      const responsesRoutes = routes.filter((route) =>
        providerAdapter(route.provider.type).supports('responses', providerConfig(route)),
      );
      if (responsesRoutes.length === 0)
        throw new GatewayError(
          'invalid_request',
          `the model ${routes[0]!.model} is not served on responses by any provider`,
          { param: 'model' },
        );
      const orgId = caller.key.orgId;
      const call = countingCall(deps, orgId, body);
      let inputTokens = await countedByProvider(deps, call, body, responsesRoutes, abort, trace);
      inputTokens ??= countedByKordon(deps, body, responsesRoutes, call.session);
      const text = JSON.stringify({ object: 'response.input_tokens', input_tokens: inputTokens });
      res.writeHead(200, answerHeaders('openai', requestId, 'application/json'));
      res.end(text);
      trace?.end(200);
    } catch (error) {
      const refused = asGatewayError(error);
      if (refused.kind === 'internal')
        deps.logger.error({ err: error, requestId }, 'responses input_tokens failed');
      const unrecordable = recordCallRefusal(deps, error, {
        requestId,
        endpoint: 'responses.input_tokens',
        req,
        caller,
        model,
        traceId: trace?.traceId,
      });
      const answer = unrecordable ?? refused;
      if (trace && !caller) trace.unauthenticated(startedAt, answer.statusIn('openai'), answer.kind);
      else trace?.end(answer.statusIn('openai'), answer.kind);
      sendError(res, answer, 'openai', requestId);
    }
  };
}

/**
 * OpenAI's counting route, for the body's providers that have it (OpenAI itself: Azure documents
 * none). What the body continues is kept by one key's project: that key is asked first, and a
 * conversation another key's project keeps is looked for further, as `/v1/responses` does.
 */
function countingCall(
  deps: GenerateDependencies,
  orgId: string,
  body: Record<string, unknown>,
): ProviderCount {
  const counts = (adapter: ProviderAdapter, config: ProviderConfig) =>
    adapter.dialect === 'openai' && adapter.supports('count_tokens', config);
  const previous = body.previous_response_id;
  if (typeof previous === 'string') {
    const session = storedResponseSession(orgId, previous);
    // Its key resting (for every call, or for counting alone), another key (maybe of another
    // project) was asked: as for a response, a 429 until the key that has it is back, rather
    // than its 400 "not found".
    const instead = (error: UpstreamError, providerKeyId: string) => {
      const holder = deps.keys.storedKey(session)?.providerKeyId;
      if (error.provider?.code !== 'previous_response_not_found' || holder === undefined) return undefined;
      if (holder === providerKeyId) return undefined;
      const now = Date.now();
      return holderResting(deps, holder, previous, now) ?? holderNotCounting(deps, holder, previous, now);
    };
    return { counts, session, instead };
  }
  const conversation = namedConversation(body);
  if (conversation === undefined) return { counts };
  const session = conversationSession(orgId, conversation);
  return {
    counts,
    session,
    // The key that served it saying so: deleted, the answer stands.
    elsewhere: (error: UpstreamError, providerKeyId: string) =>
      conversationNotFound(error) && deps.keys.storedKey(session)?.providerKeyId !== providerKeyId,
  };
}

/**
 * The key holding what a follow-up continues answered a count with a 429 lately
 * (`KeyChoice.countingRefused`): a 429 until it counts again.
 */
function holderNotCounting(
  deps: GenerateDependencies,
  holderKeyId: string,
  what: string,
  now: number,
): GatewayError | undefined {
  const rest = deps.keys.countingRefused(holderKeyId, now);
  if (rest === undefined) return undefined;
  const seconds = Math.max(1, Math.ceil((rest.until - now) / 1000));
  return new GatewayError(
    'rate_limited',
    `the provider key that holds ${what} may not count tokens for ${seconds} s; ask again then`,
    { retryAfterSeconds: seconds },
  );
}

/**
 * Kordon's tokenizer count of the body for the provider the request would go to (the one that
 * holds what it continues, else the first), plus the recorded size of the stored conversation a
 * follow-up continues there (what `/v1/responses` bills it).
 */
function countedByKordon(
  deps: GenerateDependencies,
  body: Record<string, unknown>,
  routes: Route[],
  session: string | undefined,
): number {
  const storedAt = session === undefined ? undefined : deps.keys.storedAt(session);
  const route = routes.find((candidate) => candidate.provider.name === storedAt) ?? routes[0]!;
  const estimate = estimateRequestTokens({ dialect: 'openai-responses', body, model: route.model });
  if (!estimate.ok) throw new GatewayError('invalid_request', estimate.error);
  const continued =
    session !== undefined && storedAt === route.provider.name
      ? deps.keys.conversationTokens(session)
      : undefined;
  return estimate.estimate.inputTokens + (continued ?? 0);
}
