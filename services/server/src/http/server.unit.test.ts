import assert from 'node:assert/strict';
import { Agent, createServer, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { describe, it } from 'node:test';
import { createHttpServer, type Handler, type HttpServer, requestTimeoutFor } from './server.js';

/** A front on a free port with `routes`; ended by the returned function. */
async function start(
  routes: Record<string, Handler>,
  bodyIdleTimeoutMs = 60_000,
  onError: (error: unknown) => void = () => {},
): Promise<{ url: string; http: HttpServer; stop: () => Promise<void> }> {
  const http = createHttpServer(routes, onError, {}, undefined, { bodyIdleTimeoutMs });
  await new Promise<void>((resolve) => http.server.listen(0, '127.0.0.1', resolve));
  const { port } = http.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, http, stop: () => http.drain(0) };
}

describe('createHttpServer timeouts', () => {
  it('bounds how long a whole request may take to arrive, above the body idle timeout', async () => {
    assert.equal(requestTimeoutFor(60_000), 120_000);
    assert.equal(requestTimeoutFor(1_000), 120_000);
    assert.equal(requestTimeoutFor(300_000), 600_000);
    const front = await start({}, 90_000);
    try {
      assert.equal(front.http.server.requestTimeout, 180_000, "not Node's default of 5 minutes");
      assert.ok(front.http.server.requestTimeout > front.http.server.headersTimeout);
    } finally {
      await front.stop();
    }
  });

  it("Node's requestTimeout cuts a request still arriving, not an answer streamed longer than it", async () => {
    // What requestTimeoutFor relies on, with Node's documented options (checked every 50 ms).
    const server = createServer(
      { requestTimeout: 300, headersTimeout: 300, connectionsCheckingInterval: 50 },
      (req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          let sent = 0;
          const tick = setInterval(() => {
            res.write(`data: ${sent}\n\n`);
            if (++sent === 8) {
              clearInterval(tick);
              res.end();
            }
          }, 100);
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' });
      const text = await res.text();
      assert.equal(
        text.match(/data: /g)?.length,
        8,
        'the whole stream, 800 ms against a 300 ms requestTimeout',
      );
      // A body that stops arriving is cut by the same timeout: the check ran meanwhile.
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        let received = '';
        socket.on('data', (data) => {
          received += data.toString('latin1');
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve(received));
        socket.write('POST / HTTP/1.1\r\nHost: k\r\nContent-Length: 100\r\n\r\n{"a"');
      });
      assert.match(answer, /^HTTP\/1\.1 408/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('createHttpServer routes', () => {
  it('answers a method a path does not serve with a 405 naming the methods it does (Allow)', async () => {
    const ok: Handler = (_req, res) => {
      res.end('ok');
    };
    const front = await start({
      'POST /v1/chat/completions': ok,
      'GET /v1/models': ok,
      'GET /v1/models/*': ok,
      'DELETE /v1/models/*': ok,
    });
    try {
      for (const [method, path, allow] of [
        ['GET', '/v1/chat/completions', 'POST'],
        ['OPTIONS', '/v1/chat/completions', 'POST'],
        ['POST', '/v1/models', 'GET, HEAD'],
        ['PUT', '/v1/models/gpt-4o', 'GET, DELETE, HEAD'],
      ] as const) {
        const res = await fetch(`${front.url}${path}`, { method });
        const body = (await res.json()) as { error: { message: string } };
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
        assert.match(body.error.message, /not allowed/);
      }
      const unknown = await fetch(`${front.url}/v1/nothing`);
      await unknown.arrayBuffer();
      assert.equal(unknown.status, 404);
      assert.equal(unknown.headers.get('allow'), null);
    } finally {
      await front.stop();
    }
  });

  it("names its own answers' request (404, 405) as the data plane's do, in either dialect", async () => {
    const front = await start({
      'POST /v1/messages': (_req, res) => {
        res.end('ok');
      },
    });
    try {
      for (const [method, path] of [
        ['GET', '/v1/nothing'],
        ['GET', '/v1/messages'],
      ] as const) {
        const openai = await fetch(`${front.url}${path}`, { method });
        await openai.arrayBuffer();
        assert.match(openai.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, `${method} ${path}`);
        const anthropic = await fetch(`${front.url}${path}`, {
          method,
          headers: { 'anthropic-version': '2023-06-01' },
        });
        const body = (await anthropic.json()) as { request_id: string | null };
        const id = anthropic.headers.get('request-id');
        assert.ok(id, `${method} ${path}: the Anthropic SDK reads request-id`);
        assert.deepEqual([anthropic.headers.get('x-request-id'), body.request_id], [id, id]);
      }
    } finally {
      await front.stop();
    }
  });

  it('answers 500 to a handler that throws or rejects, and reports the error once', async () => {
    const heard: string[] = [];
    const { url, stop } = await start(
      {
        'GET /throws': () => {
          throw new Error('thrown at once');
        },
        'GET /rejects': async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          throw new Error('rejected later');
        },
        'GET /rejects-after-head': async (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: 1\n\n');
          await new Promise((resolve) => setTimeout(resolve, 5));
          throw new Error('rejected mid-answer');
        },
      },
      60_000,
      (error) => heard.push((error as Error).message),
    );
    try {
      for (const path of ['/throws', '/rejects']) {
        const res = await fetch(`${url}${path}`);
        const body = (await res.json()) as { error: { message: string } };
        assert.equal(res.status, 500, path);
        assert.equal(body.error.message, 'internal error', 'no word of the error itself');
      }
      // After the head, the connection is cut: the caller sees the answer end unclean.
      const cut = await fetch(`${url}/rejects-after-head`);
      assert.equal(cut.status, 200);
      await assert.rejects(cut.text());
      assert.deepEqual(heard, ['thrown at once', 'rejected later', 'rejected mid-answer']);
    } finally {
      await stop();
    }
  });
});

describe('createHttpServer drain', () => {
  it('resolves only once a request cut at the deadline has heard its connection close', async () => {
    // The owner destroys its upstream client once the drain resolves: a handler still waiting
    // on a provider must have seen its caller leave first, or the cut looks like the provider's.
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    let callerLeft = false;
    const front = await start({
      'POST /slow': (_req, res) => {
        res.once('close', () => (callerLeft = true));
        arrived();
        return new Promise<void>(() => {}); // a provider that never answers
      },
    });
    const call = fetch(`${front.url}/slow`, { method: 'POST', body: '{}' }).catch(() => undefined);
    await inHandler;
    await front.http.drain(0);
    assert.equal(callerLeft, true);
    assert.equal(front.http.inFlight(), 0);
    await call;
  });

  it('tells keep-alive callers to leave: answers finished during the drain close their connection', {
    timeout: 20_000,
  }, async () => {
    // A load balancer or SDK that keeps its connection would send its next request into a
    // server about to close it (a bare "socket hang up"), or keep the drain going.
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    let answerWaiting!: () => void;
    let streamWaiting!: () => void;
    const front = await start({
      'GET /waiting': (_req, res) => {
        arrived();
        return new Promise<void>((resolve) => {
          answerWaiting = () => {
            res.end('done');
            resolve();
          };
        });
      },
      'GET /streaming': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        return new Promise<void>((resolve) => {
          streamWaiting = () => {
            res.end('data: 2\n\n');
            resolve();
          };
        });
      },
    });
    const agent = new Agent({ keepAlive: true });
    const get = (path: string, onHead: () => void = () => {}) =>
      new Promise<{ connection: string | undefined; socketClosed: Promise<void> }>((resolve, reject) => {
        request(`${front.url}${path}`, { agent }, (res) => {
          onHead();
          const socketClosed = new Promise<void>((closed) => res.socket.once('close', () => closed()));
          res.resume();
          res.once('end', () => resolve({ connection: res.headers.connection, socketClosed }));
        })
          .once('error', reject)
          .end();
      });
    try {
      let streamStarted!: () => void;
      const streamHead = new Promise<void>((resolve) => (streamStarted = resolve));
      const waiting = get('/waiting');
      const streaming = get('/streaming', streamStarted);
      await Promise.all([inHandler, streamHead]);
      const drained = front.http.drain(60_000);
      // A stream's head went out before the drain: its connection is closed once it ends,
      // while the drain still waits on the other request.
      streamWaiting();
      await (await streaming).socketClosed;
      answerWaiting();
      const answered = await waiting;
      assert.equal(answered.connection, 'close', 'an answer whose head was still to be sent');
      await answered.socketClosed;
      await drained;
    } finally {
      agent.destroy();
      await front.stop();
    }
  });
});
