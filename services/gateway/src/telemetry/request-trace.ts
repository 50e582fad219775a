/**
 * One trace per data-plane request, with manual spans around the steps the request path
 * already has (no auto-instrumentation on the hot path):
 *
 *   POST /v1/chat/completions          SERVER, child of the caller's `traceparent`
 *   ├─ gateway.auth                    proxy key checked; tenant ids
 *   ├─ gateway.admission               limits; the refusal's reason and scope
 *   ├─ gateway.route                   the balancer's choice: provider key, attempt number
 *   ├─ provider.openai.chat            CLIENT, one per upstream attempt; its context is
 *   │                                  the `traceparent` the provider receives
 *   └─ gateway.stream                  the streamed body; event `kordon.first_token`
 *
 * The spans are `RecordedSpan`s (span-pipeline.ts), not the SDK tracer's: a request's spans
 * go to the server's `SpanPipeline` together when its root ends. The trace context is passed
 * explicitly (no AsyncLocalStorage context manager: on Node 20 it costs on every promise).
 * Only W3C Trace Context (`traceparent`, `tracestate`) is read from the caller and written
 * to the provider; a caller's `baggage` is never forwarded.
 * Attributes are ids, names, counts and codes: never a secret, a prompt, an answer or an
 * error message (which may quote the prompt).
 */
import type { IncomingMessage } from 'node:http';
import type { KordonEventData, NewEvent } from '@kordon/events';
import {
  type Attributes,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { SamplingDecision } from '@opentelemetry/sdk-trace-base';
import type { Caller } from '../http/authenticate.js';
import type { Route } from '../http/route-model.js';
import type { ProviderAnswer } from '../providers/index.js';
import type { Operation } from '../providers/provider-types.js';
import type { ProviderKeyEntry } from '../registry/registry.js';
import type { StreamFacts } from '../translate/stream-translator.js';
import type { NormalisedUsage } from '../translate/usage.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_SYSTEM,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_KORDON_ATTEMPT,
  ATTR_KORDON_ATTEMPTS,
  ATTR_KORDON_BALANCER_STRATEGY,
  ATTR_KORDON_COST,
  ATTR_KORDON_CURRENCY,
  ATTR_KORDON_FAILURE_KIND,
  ATTR_KORDON_LIMIT_SCOPE,
  ATTR_KORDON_ORG_ID,
  ATTR_KORDON_OUTCOME,
  ATTR_KORDON_PROVIDER,
  ATTR_KORDON_PROVIDER_KEY_ID,
  ATTR_KORDON_PROXY_KEY_ID,
  ATTR_KORDON_REQUEST_ID,
  ATTR_KORDON_RETRY,
  ATTR_KORDON_STREAM_END,
  ATTR_KORDON_TEAM_ID,
  ATTR_KORDON_TIME_TO_FIRST_TOKEN_MS,
  ATTR_KORDON_USER_ID,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  EVENT_FIRST_TOKEN,
  GEN_AI_OPERATION,
  GEN_AI_OPERATION_OF_ENDPOINT,
  GEN_AI_PROVIDER_NAME,
} from './attributes.js';
import { AttributeBlock, RecordedSpan, type SpanPipeline } from './span-pipeline.js';
import { PooledIdGenerator } from './trace-ids.js';

type Endpoint = KordonEventData<'RequestCompleted'>['endpoint'];

/** The path of each data-plane endpoint: the root span's `http.route` and name. */
export const ROUTE_OF_ENDPOINT = {
  'chat.completions': '/v1/chat/completions',
  completions: '/v1/completions',
  messages: '/v1/messages',
  responses: '/v1/responses',
  embeddings: '/v1/embeddings',
} as const satisfies Record<Endpoint, string>;

/** How a streamed answer ended (the exchange's `StreamEnd`). */
type StreamEnd = 'complete' | 'interrupted' | 'client_disconnected';

const propagator = new W3CTraceContextPropagator();
const ids = new PooledIdGenerator();

