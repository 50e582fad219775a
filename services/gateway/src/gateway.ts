import { mkdirSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  type EventStore,
  type GroupCommitAppender,
  type KordonEvent,
  kordonCatalogue,
  newEventId,
  type RecordedEvent,
  type SqlExecutor,
} from '@kordon/events';
import { InMemoryProjectionRunner } from '@kordon/projections';
import type { Registry } from 'prom-client';
import { BodyKeyStore, BodySealer } from './body-keys/body-keys.js';
import { applyConfigFile } from './config-file/apply-config.js';
import { loadConfigFile } from './config-file/load-config-file.js';
import { accessSubjectOf, authenticate, type Caller, KeyRefusalRecorder } from './http/authenticate.js';
import { BodyBudget, defaultBodyBudget } from './http/body-budget.js';
import { countTokensHandler } from './http/count-tokens.js';
import { planChatExchange } from './http/exchange.js';
import { type Dialect, dialectOfHeaders, GatewayError, sendError } from './http/gateway-error.js';
import { cannotRecordError, generateHandler, LimitRefusalError, recordCallRefusal } from './http/generate.js';
import { inputTokensHandler } from './http/input-tokens.js';
import { KeyChoice, type KeyHealthView } from './http/key-choice.js';
import { LiveRequests } from './http/live-requests.js';
import { LoggedBodies } from './http/logged-bodies.js';
import { listModels, MODEL_PATH_PREFIX, type ModelAllowed, retrieveModel } from './http/models.js';
import {
  planEmbeddingsExchange,
  planResponsesCompactExchange,
  planResponsesExchange,
} from './http/openai-only-exchanges.js';
import { storedChatCompletionsHandler } from './http/stored-chat-completions.js';
import { storedResponsesHandler } from './http/stored-responses.js';
import { CountersStore } from './limits/counters-store.js';
import { CidrSet, LimitsEnforcer } from './limits/index.js';
import { PriceBook } from './pricing/index.js';
import { type RegistryState, registryProjection } from './registry/registry.js';
import type { RuntimeSecrets } from './runtime-secrets.js';
import { DataPlaneMetrics } from './telemetry/data-plane-metrics.js';
import { RequestTracing } from './telemetry/request-trace.js';
import type { SpanPipeline } from './telemetry/span-pipeline.js';
import { loadedEncodings, preloadEncodings } from './tokens/index.js';
import { UpstreamClient } from './upstream/index.js';

export type { KeyHealthView } from './http/key-choice.js';
export { CidrSet } from './limits/index.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface GatewayLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface GatewayOptions {
  store: EventStore;
  /**
   * Request events go through group commit: the hot path never waits on storage. A request
   * is refused while the appender does not accept events (store down, spool full).
   */
  appender: Pick<GroupCommitAppender, 'enqueue' | 'acceptsEvents'>;
  /** Largest request body accepted (413 above). */
  maxBodyBytes: number;
  /** Request bytes held in memory at once (503 above); default: a share of V8's heap limit. */
  maxBodyBytesInFlight?: number | undefined;
  /** How long a request body may send no byte (408 after); default 60 s. */
  bodyIdleTimeoutMs?: number | undefined;
  /** Largest finished provider answer read (502 above); default 64 MiB. */
  maxResponseBytes?: number | undefined;
  /** Load the tokenizers at start rather than on the first count (which stalls the event loop). */
  preloadTokenizers?: boolean | undefined;
  /** The event store's database, for snapshots of the limit counters; none: rebuilt from the whole log. */
  sql?: SqlExecutor;
  /** How often the limit counters are snapshotted (ms); default 5 minutes. */
  countersSnapshotIntervalMs?: number;
  /** CIDRs of proxies whose X-Forwarded-For is believed (KORDON_TRUSTED_PROXIES). */
  trustedProxies?: readonly string[];
  secrets: RuntimeSecrets;
  /** KORDON_CONFIG: applied at start when set. */
  configFile: string | undefined;
  /** Where `${NAME}` in the config file is looked up. */
  env: NodeJS.ProcessEnv;
  dataDir: string;
  logger: GatewayLogger;
  /** Where the spans of sampled requests go (the server's OTLP export): one trace per request. Absent: tracing is off. */
  spanPipeline?: SpanPipeline | undefined;
  /** Prometheus registry (`/metrics`) the data plane's metrics join. Absent: none are counted. */
  metricsRegistry?: Registry | undefined;
}

