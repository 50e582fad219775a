import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import type { AppenderStatus } from '@kordon/events';
import { readyz } from './health.js';

const status = (over: Partial<AppenderStatus>): AppenderStatus => ({
  buffered: 0,
  spooledEvents: 0,
  spoolBytes: 0,
  spoolMaxBytes: 1_000,
  spoolFull: false,
  storeReachable: true,
  writtenToStore: 0,
  writtenToSpool: 0,
  replayedToStore: 0,
  deadLettered: 0,
  ...over,
});

/** `/readyz`'s status and body for a store whose ping answers or not, and an appender's state. */
async function ask(pingAnswers: boolean, appender: AppenderStatus) {
  const handler = readyz({
    lifecycle: () => 'ready',
    pingStore: async () => {
      if (!pingAnswers) throw new Error('unreachable');
    },
    storeAdapter: 'postgres',
    appender: () => appender,
  });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const answer = await fetch(`http://127.0.0.1:${port}/readyz`);
    return { code: answer.status, status: ((await answer.json()) as { status: string }).status };
  } finally {
    server.close();
  }
}

it('readyz: degraded while the spool takes events, unavailable once it is full', async () => {
  assert.deepEqual(await ask(true, status({})), { code: 200, status: 'ready' });
  assert.deepEqual(await ask(false, status({ storeReachable: false, spooledEvents: 5 })), {
    code: 200,
    status: 'degraded',
  });
  assert.deepEqual(await ask(false, status({ storeReachable: false, spoolFull: true })), {
    code: 503,
    status: 'unavailable',
  });
});

it('readyz: unavailable while the spool is full and the appender has not seen the store back', async () => {
  // The store answers a ping again, but the appender's replay has not reached it yet (it backs
  // off up to 30 s): until it does, the gateway refuses every request (acceptsEvents is false).
  assert.deepEqual(await ask(true, status({ storeReachable: false, spoolFull: true })), {
    code: 503,
    status: 'unavailable',
  });
});
