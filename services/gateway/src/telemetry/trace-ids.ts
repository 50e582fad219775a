/**
 * Trace and span ids, as the lowercase hex strings W3C Trace Context and the OpenTelemetry
 * API use.
 *
 * Why not the SDK's `RandomIdGenerator`: it draws `Math.random()` and converts each id to
 * hex with a native call (`Buffer#toString`), a visible share of a traced request's cost.
 * Here the bytes come from the operating system's CSPRNG in blocks (ids no one can guess,
 * which `Math.random()` does not promise), each block is turned into hex once, and an id is
 * a slice of that text.
 */
import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace-base';

/** Random bytes drawn at a time: 256 span ids or 128 trace ids. */
const BLOCK_BYTES = 2048;
const INVALID_SPAN_ID = '0'.repeat(16);
const INVALID_TRACE_ID = '0'.repeat(32);

export class PooledIdGenerator implements IdGenerator {
  readonly #bytes = Buffer.allocUnsafe(BLOCK_BYTES);
  #hex = '';
  /** Next unused hex digit of `#hex`. */
  #at = 0;

  /** `digits` hex digits never handed out before. */
  #take(digits: number): string {
    if (this.#at + digits > this.#hex.length) {
      randomFillSync(this.#bytes);
      this.#hex = this.#bytes.toString('hex');
      this.#at = 0;
    }
    const id = this.#hex.slice(this.#at, this.#at + digits);
    this.#at += digits;
    return id;
  }

  generateTraceId(): string {
    // All zeros is the invalid id (a chance of 2^-128, but the specification forbids it).
    for (;;) {
      const id = this.#take(32);
      if (id !== INVALID_TRACE_ID) return id;
    }
  }

  generateSpanId(): string {
    for (;;) {
      const id = this.#take(16);
      if (id !== INVALID_SPAN_ID) return id;
    }
  }
}
