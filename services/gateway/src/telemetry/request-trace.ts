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
 * The spans are `RecordedSpan`s (span-pipeline.ts), not the SDK tracer's, made from what the
 * request recorded when the pipeline asks (`RequestTrace` says why): a request's spans go
 * to the server's `SpanPipeline` together when its root ends. The trace context is passed
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
import type { SamplingDecision } from '@opentelemetry/sdk-trace-base';
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
  ATTR_GEN_AI_REQUEST_CHOICE_COUNT,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_SEED,
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
  ATTR_URL_SCHEME,
  EVENT_FIRST_TOKEN,
  GEN_AI_OPERATION,
  GEN_AI_OPERATION_OF_ENDPOINT,
  genAiProviderName,
  TAKES_SEED,
} from './attributes.js';
import { AttributeBlock, type EndedSpans, RecordedSpan, type SpanPipeline } from './span-pipeline.js';
import { PooledIdGenerator } from './trace-ids.js';

type Endpoint = KordonEventData<'RequestCompleted'>['endpoint'];

/** The path of each data-plane endpoint: the root span's `http.route` and name. */
export const ROUTE_OF_ENDPOINT = {
  'chat.completions': '/v1/chat/completions',
  completions: '/v1/completions',
  messages: '/v1/messages',
  responses: '/v1/responses',
  'responses.compact': '/v1/responses/compact',
  embeddings: '/v1/embeddings',
} as const satisfies Record<Endpoint, string>;

/** How a streamed answer ended (the exchange's `StreamEnd`). */
type StreamEnd = 'complete' | 'interrupted' | 'client_disconnected';

const propagator = new W3CTraceContextPropagator();
/**
 * The SDK's `SamplingDecision.RECORD_AND_SAMPLED` (its value is part of the sampler contract):
 * named here, by type, so that importing the gateway does not load the whole SDK for one enum
 * in a process whose tracing is off (the SDK comes with the pipeline, when tracing is on).
 */
const RECORD_AND_SAMPLED: SamplingDecision.RECORD_AND_SAMPLED = 2;
const ids = new PooledIdGenerator();

/** Same grammar as the events' model names: anything else is not written down. */
const MODEL_NAME = /^[A-Za-z0-9][\x21-\x7e]{0,199}$/;
/** Provider-sent strings kept on spans (response model and id, finish reasons), bounded. */
const MAX_PROVIDER_TEXT = 200;

/** `error.type` of a stream that broke, when nothing more is known of what broke it. */
const STREAM_INTERRUPTED = 'stream_interrupted';

