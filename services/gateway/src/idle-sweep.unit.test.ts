import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleSweep } from './idle-sweep.js';

describe('IdleSweep', () => {
  it('calls a watch idle once its time passes without a touch, never before, and only once', async () => {
    const sweep = new IdleSweep();
    const startedAt = performance.now();
    const fired: number[] = [];
    sweep.watch(80, () => fired.push(performance.now() - startedAt));
    await sleep(60);
    assert.deepEqual(fired, [], 'not before its time');
    await sleep(240);
    assert.equal(fired.length, 1);
    // A sweep every 20 ms (a quarter of 80): late by a tick and the event loop's delays at most.
    assert.ok(fired[0]! >= 80 && fired[0]! < 80 + 20 + 150, `fired after ${fired[0]} ms`);
    assert.equal(sweep.size, 0, 'forgotten once fired');
    await sleep(60);
    assert.equal(fired.length, 1, 'once');
  });

  it('moves the deadline on each touch, and a stopped watch never fires', async () => {
    const sweep = new IdleSweep();
    let touchedFired = 0;
    let stoppedFired = 0;
    const touched = sweep.watch(200, () => touchedFired++);
    const stopped = sweep.watch(200, () => stoppedFired++);
    for (let i = 0; i < 5; i++) {
      await sleep(40);
      touched.touch();
      if (i === 0) stopped.stop();
    }
    assert.equal(touchedFired, 0, 'touched every 40 ms: never 200 ms idle');
    await sleep(400);
    assert.equal(touchedFired, 1);
    assert.equal(stoppedFired, 0);
  });

  it('keeps no timer once nothing is watched, and never keeps the process alive', async () => {
    const sweep = new IdleSweep();
    sweep.watch(40, () => {}).stop();
    assert.equal(sweep.sweeping, true);
    await sleep(40);
    assert.equal(sweep.sweeping, false, 'the sweep that found nothing stopped its timer');
    // A watch of a minute, left running: this test's process still ends (the timer is unref'd).
    sweep.watch(60_000, () => assert.fail('not reached'));
  });
});
