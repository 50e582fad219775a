import type { IncomingMessage } from 'node:http';
import { type AdmissionSubject, type CidrSet, resolveClientIp } from '../limits/index.js';
import {
  extractProxyKeyCandidate,
  type ProxyKeyHasher,
  type ProxyKeySource,
  parseProxyKey,
} from '../proxy-keys/index.js';
import type { ProxyKeyEntry, RegistryState, UserEntry } from '../registry/registry.js';
import { GatewayError } from './gateway-error.js';

export interface Caller {
  key: ProxyKeyEntry;
  user: UserEntry;
}

/** Where two different keys were presented: send one (a proxy in between may add its own header). */
const CONFLICTING_KEYS: Record<ProxyKeySource, string> = {
  both: 'two different API keys given (Authorization and x-api-key): send one key',
  authorization: 'two different API keys given (the Authorization header is repeated): send one key',
  'x-api-key': 'two different API keys given (the x-api-key header is repeated): send one key',
};

/**
 * Finds the caller's proxy key: format and checksum first (a mistyped key costs no
 * lookup), then the keyed hash under each configured server secret, then the key's and
 * its owner's state. Messages never repeat the presented key.
 */
export function authenticate(
  req: IncomingMessage,
  registry: RegistryState,
  hasher: ProxyKeyHasher,
  now: number,
): Caller {
  const extracted = extractProxyKeyCandidate(req.rawHeaders);
  if (!extracted.ok) {
    const message =
      extracted.reason === 'missing'
        ? 'no API key given: send your Kordon key as "Authorization: Bearer <key>" or "x-api-key: <key>"'
        : extracted.reason === 'conflicting'
          ? CONFLICTING_KEYS[extracted.header]
          : 'the API key header is malformed';
    throw new GatewayError('unauthenticated', message);
  }
  const parsed = parseProxyKey(extracted.candidate);
  if (!parsed.ok)
    throw new GatewayError('unauthenticated', 'invalid API key: this is not a Kordon key (kdn_...)');
  let key: ProxyKeyEntry | undefined;
  for (const keyId of hasher.keyIds) {
    const hash = hasher.hashUnder(parsed.key, keyId);
    const id = hash && registry.proxyKeyIdByHash.get(hash.value);
    key = id ? registry.proxyKeys.get(id) : undefined;
    if (key) break;
  }
  if (!key) throw new GatewayError('unauthenticated', `invalid API key ${parsed.key.prefix}...: unknown key`);
  if (key.status !== 'active') {
    throw new KeyRefusedError(
      key,
      key.status === 'revoked' ? 'key_revoked' : 'key_suspended',
      `API key ${key.prefix}... is ${key.status}`,
    );
  }
  if (key.expiresAt !== null && key.expiresAt <= now) {
    throw new KeyRefusedError(key, 'key_expired', `API key ${key.prefix}... has expired`);
  }
  const user = registry.users.get(key.userId);
  if (!user || user.orgId !== key.orgId || user.disabled) {
    throw new KeyRefusedError(key, 'user_disabled', `API key ${key.prefix}... belongs to a disabled user`);
  }
  return { key, user };
}

/**
 * Who is asking and from where, as the limits see it (the client address is the TCP peer
 * unless it is a trusted proxy): for the access checks of calls that are not usage.
 */
export function accessSubjectOf(
  caller: Caller,
  req: IncomingMessage,
  trustedProxies: CidrSet,
): Omit<AdmissionSubject, 'requestId' | 'model'> {
  return {
    orgId: caller.key.orgId,
    proxyKeyId: caller.key.proxyKeyId,
    userId: caller.user.userId,
    teamId: caller.key.teamId,
    clientAddress: resolveClientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustedProxies),
  };
}

/**
 * A genuine proxy key that may not be used now: suspended, revoked, expired, or its owner
 * disabled. Unlike an unknown key it belongs to an org, whose audit trail should show it
 * being tried (a leaked key, a former employee's): a 401 all the same.
 */
export class KeyRefusedError extends GatewayError {
  constructor(
    readonly key: ProxyKeyEntry,
    readonly reason: 'key_suspended' | 'key_revoked' | 'key_expired' | 'user_disabled',
    message: string,
  ) {
    super('unauthenticated', message);
  }
}

/**
 * How many refusals of one key are recorded a minute: the trail shows a refused key being
 * tried without letting whoever holds it fill the org's event log (the rest are answered and
 * counted in metrics only).
 */
export const RECORDED_KEY_REFUSALS_PER_MINUTE = 10;
const TRACKED_KEYS_MAX = 10_000;

/** Which refusals of a key to record: the first few of each minute. */
export class KeyRefusalRecorder {
  readonly #windows = new Map<string, { start: number; count: number }>();

  /** True when this refusal of `proxyKeyId` is to be recorded. */
  take(proxyKeyId: string, now: number): boolean {
    let window = this.#windows.get(proxyKeyId);
    if (!window || now - window.start >= 60_000) {
      if (!window && this.#windows.size >= TRACKED_KEYS_MAX) this.#prune(now);
      window = { start: now, count: 0 };
      this.#windows.set(proxyKeyId, window);
    }
    window.count++;
    return window.count <= RECORDED_KEY_REFUSALS_PER_MINUTE;
  }

  #prune(now: number): void {
    for (const [id, window] of this.#windows) if (now - window.start >= 60_000) this.#windows.delete(id);
    // Still full (that many keys refused within a minute): start over rather than grow.
    if (this.#windows.size >= TRACKED_KEYS_MAX) this.#windows.clear();
  }
}
