import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * The data plane's HTTP edge as real clients drive it over a socket: bodies sent chunked
 * (fetch with a stream body, Go's http.Client with an io.Reader, httpx with a generator),
 * uploads that stall, methods a route does not serve.
 */

const MAX_BODY = 800_000;
const BUDGET = 1_000_000;
/** Short, for the stalled upload not to take a minute (KORDON_BODY_IDLE_TIMEOUT_MS). */
const BODY_IDLE_MS = 2_000;

describe('HTTP edge', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        if ((req.url ?? '').includes('/messages'))
          res.end(
            JSON.stringify({
              id: 'msg_1',
              type: 'message',
              role: 'assistant',
              model: 'claude-sonnet-4-5',
              content: [{ type: 'text', text: 'Hi' }],
              stop_reason: 'end_turn',
              stop_sequence: null,
              usage: { input_tokens: 5, output_tokens: 2 },
            }),
          );
        else
          res.end(
            JSON.stringify({
              id: 'chatcmpl-1',
              object: 'chat.completion',
              created: 1,
              model: 'gpt-4o-mini',
              choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
              usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
            }),
          );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - { name: openai, type: openai, baseUrl: ${url}/v1, models: [gpt-4o-mini], keys: [{ name: k1, secret: "sk-proj-edgetestsabcdefghijklmnopqrstuvwxyz01" }] }
      - { name: claude, type: anthropic, baseUrl: ${url}, models: [claude-sonnet-4-5], keys: [{ name: k1, secret: "sk-ant-api03-edgetestsabcdefghijklmnopqrstuvwxyz" }] }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      {
        KORDON_MAX_BODY_BYTES: String(MAX_BODY),
        KORDON_MAX_BODY_BYTES_IN_FLIGHT: String(BUDGET),
        KORDON_BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_MS),
      },
    );
  });
  after(async () => {
    await gateway?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const port = () => Number(new URL(gateway.url).port);
  const metric = async (name: string) => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
  };
  /** A body of `size` bytes as a stream: fetch sends it `Transfer-Encoding: chunked`. */
  const streamed = (size: number) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const part = Math.min(64 * 1024, size - sent);
        sent += part;
        controller.enqueue(new Uint8Array(part).fill(0x20));
      },
    });
  };

  it('answers a chunked body past the size limit with a 413 in the caller dialect, not a reset connection', async () => {
    const before = (await gateway.requestEvents()).length;
    const send = (path: string, headers: Record<string, string>) =>
      fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: streamed(MAX_BODY * 2),
        duplex: 'half',
      } as RequestInit).then(
        async (res) => ({
          status: res.status,
          body: (await res.json()) as { error?: { code?: string; type?: string } },
        }),
        (error: Error) => ({
          status: 0,
          body: { fetchError: `${error.message}: ${String(error.cause)}` } as {
            error?: { code?: string; type?: string };
            fetchError?: string;
          },
        }),
      );
    const openai = await send('/v1/chat/completions', { authorization: `Bearer ${key()}` });
    assert.deepEqual(
      { status: openai.status, code: openai.body.error?.code },
      { status: 413, code: 'request_too_large' },
      JSON.stringify(openai.body),
    );
    const anthropic = await send('/v1/messages', { 'x-api-key': key(), 'anthropic-version': '2023-06-01' });
    assert.deepEqual(
      { status: anthropic.status, type: anthropic.body.error?.type },
      { status: 413, type: 'request_too_large' },
      JSON.stringify(anthropic.body),
    );
    const events = (await gateway.requestEvents()).slice(before);
    assert.deepEqual(
      events.map((e) => [e.type, (e.data as { status?: number }).status]),
      [
        ['RequestRejected', 413],
        ['RequestRejected', 413],
      ],
    );
  });

  it('refuses tool-call arguments nested thousands deep with a 400, as it refuses such a body, not a 500', async () => {
    // The body's own nesting is bounded (64 levels, read-body.ts); an OpenAI tool call's
    // arguments are a JSON string, parsed (and bounded) only when the call is translated for Claude.
    const depth = 10_000;
    const args = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const before = (await gateway.requestEvents()).length;
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: args } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
        ],
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      }),
    });
    const body = (await res.json()) as { error: { type: string; message: string; param: string | null } };
    const events = (await gateway.requestEvents()).slice(before);
    assert.deepEqual(
      {
        status: res.status,
        type: body.error.type,
        param: body.error.param,
        events: events.map((e) => e.type),
      },
      {
        status: 400,
        type: 'invalid_request_error',
        param: 'messages[1].tool_calls[0].function.arguments',
        events: ['RequestRejected'],
      },
      `${body.error.message}; events: ${JSON.stringify(events.map((e) => e.data))}`.slice(0, 600),
    );
  });

  it('names the methods a route serves in the Allow header of its 405', async () => {
    for (const method of ['PUT', 'OPTIONS']) {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method,
        headers: { authorization: `Bearer ${key()}` },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 405);
      assert.equal(
        res.headers.get('allow'),
        'POST, GET, HEAD',
        `${method}: RFC 9110 section 15.5.6 asks for Allow on a 405`,
      );
    }
    const onModels = await fetch(`${gateway.url}/v1/models`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${key()}` },
    });
    await onModels.arrayBuffer();
    assert.equal(onModels.status, 405);
    assert.match(onModels.headers.get('allow') ?? '', /GET/);
  });

  it('answers HEAD where the Allow of a 405 names it (stored chat completions, responses) as the GET', async () => {
    for (const path of ['/v1/chat/completions', '/v1/chat/completions/chatcmpl-1', '/v1/responses/resp_1']) {
      const statusOf = async (method: string) => {
        const res = await fetch(`${gateway.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${key()}` },
        });
        await res.arrayBuffer();
        return res.status;
      };
      assert.deepEqual({ path, head: await statusOf('HEAD') }, { path, head: await statusOf('GET') });
    }
  });

  /** Sends raw HTTP on a new connection; resolves with what came back once `done` says so. */
  const exchange = (
    head: string,
    onData: (answer: string, socket: ReturnType<typeof connect>) => boolean,
  ): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = connect(port(), '127.0.0.1');
      let answer = '';
      socket.on('data', (data) => {
        answer += data.toString('latin1');
        if (onData(answer, socket)) {
          socket.destroy();
          resolve(answer);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
      socket.write(head);
    });

  /**
   * curl sends `Expect: 100-continue` with a large upload and waits for the interim answer
   * before the body. Node answered 100 at once, before the key was looked at: a caller with a
   * refused key (or over its limits) uploaded its whole body to be told 401. The 100 now comes
   * once the checks before the body have passed; a refusal is the only answer.
   */
  it('asks for a body sent with Expect: 100-continue only once the key is checked', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const head = (authorization: string) =>
      `POST /v1/chat/completions HTTP/1.1\r\nHost: kordon\r\nAuthorization: ${authorization}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      'Expect: 100-continue\r\n\r\n';
    const refused = await exchange(head('Bearer kdn_notakeyatall0000000000000000000000000'), (answer) =>
      answer.includes('\r\n\r\n{'),
    );
    assert.match(refused, /^HTTP\/1\.1 401 /, refused.slice(0, 80));
    let sent = false;
    const served = await exchange(head(`Bearer ${key()}`), (answer, socket) => {
      if (!sent && answer.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sent = true;
        socket.write(body);
      }
      const final = answer.slice(answer.indexOf('HTTP/1.1 200'));
      return final.includes('\r\n\r\n{') && final.endsWith('}');
    });
    assert.match(served, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(served, /"content":"Hi"/);
  });

  it('answers an upload that stalls mid-body with a 408 after the idle timeout, giving its body budget back', {
    timeout: 30_000,
  }, async () => {
    // A client declares its body's length and stops sending (a proxy buffering, a laptop lid
    // closed, a caller on purpose): its declared bytes are taken from the process budget at once.
    const before = (await gateway.requestEvents()).length;
    const stalled = connect(port(), '127.0.0.1');
    let answer = '';
    let closed = false;
    stalled.on('data', (data) => {
      answer += data.toString('latin1');
    });
    stalled.on('error', () => {});
    stalled.on('close', () => {
      closed = true;
    });
    stalled.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: kordon\r\nAuthorization: Bearer ${key()}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n\r\n{"model":"gpt-4o-mini","messages":[`,
    );
    const stalledAt = Date.now();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(), maxRetries: 0 });
      const ask = () =>
        openai.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'x'.repeat(300_000) }],
        });
      const meanwhile = await ask().then(
        () => 200,
        (error: unknown) => (error as { status?: number }).status,
      );
      // While the upload stalls, everyone else's 300 KB request is refused: the budget is its.
      assert.equal(meanwhile, 503);
      while (!closed && Date.now() - stalledAt < BODY_IDLE_MS + 10_000)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const waited = Date.now() - stalledAt;
      assert.ok(closed, `the stalled upload was not closed after ${waited} ms`);
      assert.ok(waited >= BODY_IDLE_MS, `closed after ${waited} ms, before the idle timeout`);
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
      assert.equal(body.error.code, 'request_timeout');
      assert.equal(await metric('kordon_request_body_bytes_in_flight'), 0);
      const served = await ask();
      assert.equal(served.choices[0]?.message.content, 'Hi');
      const events = (await gateway.requestEvents()).slice(before);
      assert.deepEqual(
        events.map((e) => [e.type, (e.data as { status?: number }).status]),
        [
          ['RequestRejected', 503],
          ['RequestRejected', 408],
          ['RequestCompleted', 200],
        ],
      );
    } finally {
      stalled.destroy();
    }
  });
});
