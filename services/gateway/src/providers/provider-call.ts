/**
 * Runs one operation against a provider: the adapter prepares the request (URL from the
 * configuration, body in the provider's format), the upstream client sends it with the
 * adapter's auth headers, and the answer comes back in the adapter's dialect.
 *
 * - `callProvider`: a finished answer. `rawText` is the provider's body as sent (forward it
 *   as is when the caller speaks the same dialect); `json()` parses it and, for providers
 *   outside the three dialects, maps it to the adapter's dialect.
 * - `streamProvider`: an async iterable of dialect events, ready for a StreamTranslator:
 *   the JSON-parsed `data:` of each SSE frame (OpenAI's `[DONE]` as the string), or of each
 *   NDJSON line, mapped for YandexGPT and GigaChat (YandexGPT's running usage among them as
 *   `UsageReport`s, which a translator takes and a writer does not forward). An OpenAI chat
 *   stream's text-delta and finish chunks come as what the stream parser reads of them
 *   (`skimOpenAIChunk`: id, model, the choice's index, text, finish reason and service tier),
 *   not parsed whole, and so do an
 *   Anthropic stream's text deltas (`skimAnthropicEvent`, equal to their parse); the frame as
 *   sent is `lastFrameData`. An event that is not JSON is passed as its text, which the
 *   translators report as malformed. Transport failures throw UpstreamErrors
 *   (`upstream_reset`, `upstream_idle_timeout`...); a body that ends on its own sets `end`
 *   (`clean`, or `partial_frame` when cut inside a frame). Whether the answer is complete is
 *   the dialect's to say (the translator's `finished`), never the transport's.
 *
 * A 401 is retried once when the adapter can refresh its credentials (GigaChat tokens).
 */

import { skimAnthropicEvent } from '../translate/anthropic-event-skim.js';
import { OPENAI_DONE } from '../translate/index.js';
import { skimOpenAIChunk } from '../translate/openai-chunk-skim.js';
import { TranslationError } from '../translate/translation-error.js';
import type { CallerSignal } from '../upstream/caller-signal.js';
import { type HeaderBag, headerValue } from '../upstream/headers.js';
import { NdjsonFramingError, NdjsonReader } from '../upstream/ndjson-reader.js';
import type { RateLimitInfo } from '../upstream/rate-limit-headers.js';
import { redactSecrets } from '../upstream/redact.js';
import { type BodyEnd, type SseEvent, SseFramingError, SseReader } from '../upstream/sse-reader.js';
import type {
  UpstreamClient,
  UpstreamRequest,
  UpstreamStreamingResponse,
} from '../upstream/upstream-client.js';
import { bodyExcerpt, isUpstreamError, UpstreamError } from '../upstream/upstream-error.js';
import {
  type AuthContext,
  GENERATE_OPERATION,
  type OperationRequest,
  type PreparedRequest,
  type ProviderAdapter,
  type ProviderConfig,
  type ProviderKey,
  type StreamEventMapper,
} from './provider-types.js';

export interface ProviderCall {
  readonly client: UpstreamClient;
  readonly adapter: ProviderAdapter;
  readonly config: ProviderConfig;
  readonly key: ProviderKey;
  /** Aborts the call: pass the client connection's signal, so a disconnect stops the provider. */
  readonly signal?: CallerSignal | undefined;
  /** Per-call limits (first byte, idle, total). */
  readonly timeouts?: UpstreamRequest['timeouts'];
  /** W3C trace context of the attempt (`traceparent`, `tracestate`), sent with the request. */
  readonly traceHeaders?: Readonly<Record<string, string>> | undefined;
  /** A finished answer's bytes as they are held (the gateway's memory budget). */
  readonly onBodyBytes?: ((bytes: number) => void) | undefined;
}

export interface ProviderAnswer {
  readonly status: number;
  readonly headers: HeaderBag;
  readonly rateLimits: RateLimitInfo | undefined;
  /** The provider's body as it came. */
  readonly rawText: string;
  /** The body parsed and, where the adapter maps, in its dialect; unknown: validate before use. */
  json(): unknown;
  /**
   * The provider's text without this call's secrets (the key as sent, an OAuth token) or
   * credentials of known shapes: for any of its words bound for the caller, a log or an event.
   */
  redact(text: string): string;
}

