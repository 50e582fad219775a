/**
 * openai SDK -> Kordon -> Gemini, streamed with stream_options.include_usage. Gemini's
 * usageMetadata is a running total and the last one seen counts (Kordon's own parser says so);
 * Gemini 3 models send it on a chunk of its own that carries no text or call, after the chunk
 * with the finishReason (docker/docker-agent#2848, googleapis/go-genai#15).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const GEMINI_KEY = 'AIzaSyDstreamusagetestabcdefghijklmnopq';
let chunks: unknown[] = [];
const sse = (res: ServerResponse, list: unknown[]) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const c of list) res.write(`data: ${JSON.stringify(c)}\r\n\r\n`);
  res.end();
};

describe('openai SDK -> Gemini: usage that arrives after the finishReason chunk', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => sse(res, chunks));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: google
        type: gemini
        baseUrl: ${url}
        models: [gemini-2.5-flash, gemini-3-flash-preview]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { GEMINI_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });
  const client = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });

  it('the usage chunk the caller gets says the final totals (what Kordon records), not the count at the finishReason chunk', async () => {
    chunks = [
      {
        candidates: [
          { content: { role: 'model', parts: [{ text: 'Hello' }] }, finishReason: 'STOP', index: 0 },
        ],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 1, totalTokenCount: 11 },
        responseId: 'r1',
      },
      {
        usageMetadata: {
          promptTokenCount: 10,
          candidatesTokenCount: 2,
          thoughtsTokenCount: 40,
          totalTokenCount: 52,
        },
        responseId: 'r1',
      },
    ];
    const stream = await client().chat.completions.create({
      model: 'gemini-3-flash-preview',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const events = await gateway.requestEvents();
    const recorded = (events.at(-1)?.data as { usage?: { outputTokens?: number } } | undefined)?.usage;
    assert.equal(recorded?.outputTokens, 42, 'Kordon records the final totals');
    assert.equal(
      usage?.completion_tokens,
      42,
      'the caller was told a different completion_tokens than Kordon recorded',
    );
  });

  it('a finishReason chunk without usageMetadata followed by a usage-only chunk still gives the caller a usage chunk', async () => {
    chunks = [
      {
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hello' }] }, index: 0 }],
        responseId: 'r2',
      },
      {
        candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }],
        responseId: 'r2',
      },
      {
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, totalTokenCount: 12 },
        responseId: 'r2',
      },
    ];
    const stream = await client().chat.completions.create({
      model: 'gemini-3-flash-preview',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const events = await gateway.requestEvents();
    const recorded = (
      events.at(-1)?.data as { usage?: { inputTokens?: number; outputTokens?: number } } | undefined
    )?.usage;
    assert.deepEqual(
      { input: recorded?.inputTokens, output: recorded?.outputTokens },
      { input: 10, output: 2 },
      'Kordon records the usage Gemini sent',
    );
    assert.deepEqual(
      { prompt: usage?.prompt_tokens, completion: usage?.completion_tokens },
      { prompt: 10, completion: 2 },
    );
  });
});
