import { createHmac, createSecretKey, hkdfSync, type KeyObject, timingSafeEqual } from 'node:crypto';
import { KordonError } from '@kordon/events';
import { ProxyKey } from './format.js';

/** The `hash` record of `ProxyKeyIssued` (the `keyedHash` field type of @kordon/events). */
export interface ProxyKeyHash {
  readonly algorithm: 'hmac-sha256';
  /** Which server secret made the hash; derived from that secret, see `deriveKeyId`. */
  readonly keyId: string;
  /** HMAC-SHA-256 of the key, 64 lowercase hex characters. */
  readonly value: string;
}

/** Server secrets shorter than this are refused: 256 bits, the HMAC-SHA-256 key size. */
export const MIN_SERVER_SECRET_BYTES = 32;

const HASH_KEY_INFO = 'kordon proxy-key hmac-sha256 v1';
const KEY_ID_INFO = 'kordon proxy-key key-id v1';
const KEY_ID_PREFIX = 'pkh-';
const HEX64 = /^[0-9a-f]{64}$/;

function checkServerSecret(secret: unknown, label: string): Buffer {
  if (!Buffer.isBuffer(secret)) {
    throw new KordonError('config_invalid', `proxy key server secret (${label}) must be a Buffer`);
  }
  if (secret.length < MIN_SERVER_SECRET_BYTES) {
    throw new KordonError(
      'config_invalid',
      `proxy key server secret (${label}) must be at least ${MIN_SERVER_SECRET_BYTES} bytes, got ${secret.length}`,
    );
  }
  if (secret.every((byte) => byte === secret[0])) {
    throw new KordonError(
      'config_invalid',
      `proxy key server secret (${label}) is one byte repeated: use random bytes (openssl rand -base64 32)`,
    );
  }
  return secret;
}

function hkdf(secret: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, length));
}

/**
 * The public id of a server secret: `pkh-` + 16 hex characters of HKDF-SHA-256(secret,
 * info "kordon proxy-key key-id v1"). One-way, so it can be stored in every event and shown
 * in logs; it lets a reader tell which secret a hash needs.
 */
export function deriveKeyId(secret: Buffer): string {
  return keyIdOf(checkServerSecret(secret, 'key id'));
}

function keyIdOf(secret: Buffer): string {
  return KEY_ID_PREFIX + hkdf(secret, KEY_ID_INFO, 8).toString('hex');
}

interface ServerKey {
  readonly keyId: string;
  readonly hmacKey: KeyObject;
  /** Recent keys' hashes under this secret (see `hmac`). */
  readonly recent: Map<string, string>;
}

/**
 * How many keys' hashes each secret remembers. An HMAC costs ~2 µs on every request, and a
 * gateway sees the same few thousand keys all day; the memo holds the key strings that
 * arrive in request headers anyway (a heap dump shows those in flight too), never more
 * than this many, the oldest dropped first.
 */
const RECENT_HASHES = 4096;

function serverKey(secret: Buffer, label: string): ServerKey {
  checkServerSecret(secret, label);
  return {
    keyId: keyIdOf(secret),
    // A derived key, not the secret itself: the same environment secret can then key other
    // HMACs (invitation tokens, ...) without one ever standing in for the other.
    hmacKey: createSecretKey(hkdf(secret, HASH_KEY_INFO, 32)),
    recent: new Map(),
  };
}

export interface ProxyKeyServerSecrets {
  /** New keys are hashed with this one (`KORDON_PROXY_KEY_SECRET`, decoded). */
  readonly current: Buffer;
  /** Retired secrets still accepted for keys hashed before the rotation, newest first. */
  readonly previous?: readonly Buffer[];
}

/**
 * Hashes proxy keys with the server secrets: HMAC-SHA-256 keyed by HKDF-SHA-256(secret,
 * info "kordon proxy-key hmac-sha256 v1"), over the 42 ASCII characters of the key. Only
 * derived keys are kept (as `KeyObject`s), not the secrets given.
 */
export class ProxyKeyHasher {
  readonly #keys: readonly ServerKey[];
  readonly #byKeyId: ReadonlyMap<string, ServerKey>;
  readonly #keyIds: readonly string[];

  constructor(secrets: ProxyKeyServerSecrets) {
    const keys = [
      serverKey(secrets.current, 'current'),
      ...(secrets.previous ?? []).map((secret, i) => serverKey(secret, `previous[${i}]`)),
    ];
    const byKeyId = new Map<string, ServerKey>();
    for (const key of keys) {
      if (byKeyId.has(key.keyId)) {
        throw new KordonError(
          'config_invalid',
          `proxy key server secret ${key.keyId} is given twice (current and previous must differ)`,
        );
      }
      byKeyId.set(key.keyId, key);
    }
    this.#keys = keys;
    this.#byKeyId = byKeyId;
    this.#keyIds = Object.freeze(keys.map((key) => key.keyId));
  }

  /** The key id of the current secret: every new hash carries it. */
  get currentKeyId(): string {
    return this.#keys[0]!.keyId;
  }

  /** Every key id this hasher can hash with, current first. */
  get keyIds(): readonly string[] {
    return this.#keyIds;
  }

  knows(keyId: string): boolean {
    return this.#byKeyId.has(keyId);
  }

  /** The hash under the current secret: what a new `ProxyKeyIssued` stores. */
  hash(key: ProxyKey): ProxyKeyHash {
    return hmac(this.#keys[0]!, key);
  }

  /** The hash under the secret `keyId`, or null when that secret is not configured. */
  hashUnder(key: ProxyKey, keyId: string): ProxyKeyHash | null {
    const server = this.#byKeyId.get(keyId);
    return server ? hmac(server, key) : null;
  }

  /** The hash under each configured secret, current first: what a lookup tries. */
  hashAll(key: ProxyKey): ProxyKeyHash[] {
    return this.#keys.map((server) => hmac(server, key));
  }

  /**
   * Whether `key` is the key behind a stored `hash` (for instance to reconcile a key declared
   * in the config file with the one already issued). Compared with `timingSafeEqual`; false
   * when the hash's secret is not configured or the record is not a valid hash.
   */
  verify(key: ProxyKey, hash: ProxyKeyHash): boolean {
    if (hash.algorithm !== 'hmac-sha256' || typeof hash.value !== 'string' || !HEX64.test(hash.value)) {
      return false;
    }
    const computed = this.hashUnder(key, hash.keyId);
    if (!computed) return false;
    return timingSafeEqual(Buffer.from(computed.value, 'hex'), Buffer.from(hash.value, 'hex'));
  }
}

function hmac(server: ServerKey, key: ProxyKey): ProxyKeyHash {
  if (!(key instanceof ProxyKey)) throw new TypeError('only a parsed ProxyKey can be hashed');
  const secret = key.reveal();
  let value = server.recent.get(secret);
  if (value === undefined) {
    value = createHmac('sha256', server.hmacKey).update(secret, 'latin1').digest('hex');
    if (server.recent.size >= RECENT_HASHES) {
      const oldest = server.recent.keys().next().value;
      if (oldest !== undefined) server.recent.delete(oldest);
    }
    server.recent.set(secret, value);
  }
  return { algorithm: 'hmac-sha256', keyId: server.keyId, value };
}

/** Whether `value` has the shape of a stored hash record. */
export function isProxyKeyHash(value: unknown): value is ProxyKeyHash {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record.algorithm === 'hmac-sha256' &&
    typeof record.keyId === 'string' &&
    record.keyId.length > 0 &&
    typeof record.value === 'string' &&
    HEX64.test(record.value)
  );
}
