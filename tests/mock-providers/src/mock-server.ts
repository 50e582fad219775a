/**
 * The HTTP server the three mocks share: it listens on 127.0.0.1 (port 0), records every
 * request, authenticates, picks the scenario, keeps the per-key quota, and hands the
 * request to a provider dialect that builds the reply in the provider's wire format.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_REPLY_PREFIX, IdSource } from './answers.js';
import { DEFAULT_QUOTA, QuotaBook, type QuotaLimits, type QuotaSnapshot } from './quota.js';
import { type MockErrorKind, type Scenario, toScenario, UnknownScenarioError } from './scenarios.js';
import { SSE_CONTENT_TYPE, sseFrame } from './sse.js';
import { type JsonReply, type Reply, type StreamReply, type WireTiming, writeReply } from './wire.js';

export type ProviderName = 'openai' | 'anthropic' | 'gemini';

/** The header that selects a scenario for one request, e.g. `x-mock-scenario: rate-limit=2`. */
export const SCENARIO_HEADER = 'x-mock-scenario';

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** The JSON body parsed, the raw text when it is not JSON, undefined when empty. */
  readonly body: unknown;
  /** The API key the request authenticated with, when it did. */
  readonly key?: string;
  readonly scenario: Scenario;
  readonly receivedAt: number;
}

export interface MockServerOptions {
  /** API keys the mock accepts. */
  readonly keys: readonly string[];
  /** Default quota of every key. */
  readonly quota?: Partial<QuotaLimits>;
  /** Text put before the echoed user message. */
  readonly replyPrefix?: string;
  /** Clock for timestamps and quota windows. */
  readonly now?: () => number;
  /** Pause between stream frames (default 0). */
  readonly frameDelayMs?: number;
  /** Pause between the pieces of a split frame (default 15). */
  readonly splitPauseMs?: number;
}

export interface ScenarioOptions {
  /** Only requests made with this API key; all keys when unset. */
  readonly key?: string;
  /** How many requests play it (default 1). */
  readonly times?: number;
}

export interface MockServer {
  readonly provider: ProviderName;
  /** Origin, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  close(): Promise<void>;
  clearRequests(): void;
  /** Queues a scenario for the next request(s); per-key queues go before the shared one. */
  enqueueScenario(scenario: Scenario | string, options?: ScenarioOptions): void;
  /** A scenario every request plays when neither the header nor a queue names one; undefined clears it. */
  setScenario(scenario: Scenario | string | undefined, options?: Pick<ScenarioOptions, 'key'>): void;
  setQuota(key: string, limits: Partial<QuotaLimits>): void;
  quota(key: string): QuotaSnapshot;
}

/** What a dialect sees of one authenticated request. */
export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  readonly scenario: Scenario;
  readonly requestId: string;
  readonly ids: IdSource;
  readonly now: () => number;
  readonly replyPrefix: string;
}

/** Errors the dialects render, beyond the scenario ones. */
export type DialectErrorKind = MockErrorKind | 'bad-request' | 'not-found';

export interface DialectError {
  readonly kind: DialectErrorKind;
  readonly message?: string;
  /** Which quota a 429 is about. */
  readonly limit?: 'requests' | 'tokens';
  readonly retryAfterSeconds?: number;
  /** The model whose own quota a 429 is about (the scenario's `quotaModel`). */
  readonly quotaModel?: string;
}

export type AuthResult =
  | { readonly ok: true; readonly key: string }
  | { readonly ok: false; readonly reply: Reply };

/** One provider's wire format. */
export interface Dialect {
  readonly provider: ProviderName;
  /** Whether error replies carry a `retry-after` header. */
  readonly sendsRetryAfterHeader: boolean;
  /** A new request id in the provider's format. */
  requestId(ids: IdSource): string;
  authenticate(request: AuthRequest, keys: ReadonlySet<string>, requestId: string): AuthResult;
  errorReply(error: DialectError, requestId: string): Reply;
  /** Headers every reply carries: request id, rate-limit headers where the provider sends them. */
  commonHeaders(requestId: string, quota: QuotaSnapshot): Record<string, string>;
  handle(exchange: Exchange): Reply;
}

