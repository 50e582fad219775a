import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kordonNodeFlags } from './node-flags.js';

test('the heap defaults, unless NODE_OPTIONS or the command line sets them', () => {
  assert.deepEqual(kordonNodeFlags(undefined), ['--max-old-space-size=256', '--max-semi-space-size=8']);
  assert.deepEqual(kordonNodeFlags('--max-old-space-size=1024'), ['--max-semi-space-size=8']);
  assert.deepEqual(kordonNodeFlags('--enable-source-maps', ['--max-semi-space-size=16']), [
    '--max-old-space-size=256',
  ]);
  assert.deepEqual(kordonNodeFlags('--max-old-space-size=64 --max-semi-space-size=2'), []);
});
