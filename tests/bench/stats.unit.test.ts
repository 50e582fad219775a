import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, medianInterval, verdictAtLeast, verdictUnder } from './stats.js';

test('median of odd and even counts, NaN left out', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([Number.NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});

test('the interval of identical rounds is that value; of spread rounds, within their range around the median', () => {
  assert.deepEqual(medianInterval([7, 7, 7, 7, 7]), { low: 7, high: 7 });
  const rounds = [16.4, 16.9, 21.0, 16.1, 13.3, 17.0, 16.2];
  const interval = medianInterval(rounds);
  assert.ok(interval);
  assert.ok(interval.low >= 13.3 && interval.high <= 21.0, JSON.stringify(interval));
  assert.ok(interval.low <= median(rounds) && median(rounds) <= interval.high);
  // Seeded: the same rounds give the same interval.
  assert.deepEqual(medianInterval(rounds), interval);
  assert.equal(medianInterval([1, 2]), undefined);
});

test('more spread, a wider interval', () => {
  const tight = medianInterval([14, 15, 16, 15, 14, 16, 15]);
  const wide = medianInterval([-5, 30, 15, 2, 28, 10, 21]);
  assert.ok(tight && wide);
  assert.ok(wide.high - wide.low > tight.high - tight.low);
});

test('verdicts: met only when the whole interval is under the target', () => {
  assert.equal(verdictUnder([9, 10], { low: 6, high: 13 }, 15), 'MET');
  assert.equal(verdictUnder([9, 16], { low: 6, high: 13 }, 15), 'NOT SETTLED');
  assert.equal(verdictUnder([12, 13], { low: 8, high: 18 }, 15), 'NOT SETTLED');
  assert.equal(verdictUnder([20, 22], { low: 15, high: 25 }, 15), 'MISSED');
  assert.equal(verdictUnder([14], undefined, 15), 'MET');
  assert.equal(verdictUnder([15], undefined, 15), 'MISSED');
});

test('verdicts: at least a target only when the whole interval reaches it', () => {
  assert.equal(verdictAtLeast([5.4, 5.6], { low: 5.1, high: 6 }, 5), 'MET');
  assert.equal(verdictAtLeast([4.9, 5.6], { low: 5.1, high: 6 }, 5), 'NOT SETTLED');
  assert.equal(verdictAtLeast([5.2, 5.3], { low: 4.6, high: 5.8 }, 5), 'NOT SETTLED');
  assert.equal(verdictAtLeast([4.1, 4.3], { low: 3.9, high: 4.8 }, 5), 'MISSED');
  assert.equal(verdictAtLeast([5], undefined, 5), 'MET');
  assert.equal(verdictAtLeast([4.99], undefined, 5), 'MISSED');
});
