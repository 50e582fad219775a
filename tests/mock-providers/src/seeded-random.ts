/**
 * A small seeded generator (mulberry32): numbers in [0, 1), the same sequence for the same
 * seed on every run and machine. The mocks' answers come from it, and so do the property
 * loops of tests and benchmarks that must repeat exactly; nothing secret is drawn from it.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
