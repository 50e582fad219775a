// What this machine charges, now, for what a data plane does besides its own logic: a system
// call, an event-loop wakeup after a short sleep, a loopback TCP round trip; and, for scale, a
// fixed piece of JS (a request event's JSON, out and back). CPU time of this process (all
// threads) a unit, from process.cpuUsage. bench:gateway runs it on the gateways' core before it
// measures and prints the line in its header, so that a run's figures can be read against the
// machine they came from (here these costs move from hour to hour). Alone:
//   taskset -c 1 node tests/bench/probes/machine-costs.mjs        (prints one JSON line)
import { closeSync, openSync, readSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

const cpuMicros = (since) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

/** CPU µs of one `fn()`, over `count` calls after a warm-up. */
function perCall(count, fn) {
  for (let i = 0; i < count / 10; i++) fn();
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) fn();
  return cpuMicros(start) / count;
}

/** CPU µs of one wakeup from a `sleepMs` timer, the loop otherwise idle. */
function perWakeup(sleepMs, count) {
  return new Promise((resolve) => {
    let left = count;
    const start = process.cpuUsage();
    const again = () => {
      if (--left === 0) resolve(cpuMicros(start) / count);
      else setTimeout(again, sleepMs);
    };
    setTimeout(again, sleepMs);
  });
}

/** CPU µs of one 64-byte request and answer over loopback TCP, both ends in this process. */
function perRoundTrip(count) {
  return new Promise((resolve) => {
    const server = createServer({ noDelay: true }, (socket) =>
      socket.on('data', (data) => socket.write(data)),
    );
    server.listen(0, '127.0.0.1', () => {
      const client = createConnection({ port: server.address().port, host: '127.0.0.1', noDelay: true });
      const message = Buffer.alloc(64, 1);
      let left = count + count / 10;
      let start;
      client.on('data', () => {
        left--;
        if (left === count) start = process.cpuUsage();
        if (left > 0) return void client.write(message);
        const each = cpuMicros(start) / count;
        client.destroy();
        server.close();
        resolve(each);
      });
      client.on('connect', () => client.write(message));
    });
  });
}

const event = {
  requestId: '01a24148-0da8-716f-94d1-0e9f12080703',
  proxyKeyId: 'pxk_a9a7b10eb7150636a58322eb78a9629f',
  userId: 'usr_3d5a45da3b72569d5574635a2b562519',
  teamId: null,
  provider: 'openai-mock',
  providerKeyId: 'prk_14b8a9ea86065b16b2a9f917d2a04f9b',
  model: 'gpt-4o-mini',
  endpoint: 'chat.completions',
  stream: false,
  usage: { inputTokens: 16, outputTokens: 13, cachedInputTokens: 0, reasoningTokens: 0 },
  cost: '0.0000102',
  currency: 'USD',
  latencyMs: 28,
  timeToFirstTokenMs: null,
  status: 200,
  clientIp: '127.0.0.1',
  attempts: 1,
};

const zero = openSync('/dev/zero', 'r');
const byte = Buffer.alloc(1);
const systemCallUs = perCall(200_000, () => readSync(zero, byte, 0, 1, null));
closeSync(zero);
const eventJsonUs = perCall(100_000, () => JSON.parse(JSON.stringify(event)));
const wakeup1msUs = await perWakeup(1, 1_000);
const wakeup5msUs = await perWakeup(5, 300);
const loopbackRoundTripUs = await perRoundTrip(20_000);
const round = (us) => Math.round(us * 100) / 100;
process.stdout.write(
  `${JSON.stringify({
    systemCallUs: round(systemCallUs),
    wakeup1msUs: round(wakeup1msUs),
    wakeup5msUs: round(wakeup5msUs),
    loopbackRoundTripUs: round(loopbackRoundTripUs),
    eventJsonUs: round(eventJsonUs),
  })}\n`,
);
