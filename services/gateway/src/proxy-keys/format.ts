import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

/*
 * The proxy key format: `kdn_` + 32 random base62 characters + 6 base62 characters of
 * checksum (CRC-32 of the random part), 42 characters in all. See README.md for the
 * rationale; the numbers below are part of a stored format and must never change (a new
 * format would get a new prefix).
 */

export const PROXY_KEY_PREFIX = 'kdn_';
/** 32 base62 characters: 32 x log2(62) = 190.5 random bits. */
export const PROXY_KEY_RANDOM_LENGTH = 32;
/** CRC-32 (up to 2^32 - 1) fits in 6 base62 digits (62^6 is about 5.7e10). */
export const PROXY_KEY_CHECKSUM_LENGTH = 6;
export const PROXY_KEY_BODY_LENGTH = PROXY_KEY_RANDOM_LENGTH + PROXY_KEY_CHECKSUM_LENGTH;
/** Every proxy key is exactly this long: 42. */
export const PROXY_KEY_LENGTH = PROXY_KEY_PREFIX.length + PROXY_KEY_BODY_LENGTH;
/**
 * Characters of the random part shown to people and stored in `ProxyKeyIssued.prefix`. The 24
 * characters that are never shown still carry 24 x log2(62) = 142.9 bits.
 */
export const PROXY_KEY_DISPLAY_LENGTH = 8;
/** Random bits of a key, for documentation and tests. */
export const PROXY_KEY_RANDOM_BITS = PROXY_KEY_RANDOM_LENGTH * Math.log2(62);

/** Digits, then upper case, then lower case: a checksum digit's value is its index here. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * The exact shape of a proxy key, anchored: for validating a whole value. It checks neither
 * the checksum nor anything else: use `parseProxyKey` for that.
 */
export const PROXY_KEY_PATTERN = /^kdn_[0-9A-Za-z]{38}$/;
/**
 * For secret scanners and log redaction: finds keys inside text. The source is documented in
 * README.md; build a `g` regex from `PROXY_KEY_SCAN_SOURCE` to find every occurrence (this
 * constant is not global, so it carries no `lastIndex` state between callers).
 */
export const PROXY_KEY_SCAN_SOURCE = String.raw`\bkdn_[0-9A-Za-z]{38}\b`;
export const PROXY_KEY_SCAN_PATTERN = new RegExp(PROXY_KEY_SCAN_SOURCE);

