import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The V8 settings Kordon runs with: `npm start` passes them, bench:gateway measures with
 * them, and docs/operations.md asks production to (on the command line; the heap ones may
 * also come from NODE_OPTIONS).
 *
 * Node's defaults size the old generation from the machine's memory (about 4 GB on a 24 GB
 * one) and let it fill with garbage before collecting it: under load Kordon then sits at
 * ~230 MB resident for ~35 MB of live objects. A 256 MB old generation makes V8 collect
 * at ~100 MB instead (still seven times the live heap of a gateway with thousands of keys),
 * and 8 MB semi-spaces halve the young generation. Throughput stays within the run-to-run
 * noise; p99 at 64 connections rises (more full collections), see docs/benchmarks.md.
 */
export const DEFAULT_OLD_SPACE_MB = 256;
export const DEFAULT_SEMI_SPACE_MB = 8;

/**
 * How far the old generation may grow past what the last full collection left live before
 * the next one starts: 50% (V8 sizes the step from the heap limit: under a 256 MB old space
 * it let ~35 MB live grow to 48-53 MB, with this flag to 55-57 MB). Each full collection marks the whole live heap (~35 MB) on the
 * collector's helper threads, which share the gateway's core: 160-310 ms of marking a time on
 * the bench machine, every ~2,500 plain requests at 64 connections, the largest single cost
 * of a request after its own code. At 50% they come every ~4,500 requests, with no peak RSS
 * measurable in turns (at 60%, every ~5,000 for ~9 MB more); docs/benchmarks.md. Node refuses the flag in
 * NODE_OPTIONS, so it goes on the command line.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

/**
 * TurboFan's budget of bytecode it may inline into one optimised function (V8's default is
 * 920 bytes). The request path is a few large functions (the exchange, the attempt loop,
 * the stream pump) calling many small ones; at the default budget the compiler stops
 * inlining part-way through them, and each call left out costs a frame and an inline-cache
 * lookup on every request. Measured in turns (docs/benchmarks.md): 3,000 bytes cut 3-9%
 * of the CPU a request costs, plain and streamed; 6,000 bought nothing more. NODE_OPTIONS
 * does not accept this flag (Node allows only a few V8 flags there), so it is given on the
 * command line.
 */
export const DEFAULT_INLINING_BUDGET_BYTES = 3000;

/**
 * WebAssembly stays on V8's baseline compiler (Liftoff) when Kordon runs on PostgreSQL, where
 * the only WebAssembly in the process is undici's HTTP parser (llhttp). Left to tier up, V8
 * recompiles the parser's one large function with TurboFan shortly after the first provider
 * call: 0.2-0.4 s of CPU on the gateway's core and ~40 MB of compiler memory at once (V8's
 * `--trace-wasm-compilation-times`: "took 218 ms and 29445592 / 42596464 max/total bytes"),
 * which set the process's peak RSS (+10 MB) and left ~5 MB more resident under load, for no
 * measurable gain in requests a second (docs/benchmarks.md). Not with the embedded store:
 * PGlite is PostgreSQL compiled to WebAssembly, and needs the optimising tier.
 */
export const LIFTOFF_ONLY = '--liftoff-only';

/**
 * V8's allocation-site pretenuring off. V8 counts, for each place that allocates objects, how many
 * of them survive a scavenge, and once most do it allocates that place's objects in the old
 * generation from then on, for the life of the process. A gateway's request path allocates the
 * same objects for every request, and they die with it; but under a burst (a warm-up, 64
 * connections opening at once) most of a moment's requests are in flight at a scavenge, and sites
 * of the request path cross the line: Kordon's own (the exchange's closures, the stream's frames
 * and translator) in every start, by what each promoted, and Node's HTTP server's (the request,
 * its headers, the response's head) in some. From then on each request's objects from them are
 * made old, die there, and until the next full collection hold every young object they point to
 * alive through the scavenges, which promote those too. Streamed at 64 connections on the bench
 * machine, 8 runs of 21 promoted 5.7 KB a request (Node's sites pretenured too) and the others
 * 3.6; with the flag every run (12) promoted 2.0-2.3 KB and collected in 12-15% of its time
 * instead of 16-21%, with a half to a third of the full collections; in sequential pairs a
 * streamed request cost 9-20% less CPU in six of seven, 10% more in one (plain and the embedded
 * store within the noise; docs/benchmarks.md, stop 61). Like the other V8 flags it goes on the
 * command line.
 */
