import type { IncomingMessage, ServerResponse } from 'node:http';
import { newEventId } from '@kordon/events';
import { callProvider, providerAdapter } from '../providers/index.js';
import { estimateRequestTokens } from '../tokens/index.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import { isUpstreamError } from '../upstream/index.js';
import { anthropicBetaOf } from './anthropic-beta.js';
import { accessSubjectOf, authenticate, type Caller } from './authenticate.js';
import { answerHeaders, GatewayError, sendError } from './gateway-error.js';
import {
  asGatewayError,
  type GenerateDependencies,
  LimitRefusalError,
  providerConfig,
  recordCallRefusal,
  usableProviderKey,
} from './generate.js';
import { decisionEvent, failureKind } from './key-choice.js';
import { readJsonBody } from './read-body.js';
import { routeModel } from './route-model.js';

/**
 * `POST /v1/messages/count_tokens` (Anthropic dialect). Claude models are counted by the
 * provider (exact); others with Kordon's tokenizer. Counting is free at every provider, so
 * it is not a usage event.
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
      const [route] = routeModel(deps.registry(), caller.key.orgId, body.model);
      // Counting is free and not usage, so no rate or budget applies; who may use the key from
      // where, for which model, does.
      const denied = deps.limits.checkAccess(
        { ...accessSubjectOf(caller, req, deps.trustedProxies), model: route!.model },
        Date.now(),
      );
      if (denied) throw new LimitRefusalError(denied);
      const adapter = providerAdapter(route!.provider.type);
      const config = providerConfig(route!);
      // A peek, not a pick: Anthropic limits counting apart from messages, so a count must
      // not spend the key's own rpm (nor take a half-open key's one probe) that its messages
      // need; nothing about the count is reported back but a refused or unreachable key.
      const keyEntry = deps.keys.balancer.peek(deps.keys.groupOf(deps.registry(), route!), Date.now());
      // A key this process cannot decrypt: counted with the tokenizer, as without a key.
      const providerKey = keyEntry && usableProviderKey(deps, keyEntry);
      let inputTokens: number;
      if (
        adapter.dialect === 'anthropic' &&
        adapter.supports('count_tokens', config) &&
        keyEntry &&
        providerKey
      ) {
        const sentAt = performance.now();
        trace?.chose(sentAt, route!, keyEntry, 1);
        const span = trace?.attempt(route!, 'count_tokens', keyEntry, 1);
        const answer = await callProvider(
          {
            client: deps.client,
            adapter,
            config,
            key: providerKey,
            signal: abort,
            timeouts: route!.provider.options.timeouts,
            traceHeaders: span?.headers,
          },
          {
            operation: 'count_tokens',
            model: route!.model,
            stream: false,
            body: { ...body, model: route!.model },
            anthropicBeta: anthropicBetaOf(req),
          },
        ).catch((error: unknown) => {
          if (isUpstreamError(error)) {
            const kind = failureKind(error, false);
            span?.failed(error, kind, false);
            // Only what is true of the key for every call: refused, or its provider unreachable.
            // Anthropic limits counting apart from messages, so a counting 429 (or its quota
            // headers, its latency, its success) says nothing of the key's messages: fed to the
            // balancer, heavy counting (Claude Code counts often) cooled keys that had room.
            if (kind === 'auth_refused' || kind === 'connection_failed') {
              const decision = deps.keys.balancer.reportFailure(keyEntry.providerKeyId, {
                now: Date.now(),
                kind,
                retryAfterMs: error.retryAfterMs,
              });
              // As for messages: every replica learns of a disabled or resting key.
              const event = decisionEvent(decision, keyEntry, error);
              if (event) deps.appender.enqueue(event);
            }
          }
          throw error;
        });
        span?.answered(answer, undefined);
        const counted = (answer.json() as { input_tokens?: unknown }).input_tokens;
        if (typeof counted !== 'number')
          throw new GatewayError('upstream_error', 'the provider gave no token count');
        inputTokens = counted;
      } else {
        // count_tokens bodies carry no max_tokens; it does not change the prompt's count.
        const estimate = estimateRequestTokens({
          dialect: 'anthropic-messages',
          body: { max_tokens: 1, ...body },
          model: route!.model,
        });
        if (!estimate.ok) throw new GatewayError('invalid_request', estimate.error);
        inputTokens = estimate.estimate.inputTokens;
      }
      const text = JSON.stringify({ input_tokens: inputTokens });
      res.writeHead(200, answerHeaders('anthropic', requestId, 'application/json'));
      res.end(text);
      trace?.end(200);
    } catch (error) {
      // A provider's 429 stays a 429 with its Retry-After, its 400 a 400 saying why: as for messages.
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
