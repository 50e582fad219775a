import assert from 'node:assert/strict';
import test from 'node:test';
import { InFlightList } from './in-flight-list.js';

test('adds, removes in any order, and counts what is in flight', () => {
  const list = new InFlightList<string>();
  const removeA = list.add('a');
  const removeB = list.add('b');
  const removeC = list.add('c');
  assert.equal(list.size, 3);
  assert.deepEqual(list.values(), ['c', 'b', 'a']);
  removeB(); // the middle
  assert.deepEqual(list.values(), ['c', 'a']);
  removeC(); // the first
  assert.deepEqual(list.values(), ['a']);
  removeA(); // the last
  assert.deepEqual(list.values(), []);
  assert.equal(list.size, 0);
  list.add('d');
  assert.deepEqual(list.values(), ['d']);
});

test('removing twice does nothing the second time', () => {
  const list = new InFlightList<number>();
  const removeOne = list.add(1);
  list.add(2);
  removeOne();
  removeOne();
  assert.equal(list.size, 1);
  assert.deepEqual(list.values(), [2]);
});

test('takeAll empties the list; the remove functions of what it took then do nothing', () => {
  const list = new InFlightList<number>();
  const removers = [1, 2, 3].map((n) => list.add(n));
  assert.deepEqual(list.takeAll(), [3, 2, 1]);
  assert.equal(list.size, 0);
  for (const remove of removers) remove();
  assert.equal(list.size, 0);
  const removeFour = list.add(4);
  removers[0]!();
  assert.deepEqual(list.values(), [4]);
  removeFour();
  assert.deepEqual(list.values(), []);
});

test('values() is a copy: removing while going through it is safe', () => {
  const list = new InFlightList<number>();
  const removers = new Map<number, () => void>();
  for (const n of [1, 2, 3, 4]) removers.set(n, list.add(n));
  const seen: number[] = [];
  for (const n of list.values()) {
    seen.push(n);
    removers.get(n)!();
  }
  assert.deepEqual(seen, [4, 3, 2, 1]);
  assert.equal(list.size, 0);
});
