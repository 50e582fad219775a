import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseOpenAIRateLimits } from './rate-limit-headers.js';
import { SseReader } from './sse-reader.js';
import { startTcpTap } from './testing/tcp-tap.js';
import { startUnacceptingListener } from './testing/unaccepting-listener.js';
import { UpstreamClient, type UpstreamRequest } from './upstream-client.js';
import { isUpstreamError, type UpstreamError, type UpstreamErrorCode } from './upstream-error.js';
import { parseBaseUrl, upstreamTarget } from './upstream-target.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const KEY = 'sk-test-0123456789abcdef';

/** A local server whose behaviour each test sets; it counts connections and their closes. */
class TestServer {
  handler: Handler = (_req, res) => {
    res.end('{}');
  };
  connections = 0;
  closedConnections = 0;
  readonly server: Server;

  constructor() {
    this.server = createServer({ noDelay: true }, (req, res) => {
      Promise.resolve(this.handler(req, res)).catch(() => res.destroy());
    });
    this.server.on('connection', (socket) => {
      this.connections += 1;
      socket.on('close', () => {
        this.closedConnections += 1;
      });
    });
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function expectCode(code: UpstreamErrorCode) {
  return (error: unknown): boolean => {
    assert.ok(isUpstreamError(error), `not an UpstreamError: ${String(error)}`);
    assert.equal(error.code, code, `${error.code}: ${error.message}`);
    return true;
  };
}

async function caught(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isUpstreamError(error), `not an UpstreamError: ${String(error)}`);
    return error;
  }
  assert.fail('expected an UpstreamError');
}

