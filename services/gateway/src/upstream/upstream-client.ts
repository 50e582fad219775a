/**
 * HTTP client for provider calls: one undici `Pool` per origin (keep-alive, pipelining 1,
 * a bounded number of connections), never `fetch` (about 3.7x the cost per request).
 *
 * Two modes:
 * - `request()`: the body is read whole (bounded) and returned as text, for JSON answers.
 * - `stream()`: resolves when the status line and headers arrive; the body is an async
 *   iterator over the chunks as undici receives them. Reading is pulled: while the caller
 *   does not ask for the next chunk undici pauses the socket, so a slow client slows the
 *   provider instead of filling memory.
 *
 * Four timeouts, each with its own error code: connect (the pool's TCP/TLS connect),
 * first byte (undici's headers timeout: from the request written to the status line), idle
 * (undici's body timeout: between two body chunks; a paused, backpressured body does not
 * count) and total (our timer, from the call to the last byte). undici runs the first two
 * on its coarse timer wheel (about half a second of slack), which is fine for limits of
 * seconds. The caller's AbortSignal (a client disconnect) aborts the call: undici then
 * destroys the socket, so the provider sees the connection close and stops generating.
 *
 * A status >= 400 is not a response but an `UpstreamError` (`upstream_http_error`) whose
 * details come from the provider's adapter (`mapError`); the error body is read bounded and
 * only an excerpt with the secrets cut out is kept.
 */
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import type { CallerSignal } from './caller-signal.js';
import { contentCodings, decodeContent } from './content-encoding.js';
import type { HeaderBag } from './headers.js';
import { type RateLimitInfo, retryAfterFromRateLimits } from './rate-limit-headers.js';
import { parseRetryAfterMs } from './retry-after.js';
import {
  bodyExcerpt,
  type ProviderErrorInfo,
  providerErrorFromStatus,
  redactProviderError,
  UpstreamError,
  type UpstreamErrorCode,
  type UpstreamPhase,
} from './upstream-error.js';
import type { UpstreamTarget } from './upstream-target.js';

// The pool alone, not undici's index: the index also loads fetch, WebSocket, EventSource,
// caches and mock agents, ~5 MB of heap a process for nothing Kordon uses. undici is pinned
// in the lockfile, and every provider test goes through this pool.
type Pool = UndiciPool;
const Pool: typeof UndiciPool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js');

export interface UpstreamTimeouts {
  /** TCP and TLS connect. */
  readonly connectMs: number;
  /** From the request written to the response's status line. */
  readonly firstByteMs: number;
  /** Between two chunks of the response body. */
  readonly idleMs: number;
  /** From the call to the last byte of the body. */
  readonly totalMs: number;
}

/**
 * Defaults sized for LLM calls: a non-streamed answer's first byte comes only when the whole
 * answer is generated, so the first-byte limit is as long as the official SDKs wait for a
 * whole answer (10 minutes: a long reasoning answer takes more than five, and cut short it is
 * still generated and charged); streams are better served by a shorter one per call.
 */
export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = {
  connectMs: 10_000,
  firstByteMs: 600_000,
  idleMs: 120_000,
  totalMs: 900_000,
};

export interface UpstreamClientOptions {
  /** Defaults for every call; `connectMs` applies to the pools and cannot change per call. */
  readonly timeouts?: Partial<UpstreamTimeouts>;
  /** Most connections to one origin (with pipelining 1, the most concurrent calls). Default 256. */
  readonly connectionsPerOrigin?: number;
  /** How long an idle keep-alive connection is kept (the server's hint may lower it). Default 60 s. */
  readonly keepAliveTimeoutMs?: number;
  /** Largest body `request()` reads. Default 64 MiB. */
  readonly maxResponseBytes?: number | undefined;
  /** How much of an error body is read to describe the error. Default 64 KiB. */
  readonly maxErrorBodyBytes?: number;
  /** Clock for Retry-After dates and reset instants. */
  readonly now?: () => number;
}

export interface UpstreamTls {
  /** Extra CA certificates (PEM) for this origin, e.g. the Russian NUC root GigaChat needs. */
  readonly ca?: string | undefined;
}