export interface AuthRequest {
  readonly headers: IncomingHttpHeaders;
  readonly query: URLSearchParams;
}

interface QueuedScenario {
  readonly scenario: Scenario;
  remaining: number;
}

/** Scenario queues and standing scenarios, shared and per key. */
class ScenarioBook {
  readonly #queues = new Map<string | undefined, QueuedScenario[]>();
  readonly #standing = new Map<string | undefined, Scenario>();

  enqueue(scenario: Scenario, options: ScenarioOptions): void {
    const queue = this.#queues.get(options.key) ?? [];
    queue.push({ scenario, remaining: options.times ?? 1 });
    this.#queues.set(options.key, queue);
  }

  set(scenario: Scenario | undefined, key: string | undefined): void {
    if (scenario) this.#standing.set(key, scenario);
    else this.#standing.delete(key);
  }

  /** The key's queue, then the shared queue, then the key's standing one, then the shared one. */
  take(key: string): Scenario {
    return (
      this.#dequeue(key) ??
      this.#dequeue(undefined) ??
      this.#standing.get(key) ??
      this.#standing.get(undefined) ??
      {}
    );
  }

  #dequeue(key: string | undefined): Scenario | undefined {
    const queue = this.#queues.get(key);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.scenario;
  }
}

export async function startMockServer(dialect: Dialect, options: MockServerOptions): Promise<MockServer> {
  const now = options.now ?? Date.now;
  const keys = new Set(options.keys);
  const quotas = new QuotaBook({ ...DEFAULT_QUOTA, ...options.quota }, now);
  const scenarios = new ScenarioBook();
  const ids = new IdSource();
  const requests: RecordedRequest[] = [];
  const timing: WireTiming = {
    frameDelayMs: options.frameDelayMs ?? 0,
    splitPauseMs: options.splitPauseMs ?? 15,
  };
  const context: ServeContext = {
    dialect,
    keys,
    quotas,
    scenarios,
    ids,
    requests,
    timing,
    now,
    replyPrefix: options.replyPrefix,
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    serve(context, req, res).catch((error: unknown) => failHard(res, error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    provider: dialect.provider,
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => closeServer(server),
    clearRequests: () => {
      requests.length = 0;
    },
    enqueueScenario: (scenario, scenarioOptions = {}) =>
      scenarios.enqueue(toScenario(scenario), scenarioOptions),
    setScenario: (scenario, scenarioOptions = {}) =>
      scenarios.set(scenario === undefined ? undefined : toScenario(scenario), scenarioOptions.key),
    setQuota: (key, limits) => quotas.set(key, limits),
    quota: (key) => quotas.snapshot(key),
  };
}

interface ServeContext {
  readonly dialect: Dialect;
  readonly keys: ReadonlySet<string>;
  readonly quotas: QuotaBook;
  readonly scenarios: ScenarioBook;
  readonly ids: IdSource;
  readonly requests: RecordedRequest[];
  readonly timing: WireTiming;
  readonly now: () => number;
  readonly replyPrefix: string | undefined;
}

async function serve(context: ServeContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { dialect, ids, timing } = context;
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const rawBody = await readBody(req);
  const body = parseBody(rawBody);
  const requestId = dialect.requestId(ids);
  const record = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: req.headers,
    body: body.value,
    receivedAt: context.now(),
  };

  const auth = dialect.authenticate(
    { headers: req.headers, query: url.searchParams },
    context.keys,
    requestId,
  );
  if (!auth.ok) {
    context.requests.push({ ...record, scenario: {} });
    await writeReply(res, auth.reply, {}, {}, timing);
    return;
  }

  const picked = pickScenario(context, req.headers, auth.key);
  const scenario = picked.ok ? picked.scenario : {};
  context.requests.push({ ...record, key: auth.key, scenario });
  const exchange: Exchange = {
    method: record.method,
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    body: body.value,
    scenario,
    requestId,
    ids,
    now: context.now,
    replyPrefix: context.replyPrefix ?? DEFAULT_REPLY_PREFIX,
  };
  const reply = picked.ok
    ? answer(context, exchange, auth.key, body.ok)
    : dialect.errorReply({ kind: 'bad-request', message: picked.message }, requestId);
  const quota = quotaShown(context.quotas.snapshot(auth.key), scenario);
  try {
    await writeReply(res, reply, scenario, dialect.commonHeaders(requestId, quota), timing);
  } finally {
    reply.settled?.(res.writableEnded);
  }
}

const INVALID_JSON = 'We could not parse the JSON body of your request.';

/** Scenario error first, then the quota, then the dialect's real answer. */
function answer(context: ServeContext, exchange: Exchange, key: string, bodyIsValid: boolean): Reply {
  const { dialect, quotas } = context;
  const { scenario, requestId } = exchange;
  if (scenario.error) {
    const retryAfterSeconds = scenario.retryAfterSeconds ?? (scenario.error === 'rate-limit' ? 1 : undefined);
    const { quotaModel } = scenario;
    const reply = dialect.errorReply(
      { kind: scenario.error, retryAfterSeconds, ...(quotaModel !== undefined && { quotaModel }) },
      requestId,
    );
    if (scenario.errorInStream && reply.kind === 'json') return errorInStream(reply);
    return withRetryAfter(dialect, reply, retryAfterSeconds);
  }
  const verdict = quotas.verdict(key);
  if (verdict !== 'ok') {
    const retryAfterSeconds = Math.max(1, Math.ceil(quotas.snapshot(key).resetMs / 1000));
    const limit = verdict === 'requests-spent' ? 'requests' : 'tokens';
    const reply = dialect.errorReply({ kind: 'rate-limit', limit, retryAfterSeconds }, requestId);
    return withRetryAfter(dialect, reply, retryAfterSeconds);
  }
  quotas.spendRequest(key);
  if (!bodyIsValid) return dialect.errorReply({ kind: 'bad-request', message: INVALID_JSON }, requestId);
  const reply = dialect.handle(exchange);
  if (reply.tokens) quotas.spendTokens(key, reply.tokens);
  return reply;
}

/**
 * An error body as the one frame of a 200 event stream (Anthropic's as an `error` event):
 * the status line said 200, so only the frame tells the client, and no Retry-After header.
 */
function errorInStream(reply: JsonReply): StreamReply {
  const anthropic = isRecord(reply.body) && reply.body.type === 'error';
  return {
    kind: 'stream',
    status: 200,
    contentType: SSE_CONTENT_TYPE,
    frames: [sseFrame(reply.body, anthropic ? { event: 'error' } : {})],
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Retry-After goes on the headers where the provider sends it (Gemini puts it in the body). */
function withRetryAfter(dialect: Dialect, reply: Reply, retryAfterSeconds: number | undefined): Reply {
  if (retryAfterSeconds === undefined || !dialect.sendsRetryAfterHeader) return reply;
  return { ...reply, headers: { ...reply.headers, 'retry-after': String(retryAfterSeconds) } };
}

/** A rate-limit scenario shows a spent request quota, as a real 429 does. */
function quotaShown(snapshot: QuotaSnapshot, scenario: Scenario): QuotaSnapshot {
  return scenario.error === 'rate-limit' ? { ...snapshot, remainingRequests: 0 } : snapshot;
}

type PickedScenario = { ok: true; scenario: Scenario } | { ok: false; message: string };

function pickScenario(context: ServeContext, headers: IncomingHttpHeaders, key: string): PickedScenario {
  const header = headers[SCENARIO_HEADER];
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text === undefined) return { ok: true, scenario: context.scenarios.take(key) };
  try {
    return { ok: true, scenario: toScenario(text) };
  } catch (error) {
    if (error instanceof UnknownScenarioError) return { ok: false, message: error.message };
    throw error;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The body as JSON when it parses; the raw text is kept for the log when it does not. */
function parseBody(raw: string): { ok: boolean; value: unknown } {
  if (raw === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false, value: raw };
  }
}

/** A bug in a mock must not hang the test that hit it. */
function failHard(res: ServerResponse, error: unknown): void {
  console.error('mock provider crashed', error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message: `mock crashed: ${String(error)}` } }));
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive sockets of SDK clients would otherwise hold close() open.
    server.closeAllConnections();
  });
}
