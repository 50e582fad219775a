import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/*
 * Streams under a slow client, with real HTTP on both sides: a mock upstream that streams as
 * fast as its socket takes it (counting the bytes it managed to write), and a raw TCP client
 * that stops reading or leaves when told.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const WORD = 'x'.repeat(2000);
const frame = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

type Scenario = (res: ServerResponse, state: UpstreamState) => Promise<void>;
interface UpstreamState {
  written: number;
  closed: boolean;
  finished: boolean;
}

function write(res: ServerResponse, state: UpstreamState, text: string): Promise<void> {
  state.written += text.length;
  if (res.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** `total` bytes of content as fast as the socket takes them, then the end. */
const fast =
  (total: number): Scenario =>
  async (res, state) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    while (state.written < total && !state.closed) await write(res, state, frame(WORD));
    if (state.closed) return;
    res.end(
      `${frame('', 'stop')}data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: 999, total_tokens: 1004 } })}\n\ndata: [DONE]\n\n`,
    );
    state.finished = true;
  };

/** A raw HTTP client: reads nothing while paused. */
class RawClient {
  readonly socket: Socket;
  received = 0;
  text = '';
  ended = false;
  constructor(port: number, key: string, model = 'slow', keep = 4096) {
    const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    this.socket = connect(port, '127.0.0.1');
    this.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    this.socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      // keep the start and the end only
      this.text = (this.text + chunk.toString('latin1')).slice(-keep);
    });
    this.socket.on('end', () => {
      this.ended = true;
    });
    this.socket.on('close', () => {
      this.ended = true;
    });
    this.socket.on('error', () => {});
  }
  pause() {
    this.socket.pause();
  }
  resume() {
    this.socket.resume();
  }
  async until(condition: () => boolean, ms: number): Promise<boolean> {
    for (let waited = 0; waited < ms; waited += 20) {
      if (condition()) return true;
      await sleep(20);
    }
    return condition();
  }
}