/** Same grammar as the events' model names: anything else is not written down. */
const MODEL_NAME = /^[A-Za-z0-9][\x21-\x7e]{0,199}$/;
/** Provider-sent strings kept on spans (response model and id, finish reasons), bounded. */
const MAX_PROVIDER_TEXT = 200;

/** Starts request traces; one per process, on the pipeline the server's telemetry provides. */
export class RequestTracing {
  readonly #pipeline: SpanPipeline;

  constructor(pipeline: SpanPipeline) {
    this.#pipeline = pipeline;
  }

  /**
   * The root span of one request (`POST /v1/chat/completions`), child of the caller's
   * `traceparent` when it sent a valid one. `startedAt` is `performance.now()` at arrival.
   */
  start(
    req: IncomingMessage,
    route: string,
    operationName: string,
    requestId: string,
    startedAt: number,
  ): RequestTrace {
    // Most callers send no `traceparent`: then there is nothing to extract (and no context to make).
    const callerContext =
      req.headers.traceparent === undefined
        ? ROOT_CONTEXT
        : propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const parent = trace.getSpanContext(callerContext);
    const endpoint = blocks.endpoint(route, operationName);
    const traceId = parent?.traceId ?? ids.generateTraceId();
    const sampling = this.#pipeline.sampler.shouldSample(
      callerContext,
      traceId,
      endpoint.spanName,
      SpanKind.SERVER,
      endpoint.samplerAttributes,
      [],
    );
    const sampled = sampling.decision === SamplingDecision.RECORD_AND_SAMPLED;
    const context: SpanContext = {
      traceId,
      spanId: ids.generateSpanId(),
      traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    };
    const traceState = sampling.traceState ?? parent?.traceState;
    if (traceState) context.traceState = traceState;
    // One wall-clock anchor per request: every time of its spans is this plus a monotonic
    // reading, so children nest exactly inside their parent.
    const clock = Date.now() - performance.now();
    let root: RecordedSpan | undefined;
    if (sampled) {
      root = new RecordedSpan(
        this.#pipeline,
        endpoint.spanName,
        SpanKind.SERVER,
        context,
        parent,
        clock + startedAt,
      );
      root.addAttributeBlock(endpoint.block);
      root.setAttribute(ATTR_KORDON_REQUEST_ID, requestId);
    }
    return new RequestTrace(this.#pipeline, context, root, clock);
  }

  /** The root span of a generating endpoint, named after its path. */
  startGenerate(
    req: IncomingMessage,
    endpoint: Endpoint,
    requestId: string,
    startedAt: number,
  ): RequestTrace {
    return this.start(
      req,
      ROUTE_OF_ENDPOINT[endpoint],
      GEN_AI_OPERATION_OF_ENDPOINT[endpoint],
      requestId,
      startedAt,
    );
  }
}

/** The spans of one request. Every method is cheap and does nothing more when the request is not sampled. */
export class RequestTrace {
  readonly #pipeline: SpanPipeline;
  /** The root span's context (also when not sampled: it is what the provider gets then). */
  readonly #context: SpanContext;
  /** Absent when the sampler dropped the request: only the trace context is propagated. */
  readonly #root: RecordedSpan | undefined;
  /** Epoch ms minus `performance.now()`, read once for the request. */
  readonly #clock: number;
  readonly recording: boolean;
  /** Every span of the request; they go to the pipeline when the root ends. */
  readonly #spans: RecordedSpan[] = [];
  #stream: RecordedSpan | undefined;
  #ended = false;
  #rootHeaders: Record<string, string> | undefined;

  constructor(pipeline: SpanPipeline, context: SpanContext, root: RecordedSpan | undefined, clock: number) {
    this.#pipeline = pipeline;
    this.#context = context;
    this.#root = root;
    this.#clock = clock;
    this.recording = root !== undefined;
    if (root) this.#spans.push(root);
  }