const CHECKSUM_OFFSET = PROXY_KEY_PREFIX.length + PROXY_KEY_RANDOM_LENGTH;

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib and GitHub tokens use. */
const CRC32_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 of the low byte of each UTF-16 unit of `text[start, end)`; for ASCII, of its bytes. */
export function crc32(text: string, start = 0, end = text.length): number {
  let crc = -1;
  for (let i = start; i < end; i++) {
    crc = CRC32_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}

/** `value` (0 to 62^width - 1) as `width` base62 digits, most significant first, zero padded. */
export function encodeBase62Fixed(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = BASE62_ALPHABET.charAt(rest % 62) + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

/** The 6 checksum characters of a random part. */
export function proxyKeyChecksum(randomPart: string): string {
  return encodeBase62Fixed(crc32(randomPart), PROXY_KEY_CHECKSUM_LENGTH);
}

/**
 * 1 when the UTF-16 unit `c` is not in [0-9A-Za-z], else 0, without a branch: each range mask
 * is the sign bit of `(low - 1 - c) & (c - high - 1)`, set only when both are negative.
 */
function notBase62(c: number): number {
  const digit = (47 - c) & (c - 58);
  const upper = (64 - c) & (c - 91);
  const lower = (96 - c) & (c - 123);
  return ((digit | upper | lower) >>> 31) ^ 1;
}

// Assigned by ProxyKey's static block: the only way to build one outside the class.
let createProxyKey: (secret: string) => ProxyKey;

/**
 * A proxy key that passed `parseProxyKey` (or was just generated). The secret is only
 * reachable through `reveal()`: printing, logging or serialising the object shows the display
 * prefix, so a key kept in a request context cannot leak into a log by accident.
 */
export class ProxyKey {
  readonly #secret: string;
  /** `kdn_` + the first 8 random characters: `ProxyKeyIssued.prefix`, safe to show. */
  readonly prefix: string;

  static {
    createProxyKey = (secret) => new ProxyKey(secret);
  }

  private constructor(secret: string) {
    this.#secret = secret;
    this.prefix = secret.slice(0, PROXY_KEY_PREFIX.length + PROXY_KEY_DISPLAY_LENGTH);
    Object.freeze(this);
  }

  /** The full secret, e.g. to show it once at creation or to hash it. */
  reveal(): string {
    return this.#secret;
  }

  toString(): string {
    return `${this.prefix}...(redacted)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return `ProxyKey(${this.toString()})`;
  }
}

export type ProxyKeyRejection = 'malformed' | 'bad_checksum';

export type ParseProxyKeyResult =
  | { readonly ok: true; readonly key: ProxyKey }
  | { readonly ok: false; readonly reason: ProxyKeyRejection };

const MALFORMED: ParseProxyKeyResult = Object.freeze({ ok: false, reason: 'malformed' });
const BAD_CHECKSUM: ParseProxyKeyResult = Object.freeze({ ok: false, reason: 'bad_checksum' });

/**
 * Checks a candidate key without any lookup: `malformed` unless it is a string of exactly 42
 * UTF-16 units, `kdn_` (case-sensitive) then 38 of [0-9A-Za-z]; `bad_checksum` when the last 6
 * characters are not the CRC-32 of the 32 before them. Nothing is trimmed or normalised.
 *
 * Never throws. Only the length (public: every key has the same) ends the check early; a
 * candidate of the right length is read to the end, every character through the same
 * branch-free arithmetic, and the checksum compared by XOR-accumulation, so the time taken
 * does not depend on where the candidate goes wrong.
 */
export function parseProxyKey(candidate: unknown): ParseProxyKeyResult {
  if (typeof candidate !== 'string' || candidate.length !== PROXY_KEY_LENGTH) return MALFORMED;

  let bad = 0;
  for (let i = 0; i < PROXY_KEY_PREFIX.length; i++) {
    bad |= candidate.charCodeAt(i) ^ PROXY_KEY_PREFIX.charCodeAt(i);
  }
  let crc = -1;
  for (let i = PROXY_KEY_PREFIX.length; i < CHECKSUM_OFFSET; i++) {
    const c = candidate.charCodeAt(i);
    bad |= notBase62(c);
    crc = CRC32_TABLE[(crc ^ c) & 0xff]! ^ (crc >>> 8);
  }
  const expected = encodeBase62Fixed(~crc >>> 0, PROXY_KEY_CHECKSUM_LENGTH);
  let diff = 0;
  for (let i = 0; i < PROXY_KEY_CHECKSUM_LENGTH; i++) {
    const c = candidate.charCodeAt(CHECKSUM_OFFSET + i);
    bad |= notBase62(c);
    diff |= c ^ expected.charCodeAt(i);
  }

  if (bad !== 0) return MALFORMED;
  if (diff !== 0) return BAD_CHECKSUM;
  return { ok: true, key: createProxyKey(candidate) };
}

/** `length` characters drawn uniformly from the base62 alphabet by rejection sampling. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    // 248 = 4 x 62: bytes below it map uniformly onto the alphabet; the rest are dropped.
    for (const byte of randomBytes(length + 16)) {
      if (byte >= 248) continue;
      out += BASE62_ALPHABET.charAt(byte % 62);
      if (out.length === length) break;
    }
  }
  return out;
}

/** A fresh key from the operating system's CSPRNG (`crypto.randomBytes`). */
export function newProxyKey(): ProxyKey {
  const random = randomBase62(PROXY_KEY_RANDOM_LENGTH);
  return createProxyKey(PROXY_KEY_PREFIX + random + proxyKeyChecksum(random));
}
