import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stopInOrder } from './stop-steps.js';

describe('stopInOrder', () => {
  it('runs every step after one that fails, logs each failure, then throws the first', async () => {
    const ran: string[] = [];
    const logged: string[] = [];
    const step = (name: string, fails = false) => ({
      name,
      run: async () => {
        ran.push(name);
        if (fails) throw new Error(`${name} failed`);
      },
    });
    await assert.rejects(
      stopInOrder(
        [step('admin', true), step('gateway'), step('request log', true), step('storage')],
        (e, name) => logged.push(`${name}: ${(e as Error).message}`),
      ),
      /admin failed/,
    );
    assert.deepEqual(ran, ['admin', 'gateway', 'request log', 'storage']);
    assert.deepEqual(logged, ['admin: admin failed', 'request log: request log failed']);
  });

  it('resolves when every step stops', async () => {
    const ran: string[] = [];
    await stopInOrder(
      [
        { name: 'a', run: () => void ran.push('a') },
        { name: 'b', run: async () => void ran.push('b') },
      ],
      () => assert.fail('nothing failed'),
    );
    assert.deepEqual(ran, ['a', 'b']);
  });
});
