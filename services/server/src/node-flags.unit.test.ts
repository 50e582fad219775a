import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { availableCpus, kordonNodeEnv, kordonNodeFlags, SINGLE_THREADED_GC } from './node-flags.js';

const GROWING = '--heap-growing-percent=50';
const INLINING = '--max-inlined-bytecode-size-cumulative=3000';
const PRETENURING = '--no-allocation-site-pretenuring';

test('the V8 defaults, unless NODE_OPTIONS or the command line sets them', () => {
  assert.deepEqual(kordonNodeFlags(undefined), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    GROWING,
    INLINING,
    PRETENURING,
  ]);
  assert.deepEqual(kordonNodeFlags('--max-old-space-size=1024'), [
    '--max-semi-space-size=8',
    GROWING,
    INLINING,
    PRETENURING,
  ]);
  assert.deepEqual(kordonNodeFlags('--enable-source-maps', ['--max-semi-space-size=16']), [
    '--max-old-space-size=256',
    GROWING,
    INLINING,
    PRETENURING,
  ]);
  assert.deepEqual(
    kordonNodeFlags('--max-old-space-size=64 --max-semi-space-size=2', [
      '--max-inlined-bytecode-size-cumulative=920',
      '--heap-growing-percent=30',
      '--allocation-site-pretenuring',
    ]),
    [],
  );
  // The flag given already (here spelled with underscores) is not given twice.
  assert.deepEqual(kordonNodeFlags('--no_allocation_site_pretenuring'), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    GROWING,
    INLINING,
  ]);
});

test('a flag spelled with underscores counts as given (V8 reads both)', () => {
  assert.deepEqual(
    kordonNodeFlags('--max_old_space_size=512', ['--max_inlined_bytecode_size_cumulative', '1500']),
    ['--max-semi-space-size=8', GROWING, PRETENURING],
  );
  assert.deepEqual(kordonNodeFlags(undefined, ['--heap_growing_percent=20']), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    INLINING,
    PRETENURING,
  ]);
});