export const NO_PRETENURING = '--no-allocation-site-pretenuring';

/**
 * glibc's malloc trim threshold, fixed (an environment variable glibc reads at start, so `npm
 * start` and bench:gateway set it for the process they spawn, and docs/operations.md asks
 * production to). Left alone, glibc raises the threshold to twice the largest block it has
 * handed back to the system (up to 64 MB): after one large buffer (a big request body, a
 * module read at start) each of its arenas keeps that much freed memory instead of returning
 * it. Under load that held ~11 MB of Kordon's peak RSS (VmHWM 140-142 -> 129-131 MB at 64
 * connections, docs/benchmarks.md), for no measurable CPU. Setting the threshold explicitly
 * also turns glibc's adjustment off; a value given in the environment wins. Other C
 * libraries (musl) ignore the variable.
 */
export const MALLOC_TRIM_THRESHOLD_BYTES = 128 * 1024;

/**
 * V8's collector on the main thread alone, for a process with one CPU to run on (an affinity of
 * one core, or a container's CPU quota of one or less). Its helper threads (four, for concurrent
 * marking, parallel scavenges and concurrent sweeping) cannot run beside the main thread there:
 * they take turns with it, each turn a context switch and a wait. Kordon-pg pinned to one core
 * at 64 streamed connections gave them 27% of the core's time (`/proc/<pid>/task/*` over 5 s),
 * switching ~900 times a second. Measured in turns (docs/benchmarks.md, stop 57): streamed at 64
 * connections 2.5-5.2% more requests a second, plain within the noise, peak RSS ~10 MB higher
 * (the collector sweeps and marks in the main thread's pauses, so garbage waits a little
 * longer); with more than one CPU the helpers run in parallel and are left on.
 */
export const SINGLE_THREADED_GC = '--single-threaded-gc';

/**
 * The CPUs this process may run on: its affinity (Node's `availableParallelism`), capped by
 * the CPU quota of its cgroup (a container's `--cpus`, Kubernetes' CPU limit), rounded up.
 */
export function availableCpus(
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): number {
  const affinity = availableParallelism();
  const quota = cgroupCpuQuota(readFile);
  return quota === undefined ? affinity : Math.max(1, Math.min(affinity, Math.ceil(quota)));
}

/**
 * The CPU quota of this process's cgroup, in CPUs: the smallest on its path to the root, since
 * a parent's limit binds every group under it (a systemd slice's `CPUQuota=`, a Kubernetes pod's
 * limit above its container's group, which may say `max`). cgroup v2's `cpu.max`, else v1's
 * `cpu.cfs_quota_us` (a hybrid host keeps the cpu controller on v1). Undefined: no quota.
 */
function cgroupCpuQuota(readFile: (path: string) => string): number | undefined {
  const read = (path: string) => {
    try {
      return readFile(path).trim();
    } catch {
      return undefined;
    }
  };
  const membership = read('/proc/self/cgroup') ?? '';
  // cgroup v2: "0::/path"; in a container with its own cgroup namespace the path is "/".
  const v2Path = /^0::(\/.*)$/m.exec(membership)?.[1];
  if (v2Path !== undefined) {
    const quota = smallestQuota('/sys/fs/cgroup', v2Path, (dir) => {
      const max = read(`${dir}/cpu.max`);
      if (max === undefined) return undefined;
      const [quota, period] = max.split(/\s+/);
      return quota === 'max' ? Number.POSITIVE_INFINITY : Number(quota) / Number(period);
    });
    if (quota !== undefined) return Number.isFinite(quota) ? quota : undefined;
  }
  // cgroup v1: "N:cpu,cpuacct:/path", the cpu controller's hierarchy mounted at .../cpu.
  let v1Path = '/';
  for (const [, controllers, path] of membership.matchAll(/^\d+:([^:]*):(\/.*)$/gm)) {
    if (controllers!.split(',').includes('cpu')) v1Path = path!;
  }
  const quota = smallestQuota('/sys/fs/cgroup/cpu', v1Path, (dir) => {
    const quotaUs = Number(read(`${dir}/cpu.cfs_quota_us`));
    if (Number.isNaN(quotaUs)) return undefined;
    const periodUs = Number(read(`${dir}/cpu.cfs_period_us`));
    // -1: no quota at this level.
    return quotaUs > 0 && periodUs > 0 ? quotaUs / periodUs : Number.POSITIVE_INFINITY;
  });
  return Number.isFinite(quota) ? quota : undefined;
}