/** An error answer as the adapter's `mapError` sees it. */
export interface UpstreamErrorResponse {
  readonly status: number;
  readonly headers: HeaderBag;
  /** The body (at most `maxErrorBodyBytes`), unredacted: the mapper must not echo it whole. */
  readonly text: string;
  /** The body parsed as JSON; undefined when it is not JSON. Validate before use. */
  readonly json: unknown;
}

export interface UpstreamRequest {
  readonly target: UpstreamTarget;
  /** DELETE: a stored answer removed at the provider (`DELETE /v1/responses/{id}`). */
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array | undefined;
  /** Aborts the call (a client disconnect). */
  readonly signal?: CallerSignal | undefined;
  /** Per-call limits; a call with its own connect timeout gets its own pool for the origin. */
  readonly timeouts?: Partial<UpstreamTimeouts> | undefined;
  /** Values to cut out of anything kept from the answer (the key, an access token). */
  readonly secrets?: readonly string[] | undefined;
  readonly tls?: UpstreamTls | undefined;
  /** Normalises an error answer; by default only the status is interpreted. */
  readonly mapError?: ((response: UpstreamErrorResponse) => ProviderErrorInfo) | undefined;
  /** Reads the provider's rate-limit headers (`now` for reset instants). */
  readonly rateLimits?: ((headers: HeaderBag, now: number) => RateLimitInfo | undefined) | undefined;
  /** A finished (not streamed) answer: called with each chunk's size as it is held. */
  readonly onBodyBytes?: ((bytes: number) => void) | undefined;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: HeaderBag;
  readonly rateLimits: RateLimitInfo | undefined;
}

export interface UpstreamBufferedResponse extends UpstreamResponse {
  readonly text: string;
  /** The body parsed as JSON (unknown: validate it); an `upstream_invalid_response` if it is not JSON. */
  json(): unknown;
}

export interface UpstreamStreamingResponse extends UpstreamResponse {
  /** The body, chunk by chunk; iterate it once. Errors are `UpstreamError`s. */
  readonly body: AsyncIterable<Buffer>;
  /** Stops reading and closes the connection (when the caller stops early without iterating). */
  cancel(): void;
  /** True when body bytes are already received and not yet taken: the next chunk needs no I/O. */
  bodyBuffered(): boolean;
  /**
   * The next body chunk when it is already received, without a promise (undefined when the
   * next one needs a read). Shares the body iterator's queue, so the two may be mixed.
   */
  takeBuffered(): Buffer | undefined;
}

const DEFAULT_CONNECTIONS = 256;
const DEFAULT_KEEP_ALIVE_MS = 60_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_ERROR_BODY_BYTES = 64 * 1024;

export class UpstreamClient {
  readonly #pools = new Map<string, Pool>();
  readonly #timeouts: UpstreamTimeouts;
  readonly #connections: number;
  readonly #keepAliveTimeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #maxErrorBodyBytes: number;
  readonly #now: () => number;
  #closed = false;

  constructor(options: UpstreamClientOptions = {}) {
    this.#timeouts = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...options.timeouts };
    this.#connections = options.connectionsPerOrigin ?? DEFAULT_CONNECTIONS;
    this.#keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#maxErrorBodyBytes = options.maxErrorBodyBytes ?? DEFAULT_MAX_ERROR_BODY_BYTES;
    this.#now = options.now ?? Date.now;
  }

  get timeouts(): UpstreamTimeouts {
    return this.#timeouts;
  }