  /** Now, in epoch ms with sub-millisecond digits, on the request's clock. */
  #now(): number {
    return this.#clock + performance.now();
  }

  /** The trace id (32 hex digits), for logs and answers. */
  get traceId(): string {
    return this.#context.traceId;
  }

  /** A child span of the root, recorded with the others. */
  #child(name: string, kind: SpanKind, startMs: number): RecordedSpan {
    const context: SpanContext = {
      traceId: this.#context.traceId,
      spanId: ids.generateSpanId(),
      traceFlags: TraceFlags.SAMPLED,
    };
    if (this.#context.traceState) context.traceState = this.#context.traceState;
    const span = new RecordedSpan(this.#pipeline, name, kind, context, this.#context, startMs);
    this.#spans.push(span);
    return span;
  }

  /** Ends a span; one that ends after the root (the rest went already) goes on its own. */
  #close(span: RecordedSpan, epochMs: number): void {
    if (span.end(epochMs) && this.#ended) this.#pipeline.export([span]);
  }

  /** `gateway.auth`, from `startedAt` to now, and the caller's tenant ids on the root. */
  authenticated(startedAt: number, caller: Caller): void {
    const root = this.#root;
    if (!root) return;
    const callerBlocks = blocks.caller(caller);
    root.addAttributeBlock(callerBlocks.root);
    // The other ids are on the root; each attribute is paid for again at every export.
    const auth = this.#step('gateway.auth', startedAt);
    auth.addAttributeBlock(callerBlocks.auth);
    this.#done(auth);
  }

  /** The key was refused (401): `gateway.auth` fails and the request ends here. */
  unauthenticated(startedAt: number, status: number, kind: string): void {
    if (this.recording) {
      const auth = this.#step('gateway.auth', startedAt);
      auth.setAttribute(ATTR_ERROR_TYPE, kind);
      auth.setStatus({ code: SpanStatusCode.ERROR, message: kind });
      this.#done(auth);
      this.#root?.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      this.#root?.setAttribute(ATTR_ERROR_TYPE, kind);
    }
    this.#endRoot();
  }

  /** What the caller asked for, once the body is read. */
  requested(model: string, stream: boolean, maxTokens: number | null): void {
    if (!this.recording) return;
    this.#root?.setAttribute(ATTR_GEN_AI_REQUEST_STREAM, stream);
    if (MODEL_NAME.test(model)) this.#root?.setAttribute(ATTR_GEN_AI_REQUEST_MODEL, model);
    if (maxTokens !== null) this.#root?.setAttribute(ATTR_GEN_AI_REQUEST_MAX_TOKENS, maxTokens);
  }

  /** `gateway.admission`, from `startedAt` to now; a refusal is an expected outcome, not an error. */
  admission(
    startedAt: number,
    refusal: { reason: string; limitScope: { scope: string } | null } | undefined,
  ): void {
    if (!this.recording) return;
    const span = this.#step('gateway.admission', startedAt);
    if (refusal) {
      span.setAttribute(ATTR_ERROR_TYPE, refusal.reason);
      span.setAttribute(ATTR_KORDON_LIMIT_SCOPE, refusal.limitScope?.scope ?? '');
    }
    this.#done(span);
  }

  /** `gateway.route`: the balancer's choice of a provider key for attempt `attempt` (1 first). */
  chose(startedAt: number, route: Route, key: ProviderKeyEntry, attempt: number): void {
    if (!this.recording) return;
    const span = this.#step('gateway.route', startedAt);
    span.addAttributeBlock(blocks.choice(key, route.provider.options.balancer ?? 'adaptive'));
    span.setAttribute(ATTR_KORDON_ATTEMPT, attempt);
    this.#done(span);
  }

  /**
   * `provider.<type>.<operation>` (e.g. `provider.openai.chat`) for one upstream call. Its
   * `headers` carry the attempt span's context to the provider; unsampled, the root's.
   */
  attempt(
    route: Route,
    operation: Operation,
    key: ProviderKeyEntry,
    attempt: number,
    maxTokens: number | null = null,
  ): AttemptTrace {
    if (!this.recording) {
      this.#rootHeaders ??= inject(this.#context);
      return new AttemptTrace(undefined, this.#rootHeaders, this);
    }
    const upstream = blocks.upstream(route, operation, key);
    const span = this.#child(upstream.spanName, SpanKind.CLIENT, this.#now());
    span.addAttributeBlock(upstream.block);
    span.setAttribute(ATTR_KORDON_ATTEMPT, attempt);
    if (maxTokens !== null) span.setAttribute(ATTR_GEN_AI_REQUEST_MAX_TOKENS, maxTokens);
    return new AttemptTrace(span, inject(span.spanContext()), this);
  }

  /** An attempt's span ends (AttemptTrace). */
  endAttempt(span: RecordedSpan): void {
    this.#done(span);
  }

  /** `gateway.stream` begins: the answer's headers are about to go to the caller. */
  streamStarted(): void {
    if (!this.recording) return;
    this.#stream = this.#child('gateway.stream', SpanKind.INTERNAL, this.#now());
  }

  /** `gateway.stream` ends; `firstByteAt` (`performance.now()`) becomes its first-token event. */
  streamEnded(end: StreamEnd, startedAt: number, firstByteAt: number | undefined): void {
    const span = this.#stream;
    if (!span) return;
    this.#stream = undefined;
    span.setAttribute(ATTR_KORDON_STREAM_END, end);
    if (firstByteAt !== undefined) {
      span.addEvent(
        EVENT_FIRST_TOKEN,
        { [ATTR_KORDON_TIME_TO_FIRST_TOKEN_MS]: Math.round(firstByteAt - startedAt) },
        this.#clock + firstByteAt,
      );
    }
    if (end === 'interrupted') span.setStatus({ code: SpanStatusCode.ERROR, message: 'stream_interrupted' });
    this.#done(span);
  }

  /** Ends the root span with the request's one event: status, usage, cost, outcome. */
  finish(event: NewEvent): void {
    const root = this.#root;
    if (root) {
      switch (event.type) {
        case 'RequestCompleted': {
          const data = event.data as KordonEventData<'RequestCompleted'>;
          root.setAttribute(ATTR_KORDON_OUTCOME, 'completed');
          root.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, data.status);
          // Provider and key are on the serving attempt's span (every attribute is paid at export).
          chargeAttributes(root, data);
          break;
        }
        case 'RequestFailed': {
          const data = event.data as KordonEventData<'RequestFailed'>;
          root.setAttribute(ATTR_KORDON_OUTCOME, 'failed');
          root.setAttribute(ATTR_ERROR_TYPE, data.errorCode);
          if (data.status !== null) root.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, data.status);
          chargeAttributes(root, data);
          // The caller leaving, or the provider refusing the request itself (4xx), is no fault of the server.
          const fault =
            data.errorCode !== 'client_disconnected' &&
            (data.status === null || data.status >= 500 || data.errorCode === 'stream_interrupted');
          if (fault) root.setStatus({ code: SpanStatusCode.ERROR, message: data.errorCode });
          break;
        }
        case 'RequestRejected': {
          const data = event.data as KordonEventData<'RequestRejected'>;
          root.setAttribute(ATTR_KORDON_OUTCOME, 'rejected');
          root.setAttribute(ATTR_ERROR_TYPE, data.reason);
          root.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, data.status);
          if (data.limitScope) root.setAttribute(ATTR_KORDON_LIMIT_SCOPE, data.limitScope.scope);
          break;
        }
        default:
          break;
      }
    }
    this.#endRoot();
  }

  /** Ends the root span of an endpoint that writes no event (count_tokens). */
  end(status: number, errorType?: string): void {
    if (this.recording) {
      this.#root?.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (errorType !== undefined) this.#root?.setAttribute(ATTR_ERROR_TYPE, errorType);
      if (status >= 500) this.#root?.setStatus({ code: SpanStatusCode.ERROR, message: errorType ?? '' });
    }
    this.#endRoot();
  }

  #endRoot(): void {
    if (this.#ended) return;
    const now = this.#now();
    if (this.#stream) this.#close(this.#stream, now);
    this.#ended = true;
    if (!this.#root) return;
    this.#root.end(now);
    // What has ended goes now; an attempt still open goes when it ends (#close).
    const spans = this.#spans;
    this.#pipeline.export(spans.every(hasEnded) ? spans : spans.filter(hasEnded));
  }

  /** A child span of a step that began at `startedAt`, for its attributes; `#done` ends it now. */
  #step(name: string, startedAt: number): RecordedSpan {
    return this.#child(name, SpanKind.INTERNAL, this.#clock + startedAt);
  }

  #done(span: RecordedSpan): void {
    this.#close(span, this.#now());
  }
}

