import type { ProviderAdapter, ProviderConfig } from '../providers/provider-types.js';
import { estimateRequestTokens } from '../tokens/index.js';
import { anthropicBetaOf } from './anthropic-beta.js';
import { GatewayError } from './gateway-error.js';
import type { GenerateDependencies } from './generate.js';
import { countedByProvider, countingHandler } from './provider-count.js';

/**
 * `POST /v1/messages/count_tokens` (Anthropic dialect). Claude models are counted by the
 * provider (exact), its keys asked in turn until one answers (`countedByProvider`); others with
 * Kordon's tokenizer. Counting is free at every provider, so it is not a usage event.
 */
export function countTokensHandler(deps: GenerateDependencies) {
  return countingHandler(deps, {
    path: '/v1/messages/count_tokens',
    dialect: 'anthropic',
    endpoint: 'messages.count_tokens',
    answer: async ({ req, body, routes, signal, trace }) => {
      // Claude counts itself, its keys asked in turn (provider-count.ts).
      const byClaude = {
        counts: (adapter: ProviderAdapter, config: ProviderConfig) =>
          adapter.dialect === 'anthropic' && adapter.supports('count_tokens', config),
        anthropicBeta: anthropicBetaOf(req),
      };
      const counted = await countedByProvider(deps, byClaude, body, routes, signal, trace);
      if (counted !== undefined) return { input_tokens: counted };
      // count_tokens bodies carry no max_tokens; it does not change the prompt's count.
      const estimate = estimateRequestTokens({
        dialect: 'anthropic-messages',
        body: { max_tokens: 1, ...body },
        model: routes[0]!.model,
      });
      if (!estimate.ok) throw new GatewayError('invalid_request', estimate.error);
      return { input_tokens: estimate.estimate.inputTokens };
    },
  });
}