  /** A call whose answer is read whole (JSON). Resolves for 2xx and 3xx; rejects with an UpstreamError. */
  request(call: UpstreamRequest): Promise<UpstreamBufferedResponse> {
    try {
      return this.#exchange(call).buffered();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A call whose body is streamed. Resolves once the headers are in; the total timer runs until the body ends. */
  stream(call: UpstreamRequest): Promise<UpstreamStreamingResponse> {
    try {
      return this.#exchange(call).streamed();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes every pool once their calls are done. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  /** Closes every pool now, failing the calls in flight. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  #exchange(call: UpstreamRequest): Exchange {
    if (this.#closed) {
      throw new UpstreamError('upstream_connection_failed', 'upstream client is closed', {
        phase: 'connect',
        isRetryable: false,
      });
    }
    const connectMs = call.timeouts?.connectMs ?? this.#timeouts.connectMs;
    return new Exchange(call, this.#pool(call.target.origin, call.tls, connectMs), {
      firstByteMs: call.timeouts?.firstByteMs ?? this.#timeouts.firstByteMs,
      idleMs: call.timeouts?.idleMs ?? this.#timeouts.idleMs,
      totalMs: call.timeouts?.totalMs ?? this.#timeouts.totalMs,
      connectMs,
      maxResponseBytes: this.#maxResponseBytes,
      maxErrorBodyBytes: this.#maxErrorBodyBytes,
      now: this.#now,
    });
  }

  #pool(origin: string, tls: UpstreamTls | undefined, connectMs: number): Pool {
    let key = tls?.ca ? `${origin}\n${tls.ca}` : origin;
    if (connectMs !== this.#timeouts.connectMs) key += `\nconnect=${connectMs}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#connections,
        pipelining: 1,
        keepAliveTimeout: this.#keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.#keepAliveTimeoutMs, 600_000),
        headersTimeout: this.#timeouts.firstByteMs,
        bodyTimeout: this.#timeouts.idleMs,
        connect: { timeout: connectMs, ...(tls?.ca ? { ca: tls.ca } : {}) },
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }
}

interface ExchangeLimits {
  readonly connectMs: number;
  readonly firstByteMs: number;
  readonly idleMs: number;
  readonly totalMs: number;
  readonly maxResponseBytes: number;
  readonly maxErrorBodyBytes: number;
  readonly now: () => number;
}

type AbortKind = 'caller' | 'total';

/** Body bytes held for a slow reader before undici stops reading the socket (as a Readable's). */
const STREAM_HIGH_WATER_MARK = 64 * 1024;

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * One call, as an undici dispatch handler: no Readable for the body, no second
 * AbortController; the chunks come straight from the parser. It owns the total timer, the
 * caller's abort, and the mapping of what goes wrong to an `UpstreamError`.
 *
 * A buffered call settles once the body has ended; a streamed one once the headers are in,
 * after which `next()` hands out the chunks as they came. Above 64 KiB not yet taken, undici
 * is paused (it stops reading the socket, and its idle timer does not run while paused);
 * taking the last held chunk resumes it.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #call: UpstreamRequest;
  readonly #pool: Pool;
  readonly #limits: ExchangeLimits;
  readonly #timer: NodeJS.Timeout;
  #controller: Dispatcher.DispatchController | undefined;
  #abortKind: AbortKind | undefined;
  #phase: UpstreamPhase = 'headers';
  #finished = false;
  #streamed = false;
  /** The promise of `buffered()`/`streamed()`; cleared once settled. */
  #response: Pending<never> | undefined;
  #status = 0;
  #headers: HeaderBag = {};
  #rateLimits: RateLimitInfo | undefined;
  /** Collecting the start of an error body (status >= 400). */
  #errorBody = false;
  #chunks: Buffer[] = [];
  #size = 0;
  /** Streamed: the body ended cleanly / failed / was cancelled by the reader. */
  #ended = false;
  #error: UpstreamError | undefined;
  #cancelled = false;
  #waiting: Pending<IteratorResult<Buffer, undefined>> | undefined;
  #paused = false;

  constructor(call: UpstreamRequest, pool: Pool, limits: ExchangeLimits) {
    this.#call = call;
    this.#pool = pool;
    this.#limits = limits;
    this.#timer = setTimeout(() => this.#abort('total'), limits.totalMs);
    // The timer must not keep a process alive: the exchange ends on its own or with it.
    this.#timer.unref();
    const signal = call.signal;
    if (signal?.aborted) this.#abortKind = 'caller';
    else signal?.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  get origin(): string {
    return this.#call.target.origin;
  }

  buffered(): Promise<UpstreamBufferedResponse> {
    return this.#send(false);
  }

  streamed(): Promise<UpstreamStreamingResponse> {
    return this.#send(true);
  }

  #send<T>(streamed: boolean): Promise<T> {
    this.#streamed = streamed;
    return new Promise<T>((resolve, reject) => {
      this.#response = { resolve, reject } as Pending<never>;
      if (this.#abortKind !== undefined) {
        // The caller left before the call: nothing is sent (it would wait for a connection).
        this.#phase = 'connect';
        this.#fail(new AbortedMarker(this.#abortKind));
        return;
      }
      const call = this.#call;
      try {
        this.#pool.dispatch(
          {
            path: call.target.path,
            method: call.method,
            headers: call.headers,
            body: call.body ?? null,
            headersTimeout: this.#limits.firstByteMs,
            bodyTimeout: this.#limits.idleMs,
          },
          this,
        );
      } catch (error) {
        this.#fail(error);
      }
    });
  }