/** One upstream attempt's span (absent when not sampled) and the headers that carry its context. */
export class AttemptTrace {
  readonly #span: RecordedSpan | undefined;
  readonly #request: RequestTrace;
  /** `traceparent` (and `tracestate`) for the provider request. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(span: RecordedSpan | undefined, headers: Record<string, string>, request: RequestTrace) {
    this.#span = span;
    this.headers = headers;
    this.#request = request;
  }

  #end(span: RecordedSpan): void {
    this.#request.endAttempt(span);
  }

  /** A finished answer: its status, what the provider says it served, the usage. */
  answered(answer: ProviderAnswer, usage: NormalisedUsage | undefined): void {
    const span = this.#span;
    if (!span || span.ended) return;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, answer.status);
    let json: unknown;
    try {
      json = answer.json();
    } catch {
      json = undefined;
    }
    answerFacts(span, json);
    if (usage) usageAttributes(span, usage);
    this.#end(span);
  }

  /** A stream's headers arrived; the span stays open until the body ends. */
  streaming(status: number): void {
    this.#span?.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  }

  /** The streamed body ended (cleanly, broken, or the caller left); what the stream said of its answer. */
  streamEnded(usage: NormalisedUsage | undefined, end: StreamEnd, facts?: StreamFacts): void {
    const span = this.#span;
    if (!span || span.ended) return;
    if (usage) usageAttributes(span, usage);
    // Provider-sent strings, bounded as a finished answer's are (`answerFacts`).
    const id = text(facts?.responseId);
    const model = text(facts?.responseModel);
    if (id) span.setAttribute(ATTR_GEN_AI_RESPONSE_ID, id);
    if (model) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, model);
    if (facts && facts.finishReasons.length > 0)
      span.setAttribute(
        ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
        // The stream is over: its list is final, and copied only when it must be cut.
        facts.finishReasons.length <= 16
          ? (facts.finishReasons as string[])
          : facts.finishReasons.slice(0, 16),
      );
    if (end === 'interrupted') span.setStatus({ code: SpanStatusCode.ERROR, message: 'stream_interrupted' });
    this.#end(span);
  }

  /**
   * The attempt failed: the provider's status, the error's code (never its message), how it
   * counts for the key, and whether Kordon goes on with another key or provider.
   */
  failed(error: unknown, kind: string | undefined, retry: boolean): void {
    const span = this.#span;
    if (!span || span.ended) return;
    const { status, code } = error as { status?: unknown; code?: unknown };
    const type = typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown';
    span.setAttribute(ATTR_ERROR_TYPE, type);
    span.setAttribute(ATTR_KORDON_RETRY, retry);
    if (typeof status === 'number') span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (kind !== undefined) span.setAttribute(ATTR_KORDON_FAILURE_KIND, kind);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
    this.#end(span);
  }
}

