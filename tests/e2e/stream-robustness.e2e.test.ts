import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { KordonEvent } from '@kordon/events';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Wire = (req: IncomingMessage, res: ServerResponse, state: { closed: boolean }) => Promise<void>;
let wire: Wire = async (_req, res) => {
  res.writeHead(500);
  res.end();
};

const oaChunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
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

  const eventsOf = async (requestId: string | null | undefined): Promise<KordonEvent[]> => {
    for (let i = 0; i < 60; i++) {
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
});
