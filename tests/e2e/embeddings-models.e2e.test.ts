/**
 * Embeddings prices and the model list through the unmodified SDKs, against a small OpenAI
 * embeddings upstream that reports 1,000 prompt tokens a call.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('embeddings prices and the model list', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as { model: string; input: unknown };
        const inputs = Array.isArray(body.input) ? body.input : [body.input];
        const data = inputs.map((_, index) => ({
          object: 'embedding',
          index,
          embedding: [0, 0.1, 0.2, 0.3],
        }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data,
            model: body.model,
            usage: { prompt_tokens: 1000, total_tokens: 1000 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [text-embedding-3-small, text-embedding-ada-002, gpt-4o-mini, "gpt-4.1*"]
        keys: [{ name: k1, secret: "sk-proj-embeddingsmodelsabcdefghijklmnopqrs" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(), maxRetries: 0 });

  it('text-embedding-ada-002 calls are priced ($0.10 per 1M input tokens)', async () => {
    await openai().embeddings.create({ model: 'text-embedding-ada-002', input: 'hello' });
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(event.data.usage.inputTokens, 1000);
    assert.equal(event.data.cost, '0.0001', `recorded cost ${event.data.cost} for 1,000 ada-002 tokens`);
  });
});
