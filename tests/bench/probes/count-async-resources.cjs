// A preload for bench:gateway (BENCH_KORDON_NODE_ARGS="--require <this file>"): counts the async
// resources Kordon makes a request (promises, timers, ticks, immediates), from an async_hooks
// init hook, and appends each ~2 s window's averages to PROBE_OUT (default
// /tmp/kordon-async-resources.txt). The hook itself slows Kordon: read the counts, not the speed.
const asyncHooks = require('node:async_hooks');
const http = require('node:http');
const fs = require('node:fs');

const out = process.env.PROBE_OUT ?? '/tmp/kordon-async-resources.txt';
const counts = {};
let requests = 0;
asyncHooks
  .createHook({
    init(_id, type) {
      counts[type] = (counts[type] ?? 0) + 1;
    },
  })
  .enable();
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function countRequests(event, ...args) {
  if (event === 'request') requests += 1;
  return emit.call(this, event, ...args);
};
let last = { requests: 0, counts: {} };
setInterval(() => {
  const served = requests - last.requests;
  if (served < 500) return;
  const each = {};
  for (const [type, count] of Object.entries(counts)) {
    const made = (count - (last.counts[type] ?? 0)) / served;
    if (made >= 0.05) each[type] = Number(made.toFixed(2));
  }
  fs.appendFileSync(out, `${process.pid} ${served} requests, a request: ${JSON.stringify(each)}\n`);
  last = { requests, counts: { ...counts } };
}, 2000).unref();