test('the per-function inlining limit is not the cumulative budget', () => {
  assert.deepEqual(kordonNodeFlags(undefined, ['--max-inlined-bytecode-size=500']), [
    '--max-old-space-size=256',
    '--max-semi-space-size=8',
    GROWING,
    INLINING,
    PRETENURING,
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
  const defaults = ['--max-old-space-size=256', '--max-semi-space-size=8', GROWING, INLINING, PRETENURING];
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

test('one CPU to run on: V8 collects on the main thread alone, unless the command line says otherwise', () => {
  const defaults = ['--max-old-space-size=256', '--max-semi-space-size=8', GROWING, INLINING, PRETENURING];
  assert.deepEqual(kordonNodeFlags(undefined, [], { cpus: 1 }), [...defaults, SINGLE_THREADED_GC]);
  assert.deepEqual(kordonNodeFlags(undefined, [], { cpus: 1, postgres: true }), [
    ...defaults,
    '--liftoff-only',
    SINGLE_THREADED_GC,
  ]);
  assert.deepEqual(kordonNodeFlags(undefined, [], { cpus: 2 }), defaults);
  assert.deepEqual(kordonNodeFlags(undefined, [], {}), defaults);
  assert.deepEqual(kordonNodeFlags(undefined, ['--no-single-threaded-gc'], { cpus: 1 }), defaults);
  assert.deepEqual(kordonNodeFlags('--single_threaded', [], { cpus: 1 }), defaults);
});

/** A reader of the given files only, as `availableCpus` reads them; any other path is missing. */
const files =
  (entries: Record<string, string>) =>
  (path: string): string => {
    const text = entries[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };

test('the CPUs available: the affinity, capped by the cgroup quota', () => {
  const affinity = availableParallelism();
  // No cgroup files (not Linux, or hidden): the affinity.
  assert.equal(availableCpus(files({})), affinity);
  // cgroup v2, a container's own root: a quota of one CPU, of half a CPU, of none.
  const v2 = (max: string) => files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': `${max}\n` });
  assert.equal(availableCpus(v2('100000 100000')), 1);
  assert.equal(availableCpus(v2('50000 100000')), 1);
  assert.equal(availableCpus(v2('max 100000')), affinity);
  assert.equal(availableCpus(v2('150000 100000')), Math.min(affinity, 2));
  // cgroup v2 on a host: the process's own group's file first.
  assert.equal(
    availableCpus(
      files({
        '/proc/self/cgroup': '0::/system.slice/kordon.service\n',
        '/sys/fs/cgroup/system.slice/kordon.service/cpu.max': '100000 100000',
        '/sys/fs/cgroup/cpu.max': 'max 100000',
      }),
    ),
    1,
  );
  // cgroup v1: -1 is no quota.
  const v1 = (quota: string) =>
    files({
      '/proc/self/cgroup': '4:cpu,cpuacct:/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': quota,
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000',
    });
  assert.equal(availableCpus(v1('100000')), 1);
  assert.equal(availableCpus(v1('-1')), affinity);
});

test("the CPUs available: a parent group's quota binds the groups under it", () => {
  const affinity = availableParallelism();
  const pod = '/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice';
  // cgroup v2: a Kubernetes pod's limit of one CPU above a container group that says max.
  const v2 = (container: string, podMax: string) =>
    files({
      '/proc/self/cgroup': '0::/kubepods.slice/kubepods-pod1.slice/cri-abc.scope\n',
      [`${pod}/cri-abc.scope/cpu.max`]: container,
      [`${pod}/cpu.max`]: podMax,
      '/sys/fs/cgroup/kubepods.slice/cpu.max': 'max 100000',
    });
  assert.equal(availableCpus(v2('max 100000', '100000 100000')), 1);
  // The smallest along the path, whichever level sets it.
  assert.equal(availableCpus(v2('100000 100000', '400000 100000')), 1);
  assert.equal(availableCpus(v2('300000 100000', '150000 100000')), Math.min(affinity, 2));
  assert.equal(availableCpus(v2('max 100000', 'max 100000')), affinity);
  // A systemd slice's CPUQuota= two levels up, the service's own group unlimited.
  assert.equal(
    availableCpus(
      files({
        '/proc/self/cgroup': '0::/kordon.slice/kordon.service\n',
        '/sys/fs/cgroup/kordon.slice/kordon.service/cpu.max': 'max 100000',
        '/sys/fs/cgroup/kordon.slice/cpu.max': '50000 100000',
      }),
    ),
    1,
  );
  // A hybrid host: the v2 line, but the cpu controller on v1 (no cpu.max anywhere).
  const v1Files = (entries: Record<string, string>) =>
    files({
      '/proc/self/cgroup': '12:cpu,cpuacct:/system.slice/kordon.service\n0::/system.slice/kordon.service\n',
      ...entries,
    });
  const v1Group = (dir: string, quota: string) => ({
    [`${dir}/cpu.cfs_quota_us`]: quota,
    [`${dir}/cpu.cfs_period_us`]: '100000',
  });
  assert.equal(
    availableCpus(
      v1Files({
        ...v1Group('/sys/fs/cgroup/cpu/system.slice/kordon.service', '-1'),
        ...v1Group('/sys/fs/cgroup/cpu/system.slice', '100000'),
        ...v1Group('/sys/fs/cgroup/cpu', '-1'),
      }),
    ),
    1,
  );
  assert.equal(
    availableCpus(
      v1Files({
        ...v1Group('/sys/fs/cgroup/cpu/system.slice/kordon.service', '-1'),
        ...v1Group('/sys/fs/cgroup/cpu', '-1'),
      }),
    ),
    affinity,
  );
  // cgroup v1 in a container without its own namespace: the host's path is not under the
  // mount, whose root is the container's group.
  assert.equal(
    availableCpus(
      files({
        '/proc/self/cgroup': '4:cpu,cpuacct:/docker/0123abcd\n',
        ...v1Group('/sys/fs/cgroup/cpu', '50000'),
      }),
    ),
    1,
  );
});

test('node starts with the one-CPU defaults', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync(process.execPath, [
    ...kordonNodeFlags(undefined, [], { cpus: 1 }),
    '-e',
    'process.stdout.write("ok")',
  ]);
  assert.equal(run.stderr.toString(), '');
  assert.equal(run.stdout.toString(), 'ok');
});