export interface ProviderEventStream extends AsyncIterable<unknown> {
  readonly status: number;
  readonly headers: HeaderBag;
  readonly rateLimits: RateLimitInfo | undefined;
  /** Set when the body ended without an error: whether its last frame was whole. */
  readonly end: BodyEnd | undefined;
  /** SSE comments (keep-alives) skipped so far. */
  readonly keepAlives: number;
  /**
   * Called when a network read brought comments (keep-alives) and no event: a writer may pass
   * a keep-alive on to its caller. Called from inside the read, before it resolves, or from
   * inside `takeReady`.
   */
  onKeepAlive?: (() => void) | undefined;
  /**
   * The `data:` text of the frame the last event came from, when the event is that frame
   * as sent (no mapping) and fits on one line: a same-dialect stream forwards it as is
   * instead of serialising the event again.
   */
  readonly lastFrameData: string | undefined;
  /**
   * True when the next event is already read from the body (the same network read): a
   * writer batches until this is false, so one upstream read makes one write to the client.
   */
  readonly ready: boolean;
  /**
   * The next event when it needs no I/O (the rest of the frames already read, then those of
   * HTTP chunks already received), without a promise; {@link NOT_READY} when it needs a read:
   * a writer takes a network read's events in one synchronous loop, with no await each (a
   * provider sends each frame as its own chunk, a dozen or more to one read). Shares the
   * iterator's position: the two may be mixed.
   */
  takeReady(): unknown;
  /** Stops reading and closes the connection, when the events will not be iterated (to the end). */
  cancel(): void;
  /** As {@link ProviderAnswer.redact}: the stream's text without this call's secrets. */
  redact(text: string): string;
}

/** What {@link ProviderEventStream.takeReady} answers when the next event needs a read. */
export const NOT_READY: unique symbol = Symbol('not ready');

/**
 * The adapter cannot send the request as asked (a field its provider lacks, refused by name):
 * thrown before any call, whichever key was chosen, so the gateway asks the next provider of
 * the model's chain, as when a request cannot be translated for one.
 */
export class RequestNotSendableError extends Error {
  constructor(readonly refusal: TranslationError) {
    super(refusal.message);
    this.name = 'RequestNotSendableError';
  }
}

/** The adapter's request, its refusal marked as made before any call. */
function prepare(call: ProviderCall, request: OperationRequest): PreparedRequest {
  try {
    return call.adapter.prepare(request, call.config);
  } catch (error) {
    throw error instanceof TranslationError ? new RequestNotSendableError(error) : error;
  }
}

export async function callProvider(call: ProviderCall, request: OperationRequest): Promise<ProviderAnswer> {
  if (request.stream) throw new TypeError('callProvider is for finished answers; use streamProvider');
  const prepared = prepare(call, request);
  let secrets: readonly string[] = [];
  const response = await send(call, prepared, (upstream) => {
    secrets = upstream.secrets ?? [];
    return call.client.request(upstream);
  });
  const { adapter } = call;
  let parsed: { value: unknown } | undefined;
  return {
    status: response.status,
    headers: response.headers,
    rateLimits: response.rateLimits,
    rawText: response.text,
    json: () => {
      if (!parsed) {
        const body = response.json();
        parsed = { value: adapter.mapResponse ? adapter.mapResponse(request, body) : body };
      }
      return parsed.value;
    },
    redact: (text) => redactSecrets(text, secrets),
  };
}

export async function streamProvider(
  call: ProviderCall,
  request: OperationRequest,
): Promise<ProviderEventStream> {
  if (!request.stream) throw new TypeError('streamProvider is for streamed answers; use callProvider');
  const prepared = prepare(call, request);
  const framing = prepared.framing;
  if (framing === undefined) throw new TypeError(`${call.adapter.name} does not stream ${request.operation}`);
  let secrets: readonly string[] = [];
  const response = await send(call, prepared, async (upstream) => {
    secrets = upstream.secrets ?? [];
    const streamed = await call.client.stream(upstream);
    // Checked without an await: a real stream (nearly every answer) costs a header read.
    const notAStream = framing === 'sse' ? notAStreamType(streamed.headers) : undefined;
    if (notAStream !== undefined) await refuseWhatIsNotAStream(streamed, notAStream, upstream.secrets ?? []);
    return streamed;
  });
  const mapper = call.adapter.streamMapper?.(request);
  return new EventStream(
    response,
    framing,
    mapper,
    mapper === undefined ? skimOf(call.adapter, request) : undefined,
    secrets,
  );
}

