import { providerAdapter } from '../providers/index.js';
import type { ProviderAdapter, ProviderConfig } from '../providers/provider-types.js';
import { estimateRequestTokens } from '../tokens/index.js';
import type { UpstreamError } from '../upstream/index.js';
import { GatewayError } from './gateway-error.js';
import { type GenerateDependencies, holderResting, providerConfig } from './generate.js';
import { storedResponseSession } from './key-choice.js';
import { countedByProvider, countingHandler, type ProviderCount } from './provider-count.js';
import type { Route } from './route-model.js';
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
  return countingHandler(deps, {
    path: '/v1/responses/input_tokens',
    dialect: 'openai',
    endpoint: 'responses.input_tokens',
    answer: async ({ caller, body, routes, signal, trace }) => {
      const responsesRoutes = routes.filter((route) =>
        providerAdapter(route.provider.type).supports('responses', providerConfig(route)),
      );
      if (responsesRoutes.length === 0)
        throw new GatewayError(
          'invalid_request',
          `the model ${routes[0]!.model} is not served on responses by any provider`,
          { param: 'model' },
        );
      const call = countingCall(deps, caller.key.orgId, body);
      const inputTokens =
        (await countedByProvider(deps, call, body, responsesRoutes, signal, trace)) ??
        countedByKordon(deps, body, responsesRoutes, call.session);
      return { object: 'response.input_tokens', input_tokens: inputTokens };
    },
  });
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