/**
 * `traceparent` (and `tracestate`) naming `span` as the parent, in W3C Trace Context: the
 * strings `W3CTraceContextPropagator.inject` writes, without the context object it needs
 * (the ids are this module's own or were validated by `extract`).
 */
function inject(span: SpanContext): Record<string, string> {
  const headers: Record<string, string> = {
    traceparent: `00-${span.traceId}-${span.spanId}-0${Number(span.traceFlags || TraceFlags.NONE).toString(16)}`,
  };
  if (span.traceState) headers.tracestate = span.traceState.serialize();
  return headers;
}

/** Where attributes are set: a span, or (in tests) anything that collects them. */
export type AttributeSink = Pick<RecordedSpan, 'setAttribute'>;

const hasEnded = (span: RecordedSpan) => span.ended;

/** What a request was charged (its event's attempts, usage and cost), on its root span. */
function chargeAttributes(
  root: RecordedSpan,
  data: Pick<KordonEventData<'RequestFailed'>, 'attempts' | 'usage' | 'cost' | 'currency'>,
): void {
  root.setAttribute(ATTR_KORDON_ATTEMPTS, data.attempts);
  usageAttributes(root, data.usage);
  if (data.cost !== null && data.currency !== null) {
    root.setAttribute(ATTR_KORDON_COST, data.cost);
    root.setAttribute(ATTR_KORDON_CURRENCY, data.currency);
  }
}

