/**
 * Server-sent events from a response body, on eventsource-parser: frames split across TCP
 * packets (inside `data:`, inside a multi-byte UTF-8 character, between the two line breaks
 * that end a frame), comment lines (`: ping` keep-alives), LF, CRLF and CR line ends.
 *
 * The reader pulls one body chunk at a time, only when the caller asks for the next event,
 * so backpressure reaches the socket. Errors of the body (a reset, a timeout) are thrown as
 * they come. When the body ends without error, `end` says whether its last frame was whole:
 * `clean`, or `partial_frame` when the body stopped inside a frame (the frame is dropped,
 * as the SSE spec says). A clean end of the transport is not a complete answer: only the
 * dialect's terminator says that (`[DONE]`, `message_stop`, Gemini's finishReason).
 */
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

export interface SseEvent {
  /** The `event:` field; undefined when the frame had none (OpenAI chat, Gemini). */
  readonly event?: string | undefined;
  readonly data: string;
  readonly id?: string | undefined;
}

export type BodyEnd = 'clean' | 'partial_frame';

export interface SseReaderOptions {
  /** Most characters buffered for one unfinished frame (default 16 MiB); beyond it the stream fails. */
  readonly maxFrameChars?: number;
  /**
   * The body's next chunk when it is already received, without a promise (the upstream
   * client's `takeBuffered`). A provider writes each frame as its own HTTP chunk, and one
   * network read brings many: with this, `takeReady` parses them all in one synchronous
   * pass instead of a round of promises a chunk.
   */
  readonly takeBuffered?: () => Uint8Array | undefined;
}

const DEFAULT_MAX_FRAME_CHARS = 16 * 1024 * 1024;

export class SseFramingError extends Error {
  override readonly name = 'SseFramingError';
}

export class SseReader implements AsyncIterable<SseEvent> {
  readonly #body: AsyncIterable<Uint8Array>;
  readonly #takeBuffered: (() => Uint8Array | undefined) | undefined;
  #comments = 0;
  #end: BodyEnd | undefined;
  /** Frames parsed from the chunks read so far and not yet taken. */
  readonly #queue: SseEvent[] = [];
  readonly #parser: EventSourceParser;
  // Node's StringDecoder rather than TextDecoder: the same handling of a character split
  // between chunks, without an ICU converter made per stream (~2% of a streamed request's
  // CPU in bench:gateway's profile). A leading BOM is left to the parser, which strips one.
  readonly #decoder = new StringDecoder('utf8');
  /** The last characters fed, to tell whether the body stopped on a frame boundary. */
  #tail = '';
  /** Set when a frame grew past the limit: the next read throws it. */
  #overflow: string | undefined;
  /** The body's iterator once iteration began (iterate once). */
  #chunks: AsyncIterator<Uint8Array> | undefined;
  #done = false;

  constructor(body: AsyncIterable<Uint8Array>, options: SseReaderOptions = {}) {
    this.#body = body;
    this.#takeBuffered = options.takeBuffered;
    const queue = this.#queue;
    this.#parser = createParser({
      // The parser makes a fresh message a frame, with these three fields: it is handed on as
      // it is (a copy would be one more object a frame, ~13 a streamed answer).
      onEvent: (message: EventSourceMessage) => {
        queue.push(message);
      },
      onComment: () => {
        this.#comments += 1;
      },
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') this.#overflow = error.message;
      },
      maxBufferSize: options.maxFrameChars ?? DEFAULT_MAX_FRAME_CHARS,
    });
  }

  /**
   * Called when a body chunk held comments (keep-alives) and no frame: the stream is alive
   * though nothing is to be handed out yet.
   */
  onKeepAlive: (() => void) | undefined;

  /** Comment lines seen so far (keep-alives). */
  get comments(): number {
    return this.#comments;
  }

  /** True when the next frame is already read: taking it needs no I/O (a writer can batch). */
  get ready(): boolean {
    return this.#queue.length > 0;
  }

  /**
   * The next frame when it needs no I/O, without a promise: the rest of a chunk's frames, then
   * those of chunks already received (`takeBuffered`), for a caller that iterates and wants no
   * microtask per frame. Shares the iterator's queue, so the two may be mixed; undefined when
   * the next frame needs a read (or the iterator has not started).
   */
  takeReady(): SseEvent | undefined {
    for (;;) {
      const event = this.#queue.shift();
      if (event !== undefined) return event;
      // An oversized frame stops the synchronous pass: the next `next()` throws it.
      if (this.#chunks === undefined || this.#done || this.#overflow !== undefined) return undefined;
      const chunk = this.#takeBuffered?.();
      if (chunk === undefined) return undefined;
      this.#feed(chunk);
    }
  }

  /** Set once the body has ended without an error; undefined while reading or after an error. */
  get end(): BodyEnd | undefined {
    return this.#end;
  }

  /** Parses one chunk into the queue; a chunk of comments alone is a keep-alive. */
  #feed(chunk: Uint8Array): void {
    const text = this.#decoder.write(chunk as Buffer);
    if (text === '') return;
    this.#tail = text.length >= 4 ? text.slice(-4) : (this.#tail + text).slice(-4);
    const comments = this.#comments;
    this.#parser.feed(text);
    if (this.#overflow === undefined && this.#queue.length === 0 && this.#comments !== comments) {
      this.onKeepAlive?.();
    }
  }

  async #pull(chunks: AsyncIterator<Uint8Array>): Promise<IteratorResult<SseEvent, undefined>> {
    const queue = this.#queue;
    for (;;) {
      if (this.#overflow !== undefined) {
        this.#done = true;
        queue.length = 0;
        await chunks.return?.();
        throw new SseFramingError(`SSE frame too large: ${this.#overflow}`);
      }
      const event = queue.shift();
      if (event) return { value: event, done: false };
      const read = await chunks.next();
      if (read.done) {
        this.#done = true;
        const rest = this.#decoder.end();
        this.#end = rest === '' && endsOnFrameBoundary(this.#tail) ? 'clean' : 'partial_frame';
        return FINISHED;
      }
      this.#feed(read.value);
    }
  }

  /**
   * Iterates the frames. A hand-written iterator rather than an async generator: the frames
   * of one chunk (often several) are handed out without a suspension each, and only an
   * empty queue waits for the body. Iterate it once.
   */
  [Symbol.asyncIterator](): AsyncIterator<SseEvent, undefined> {
    const chunks = this.#body[Symbol.asyncIterator]();
    this.#chunks = chunks;
    return {
      next: () => {
        const event = this.#overflow === undefined ? this.#queue.shift() : undefined;
        if (event) return Promise.resolve({ value: event, done: false });
        return this.#done ? Promise.resolve(FINISHED) : this.#pull(chunks);
      },
      // A reader that stops early: the body is not wanted any more (the upstream call ends).
      return: async () => {
        if (!this.#done) {
          this.#done = true;
          this.#queue.length = 0;
          await chunks.return?.();
        }
        return FINISHED;
      },
    };
  }
}

const FINISHED = { value: undefined, done: true } as const;

export function endsOnFrameBoundary(tail: string): boolean {
  if (tail === '') return true;
  const normalised = tail.replaceAll('\r\n', '\n').replaceAll('\r', '\n');
  return normalised.endsWith('\n\n');
}