export interface Gateway {
  /** `METHOD /path` to its handler; a path ending in `/*` takes every path under it. */
  routes: Record<string, RouteHandler>;
  registry(): RegistryState;
  /** Resolves once the registry (what the data plane serves from) has seen `position`. */
  registryCaughtUp(position: number): Promise<void>;
  /** Each provider key of the org as the balancer sees it (state, weights, errors, latency, quota). */
  keyHealth(orgId: string): KeyHealthView[];
  /** The keys of logged bodies (migrated, re-wrapped): for the request log to open them. */
  bodyKeys: BodyKeyStore | undefined;
  /**
   * Ends every request still open (at shutdown, once the drain deadline has passed): a stream
   * with an error event its SDK raises, recorded with the tokens streamed; a request waiting on
   * its provider with a 503 its SDK retries. Returns how many.
   */
  interruptRequests(): number;
  stop(): Promise<void>;
}

/**
 * The data plane's state and routes: the registry projection (caught up before the
 * first request), the config file applied, and the `/v1` handlers.
 */
/**
 * One price book per org, rebuilt only when the org's PricesSet changes (the registry
 * replaces the list, so identity tells).
 */
function priceBooks(registry: () => RegistryState, logger: GatewayLogger): (orgId: string) => PriceBook {
  const shipped = PriceBook.shipped();
  const books = new Map<string, { source: unknown; book: PriceBook }>();
  return (orgId) => {
    const prices = registry().prices.get(orgId);
    if (!prices) return shipped;
    const cached = books.get(orgId);
    if (cached?.source === prices) return cached.book;
    let book: PriceBook;
    try {
      book = shipped.withOverrides(prices.map((price) => ({ orgId, ...price })));
    } catch (error) {
      // Stored prices the price book refuses: say so loudly, price from the shipped table.
      logger.error({ err: error, orgId }, 'ORG PRICES REFUSED: requests are priced from the shipped table');
      book = shipped;
    }
    books.set(orgId, { source: prices, book });
    return book;
  };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const registry = new InMemoryProjectionRunner<RegistryState, KordonEvent>(
    registryProjection,
    (event: RecordedEvent) => kordonCatalogue.decode(event),
    {
      onParked: (parked) => logger.error({ parked }, 'registry projection parked an event'),
      onError: (error) => logger.warn({ err: error }, 'registry projection cannot read the log; retrying'),
      // Control-plane changes (a revoked key, a resting provider key) apply within this.
      minIntervalMs: 20,
    },
  );
  await registry.start(options.store);
  for (const warning of options.secrets.warnings) logger.warn({}, warning);

  if (options.configFile) {
    const plan = await applyConfigFile({
      file: loadConfigFile(options.configFile, options.env),
      store: options.store,
      registry: () => registry.state,
      waitForRegistry: (position) => registry.waitFor(position, 30_000),
      crypto: options.secrets,
    });
    for (const line of plan.ignored) logger.warn({}, `config file: ${line}`);
    if (plan.issued.length > 0) {
      // Issued keys are shown once: written to owner-only files, never to the log.
      const dir = join(options.dataDir, 'issued-proxy-keys');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const issued of plan.issued) {
        const path = join(
          dir,
          `${issued.org}--${issued.email}--${issued.name}.key`.replace(/[^A-Za-z0-9@._-]/g, '_'),
        );
        writeFileSync(path, `${issued.secret}\n`, { mode: 0o600 });
        logger.warn(
          { path },
          'issued a proxy key for the config file; hand it to its owner and delete the file',
        );
      }
    }
    logger.info({ events: plan.appends.reduce((n, a) => n + a.events.length, 0) }, 'config file applied');
  }

  // Limits and keys' daily budgets learn every replica's usage and every renewal from the log;
  // caught up before serving.
  const keyChoice = new KeyChoice();
  const limits = new LimitsEnforcer({
    registry: () => registry.state,
    emit: (event) => options.appender.enqueue(event),
  });
  const usage = new InMemoryProjectionRunner<LimitsEnforcer, KordonEvent | OwnRequest>(
    {
      name: 'gateway-limits',
      eventTypes: new Set(['RequestCompleted', 'RequestFailed', 'LimitReset']),
      initialState: () => limits,
      evolve: (state, event) => {
        if (event.type === 'OwnRequest') {
          state.observeOwn(event.requestId);
          keyChoice.observeSpend(event.providerKeyId, event.cost, event.currency, event.at, registry.state);
          return state;
        }
        state.observe(event);
        keyChoice.observe(event, registry.state);
        return state;
      },
    },
    (event: RecordedEvent) => ownRequest(event, limits) ?? kordonCatalogue.decode(event),
    {
      onParked: (parked) => logger.error({ parked }, 'limits projection parked an event'),
      onError: (error) => logger.warn({ err: error }, 'limits projection cannot read the log; retrying'),
      // Other replicas' usage arrives within this (part of the lag L in docs/limits.md).
      minIntervalMs: 50,
    },
  );
  // From the latest snapshot of the counters when there is one, else from the start of the log.
  const counters = options.sql ? new CountersStore(options.sql) : undefined;
  let snapshotPosition = 0;
  if (counters) {
    await counters.migrate();
    const saved = await counters.load();
    if (saved) {
      limits.restore(saved.snapshot, Date.now());
      keyChoice.restoreSpend(saved.snapshot.keySpend ?? [], registry.state);
      keyChoice.restorePins(saved.snapshot.pins ?? []);
      snapshotPosition = saved.position;
    }
  }
  await usage.start(options.store, { position: snapshotPosition });
  const saveCounters = async () => {
    if (!counters) return;
    // Read together, synchronously: the state is exactly the log up to `position`.
    const position = usage.position;
    if (position <= snapshotPosition) return;
    const snapshot = {
      ...limits.snapshot(),
      keySpend: keyChoice.snapshotSpend(),
      pins: keyChoice.snapshotPins(),
    };
    await counters.save(position, snapshot, new Date());
    snapshotPosition = position;
  };
  const snapshotTimer = setInterval(
    () => {
      saveCounters().catch((error: unknown) =>
        logger.warn({ err: error }, 'could not snapshot the limit counters'),
      );
    },
    options.countersSnapshotIntervalMs ?? 5 * 60_000,
  );
  snapshotTimer.unref();

  // Logged bodies are sealed under keys kept beside the log (crypto-shredding, body-keys/).
  const bodyKeys = options.sql ? new BodyKeyStore(options.sql, options.secrets.masterKeys) : undefined;
  await bodyKeys?.migrate();
  // After a master key rotation: every body key under the new master key, at start.
  const rewrapped = (await bodyKeys?.rewrapAll()) ?? 0;
  if (rewrapped > 0) logger.info({ rewrapped }, 'logged-bodies keys re-wrapped under the current master key');
  const bodySealer = bodyKeys ? new BodySealer({ store: bodyKeys, logger }) : undefined;

  const client = new UpstreamClient({ maxResponseBytes: options.maxResponseBytes });
  if (options.preloadTokenizers) {
    // ~0.5 s of CPU and ~40 MB of heap, here rather than under the first request that counts.
    const startedAt = performance.now();
    preloadEncodings();
    logger.info(
      { encodings: loadedEncodings(), ms: Math.round(performance.now() - startedAt) },
      'tokenizers loaded',
    );
  }
  const bodyBudget = new BodyBudget(options.maxBodyBytesInFlight ?? defaultBodyBudget(options.maxBodyBytes));
  const liveRequests = new LiveRequests();
  const generate = {
    registry: () => registry.state,
    liveRequests,
    secrets: options.secrets,
    client,
    keys: keyChoice,
    loggedBodies: new LoggedBodies(options.secrets.idSecret, bodySealer),
    limits,
    trustedProxies: CidrSet.parse(options.trustedProxies ?? []),
    keyRefusals: new KeyRefusalRecorder(),
    appender: options.appender,
    prices: priceBooks(() => registry.state, logger),
    maxBodyBytes: options.maxBodyBytes,
    bodyIdleTimeoutMs: options.bodyIdleTimeoutMs,
    bodyBudget,
    logger,
    tracing: options.spanPipeline ? new RequestTracing(options.spanPipeline) : undefined,
    metrics: options.metricsRegistry
      ? new DataPlaneMetrics(options.metricsRegistry, {
          registry: () => registry.state,
          keyHealth: (orgId) => keyChoice.describeOrg(registry.state, orgId, Date.now()),
          headPosition: () => options.store.headPosition(),
          projections: [
            { name: 'registry', position: () => registry.position },
            { name: 'gateway-limits', position: () => usage.position },
          ],
          bodyBytes: { held: () => bodyBudget.held, max: bodyBudget.maxBytes },
        })
      : undefined,
  };

  // Listing models is not usage (no event when served), but it obeys who may use the key from
  // where, and shows only the models the key's policies allow; a refusal is recorded as on chat.
  const withModelAccess =
    (
      handle: (
        req: IncomingMessage,
        res: ServerResponse,
        orgId: string,
        allowed: ModelAllowed,
        requestId: string,
      ) => void,
    ) =>
    async (req: IncomingMessage, res: ServerResponse) => {
      const requestId = newEventId();
      const dialect = dialectOfHeaders(req);
      let caller: Caller | undefined;
      try {
        caller = authenticate(req, registry.state, options.secrets.proxyKeyHasher, Date.now());
        const orgId = caller.key.orgId;
        const usdPriced = (model: string) => {
          const found = generate.prices(orgId).lookup(model, { orgId });
          return found.status === 'priced' && found.price.currency === 'USD';
        };
        const access = limits.modelAccess(
          accessSubjectOf(caller, req, generate.trustedProxies),
          Date.now(),
          usdPriced,
        );
        if (typeof access !== 'function') throw new LimitRefusalError(access);
        handle(req, res, caller.key.orgId, access, requestId);
      } catch (error) {
        const unrecordable = recordCallRefusal(generate, error, {
          requestId,
          endpoint: 'models',
          req,
          caller,
        });
        if (unrecordable) sendError(res, unrecordable, dialect, requestId);
        else if (error instanceof GatewayError) sendError(res, error, dialect, requestId);
        else {
          logger.error({ err: error, requestId }, 'gateway request failed');
          sendError(
            res,
            new GatewayError('internal', `internal error (request ${requestId})`),
            dialect,
            requestId,
          );
        }
      }
    };

  // A call a provider bills is served only if its event can be kept: with the store down and
  // the spool full it could only wait in memory, so the caller gets a 503 its SDK retries
  // (on another replica, or once the store is back) rather than an answer a crash unrecords.
  const whileRecording =
    (dialect: Dialect, handle: RouteHandler): RouteHandler =>
    (req, res) => {
      if (options.appender.acceptsEvents()) return handle(req, res);
      sendError(res, cannotRecordError(), dialect, newEventId());
    };

  return {
    routes: {
      'POST /v1/chat/completions': whileRecording(
        'openai',
        generateHandler('openai', 'chat.completions', planChatExchange, generate),
      ),
      'POST /v1/messages': whileRecording(
        'anthropic',
        generateHandler('anthropic', 'messages', planChatExchange, generate),
      ),
      'POST /v1/embeddings': whileRecording(
        'openai',
        generateHandler('openai', 'embeddings', planEmbeddingsExchange, generate),
      ),
      'POST /v1/responses': whileRecording(
        'openai',
        generateHandler('openai', 'responses', planResponsesExchange, generate),
      ),
      // The SDK's responses.compact: the model runs over the conversation, billed as a response is.
      'POST /v1/responses/compact': whileRecording(
        'openai',
        generateHandler('openai', 'responses.compact', planResponsesCompactExchange, generate),
      ),
      // The SDK's responses.retrieve, .delete, .inputItems.list (and .cancel, refused): not usage, no event.
      'GET /v1/responses/*': storedResponsesHandler(generate),
      'DELETE /v1/responses/*': storedResponsesHandler(generate),
      'POST /v1/responses/*': storedResponsesHandler(generate),
      // The SDK's responses.inputTokens.count: not usage, no event (a path, not a stored id).
      'POST /v1/responses/input_tokens': inputTokensHandler(generate),
      // The SDK's chat.completions.list, .retrieve, .update, .delete, .messages.list on completions
      // made with store: true: not usage, no event.
      'GET /v1/chat/completions': storedChatCompletionsHandler(generate),
      'GET /v1/chat/completions/*': storedChatCompletionsHandler(generate),
      'POST /v1/chat/completions/*': storedChatCompletionsHandler(generate),
      'DELETE /v1/chat/completions/*': storedChatCompletionsHandler(generate),
      'POST /v1/messages/count_tokens': countTokensHandler(generate),
      // Both SDKs call these paths (`models.list`, `models.retrieve`).
      'GET /v1/models': withModelAccess((req, res, orgId, allowed, requestId) =>
        listModels(req, res, registry.state, orgId, allowed, requestId),
      ),
      [`GET ${MODEL_PATH_PREFIX}*`]: withModelAccess((req, res, orgId, allowed, requestId) =>
        retrieveModel(req, res, registry.state, orgId, allowed, requestId),
      ),
    },
    registry: () => registry.state,
    keyHealth: (orgId) => keyChoice.describeOrg(registry.state, orgId, Date.now()),
    bodyKeys,
    interruptRequests: () => liveRequests.interruptAll(),
    registryCaughtUp: (position) => registry.waitFor(position, 10_000),
    stop: async () => {
      clearInterval(snapshotTimer);
      await saveCounters().catch((error: unknown) =>
        logger.warn({ err: error }, 'could not snapshot the limit counters'),
      );
      await usage.stop();
      await registry.stop();
      // The drain is over: a call still in flight serves no caller (a token exchange, a call
      // whose connection was cut), and closing would wait for it, up to its timeouts.
      await client.destroy();
      await bodySealer?.stop();
    },
  };
}

/**
 * A request event this replica wrote itself and has counted already: read without decoding
 * (it was validated when it was made), since only a few fields close its books.
 */
interface OwnRequest {
  type: 'OwnRequest';
  requestId: string;
  providerKeyId: string | null;
  cost: string | null;
  currency: string | null;
  at: number;
}

function ownRequest(event: RecordedEvent, limits: LimitsEnforcer): OwnRequest | undefined {
  if (event.type !== 'RequestCompleted' && event.type !== 'RequestFailed') return undefined;
  const data = event.data as Record<string, unknown>;
  const requestId = data.requestId;
  if (typeof requestId !== 'string' || !limits.admittedHere(requestId)) return undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    type: 'OwnRequest',
    requestId,
    providerKeyId: text(data.providerKeyId),
    cost: text(data.cost),
    currency: text(data.currency),
    at: event.time.getTime(),
  };
}