/**
 * The smallest quota of the group at `path` under `mount` and of each of its parents, up to the
 * mount's root; levels without the file are skipped (a container sees its own group as the
 * root, and the host's path to it does not exist there). Infinity: files found, none limits;
 * undefined: none found.
 */
function smallestQuota(
  mount: string,
  path: string,
  quotaIn: (dir: string) => number | undefined,
): number | undefined {
  const parts = path.split('/').filter((part) => part !== '');
  let smallest: number | undefined;
  for (let depth = parts.length; depth >= 0; depth--) {
    const quota = quotaIn(depth === 0 ? mount : `${mount}/${parts.slice(0, depth).join('/')}`);
    if (quota === undefined || !(quota > 0)) continue;
    smallest = smallest === undefined ? quota : Math.min(smallest, quota);
  }
  return smallest;
}

/** The environment variables to start Kordon's Node.js with, unless the environment sets them. */
export function kordonNodeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const tunables = env.GLIBC_TUNABLES ?? '';
  const set = (name: string) => (env[name] ?? '') !== '';
  if (
    set('MALLOC_TRIM_THRESHOLD_') ||
    set('MALLOC_MMAP_THRESHOLD_') ||
    /glibc\.malloc\.(trim|mmap)_threshold=/.test(tunables)
  )
    return {};
  return { MALLOC_TRIM_THRESHOLD_: String(MALLOC_TRIM_THRESHOLD_BYTES) };
}

export interface KordonNodeFlagOptions {
  /** Kordon runs on PostgreSQL (KORDON_DATABASE_URL), not on the embedded PGlite store. */
  postgres?: boolean;
  /** The CPUs the process will run on ({@link availableCpus}); with one, {@link SINGLE_THREADED_GC}. */
  cpus?: number;
}

/**
 * The flags to start Kordon's Node.js with: the defaults above, except those that
 * NODE_OPTIONS (or the command line) already sets, which win.
 */
export function kordonNodeFlags(
  nodeOptions: string | undefined,
  execArgv: readonly string[] = [],
  options: KordonNodeFlagOptions = {},
): string[] {
  const given = ` ${nodeOptions ?? ''} ${execArgv.join(' ')} `;
  // V8 reads a flag's dashes and underscores alike, and `--no-x` sets x too.
  const sets = (name: string) =>
    new RegExp(`\\s--(?:no[-_])?${name.replaceAll('-', '[-_]')}[=\\s]`).test(given);
  const flags: string[] = [];
  if (!sets('max-old-space-size')) flags.push(`--max-old-space-size=${DEFAULT_OLD_SPACE_MB}`);
  if (!sets('max-semi-space-size')) flags.push(`--max-semi-space-size=${DEFAULT_SEMI_SPACE_MB}`);
  if (!sets('heap-growing-percent')) flags.push(`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`);
  if (!sets('max-inlined-bytecode-size-cumulative'))
    flags.push(`--max-inlined-bytecode-size-cumulative=${DEFAULT_INLINING_BUDGET_BYTES}`);
  if (!sets('allocation-site-pretenuring')) flags.push(NO_PRETENURING);
  if (options.postgres && !sets('liftoff-only')) flags.push(LIFTOFF_ONLY);
  if (options.cpus === 1 && !sets('single-threaded-gc') && !sets('single-threaded'))
    flags.push(SINGLE_THREADED_GC);
  return flags;
}
