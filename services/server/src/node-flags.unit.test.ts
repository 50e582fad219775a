import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kordonNodeEnv, kordonNodeFlags } from './node-flags.js';

const GROWING = '--heap-growing-percent=50';
const INLINING = '--max-inlined-bytecode-size-cumulative=3000';

test('the V8 defaults, unless NODE_OPTIONS or the command line sets them', () => {
  assert.deepEqual(kordonNodeFlags(undefined), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    GROWING,
    INLINING,
  ]);
  assert.deepEqual(kordonNodeFlags('--max-old-space-size=1024'), [
    '--max-semi-space-size=8',
    GROWING,
    INLINING,
  ]);
  assert.deepEqual(kordonNodeFlags('--enable-source-maps', ['--max-semi-space-size=16']), [
    '--max-old-space-size=256',
    GROWING,
    INLINING,
  ]);
  assert.deepEqual(
    kordonNodeFlags('--max-old-space-size=64 --max-semi-space-size=2', [
      '--max-inlined-bytecode-size-cumulative=920',
      '--heap-growing-percent=30',
    ]),
    [],
  );
});

test('a flag spelled with underscores counts as given (V8 reads both)', () => {
  assert.deepEqual(
    kordonNodeFlags('--max_old_space_size=512', ['--max_inlined_bytecode_size_cumulative', '1500']),
    ['--max-semi-space-size=8', GROWING],
  );
  assert.deepEqual(kordonNodeFlags(undefined, ['--heap_growing_percent=20']), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    INLINING,
  ]);
});

test('the per-function inlining limit is not the cumulative budget', () => {
  assert.deepEqual(kordonNodeFlags(undefined, ['--max-inlined-bytecode-size=500']), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    GROWING,
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

test('on PostgreSQL WebAssembly stays on the baseline compiler, unless the command line says otherwise', () => {
  const defaults = ['--max-old-space-size=256', '--max-semi-space-size=8', GROWING, INLINING];
  assert.deepEqual(kordonNodeFlags(undefined, [], { postgres: true }), [...defaults, '--liftoff-only']);
  // The embedded store is PostgreSQL compiled to WebAssembly: it keeps the optimising tier.
  assert.deepEqual(kordonNodeFlags(undefined, [], { postgres: false }), defaults);
  assert.deepEqual(kordonNodeFlags(undefined, ['--no-liftoff-only'], { postgres: true }), defaults);
  assert.deepEqual(kordonNodeFlags('--liftoff_only', [], { postgres: true }), defaults);
});

test('node starts with the PostgreSQL defaults, and undici parses answers under them', async () => {
  const { spawnSync } = await import('node:child_process');
  // A provider call's parser is WebAssembly: one HTTP exchange through undici's pool, in a
  // process started with the flags, must work (and compile nothing with TurboFan).
  const script = `
    const { createServer } = require('node:http');
    const { Pool } = require('undici');
    const server = createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', async () => {
      const pool = new Pool('http://127.0.0.1:' + server.address().port);
      for (let i = 0; i < 200; i++) { const r = await pool.request({ path: '/', method: 'GET' }); await r.body.text(); }
      process.stderr.write('ok');
      await pool.close();
      server.close();
    });`;
  const run = spawnSync(
    process.execPath,
    [...kordonNodeFlags(undefined, [], { postgres: true }), '--trace-wasm-compilation-times', '-e', script],
    { cwd: new URL('../../gateway/', import.meta.url) },
  );
  // V8 traces to stdout; the script's own word goes to stderr.
  const output = run.stdout.toString();
  assert.equal(run.stderr.toString(), 'ok');
  assert.match(output, /using Liftoff/);
  assert.doesNotMatch(output, /using TurboFan/);
});

test("glibc's trim threshold is fixed, unless the environment sets a malloc threshold of its own", () => {
  assert.deepEqual(kordonNodeEnv({}), { MALLOC_TRIM_THRESHOLD_: '131072' });
  // An empty variable counts as unset, as everywhere in Kordon's configuration.
  assert.deepEqual(kordonNodeEnv({ MALLOC_TRIM_THRESHOLD_: '' }), { MALLOC_TRIM_THRESHOLD_: '131072' });
  assert.deepEqual(kordonNodeEnv({ MALLOC_TRIM_THRESHOLD_: '1048576' }), {});
  // Either threshold given turns glibc's adjustment off: the operator chose.
  assert.deepEqual(kordonNodeEnv({ MALLOC_MMAP_THRESHOLD_: '262144' }), {});
  assert.deepEqual(kordonNodeEnv({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=65536' }), {});
  assert.deepEqual(
    kordonNodeEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=1' }),
    {},
  );
  assert.deepEqual(kordonNodeEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }), {
    MALLOC_TRIM_THRESHOLD_: '131072',
  });
});
