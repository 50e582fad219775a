/**
 * Embeddings whose input is token ids (as LangChain's OpenAIEmbeddings sends by default:
 * `[[9906, 1917], ...]`), served by an OpenAI-compatible server that reports no usage, are
 * recorded with a token apiece and priced, as the admission estimate counts them; before, the
 * fallback count kept only string inputs, and such calls cost budgets nothing.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('token-id embeddings without provider usage', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    // A compatible embeddings server that sends no usage object.
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const { input } = JSON.parse(text) as { input: unknown[] };
        const data = input.map((_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3] }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data, model: 'text-embedding-3-small' }));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: local
        type: openai-compatible
        baseUrl: ${url}
        models: [text-embedding-3-small]
        keys: [{ name: k1, secret: "sk-local-embeddings-key-0123456789" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  it('records the token ids it sent as input tokens', async () => {
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const ids = Array.from({ length: 500 }, (_, i) => 1000 + i);
    await openai.embeddings.create({ model: 'text-embedding-3-small', input: [ids, ids] });
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(
      event.data.usage.inputTokens,
      1000,
      `recorded ${event.data.usage.inputTokens} input tokens, cost ${event.data.cost}`,
    );
  });
});
