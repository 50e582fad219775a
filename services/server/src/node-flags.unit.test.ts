import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kordonNodeFlags } from './node-flags.js';

const INLINING = '--max-inlined-bytecode-size-cumulative=3000';

test('the V8 defaults, unless NODE_OPTIONS or the command line sets them', () => {
  assert.deepEqual(kordonNodeFlags(undefined), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    INLINING,
  ]);
  assert.deepEqual(kordonNodeFlags('--max-old-space-size=1024'), ['--max-semi-space-size=8', INLINING]);
  assert.deepEqual(kordonNodeFlags('--enable-source-maps', ['--max-semi-space-size=16']), [
    '--max-old-space-size=256',
    INLINING,
  ]);
  assert.deepEqual(
    kordonNodeFlags('--max-old-space-size=64 --max-semi-space-size=2', [
      '--max-inlined-bytecode-size-cumulative=920',
    ]),
    [],
  );
});

test('a flag spelled with underscores counts as given (V8 reads both)', () => {
  assert.deepEqual(
    kordonNodeFlags('--max_old_space_size=512', ['--max_inlined_bytecode_size_cumulative', '1500']),
    ['--max-semi-space-size=8'],
  );
});

test('the per-function inlining limit is not the cumulative budget', () => {
  assert.deepEqual(kordonNodeFlags(undefined, ['--max-inlined-bytecode-size=500']), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    INLINING,
  ]);
});

test('node starts with the defaults', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync(process.execPath, [
    ...kordonNodeFlags(undefined),
    '-e',
    'process.stdout.write("ok")',
  ]);
  assert.equal(run.stderr.toString(), '');
  assert.equal(run.stdout.toString(), 'ok');
});
