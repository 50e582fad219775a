import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type GroupCommitAppender,
  isValidId,
  type KordonEventData,
  kordonCatalogue,
  type NewEvent,
  newEventId,
  SpoolFullError,
  streams,
} from '@kordon/events';
import type { FailureKind } from '../balancer/index.js';
import {
  type AdmissionEstimate,
  type CidrSet,
  type LimitsEnforcer,
  parseUsd,
  type Refusal,
  resolveClientIp,
  type Ticket,
} from '../limits/index.js';
import type { IpAddress } from '../limits/ip-address.js';
import { addAmounts, amountOfNumber, type PriceBook } from '../pricing/index.js';
import { fetchesUrls } from '../providers/anthropic/anthropic-url-fetch.js';
import {
  callProvider,
  type ProviderAnswer,
  type ProviderConfig,
  type ProviderKey,
  providerAdapter,
  providerKey,
  RequestNotSendableError,
  storedProviderConfig,
  streamProvider,
} from '../providers/index.js';
import { billsCacheReads } from '../providers/provider-support.js';
import type { ProviderKeyEntry, ProxyKeyEntry, RegistryState } from '../registry/registry.js';
import type { RuntimeSecrets } from '../runtime-secrets.js';
import { decryptSecret } from '../secrets/index.js';
import type { AttemptResult, DataPlaneMetrics, UpstreamAttempt } from '../telemetry/data-plane-metrics.js';
import type { RequestTrace, RequestTracing } from '../telemetry/request-trace.js';
import { ANTHROPIC_TOOL_PROMPT_AUTO, estimatePromptTokens, estimateRequestTokens } from '../tokens/index.js';
import {
  type AnthropicMessagesRequest,
  maxOutputTokensIn,
  openAIChatRequest,
  openAIToAnthropicRequest,
  TranslationError,
} from '../translate/index.js';
import { billedServiceTier, type NormalisedUsage } from '../translate/usage.js';
import { ConnectionSignal } from '../upstream/caller-signal.js';
import { isUpstreamError, type UpstreamClient, type UpstreamError } from '../upstream/index.js';
import type { RateLimitInfo } from '../upstream/rate-limit-headers.js';
import { anthropicBetaOf } from './anthropic-beta.js';
import { authenticate, type Caller, type KeyRefusalRecorder, KeyRefusedError } from './authenticate.js';
import type { BodyBudget, BodyHold } from './body-budget.js';
import { callerStallMs, type Exchange, type ExchangePlanner, endAnswer } from './exchange.js';
import {
  answerHeaders,
  type Dialect,
  GatewayError,
  type GatewayErrorKind,
  saysContextOverflow,
  sendError,
} from './gateway-error.js';
import {
  claudeThreadSession,
  decisionEvent,
  failureKind,
  type KeyChoice,
  OUT_OF_CREDIT_REST_MS,
  outOfCredit,
  saysStorageNotReady,
  saysUrlFetchDisabled,
  storedResponseSession,
} from './key-choice.js';
import { setLimitHeaders } from './limit-headers.js';
import { type LiveRequests, SHUTDOWN_INTERRUPTION, SHUTDOWN_REFUSAL } from './live-requests.js';
import { answerText, type LoggedBodies } from './logged-bodies.js';
import { embeddingsModelAtEnd, offeredToolFees } from './openai-only-exchanges.js';
import { readJsonBodyWithSize } from './read-body.js';
import { isRecordableModelName, type Route, refuseUpstreamModelChoice, routeModel } from './route-model.js';
import { conversationNotFound, conversationSession, namedConversation } from './stored-conversations.js';
import { claudeThreadInputBound, continuedThread, storedInputBound } from './stored-input-bound.js';
import { toolModelsOf } from './tool-models.js';

export interface GenerateDependencies {
  registry: () => RegistryState;
  secrets: RuntimeSecrets;
  client: UpstreamClient;
  keys: KeyChoice;
  /** What of prompts and answers the org's logging policy puts into events, redacted. */
  loggedBodies: LoggedBodies;
  limits: LimitsEnforcer;
  /** The answers streaming now, ended with an error event when the replica shuts down. */
  liveRequests: LiveRequests;
  /** Proxies whose X-Forwarded-For is believed (empty: the TCP peer is the client). */
  trustedProxies: CidrSet;
  /** Which requests with a refused (revoked, expired...) key are recorded. */
  keyRefusals: KeyRefusalRecorder;
  appender: Pick<GroupCommitAppender, 'enqueue' | 'acceptsEvents'>;
  /** The price book of an org: the shipped table under the org's own prices. */
  prices: (orgId: string) => PriceBook;
  maxBodyBytes: number;
  /** How long a request body may send no byte (KORDON_BODY_IDLE_TIMEOUT_MS); default 60 s. */
  bodyIdleTimeoutMs?: number | undefined;
  /** Request bytes the process may hold at once (KORDON_MAX_BODY_BYTES_IN_FLIGHT). */
  bodyBudget: BodyBudget;
  logger: { error(object: object, message: string): void };
  /** OpenTelemetry spans of each request; absent when tracing is off. */
  tracing?: RequestTracing | undefined;
  /** Prometheus metrics of the data plane; absent when off. */
  metrics?: DataPlaneMetrics | undefined;
}

interface Outcome {
  requestId: string;
  caller: Caller;
  endpoint: Endpoint;
  stream: boolean;
  model: string;
  route?: Route;
  key?: ProviderKeyEntry;
  attempts: number;
  startedAt: number;
  /**
   * Epoch milliseconds of the request's arrival: what it is priced at (a price's peak hours,
   * the org's price in effect), so every estimate and cost of one request agree.
   */
  arrivedAtMs: number;
  firstByteAt?: number;
  clientAddress: IpAddress | null;
  /** Canonical text of the client address ("0.0.0.0" when unreadable). */
  clientIp: string;
  /** The caller's conversation id (x-kordon-session-id), for sticky keys. */
  sessionId: string | undefined;
  /** The request's body: for the org's logging policy, and the prompt of a call its caller left. */
  body?: Record<string, unknown>;
  /** Size of the request body: every text token is at least one byte of it. */
  bodyBytes: number;
  /** The request's share of the process's memory budget (its body, its finished answer). */
  hold: BodyHold;
  /** An Anthropic caller's `anthropic-beta` features, passed on to Claude. */
  anthropicBeta?: string | undefined;
  /** What admission holds for the request until its event is written. */
  ticket?: Ticket | undefined;
  /**
   * An answer the provider made (and charged for) that Kordon could not take, too large to
   * hold: the request's failure records its input, counted, and what that cost.
   */
  lostAnswer?: { usage: NormalisedUsage; upstreamStatus: number | null } | undefined;
  /**
   * The model its answer names, where that prices it (an Azure deployment's model version:
   * `priceModelOf`); unset elsewhere, and when the answer named none.
   */
  answerModel?: string | undefined;
  /**
   * The prompts of attempts that timed out after their request was written, counted and priced
   * (each at its attempt's model) where a limit holds the request: their providers bill them
   * whether or not Kordon waited, so the request's one event charges them on top of its own
   * usage (`withPromptsTimedOut`). A cost of null: one of them has no price, or they differ in
   * currency.
   */
  promptsTimedOut?: { inputTokens: number; cost: string | null; currency: string | null } | undefined;
  /** The status of the last provider answer to an attempt that failed (none: null). */
  upstreamStatus?: number | null;
  /** Set when Kordon ended the request's stream itself (shutdown): what the caller is told. */
  interruption?: string | undefined;
  /** The request's spans, when tracing is on. */
  trace?: RequestTrace | undefined;
  /**
   * The answer the provider stored for a follow-up, pinned here to its key: its event names it
   * (`RequestCompleted.storedAnswer`), so that every other replica pins it too.
   */
  storedAnswer?: KordonEventData<'RequestCompleted'>['storedAnswer'] | undefined;
  /**
   * The Messages request an OpenAI chat body becomes for a Claude route (`claudeRequest`), made
   * once: the budget's output bound and its prompt count both read it, each estimate twice.
   */
  claudeRequest?:
    | { route: Route; body: Record<string, unknown>; request: AnthropicMessagesRequest | undefined }
    | undefined;
}

/**
 * `POST /v1/chat/completions` (OpenAI dialect) and `POST /v1/messages` (Anthropic): auth,
 * validation, routing, then each provider of the model's chain and each of its usable keys
 * in turn until one answers; failures before the first byte move on, after it never. The
 * answer is translated when the provider speaks another dialect. Every authenticated
 * request ends in exactly one event: RequestCompleted, RequestRejected or RequestFailed.
 */
export type Endpoint = KordonEventData<'RequestCompleted'>['endpoint'];

export function generateHandler(
  dialect: Dialect,
  endpoint: Endpoint,
  plan: ExchangePlanner,
  deps: GenerateDependencies,
) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newEventId();
    const startedAt = performance.now();
    const arrivedAtMs = Date.now();
    const trace = deps.tracing?.startGenerate(req, endpoint, requestId, startedAt);
    let caller: Caller;
    try {
      caller = authenticate(req, deps.registry(), deps.secrets.proxyKeyHasher, arrivedAtMs);
    } catch (error) {
      // An unknown key is unattributable (no org): answered, not recorded as an org's event. A
      // genuine key that may not be used is recorded in its org, a few times a minute at most.
      const unrecordable =
        error instanceof KeyRefusedError && deps.keyRefusals.take(error.key.proxyKeyId, Date.now())
          ? keepRefusal(
              deps,
              keyRefusedEvent(error, requestId, endpoint, req, deps.trustedProxies, trace?.traceId),
            )
          : undefined;
      const gatewayError = unrecordable ?? asGatewayError(error);
      trace?.unauthenticated(startedAt, gatewayError.status, gatewayError.kind);
      deps.metrics?.unauthenticated(endpoint, gatewayError.status);
      sendError(res, gatewayError, dialect, requestId);
      return;
    }
    trace?.authenticated(startedAt, caller);
    const outcome: Outcome = {
      requestId,
      caller,
      endpoint,
      stream: false,
      model: '',
      attempts: 0,
      startedAt,
      arrivedAtMs,
      clientAddress: null,
      clientIp: '0.0.0.0',
      bodyBytes: 0,
      sessionId: sessionHeader(req),
      trace,
      hold: deps.bodyBudget.holdFor(res),
    };
    const address = resolveClientIp(
      req.socket.remoteAddress,
      req.headers['x-forwarded-for'],
      deps.trustedProxies,
    );
    if (address) {
      outcome.clientAddress = address;
      outcome.clientIp = address.text;
    }
    const abort = new ConnectionSignal();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    // At shutdown past the drain deadline Kordon ends the request itself (LiveRequests):
    // `interruption` tells the caller why, and the record says it was the replica's doing.
    const endsLive = deps.liveRequests.add(() => {
      outcome.interruption = SHUTDOWN_INTERRUPTION;
      abort.abort();
    });
    try {
      const { body, bytes } = await readJsonBodyWithSize(
        req,
        deps.maxBodyBytes,
        outcome.hold,
        deps.bodyIdleTimeoutMs,
      );
      outcome.bodyBytes = bytes;
      outcome.body = body;
      if (dialect === 'anthropic') outcome.anthropicBeta = anthropicBetaOf(req);
      outcome.model = typeof body.model === 'string' ? body.model.slice(0, 200) : '';
      outcome.stream = body.stream === true;
      if (outcome.stream && endpoint === 'embeddings') {
        throw new GatewayError(
          'invalid_request',
          'embeddings are not streamed: leave out `stream` or set it to false',
          {
            param: 'stream',
          },
        );
      }
      if (outcome.stream && endpoint === 'responses.compact') {
        // The compaction API has no `stream` (OpenAI refuses it as an unknown parameter).
        throw new GatewayError('invalid_request', 'a compaction is not streamed: leave out `stream`', {
          param: 'stream',
        });
      }
      if (endpoint === 'responses' && body.background === true) {
        // A background response is made after this call has answered (status "queued", no
        // usage) and billed when the provider finishes it: Kordon would record its prompt only,
        // and a budget or token limit would not hold it. Refused until Kordon follows them.
        throw new GatewayError(
          'invalid_request',
          'background responses are not served through this gateway: the provider finishes them after the call has answered, where their tokens cannot be counted against your limits; leave out `background` (stream the response to follow a long task)',
          { param: 'background' },
        );
      }
      trace?.requested(
        outcome.model,
        outcome.stream,
        maxOutputTokens(body),
        // Where OpenAI documents `seed` and `n`, which then reach the provider as sent.
        endpoint === 'chat.completions' || endpoint === 'completions' ? body : undefined,
      );
      const routes = routeModel(deps.registry(), caller.key.orgId, body.model);
      refuseUpstreamModelChoice(routes, body, dialect);
      admit(deps, outcome, routes[0]!, body, dialect, res);
      await attempt(dialect, plan, body, routes, outcome, deps, res, abort);
    } catch (error) {
      const gatewayError = asGatewayError(error);
      if (abort.aborted && outcome.ticket === undefined && outcome.attempts === 0) {
        // Gone before admission (mid-body): never admitted, so RequestRejected, not
        // RequestFailed, which every replica counts as usage and as a client address.
        const refusal = refusalBeforeAdmission(outcome, gatewayError);
        record(deps, outcome, rejectedOrFailed(deps, refusal, outcome, dialect));
        sendError(res, refusal, dialect, requestId);
        return;
      }
      if (abort.aborted) {
        let prompt: NormalisedUsage | undefined;
        try {
          prompt = promptOfAbandonedCall(deps, outcome, dialect);
        } catch (countError) {
          // The request's one event is written whatever the count does.
          deps.logger.error(
            { err: countError, requestId },
            'counting the prompt of a call its caller left failed',
          );
        }
        const cost = prompt ? price(deps, outcome, prompt) : undefined;
        if (outcome.interruption !== undefined && !res.headersSent) {
          // Shut down while waiting on its provider: a 503 the SDKs retry (on another replica).
          const refusal = new GatewayError('overloaded', SHUTDOWN_REFUSAL);
          record(deps, outcome, failed(outcome, 'gateway_shutdown', prompt, refusal.status, null, cost));
          sendError(res, refusal, dialect, requestId);
          return;
        }
        record(deps, outcome, failed(outcome, 'client_disconnected', prompt, null, null, cost));
        return;
      }
      if (!(gatewayError.kind === 'internal')) {
        record(deps, outcome, rejectedOrFailed(deps, gatewayError, outcome, dialect));
      } else {
        deps.logger.error({ err: error, requestId }, 'generate request failed');
        record(deps, outcome, failed(outcome, 'internal_error', undefined, 500));
      }
      sendError(res, gatewayError, dialect, requestId);
    } finally {
      endsLive();
    }
  };
}

