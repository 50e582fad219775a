/**
 * Test support: a port where TCP connects hang, to trigger a connect timeout without
 * depending on the network (sandboxes answer even for unroutable addresses).
 *
 * A worker thread listens with a backlog of 1 and then blocks its event loop, so it never
 * accepts; a few filler connections fill the kernel's accept queue, after which Linux drops
 * new SYNs and a client's connect waits until its own timeout.
 */
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

export interface UnacceptingListener {
  readonly url: string;
  close(): Promise<void>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  const cell = new Int32Array(workerData);
  // Block this thread's event loop so nothing is ever accepted, until told to stop.
  setTimeout(() => Atomics.wait(cell, 0, 0, 30000), 10);
});
`;

export async function startUnacceptingListener(): Promise<UnacceptingListener> {
  const shared = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: shared });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (value: number) => resolve(value));
    worker.once('error', reject);
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const fillers: Socket[] = [];
  for (let index = 0; index < 8; index += 1) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of fillers) socket.destroy();
      const cell = new Int32Array(shared);
      Atomics.store(cell, 0, 1);
      Atomics.notify(cell, 0);
      await worker.terminate();
    },
  };
}
