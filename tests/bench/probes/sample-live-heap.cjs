// A preload for bench:gateway (BENCH_KORDON_NODE_ARGS="--require <this file>"): starts V8's
// sampling heap profiler PROBE_START_MS (default 10 s) after Kordon starts, and writes its
// profile 3, 5 and 7 s later to PROBE_OUT-<n>.json (default /tmp/kordon-heap-<n>.json). By
// default the profile holds only what is still alive (what in-flight requests and the group
// commit hold, and what survived into the old generation); PROBE_ALL=1 keeps what was
// collected too (where the allocations come from); PROBE_OLD=1 keeps what a major collection
// freed but not what a scavenge did (what reached the old generation, which drives the major
// collections). Summarise with summarise-heap-profile.cjs.
const inspector = require('node:inspector');
const fs = require('node:fs');

const session = new inspector.Session();
session.connect();
const post = (method, params) =>
  new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)));
  });
const out = process.env.PROBE_OUT ?? '/tmp/kordon-heap';
const all = process.env.PROBE_ALL === '1';
const old = process.env.PROBE_OLD === '1';
setTimeout(
  async () => {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 2048,
      includeObjectsCollectedByMajorGC: all || old,
      includeObjectsCollectedByMinorGC: all,
    });
    let written = 0;
    const write = async () => {
      const { profile } = await post('HeapProfiler.getSamplingProfile');
      fs.writeFileSync(`${out}-${written++}.json`, JSON.stringify(profile));
    };
    for (const ms of [3000, 5000, 7000]) setTimeout(write, ms);
  },
  Number(process.env.PROBE_START_MS ?? 10_000),
).unref();