async function attempt(
  dialect: Dialect,
  plan: ExchangePlanner,
  body: Record<string, unknown>,
  routes: Route[],
  outcome: Outcome,
  deps: GenerateDependencies,
  res: ServerResponse,
  signal: ConnectionSignal,
): Promise<void> {
  let lastError: UpstreamError | undefined;
  /** The routes whose keys this request asked: when one of theirs is back, it may ask again. */
  const asked: Route[] = [];
  // A follow-up of a stored answer or conversation goes first to the provider that has it (only
  // it has it), wherever that provider is in the model's chain.
  const stored = storedSessionOf(outcome, body);
  const storedAt = stored === undefined ? undefined : deps.keys.storedAt(stored);
  // A conversation named: pinned to the key that serves it (stored-conversations.ts).
  const conversation =
    outcome.endpoint === 'responses' && body.conversation != null ? conversationOf(outcome, body) : undefined;
  // A provider that lately said it lacks the model is asked after the others (KeyChoice.markAbsent).
  let chain = deps.keys.presentFirst(routes, Date.now());
  if (storedAt !== undefined && chain.length > 1 && chain[0]!.provider.name !== storedAt) {
    const first = chain.find((route) => route.provider.name === storedAt);
    if (first) chain = [first, ...chain.filter((route) => route !== first)];
  }
  // Why the first provider that could not take the request as sent refused it (a field its
  // dialect has no counterpart for): the answer only when no provider of the chain could.
  let untranslatable: TranslationError | undefined;
  // The first provider's word that it has no such model or deployment (Azure's 404
  // DeploymentNotFound): the answer only when no other provider of the chain was there to ask.
  let absent: UpstreamError | undefined;
  /** Whether a provider that did not say it lacks the model could take the request. */
  let present = false;
  /** Providers whose adapter refused the request as sent, before any call (RequestNotSendableError). */
  let refusedBeforeCall = 0;
  /** Providers that serve the endpoint (their exchange planned): none, and the model is not served here. */
  let planned = 0;
  providers: for (const route of chain) {
    const adapter = providerAdapter(route.provider.type);
    const config = providerConfig(route);
    let exchange: Exchange | undefined;
    try {
      exchange = plan(
        dialect,
        adapter,
        config,
        body,
        route,
        outcome.requestId,
        outcome.stream,
        // A follow-up is billed the conversation it continues: counted in, should a stream end
        // unreported.
        storedConversationTokens(deps, outcome, route, body),
      );
    } catch (error) {
      if (!(error instanceof TranslationError)) throw error;
      untranslatable ??= error;
      continue; // the next provider of the chain may take it
    }
    if (!exchange) continue; // this provider does not serve the endpoint: the next one may
    planned++;
    asked.push(route);
    const registry = deps.registry();
    let choosing = performance.now();
    const keys = deps.keys.candidates(registry, route, sessionOf(outcome, route, body), deps.registry);
    // This provider's keys, and those that said (or lately said) they lack the model: when
    // all did, the provider does not serve it (KeyChoice.markAbsent).
    let keysGiven = 0;
    let keysLacking = 0;
    // Whether the request makes Claude fetch a URL: read once, and only when a key said lately
    // that its organization does not (KeyChoice.urlFetchDisabled).
    let fetchingUrls: boolean | undefined;
    const fetchesUrl = () => {
      fetchingUrls ??= adapter.dialect === 'anthropic' && fetchesUrls(exchange.operation.body);
      return fetchingUrls;
    };
    for (let keyEntry = keys.next(Date.now()); keyEntry; keyEntry = keys.next(Date.now())) {
      keysGiven++;
      // In a half-open key, this attempt may be its probe: only reports carrying it decide.
      const probe = keys.probe;
      const offeredAt = Date.now();
      const lacking = deps.keys.lacking(keyEntry.providerKeyId, route.model, offeredAt);
      if (lacking) {
        // Its project said lately it has no such model: the provider's next key is asked.
        absent ??= lacking;
        keysLacking++;
        deps.keys.balancer.reportUnused(keyEntry.providerKeyId, offeredAt, probe);
        continue;
      }
      // It said lately it may not call this endpoint (a scope), that its workspace is not ready
      // (Claude's 503 storage_not_ready), or that its organization fetches no URL and this
      // request has Claude fetch one: the next key is asked, and with none left the caller hears
      // why, as from the call itself (a probe it claimed is freed).
      const remembered = deps.keys.rememberedRefusal(
        keyEntry.providerKeyId,
        exchange.operation.operation,
        offeredAt,
        fetchesUrl,
      );
      if (remembered) {
        lastError = remembered;
        outcome.upstreamStatus = remembered.status ?? null;
        deps.keys.balancer.reportUnused(keyEntry.providerKeyId, offeredAt, probe);
        continue;
      }
      const providerKeyForCall = usableProviderKey(deps, keyEntry);
      if (!providerKeyForCall) {
        // A record this process cannot decrypt: the next key serves.
        deps.keys.balancer.reportUnused(keyEntry.providerKeyId, offeredAt, probe);
        continue;
      }
      outcome.attempts++;
      outcome.route = route;
      outcome.key = keyEntry;
      const trace = outcome.trace;
      trace?.chose(choosing, route, keyEntry, outcome.attempts);
      const span = trace?.attempt(
        route,
        exchange.operation.operation,
        keyEntry,
        outcome.attempts,
        maxOutputTokens(body),
      );
      const call = {
        client: deps.client,
        adapter,
        config,
        key: providerKeyForCall,
        signal,
        timeouts: route.provider.options.timeouts,
        traceHeaders: span?.headers,
        onBodyBytes: outcome.hold.count,
      };
      // Claude gets the features an Anthropic caller asked for; no other provider knows them.
      const operation =
        outcome.anthropicBeta !== undefined && adapter.dialect === 'anthropic'
          ? { ...exchange.operation, anthropicBeta: outcome.anthropicBeta }
          : exchange.operation;
      const sentAt = performance.now();
      // The secret the call goes with: a 401 to it after an admin replaced it is not the key's.
      const secretAtCall = keyEntry.secretCount;
      try {
        if (!outcome.stream) {
          const answer = await callProvider(call, operation);
          const { text, usage, storedId, loggedText, failure } = exchange.answer(answer);
          outcome.answerModel = answerModelOf(route, outcome.endpoint, answer);
          if (storedId) {
            const kind = outcome.endpoint === 'messages' ? 'thread' : 'response';
            pinStoredAnswer(deps, route, outcome, body, keyEntry.providerKeyId, kind, storedId, usage);
          }
          if (conversation !== undefined) deps.keys.pin(route, conversation, keyEntry.providerKeyId);
          outcome.firstByteAt = performance.now();
          span?.answered(answer, usage);
          deps.metrics?.attempt(attemptOf(outcome, route, keyEntry, exchange, 'ok'));
          reportSuccess(deps, keyEntry, probe, performance.now() - sentAt, answer.rateLimits, usage);
          res.writeHead(200, answerHeaders(dialect, outcome.requestId, 'application/json'));
          endAnswer(res, text, callerStallMs(route));
          if (failure !== undefined) {
            // The answer says it failed (a Responses `status: "failed"`): recorded as its stream's
            // `response.failed` is, its usage charged.
            const cost = price(deps, outcome, usage ?? ZERO);
            record(deps, outcome, failed(outcome, failure, usage, 200, answer.status, cost));
            return;
          }
          record(
            deps,
            outcome,
            completed(deps, outcome, usage, 200, {
              full: text,
              text: loggedText ?? (() => answerText(text)),
            }),
          );
          return;
        }
        const events = await streamProvider(call, operation);
        const latencyMs = performance.now() - sentAt;
        span?.streaming(events.status);
        trace?.streamStarted();
        // The key is reported when its stream ends (a stream that fails before anything reached
        // the caller throws, as an error status does): a success, with its tokens, or what broke it.
        await exchange.stream(events, res, outcome, (usage, end, outputText, facts, failure, brokenBy) => {
          span?.streamEnded(usage, end, facts, brokenBy?.code ?? failure);
          const kind = brokenBy === undefined ? 'not_the_key' : failureKind(brokenBy, signal.aborted);
          deps.metrics?.attempt(
            attemptOf(outcome, route, keyEntry, exchange, kind === 'not_the_key' ? 'ok' : kind),
          );
          if (kind === 'not_the_key')
            reportSuccess(deps, keyEntry, probe, latencyMs, events.rateLimits, usage);
          else reportStreamFailure(deps, keyEntry, route.model, probe, kind, brokenBy!, usage);
          if (route.provider.type === 'azure-openai') outcome.answerModel = facts?.responseModel;
          if (outcome.endpoint === 'responses' && facts?.responseId) {
            const id = facts.responseId;
            pinStoredAnswer(deps, route, outcome, body, keyEntry.providerKeyId, 'response', id, usage);
            if (conversation !== undefined) deps.keys.pin(route, conversation, keyEntry.providerKeyId);
          }
          // A threaded answer: Claude holds the thread under its id, for this key's account.
          if (facts?.responseId && threadedAtClaude(outcome, route, body)) {
            const id = facts.responseId;
            pinStoredAnswer(deps, route, outcome, body, keyEntry.providerKeyId, 'thread', id, usage);
          }
          trace?.streamEnded(end, outcome.startedAt, outcome.firstByteAt);
          if (end === 'complete' && failure === undefined) {
            // A stream is logged by its text (the SSE frames are not kept), in both policies.
            const text = outputText ?? (() => '');
            record(deps, outcome, completed(deps, outcome, usage, 200, { full: '', text, streamed: true }));
            return;
          }
          // Tokens already streamed are charged, whatever cut the stream (or failed the answer).
          const code =
            end === 'client_disconnected'
              ? 'client_disconnected'
              : outcome.interruption !== undefined
                ? 'gateway_shutdown'
                : (failure ?? 'stream_interrupted');
          // No status: the 200 that began the stream is not how it ended (the catalogue's
          // RequestFailed.status); the provider's is.
          record(
            deps,
            outcome,
            failed(outcome, code, usage, null, events.status, price(deps, outcome, usage ?? ZERO)),
          );
        });
        return;
      } catch (error) {
        if (error instanceof RequestNotSendableError) {
          // This provider cannot take the request as sent (a field it lacks), whichever key: as
          // when it cannot be translated for it, the next provider of the chain may take it. No
          // call was made: the key is neither at fault nor credited (a probe it took is freed).
          span?.failed(error, undefined, false);
          deps.keys.balancer.reportUnused(keyEntry.providerKeyId, Date.now(), probe);
          outcome.attempts--;
          untranslatable ??= error.refusal;
          refusedBeforeCall++;
          continue providers;
        }
        if (!isUpstreamError(error) || res.headersSent) {
          // Kordon's own fault (or one after the answer began, reported as it ended): a probe
          // this attempt was must not keep the key out of use until the probe's bound.
          deps.keys.balancer.releaseProbe(keyEntry.providerKeyId, Date.now(), probe);
          span?.failed(error, undefined, false);
          if (!res.headersSent) deps.metrics?.attempt(attemptOf(outcome, route, keyEntry, exchange, 'error'));
          throw error;
        }
        lastError = error;
        outcome.upstreamStatus = error.status ?? null;
        const kind = failureKind(error, signal.aborted);
        span?.failed(error, kind, kind !== 'not_the_key' && kind !== 'caller_cancelled');
        deps.metrics?.attempt(attemptOf(outcome, route, keyEntry, exchange, kind));
        const now = Date.now();
        if (kind === 'not_the_key' && error.provider?.modelNotServed) {
          // No such model or deployment here: not the caller's fault, and the key is not at
          // fault nor did it succeed: the balancer learns nothing (a probe it was is freed).
          absent ??= error;
          deps.keys.balancer.releaseProbe(keyEntry.providerKeyId, now, probe);
          if (route.provider.type === 'azure-openai') {
            // Azure's keys all reach the resource's deployments: the next provider of the chain may.
            deps.keys.markAbsent(route, now);
            continue providers;
          }
          // OpenAI's keys of different projects reach different models: the next key may. An
          // OpenAI-compatible server's keys all see its models: its other keys are not asked.
          if (route.provider.type === 'openai-compatible')
            deps.keys.markLackingAtServer(registry, route, keyEntry, error, now);
          else deps.keys.markLacking(keyEntry.providerKeyId, route.model, error, now);
          keysLacking++;
          choosing = performance.now();
          continue;
        }
        if (kind === 'not_the_key' && error.provider?.scopeMissing) {
          // The key may not call this endpoint (a restricted key's scopes) and serves the others:
          // it is neither refused nor a success (a probe it was is freed); the next key may have
          // the scope. It is not asked for the endpoint for a minute; the admin is told, as of a
          // refused key.
          deps.keys.balancer.releaseProbe(keyEntry.providerKeyId, now, probe);
          deps.keys.markScopeMissing(keyEntry.providerKeyId, exchange.operation.operation, error, now);
          deps.logger.error(
            { providerKeyId: keyEntry.providerKeyId, status: error.status, endpoint: outcome.endpoint },
            'a provider key lacks the scope of an endpoint',
          );
          choosing = performance.now();
          continue;
        }
        if (kind === 'not_the_key' && saysUrlFetchDisabled(error)) {
          // The key's Claude organization has URL fetching off: the key works (every request
          // without a URL is served), so it is neither refused nor a success (a probe it was is
          // freed); the next key, of another organization, may fetch the URL. It is not asked for
          // a request that fetches one for a while; with no key left, Claude's 400 is the answer.
          deps.keys.balancer.releaseProbe(keyEntry.providerKeyId, now, probe);
          deps.keys.markUrlFetchDisabled(keyEntry.providerKeyId, error, now);
          choosing = performance.now();
          continue;
        }
        if (kind === 'not_the_key' && conversation !== undefined && conversationNotFound(error)) {
          // This key's project has no such conversation: unless it is the key that served it (then
          // it was deleted), the next key (another project) is asked, the first time in turn. The
          // key is neither at fault nor credited (a probe it was is freed).
          const refusal = conversationElsewhere(deps, conversation, route, keyEntry.providerKeyId, now);
          if (refusal !== 'next_key') throw refusal ?? error;
          lastError = error;
          deps.keys.balancer.releaseProbe(keyEntry.providerKeyId, now, probe);
          choosing = performance.now();
          continue;
        }
        if (kind === 'not_the_key') {
          // The provider refused the request itself: the key works; the caller sees why.
          deps.keys.balancer.reportSuccess(keyEntry.providerKeyId, {
            now,
            latencyMs: performance.now() - sentAt,
            rateLimits: error.rateLimits,
            probe,
          });
          if (error.code === 'upstream_response_too_large') {
            const usage = promptUsage(route, body, billedPromptTokens(deps, outcome, route, body, dialect));
            outcome.lostAnswer = { usage, upstreamStatus: error.status ?? null };
          }
          throw pinnedKeyResting(deps, outcome, route, body, keyEntry.providerKeyId, error, now) ?? error;
        }
        if (kind === 'rate_limited' && error.provider?.quotaModel !== undefined) {
          // Only the model's own quota is spent (Gemini's, OpenAI's, Groq's limits are per model): the
          // key rests for it alone, serving the others; the next key is asked (another project has its own).
          deps.keys.restForModel(keyEntry.providerKeyId, route.model, error.retryAfterMs, now, probe);
          choosing = performance.now();
          continue;
        }
        if (saysStorageNotReady(error)) {
          // The key's workspace is still being connected to its storage: not the key failing nor
          // the provider overloaded (no error counted, no circuit), but it cannot serve for a
          // while (Claude: "try again in a minute"), and a key of another workspace can. It rests
          // for the provider's Retry-After, else a minute, per process (KeyChoice.markNotReady).
          deps.keys.markNotReady(keyEntry.providerKeyId, error, now, probe);
          choosing = performance.now();
          continue;
        }
        if (kind === 'auth_refused' && secretReplacedSince(deps, keyEntry.providerKeyId, secretAtCall)) {
          // The secret refused was replaced while its call was out (the admin rotated the key and
          // revoked the old one): the new secret is judged afresh (decision 0018), not disabled
          // for the old one's 401. Nothing is learnt; the next key is asked.
          deps.keys.balancer.releaseProbe(keyEntry.providerKeyId, now, probe);
          choosing = performance.now();
          continue;
        }
        const decision = deps.keys.balancer.reportFailure(keyEntry.providerKeyId, {
          now,
          kind,
          probe,
          // An account out of credit is not back in a second: it rests minutes, tried again then.
          retryAfterMs: error.retryAfterMs ?? (outOfCredit(error) ? OUT_OF_CREDIT_REST_MS : undefined),
          rateLimits: error.rateLimits,
        });
        const event = decisionEvent(decision, keyEntry, error);
        if (event) deps.appender.enqueue(event);
        if (kind === 'caller_cancelled') throw error; // the caller left: nothing more to try
        if (kind === 'auth_refused')
          deps.logger.error(
            { providerKeyId: keyEntry.providerKeyId, status: error.status },
            'provider refused a provider key',
          );
        // A timeout after the request was written: the provider goes on with it and bills the
        // prompt, whichever key serves next (or none does).
        // (Not one still waiting for a connection: its request was never written.)
        if (PROVIDER_HAD_THE_PROMPT.has(error.code) && error.phase !== 'connect')
          chargePromptTimedOut(deps, outcome, route, body, dialect, keyEntry, now);
        // Nothing reached the caller yet: the next key (or provider) gets the request.
        choosing = performance.now();
      }
    }
    // None of its keys has the model: asked last for it; else not a provider without the model.
    if (keysLacking > 0 && keysLacking === keysGiven) deps.keys.markAbsent(route, Date.now());
    else present = true; // its keys were tried, or none could be
  }
  if (lastError) {
    // Retry-After: when a key that could take this request is back (a provider that cannot
    // translate it, though idle, is no reason to come back sooner); the retry advice: any key.
    const backInMs = msUntilAKeyIsBack(deps, asked);
    const refused = saysStorageNotReady(lastError)
      ? whenAKeyIsBack(asGatewayError(lastError), backInMs)
      : soonestRetry(asGatewayError(lastError), backInMs);
    throw withRetryAdvice(refused, secondsOf(msUntilAKeyIsBack(deps, chain)));
  }
  if (absent && !present) throw asGatewayError(absent);
  // No provider could take the request as sent: why the first one could not.
  if (untranslatable && refusedBeforeCall === planned) throw untranslatable;
  if (planned === 0) {
    throw new GatewayError(
      'invalid_request',
      `the model ${outcome.model} is not served on ${outcome.endpoint} by any provider`,
      {
        param: 'model',
      },
    );
  }
  throw new NoProviderKeyError(outcome.model, secondsOf(msUntilAKeyIsBack(deps, routes)));
}

