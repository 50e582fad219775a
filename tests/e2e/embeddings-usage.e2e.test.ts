/**
 * An embeddings answer whose usage says only `total_tokens`.
 *
 * OpenAI's embeddings usage has prompt_tokens and total_tokens, equal (an embedding has no
 * output). Some OpenAI-shaped embeddings servers report only `total_tokens` (Voyage AI's
 * /v1/embeddings: `usage: { total_tokens }`, as its clients read it): the tokens the provider
 * reported (and bills) are recorded and priced, not Kordon's own tokenizer count of the input.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('embeddings usage reported as total_tokens only', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as { model: string };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: [{ object: 'embedding', index: 0, embedding: [0.5, 0.25] }],
            model: body.model,
            usage: { total_tokens: 40 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      voyage-3.5: { input: 1000, output: 0, currency: USD }
    providers:
      - name: voyage
        type: openai-compatible
        baseUrl: ${url}
        models: [voyage-3.5]
        keys: [{ name: k1, secret: "pa-test-voyage-0123456789abcdefghijkl" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  it("the provider's total_tokens is recorded and priced when it reports no prompt_tokens", async () => {
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const answer = await openai.embeddings.create({ model: 'voyage-3.5', input: 'hello' });
    assert.equal(answer.usage.total_tokens, 40);
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(
      event.data.usage.inputTokens,
      40,
      `recorded ${event.data.usage.inputTokens} input tokens (cost ${event.data.cost}) for an answer reporting 40`,
    );
  });
});