function usageAttributes(span: AttributeSink, usage: NormalisedUsage): void {
  span.setAttribute(ATTR_GEN_AI_USAGE_INPUT_TOKENS, usage.inputTokens);
  span.setAttribute(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, usage.outputTokens);
  if (usage.cachedInputTokens > 0)
    span.setAttribute(ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cachedInputTokens);
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value.slice(0, MAX_PROVIDER_TEXT) : undefined;

/**
 * What a finished answer says about itself, in any of the three dialects: its id, the model
 * that served it, why each choice stopped (OpenAI `choices[].finish_reason`, Anthropic
 * `stop_reason`, Gemini `candidates[].finishReason`, Responses `status`).
 */
export function answerFacts(span: AttributeSink, json: unknown): void {
  if (typeof json !== 'object' || json === null) return;
  const answer = json as Record<string, unknown>;
  const id = text(answer.id) ?? text(answer.responseId);
  if (id) span.setAttribute(ATTR_GEN_AI_RESPONSE_ID, id);
  const model = text(answer.model) ?? text(answer.modelVersion);
  if (model) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, model);
  const reasons: string[] = [];
  const stop = text(answer.stop_reason);
  if (stop) reasons.push(stop);
  const choices = Array.isArray(answer.choices)
    ? answer.choices
    : Array.isArray(answer.candidates)
      ? answer.candidates
      : [];
  for (let i = 0; i < choices.length && i < 16; i++) {
    const choice: unknown = choices[i];
    if (typeof choice !== 'object' || choice === null) continue;
    const { finish_reason, finishReason } = choice as { finish_reason?: unknown; finishReason?: unknown };
    const reason = text(finish_reason) ?? text(finishReason);
    if (reason) reasons.push(reason);
  }
  if (answer.object === 'response') {
    const status = text(answer.status);
    if (status) reasons.push(status);
  }
  if (reasons.length > 0) span.setAttribute(ATTR_GEN_AI_RESPONSE_FINISH_REASONS, reasons);
}

/**
 * The attribute blocks of what recurs from request to request, made once per endpoint,
 * proxy key and provider key (registry entries: a registry change makes new ones, and
 * their blocks go with the old entries), and checked against what they were made from.
 */
class AttributeBlocks {
  readonly #endpoints = new Map<
    string,
    { operationName: string; spanName: string; block: AttributeBlock; samplerAttributes: Attributes }
  >();
  readonly #callers = new WeakMap<
    Caller['key'],
    { userId: string; root: AttributeBlock; auth: AttributeBlock }
  >();
  readonly #choices = new WeakMap<ProviderKeyEntry, { strategy: string; block: AttributeBlock }>();
  readonly #upstreams = new WeakMap<
    ProviderKeyEntry,
    Map<
      string,
      { provider: Route['provider']; operationName: string; spanName: string; block: AttributeBlock }
    >
  >();

