import ipaddr from 'ipaddr.js';

/*
 * IP addresses as the limits compare them: IPv4 as a 32-bit number, IPv6 as a 128-bit bigint,
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) always turned into the IPv4 address (only that block:
 * `::1.2.3.4` is the IPv6 address `::102:304`), and one canonical text (dotted decimal; RFC 5952
 * for IPv6) so that a set of addresses counts each one once.
 *
 * Parsing is strict: IPv4 only as four decimal parts without leading zeros (`127.1`, `0x7f.0.0.1`
 * and `010.0.0.1` are refused, since parsers disagree on them); an IPv6 zone (`%eth0`) is dropped.
 */

export type IpAddress =
  | { readonly version: 4; readonly value: number; readonly text: string }
  | { readonly version: 6; readonly value: bigint; readonly text: string };

const IPV4 = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/;
/** Hex groups of at most 4 digits, optionally ending in a dotted IPv4 address. */
const IPV6 = /^(?:[0-9A-Fa-f]{0,4}:){2,8}(?:[0-9A-Fa-f]{0,4}|(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3})$/;

/**
 * Addresses parsed lately, by text: every request parses its peer's address (and forwarded
 * ones), mostly the same few. Bounded: emptied when full. The results are frozen, so sharing
 * them is safe.
 */
const parsedIps = new Map<string, IpAddress | null>();
const MAX_PARSED_IPS = 4096;

/** The address, or null when the text is not one (never throws). */
export function parseIp(text: string): IpAddress | null {
  // Before the memo: a forwarded header's text is the caller's, and a long one is no address.
  if (text.length > 64) return null;
  const known = parsedIps.get(text);
  if (known !== undefined) return known;
  const parsed = parseIpUncached(text);
  if (parsedIps.size >= MAX_PARSED_IPS) parsedIps.clear();
  parsedIps.set(text, parsed === null ? null : Object.freeze(parsed));
  return parsed;
}

function parseIpUncached(text: string): IpAddress | null {
  if (IPV4.test(text)) {
    const octets = text.split('.').map(Number);
    // The strict pattern admits only the canonical spelling, so the text is kept as it is.
    return octets.every((octet) => octet <= 255) ? fromIpv4Octets(octets, text) : null;
  }
  const zone = text.indexOf('%');
  const bare = zone < 0 ? text : text.slice(0, zone);
  if (!IPV6.test(bare)) return null;
  const hex = withHexTail(bare);
  if (hex === null || !ipaddr.IPv6.isValid(hex)) return null;
  return fromIpv6(ipaddr.IPv6.parse(hex));
}

/**
 * The address with its dotted IPv4 tail (RFC 4291 §2.2, form 3) written as two hex groups.
 * ipaddr.js reads `::a.b.c.d` as the IPv4-mapped `::ffff:a.b.c.d`, but it is the IPv6 address
 * `::` + a.b.c.d (the deprecated IPv4-compatible block ::/96, §2.5.5.1, which Node and glibc
 * print that way): only `::ffff:0:0/96` is IPv4. Null when a part is over 255.
 */
function withHexTail(text: string): string | null {
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!tail) return text;
  const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
  if (a > 255 || b > 255 || c > 255 || d > 255) return null;
  const group = (high: number, low: number) => ((high << 8) | low).toString(16);
  return `${text.slice(0, tail.index)}${group(a, b)}:${group(c, d)}`;
}

/** For configuration: like parseIp, but throws with the offending text. */
export function parseIpOrThrow(text: string): IpAddress {
  const ip = parseIp(text);
  if (!ip) throw new RangeError(`"${text}" is not an IP address`);
  return ip;
}

function fromIpv4Octets(octets: readonly number[], text?: string): IpAddress {
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  const value = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  return { version: 4, value, text: text ?? `${a}.${b}.${c}.${d}` };
}

function fromIpv6(address: ipaddr.IPv6): IpAddress {
  if (address.isIPv4MappedAddress()) return fromIpv4Octets(address.toIPv4Address().octets);
  let value = 0n;
  for (const part of address.parts) value = (value << 16n) | BigInt(part);
  return { version: 6, value, text: address.toRFC5952String() };
}

/** The IPv6 bits of an IPv4-mapped address (`::ffff:0:0/96`). */
export const IPV4_MAPPED_PREFIX = 0xffffn << 32n;
