import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fnv1a32, keySeed, mix32, rendezvous, StickyTable } from './stickiness.js';

function arrays(ids: string[], weights: number[]) {
  return { seeds: Int32Array.from(ids.map(keySeed)), weights: Float64Array.from(weights) };
}

/** The same choice without the logarithm shortcut: what the shortcut must not change. */
function plainRendezvous(hash: number, seeds: Int32Array, weights: Float64Array): number {
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let j = 0; j < seeds.length; j++) {
    const u = (mix32(hash ^ seeds[j]!) + 0.5) / 4294967296;
    const score = -Math.log(u) / weights[j]!;
    if (score < bestScore) {
      bestScore = score;
      best = j;
    }
  }
  return best;
}

describe('fnv1a32', () => {
  test('published FNV-1a test vectors', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });
});

describe('rendezvous', () => {
  const ids = ['key_a', 'key_b', 'key_c', 'key_d'];

  test('sessions spread in proportion to the weights', () => {
    const { seeds, weights } = arrays(ids, [3, 1, 2, 2]);
    const counts = [0, 0, 0, 0];
    for (let s = 0; s < 20_000; s++) counts[rendezvous(fnv1a32(`session-${s}`), seeds, weights, 4)]!++;
    const shares = counts.map((c) => c / 20_000);
    [0.375, 0.125, 0.25, 0.25].forEach((expected, j) => {
      assert.ok(Math.abs(shares[j]! - expected) < 0.02, `key ${j}: ${shares[j]} vs ${expected}`);
    });
  });

  test('the logarithm shortcut changes no choice', () => {
    const { seeds, weights } = arrays(
      Array.from({ length: 50 }, (_, i) => `k${i}`),
      Array.from({ length: 50 }, (_, i) => 0.5 + (i % 7)),
    );
    for (let s = 0; s < 5_000; s++) {
      const hash = fnv1a32(`s${s}`);
      assert.equal(rendezvous(hash, seeds, weights, 50), plainRendezvous(hash, seeds, weights));
    }
  });

  test('removing a key moves only the sessions it held', () => {
    const before = arrays(ids, [1, 1, 1, 1]);
    const after = arrays(['key_a', 'key_b', 'key_d'], [1, 1, 1]);
    let moved = 0;
    for (let s = 0; s < 5_000; s++) {
      const hash = fnv1a32(`session-${s}`);
      const was = ids[rendezvous(hash, before.seeds, before.weights, 4)]!;
      const now = ['key_a', 'key_b', 'key_d'][rendezvous(hash, after.seeds, after.weights, 3)]!;
      if (was !== 'key_c') assert.equal(now, was, `session-${s} moved off ${was}`);
      else moved++;
    }
    assert.ok(moved > 1_000 && moved < 1_500, `${moved} sessions were on key_c`);
  });

  test('no keys, no choice', () => {
    assert.equal(rendezvous(1, new Int32Array(0), new Float64Array(0), 0), -1);
  });
});

describe('StickyTable', () => {
  test('keeps between half its capacity and its capacity, forgetting the least recently used first', () => {
    const table = new StickyTable<number>(4);
    for (let i = 0; i < 4; i++) table.set(`s${i}`, i);
    assert.equal(table.size, 4);
    assert.equal(table.get('s0'), 0); // seen again: kept
    table.set('s4', 4);
    table.set('s5', 5);
    assert.equal(table.get('s1'), undefined);
    assert.equal(table.get('s0'), 0);
    assert.ok(table.size <= 4);
  });

  test('an update is not a new session', () => {
    const table = new StickyTable<number>(2);
    table.set('a', 1);
    table.set('a', 2);
    assert.equal(table.get('a'), 2);
    assert.equal(table.size, 1);
  });

  test('capacity 0 remembers nothing', () => {
    const table = new StickyTable<number>(0);
    table.set('a', 1);
    assert.equal(table.get('a'), undefined);
  });
});
