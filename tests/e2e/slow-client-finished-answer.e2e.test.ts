import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/*
 * A finished (not streamed) answer to a caller that stops reading: its connection is closed
 * after the stall limit (the provider's totalMs), as a stream's is, so that what the request
 * holds (its socket, the answer's memory, its share of the body budget) is given back.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// Far more than the socket buffers on the way hold (a receive buffer grows up to 32 MiB here).
const ANSWER_CHARS = 60_000_000;
// Answers of many writes whose characters (surrogate pairs) straddle the writes' bounds.
const WIDE: Record<string, string> = {
  wide1: `a${'😀'.repeat(100_000)}`,
  wide2: `ab${'😀'.repeat(100_000)}`,
};

describe('a finished answer to a client that stops reading', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let port = 0;
  let key = '';

  before(async () => {
    const answerOf = (content: string) =>
      JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
      });
    const big = answerOf('x'.repeat(ANSWER_CHARS));
    upstream = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const model = (JSON.parse(body) as { model?: string }).model ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(model === 'big' ? big : answerOf(WIDE[model] ?? 'ok'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: raw
        type: openai-compatible
        baseUrl: http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1
        models: [big, small, wide1, wide2]
        timeouts: { totalMs: 3000 }
        keys:
          - { name: k1, secret: "sk-proj-slow1-abcdefghijklmnopqrstuvwxyz" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { KORDON_MAX_BODY_BYTES: '1048576', KORDON_MAX_BODY_BYTES_IN_FLIGHT: '1048576' },
    );
    port = Number(new URL(gateway.url).port);
    key = gateway.proxyKeys.get('dev@acme.test--dev')!;
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const ask = (model: string) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('goes out whole when large, in many writes', async () => {
    for (const model of ['wide1', 'wide2']) {
      const answer = (await (await ask(model)).json()) as { choices: { message: { content: string } }[] };
      assert.equal(answer.choices[0]?.message.content, WIDE[model]);
    }
  });

  it('is given up after the stall limit: its share of the body budget comes back', async () => {
    const body = JSON.stringify({ model: 'big', messages: [{ role: 'user', content: 'hi' }] });
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    try {
      for (let waited = 0; waited < 10_000 && received === 0; waited += 20) await sleep(20);
      assert.ok(received > 0, 'the answer began');
      socket.pause(); // a hung client: never reads again
      // The 60 MB answer is counted against the 1 MiB budget while it is held: bodies are refused.
      assert.equal((await ask('small')).status, 503);
      // Past the stall limit (totalMs, 3 s) the caller is gone and what it held is given back.
      let status = 0;
      for (let waited = 0; waited < 10_000; waited += 250) {
        await sleep(250);
        status = (await ask('small')).status;
        if (status === 200) break;
      }
      assert.equal(status, 200, 'a request with a body is served again once the stalled answer is given up');
    } finally {
      socket.destroy();
    }
  });
});

describe('a stored response retrieved by a client that stops reading', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let port = 0;
  let key = '';

  before(async () => {
    const stored = JSON.stringify({
      id: 'resp_big',
      object: 'response',
      created_at: 1,
      status: 'completed',
      model: 'gpt-4o-mini',
      output: [
        {
          type: 'message',
          id: 'msg_big',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'x'.repeat(ANSWER_CHARS), annotations: [] }],
        },
      ],
      usage: { input_tokens: 5, output_tokens: 7, total_tokens: 12 },
    });
    upstream = createServer(async (req, res) => {
      for await (const _ of req);
      if (req.method === 'GET' && req.url === '/v1/responses/resp_big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(stored);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
        }),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1
        models: [gpt-4o-mini]
        timeouts: { totalMs: 3000 }
        keys:
          - { name: k1, secret: "sk-proj-slow2-abcdefghijklmnopqrstuvwxyz" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      {
        KORDON_MAX_BODY_BYTES: '1048576',
        KORDON_MAX_BODY_BYTES_IN_FLIGHT: '1048576',
        KORDON_MAX_RESPONSE_BYTES: String(128 * 1024 * 1024),
      },
    );
    port = Number(new URL(gateway.url).port);
    key = gateway.proxyKeys.get('dev@acme.test--dev')!;
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const askSmall = () =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('is given up after the stall limit: its share of the body budget comes back', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.write(`GET /v1/responses/resp_big HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\n\r\n`);
    try {
      for (let waited = 0; waited < 10_000 && received === 0; waited += 20) await sleep(20);
      assert.ok(received > 0, 'the answer began');
      socket.pause();
      assert.equal((await askSmall()).status, 503);
      let status = 0;
      for (let waited = 0; waited < 10_000; waited += 250) {
        await sleep(250);
        status = (await askSmall()).status;
        if (status === 200) break;
      }
      assert.equal(status, 200, 'a request with a body is served again once the stalled answer is given up');
    } finally {
      socket.destroy();
    }
  });
});