/** One attempt of a request, as the metrics count it. */
function attemptOf(
  outcome: Outcome,
  route: Route,
  key: ProviderKeyEntry,
  exchange: Exchange,
  result: AttemptResult,
): UpstreamAttempt {
  return {
    orgId: outcome.caller.key.orgId,
    provider: route.provider.name,
    providerKeyId: key.providerKeyId,
    operation: exchange.operation.operation,
    result,
  };
}

/**
 * The longest wait (s) a caller is sent back to retry after: the SDKs sleep what Retry-After
 * says (the Anthropic SDK however long), then ask again. A key back later than this (a daily
 * budget rests until midnight UTC, an account out of credit minutes) is stated, not waited for.
 */
const LONGEST_RETRY_WAIT_SECONDS = 60;

/**
 * Every key that could serve the model is resting (rate limited, circuit open, its daily
 * budget spent) or disabled: 503 with the wait until one is back, and no retry when none is
 * back within a minute (a disabled key never is by itself). The request was admitted, so it
 * ends as RequestFailed `no_provider_key`, not as a refusal of the caller.
 */
class NoProviderKeyError extends GatewayError {
  constructor(model: string, secondsUntilBack: number | undefined) {
    super('overloaded', `no provider key can serve ${model} right now`, {
      ...(secondsUntilBack !== undefined && { retryAfterSeconds: secondsUntilBack }),
      noRetry: secondsUntilBack === undefined || secondsUntilBack > LONGEST_RETRY_WAIT_SECONDS,
    });
  }
}

/**
 * The answer to the last key's failure once no key is left to try: the SDKs retry it (a 5xx,
 * a 429) unless told not to, and they are when no key of the model can be back within a minute
 * (disabled, out of credit, resting for hours): the retry would meet no key at all.
 */
