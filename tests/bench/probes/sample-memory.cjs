// A preload for bench:gateway (BENCH_KORDON_NODE_ARGS="--require <this file>"): samples the
// process's resident memory (/proc/self/status) and V8's heap every PROBE_EVERY_MS (default
// 20 ms) and, at each new peak of VmRSS, writes what made it to PROBE_OUT (default
// /tmp/kordon-memory.json): anonymous and file-backed RSS, V8's spaces, its malloced memory
// and the external (ArrayBuffer) memory, with the time since start. Where a peak comes from
// (the young generation, the old one, compiler zones, buffers, mapped code) decides which cut
// lowers it.
const fs = require('node:fs');
const v8 = require('node:v8');

const out = process.env.PROBE_OUT ?? '/tmp/kordon-memory.json';
const every = Number(process.env.PROBE_EVERY_MS ?? 20);
const started = Date.now();
const kb = (text, name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
let peak = 0;
setInterval(() => {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const rss = kb(status, 'VmRSS');
  if (rss <= peak) return;
  peak = rss;
  const heap = v8.getHeapStatistics();
  const mb = (bytes) => Math.round(bytes / 1e5) / 10;
  const spaces = {};
  for (const space of v8.getHeapSpaceStatistics())
    spaces[space.space_name] = { committed: mb(space.physical_space_size), used: mb(space.space_used_size) };
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        secondsSinceStart: (Date.now() - started) / 1000,
        rssMb: Math.round(rss / 102.4) / 10,
        anonMb: Math.round(kb(status, 'RssAnon') / 102.4) / 10,
        fileMb: Math.round(kb(status, 'RssFile') / 102.4) / 10,
        heapCommittedMb: mb(heap.total_physical_size),
        heapUsedMb: mb(heap.used_heap_size),
        mallocedMb: mb(heap.malloced_memory),
        externalMb: mb(process.memoryUsage().external),
        spaces,
      },
      null,
      1,
    ),
  );
}, every).unref();