describe('UpstreamClient', () => {
  const server = new TestServer();
  let origin = '';
  let client: UpstreamClient;

  const call = (path: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
    target: upstreamTarget(parseBaseUrl(origin), path),
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: '{"hello":"world"}',
    secrets: [KEY],
    ...extra,
  });

  before(async () => {
    origin = await server.start();
  });
  beforeEach(async () => {
    await client?.destroy();
    client = new UpstreamClient({
      timeouts: { connectMs: 300, firstByteMs: 300, idleMs: 300, totalMs: 5000 },
    });
  });
  after(async () => {
    await client?.destroy();
    await server.stop();
  });

  it('reads a JSON answer, parses rate-limit headers and reuses the connection', async () => {
    server.handler = async (req, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining-requests': '41' });
      res.end(JSON.stringify({ echoed: JSON.parse(body) as unknown, auth: req.headers.authorization }));
    };
    const before = server.connections;
    for (let index = 0; index < 3; index += 1) {
      const response = await client.request(call('/v1/echo', { rateLimits: parseOpenAIRateLimits }));
      assert.equal(response.status, 200);
      assert.deepEqual(response.json(), { echoed: { hello: 'world' }, auth: `Bearer ${KEY}` });
      assert.deepEqual(response.rateLimits, { remainingRequests: 41 });
      // undici frees the connection a tick after the body ends; a call made in that tick opens another.
      await sleep(5);
    }
    assert.equal(server.connections - before, 1, 'three calls on one keep-alive connection');
  });

  it("counts a finished answer's bytes as they are held; a stream's are not held, so not counted", async () => {
    const answer = JSON.stringify({ text: 'y'.repeat(200_000) });
    server.handler = async (req, res) => {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'application/json' });
      // In pieces, as a large answer comes.
      for (let at = 0; at < answer.length; at += 50_000) res.write(answer.slice(at, at + 50_000));
      res.end();
    };
    const counted: number[] = [];
    const response = await client.request(call('/v1/big', { onBodyBytes: (bytes) => counted.push(bytes) }));
    assert.equal(response.text, answer);
    assert.equal(
      counted.reduce((sum, bytes) => sum + bytes, 0),
      Buffer.byteLength(answer),
    );
    assert.ok(counted.length > 1, 'counted chunk by chunk');
    const streamed: number[] = [];
    const stream = await client.stream(call('/v1/big', { onBodyBytes: (bytes) => streamed.push(bytes) }));
    for await (const _ of stream.body);
    assert.deepEqual(streamed, []);
  });

  it('turns an error status into an UpstreamError with Retry-After, the mapper verdict and a clean excerpt', async () => {
    server.handler = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end(
        JSON.stringify({
          error: { message: `Rate limit reached for key ${KEY}`, code: 'rate_limit_exceeded' },
        }),
      );
    };
    const error = await caught(
      client.request(
        call('/v1/x', {
          mapError: ({ status, json }) => ({
            status,
            type: 'rate_limit',
            message: (json as { error: { message: string } }).error.message,
            code: 'rate_limit_exceeded',
            retryable: true,
          }),
        }),
      ),
    );
    assert.equal(error.code, 'upstream_http_error');
    assert.equal(error.status, 429);
    assert.equal(error.isRetryable, true);
    assert.equal(error.retryAfterMs, 3000);
    assert.equal(error.provider?.type, 'rate_limit');
    assert.ok(!error.message.includes(KEY) && !error.provider?.message.includes(KEY));
    assert.ok(error.bodyExcerpt?.includes('Rate limit reached') && !error.bodyExcerpt.includes(KEY));
  });

  it('classifies error statuses by default when no mapper is given', async () => {
    server.handler = (_req, res) => {
      res.writeHead(503);
      res.end('upstream down');
    };
    const error = await caught(client.request(call('/v1/x')));
    assert.equal(error.status, 503);
    assert.equal(error.isRetryable, true);
    assert.equal(error.provider?.type, 'overloaded');
  });

  it('streams the body chunk by chunk as it arrives', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      await released;
      res.end('data: two\n\n');
    };
    const response = await client.stream(call('/v1/stream'));
    const reader = new SseReader(response.body);
    const iterator = reader[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.value?.data, 'one', 'the first frame arrives before the server has finished');
    release();
    const second = await iterator.next();
    assert.equal(second.value?.data, 'two');
    assert.equal((await iterator.next()).done, true);
    assert.equal(reader.end, 'clean');
  });

  it('hands out the HTTP chunks of one network read without waiting, to the SSE reader', async () => {
    // A provider writes each frame as its own chunk; corked, they reach Kordon in one read.
    server.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      setTimeout(() => {
        res.cork();
        for (const frame of ['one', 'two', 'three']) res.write(`data: ${frame}\n\n`);
        res.end('data: [DONE]\n\n');
      }, 20);
    };
    const response = await client.stream(call('/v1/stream'));
    const reader = new SseReader(response.body, { takeBuffered: response.takeBuffered });
    const iterator = reader[Symbol.asyncIterator]();
    const seen = [(await iterator.next()).value?.data];
    assert.ok(response.bodyBuffered(), 'the other chunks came with the first');
    for (let event = reader.takeReady(); event !== undefined; event = reader.takeReady())
      seen.push(event.data);
    assert.deepEqual(seen, ['one', 'two', 'three', '[DONE]']);
    assert.equal(response.takeBuffered(), undefined);
    assert.equal((await iterator.next()).done, true);
    assert.equal(reader.end, 'clean');
  });

  it('does not count a paused (backpressured) body as idle', async () => {
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let index = 0; index < 4; index += 1) {
        res.write(`${'x'.repeat(64 * 1024)}\n`);
        await sleep(20);
      }
      res.end();
    };
    const response = await client.stream(call('/v1/big'));
    let bytes = 0;
    for await (const chunk of response.body) {
      bytes += chunk.length;
      if (bytes < 64 * 1024) await sleep(1200);
    }
    assert.equal(bytes, 4 * (64 * 1024 + 1));
  });

  it('times out the connect', async () => {
    const listener = await startUnacceptingListener();
    try {
      const target = upstreamTarget(parseBaseUrl(listener.url), '/v1/x');
      const started = Date.now();
      const error = await caught(client.request({ ...call('/v1/x'), target }));
      assert.equal(error.code, 'upstream_connect_timeout');
      assert.equal(error.phase, 'connect');
      assert.equal(error.isRetryable, true);
      assert.ok(Date.now() - started < 3000);
    } finally {
      await listener.close();
    }
  });

  it('reports a refused connection', async () => {
    const closed = new TestServer();
    const url = await closed.start();
    await closed.stop();
    const target = upstreamTarget(parseBaseUrl(url), '/v1/x');
    await assert.rejects(
      client.request({ ...call('/v1/x'), target }),
      expectCode('upstream_connection_failed'),
    );
  });

  it('times out a slow first byte', async () => {
    server.handler = async (_req, res) => {
      await sleep(3000);
      if (!res.destroyed) res.end('{}');
    };
    const started = Date.now();
    const error = await caught(client.stream(call('/v1/slow')));
    assert.equal(error.code, 'upstream_first_byte_timeout');
    assert.equal(error.phase, 'headers');
    assert.ok(Date.now() - started < 2500, 'fails long before the answer would come');
  });

  it('times out a body that stalls between chunks', async () => {
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      await sleep(3000);
      if (!res.destroyed) res.end('data: two\n\n');
    };
    const response = await client.stream(call('/v1/stall'));
    const seen: string[] = [];
    const error = await caught(
      (async () => {
        for await (const event of new SseReader(response.body)) seen.push(event.data);
      })(),
    );
    assert.equal(error.code, 'upstream_idle_timeout');
    assert.equal(error.phase, 'body');
    assert.deepEqual(seen, ['one']);
  });

  it('times out the whole exchange', async () => {
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let index = 0; index < 100 && !res.destroyed; index += 1) {
        res.write(`data: ${index}\n\n`);
        await sleep(50);
      }
      res.end();
    };
    const response = await client.stream({ ...call('/v1/long'), timeouts: { totalMs: 400 } });
    const error = await caught(
      (async () => {
        for await (const _chunk of response.body) {
          // keep reading
        }
      })(),
    );
    assert.equal(error.code, 'upstream_total_timeout');
  });

  it('reports a connection reset mid-body, never a clean end', async () => {
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      await sleep(50);
      res.socket?.resetAndDestroy();
    };
    const response = await client.stream(call('/v1/reset'));
    const reader = new SseReader(response.body);
    const error = await caught(
      (async () => {
        for await (const _event of reader) {
          // keep reading
        }
      })(),
    );
    assert.equal(error.code, 'upstream_reset');
    assert.equal(error.phase, 'body');
    assert.equal(reader.end, undefined);
  });

  it('reports a JSON body cut by a reset', async () => {
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      await sleep(30);
      res.socket?.resetAndDestroy();
    };
    await assert.rejects(client.request(call('/v1/cut')), expectCode('upstream_reset'));
  });

  it('aborts on the caller signal, and the server sees the socket close', async () => {
    const tap = await startTcpTap(Number(new URL(origin).port));
    try {
      server.handler = async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let index = 0; index < 200 && !res.destroyed; index += 1) {
          res.write(`data: ${index}\n\n`);
          await sleep(20);
        }
        res.end();
      };
      const controller = new AbortController();
      const target = upstreamTarget(parseBaseUrl(tap.url), '/v1/long');
      const response = await client.stream({ ...call('/v1/long'), target, signal: controller.signal });
      const error = await caught(
        (async () => {
          let count = 0;
          for await (const _event of new SseReader(response.body)) {
            count += 1;
            if (count === 2) controller.abort();
          }
        })(),
      );
      assert.equal(error.code, 'upstream_aborted');
      assert.equal(error.isRetryable, false);
      const connection = await tap.waitForClientClose();
      assert.ok(connection.clientClosedAt !== undefined);
    } finally {
      await tap.close();
    }
  });

  it('aborts while waiting for the first byte', async () => {
    server.handler = async (_req, res) => {
      await sleep(2000);
      if (!res.destroyed) res.end('{}');
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const closedBefore = server.closedConnections;
    await assert.rejects(
      client.request({ ...call('/v1/slow'), timeouts: { firstByteMs: 5000 }, signal: controller.signal }),
      expectCode('upstream_aborted'),
    );
    await sleep(50);
    assert.ok(server.closedConnections > closedBefore, 'the server saw the connection close');
  });

  it('ends a call still queued for a connection at its total timeout, or at the caller abort', async () => {
    // One connection, held by a long answer: the next calls wait in the pool's queue.
    const one = new UpstreamClient({ connectionsPerOrigin: 1, timeouts: { firstByteMs: 5000 } });
    let release = (): void => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      server.handler = async (_req, res) => {
        await held;
        if (!res.destroyed) res.end('{}');
      };
      const busy = one.request(call('/v1/busy'));
      await sleep(50);
      const started = Date.now();
      const queued = caught(one.request({ ...call('/v1/queued'), timeouts: { totalMs: 200 } }));
      const controller = new AbortController();
      const left = caught(one.request({ ...call('/v1/left'), signal: controller.signal }));
      setTimeout(() => controller.abort(), 100);
      const settled = await Promise.race([
        Promise.all([queued, left]),
        sleep(2000).then(() => 'still waiting' as const),
      ]);
      assert.notEqual(settled, 'still waiting', 'the queued calls ended while the connection was busy');
      const [timedOut, aborted] = settled as [UpstreamError, UpstreamError];
      assert.equal(timedOut.code, 'upstream_total_timeout');
      assert.equal(timedOut.phase, 'connect', 'never written: the provider did not have the prompt');
      assert.equal(aborted.code, 'upstream_aborted');
      assert.ok(Date.now() - started < 1500);
      release();
      assert.equal((await busy).status, 200);
    } finally {
      release();
      await one.destroy();
    }
  });

  it('closes the connection when the reader stops early', async () => {
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let index = 0; index < 200 && !res.destroyed; index += 1) {
        res.write(`data: ${index}\n\n`);
        await sleep(10);
      }
      res.end();
    };
    const closedBefore = server.closedConnections;
    const response = await client.stream(call('/v1/long'));
    for await (const _event of new SseReader(response.body)) break;
    await sleep(50);
    assert.ok(server.closedConnections > closedBefore);
  });

  it('refuses a body larger than the bound', async () => {
    const small = new UpstreamClient({ maxResponseBytes: 1024 });
    try {
      server.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ big: 'x'.repeat(4096) }));
      };
      await assert.rejects(small.request(call('/v1/big')), expectCode('upstream_response_too_large'));
    } finally {
      await small.destroy();
    }
  });

  it('reports a body that is not JSON when asked to parse it', async () => {
    server.handler = (_req, res) => {
      res.end('<html>gateway</html>');
    };
    const response = await client.request(call('/v1/html'));
    assert.throws(() => response.json(), expectCode('upstream_invalid_response'));
  });
});
