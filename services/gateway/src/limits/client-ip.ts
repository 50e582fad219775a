import { type IpAddress, parseIp } from './ip-address.js';
import type { CidrSet } from './ip-rules.js';

/*
 * Which address a request comes from. The TCP peer, unless the peer is a trusted proxy: then
 * X-Forwarded-For is read right to left (each proxy appends the address it received from),
 * skipping trusted proxies, and the first untrusted address is the client. A client can put
 * anything at the left of the header, so nothing to the left of the first untrusted hop is read.
 *
 *   - An untrusted peer: its own address; the header is ignored (spoofing changes nothing).
 *   - A malformed entry (empty, `unknown`, a name, garbage) stops the walk: the answer is the last
 *     trusted address reached, the view of the nearest proxy that can be believed.
 *   - All entries trusted: the leftmost one.
 *   - `1.2.3.4:5678`, `[2001:db8::1]` and `[2001:db8::1]:443` are read without their port
 *     (some load balancers write them); `::ffff:1.2.3.4` is 1.2.3.4.
 */

/** A header as node:http gives it (several lines of X-Forwarded-For read as one list, in order). */
export type ForwardedFor = string | readonly string[] | undefined;

/**
 * The client address, or null when the peer address itself is missing or unreadable (a socket
 * already closed). `trustedProxies` empty: always the peer.
 */
export function resolveClientIp(
  peer: string | undefined,
  forwardedFor: ForwardedFor,
  trustedProxies: CidrSet,
): IpAddress | null {
  const peerIp = peer === undefined ? null : parseIp(peer);
  if (!peerIp || !trustedProxies.has(peerIp) || forwardedFor === undefined) return peerIp;
  const values = typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor;
  let current = peerIp;
  for (let h = values.length - 1; h >= 0; h--) {
    const value = values[h] ?? '';
    let end = value.length;
    for (;;) {
      const comma = end > 0 ? value.lastIndexOf(',', end - 1) : -1;
      const hop = parseHop(value.slice(comma + 1, end).trim());
      if (!hop) return current;
      if (!trustedProxies.has(hop)) return hop;
      current = hop;
      if (comma < 0) break;
      end = comma;
    }
  }
  return current;
}

const V4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/;

function parseHop(entry: string): IpAddress | null {
  if (entry.length === 0) return null;
  const direct = parseIp(entry);
  if (direct) return direct;
  const match = V4_WITH_PORT.exec(entry) ?? BRACKETED.exec(entry);
  return match?.[1] ? parseIp(match[1]) : null;
}