  readonly #onCallerAbort = (): void => this.#abort('caller');

  #abort(kind: AbortKind): void {
    if (this.#abortKind !== undefined || this.#finished) return;
    this.#abortKind = kind;
    if (this.#controller) {
      this.#controller.abort(new AbortedMarker(kind));
      return;
    }
    // Not yet on a connection (queued in the pool, or connecting): undici starts the request
    // only once one is free, which may be long after the caller left or the total limit. It
    // fails now, in the connect phase (the provider never had it); onRequestStart aborts it
    // before it is written.
    this.#phase = 'connect';
    this.#fail(new AbortedMarker(kind));
  }

  /** Stops the timer and the abort listener; idempotent. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#call.signal?.removeEventListener('abort', this.#onCallerAbort);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortKind !== undefined) controller.abort(new AbortedMarker(this.#abortKind));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx: the answer is still to come
    this.#status = statusCode;
    this.#headers = headers;
    this.#rateLimits = this.#call.rateLimits?.(headers, this.#limits.now());
    this.#phase = 'body';
    if (statusCode >= 400) {
      this.#errorBody = true;
      return;
    }
    if (!this.#streamed) {
      const limit = this.#limits.maxResponseBytes;
      if (Number(headers['content-length']) > limit) this.#failAndAbort(controller, this.#tooLarge(limit));
      return;
    }
    const codings = contentCodings(headers);
    if (codings.length > 0) {
      // Frames cannot be read out of a compressed body: the next key, not a broken stream.
      this.#failAndAbort(
        controller,
        new UpstreamError(
          'upstream_invalid_response',
          `the provider sent its stream in ${codings.join(', ')}, though asked for identity`,
          { phase: 'body', status: statusCode, origin: this.origin },
        ),
      );
      return;
    }
    const response = this.#response;
    this.#response = undefined;
    response?.resolve(this.#streamingResponse() as never);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#errorBody) {
      if (this.#response === undefined) return;
      this.#chunks.push(chunk);
      this.#size += chunk.length;
      // Enough to describe the error: the rest is not read.
      if (this.#size >= this.#limits.maxErrorBodyBytes) {
        this.#settleHttpError();
        controller.abort(new AbortedMarker('caller'));
      }
      return;
    }
    if (!this.#streamed) {
      if (this.#response === undefined) return;
      this.#size += chunk.length;
      const limit = this.#limits.maxResponseBytes;
      if (this.#size > limit) this.#failAndAbort(controller, this.#tooLarge(limit));
      else {
        this.#chunks.push(chunk);
        this.#call.onBodyBytes?.(chunk.length);
      }
      return;
    }
    if (this.#cancelled) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ value: chunk, done: false });
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size >= STREAM_HIGH_WATER_MARK && !this.#paused) {
      this.#paused = true;
      controller.pause();
    }
  }

  onResponseEnd(): void {
    this.#finish();
    if (this.#errorBody) {
      this.#settleHttpError();
      return;
    }
    if (!this.#streamed) {
      const response = this.#response;
      if (!response) return;
      this.#response = undefined;
      const chunks = this.#chunks;
      this.#chunks = [];
      const origin = this.origin;
      let body = chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, this.#size);
      const codings = contentCodings(this.#headers);
      if (codings.length > 0) {
        try {
          const encodedBytes = body.length;
          body = decodeContent(body, codings, this.#limits.maxResponseBytes, origin);
          this.#call.onBodyBytes?.(Math.max(0, body.length - encodedBytes));
        } catch (error) {
          response.reject(error);
          return;
        }
      }
      const text = body.toString('utf8');
      response.resolve({
        status: this.#status,
        headers: this.#headers,
        rateLimits: this.#rateLimits,
        text,
        json: () => parseJson(text, origin),
      } satisfies UpstreamBufferedResponse as never);
      return;
    }
    this.#ended = true;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ value: undefined, done: true });
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#fail(error);
  }

  /** Settles whatever is pending with the error (the response promise, or the reader's next chunk). */
  #fail(error: unknown): void {
    this.#finish();
    const classified = this.classify(error);
    const response = this.#response;
    if (response) {
      this.#response = undefined;
      if (this.#errorBody) {
        // A broken error body still tells the status: keep what arrived.
        this.#errorBody = false;
        response.reject(this.#httpError());
      } else response.reject(classified);
      return;
    }
    if (!this.#streamed || this.#ended || this.#cancelled || this.#error) return;
    this.#error = classified;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.reject(classified);
    }
  }