function withRetryAdvice(error: GatewayError, secondsUntilBack: number | undefined): GatewayError {
  if (error.options.noRetry) return error;
  if (secondsUntilBack !== undefined && secondsUntilBack <= LONGEST_RETRY_WAIT_SECONDS) return error;
  return new GatewayError(error.kind, error.message, { ...error.options, noRetry: true });
}

function reportSuccess(
  deps: GenerateDependencies,
  key: ProviderKeyEntry,
  probe: number,
  latencyMs: number,
  rateLimits: RateLimitInfo | undefined,
  usage: NormalisedUsage | undefined,
): void {
  const decision = deps.keys.balancer.reportSuccess(key.providerKeyId, {
    now: Date.now(),
    latencyMs,
    rateLimits,
    tokens: usage ? usage.inputTokens + usage.outputTokens : undefined,
    probe,
  });
  const event = decisionEvent(decision, key, { status: undefined, retryAfterMs: undefined });
  if (event) deps.appender.enqueue(event);
}

/**
 * A stream that broke on the provider's side after reaching the caller: the key failed as
 * the error status its stream said would have (a mid-stream overload rests it as a 529 does);
 * the tokens it streamed still count against its tpm.
 */
function reportStreamFailure(
  deps: GenerateDependencies,
  key: ProviderKeyEntry,
  model: string,
  probe: number,
  kind: FailureKind,
  error: UpstreamError,
  usage: NormalisedUsage | undefined,
): void {
  const now = Date.now();
  if (usage) deps.keys.balancer.reportTokens(key.providerKeyId, usage.inputTokens + usage.outputTokens, now);
  if (kind === 'rate_limited' && error.provider?.quotaModel !== undefined) {
    // A quota of the model's own ran out mid-stream (Gemini's): the key rests for it alone, as
    // when the quota refuses before the stream.
    deps.keys.restForModel(key.providerKeyId, model, error.retryAfterMs, now, probe);
    return;
  }
  const decision = deps.keys.balancer.reportFailure(key.providerKeyId, {
    now,
    kind,
    retryAfterMs: error.retryAfterMs,
    rateLimits: error.rateLimits,
    probe,
  });
  const event = decisionEvent(decision, key, error);
  if (event) deps.appender.enqueue(event);
}

/**
 * In how many ms the first key of the model's providers is usable again (at least 1: every
 * key was just tried or is resting), or undefined when none will be by itself (every key
 * disabled: an admin must act).
 */
export function msUntilAKeyIsBack(deps: GenerateDependencies, routes: Route[]): number | undefined {
  const now = Date.now();
  const registry = deps.registry();
  let soonest = Number.POSITIVE_INFINITY;
  for (const route of routes) {
    const at = deps.keys.nextUsableAt(registry, route, now);
    if (at !== null) soonest = Math.min(soonest, at);
  }
  return Number.isFinite(soonest) ? Math.max(1, soonest - now) : undefined;
}

/**
 * A workspace not ready (Claude's 503 storage_not_ready) said by every key asked: the caller may
 * come back when the first key is back (each rests on it), said as Retry-After even when Claude
 * sent none, so that the SDKs do not ask again at once and meet the same resting keys.
 */
export function whenAKeyIsBack(error: GatewayError, backInMs: number | undefined): GatewayError {
  if (backInMs === undefined) return error;
  const retryAfterMs = error.options.retryAfterMs ?? backInMs;
  return new GatewayError(error.kind, error.message, {
    ...error.options,
    retryAfterSeconds: secondsOf(Math.min(retryAfterMs, backInMs))!,
    retryAfterMs: Math.min(retryAfterMs, backInMs),
  });
}

/** How much sooner than the last refusal's Retry-After another key must be back to be named. */
const SOONER_BY_MS = 1_000;