/** Content types a server sends instead of a stream: a finished answer, an error, a web page. */
const NOT_A_STREAM = /^\s*(?:application\/(?:[\w.+-]*\+)?json|text\/html)\b/i;
/** How much of such a body is read to say what it was. */
const NOT_A_STREAM_EXCERPT_BYTES = 4096;

/** The content type of an answer that says it is not a stream; undefined for one that may be. */
function notAStreamType(headers: HeaderBag): string | undefined {
  const type = headerValue(headers, 'content-type');
  return type !== undefined && NOT_A_STREAM.test(type) ? type : undefined;
}

/**
 * A 2xx answer to a stream request that says it is JSON or HTML is not a stream: a server
 * that ignored `stream: true`, an error object sent with a success status, a proxy's page.
 * Forwarded, it would reach the caller as a 200 whose stream breaks at once; refused here,
 * before anything is written to the caller, the next key or provider is tried. (A missing or
 * other content type is read as SSE: some servers send streams as text/plain.)
 */
async function refuseWhatIsNotAStream(
  response: UpstreamStreamingResponse,
  type: string,
  secrets: readonly string[],
): Promise<never> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= NOT_A_STREAM_EXCERPT_BYTES) break;
    }
  } catch {
    // what arrived is enough to say what it was
  } finally {
    response.cancel();
  }
  const text = Buffer.concat(chunks).toString('utf8').slice(0, NOT_A_STREAM_EXCERPT_BYTES);
  let said = '';
  try {
    const error = (JSON.parse(text) as { error?: { message?: unknown } | string } | null)?.error;
    const message = typeof error === 'string' ? error : error?.message;
    if (typeof message === 'string') said = `: ${redactSecrets(message, secrets).slice(0, 300)}`;
  } catch {
    // not JSON, or cut: the type says enough
  }
  throw new UpstreamError(
    'upstream_invalid_response',
    `the provider answered a stream request with ${type.split(';', 1)[0]!.trim()}, not a stream${said}`,
    { phase: 'body', status: response.status, bodyExcerpt: bodyExcerpt(text, secrets) },
  );
}

/**
 * For frames as a provider sent them (no mapper): a reader of its most common frames that
 * answers what `JSON.parse` would, without it (OpenAI text deltas and finish chunks,
 * Anthropic text deltas); undefined leaves a frame to `JSON.parse`.
 */
function skimOf(
  adapter: ProviderAdapter,
  request: OperationRequest,
): ((data: string) => unknown) | undefined {
  if (request.operation !== GENERATE_OPERATION[adapter.dialect]) return undefined;
  if (adapter.dialect === 'openai') return skimOpenAIChunk;
  if (adapter.dialect === 'anthropic') return skimAnthropicEvent;
  return undefined;
}

/** Sends with auth headers; after a 401, once more with fresh credentials when the adapter has them. */
async function send<T>(
  call: ProviderCall,
  prepared: PreparedRequest,
  run: (upstream: UpstreamRequest) => Promise<T>,
): Promise<T> {
  const { adapter } = call;
  const context: AuthContext = {
    config: call.config,
    key: call.key,
    client: call.client,
    signal: call.signal,
    timeouts: call.timeouts,
  };
  for (let attempt = 0; ; attempt += 1) {
    const auth = await adapter.authHeaders(context);
    const upstream: UpstreamRequest = {
      target: prepared.target,
      method: prepared.method,
      headers: call.traceHeaders
        ? { ...prepared.headers, ...call.traceHeaders, ...auth.headers }
        : { ...prepared.headers, ...auth.headers },
      body: prepared.body,
      signal: call.signal,
      timeouts: call.timeouts,
      secrets: auth.secrets,
      tls: prepared.tls,
      mapError: adapter.mapError,
      rateLimits: adapter.rateLimits,
      onBodyBytes: call.onBodyBytes,
    };
    try {
      return await run(upstream);
    } catch (error) {
      const expired = attempt === 0 && isUpstreamError(error, 'upstream_http_error') && error.status === 401;
      if (expired && adapter.invalidateAuth?.(context, auth)) continue;
      throw error;
    }
  }
}

class EventStream implements ProviderEventStream {
  readonly status: number;
  readonly headers: HeaderBag;
  readonly rateLimits: RateLimitInfo | undefined;
  readonly #response: UpstreamStreamingResponse;
  readonly #reader: SseReader | NdjsonReader;
  readonly #mapper: StreamEventMapper | undefined;
  readonly #skim: ((data: string) => unknown) | undefined;
  readonly #secrets: readonly string[];
  lastFrameData: string | undefined;

