import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { KordonEvent } from '@kordon/events';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Wire = (req: IncomingMessage, res: ServerResponse, state: { closed: boolean }) => Promise<void>;
let wire: Wire = async (_req, res) => {
  res.writeHead(500);
  res.end();
};

const oaChunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
const oaUsage = `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } })}\n\n`;
const an = (type: string, data: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const anStart = an('message_start', {
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 1 },
  },
});
const anBlockStart = an('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
const anText = (text: string) => an('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
const anEnd =
  an('content_block_stop', { index: 0 }) +
  an('message_delta', {
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 20 },
  }) +
  an('message_stop', {});
/*
 * Streaming robustness: a raw upstream plays each provider's stream wire; the callers are the
 * official SDKs or a raw TCP client (to see what reaches the wire, and when).
 */
describe('stream robustness', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let key: string;

  before(async () => {
    upstream = createServer(async (req, res) => {
      for await (const _ of req) {
        // body
      }
      const mine = { closed: false };
      res.on('close', () => {
        mine.closed = true;
      });
      await wire(req, res, mine).catch(() => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const timeouts = '{ idleMs: 3000, firstByteMs: 3000, totalMs: 20000 }';
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      qwen: { input: 0.1, output: 0.1, currency: USD }
    providers:
      - name: openrouter
        type: openai-compatible
        vendor: openrouter
        baseUrl: ${base}/or/v1
        models: [openai/gpt-4o]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "sk-or-v1-abcdefghijklmnopqrstuvwxyz" }]
      - name: vllm
        type: openai-compatible
        vendor: vllm
        baseUrl: ${base}/vllm/v1
        models: [qwen]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "vllm-key-abcdefghijklmnop" }]
      - name: claude
        type: anthropic
        baseUrl: ${base}/an
        models: [claude-opus-4-1]
        timeouts: ${timeouts}
        keys:
          - { name: k1, secret: "sk-ant-api03-flakykeyabcdefghijklmnopqrstu" }
          - { name: k2, secret: "sk-ant-api03-healthykeyabcdefghijklmnopqrs" }
      - name: claude-b
        type: anthropic
        baseUrl: ${base}/anb
        models: [claude-sonnet-4-5]
        timeouts: ${timeouts}
        keys:
          - { name: k1, secret: "sk-ant-api03-flakykeybbcdefghijklmnopqrstu" }
          - { name: k2, secret: "sk-ant-api03-healthykeybbcdefghijklmnopqrs" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
    key = k.proxyKeys.get('dev@acme.test--laptop')!;
  });
  after(async () => {
    await k?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  /** A request's events once it has one (10 s at most), then again a moment later, for any second one. */
  const eventsOf = async (requestId: string | null | undefined): Promise<KordonEvent[]> => {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const events = (await k.requestEvents()).filter(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
      if (events.length > 0) {
        await sleep(150);
        return (await k.requestEvents()).filter(
          (e) => (e.data as { requestId?: string }).requestId === requestId,
        );
      }
      await sleep(50);
    }
    return [];
  };

  async function anthropicRun(model: string) {
    const client = new Anthropic({ baseURL: k.url, apiKey: key, maxRetries: 0 });
    const { data: stream, response } = await client.messages
      .create({ model, max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    const requestId = response.headers.get('x-request-id');
    let text = '';
    let error: unknown;
    let stopped = false;
    try {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
          text += event.delta.text;
        if (event.type === 'message_stop') stopped = true;
      }
    } catch (e) {
      error = e;
    }
    return { requestId, text, error, stopped };
  }

  /** A raw client: when the first bytes of the answer reach the wire, and everything it got. */
  function rawRun(path: string, body: Record<string, unknown>) {
    const port = Number(new URL(k.url).port);
    const started = Date.now();
    const out = { firstBytesAfter: -1, text: '', ended: false };
    const payload = JSON.stringify(body);
    const socket = connect(port, '127.0.0.1');
    socket.write(
      `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
    socket.on('data', (c: Buffer) => {
      if (out.firstBytesAfter < 0) out.firstBytesAfter = Date.now() - started;
      out.text += c.toString('utf8');
    });
    socket.on('close', () => {
      out.ended = true;
    });
    socket.on('error', () => {});
    return { out, socket };
  }

  it("vLLM's mid-stream error frame (integer code) reaches an Anthropic SDK caller with the provider's message", async () => {
    // vLLM's OpenAI server (OpenAIServing.create_streaming_error_response) writes
    // {"error":{"message","type","param","code":<HTTP status as an integer>}} into the stream;
    // OpenRouter's ErrorResponse has `code: number` too.
    wire = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(oaChunk('Half an'));
      await sleep(20);
      res.end(
        `data: ${JSON.stringify({ error: { message: 'The engine ran out of KV cache blocks', type: 'InternalServerError', param: null, code: 500 } })}\n\n`,
      );
    };
    const run = await anthropicRun('qwen');
    assert.ok(run.error, 'the SDK raised');
    const message = String((run.error as Error).message);
    const events = await eventsOf(run.requestId);
    assert.equal(events.length, 1);
    assert.match(
      message,
      /ran out of KV cache/,
      `the caller is told what the provider said, got: ${message.slice(0, 400)}`,
    );
    assert.doesNotMatch(message, /malformed|invalid_type|expected/, 'not a schema dump');
  });

  it("keep-alive comments the provider sends while the model thinks reach the caller's connection (it is not left silent)", async () => {
    // OpenRouter's streaming reference: ": OPENROUTER PROCESSING" comments are sent "to prevent
    // connection timeouts" while a model has not started answering. The 200 and the comments
    // reach a direct caller at once; through Kordon the caller's connection must not go silent
    // for the whole wait (a proxy's or load balancer's idle timeout in front of Kordon cuts it).
    wire = async (_req, res, s) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 16 && !s.closed; i++) {
        res.write(': OPENROUTER PROCESSING\n\n');
        await sleep(250);
      }
      res.end(`${oaChunk('hello')}${oaChunk('', 'stop')}${oaUsage}data: [DONE]\n\n`);
    };
    const { out, socket } = rawRun('/v1/chat/completions', {
      model: 'openai/gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    for (let i = 0; i < 200 && !out.text.includes('[DONE]'); i++) await sleep(50);
    socket.destroy();
    assert.ok(out.text.includes('hello'), `the answer came: ${out.text.slice(-200)}`);
    // The answer comes after 16 pauses of 250 ms (4 s or more, however loaded the machine):
    // bytes before 3 s can only be the status line and the keep-alives.
    assert.ok(
      out.firstBytesAfter >= 0 && out.firstBytesAfter < 3000,
      `the provider answered 200 and sent a keep-alive every 250 ms for 4 s, but the caller got its first byte (even the status line) only after ${out.firstBytesAfter} ms`,
    );
  });

  it('a key whose streams fail with an overloaded error event before any content: not chosen again and again (at most one of six requests fails)', async () => {
    // Anthropic's errors reference: an error may come as an SSE `error` event after a 200
    // (overloaded_error is the common one). Nothing reached the caller yet: the next key could
    // serve, and the balancer must learn that the key failed, as it does for a 529 status.
    const used: string[] = [];
    wire = async (req, res) => {
      const flaky = String(req.headers['x-api-key'] ?? req.headers.authorization).includes('flaky');
      used.push(flaky ? 'k1' : 'k2');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (flaky) {
        res.end(
          `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
        );
        return;
      }
      res.end(anStart + anBlockStart + anText('hello') + anEnd);
    };
    const failures: string[] = [];
    for (let i = 0; i < 6; i++) {
      const run = await anthropicRun('claude-opus-4-1');
      if (run.error || !run.stopped) failures.push(String(run.error).slice(0, 120));
    }
    assert.ok(
      failures.length <= 1,
      `${failures.length} of 6 requests failed; keys asked in turn: ${used.join(',')} (the overloaded key is asked again every other request): ${failures[0]}`,
    );
  });

  it('a key whose streams reset right after the 200 (before any event): not chosen again and again', async () => {
    const used: string[] = [];
    wire = async (req, res) => {
      const flaky = String(req.headers['x-api-key'] ?? req.headers.authorization).includes('flaky');
      used.push(flaky ? 'k1' : 'k2');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (flaky) {
        res.flushHeaders();
        await sleep(20);
        res.socket?.resetAndDestroy();
        return;
      }
      res.end(anStart + anBlockStart + anText('hello') + anEnd);
    };
    const failures: string[] = [];
    for (let i = 0; i < 6; i++) {
      const run = await anthropicRun('claude-opus-4-1');
      if (run.error || !run.stopped) failures.push(String(run.error).slice(0, 120));
    }
    assert.ok(
      failures.length <= 1,
      `${failures.length} of 6 requests failed; keys asked in turn: ${used.join(',')}: ${failures[0]}`,
    );
  });
  it('a keep-alive right behind an error event before any content does not commit a translated stream: the next key serves', async () => {
    // Claude's error event and a keep-alive comment in one network read, as two chunks, to an
    // OpenAI caller: the error event translates to nothing yet, so nothing waits to be written
    // when the keep-alive comes. It must not send the 200 (committing the caller to a stream
    // that has already failed), or the attempt could no longer go to the next key.
    const used: string[] = [];
    wire = async (req, res) => {
      const flaky = String(req.headers['x-api-key']).includes('flaky');
      used.push(flaky ? 'k1' : 'k2');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (flaky) {
        res.cork();
        res.write(
          `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
        );
        res.write(': keep-alive\n\n');
        res.uncork();
        await sleep(50);
        res.end();
        return;
      }
      res.end(anStart + anBlockStart + anText('hello') + anEnd);
    };
    const openai = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
    const failures: string[] = [];
    for (let i = 0; i < 4; i++) {
      let text = '';
      try {
        const stream = await openai.chat.completions.create({
          model: 'claude-sonnet-4-5',
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        });
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        if (text !== 'hello') failures.push(`answered ${JSON.stringify(text)}`);
      } catch (error) {
        failures.push(String(error).slice(0, 160));
      }
    }
    assert.ok(used.includes('k1'), `the flaky key was asked: ${used.join(',')}`);
    assert.deepEqual(failures, [], `keys asked in turn: ${used.join(',')}`);
  });
});
