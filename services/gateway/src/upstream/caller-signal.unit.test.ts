import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CallerSignal, ConnectionSignal } from './caller-signal.js';

test('ConnectionSignal calls each listener once, at the abort, as an AbortSignal does', () => {
  const signal = new ConnectionSignal();
  const calls: string[] = [];
  const first = () => calls.push('first');
  const removed = () => calls.push('removed');
  signal.addEventListener('abort', first, { once: true });
  signal.addEventListener('abort', removed);
  signal.removeEventListener('abort', removed);
  assert.equal(signal.aborted, false);
  signal.abort();
  signal.abort();
  assert.equal(signal.aborted, true);
  assert.deepEqual(calls, ['first']);
  signal.addEventListener('abort', () => calls.push('late'));
  assert.deepEqual(calls, ['first'], 'a listener added after the abort is not called');
});

test('an AbortSignal is a CallerSignal too, and behaves the same way', () => {
  for (const make of [() => new AbortController(), () => new ConnectionSignal()]) {
    const made = make();
    const signal: CallerSignal = made instanceof AbortController ? made.signal : made;
    let calls = 0;
    signal.addEventListener('abort', () => calls++, { once: true });
    made.abort();
    made.abort();
    assert.equal(signal.aborted, true);
    assert.equal(calls, 1);
  }
});