  constructor(
    response: UpstreamStreamingResponse,
    framing: 'sse' | 'ndjson',
    mapper: StreamEventMapper | undefined,
    skim: ((data: string) => unknown) | undefined,
    secrets: readonly string[],
  ) {
    this.status = response.status;
    this.headers = response.headers;
    this.rateLimits = response.rateLimits;
    this.#response = response;
    this.#reader =
      framing === 'sse'
        ? new SseReader(response.body, { takeBuffered: response.takeBuffered })
        : new NdjsonReader(response.body);
    this.#mapper = mapper;
    this.#skim = skim;
    this.#secrets = secrets;
  }

  get end(): BodyEnd | undefined {
    return this.#reader.end;
  }

  get ready(): boolean {
    return this.#reader.ready || this.#response.bodyBuffered();
  }

  get keepAlives(): number {
    return this.#reader instanceof SseReader ? this.#reader.comments : 0;
  }

  set onKeepAlive(listener: (() => void) | undefined) {
    if (this.#reader instanceof SseReader) this.#reader.onKeepAlive = listener;
  }

  get onKeepAlive(): (() => void) | undefined {
    return this.#reader instanceof SseReader ? this.#reader.onKeepAlive : undefined;
  }

  cancel(): void {
    this.#response.cancel();
  }

  redact(text: string): string {
    return redactSecrets(text, this.#secrets);
  }

  /** Events a mapper made of the last frame, and the next of them to hand out. */
  #mapped: unknown[] = [];
  #nextMapped = 0;

  takeReady(): unknown {
    if (this.#nextMapped < this.#mapped.length) return this.#mapped[this.#nextMapped++];
    if (!(this.#reader instanceof SseReader)) return NOT_READY;
    // SSE: a frame already read (or in a chunk already received) is handed out at once.
    for (;;) {
      const ready = this.#reader.takeReady();
      if (ready === undefined) return NOT_READY;
      const event = this.#eventOfFrame(ready.data);
      if (event !== NOT_READY) return event;
    }
  }

  /** The (first) event of one frame, mapped or as sent; NOT_READY when a mapper made none. */
  #eventOfFrame(data: string): unknown {
    const mapper = this.#mapper;
    if (mapper === undefined) return this.#unmapped(data);
    this.#mapped = [...mapper.map(this.#eventOf(data))];
    this.#nextMapped = 0;
    return this.#mapped.length > 0 ? this.#mapped[this.#nextMapped++] : NOT_READY;
  }

  #eventOf(data: string): unknown {
    return this.#skim?.(data) ?? parseFrame(data);
  }

  #unmapped(data: string): unknown {
    this.lastFrameData = data.includes('\n') ? undefined : data;
    return this.#eventOf(data);
  }

  /**
   * The events, frame by frame (a mapper may make several of one frame, or none). A
   * hand-written iterator over the reader's: no async generator suspending on every event.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown, undefined> {
    const frames = (this.#reader as AsyncIterable<SseEvent | string>)[Symbol.asyncIterator]();
    const finished = { value: undefined, done: true } as const;
    const read = async (): Promise<IteratorResult<unknown, undefined>> => {
      for (;;) {
        let frame: IteratorResult<SseEvent | string, unknown>;
        try {
          frame = await frames.next();
        } catch (error) {
          if (error instanceof SseFramingError || error instanceof NdjsonFramingError) {
            throw new UpstreamError('upstream_invalid_response', error.message, {
              phase: 'body',
              cause: error,
            });
          }
          throw error;
        }
        if (frame.done) return finished;
        const event = this.#eventOfFrame(typeof frame.value === 'string' ? frame.value : frame.value.data);
        if (event !== NOT_READY) return { value: event, done: false };
      }
    };
    return {
      next: () => {
        const ready = this.takeReady();
        return ready === NOT_READY ? read() : Promise.resolve({ value: ready, done: false });
      },
      return: async () => {
        this.#mapped = [];
        await frames.return?.();
        return finished;
      },
    };
  }
}

/** The event of one frame: `[DONE]` as the string, JSON parsed, anything else as its text. */
function parseFrame(data: string): unknown {
  if (data === OPENAI_DONE) return OPENAI_DONE;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}