  #failAndAbort(controller: Dispatcher.DispatchController, error: UpstreamError): void {
    this.#fail(error);
    controller.abort(error);
  }

  #settleHttpError(): void {
    this.#finish();
    const response = this.#response;
    if (!response) return;
    this.#response = undefined;
    response.reject(this.#httpError());
  }

  #streamingResponse(): UpstreamStreamingResponse {
    const takeBuffered = (): Buffer | undefined => {
      const chunk = this.#chunks.shift();
      if (chunk === undefined) return undefined;
      this.#size -= chunk.length;
      if (this.#paused && this.#chunks.length === 0) {
        this.#paused = false;
        this.#controller?.resume();
      }
      return chunk;
    };
    const next = (): Promise<IteratorResult<Buffer, undefined>> => {
      const chunk = takeBuffered();
      if (chunk) return Promise.resolve({ value: chunk, done: false });
      if (this.#error) return Promise.reject(this.#error);
      if (this.#ended || this.#cancelled) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        this.#waiting = { resolve, reject };
      });
    };
    const cancel = (): void => {
      if (this.#ended || this.#cancelled || this.#error) return;
      // Stopped early (the caller broke off): close the connection, the answer is not wanted.
      this.#cancelled = true;
      this.#chunks = [];
      this.#finish();
      this.#controller?.abort(new AbortedMarker('caller'));
    };
    const iterator: AsyncIterator<Buffer, undefined> = {
      next,
      return: () => {
        cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
    return {
      status: this.#status,
      headers: this.#headers,
      rateLimits: this.#rateLimits,
      body: { [Symbol.asyncIterator]: () => iterator },
      cancel,
      bodyBuffered: () => this.#chunks.length > 0,
      takeBuffered,
    };
  }

  #tooLarge(limit: number): UpstreamError {
    return new UpstreamError('upstream_response_too_large', `upstream answer larger than ${limit} bytes`, {
      phase: 'body',
      status: this.#status,
    });
  }

  /** The error the adapter describes from the start of an error body. */
  #httpError(): UpstreamError {
    const status = this.#status;
    const headers = this.#headers;
    const rateLimits = this.#rateLimits;
    const limit = this.#limits.maxErrorBodyBytes;
    const text = Buffer.concat(this.#chunks, this.#size).subarray(0, limit).toString('utf8');
    this.#chunks = [];
    const json = tryParseJson(text);
    const secrets = this.#call.secrets ?? [];
    const mapped =
      this.#call.mapError?.({ status, headers, text, json }) ?? providerErrorFromStatus(status, '');
    const provider = redactProviderError(mapped, secrets);
    const retryAfterMs =
      parseRetryAfterMs(headers, this.#limits.now()) ??
      provider.retryAfterMs ??
      (status === 429 ? retryAfterFromRateLimits(rateLimits) : undefined);
    const message = `the provider answered ${status}${provider.message ? `: ${provider.message}` : ''}`;
    return new UpstreamError('upstream_http_error', message, {
      phase: 'headers',
      status,
      isRetryable: provider.retryable,
      retryAfterMs,
      bodyExcerpt: bodyExcerpt(text, secrets),
      provider,
      rateLimits,
      origin: this.origin,
    });
  }

  /** Maps whatever undici or the body threw to an UpstreamError with its own code. */
  classify(error: unknown): UpstreamError {
    if (error instanceof UpstreamError) return error;
    const phase = this.#phase;
    const origin = this.origin;
    if (this.#abortKind === 'caller') {
      return new UpstreamError('upstream_aborted', 'call to the provider aborted by the caller', {
        phase,
        origin,
        cause: error,
      });
    }
    if (this.#abortKind === 'total') {
      return new UpstreamError(
        'upstream_total_timeout',
        `no complete answer from the provider within ${this.#limits.totalMs} ms`,
        { phase, origin, cause: error },
      );
    }
    const code = errorCode(error);
    const fail = (upstreamCode: UpstreamErrorCode, message: string, at: UpstreamPhase = phase) =>
      new UpstreamError(upstreamCode, message, { phase: at, origin, cause: error });
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return fail(
          'upstream_connect_timeout',
          `no connection to the provider within ${this.#limits.connectMs} ms`,
          'connect',
        );
      case 'UND_ERR_HEADERS_TIMEOUT':
        return fail(
          'upstream_first_byte_timeout',
          `no answer from the provider within ${this.#limits.firstByteMs} ms`,
        );
      case 'UND_ERR_BODY_TIMEOUT':
        return fail('upstream_idle_timeout', `the provider sent nothing for ${this.#limits.idleMs} ms`);
      case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
        return fail('upstream_response_too_large', 'the answer from the provider is too large');
      case 'UND_ERR_SOCKET':
      case 'UND_ERR_CLOSED':
      case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      case 'ECONNRESET':
      case 'EPIPE':
      case 'ERR_STREAM_PREMATURE_CLOSE':
        return fail('upstream_reset', `connection to the provider broke (${code})`);
      default:
        break;
    }
    if (code !== undefined && CONNECT_FAILURES.test(code)) {
      return fail('upstream_connection_failed', `cannot connect to the provider (${code})`, 'connect');
    }
    if (code?.startsWith('HPE_'))
      return fail('upstream_invalid_response', `the provider sent malformed HTTP (${code})`);
    if (phase === 'body')
      return fail('upstream_reset', `connection to the provider broke (${code ?? 'unknown'})`);
    return fail('upstream_connection_failed', `call to the provider failed (${code ?? describe(error)})`);
  }
}

/** Failures to establish a connection: refused, DNS, routing, OS-level timeouts, TLS. */
const CONNECT_FAILURES =
  /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EAI_FAIL|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|ETIMEDOUT|ECONNABORTED|EADDRNOTAVAIL|ERR_TLS_.*|ERR_SSL_.*|CERT_.*|UNABLE_TO_.*|DEPTH_ZERO_.*|SELF_SIGNED_.*|ERR_INVALID_IP_ADDRESS)$/;

/** The reason our controller aborts with; undici rethrows it, `classify` reads our own state. */
class AbortedMarker extends Error {
  constructor(readonly kind: AbortKind) {
    super(kind === 'caller' ? 'aborted by the caller' : 'total timeout');
    this.name = 'AbortError';
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Errors wrapped by undici (a socket error as the cause of another).
  const cause = (error as { cause?: unknown }).cause;
  return cause === error ? undefined : errorCode(cause);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function tryParseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UpstreamError('upstream_invalid_response', 'the provider sent a body that is not JSON', {
      phase: 'body',
      origin,
      cause: error,
    });
  }
}
