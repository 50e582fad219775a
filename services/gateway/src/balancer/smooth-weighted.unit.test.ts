import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '@kordon/mock-providers';
import { SmoothWeighted } from './smooth-weighted.js';

/** nginx's algorithm as written in ngx_http_upstream_get_peer: the reference. */
function nginxStep(weights: number[], current: number[], skip: (j: number) => boolean = () => false): number {
  if (weights.every((_, j) => skip(j))) return -1; // nothing to choose: no step
  let best = -1;
  let total = 0;
  for (let j = 0; j < weights.length; j++) {
    current[j]! += weights[j]!;
    total += weights[j]!;
    if (skip(j)) continue;
    if (best < 0 || current[j]! > current[best]!) best = j;
  }
  if (best >= 0) current[best]! -= total;
  return best;
}

function scheduler(weights: number[], currents = weights.map(() => 0)): SmoothWeighted {
  const s = new SmoothWeighted();
  s.load(Float64Array.from(weights), Float64Array.from(currents), weights.length);
  return s;
}

describe('SmoothWeighted', () => {
  test("nginx's own example: weights 5, 1, 1 give a a b a c a a", () => {
    const s = scheduler([5, 1, 1]);
    const names = 'abc';
    const sequence = Array.from({ length: 14 }, () => names[s.step()]).join('');
    assert.equal(sequence, 'aabacaaaabacaa');
  });

  test('3:1 is A A B A, and exactly 3:1 in every window of 4', () => {
    const s = scheduler([3, 1]);
    const picks = Array.from({ length: 400 }, () => s.step());
    assert.deepEqual(picks.slice(0, 4), [0, 0, 1, 0]);
    for (let i = 0; i + 4 <= picks.length; i++) {
      assert.equal(picks.slice(i, i + 4).filter((p) => p === 1).length, 1, `window at ${i}`);
    }
  });

  test('step for step the same as nginx, for random integer weights and carried-over currents', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(random() * 40);
      // Few distinct weights (many keys share one) and many: both shapes of class.
      const distinct = 1 + Math.floor(random() * (random() < 0.5 ? 3 : 50));
      const weights = Array.from({ length: n }, () => 1 + Math.floor(random() * distinct));
      const current = Array.from({ length: n }, () => Math.floor((random() - 0.5) * 20));
      const s = scheduler(weights, current);
      for (let step = 0; step < 300; step++) {
        assert.equal(s.step(), nginxStep(weights, current), `round ${round} step ${step}`);
      }
      const out = new Float64Array(n);
      s.currents(out);
      assert.deepEqual([...out], current, 'currents carried over');
    }
  });

  test('stepExcept is nginx with the winner restricted to entries not skipped', () => {
    const random = seededRandom(11);
    for (let round = 0; round < 100; round++) {
      const n = 2 + Math.floor(random() * 30);
      const weights = Array.from({ length: n }, () => 1 + Math.floor(random() * 4));
      const current = weights.map(() => 0);
      const s = scheduler(weights, current);
      for (let step = 0; step < 200; step++) {
        if (random() < 0.3) {
          const skipped = new Set(
            Array.from({ length: 1 + Math.floor(random() * 3) }, () => Math.floor(random() * n)),
          );
          const skip = (j: number) => skipped.has(j);
          assert.equal(s.stepExcept(skip), nginxStep(weights, current, skip), `round ${round} step ${step}`);
        } else {
          assert.equal(s.step(), nginxStep(weights, current));
        }
      }
    }
  });

  test('stepExcept with everything skipped takes no step', () => {
    const s = scheduler([2, 1]);
    assert.equal(
      s.stepExcept(() => true),
      -1,
    );
    assert.deepEqual([s.step(), s.step(), s.step()], [0, 1, 0]);
  });

  test('fractional weights keep their shares', () => {
    const s = scheduler([0.75, 0.25, 1.5]);
    const counts = [0, 0, 0];
    for (let i = 0; i < 10_000; i++) counts[s.step()]!++;
    assert.deepEqual(counts, [3000, 1000, 6000]);
  });

  test('a reload reuses its arrays and can shrink and grow', () => {
    const s = scheduler([1, 1, 1, 1]);
    s.load(Float64Array.from([2, 1]), new Float64Array(2), 2);
    assert.equal(s.size, 2);
    assert.equal(s.total, 3);
    assert.deepEqual([s.step(), s.step(), s.step()], [0, 1, 0]);
    s.load(Float64Array.from([1, 1, 1, 1, 1, 1]), new Float64Array(6), 6);
    assert.deepEqual(
      Array.from({ length: 6 }, () => s.step()),
      [0, 1, 2, 3, 4, 5],
    );
  });
});
