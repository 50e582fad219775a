import { createHash, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { KordonError } from '@kordon/events';

/*
 * Master keys wrap the per-secret data keys. A key is 32 random bytes; its id is derived
 * from the key itself, so a record names the key that wrapped it and two processes given the
 * same key agree on the id without any registry:
 *
 *   id = hex(SHA-256("kordon/master-key-id/v1" || 0x00 || key))[0..16]
 *
 * (shell: `(printf 'kordon/master-key-id/v1\0'; printf %s "$KEY" | base64 -d) | sha256sum | cut -c1-16`).
 * The label keeps the id from being a plain SHA-256 fingerprint that other systems might also
 * publish. The key bytes live only inside a node:crypto KeyObject: no MasterKey or ring method
 * returns them, and toString / toJSON / inspect show the id only.
 */

export const MASTER_KEY_BYTES = 32;
const ID_LABEL = Buffer.from('kordon/master-key-id/v1\0', 'latin1');

export function masterKeyId(bytes: Uint8Array): string {
  return createHash('sha256').update(ID_LABEL).update(bytes).digest('hex').slice(0, 16);
}

/** The shape of a master key id (also a valid event `id`). */
export const MASTER_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

/**
 * Keys that are published as examples or that people derive from a guessable word. The
 * standard test vectors: FIPS-197 C.3, SP 800-38A F.1.5/F.5.5, the GCM specification's test
 * cases 14-18; and SHA-256 of common placeholders, with and without the newline `echo` adds.
 */
const WELL_KNOWN_KEYS: ReadonlySet<string> = new Set([
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
  'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
  ...[
    '',
    'password',
    'secret',
    'changeme',
    'change-me',
    'changeit',
    'kordon',
    'master',
    'masterkey',
    'master-key',
    'test',
    'dev',
    'admin',
    'example',
    'default',
    '123456',
    '12345678',
    'letmein',
  ].flatMap((word) => [word, `${word}\n`].map((text) => createHash('sha256').update(text).digest('hex'))),
]);

/**
 * Why these bytes must not be a master key, or null when they look like 32 random bytes. The
 * checks have no practical false positives on random keys (the likeliest, "all 32 bytes are
 * printable ASCII", has odds of about 1e-14). The reason never quotes the bytes.
 */
export function masterKeyWeakness(bytes: Uint8Array): string | null {
  if (bytes.length !== MASTER_KEY_BYTES) {
    return `must be exactly ${MASTER_KEY_BYTES} bytes (got ${bytes.length})`;
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.every((byte) => byte === bytes[0])) return 'has the same value in every byte';
  if (WELL_KNOWN_KEYS.has(buffer.toString('hex'))) {
    return 'is a well-known sample key (a published test vector or the hash of a common word)';
  }
  const step = ((bytes[1] ?? 0) - (bytes[0] ?? 0) + 256) % 256;
  if (bytes.every((byte, i) => i === 0 || (byte - (bytes[i - 1] ?? 0) + 256) % 256 === step)) {
    return 'is a counting sequence';
  }
  if (buffer.subarray(0, 16).equals(buffer.subarray(16))) return 'repeats its first half';
  const distinct = new Set(bytes).size;
  if (distinct < 16) return `has only ${distinct} distinct byte values; random keys have about 30`;
  if (bytes.every((byte) => byte >= 0x20 && byte <= 0x7e)) {
    return 'is printable text (a password?), not random bytes';
  }
  return null;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL_KEY = /^[A-Za-z0-9_-]{43}=?$/;

/**
 * 32 bytes written as 64 hex characters or as base64 (standard or URL-safe alphabet, padding
 * optional), surrounding whitespace ignored. Throws `config_invalid` naming `source` and never
 * the value. The caller should zero the returned buffer once it has made a MasterKey.
 */
export function decodeMasterKeyText(text: string, source: string): Buffer {
  const value = text.trim();
  let bytes: Buffer | null = null;
  if (HEX_KEY.test(value)) {
    bytes = Buffer.from(value, 'hex');
  } else if (BASE64_KEY.test(value) || BASE64URL_KEY.test(value)) {
    const encoding = BASE64_KEY.test(value) ? 'base64' : 'base64url';
    const decoded = Buffer.from(value, encoding);
    // The 43rd character carries 2 unused bits; set ones mean a mistyped or truncated key.
    if (decoded.toString(encoding).replace(/=+$/, '') === value.replace(/=+$/, '')) bytes = decoded;
    else decoded.fill(0);
  }
  if (bytes === null) {
    throw new KordonError(
      'config_invalid',
      `${source}: expected ${MASTER_KEY_BYTES} bytes written as 64 hex characters or 44 base64 characters ` +
        `(got ${value.length} characters; generate one with \`openssl rand -base64 32\`)`,
    );
  }
  return bytes;
}

let keyObjectOf!: (key: MasterKey) => KeyObject;

/** One master key: its id, where it came from (for messages), and the key inside a KeyObject. */
export class MasterKey {
  readonly id: string;
  /** Where the key was read from (`KORDON_MASTER_KEY`, a file path...), never the key. */
  readonly source: string;
  readonly #key: KeyObject;

  static {
    keyObjectOf = (key) => key.#key;
  }

  private constructor(id: string, source: string, key: KeyObject) {
    this.id = id;
    this.source = source;
    this.#key = key;
    Object.freeze(this);
  }

  /** Checks the strength of the bytes (config_invalid when weak) and copies them; the caller may zero its copy. */
  static fromBytes(bytes: Uint8Array, source: string): MasterKey {
    const weakness = masterKeyWeakness(bytes);
    if (weakness !== null) {
      throw new KordonError(
        'config_invalid',
        `${source}: refusing a weak master key: it ${weakness}; generate one with \`openssl rand -base64 32\``,
      );
    }
    return new MasterKey(masterKeyId(bytes), source, createSecretKey(Buffer.from(bytes)));
  }

  /** A key given as hex or base64 text (see decodeMasterKeyText). */
  static fromText(text: string, source: string): MasterKey {
    const bytes = decodeMasterKeyText(text, source);
    try {
      return MasterKey.fromBytes(bytes, source);
    } finally {
      bytes.fill(0);
    }
  }

  /** A new random key (tests, and rotation tooling that stores the key elsewhere itself). */
  static generate(source = 'generated'): MasterKey {
    const bytes = randomBytes(MASTER_KEY_BYTES);
    try {
      return MasterKey.fromBytes(bytes, source);
    } finally {
      bytes.fill(0);
    }
  }

  /** Same key bytes (compared in constant time by node:crypto). */
  equals(other: MasterKey): boolean {
    return this.#key.equals(other.#key);
  }

  toString(): string {
    return `MasterKey(${this.id}, ${this.source})`;
  }

  toJSON(): { id: string; source: string } {
    return { id: this.id, source: this.source };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** For envelope.ts only; not exported from the module index. */
export function masterKeyObject(key: MasterKey): KeyObject {
  return keyObjectOf(key);
}

/**
 * The master keys a process can use: `current` wraps every new data key; the older ones
 * only unwrap records that have not been re-wrapped yet. Immutable: rotation builds a new
 * ring. Rotation without downtime:
 *   1. deploy with the new key as current and the old one in KORDON_MASTER_KEYS_OLD
 *      (every replica can still read everything, new records use the new key);
 *   2. each start re-wraps every record whose keyId is not the current id (`needsRewrap` /
 *      `rewrap`; stored-secrets.ts and BodyKeyStore.rewrapAll);
 *   3. once no record names the old id, drop it from KORDON_MASTER_KEYS_OLD.
 */
export class MasterKeyRing {
  readonly current: MasterKey;
  readonly #byId: ReadonlyMap<string, MasterKey>;

  constructor(current: MasterKey, older: readonly MasterKey[] = []) {
    const byId = new Map<string, MasterKey>([[current.id, current]]);
    for (const key of older) {
      const known = byId.get(key.id);
      if (known === undefined) {
        byId.set(key.id, key);
      } else if (!known.equals(key)) {
        // 64-bit ids: only a forged or corrupted configuration gets here.
        throw new KordonError(
          'config_invalid',
          `master keys from ${known.source} and ${key.source} share the id ${key.id} but differ`,
        );
      }
      // The same key listed twice (current also among the old ones during a rotation) is fine.
    }
    this.current = current;
    this.#byId = byId;
    Object.freeze(this);
  }

  get currentId(): string {
    return this.current.id;
  }

  /** Every key id, current first. */
  get ids(): string[] {
    return [...this.#byId.keys()];
  }

  get(id: string): MasterKey | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** A ring with `next` as current and every key of this one still able to unwrap. */
  rotate(next: MasterKey): MasterKeyRing {
    return new MasterKeyRing(next, [...this.#byId.values()]);
  }

  /** A ring without the old key `id` (after every record naming it was re-wrapped). */
  without(id: string): MasterKeyRing {
    if (id === this.current.id) {
      throw new KordonError('config_invalid', `master key ${id} is the current key and cannot be removed`);
    }
    return new MasterKeyRing(
      this.current,
      [...this.#byId.values()].filter((key) => key.id !== id),
    );
  }

  toString(): string {
    const older = this.ids.slice(1);
    return `MasterKeyRing(current ${this.current.id}${older.length ? `, older ${older.join(', ')}` : ''})`;
  }

  toJSON(): { current: string; older: string[] } {
    return { current: this.current.id, older: this.ids.slice(1) };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
