import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import type { ProviderAdapter, ProviderConfig } from '../providers/provider-types.js';
import { estimateRequestTokens } from '../tokens/index.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import { anthropicBetaOf } from './anthropic-beta.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import { answerHeaders, GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  LimitRefusalError,
  recordCallRefusal,
} from './generate.js';
import { countedByProvider } from './provider-count.js';
import { readJsonBody } from './read-body.js';
import { routeModel } from './route-model.js';

/**
 * `POST /v1/messages/count_tokens` (Anthropic dialect). Claude models are counted by the
 * provider (exact), its keys asked in turn until one answers (`countedByProvider`); others with
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
      // Claude counts itself, its keys asked in turn (provider-count.ts).
      const byClaude = {
        counts: (adapter: ProviderAdapter, config: ProviderConfig) =>
          adapter.dialect === 'anthropic' && adapter.supports('count_tokens', config),
        anthropicBeta: anthropicBetaOf(req),
      };
      let inputTokens = await countedByProvider(deps, byClaude, body, routes, abort, trace);
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
