import { IPV4_MAPPED_PREFIX, type IpAddress, parseIp } from './ip-address.js';

/*
 * CIDR sets and allow/deny rules. A set keeps, for each prefix length in use, the set of its
 * network addresses, so a lookup costs one mask and one hash lookup per distinct prefix length
 * (at most 33 for IPv4, 129 for IPv6), whatever the number of ranges.
 *
 * IPv4 addresses match IPv4 ranges and IPv4-mapped IPv6 ranges (`::ffff:10.0.0.0/104` is
 * `10.0.0.0/8`); an IPv6 range that is wider than `::ffff:0:0/96` (`::/0`) matches IPv6 only.
 */

const V6_ALL = (1n << 128n) - 1n;

interface V4Bucket {
  readonly mask: number;
  readonly networks: Set<number>;
}
interface V6Bucket {
  readonly mask: bigint;
  readonly networks: Set<bigint>;
}

export class CidrSet {
  private readonly v4: V4Bucket[];
  private readonly v6: V6Bucket[];

  private constructor(
    v4: Map<number, Set<number>>,
    v6: Map<number, Set<bigint>>,
    /** How many ranges were given (after removing duplicates). */
    readonly size: number,
  ) {
    // Longest prefixes first: the common case of single addresses is found first.
    this.v4 = [...v4.entries()]
      .sort((a, b) => b[0] - a[0])
      .map(([p, networks]) => ({ mask: v4Mask(p), networks }));
    this.v6 = [...v6.entries()]
      .sort((a, b) => b[0] - a[0])
      .map(([p, networks]) => ({ mask: v6Mask(p), networks }));
  }

  static readonly EMPTY = CidrSet.parse([]);

  /**
   * Ranges as `address/prefix`; a bare address is a single host. Host bits after the prefix are
   * ignored (`10.1.2.3/8` is `10.0.0.0/8`). Throws a RangeError naming the first bad entry.
   */
  static parse(ranges: readonly string[]): CidrSet {
    const v4 = new Map<number, Set<number>>();
    const v6 = new Map<number, Set<bigint>>();
    for (const range of ranges) {
      const slash = range.indexOf('/');
      const addressText = slash < 0 ? range : range.slice(0, slash);
      const prefixText = slash < 0 ? null : range.slice(slash + 1);
      const ip = parseIp(addressText);
      if (!ip || (prefixText !== null && !/^(?:0|[1-9]\d{0,2})$/.test(prefixText))) {
        throw new RangeError(`"${range}" is not an IP range (CIDR like 10.0.0.0/8 or 2001:db8::/32)`);
      }
      // parseIp turned an IPv4-mapped address into IPv4, but its prefix counts IPv6 bits.
      const mapped = ip.version === 4 && addressText.includes(':');
      const bits = ip.version === 6 || mapped ? 128 : 32;
      const prefix = prefixText === null ? bits : Number(prefixText);
      if (prefix > bits) throw new RangeError(`"${range}": the prefix is at most ${bits}`);
      if (ip.version === 6) {
        addTo(v6, prefix, ip.value & v6Mask(prefix));
      } else if (mapped && prefix < 96) {
        // Wider than the mapped block (::ffff:0:0/96): an IPv6 range, as documented above.
        addTo(v6, prefix, (IPV4_MAPPED_PREFIX | BigInt(ip.value)) & v6Mask(prefix));
      } else {
        const v4Prefix = mapped ? prefix - 96 : prefix;
        addTo(v4, v4Prefix, (ip.value & v4Mask(v4Prefix)) >>> 0);
      }
    }
    let size = 0;
    for (const networks of [...v4.values(), ...v6.values()]) size += networks.size;
    return new CidrSet(v4, v6, size);
  }

  has(ip: IpAddress): boolean {
    if (ip.version === 4) {
      for (const bucket of this.v4) if (bucket.networks.has((ip.value & bucket.mask) >>> 0)) return true;
      return false;
    }
    for (const bucket of this.v6) if (bucket.networks.has(ip.value & bucket.mask)) return true;
    return false;
  }
}

function addTo<T>(buckets: Map<number, Set<T>>, prefix: number, network: T): void {
  const networks = buckets.get(prefix);
  if (networks) networks.add(network);
  else buckets.set(prefix, new Set([network]));
}

function v4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function v6Mask(prefix: number): bigint {
  return V6_ALL ^ ((1n << BigInt(128 - prefix)) - 1n);
}

export type IpVerdict = 'allowed' | 'denied' | 'not_allowed';

/** The allow and deny lists of one scope. */
export class IpRules {
  private constructor(
    private readonly allow: CidrSet | null,
    private readonly deny: CidrSet,
  ) {}

  /** An absent or empty allow list allows every address; deny wins over allow. */
  static parse(lists: { readonly allow?: readonly string[]; readonly deny?: readonly string[] }): IpRules {
    const allow = lists.allow && lists.allow.length > 0 ? CidrSet.parse(lists.allow) : null;
    return new IpRules(allow, lists.deny ? CidrSet.parse(lists.deny) : CidrSet.EMPTY);
  }

  /** `denied`: in the deny list; `not_allowed`: an allow list exists and the address is not in it. */
  check(ip: IpAddress): IpVerdict {
    if (this.deny.has(ip)) return 'denied';
    if (this.allow && !this.allow.has(ip)) return 'not_allowed';
    return 'allowed';
  }
}