/** A wait in whole seconds for Retry-After: never 0 while a key still rests. */
function secondsOf(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The last key's refusal carries that key's Retry-After, but the caller may retry as soon as
 * any key is back: the soonest of the two (the keys rest on what their providers said, so
 * this is never later than the upstream's own), in Retry-After and retry-after-ms alike.
 */
function soonestRetry(error: GatewayError, backInMs: number | undefined): GatewayError {
  const { retryAfterSeconds, retryAfterMs } = error.options;
  if (retryAfterSeconds === undefined || backInMs === undefined) return error;
  const upstreamMs = retryAfterMs ?? retryAfterSeconds * 1000;
  // The key that refused last rests from its answer on, so it comes back a few ms before its own
  // Retry-After says: only another key back at least a second sooner changes the advice (the
  // provider's own figure, to the ms, is passed on as it came otherwise).
  if (backInMs > upstreamMs - SOONER_BY_MS) return error;
  return new GatewayError(error.kind, error.message, {
    ...error.options,
    retryAfterSeconds: Math.min(retryAfterSeconds, secondsOf(backInMs)!),
    retryAfterMs: backInMs,
  });
}

/**
 * Which conversation a request belongs to, for sticky keys: the answer it continues
 * (`storedResponseSession`: that answer is found only by the key that made it, whatever the
 * stickiness setting; every replica learns it from the answer's event, see balancer.md), else
 * the caller's `x-kordon-session-id`, or (with `prompt-prefix`) a digest of the prompt's
 * beginning.
 */
function sessionOf(outcome: Outcome, route: Route, body: Record<string, unknown>): string | undefined {
  const stored = storedSessionOf(outcome, body);
  if (stored !== undefined) return stored;
  const mode = route.provider.options.stickiness ?? 'session';
  if (mode === 'off') return undefined;
  if (outcome.sessionId) return outcome.sessionId;
  if (mode !== 'prompt-prefix') return undefined;
  const prompt = body.messages ?? body.input ?? body.contents;
  if (prompt === undefined) return undefined;
  // The beginning only: the system prompt and the first two turns, cut to 2 KB.
  const first = Array.isArray(prompt) ? prompt.slice(0, 2) : prompt;
  const head = JSON.stringify([body.system ?? null, first]).slice(0, 2048);
  return `prefix:${head}`;
}

/**
 * The stored state a request continues, under which its key is pinned: for Responses the answer
 * it follows, else the conversation it names (OpenAI refuses both at once; the answer's key says
 * so); for Messages the Claude thread it continues (`previous_message_id`).
 */
function storedSessionOf(outcome: Outcome, body: Record<string, unknown>): string | undefined {
  if (outcome.endpoint === 'messages') {
    const previous = continuedThread(body);
    return previous === undefined ? undefined : claudeThreadSession(outcome.caller.key.orgId, previous);
  }
  if (!continuesResponses(outcome.endpoint)) return undefined;
  if (typeof body.previous_response_id === 'string')
    return storedResponseSession(outcome.caller.key.orgId, body.previous_response_id);
  return body.conversation == null || outcome.endpoint !== 'responses'
    ? undefined
    : conversationOf(outcome, body);
}

/**
 * The calls that may continue a stored response (`previous_response_id`): a new response and a
 * compaction. Each goes to the key that stored it, and is billed the conversation it holds.
 */
function continuesResponses(endpoint: Endpoint): boolean {
  return endpoint === 'responses' || endpoint === 'responses.compact';
}

/**
 * An answer the provider stored (a Responses answer, or a Claude answer that holds a thread),
 * pinned to the key that made it, here and, named in the request's event
 * (`RequestCompleted.storedAnswer`), on the other replicas. Only when a follow-up can name it: a
 * Claude thread, or a Responses answer not asked with `store: false` (OpenAI keeps nothing then:
 * a `previous_response_id` or a retrieve naming it is "not found"). A caller that never stores
 * (a stateless agent) would otherwise fill the table of the last 65,536 pins (~18 MB of heap
 * when full, in a soak with the mock's 15-character ids) with answers no follow-up can name, and
 * push out the pins of stored ones. An id that is not an id token is pinned here all the same,
 * but not named in the event.
 */
function pinStoredAnswer(
  deps: GenerateDependencies,
  route: Route,
  outcome: Outcome,
  body: Record<string, unknown>,
  providerKeyId: string,
  kind: 'response' | 'thread',
  id: string,
  usage: NormalisedUsage | undefined,
): void {
  if (kind === 'response' && body.store === false) return;
  const orgId = outcome.caller.key.orgId;
  const session = kind === 'thread' ? claudeThreadSession(orgId, id) : storedResponseSession(orgId, id);
  deps.keys.pin(route, session, providerKeyId, tokensOf(usage));
  if (isValidId(id)) outcome.storedAnswer = { kind, id };
}

/** A Messages request with `thread` sent to Claude: its answer holds the thread at the key's account. */
function threadedAtClaude(outcome: Outcome, route: Route, body: Record<string, unknown>): boolean {
  return (
    outcome.endpoint === 'messages' &&
    providerAdapter(route.provider.type).dialect === 'anthropic' &&
    body.thread !== undefined &&
    body.thread !== null
  );
}

/** The session of the conversation a Responses body names, if any (stored-conversations.ts). */
function conversationOf(outcome: Outcome, body: Record<string, unknown>): string | undefined {
  const id = namedConversation(body);
  return id === undefined ? undefined : conversationSession(outcome.caller.key.orgId, id);
}

/**
 * A key said it has no such conversation. The key that served it: the answer stands
 * (undefined). While that key rests, another key (of another project) cannot have it: a 429
 * until it is back, as for a stored answer (pinnedKeyResting). Else: the next key is asked.
 */
function conversationElsewhere(
  deps: GenerateDependencies,
  session: string,
  route: Route,
  providerKeyId: string,
  now: number,
): GatewayError | 'next_key' | undefined {
  const pinned = deps.keys.storedKey(session);
  if (pinned?.provider !== route.provider.name) return 'next_key';
  if (pinned.providerKeyId === providerKeyId) return undefined;
  return holderResting(deps, pinned.providerKeyId, 'the conversation', now) ?? 'next_key';
}

/** Most output tokens assumed for a request that sets no max_tokens, for its budget reservation. */
const DEFAULT_OUTPUT_ESTIMATE = 4096;

/** A request refused by a limit: answered 403 or 429, recorded as RequestRejected with the limit. */
export class LimitRefusalError extends GatewayError {
  constructor(
    readonly refusal: Refusal,
    /** How the caller is answered, when not as the refusal says (recorded as the refusal all the same). */
    answer?: {
      kind: GatewayErrorKind;
      message: string;
      options: ConstructorParameters<typeof GatewayError>[2];
    },
  ) {
    const options: ConstructorParameters<typeof GatewayError>[2] = { rates: refusal.rates };
    if (refusal.retryAfterSeconds !== undefined) options.retryAfterSeconds = refusal.retryAfterSeconds;
    // OpenAI's 429 names the budget that ran out as its type: `tokens` for tokens per minute.
    if (refusal.reason === 'rate_limit_tpm') options.type = 'tokens';
    super(
      answer?.kind ??
        (refusal.status === 403 ? 'forbidden' : refusal.quota ? 'quota_exceeded' : 'rate_limited'),
      answer?.message ?? refusal.message,
      answer?.options ?? options,
    );
  }
}

/**
 * A budget that cannot hold a Claude thread's continuation this process has no record of (the
 * thread not made through Kordon, made through another replica whose event has not arrived yet,
 * or older than the threads remembered: held at Claude's largest window). Claude
 * answers a thread it cannot find with 404 `thread_not_found`, on which the Anthropic SDK replays
 * the conversation under a new thread; Kordon answers the same here, so the caller recovers on its
 * own and the replay is held at its real size, where a 429 would be retried to the same end.
 * Recorded as the budget's refusal.
 */
function unrecordedThreadRefusal(refusal: Refusal, previousMessageId: string): LimitRefusalError {
  return new LimitRefusalError(refusal, {
    kind: 'not_found',
    message:
      `this gateway has no record of the thread continued from ${previousMessageId} (not made through it, ` +
      `or no longer remembered), so it cannot tell what the continuation bills, and ${refusal.message}; ` +
      'replay the conversation under a new thread (`thread: {"type": "create"}`)',
    // The rates as they stand, as on every limit refusal after them (Claude's 404 has its own).
    options: { param: 'thread', anthropicDetails: { error_code: 'thread_not_found' }, rates: refusal.rates },
  });
}

/**
 * A call refused because the model lists of the caller's scopes, together, allow no model of
 * the keys it needs (stored answers): a 403 recorded `model_forbidden`, as on chat; no one
 * scope's limit, so no `limitScope`.
 */
export class ModelListsRefusalError extends GatewayError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/**
 * Every limit of the caller's key, user, team and org, before any provider is asked. The
 * budget estimate (prompt tokens counted, plus max_tokens or a default, at the model's
 * price) is made only when a budget or a token rate applies.
 */
function admit(
  deps: GenerateDependencies,
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
  dialect: Dialect,
  res: ServerResponse,
): void {
  const { key, user } = outcome.caller;
  const admittedAt = performance.now();
  const now = Date.now();
  const admission = deps.limits.admit(
    {
      orgId: key.orgId,
      proxyKeyId: key.proxyKeyId,
      userId: user.userId,
      teamId: key.teamId,
      requestId: outcome.requestId,
      clientAddress: outcome.clientAddress,
      model: route.model,
      // A model named in a tool (an image model, an advisor) is held to the same lists.
      toolModels: toolModelsOf(body),
    },
    (precision) => estimateOf(deps, outcome, route, body, dialect, precision),
    now,
  );
  outcome.trace?.admission(admittedAt, admission.ok ? undefined : admission);
  if (!admission.ok) {
    const thread =
      dialect === 'anthropic' && isBudgetRefusal(admission)
        ? unrecordedThread(deps, outcome, route, body)
        : undefined;
    throw thread === undefined
      ? new LimitRefusalError(admission)
      : unrecordedThreadRefusal(admission, thread);
  }
  outcome.ticket = admission;
  setLimitHeaders(res, dialect, admission.rates, now);
}

function isBudgetRefusal(refusal: Refusal): boolean {
  return refusal.reason === 'budget_usd' || refusal.reason === 'budget_tokens';
}

/**
 * The reply a Claude thread's continuation continues, when this process has no record of the
 * thread at the route's provider (its hold was then Claude's largest window); else undefined.
 */
function unrecordedThread(
  deps: GenerateDependencies,
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
): string | undefined {
  if (outcome.endpoint !== 'messages' || providerAdapter(route.provider.type).dialect !== 'anthropic')
    return undefined;
  const previous = continuedThread(body);
  if (previous === undefined) return undefined;
  return heldAt(deps, claudeThreadSession(outcome.caller.key.orgId, previous), route) === undefined
    ? previous
    : undefined;
}

function estimateOf(
  deps: GenerateDependencies,
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
  dialect: Dialect,
  precision: 'bound' | 'exact',
): AdmissionEstimate {
  // Without a bound of its own, a request to Claude is sent the translate layer's `max_tokens`:
  // the provider's `defaultMaxTokens`, else the model's ceiling from Claude 4.5 on (64,000 on
  // Sonnet 4.5), plus the thinking budget `reasoning_effort` adds to it.
  const asked =
    maxOutputTokens(body) ??
    (route.provider.type === 'anthropic'
      ? (claudeRequest(outcome, route, body, dialect)?.max_tokens ?? route.provider.options.defaultMaxTokens)
      : undefined);
  // A request translated to the provider's dialect goes with a maximum above the model's
  // ceiling lowered to it (Claude Code's 32,000 to gpt-4o: 16,384): held at what is sent. One
  // sent as written keeps its own: the provider refuses it above the ceiling, and a server that
  // serves a name the tables know is not held to them (an Azure deployment, a proxy).
  const providerDialect = providerAdapter(route.provider.type).dialect;
  const translated =
    (outcome.endpoint === 'chat.completions' || outcome.endpoint === 'messages') &&
    providerDialect !== dialect;
  const ceiling = translated ? maxOutputTokensIn(providerDialect, route.model) : undefined;
  const maxOutput = asked !== undefined && ceiling !== undefined ? Math.min(asked, ceiling) : asked;
  // Each of `n` choices may run to the bound, and each is billed (OpenAI; Gemini's candidates).
  const choices =
    outcome.endpoint === 'chat.completions' &&
    typeof body.n === 'number' &&
    Number.isInteger(body.n) &&
    body.n > 1
      ? Math.min(body.n, 128)
      : 1;
  const outputTokens =
    outcome.endpoint === 'embeddings'
      ? 0
      : Math.min(maxOutput ?? DEFAULT_OUTPUT_ESTIMATE, 1_000_000) * choices;
  // Text costs at least one byte per token, so the body's size bounds its prompt; images and
  // token-id arrays do not, and are always counted.
  const bound = precision === 'bound' && textOnly(body, outcome.endpoint);
  const own = bound
    ? outcome.bodyBytes + providerToolPrompt(route, body)
    : exactInputTokens(outcome, route, body, dialect);
  // A Responses follow-up is billed the stored conversation it continues, and a Claude thread's
  // continuation the conversation its thread holds, which their bodies do not carry.
  const stored = continuesResponses(outcome.endpoint)
    ? storedInputBound(route, body, (id) =>
        deps.keys.conversationTokens(storedResponseSession(outcome.caller.key.orgId, id)),
      )
    : outcome.endpoint === 'messages' && providerAdapter(route.provider.type).dialect === 'anthropic'
      ? claudeThreadInputBound(body, route.model, outcome.anthropicBeta, (id) =>
          heldAt(deps, claudeThreadSession(outcome.caller.key.orgId, id), route),
        )
      : undefined;
  const inputTokens =
    stored === undefined ? own : stored.whole ? Math.max(own, stored.tokens) : own + stored.tokens;
  const claude = route.provider.type === 'anthropic';
  // OpenAI's and Claude's built-in tools billed apiece: one call of each search tool offered
  // (Claude's: its `max_uses`); a tool billed in a way Kordon cannot price is a cost no USD
  // budget can hold (decision 0014).
  const tools = offeredToolFees(outcome.endpoint, body, route.model);
  if (tools.unpriced !== undefined)
    return { bound, usd: null, unpriced: tools.unpriced, inputTokens, outputTokens };
  // A prompt Claude is asked to write to its cache bills at the write rate (1.25x input, 2x
  // for the 1-hour cache): held whole at it, an upper bound whatever part is written.
  const cacheWrite = claude && dialect === 'anthropic' ? cacheWriteAsked(body) : undefined;
  const usage: NormalisedUsage = {
    inputTokens,
    outputTokens,
    cachedInputTokens: 0,
    ...(cacheWrite === '1h' && { cacheWrite1hTokens: inputTokens }),
    ...(cacheWrite === '5m' && { cacheWriteTokens: inputTokens }),
    ...askedRates(route, body),
  };
  const priced = price(deps, outcome, { ...usage, ...tools.usage }, route);
  const usd = priced.currency === 'USD' && priced.cost !== null ? parseUsd(priced.cost) : null;
  // A model priced for its tokens but not for the searches it is offered (an org's own model).
  const unpriced =
    usd === null && tools.offered !== undefined && price(deps, outcome, usage, route).currency === 'USD'
      ? `${route.model} has no price for ${tools.offered} calls; send the request without them`
      : undefined;
  return { bound, usd, ...(unpriced && { unpriced }), inputTokens, outputTokens };
}

/**
 * The rates a request asks to be billed at: OpenAI's priority or flex processing, Claude's
 * US-only inference (1.1x) or fast mode (a multiple). Its estimate is held at them, and so is
 * the prompt a provider had when no answer says how it ran (a call that timed out, or was left).
 */
function askedRates(
  route: Route,
  body: Record<string, unknown>,
): Pick<NormalisedUsage, 'serviceTier' | 'inferenceGeo' | 'speed'> {
  const type = route.provider.type;
  if (type === 'openai' || type === 'azure-openai') {
    const tier = billedServiceTier(body.service_tier);
    return tier === undefined ? {} : { serviceTier: tier };
  }
  if (type !== 'anthropic') return {};
  return {
    ...(body.inference_geo === 'us' && { inferenceGeo: 'us' as const }),
    ...(body.speed === 'fast' && { speed: 'fast' as const }),
  };
}

/** The usage of a prompt a provider had and answered no one for, at the rates it asked for. */
function promptUsage(route: Route, body: Record<string, unknown>, inputTokens: number): NormalisedUsage {
  return { ...ZERO, inputTokens, ...askedRates(route, body) };
}

/**
 * The prompt cache a Messages request asks Claude to write: `1h` when any breakpoint
 * (`cache_control` on the request, a system block, a tool, a message's block or a tool
 * result's block) has `ttl: "1h"`, `5m` when there are only others, undefined without any.
 */
function cacheWriteAsked(body: Record<string, unknown>): '1h' | '5m' | undefined {
  let asked: '1h' | '5m' | undefined;
  const mark = (holder: unknown): boolean => {
    const control = (holder as { cache_control?: unknown } | null)?.cache_control;
    if (typeof control !== 'object' || control === null) return false;
    asked = (control as { ttl?: unknown }).ttl === '1h' ? '1h' : '5m';
    return asked === '1h';
  };
  const marksIn = (blocks: unknown): boolean => {
    if (!Array.isArray(blocks)) return false;
    for (const block of blocks) {
      if (typeof block !== 'object' || block === null) continue;
      if (mark(block) || marksIn((block as { content?: unknown }).content)) return true;
    }
    return false;
  };
  if (mark(body) || marksIn(body.system) || marksIn(body.tools)) return '1h';
  if (Array.isArray(body.messages))
    for (const message of body.messages)
      if (marksIn((message as { content?: unknown } | null)?.content)) return '1h';
  return asked;
}

/** The tokens of the conversation an answer ends: what a follow-up to it is billed as input. */
function tokensOf(usage: NormalisedUsage | undefined): number | undefined {
  return usage ? usage.inputTokens + usage.outputTokens : undefined;
}

/**
 * The stored conversation a Responses follow-up (`previous_response_id`) or a Claude thread's
 * continuation (`previous_message_id`) continues at the route's provider, as recorded when this
 * process made the answer it follows or learnt it from the answer's event (another replica's):
 * billed as input, though the body does not carry it. Undefined when not recorded here (or
 * stored elsewhere).
 */
function storedConversationTokens(
  deps: GenerateDependencies,
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
): number | undefined {
  if (outcome.endpoint === 'messages') {
    const previous = continuedThread(body);
    return previous === undefined
      ? undefined
      : heldAt(deps, claudeThreadSession(outcome.caller.key.orgId, previous), route);
  }
  const previous = body.previous_response_id;
  if (!continuesResponses(outcome.endpoint) || typeof previous !== 'string') return undefined;
  return heldAt(deps, storedResponseSession(outcome.caller.key.orgId, previous), route);
}

/** The recorded tokens of a pinned session's conversation, when the route's provider holds it. */
function heldAt(deps: GenerateDependencies, session: string, route: Route): number | undefined {
  return deps.keys.storedAt(session) === route.provider.name
    ? deps.keys.conversationTokens(session)
    : undefined;
}

/**
 * A Responses follow-up whose stored answer's key is resting (a 429's Retry-After, an open
 * circuit) went to another key, which may be of another project and not have it
 * (`previous_response_not_found`, a 400 no SDK retries): the caller is told the truth, a 429
 * until that key is back, which the SDKs wait for and retry. Undefined: the provider's answer
 * stands.
 */
function pinnedKeyResting(
  deps: GenerateDependencies,
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
  providerKeyId: string,
  error: UpstreamError,
  now: number,
): GatewayError | undefined {
  const previous = body.previous_response_id;
  if (error.provider?.code !== 'previous_response_not_found' || typeof previous !== 'string')
    return undefined;
  const stored = deps.keys.storedKey(storedResponseSession(outcome.caller.key.orgId, previous));
  if (stored?.provider !== route.provider.name || stored.providerKeyId === providerKeyId) return undefined;
  return holderResting(deps, stored.providerKeyId, previous, now);
}

/** A 429 until the key that holds `what` (a stored answer, a conversation) is back; none when it is. */
export function holderResting(
  deps: GenerateDependencies,
  holderKeyId: string,
  what: string,
  now: number,
): GatewayError | undefined {
  const until = deps.keys.balancer.usableAt(holderKeyId, now);
  if (until <= now) return undefined;
  const seconds = Math.ceil((until - now) / 1000);
  return new GatewayError(
    'rate_limited',
    `the provider key that holds ${what} is resting for ${seconds} s; ask again then`,
    { retryAfterSeconds: seconds },
  );
}

/** The input a provider bills for a prompt it had: the body's, and a follow-up's conversation. */
function billedPromptTokens(
  deps: GenerateDependencies,
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
  dialect: Dialect,
): number {
  return (
    exactInputTokens(outcome, route, body, dialect) +
    (storedConversationTokens(deps, outcome, route, body) ?? 0)
  );
}

/**
 * Tokens the provider adds to the prompt itself, which the body's bytes do not bound: Claude's
 * tool-use system prompt when tools are offered (the larger of its sizes, whatever tool_choice).
 */
function providerToolPrompt(route: Route, body: Record<string, unknown>): number {
  return route.provider.type === 'anthropic' && Array.isArray(body.tools) && body.tools.length > 0
    ? ANTHROPIC_TOOL_PROMPT_AUTO
    : 0;
}

function exactInputTokens(
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
  dialect: Dialect,
): number {
  // Counted as the provider will bill it: an OpenAI chat request sent to Claude becomes a
  // Messages request, with Claude's tool-use prompt and Claude's rules for its parts.
  const asClaude = claudeInputTokens(claudeRequest(outcome, route, body, dialect), route);
  if (asClaude !== undefined) return asClaude;
  const estimateDialect =
    outcome.endpoint === 'embeddings'
      ? 'openai-embeddings'
      : continuesResponses(outcome.endpoint)
        ? 'openai-responses'
        : dialect === 'openai'
          ? 'openai-chat'
          : 'anthropic-messages';
  // A body the estimator cannot read: the whole prompt counted as text (system, tools and all).
  return estimatePromptTokens({ dialect: estimateDialect, body, model: route.model });
}

/**
 * The Messages request an OpenAI chat body routed to Claude is translated to; undefined for
 * another request, or one that cannot be translated (refused later, with its message).
 */
function claudeRequest(
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
  dialect: Dialect,
): AnthropicMessagesRequest | undefined {
  if (outcome.endpoint !== 'chat.completions' || dialect !== 'openai' || route.provider.type !== 'anthropic')
    return undefined;
  const made = outcome.claudeRequest;
  if (made?.route === route && made.body === body) return made.request;
  let request: AnthropicMessagesRequest | undefined;
  const parsed = openAIChatRequest.safeParse({ ...body, model: route.model });
  if (parsed.success) {
    const { defaultMaxTokens } = route.provider.options;
    try {
      request = openAIToAnthropicRequest(
        parsed.data,
        defaultMaxTokens === undefined ? {} : { defaultMaxTokens },
      );
    } catch (error) {
      if (!(error instanceof TranslationError)) throw error;
    }
  }
  outcome.claudeRequest = { route, body, request };
  return request;
}

/** An OpenAI chat body counted as the Messages request it is translated to; undefined when it cannot be. */
function claudeInputTokens(
  translated: AnthropicMessagesRequest | undefined,
  route: Route,
): number | undefined {
  if (translated === undefined) return undefined;
  const estimate = estimateRequestTokens({
    dialect: 'anthropic-messages',
    body: translated,
    model: route.model,
  });
  return estimate.ok ? estimate.estimate.inputTokens : undefined;
}

function maxOutputTokens(body: Record<string, unknown>): number | null {
  for (const field of ['max_completion_tokens', 'max_tokens', 'max_output_tokens'] as const) {
    const value = body[field];
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  }
  return null;
}

const TEXT_PARTS = new Set(['text', 'input_text', 'output_text', 'tool_use', 'tool_result']);

/** Whether every part of the prompt is text (strings, text parts): then bytes bound tokens. */
function textOnly(body: Record<string, unknown>, endpoint: Endpoint): boolean {
  if (endpoint === 'embeddings') {
    const input = body.input;
    return (
      typeof input === 'string' || (Array.isArray(input) && input.every((item) => typeof item === 'string'))
    );
  }
  if (continuesResponses(endpoint)) return typeof body.input === 'string';
  const messages = body.messages;
  if (!Array.isArray(messages)) return false;
  for (const message of messages) {
    const content = (message as { content?: unknown } | null)?.content;
    if (typeof content === 'string' || content === null || content === undefined) continue;
    if (!Array.isArray(content)) return false;
    for (const part of content) {
      const type = (part as { type?: unknown } | null)?.type;
      if (typeof type !== 'string' || !TEXT_PARTS.has(type)) return false;
      if (type === 'tool_result' && typeof (part as { content?: unknown }).content !== 'string') return false;
    }
  }
  return true;
}

/** The caller's conversation id for sticky keys, when it gives one (bounded, printable). */
function sessionHeader(req: IncomingMessage): string | undefined {
  const value = req.headers['x-kordon-session-id'];
  return typeof value === 'string' && value.length > 0 && value.length <= 256 ? value : undefined;
}

/**
 * Decrypted provider keys, kept in this process's memory per encrypted record (a rotation
 * brings a new record object, so a stale secret is never used): one AES-GCM unwrap and
 * decrypt per key, not per request; null for a record this process cannot decrypt.
 */
const decrypted = new WeakMap<ProviderKeyEntry['secret'], ProviderKey | null>();

/** A provider's error code passed on to the caller: a plain identifier, nothing else. */
const PROVIDER_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Whether the key's secret was replaced (ProviderKeyRotated `replaced`) since `secretCount`. */
export function secretReplacedSince(
  deps: GenerateDependencies,
  providerKeyId: string,
  secretCount: number,
): boolean {
  const current = deps.registry().providerKeys.get(providerKeyId);
  return current !== undefined && current.secretCount !== secretCount;
}

/**
 * The key's secret for a call, or undefined when this process cannot decrypt its record (a
 * master key it lacks: a replica not yet given a rotation's new key). Logged once a record;
 * the key is not disabled, since other replicas may read it.
 */
export function usableProviderKey(
  deps: Pick<GenerateDependencies, 'secrets' | 'logger'>,
  key: ProviderKeyEntry,
): ProviderKey | undefined {
  const cached = decrypted.get(key.secret);
  if (cached !== undefined) return cached ?? undefined;
  try {
    const context = { orgId: key.orgId, providerKeyId: key.providerKeyId };
    const secret = decryptSecret(key.secret, context, deps.secrets.masterKeys).reveal();
    const usable = providerKey(key.providerKeyId, secret);
    decrypted.set(key.secret, usable);
    return usable;
  } catch (error) {
    decrypted.set(key.secret, null);
    deps.logger.error(
      { err: error, providerKeyId: key.providerKeyId },
      'a provider key cannot be decrypted with this process master keys: it is skipped',
    );
    return undefined;
  }
}

export function providerConfig(route: Route): ProviderConfig {
  return storedProviderConfig(route.provider.baseUrl, route.provider.options);
}

/** Claude's own `error.type` of a refusal passed on to Anthropic callers, when it is one. */
function anthropicTypeOf(error: UpstreamError): { anthropicType?: string } {
  const type = error.provider?.code;
  return type !== undefined && ANTHROPIC_ERROR_TYPE.test(type) ? { anthropicType: type } : {};
}

/** An Anthropic `error.type`: a snake_case name ending in `_error` (`api_error`, `overloaded_error`). */
const ANTHROPIC_ERROR_TYPE = /^[a-z][a-z_]{0,58}_error$/;

/** What the caller is answered for an error: a provider's refusal in the caller's terms. */
export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof RequestNotSendableError) return asGatewayError(error.refusal);
  if (error instanceof TranslationError) {
    return new GatewayError('invalid_request', error.message, {
      param: error.param ?? null,
      ...(error.anthropicDetails !== undefined && { anthropicDetails: error.anthropicDetails }),
    });
  }
  if (isUpstreamError(error)) {
    const retryAfterSeconds =
      error.retryAfterMs === undefined ? undefined : Math.ceil(error.retryAfterMs / 1000);
    const options =
      retryAfterSeconds === undefined ? {} : { retryAfterSeconds, retryAfterMs: error.retryAfterMs };
    // Before the 429s and 400s: OpenAI says it with a 429, Claude with a 400, neither is the caller's.
    if (outOfCredit(error))
      return new GatewayError(
        'upstream_out_of_credit',
        'the provider account behind this gateway is out of credit or quota; ask an admin to top it up',
        // Not back until someone pays: both SDKs would retry a 503 twice, each refused again.
        { noRetry: true },
      );
    if (error.status === 429) {
      // OpenAI's type says which budget ran out (`tokens`, `requests`): what the caller spreads.
      const type = error.provider?.openAIType;
      return new GatewayError(
        'rate_limited',
        `the provider is rate limiting: ${error.provider?.message ?? error.message}`,
        {
          ...options,
          ...(type !== undefined && PROVIDER_CODE.test(type) && { type }),
          // Larger than the key's whole limit: the same request is refused however long one waits.
          ...(error.provider?.type === 'request_too_large' && { noRetry: true }),
        },
      );
    }
    if (saysStorageNotReady(error))
      // Claude's workspace is not ready (storage_not_ready), every key asked: said as Claude said
      // it to Anthropic callers (its 503, its type and `error.details`, for the SDK's
      // StorageNotReadyError), as the 503 of an unavailable provider to OpenAI's.
      return new GatewayError(
        'overloaded',
        `the provider is not ready to serve this request: ${error.provider?.message || error.message}`,
        {
          ...options,
          ...anthropicTypeOf(error),
          ...(error.provider?.anthropicDetails !== undefined && {
            anthropicDetails: error.provider.anthropicDetails,
          }),
        },
      );
    if (error.status === 503 || error.status === 529 || error.status === 498)
      // The provider is overloaded (Claude's 529, a 503; Groq's 498: its flex capacity is gone
      // for now, worth asking a second later): said as the caller's API says it, with the
      // provider's Retry-After; Claude's callers (Claude Code) wait and retry a 529.
      return new GatewayError(
        'overloaded',
        `the provider is overloaded: ${error.provider?.message || error.message}`,
        {
          ...(error.status === 498 ? { retryAfterSeconds: retryAfterSeconds ?? 1 } : options),
          anthropicStatus: 529,
        },
      );
    if (error.status === 408)
      // The provider timed out (OpenRouter's 408 "Your request timed out"): no bad request.
      return new GatewayError(
        'upstream_timeout',
        `the provider timed out: ${error.provider?.message || error.message}`,
        options,
      );
    // A 403 model_not_found (a project without the model) is about the model, said as sent;
    // OpenRouter's 403 for a flagged input (content_filter) is about the caller's content.
    const contentRefused = error.provider?.type === 'content_filter';
    if (error.provider?.scopeMissing)
      // Kordon's key may not call this endpoint (a restricted key): the admin's to grant, and
      // asking again meets the same keys.
      return new GatewayError(
        'upstream_auth',
        "the gateway's provider key may not use this endpoint (a restricted key's scopes); an admin has been told",
        { noRetry: true },
      );
    // Gemini refuses a wrong key with a 400 its adapter reads as an authentication error.
    const keyRefused =
      error.status === 401 || error.status === 403 || error.provider?.type === 'authentication';
    if (keyRefused && !error.provider?.modelNotServed && !contentRefused) {
      // Kordon's provider key was refused: not the caller's fault, and not theirs to see.
      return new GatewayError(
        'upstream_auth',
        "the provider refused the gateway's credentials; an admin has been told",
      );
    }
    if (error.status !== undefined && error.status >= 400 && error.status < 500) {
      // The provider refused the request itself (bad parameter): the caller should see why.
      // With the provider's code (`content_filter`, `context_length_exceeded`...): what an SDK's
      // error exposes as `code`, for the caller to tell a filtered prompt from a bad parameter.
      // And the field it names (`param`, OpenAI's errors: `text.format.schema`), for the caller to
      // tell which of a large body's fields was refused; an Anthropic caller's errors have none.
      // And Azure's `innererror`: which content filter refused the prompt, as apps read it.
      const code = error.provider?.code;
      const param = error.provider?.param;
      const innerError = error.provider?.innerError;
      const innerErrorField = error.provider?.innerErrorField;
      // And Claude's `details` (its `error_code`), which the Anthropic SDK recovers by.
      const anthropicDetails = error.provider?.anthropicDetails;
      const message = error.provider?.message || error.message;
      // Claude's organization fetches no URL, every key asked: an OpenAI caller (whose
      // `image_url` went to Claude as a URL source) is told what happened, in OpenAI's terms.
      const urlFetchOff = saysUrlFetchDisabled(error);
      return new GatewayError('invalid_request', message, {
        // A refused content is a bad request whatever status said it (OpenRouter's 403, Azure's 400).
        status: contentRefused ? 400 : error.status,
        ...(code !== undefined && PROVIDER_CODE.test(code) && { code }),
        ...(saysContextOverflow(code, message) && { contextOverflow: true }),
        ...(param !== undefined && { param }),
        ...(innerError !== undefined && { innerError }),
        ...(innerError !== undefined && innerErrorField !== undefined && { innerErrorField }),
        ...(anthropicDetails !== undefined && { anthropicDetails }),
        ...(urlFetchOff && {
          code: 'organization_url_fetch_disabled',
          openAIMessage: `the provider account behind this gateway has URL fetching turned off, so it cannot read an image or document given by URL (no other key could): send it inline (base64) instead. The provider said: ${message}`,
        }),
      });
    }
    if (error.code === 'upstream_response_too_large')
      return new GatewayError(
        'upstream_error',
        `the provider's answer is larger than this gateway takes (${error.message}); ask for a smaller one (fewer inputs or choices, or embeddings as base64)`,
        // The provider makes and bills the same answer again each time (both SDKs retry a 502).
        { noRetry: true },
      );
    if (error.code.includes('timeout'))
      return new GatewayError('upstream_timeout', error.message, { ...options, code: error.code });
    return new GatewayError('upstream_error', `the provider failed: ${error.message}`, options);
  }
  return new GatewayError('internal', 'internal error');
}