describe('streams under a slow client', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let scenario: Scenario = fast(1000);
  let state: UpstreamState = { written: 0, closed: false, finished: false };
  let port = 0;
  let key = '';

  before(async () => {
    upstream = createServer(async (req, res) => {
      for await (const _ of req) {
        // the body
      }
      const mine: UpstreamState = { written: 0, closed: false, finished: false };
      state = mine;
      res.on('close', () => {
        mine.closed = true;
      });
      await scenario(res, mine);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: raw
        type: openai-compatible
        baseUrl: http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1
        models: [slow]
        timeouts: { idleMs: 500, totalMs: 4000, firstByteMs: 500 }
        keys:
          - { name: k1, secret: "sk-proj-slow1-abcdefghijklmnopqrstuvwxyz" }
      # A long total: a paused client's answer may take its time on a loaded machine.
      - name: roomy
        type: openai-compatible
        baseUrl: http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1
        models: [paused]
        timeouts: { idleMs: 500, totalMs: 60000, firstByteMs: 500 }
        keys:
          - { name: k1, secret: "sk-proj-slow2-abcdefghijklmnopqrstuvwxyz" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
    port = Number(new URL(gateway.url).port);
    key = gateway.proxyKeys.get('dev@acme.test--dev')!;
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  async function requestEvents(): Promise<KordonEvent[]> {
    return (await gateway.requestEvents()).filter(
      (e) => e.type === 'RequestCompleted' || e.type === 'RequestFailed',
    );
  }
  async function waitForEvents(count: number, ms: number): Promise<KordonEvent[]> {
    let events = await requestEvents();
    for (let waited = 0; waited < ms && events.length < count; waited += 50) {
      await sleep(50);
      events = await requestEvents();
    }
    return events;
  }

  it('a client that stops reading for longer than the idle timeout: the upstream is paused, not timed out', async () => {
    // More than the loopback's socket buffers hold (up to 32 MiB a receive buffer here).
    scenario = fast(40 * 1024 * 1024);
    const before = (await requestEvents()).length;
    const client = new RawClient(port, key, 'paused');
    try {
      await client.until(() => client.received > 0, 5000);
      client.pause();
      await sleep(2000); // four idle timeouts
      // Until the socket buffers are full the upstream still writes; then it must stop (bounded
      // wait: a loaded machine moves the bytes slowly).
      let writtenWhilePaused = state.written;
      let paused = false;
      for (let waited = 0; waited < 15_000 && !paused; waited += 500) {
        await sleep(500);
        paused = state.written - writtenWhilePaused < 256 * 1024;
        writtenWhilePaused = state.written;
      }
      assert.ok(paused, 'the upstream is paused while the client reads nothing');
      assert.ok(
        writtenWhilePaused <= 40 * 1024 * 1024 + 4096,
        `the upstream was paused: ${writtenWhilePaused} bytes written`,
      );
      client.resume();
      await client.until(() => client.ended || client.text.includes('[DONE]'), 20_000);
      assert.ok(
        client.text.includes('data: [DONE]'),
        `the answer ended cleanly: ...${client.text.slice(-300)}`,
      );
      assert.ok(
        !client.text.includes('stream_interrupted'),
        'no idle timeout while Kordon paused the upstream',
      );
    } finally {
      client.socket.destroy();
    }
    const events = (await waitForEvents(before + 1, 10_000)).slice(before);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'RequestCompleted');
  });

  it('a client that stops reading for good: given up after the total timeout, the request recorded with its tokens', async () => {
    // Far more than the socket buffers on the way hold (a receive buffer grows up to 32 MiB here,
    // on both connections): with 40 MiB a fast machine could move the whole answer into them
    // and complete it before the total timeout.
    scenario = fast(400 * 1024 * 1024);
    const before = (await requestEvents()).length;
    const started = Date.now();
    const client = new RawClient(port, key);
    await client.until(() => client.received > 0, 2000);
    client.pause(); // a hung client: never reads again (until the end of the test)
    // totalMs is 4 s: the provider call ends there, and a caller that takes nothing for as long
    // is given up: the request is settled (its event, its budget hold, its concurrency slot),
    // not held for as long as the client's connection lives.
    const events = (await waitForEvents(before + 1, 20_000)).slice(before);
    const after = Date.now() - started;
    await client.until(() => state.closed, 5000);
    client.socket.destroy();
    assert.ok(state.closed, 'the upstream call was aborted at the total timeout');
    assert.equal(
      events.length,
      1,
      `one event within ${after} ms of a 4000 ms total timeout (the client has read nothing since); upstream closed: ${state.closed}`,
    );
    assert.equal(events[0]?.type, 'RequestFailed');
    if (events[0]?.type === 'RequestFailed') assert.ok(events[0].data.usage.outputTokens > 0);
    client.socket.destroy();
  });

  it('the total timeout of a slowly reading client: an error event in the caller dialect, one event', async () => {
    scenario = fast(400 * 1024 * 1024);
    const before = (await requestEvents()).length;
    const client = new RawClient(port, key);
    await client.until(() => client.received > 0, 2000);
    client.pause();
    await sleep(2000); // less than the 4 s the caller may stall; the rest cannot arrive by the total timeout
    client.resume();
    await client.until(() => client.ended || client.text.includes('stream_interrupted'), 20_000);
    await sleep(200);
    assert.ok(
      client.text.includes('"code":"stream_interrupted"'),
      `error frame: ...${client.text.slice(-300)}`,
    );
    const events = (await waitForEvents(before + 1, 10_000)).slice(before);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'RequestFailed');
    client.socket.destroy();
  });

  for (const how of ['reset'] as const) {
    it(`a client that ${how}s during a paused write: upstream aborted, one event with tokens`, async () => {
      // More than the socket buffers hold (as above): the answer cannot be written whole and
      // completed while the client is paused.
      scenario = fast(400 * 1024 * 1024);
      const before = (await requestEvents()).length;
      const client = new RawClient(port, key);
      await client.until(() => client.received > 0, 2000);
      client.pause();
      await sleep(800);
      if (how === 'reset') client.socket.resetAndDestroy();
      else client.socket.end();
      const closed = await client.until(() => state.closed, 3000);
      assert.ok(closed, 'the upstream call is aborted');
      const events = (await waitForEvents(before + 1, 10_000)).slice(before);
      await sleep(300);
      assert.equal((await requestEvents()).length - before, 1, 'exactly one event');
      const event = events[0];
      assert.equal(event?.type, 'RequestFailed');
      if (event?.type === 'RequestFailed') {
        assert.equal(event.data.errorCode, 'client_disconnected');
        assert.ok(event.data.usage.outputTokens > 0, 'tokens streamed are counted');
      }
      client.socket.destroy();
    });
  }

  it('headers then nothing: the idle timeout, recorded', async () => {
    scenario = async (res, s) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(''); // headers only
      // Far past the 500 ms idle timeout: the cut is the timeout's even on a loaded machine.
      for (let waited = 0; waited < 10_000 && !s.closed; waited += 50) await sleep(50);
      res.end();
    };
    const before = (await requestEvents()).length;
    const started = Date.now();
    const client = new RawClient(port, key);
    await client.until(() => client.ended || client.text.endsWith('}'), 5000);
    const took = Date.now() - started;
    const events = (await waitForEvents(before + 1, 10_000)).slice(before);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'RequestFailed');
    // Nothing reached the caller (its 200 waits for the first write): a failed attempt, as a
    // first-byte timeout is, answered 504.
    if (events[0]?.type === 'RequestFailed') assert.equal(events[0].data.errorCode, 'upstream_timeout');
    assert.match(client.text, /HTTP\/1\.1 504/);
    assert.ok(took < 8000, `cut by a timeout after ${took} ms: ${client.text.slice(-300)}`);
  });

  it('nothing at all: the first-byte timeout', async () => {
    scenario = async (res) => {
      await sleep(3000);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: [DONE]\n\n');
    };
    const before = (await requestEvents()).length;
    const client = new RawClient(port, key);
    await client.until(() => client.ended || client.text.includes('\r\n\r\n'), 5000);
    await sleep(200);
    assert.match(client.text, /HTTP\/1\.1 504/);
    const events = (await waitForEvents(before + 1, 10_000)).slice(before);
    assert.equal(events.length, 1);
    if (events[0]?.type === 'RequestFailed') assert.equal(events[0].data.errorCode, 'upstream_timeout');
    client.socket.destroy();
  });

  it('keep-alive comments while the provider thinks keep the stream alive', async () => {
    scenario = async (res, s) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // A ping every 100 ms for 2 s: four idle timeouts in all, each with a wide margin.
      for (let i = 0; i < 20 && !s.closed; i++) {
        await write(res, s, ': OPENROUTER PROCESSING\n\n');
        await sleep(100);
      }
      res.end(`${frame('hello')}${frame('', 'stop')}data: [DONE]\n\n`);
    };
    const client = new RawClient(port, key);
    await client.until(() => client.ended || client.text.includes('[DONE]'), 5000);
    assert.ok(client.text.includes('hello'), `the answer after 2 s of pings: ${client.text.slice(-300)}`);
    assert.ok(client.text.includes('data: [DONE]'));
    client.socket.destroy();
  });
});
