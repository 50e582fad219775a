/**
 * Stickiness: one session (a caller's session id, or a hash of the prompt prefix the caller
 * computed) stays on one key, so the provider's prompt cache keeps hitting.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const INVERSE_TWO_32 = 1 / 4294967296;

/**
 * FNV-1a, 32 bits, over UTF-16 code units (the same as over bytes for ASCII text). Fast and
 * good enough to spread sessions; not a defence against anyone choosing colliding ids.
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** MurmurHash3's finaliser: every input bit flips about half the output bits, which FNV alone does not. */
export function mix32(value: number): number {
  let x = value | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A key's fixed part of every rendezvous score. */
export function keySeed(providerKeyId: string): number {
  return mix32(fnv1a32(providerKeyId));
}

/**
 * Weighted rendezvous (highest-random-weight) hashing: each key scores the session with a
 * hash-derived uniform u in (0,1) as -ln(u)/weight, and the lowest score wins. A key then
 * wins with probability weight/total, and removing a key moves only the sessions it held:
 * every other pair's score is unchanged. Since -ln(u) >= 1-u, a key whose (1-u)/weight
 * already loses skips the logarithm, so only a handful of the n keys pay for one.
 * Returns the winning index, or -1 when n is 0.
 */
export function rendezvous(sessionHash: number, seeds: Int32Array, weights: Float64Array, n: number): number {
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let j = 0; j < n; j++) {
    const weight = weights[j]!;
    if (!(weight > 0)) continue;
    const u = (mix32(sessionHash ^ seeds[j]!) + 0.5) * INVERSE_TWO_32;
    if (1 - u >= bestScore * weight) continue; // (1-u)/weight >= best, without a division
    const score = -Math.log(u) / weight;
    if (score < bestScore) {
      bestScore = score;
      best = j;
    }
  }
  return best;
}

/**
 * Which key each recent session went to, so it stays there while the key is usable even as
 * adaptive weights drift (rendezvous alone would move the sessions near a boundary).
 * Bounded by two generations: new sessions go into the young map; when it holds half the
 * capacity, the old map is dropped and the young one becomes old. A session seen again is
 * moved back into the young map, so busy sessions stay. (Evicting the oldest entry of one
 * Map one at a time is O(deleted entries) in V8 until the table is rebuilt.) A forgotten
 * session is re-hashed, usually to the same key.
 */
export class StickyTable<T> {
  #young = new Map<string, T>();
  #old = new Map<string, T>();
  readonly #generation: number;

  constructor(readonly capacity: number) {
    this.#generation = Math.max(1, Math.floor(capacity / 2));
  }

  get(session: string): T | undefined {
    const young = this.#young.get(session);
    if (young !== undefined) return young;
    const old = this.#old.get(session);
    if (old !== undefined) this.set(session, old);
    return old;
  }

  set(session: string, value: T): void {
    if (this.capacity <= 0) return;
    if (!this.#young.has(session) && this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(session, value);
  }

  /** Sessions remembered: between half the capacity and the capacity once full. */
  get size(): number {
    let size = this.#young.size;
    for (const session of this.#old.keys()) if (!this.#young.has(session)) size++;
    return size;
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }
}
