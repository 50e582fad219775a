/**
 * Newline-delimited JSON from a response body, as YandexGPT streams its answers: one JSON
 * document per line. Lines split across TCP packets (also inside a multi-byte character)
 * are joined; CRLF and blank lines are accepted. Yields the text of each line; the caller
 * parses and validates it. `end` is set when the body ended without error: `clean`, or
 * `partial_frame` when it stopped inside a UTF-8 character. A last line without a line
 * break is still yielded: whether it is complete is for the JSON parser to say.
 */
import type { BodyEnd } from './sse-reader.js';

const DEFAULT_MAX_LINE_CHARS = 16 * 1024 * 1024;

export class NdjsonFramingError extends Error {
  override readonly name = 'NdjsonFramingError';
}

export class NdjsonReader implements AsyncIterable<string> {
  readonly #body: AsyncIterable<Uint8Array>;
  readonly #maxLineChars: number;
  #end: BodyEnd | undefined;
  /** Text read and not yet split into lines. */
  #pending = '';

  constructor(body: AsyncIterable<Uint8Array>, options: { maxLineChars?: number } = {}) {
    this.#body = body;
    this.#maxLineChars = options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS;
  }

  get end(): BodyEnd | undefined {
    return this.#end;
  }

  /** True when the next line is already read: taking it needs no I/O (a writer can batch). */
  get ready(): boolean {
    return this.#pending.includes('\n');
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    const decoder = new TextDecoder('utf-8');
    for await (const chunk of this.#body) {
      this.#pending += decoder.decode(chunk, { stream: true });
      let newline = this.#pending.indexOf('\n');
      while (newline >= 0) {
        const line = this.#pending.slice(0, newline).trim();
        this.#pending = this.#pending.slice(newline + 1);
        if (line !== '') yield line;
        newline = this.#pending.indexOf('\n');
      }
      if (this.#pending.length > this.#maxLineChars) throw new NdjsonFramingError('NDJSON line too large');
    }
    const rest = decoder.decode();
    const last = (this.#pending + rest).trim();
    this.#pending = '';
    if (last !== '') yield last;
    this.#end = rest === '' ? 'clean' : 'partial_frame';
  }
}