/**
 * Writes the request's one event, and settles what admission held for it: the reservation
 * becomes the real cost (RequestCompleted, RequestFailed) or is given back (RequestRejected).
 */
function record(deps: GenerateDependencies, outcome: Outcome, event: NewEvent): void {
  const ticket = outcome.ticket;
  if (ticket) {
    outcome.ticket = undefined;
    if (event.type === 'RequestRejected') deps.limits.release(ticket);
    else {
      const data = event.data as KordonEventData<'RequestCompleted'>;
      deps.limits.settle(
        ticket,
        {
          usd: data.currency === 'USD' ? data.cost : null,
          inputTokens: data.usage.inputTokens,
          outputTokens: data.usage.outputTokens,
        },
        // The event's time: the period the usage counts in is the one its event says.
        event.time.getTime(),
      );
    }
  }
  deps.appender.enqueue(event);
  deps.metrics?.request(event);
  outcome.trace?.finish(event);
}

const ZERO: NormalisedUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

function meta(outcome: Outcome) {
  return {
    orgId: outcome.caller.key.orgId,
    actor: { kind: 'proxy-key' as const, id: outcome.caller.key.proxyKeyId },
    correlationId: outcome.requestId,
    traceId: outcome.trace?.traceId ?? null,
  };
}

function timing(outcome: Outcome) {
  const now = performance.now();
  return {
    latencyMs: Math.round(now - outcome.startedAt),
    timeToFirstTokenMs:
      outcome.stream && outcome.firstByteAt !== undefined
        ? Math.round(outcome.firstByteAt - outcome.startedAt)
        : null,
  };
}

