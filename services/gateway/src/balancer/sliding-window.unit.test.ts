import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlidingWindowCounter } from './sliding-window.js';

const MINUTE = 60_000;
const T = 1_000 * MINUTE; // a window boundary

describe('SlidingWindowCounter', () => {
  test('counts within the window', () => {
    const counter = new SlidingWindowCounter(MINUTE);
    for (let i = 0; i < 10; i++) counter.add(1, T + i * 1000);
    assert.equal(counter.estimate(T + 10_000), 10);
  });

  test('the previous window fades out linearly', () => {
    const counter = new SlidingWindowCounter(MINUTE);
    counter.add(60, T + 30_000);
    assert.equal(counter.estimate(T + MINUTE), 60);
    assert.equal(counter.estimate(T + MINUTE + 15_000), 45);
    assert.equal(counter.estimate(T + 2 * MINUTE), 0);
  });

  test('a time from the window before (a `now` read before another one) forgets nothing', () => {
    const counter = new SlidingWindowCounter(MINUTE);
    counter.add(5, T + MINUTE - 10);
    counter.add(3, T + MINUTE + 10);
    counter.add(1, T + MINUTE - 5); // read just before the boundary, counted just after it
    assert.equal(counter.estimate(T + MINUTE + 10), 5 * (1 - 10 / MINUTE) + 4);
  });

  test('a read never goes back; a request an hour back (the clock stepped back) starts over', () => {
    const counter = new SlidingWindowCounter(MINUTE);
    counter.add(7, T + 10);
    assert.equal(counter.estimate(0), 7, 'a group reweighed at 0 forgets nothing');
    assert.equal(counter.estimate(T + 20), 7);
    counter.add(1, T - 60 * MINUTE);
    assert.equal(counter.estimate(T - 60 * MINUTE), 1, 'not held at the count of a window an hour ahead');
    counter.add(1, T - 60 * MINUTE + 1000);
    assert.equal(counter.estimate(T - 60 * MINUTE + 1000), 2);
  });

  test('a gap of more than a window forgets everything', () => {
    const counter = new SlidingWindowCounter(MINUTE);
    counter.add(5, T);
    counter.add(1, T + 5 * MINUTE);
    assert.equal(counter.estimate(T + 5 * MINUTE), 1);
  });

  test('belowAt: now when under the limit, else when the estimate drops under it', () => {
    const counter = new SlidingWindowCounter(MINUTE);
    counter.add(5, T);
    assert.equal(counter.belowAt(10, T), T);
    counter.add(5, T + 1);
    // 10 in this window: it slides out during the next one, under 10 just after it starts.
    const at = counter.belowAt(10, T + 2);
    assert.ok(at > T + MINUTE && at <= T + MINUTE + 2, `${at - T}`);
    assert.ok(counter.estimate(at) < 10);
    // 20 in the previous window, 4 in this one: under 10 once 6/20 of it is left.
    const other = new SlidingWindowCounter(MINUTE);
    other.add(20, T);
    other.add(4, T + MINUTE);
    const when = other.belowAt(10, T + MINUTE);
    assert.equal(when, T + MINUTE + 42_001);
    assert.ok(other.estimate(when) < 10);
    assert.ok(other.estimate(when - 2) >= 10);
  });

  test('remove takes back a count, from the previous window once the current one is empty', () => {
    const counter = new SlidingWindowCounter(MINUTE);
    counter.add(3, T);
    counter.remove(1, T + 1);
    assert.equal(counter.estimate(T + 2), 2);
    // Added at the end of a window, taken back in the next: never below nothing.
    counter.add(1, T + MINUTE - 1);
    counter.remove(2, T + MINUTE);
    assert.equal(counter.estimate(T + MINUTE), 1);
    counter.remove(5, T + MINUTE);
    assert.equal(counter.estimate(T + MINUTE), 0);
  });
});
