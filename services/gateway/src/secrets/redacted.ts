import { inspect } from 'node:util';
import { InvalidSecretError } from './errors.js';

/*
 * A plaintext secret held in memory. Every way a value usually reaches a log, an answer or
 * a trace (String(), template literals, `+`, JSON.stringify, util.inspect / console.log,
 * util.format) prints `[redacted …abcd]`. The plaintext is a true private field (#value): it
 * is not an own property, so spreading, Object.keys/entries, structuredClone and inspect with
 * customInspect off show nothing either. Only `reveal()` returns it; call it in the one place
 * that builds the upstream auth header, and do not store what it returns.
 */

/** A hint needs at least this many visible characters, so it never shows half of a secret. */
export const HINT_MIN_CHARACTERS = 8;

/** Visible ASCII (what the `last4` event field accepts); whitespace and the rest are skipped. */
const NOT_VISIBLE_ASCII = /[^\x21-\x7e]/g;

/** Whether a secret is long enough to have a display hint (`last4`). */
export function hasDisplayHint(secret: string): boolean {
  return hintOf(secret) !== null;
}

function hintOf(secret: string): string | null {
  const visible = secret.replace(NOT_VISIBLE_ASCII, '');
  return visible.length >= HINT_MIN_CHARACTERS ? visible.slice(-4) : null;
}

/**
 * The display hint of a secret: its last 4 visible ASCII characters (whitespace and
 * non-ASCII are skipped, so a credential ending in a newline still gets a usable hint). It
 * fits the `last4` field of ProviderKeyAdded. A secret with fewer than 8 such characters has
 * no hint: showing 4 would show half of it (InvalidSecretError).
 */
export function last4(secret: string | RedactedSecret): string {
  const hint = secret instanceof RedactedSecret ? secret.hint : hintOf(secret);
  if (hint === null) {
    throw new InvalidSecretError(
      `secret is too short for a display hint: it needs at least ${HINT_MIN_CHARACTERS} visible characters`,
    );
  }
  return hint;
}

export class RedactedSecret {
  readonly #value: string;
  readonly #hint: string | null;

  constructor(value: string) {
    if (typeof value !== 'string') throw new InvalidSecretError('a secret must be a string');
    this.#value = value;
    this.#hint = hintOf(value);
    Object.freeze(this);
  }

  /** The plaintext. Only for building the upstream request; never log, store or return it. */
  reveal(): string {
    return this.#value;
  }

  /** The last 4 visible characters, or null when the secret is too short to show any. */
  get hint(): string | null {
    return this.#hint;
  }

  toString(): string {
    return this.#hint === null ? '[redacted]' : `[redacted …${this.#hint}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.toPrimitive](): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
