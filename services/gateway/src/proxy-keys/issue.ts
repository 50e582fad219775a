import { newProxyKey, type ProxyKeyRejection, parseProxyKey } from './format.js';
import type { ProxyKeyHash, ProxyKeyHasher } from './hash.js';

/** A new key: show `secret` to its owner once, store only `prefix` and `hash`. */
export interface GeneratedProxyKey {
  /** The whole key (`kdn_` + 38 characters). Never log it, never store it. */
  readonly secret: string;
  /** `kdn_` + 8 characters: `ProxyKeyIssued.prefix`. */
  readonly prefix: string;
  /** Under the hasher's current secret: `ProxyKeyIssued.hash`. */
  readonly hash: ProxyKeyHash;
}

export function generateProxyKey(hasher: ProxyKeyHasher): GeneratedProxyKey {
  const key = newProxyKey();
  return { secret: key.reveal(), prefix: key.prefix, hash: hasher.hash(key) };
}

export type ImportProxyKeyResult =
  | { readonly ok: true; readonly prefix: string; readonly hash: ProxyKeyHash }
  | { readonly ok: false; readonly reason: ProxyKeyRejection };

/**
 * A key its owner already has (a `secret` written in the declarative config): checked like
 * any presented key, then hashed under the current secret. The result never contains the
 * secret, and neither does a rejection, so a caller can put either in an error message.
 */
export function importProxyKey(hasher: ProxyKeyHasher, secret: unknown): ImportProxyKeyResult {
  const parsed = parseProxyKey(secret);
  if (!parsed.ok) return parsed;
  return { ok: true, prefix: parsed.key.prefix, hash: hasher.hash(parsed.key) };
}