/**
 * What a request costs: at the price of the model its provider served (`route`: the estimate
 * admission holds before any call), by the answer's model where it names what is billed
 * (`priceModelOf`), at the time it arrived (peak hours, the org's price in effect).
 */
function price(deps: GenerateDependencies, outcome: Outcome, usage: NormalisedUsage, route?: Route) {
  const orgId = outcome.caller.key.orgId;
  const served = route ?? outcome.route;
  // OpenRouter bills what its answer says (the routed provider's price and its own fee), in
  // credits of 1 USD: that is the cost, not the table's price for the model.
  if (usage.reportedCost !== undefined && served?.provider.options.vendor === 'openrouter') {
    const reported = amountOfNumber(usage.reportedCost);
    if (reported !== undefined) return { cost: reported, currency: 'USD' };
  }
  const book = deps.prices(orgId);
  const routed = served?.model ?? outcome.model;
  const at = outcome.arrivedAtMs;
  const model = route === undefined ? priceModelOf(book, orgId, routed, outcome.answerModel, at) : routed;
  const cacheReadsUnbilled = served !== undefined && !billsCacheReads(served.provider.type);
  const priced = book.priceRequest(model, usage, { orgId, cacheReadsUnbilled, at });
  return priced.status === 'priced'
    ? { cost: priced.cost.amount, currency: priced.cost.currency }
    : { cost: null, currency: null };
}

/**
 * The model an Azure OpenAI answer names (plain: the finished JSON's `model`), which is the
 * model version its deployment runs (`gpt-4o-2024-05-13` behind a route `gpt-4o`), what Azure
 * bills. Embeddings answers are not parsed (megabytes of vectors): their `model` is read from
 * their end. Not read for any other provider: elsewhere the routed model is the one billed.
 */
function answerModelOf(route: Route, endpoint: Endpoint, answer: ProviderAnswer): string | undefined {
  if (route.provider.type !== 'azure-openai') return undefined;
  if (endpoint === 'embeddings') return embeddingsModelAtEnd(answer.rawText);
  try {
    const model = (answer.json() as { model?: unknown } | null)?.model;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined; // the exchange has read it; an answer that is no JSON names no model
  }
}

/**
 * The name a request is priced by: the routed model, or the answer's where it names another
 * (`answerModel`: an Azure deployment's model version). The org's own price of the routed name
 * wins (a price it negotiated for `gpt-4o` is what its deployment of `gpt-4o` costs it, whatever
 * version runs there); else the answer's model, when the price book knows it (the org's price
 * of that version, or the shipped table's: `gpt-4o-2024-05-13` at its $5 / $15, a deployment
 * configured under its own name priced at all); else the routed name. pricing/README.md.
 * The org's prices are those in effect when the request arrived (`at`), as its cost is.
 */
export function priceModelOf(
  book: PriceBook,
  orgId: string,
  routed: string,
  answerModel: string | undefined,
  at: number,
): string {
  if (answerModel === undefined || answerModel === routed || !isRecordableModelName(answerModel))
    return routed;
  const own = book.lookup(routed, { orgId, at });
  if (own.status === 'priced' && own.source.kind === 'org-override') return routed;
  return book.lookup(answerModel, { orgId, at }).status === 'priced' ? answerModel : routed;
}

function usageData(usage: NormalisedUsage) {
  const data: KordonEventData<'RequestCompleted'>['usage'] = {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedInputTokens: usage.cachedInputTokens,
  };
  if (usage.reasoningTokens !== undefined) data.reasoningTokens = usage.reasoningTokens;
  if (usage.cacheWriteTokens) data.cacheWriteInputTokens = usage.cacheWriteTokens;
  if (usage.cacheWrite1hTokens) data.cacheWrite1hInputTokens = usage.cacheWrite1hTokens;
  if (usage.webSearches) data.webSearches = usage.webSearches;
  if (usage.serviceTier) data.serviceTier = usage.serviceTier;
  if (usage.inferenceGeo) data.inferenceGeo = usage.inferenceGeo;
  if (usage.speed) data.speed = usage.speed;
  return data;
}

function completed(
  deps: GenerateDependencies,
  outcome: Outcome,
  usage: NormalisedUsage | undefined,
  status: number,
  answer: { full: string; text: () => string; streamed?: boolean },
): NewEvent {
  const u = usage ?? ZERO;
  const charged = withPromptsTimedOut(outcome, u, price(deps, outcome, u));
  const { key, user } = outcome.caller;
  // The org's logging policy decides whether (redacted) text goes into the event at all.
  const policy = outcome.body ? deps.loggedBodies.policy(deps.registry(), key.orgId) : null;
  const sealedBodies =
    policy && outcome.body
      ? deps.loggedBodies.seal(
          deps.registry(),
          key.orgId,
          outcome.requestId,
          deps.loggedBodies.prompt(policy, key.orgId, outcome.body),
          deps.loggedBodies.response(policy, key.orgId, answer.streamed ? null : answer.full, answer.text),
        )
      : null;
  return kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(key.orgId),
    {
      requestId: outcome.requestId,
      proxyKeyId: key.proxyKeyId,
      userId: user.userId,
      teamId: key.teamId,
      provider: outcome.route!.provider.name,
      providerKeyId: outcome.key!.providerKeyId,
      model: outcome.route!.model,
      endpoint: outcome.endpoint,
      stream: outcome.stream,
      usage: usageData(charged.usage),
      ...charged.cost,
      ...timing(outcome),
      status,
      clientIp: outcome.clientIp,
      attempts: Math.max(1, outcome.attempts),
      redactedPrompt: null,
      redactedResponse: null,
      sealedBodies,
      storedAnswer: outcome.storedAnswer ?? null,
    },
    meta(outcome),
  );
}

function failureCodeOf(error: GatewayError): KordonEventData<'RequestFailed'>['errorCode'] {
  switch (error.kind) {
    case 'rate_limited':
      return 'upstream_rate_limited';
    case 'upstream_timeout':
      return 'upstream_timeout';
    case 'overloaded':
      // Kordon had no key to ask, or the provider said it was overloaded.
      return error instanceof NoProviderKeyError ? 'no_provider_key' : 'upstream_unavailable';
    case 'upstream_error':
    case 'upstream_out_of_credit':
      return 'upstream_unavailable';
    case 'upstream_auth':
      return 'upstream_auth_failed';
    default:
      return 'upstream_rejected';
  }
}

function failed(
  outcome: Outcome,
  errorCode: KordonEventData<'RequestFailed'>['errorCode'],
  usage: NormalisedUsage | undefined,
  status: number | null,
  upstreamStatus: number | null = null,
  cost: { cost: string | null; currency: string | null } = { cost: null, currency: null },
): NewEvent {
  const charged = withPromptsTimedOut(outcome, usage ?? ZERO, cost);
  const { key, user } = outcome.caller;
  return kordonCatalogue.create(
    'RequestFailed',
    streams.usage(key.orgId),
    {
      requestId: outcome.requestId,
      errorCode,
      proxyKeyId: key.proxyKeyId,
      userId: user.userId,
      teamId: key.teamId,
      provider: outcome.route?.provider.name ?? null,
      providerKeyId: outcome.key?.providerKeyId ?? null,
      // The model its provider was asked for, as RequestCompleted names it (and its cost is
      // priced by), not the caller's `provider/model`; the caller's text before any attempt.
      model: outcome.route?.model ?? (isRecordableModelName(outcome.model) ? outcome.model : 'unknown'),
      endpoint: outcome.endpoint,
      stream: outcome.stream,
      usage: usageData(charged.usage),
      ...charged.cost,
      latencyMs: timing(outcome).latencyMs,
      status,
      upstreamStatus,
      clientIp: outcome.clientIp,
      attempts: outcome.attempts,
    },
    meta(outcome),
  );
}

