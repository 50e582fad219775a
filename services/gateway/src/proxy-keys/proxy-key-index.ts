import { type ProxyKey, type ProxyKeyRejection, parseProxyKey } from './format.js';
import { isProxyKeyHash, type ProxyKeyHash, type ProxyKeyHasher } from './hash.js';

export type AddProxyKeyResult =
  | {
      readonly ok: true;
      readonly status: 'added' | 'unchanged';
      /** False when the hash's server secret is not configured: the key cannot authenticate. */
      readonly usable: boolean;
    }
  | { readonly ok: false; readonly reason: 'invalid_hash' }
  /** The same key is already registered under another id (the same secret declared twice). */
  | { readonly ok: false; readonly reason: 'hash_in_use'; readonly proxyKeyId: string };

export interface ProxyKeyMatch {
  readonly proxyKeyId: string;
  /** The server secret that matched. */
  readonly keyId: string;
  /** False when a previous (retired) server secret matched. */
  readonly current: boolean;
}

export type AuthenticateResult =
  | ({ readonly ok: true } & ProxyKeyMatch)
  | { readonly ok: false; readonly reason: ProxyKeyRejection | 'unknown' };

/**
 * Which proxy key a presented key is: hash value -> proxy key id, per server secret, in memory.
 * It knows nothing of status, expiry or owner; the projection that feeds it (from
 * `ProxyKeyIssued`) holds those, and a revoked key may stay here.
 *
 * Lookup is a `Map.get` on the hex of an HMAC, which is safe without a constant-time compare.
 * The hash function and the string compare behind `Map.get` may take time that depends on how
 * much of the presented key's HMAC agrees with a stored one. But an attacker cannot choose
 * what an HMAC will be without the server secret (that is what a MAC is), so changing the
 * candidate reshuffles all 256 bits at random: learning "my HMAC shares 3 hex digits with some
 * stored one" says nothing about any stored key and cannot be improved on step by step, which
 * is what a timing attack on a plain `===` of secrets does. The plaintext key itself is never
 * compared with anything, and the stored values are never secrets on their own.
 */
export class ProxyKeyIndex {
  readonly #hasher: ProxyKeyHasher;
  /** keyId -> hash value -> proxyKeyId */
  readonly #byHash = new Map<string, Map<string, string>>();
  /** proxyKeyId -> its hashes (one per server secret it was hashed under) */
  readonly #byId = new Map<string, ProxyKeyHash[]>();

  constructor(hasher: ProxyKeyHasher) {
    this.#hasher = hasher;
  }

  /** Number of proxy keys registered. */
  get size(): number {
    return this.#byId.size;
  }

  has(proxyKeyId: string): boolean {
    return this.#byId.has(proxyKeyId);
  }

  /**
   * Registers a stored hash (from `ProxyKeyIssued`, or a re-hash of the same key under another
   * server secret). Idempotent for replays; a hash already held by another id is refused.
   */
  add(proxyKeyId: string, hash: ProxyKeyHash): AddProxyKeyResult {
    if (!isProxyKeyHash(hash)) return { ok: false, reason: 'invalid_hash' };
    let values = this.#byHash.get(hash.keyId);
    const owner = values?.get(hash.value);
    const usable = this.#hasher.knows(hash.keyId);
    if (owner !== undefined) {
      return owner === proxyKeyId
        ? { ok: true, status: 'unchanged', usable }
        : { ok: false, reason: 'hash_in_use', proxyKeyId: owner };
    }
    if (!values) {
      values = new Map();
      this.#byHash.set(hash.keyId, values);
    }
    values.set(hash.value, proxyKeyId);
    const record: ProxyKeyHash = { algorithm: 'hmac-sha256', keyId: hash.keyId, value: hash.value };
    const hashes = this.#byId.get(proxyKeyId);
    if (hashes) hashes.push(record);
    else this.#byId.set(proxyKeyId, [record]);
    return { ok: true, status: 'added', usable };
  }

  /** Forgets a key and all its hashes. Returns whether it was there. */
  remove(proxyKeyId: string): boolean {
    const hashes = this.#byId.get(proxyKeyId);
    if (!hashes) return false;
    for (const hash of hashes) {
      const values = this.#byHash.get(hash.keyId);
      values?.delete(hash.value);
      if (values?.size === 0) this.#byHash.delete(hash.keyId);
    }
    this.#byId.delete(proxyKeyId);
    return true;
  }

  /**
   * The proxy key `key` is, trying the current server secret first, then each previous one
   * (one HMAC per secret tried). Which secret matched is not sensitive.
   */
  lookup(key: ProxyKey): ProxyKeyMatch | null {
    const keyIds = this.#hasher.keyIds;
    for (let i = 0; i < keyIds.length; i++) {
      const keyId = keyIds[i]!;
      const values = this.#byHash.get(keyId);
      if (!values) continue;
      const hash = this.#hasher.hashUnder(key, keyId)!;
      const proxyKeyId = values.get(hash.value);
      if (proxyKeyId !== undefined) return { proxyKeyId, keyId, current: i === 0 };
    }
    return null;
  }

  /**
   * A presented candidate, end to end: a malformed or mistyped key is refused by
   * `parseProxyKey` before any HMAC or lookup; a well-formed one is looked up.
   */
  authenticate(candidate: unknown): AuthenticateResult {
    const parsed = parseProxyKey(candidate);
    if (!parsed.ok) return parsed;
    const match = this.lookup(parsed.key);
    return match ? { ok: true, ...match } : { ok: false, reason: 'unknown' };
  }
}
