import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyRefusalRecorder, RECORDED_KEY_REFUSALS_PER_MINUTE } from './authenticate.js';

test("a refused key's first refusals of each minute are recorded, each key on its own", () => {
  const recorder = new KeyRefusalRecorder();
  const taken = (key: string, now: number, times: number) =>
    Array.from({ length: times }, () => recorder.take(key, now)).filter(Boolean).length;
  assert.equal(taken('k1', 0, 25), RECORDED_KEY_REFUSALS_PER_MINUTE);
  assert.equal(taken('k2', 1_000, 3), 3, 'another key has its own count');
  assert.equal(taken('k1', 59_999, 1), 0, 'still the same minute');
  assert.equal(taken('k1', 60_000, 25), RECORDED_KEY_REFUSALS_PER_MINUTE, 'a new minute');
});

test('many keys refused at once do not grow the recorder without bound', () => {
  const recorder = new KeyRefusalRecorder();
  for (let i = 0; i < 25_000; i++) assert.equal(recorder.take(`key-${i}`, 0), true);
  // A key tracked before the reset is counted afresh: recorded again, not refused for good.
  assert.equal(recorder.take('key-0', 1), true);
});