/** The endpoint a RequestRejected names: a request's, or a call's that is not usage. */
export type RejectedEndpoint = KordonEventData<'RequestRejected'>['endpoint'];

/** A call that is not usage (models, count_tokens, stored answers), as its refusal records it. */
export interface RefusedCall {
  requestId: string;
  endpoint: Exclude<RejectedEndpoint, Endpoint>;
  req: IncomingMessage;
  /** Undefined when the key itself was refused. */
  caller?: Caller | undefined;
  /** The model the caller named, when it has one to name. */
  model?: unknown;
  traceId?: string | undefined;
}

/**
 * The answer to a request whose event cannot be kept now (the store unreachable and the spool
 * full): it could only wait in memory, where a crash would lose it (decision 0004). A 503 the
 * SDKs retry, on another replica or once the store is back.
 */
export function cannotRecordError(): GatewayError {
  return new GatewayError(
    'overloaded',
    'Kordon cannot record requests now (its event store is unreachable and its spool is full); retry later',
    { retryAfterSeconds: 5 },
  );
}

/**
 * Hands a refusal's event over; when it cannot be kept, the error the caller hears instead of
 * the refusal (`cannotRecordError`), as every other request does then.
 */
function keepRefusal(deps: GenerateDependencies, event: NewEvent): GatewayError | undefined {
  if (!deps.appender.acceptsEvents()) return cannotRecordError();
  try {
    deps.appender.enqueue(event);
    return undefined;
  } catch (error) {
    // Held in memory up to its bound already (the store answers too slowly): not one more.
    if (error instanceof SpoolFullError) return cannotRecordError();
    throw error;
  }
}

/**
 * Records the refusal of a call that is not usage as the chat path records it (issue 3: each
 * request ends in exactly one event): a genuine key that may not be used (the first few a
 * minute), or its address or model rules. An unknown key has no org, a bad query is not the
 * key's: no event, as their success makes none. Returns the error to answer instead of the
 * refusal when its event cannot be kept (`keepRefusal`).
 */
export function recordCallRefusal(
  deps: GenerateDependencies,
  error: unknown,
  call: RefusedCall,
): GatewayError | undefined {
  if (error instanceof KeyRefusedError) {
    if (!deps.keyRefusals.take(error.key.proxyKeyId, Date.now())) return undefined;
    return keepRefusal(
      deps,
      keyRefusedEvent(error, call.requestId, call.endpoint, call.req, deps.trustedProxies, call.traceId),
    );
  }
  const byLists = error instanceof ModelListsRefusalError;
  if (!(error instanceof LimitRefusalError || byLists) || !call.caller) return undefined;
  const { key, user } = call.caller;
  const model = typeof call.model === 'string' ? call.model.slice(0, 200) : '';
  return keepRefusal(
    deps,
    refusalEvent(
      key,
      {
        reason: byLists ? 'model_forbidden' : error.refusal.reason,
        limitScope: byLists ? null : error.refusal.limitScope,
        userId: user.userId,
        model: isRecordableModelName(model) ? model : null,
        endpoint: call.endpoint,
        status: error.status,
      },
      call,
      deps.trustedProxies,
    ),
  );
}

/** The RequestRejected of a genuine key that may not be used, in its org (the body unread). */
function keyRefusedEvent(
  error: KeyRefusedError,
  requestId: string,
  endpoint: RejectedEndpoint,
  req: IncomingMessage,
  trustedProxies: CidrSet,
  traceId: string | undefined,
): NewEvent {
  const { key } = error;
  return refusalEvent(
    key,
    // The body is not read for a refused key.
    {
      reason: error.reason,
      limitScope: null,
      userId: key.userId,
      model: null,
      endpoint,
      status: error.status,
    },
    { requestId, req, traceId },
    trustedProxies,
  );
}

/** A RequestRejected made before a request has an outcome: its key's, from its connection. */
function refusalEvent(
  key: ProxyKeyEntry,
  refusal: Omit<KordonEventData<'RequestRejected'>, 'requestId' | 'proxyKeyId' | 'teamId' | 'clientIp'>,
  call: { requestId: string; req: IncomingMessage; traceId?: string | undefined },
  trustedProxies: CidrSet,
): NewEvent {
  const { req, requestId } = call;
  const address = resolveClientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustedProxies);
  return kordonCatalogue.create(
    'RequestRejected',
    streams.usage(key.orgId),
    {
      requestId,
      reason: refusal.reason,
      limitScope: refusal.limitScope,
      proxyKeyId: key.proxyKeyId,
      userId: refusal.userId,
      teamId: key.teamId,
      model: refusal.model,
      endpoint: refusal.endpoint,
      status: refusal.status,
      clientIp: address?.text ?? '0.0.0.0',
    },
    {
      orgId: key.orgId,
      actor: { kind: 'proxy-key' as const, id: key.proxyKeyId },
      correlationId: requestId,
      traceId: call.traceId ?? null,
    },
  );
}

/**
 * The usage of a request its caller left while a provider had it, when a money budget, a token
 * budget or a tokens-per-minute limit holds the request: the provider received the prompt, and
 * makes (and bills) a non-streamed answer whether or not anyone waits for it, so the prompt is
 * counted and charged there (what it answered is not known), and leaving cannot be a way around
 * the limit. Elsewhere the request keeps no tokens: counting would load the tokenizers (~80 MB at
 * their peak, docs/operations.md) for a figure no limit needs. Undefined: no tokens to record.
 */
function promptOfAbandonedCall(
  deps: GenerateDependencies,
  outcome: Outcome,
  dialect: Dialect,
): NormalisedUsage | undefined {
  if (outcome.attempts === 0 || !outcome.route || !outcome.body || !limitHoldsTokens(outcome))
    return undefined;
  const { route, body } = outcome;
  return promptUsage(route, body, billedPromptTokens(deps, outcome, route, body, dialect));
}

/** Whether a money budget, a token budget or a tokens-per-minute limit holds the request. */
function limitHoldsTokens(outcome: Outcome): boolean {
  const ticket = outcome.ticket;
  return (
    ticket !== undefined &&
    (ticket.usdScopes.length > 0 || ticket.tokenScopes.length > 0 || ticket.tpmKeys.length > 0)
  );
}

/**
 * Timeouts of a call whose request was written: the provider has the prompt and goes on with
 * it (a connect timeout sent nothing; a stream's idle timeout is settled by the stream itself).
 */
const PROVIDER_HAD_THE_PROMPT: ReadonlySet<string> = new Set([
  'upstream_first_byte_timeout',
  'upstream_total_timeout',
  'upstream_idle_timeout',
]);

/**
 * An attempt Kordon gave up on after writing its request (PROVIDER_HAD_THE_PROMPT): its
 * provider answers (and bills) the call anyway. As for a caller who left, its prompt is counted
 * where a limit holds the request, and only there (the tokenizers' memory, above): the key's tpm
 * counts it, and the request's one event charges it, whether a later key serves or none does.
 */
function chargePromptTimedOut(
  deps: GenerateDependencies,
  outcome: Outcome,
  route: Route,
  body: Record<string, unknown>,
  dialect: Dialect,
  key: ProviderKeyEntry,
  now: number,
): void {
  if (!limitHoldsTokens(outcome)) return;
  let inputTokens: number;
  try {
    inputTokens = billedPromptTokens(deps, outcome, route, body, dialect);
  } catch (error) {
    // The request goes on to its next key whatever the count does.
    deps.logger.error(
      { err: error, requestId: outcome.requestId },
      'counting the prompt of a call that timed out failed',
    );
    return;
  }
  deps.keys.balancer.reportTokens(key.providerKeyId, inputTokens, now);
  const cost = price(deps, outcome, promptUsage(route, body, inputTokens), route);
  const before = outcome.promptsTimedOut;
  outcome.promptsTimedOut = before
    ? { inputTokens: before.inputTokens + inputTokens, ...sumOfCosts(before, cost) }
    : { inputTokens, ...cost };
}

type Charge = { cost: string | null; currency: string | null };

/** A request its caller left, or shutdown ended, before admission: refused, and why. */
function refusalBeforeAdmission(outcome: Outcome, error: GatewayError): GatewayError {
  if (outcome.interruption !== undefined) return new GatewayError('overloaded', SHUTDOWN_REFUSAL);
  if (error.kind !== 'internal') return error;
  // nginx's "client closed request": the caller left mid-body and was answered nothing.
  const message = 'the caller closed the connection before its request ended';
  return new GatewayError('invalid_request', message, { status: 499 });
}

/** Two costs of one request: null when either has no price, or their currencies differ. */
function sumOfCosts(a: Charge, b: Charge): Charge {
  if (a.cost === null || b.cost === null || a.currency !== b.currency) return { cost: null, currency: null };
  return { cost: addAmounts([a.cost, b.cost]), currency: a.currency };
}

/**
 * What the request's event charges: its own usage and cost, plus the prompts of its attempts
 * that timed out (`promptsTimedOut`). A request that produced nothing else costs those alone.
 */
function withPromptsTimedOut(
  outcome: Outcome,
  usage: NormalisedUsage,
  cost: Charge,
): { usage: NormalisedUsage; cost: Charge } {
  const lost = outcome.promptsTimedOut;
  if (!lost) return { usage, cost };
  const total = { ...usage, inputTokens: usage.inputTokens + lost.inputTokens };
  const none = usage.inputTokens === 0 && usage.outputTokens === 0 && !usage.webSearches;
  const lostCost = { cost: lost.cost, currency: lost.currency };
  return { usage: total, cost: none ? lostCost : sumOfCosts(cost, lostCost) };
}

/**
 * Refused before any provider was asked: RequestRejected; after, or when no key was left to
 * ask: RequestFailed.
 */
function rejectedOrFailed(
  deps: GenerateDependencies,
  error: GatewayError,
  outcome: Outcome,
  dialect: Dialect,
): NewEvent {
  // The status the caller is answered with (an overloaded Claude is 529 to its callers).
  const status = error.statusIn(dialect);
  const lost = outcome.lostAnswer;
  if (lost) {
    const cost = price(deps, outcome, lost.usage);
    return failed(outcome, failureCodeOf(error), lost.usage, status, lost.upstreamStatus, cost);
  }
  // What the provider answered last (a 529, a 429...), not only what the caller was told; the
  // prompts of attempts that timed out are charged with it (`withPromptsTimedOut`).
  if (outcome.attempts > 0 || error instanceof NoProviderKeyError)
    return failed(outcome, failureCodeOf(error), undefined, status, outcome.upstreamStatus ?? null);
  const { key, user } = outcome.caller;
  const limit = error instanceof LimitRefusalError ? error.refusal : undefined;
  return kordonCatalogue.create(
    'RequestRejected',
    streams.usage(key.orgId),
    {
      requestId: outcome.requestId,
      reason:
        limit?.reason ??
        (error.kind === 'model_not_found'
          ? 'model_forbidden'
          : error.kind === 'overloaded'
            ? 'overloaded'
            : 'invalid_request'),
      limitScope: limit?.limitScope ?? null,
      proxyKeyId: key.proxyKeyId,
      userId: user.userId,
      teamId: key.teamId,
      model: isRecordableModelName(outcome.model) ? outcome.model : null,
      endpoint: outcome.endpoint,
      status,
      clientIp: outcome.clientIp,
    },
    meta(outcome),
  );
}