/** No links: the sampler is shown the same empty list every time (it only reads it). */
const NO_LINKS = Object.freeze([]) as never[];

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
      NO_LINKS,
    );
    const sampled = sampling.decision === RECORD_AND_SAMPLED;
    const context: SpanContext = {
      traceId,
      spanId: ids.generateSpanId(),
      traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    };
    const traceState = sampling.traceState ?? parent?.traceState;
    if (traceState) context.traceState = traceState;
    return new RequestTrace(this.#pipeline, context, parent, sampled, endpoint, requestId, startedAt);
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

/** The balancer's choice for one attempt (`gateway.route`), kept as times until the spans are made. */
interface Choice {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly block: AttributeBlock;
  readonly attempt: number;
}

/**
 * The spans of one request. Every method is cheap and does nothing more when the request is
 * not sampled.
 *
 * The request's steps are recorded as times and references, and its spans are made only
 * when the pipeline asks (`EndedSpans.make`): the server's pipeline makes and encodes the
 * spans of many ended requests in one run, where the code that does it is warm; made
 * request by request, between requests, it ran cold each time and cost several times what
 * it costs alone (docs/benchmarks.md, "Where the traced cost is"). An attempt that ends
 * after the root (the caller left first) is made then and goes alone.
 */
export class RequestTrace implements EndedSpans {
  readonly #pipeline: SpanPipeline;
  /** The root span's context (also when not sampled: it is what the provider gets then). */
  readonly #context: SpanContext;
  /** The caller's span context, when it sent a valid `traceparent`: the root's parent. */
  readonly #parent: SpanContext | undefined;
  readonly #endpoint: EndpointBlocks;
  readonly #requestId: string;
  /** `performance.now()` at arrival: the root's start. */
  readonly #startedAt: number;
  /** Epoch ms minus `performance.now()`, read once for the request. */
  readonly #clock: number;
  /** False when the sampler dropped the request: only the trace context is propagated. */
  readonly recording: boolean;
  #ended = false;
  #rootHeaders: Record<string, string> | undefined;
  // What the request records (sampled requests only); -1: did not happen.
  #caller: CallerBlocks | undefined;
  #authStartedAt = -1;
  #authEndedAt = -1;
  #authError: string | undefined;
  #stream: boolean | undefined;
  #model: string | undefined;
  #maxTokens: number | null = null;
  /** The request's `seed` and its `n` when not 1 (integers only), for the attempt spans. */
  #seed: number | undefined;
  #choiceCount: number | undefined;
  #admissionStartedAt = -1;
  #admissionEndedAt = -1;
  #refusal: { reason: string; scope: string } | undefined;
  #choices: Choice[] | undefined;
  /** Attempts that ended before the root. */
  #attempts: AttemptTrace[] | undefined;
  #streamStartedAt = -1;
  #streamEndedAt = -1;
  #streamEnd: StreamEnd | undefined;
  #firstByteAt: number | undefined;
  /** What the time to first token is counted from (the request's arrival, as the event counts it). */
  #firstTokenFrom = 0;
  #endedAt = -1;
  /**
   * How the root ended, read from the request's event when it has one (the event itself is
   * not kept: with body logging on it carries the bodies).
   */
  #outcome: RequestOutcome | undefined;
  #endStatus: number | null = 0;
  #endError: string | undefined;
  /** The end is a fault of the server's (the root's status is an error). */
  #fault = false;
  #limitScope: string | undefined;
  #charge: Charge | undefined;

  constructor(
    pipeline: SpanPipeline,
    context: SpanContext,
    parent: SpanContext | undefined,
    sampled: boolean,
    endpoint: EndpointBlocks,
    requestId: string,
    startedAt: number,
  ) {
    this.#pipeline = pipeline;
    this.#context = context;
    this.#parent = parent;
    this.recording = sampled;
    this.#endpoint = endpoint;
    this.#requestId = requestId;
    this.#startedAt = startedAt;
    // One wall-clock anchor per request: every time of its spans is this plus a monotonic
    // reading, so children nest exactly inside their parent.
    this.#clock = Date.now() - performance.now();
  }

  /** The trace id (32 hex digits), for logs and answers. */
  get traceId(): string {
    return this.#context.traceId;
  }

  /** A span of this request from `startedAt` (`performance.now()`), child of the root unless `context` is the root's own. */
  span(name: string, kind: SpanKind, context: SpanContext, startedAt: number): RecordedSpan {
    const parent = context === this.#context ? this.#parent : this.#context;
    return new RecordedSpan(this.#pipeline, name, kind, context, parent, this.#clock + startedAt);
  }

  /** Ends a span at `endedAt` (`performance.now()`). */
  endSpan(span: RecordedSpan, endedAt: number): void {
    span.end(this.#clock + endedAt);
  }

  /** A new child span's context: the root's trace, a span id of its own. */
  childContext(): SpanContext {
    const context: SpanContext = {
      traceId: this.#context.traceId,
      spanId: ids.generateSpanId(),
      traceFlags: TraceFlags.SAMPLED,
    };
    if (this.#context.traceState) context.traceState = this.#context.traceState;
    return context;
  }

  /** An attempt ended: its span is made with the root's, or now and alone when the root has ended. */
  attemptEnded(attempt: AttemptTrace): void {
    if (this.#ended) this.#pipeline.export([attempt.make()]);
    else if (this.#attempts) this.#attempts.push(attempt);
    else this.#attempts = [attempt];
  }

  /** `gateway.auth`, from `startedAt` to now, and the caller's tenant ids on the root. */
  authenticated(startedAt: number, caller: Caller): void {
    if (!this.recording) return;
    this.#caller = blocks.caller(caller);
    this.#authStartedAt = startedAt;
    this.#authEndedAt = performance.now();
  }

  /** The key was refused (401): `gateway.auth` fails and the request ends here. */
  unauthenticated(startedAt: number, status: number, kind: string): void {
    if (this.recording && !this.#ended) {
      this.#authStartedAt = startedAt;
      this.#authEndedAt = performance.now();
      this.#authError = kind;
      this.#endStatus = status;
      this.#endError = kind;
    }
    this.#endRoot();
  }

  /**
   * What the caller asked for, once the body is read; `sampling`: the body of an OpenAI chat or
   * completions request, whose `seed` and `n` go to the provider as sent.
   */
  requested(
    model: string,
    stream: boolean,
    maxTokens: number | null,
    sampling?: { readonly seed?: unknown; readonly n?: unknown },
  ): void {
    if (!this.recording) return;
    this.#stream = stream;
    if (MODEL_NAME.test(model)) this.#model = model;
    this.#maxTokens = maxTokens;
    if (sampling === undefined) return;
    const { seed, n } = sampling;
    if (Number.isSafeInteger(seed)) this.#seed = seed as number;
    if (Number.isSafeInteger(n) && n !== 1) this.#choiceCount = n as number;
  }

  /**
   * The request's sampling settings the conventions ask of each attempt's (inference) span;
   * the seed only where it is sent (`takesSeed`).
   */
  samplingAttributes(span: AttributeSink, takesSeed: boolean): void {
    if (this.#seed !== undefined && takesSeed) span.setAttribute(ATTR_GEN_AI_REQUEST_SEED, this.#seed);
    if (this.#choiceCount !== undefined)
      span.setAttribute(ATTR_GEN_AI_REQUEST_CHOICE_COUNT, this.#choiceCount);
  }

  /** `gateway.admission`, from `startedAt` to now; a refusal is an expected outcome, not an error. */
  admission(
    startedAt: number,
    refusal: { reason: string; limitScope: { scope: string } | null } | undefined,
  ): void {
    if (!this.recording) return;
    this.#admissionStartedAt = startedAt;
    this.#admissionEndedAt = performance.now();
    if (refusal) this.#refusal = { reason: refusal.reason, scope: refusal.limitScope?.scope ?? '' };
  }

  /** `gateway.route`: the balancer's choice of a provider key for attempt `attempt` (1 first). */
  chose(startedAt: number, route: Route, key: ProviderKeyEntry, attempt: number): void {
    if (!this.recording) return;
    const choice: Choice = {
      startedAt,
      endedAt: performance.now(),
      block: blocks.choice(key, route.provider.options.balancer ?? 'adaptive'),
      attempt,
    };
    if (this.#choices) this.#choices.push(choice);
    else this.#choices = [choice];
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
      return new AttemptTrace(this, this.#rootHeaders, undefined, undefined, attempt, null);
    }
    const context = this.childContext();
    return new AttemptTrace(
      this,
      inject(context),
      context,
      blocks.upstream(route, operation, key),
      attempt,
      maxTokens,
      this.#stream === true,
    );
  }

  /** `gateway.stream` begins: the answer's headers are about to go to the caller. */
  streamStarted(): void {
    if (this.recording && !this.#ended) this.#streamStartedAt = performance.now();
  }

  /**
   * A streamed attempt failed before its stream reached the caller (one that did ends through
   * `streamEnded`): no `gateway.stream` for it; the next attempt's stream may start one.
   */
  streamWithdrawn(): void {
    if (!this.#ended && this.#streamEnd === undefined) this.#streamStartedAt = -1;
  }

  /** `gateway.stream` ends; `firstByteAt` (`performance.now()`) becomes its first-token event. */
  streamEnded(end: StreamEnd, startedAt: number, firstByteAt: number | undefined): void {
    if (this.#streamStartedAt < 0 || this.#streamEnd !== undefined || this.#ended) return;
    this.#streamEnd = end;
    this.#streamEndedAt = performance.now();
    this.#firstByteAt = firstByteAt;
    this.#firstTokenFrom = startedAt;
  }

  /** Ends the root span with the request's one event: status, usage, cost, outcome. */
  finish(event: NewEvent): void {
    if (this.recording && !this.#ended) this.#readOutcome(event);
    this.#endRoot();
  }

  /** Ends the root span of an endpoint that writes no event (count_tokens). */
  end(status: number, errorType?: string): void {
    if (this.recording && !this.#ended) {
      this.#endStatus = status;
      this.#endError = errorType;
      this.#fault = status >= 500;
    }
    this.#endRoot();
  }

  #endRoot(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.recording) return;
    this.#endedAt = performance.now();
    // The spans are made when the pipeline asks (`make`).
    this.#pipeline.export(this);
  }

  /** How many spans `make` returns. */
  get count(): number {
    return (
      1 +
      (this.#authStartedAt >= 0 ? 1 : 0) +
      (this.#admissionStartedAt >= 0 ? 1 : 0) +
      (this.#choices?.length ?? 0) +
      (this.#attempts?.length ?? 0) +
      (this.#streamStartedAt >= 0 ? 1 : 0)
    );
  }

  /** The ended request's spans: the root, its steps, the attempts that ended before it, the stream. */
  make(): readonly RecordedSpan[] {
    const spans: RecordedSpan[] = [this.#root()];
    if (this.#authStartedAt >= 0) {
      const auth = this.#child('gateway.auth', this.#authStartedAt);
      // The other ids are on the root; each attribute is paid for again at every export.
      if (this.#caller) auth.addAttributeBlock(this.#caller.auth);
      if (this.#authError !== undefined) {
        auth.setAttribute(ATTR_ERROR_TYPE, this.#authError);
        auth.setStatus({ code: SpanStatusCode.ERROR, message: this.#authError });
      }
      this.endSpan(auth, this.#authEndedAt);
      spans.push(auth);
    }
    if (this.#admissionStartedAt >= 0) {
      const admission = this.#child('gateway.admission', this.#admissionStartedAt);
      if (this.#refusal) {
        admission.setAttribute(ATTR_ERROR_TYPE, this.#refusal.reason);
        admission.setAttribute(ATTR_KORDON_LIMIT_SCOPE, this.#refusal.scope);
      }
      this.endSpan(admission, this.#admissionEndedAt);
      spans.push(admission);
    }
    const choices = this.#choices;
    if (choices) {
      for (let i = 0; i < choices.length; i++) {
        const choice = choices[i] as Choice;
        const route = this.#child('gateway.route', choice.startedAt);
        route.addAttributeBlock(choice.block);
        route.setAttribute(ATTR_KORDON_ATTEMPT, choice.attempt);
        this.endSpan(route, choice.endedAt);
        spans.push(route);
      }
    }
    const attempts = this.#attempts;
    if (attempts) for (let i = 0; i < attempts.length; i++) spans.push((attempts[i] as AttemptTrace).make());
    if (this.#streamStartedAt >= 0) spans.push(this.#streamSpan());
    return spans;
  }

  /** What the root says of the request's one event: outcome, status, error, usage and cost. */
  #readOutcome(event: NewEvent): void {
    switch (event.type) {
      case 'RequestCompleted': {
        const data = event.data as KordonEventData<'RequestCompleted'>;
        this.#outcome = 'completed';
        this.#endStatus = data.status;
        // Provider and key are on the serving attempt's span (every attribute is paid at export).
        this.#charge = chargeOf(data);
        break;
      }
      case 'RequestFailed': {
        const data = event.data as KordonEventData<'RequestFailed'>;
        this.#outcome = 'failed';
        this.#endError = data.errorCode;
        // A stream that began was answered 200, though the event's status is null (not how it ended).
        const status = data.status ?? (this.#streamStartedAt >= 0 ? 200 : null);
        this.#endStatus = status;
        this.#charge = chargeOf(data);
        // The caller leaving, or the provider refusing the request itself (4xx), is no fault of the server.
        this.#fault =
          data.errorCode !== 'client_disconnected' &&
          (status === null ||
            status >= 500 ||
            data.errorCode === 'stream_interrupted' ||
            data.errorCode === 'gateway_shutdown');
        break;
      }
      case 'RequestRejected': {
        const data = event.data as KordonEventData<'RequestRejected'>;
        this.#outcome = 'rejected';
        this.#endError = data.reason;
        this.#endStatus = data.status;
        if (data.limitScope) this.#limitScope = data.limitScope.scope;
        break;
      }
      default:
        break;
    }
  }

  /** The root span, with what the request recorded and how it ended. */
  #root(): RecordedSpan {
    const root = this.span(this.#endpoint.spanName, SpanKind.SERVER, this.#context, this.#startedAt);
    root.addAttributeBlock(this.#endpoint.block);
    root.setAttribute(ATTR_KORDON_REQUEST_ID, this.#requestId);
    if (this.#caller) root.addAttributeBlock(this.#caller.root);
    if (this.#stream !== undefined) root.setAttribute(ATTR_GEN_AI_REQUEST_STREAM, this.#stream);
    if (this.#model !== undefined) root.setAttribute(ATTR_GEN_AI_REQUEST_MODEL, this.#model);
    if (this.#maxTokens !== null) root.setAttribute(ATTR_GEN_AI_REQUEST_MAX_TOKENS, this.#maxTokens);
    if (this.#outcome !== undefined) root.setAttribute(ATTR_KORDON_OUTCOME, this.#outcome);
    if (this.#endError !== undefined) root.setAttribute(ATTR_ERROR_TYPE, this.#endError);
    if (this.#endStatus !== null) root.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, this.#endStatus);
    if (this.#limitScope !== undefined) root.setAttribute(ATTR_KORDON_LIMIT_SCOPE, this.#limitScope);
    const charge = this.#charge;
    if (charge) {
      root.setAttribute(ATTR_KORDON_ATTEMPTS, charge.attempts);
      usageAttributes(root, charge.usage);
      if (charge.cost !== null && charge.currency !== null) {
        root.setAttribute(ATTR_KORDON_COST, charge.cost);
        root.setAttribute(ATTR_KORDON_CURRENCY, charge.currency);
      }
    }
    if (this.#fault) root.setStatus({ code: SpanStatusCode.ERROR, message: this.#endError ?? '' });
    this.endSpan(root, this.#endedAt);
    return root;
  }

  /** `gateway.stream`; one the caller's end overtook ends with the root, with no end recorded. */
  #streamSpan(): RecordedSpan {
    const span = this.#child('gateway.stream', this.#streamStartedAt);
    const end = this.#streamEnd;
    if (end === undefined) {
      this.endSpan(span, this.#endedAt);
      return span;
    }
    span.setAttribute(ATTR_KORDON_STREAM_END, end);
    const firstByteAt = this.#firstByteAt;
    if (firstByteAt !== undefined) {
      span.addEvent(
        EVENT_FIRST_TOKEN,
        { [ATTR_KORDON_TIME_TO_FIRST_TOKEN_MS]: Math.round(firstByteAt - this.#firstTokenFrom) },
        this.#clock + firstByteAt,
      );
    }
    if (end === 'interrupted') {
      span.setAttribute(ATTR_ERROR_TYPE, STREAM_INTERRUPTED);
      span.setStatus({ code: SpanStatusCode.ERROR, message: STREAM_INTERRUPTED });
    }
    this.endSpan(span, this.#streamEndedAt);
    return span;
  }

  /** A child span of a step that began at `startedAt` (`performance.now()`); ended once its attributes are set. */
  #child(name: string, startedAt: number): RecordedSpan {
    return this.span(name, SpanKind.INTERNAL, this.childContext(), startedAt);
  }
}

type RequestOutcome = 'completed' | 'failed' | 'rejected';

/** What a request was charged (its event's attempts, usage and cost), for its root span. */
type Charge = Pick<KordonEventData<'RequestFailed'>, 'attempts' | 'usage' | 'cost' | 'currency'>;

const chargeOf = (data: Charge): Charge => ({
  attempts: data.attempts,
  usage: data.usage,
  cost: data.cost,
  currency: data.currency,
});

/**
 * One upstream attempt: the headers that carry its context to the provider, and (sampled)
 * what its span is made of, recorded as it happens and made into a span with its request's.
 */
export class AttemptTrace {
  readonly #request: RequestTrace;
  /** `traceparent` (and `tracestate`) for the provider request. */
  readonly headers: Readonly<Record<string, string>>;
  /** The attempt span's context; absent when the request is not sampled. */
  readonly #context: SpanContext | undefined;
  readonly #upstream: UpstreamBlocks | undefined;
  readonly #attempt: number;
  readonly #maxTokens: number | null;
  /** The call streams (it does when the caller's request does). */
  readonly #stream: boolean;
  readonly #startedAt = performance.now();
  #endedAt = -1;
  #status: number | undefined;
  #usage: NormalisedUsage | undefined;
  /** What the answer said of itself (id, model, finish reasons): a finished answer's, or the stream's. */
  #facts: StreamFacts | undefined;
  /** Why a streamed answer failed (what broke it, or the answer's own failure), when it did. */
  #streamError: string | undefined;
  #errorType: string | undefined;
  #retry = false;
  #failureKind: string | undefined;
  /** Its stream's headers arrived (`streaming`). */
  #streamed = false;

  constructor(
    request: RequestTrace,
    headers: Record<string, string>,
    context: SpanContext | undefined,
    upstream: UpstreamBlocks | undefined,
    attempt: number,
    maxTokens: number | null,
    stream = false,
  ) {
    this.#request = request;
    this.headers = headers;
    this.#context = context;
    this.#upstream = upstream;
    this.#attempt = attempt;
    this.#maxTokens = maxTokens;
    this.#stream = stream;
  }

  /** Whether this attempt records, and has not ended yet. */
  get #open(): boolean {
    return this.#context !== undefined && this.#endedAt < 0;
  }

  #ended(): void {
    this.#endedAt = performance.now();
    this.#request.attemptEnded(this);
  }

  /** A finished answer: its status, what the provider says it served, the usage. */
  answered(answer: ProviderAnswer, usage: NormalisedUsage | undefined): void {
    if (!this.#open) return;
    this.#status = answer.status;
    // An embeddings answer has no finish reasons, and it is megabytes of vectors that the
    // exchange forwards without parsing: not parsed here for a response id and model either.
    if (this.#upstream?.operationName !== GEN_AI_OPERATION.embeddings) {
      try {
        // Read now: the answer itself is not kept until the span is made.
        this.#facts = factsOfAnswer(answer.json());
      } catch {
        this.#facts = undefined;
      }
    }
    this.#usage = usage;
    this.#ended();
  }

  /** A stream's headers arrived; the span stays open until the body ends. */
  streaming(status: number): void {
    if (!this.#open) return;
    this.#status = status;
    this.#streamed = true;
  }

  /**
   * The streamed body ended (cleanly, broken, or the caller left); what the stream said of its
   * answer; `errorType`: the code of what broke it, or of the failure a complete stream told.
   */
  streamEnded(
    usage: NormalisedUsage | undefined,
    end: StreamEnd,
    facts?: StreamFacts,
    errorType?: string,
  ): void {
    if (!this.#open) return;
    this.#usage = usage;
    this.#facts = facts;
    this.#streamError = errorType ?? (end === 'interrupted' ? STREAM_INTERRUPTED : undefined);
    this.#ended();
  }

  /**
   * The attempt failed: the provider's status, the error's code (never its message), how it
   * counts for the key, and whether Kordon goes on with another key or provider.
   */
  failed(error: unknown, kind: string | undefined, retry: boolean): void {
    if (!this.#open) return;
    const { status, code } = error as { status?: unknown; code?: unknown };
    this.#errorType = typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown';
    this.#retry = retry;
    if (typeof status === 'number') this.#status = status;
    this.#failureKind = kind;
    // A stream that began to reach the caller ends in `streamEnded`, never here: this one
    // failed before it did (an error event first), and the caller got no stream of it.
    if (this.#streamed) this.#request.streamWithdrawn();
    this.#ended();
  }

  /** The attempt's span, from what was recorded (only for a sampled attempt that ended). */
  make(): RecordedSpan {
    const upstream = this.#upstream as UpstreamBlocks;
    const span = this.#request.span(
      upstream.spanName,
      SpanKind.CLIENT,
      this.#context as SpanContext,
      this.#startedAt,
    );
    span.addAttributeBlock(upstream.block);
    span.setAttribute(ATTR_KORDON_ATTEMPT, this.#attempt);
    if (this.#maxTokens !== null) span.setAttribute(ATTR_GEN_AI_REQUEST_MAX_TOKENS, this.#maxTokens);
    // Conditionally Required "if and only if the request is streaming": never set to false.
    if (this.#stream) span.setAttribute(ATTR_GEN_AI_REQUEST_STREAM, true);
    this.#request.samplingAttributes(span, TAKES_SEED[upstream.provider.type]);
    const errorType = this.#errorType;
    if (errorType !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      span.setAttribute(ATTR_KORDON_RETRY, this.#retry);
      if (this.#status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, this.#status);
      if (this.#failureKind !== undefined) span.setAttribute(ATTR_KORDON_FAILURE_KIND, this.#failureKind);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
      this.#request.endSpan(span, this.#endedAt);
      return span;
    }
    if (this.#status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, this.#status);
    streamFacts(span, this.#facts);
    if (this.#usage) usageAttributes(span, this.#usage);
    // What it produced is told above; a failed operation also carries its error.type (semconv).
    const streamError = this.#streamError;
    if (streamError !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, streamError);
      span.setStatus({ code: SpanStatusCode.ERROR, message: streamError });
    }
    this.#request.endSpan(span, this.#endedAt);
    return span;
  }
}

/** What a stream said of its answer: provider-sent strings, bounded as a finished answer's are (`answerFacts`). */
function streamFacts(span: AttributeSink, facts: StreamFacts | undefined): void {
  if (!facts) return;
  const id = text(facts.responseId);
  const model = text(facts.responseModel);
  if (id) span.setAttribute(ATTR_GEN_AI_RESPONSE_ID, id);
  if (model) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, model);
  if (facts.finishReasons.length > 0)
    span.setAttribute(
      ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
      // The stream is over: its list is final, and copied only when it must be cut.
      facts.finishReasons.length <= 16 ? (facts.finishReasons as string[]) : facts.finishReasons.slice(0, 16),
    );
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
  streamFacts(span, factsOfAnswer(json));
}

/** What `answerFacts` reads from a finished answer, as a stream's facts (kept instead of the answer). */
function factsOfAnswer(json: unknown): StreamFacts | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const answer = json as Record<string, unknown>;
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
  const facts: { finishReasons: string[]; responseId?: string; responseModel?: string } = {
    finishReasons: reasons,
  };
  const id = text(answer.id) ?? text(answer.responseId);
  if (id) facts.responseId = id;
  const model = text(answer.model) ?? text(answer.modelVersion);
  if (model) facts.responseModel = model;
  return facts;
}

/**
 * The attribute blocks of what recurs from request to request, made once per endpoint,
 * proxy key and provider key (registry entries: a registry change makes new ones, and
 * their blocks go with the old entries), and checked against what they were made from.
 */
/** An endpoint's root span name and attributes (also what the sampler is shown). */
interface EndpointBlocks {
  readonly operationName: string;
  readonly spanName: string;
  readonly block: AttributeBlock;
  readonly samplerAttributes: Attributes;
}

/** A caller's tenant ids (root span), and the org alone (`gateway.auth`). */
interface CallerBlocks {
  readonly userId: string;
  readonly root: AttributeBlock;
  readonly auth: AttributeBlock;
}

/** An upstream call's span name and attributes. */
interface UpstreamBlocks {
  readonly provider: Route['provider'];
  readonly operationName: string;
  readonly spanName: string;
  readonly block: AttributeBlock;
}

class AttributeBlocks {
  readonly #endpoints = new Map<string, EndpointBlocks>();
  readonly #callers = new WeakMap<Caller['key'], CallerBlocks>();
  readonly #choices = new WeakMap<ProviderKeyEntry, { strategy: string; block: AttributeBlock }>();
  readonly #upstreams = new WeakMap<ProviderKeyEntry, Map<string, UpstreamBlocks>>();

  /** The root span's name and its endpoint's attributes (also what the sampler is shown). */
  endpoint(route: string, operationName: string): EndpointBlocks {
    let endpoint = this.#endpoints.get(route);
    if (endpoint?.operationName !== operationName) {
      const attributes: Attributes = {
        [ATTR_GEN_AI_OPERATION_NAME]: operationName,
        [ATTR_HTTP_REQUEST_METHOD]: 'POST',
        [ATTR_HTTP_ROUTE]: route,
        [ATTR_URL_PATH]: route,
        // Required on an HTTP server span: the immediate peer's scheme, as the server listens
        // on plain HTTP only (TLS ends at a proxy in front of it).
        [ATTR_URL_SCHEME]: 'http',
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
  caller(caller: Caller): CallerBlocks {
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
  upstream(route: Route, operation: Operation, key: ProviderKeyEntry): UpstreamBlocks {
    let byModel = this.#upstreams.get(key);
    if (!byModel) {
      byModel = new Map();
      this.#upstreams.set(key, byModel);
    }
    const operationName = GEN_AI_OPERATION[operation];
    let upstream = byModel.get(route.model);
    if (upstream?.provider !== route.provider || upstream.operationName !== operationName) {
      const type = route.provider.type;
      const genAiProvider = genAiProviderName(type, route.provider.options.vendor);
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