  /** The root span's name and its endpoint's attributes (also what the sampler is shown). */
  endpoint(route: string, operationName: string) {
    let endpoint = this.#endpoints.get(route);
    if (endpoint?.operationName !== operationName) {
      const attributes: Attributes = {
        [ATTR_GEN_AI_OPERATION_NAME]: operationName,
        [ATTR_HTTP_REQUEST_METHOD]: 'POST',
        [ATTR_HTTP_ROUTE]: route,
        [ATTR_URL_PATH]: route,
      };
      endpoint = {
        operationName,
        spanName: `POST ${route}`,
        block: new AttributeBlock(attributes),
        samplerAttributes: Object.freeze(attributes),
      };
      // Routes are the gateway's own few paths; the bound only guards a mistake.
      if (this.#endpoints.size >= 64) this.#endpoints.clear();
      this.#endpoints.set(route, endpoint);
    }
    return endpoint;
  }

  /** The caller's tenant ids (root span), and the org alone (`gateway.auth`). */
  caller(caller: Caller) {
    let blocks = this.#callers.get(caller.key);
    if (blocks?.userId !== caller.user.userId) {
      const ids: Attributes = {
        [ATTR_KORDON_ORG_ID]: caller.key.orgId,
        [ATTR_KORDON_PROXY_KEY_ID]: caller.key.proxyKeyId,
        [ATTR_KORDON_USER_ID]: caller.user.userId,
      };
      if (caller.key.teamId) ids[ATTR_KORDON_TEAM_ID] = caller.key.teamId;
      blocks = {
        userId: caller.user.userId,
        root: new AttributeBlock(ids),
        auth: new AttributeBlock({ [ATTR_KORDON_ORG_ID]: caller.key.orgId }),
      };
      this.#callers.set(caller.key, blocks);
    }
    return blocks;
  }

  /** The balancer's choice (`gateway.route`): the provider key and the strategy that chose it. */
  choice(key: ProviderKeyEntry, strategy: string): AttributeBlock {
    let choice = this.#choices.get(key);
    if (choice?.strategy !== strategy) {
      choice = {
        strategy,
        block: new AttributeBlock({
          [ATTR_KORDON_PROVIDER_KEY_ID]: key.providerKeyId,
          [ATTR_KORDON_BALANCER_STRATEGY]: strategy,
        }),
      };
      this.#choices.set(key, choice);
    }
    return choice.block;
  }

  /** An upstream call's span name and attributes: operation, provider, model, key and server. */
  upstream(route: Route, operation: Operation, key: ProviderKeyEntry) {
    let byModel = this.#upstreams.get(key);
    if (!byModel) {
      byModel = new Map();
      this.#upstreams.set(key, byModel);
    }
    const operationName = GEN_AI_OPERATION[operation];
    let upstream = byModel.get(route.model);
    if (upstream?.provider !== route.provider || upstream.operationName !== operationName) {
      const type = route.provider.type;
      const genAiProvider = GEN_AI_PROVIDER_NAME[type];
      const attributes: Attributes = {
        [ATTR_GEN_AI_OPERATION_NAME]: operationName,
        [ATTR_GEN_AI_PROVIDER_NAME]: genAiProvider,
        [ATTR_GEN_AI_SYSTEM]: genAiProvider,
        [ATTR_GEN_AI_REQUEST_MODEL]: route.model,
        [ATTR_KORDON_PROVIDER]: route.provider.name,
        [ATTR_KORDON_PROVIDER_KEY_ID]: key.providerKeyId,
      };
      const server = serverOf(route.provider.baseUrl);
      if (server) {
        attributes[ATTR_SERVER_ADDRESS] = server.address;
        attributes[ATTR_SERVER_PORT] = server.port;
      }
      upstream = {
        provider: route.provider,
        operationName,
        spanName: `provider.${type}.${operationName}`,
        block: new AttributeBlock(attributes),
      };
      // A key serves a handful of models; the bound only guards a churning catalogue.
      if (byModel.size >= 256) byModel.clear();
      byModel.set(route.model, upstream);
    }
    return upstream;
  }
}

const blocks = new AttributeBlocks();

/** `server.address` and `server.port` of a provider's base URL (read once per upstream block). */
function serverOf(baseUrl: string): { address: string; port: number } | null {
  try {
    const url = new URL(baseUrl);
    const port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
    return { address: url.hostname.replace(/^\[|\]$/g, ''), port };
  } catch {
    return null;
  }
}
