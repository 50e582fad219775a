import type { IncomingMessage } from 'node:http';
import { extractProxyKeyCandidate, type ProxyKeyHasher, parseProxyKey } from '../proxy-keys/index.js';
import type { ProxyKeyEntry, RegistryState, UserEntry } from '../registry/registry.js';
import { GatewayError } from './gateway-error.js';

export interface Caller {
  key: ProxyKeyEntry;
  user: UserEntry;
}

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
          ? 'two different API keys given (Authorization and x-api-key)'
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
    throw new GatewayError('unauthenticated', `API key ${key.prefix}... is ${key.status}`);
  }
  if (key.expiresAt !== null && key.expiresAt <= now) {
    throw new GatewayError('unauthenticated', `API key ${key.prefix}... has expired`);
  }
  const user = registry.users.get(key.userId);
  if (!user || user.orgId !== key.orgId || user.disabled) {
    throw new GatewayError('unauthenticated', `API key ${key.prefix}... belongs to a disabled user`);
  }
  return { key, user };
}
