/**
 * An org's own prices over the shipped table, as a request's cost records them: the org's rate
 * is the whole price of its tokens.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** An OpenAI-shaped upstream whose answers report the usage USAGE gives for the request's model. */
const USAGE: Record<string, OpenAI.CompletionUsage> = {
  // A long prompt (> 272K: the shipped gpt-5.4 long-context tier).
  'gpt-5.4': { prompt_tokens: 300_000, completion_tokens: 1_000, total_tokens: 301_000 },
  // Every prompt token read from the cache.
  'gpt-4o-mini': {
    prompt_tokens: 1_000_000,
    completion_tokens: 0,
    total_tokens: 1_000_000,
    prompt_tokens_details: { cached_tokens: 1_000_000 },
  },
};

async function startUpstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (part) => (text += part));
    req.on('end', () => {
      const body = JSON.parse(text) as { model: string };
      const usage = USAGE[body.model];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-prices',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Hello there friend' },
              finish_reason: 'stop',
            },
          ],
          ...(usage && { usage }),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("an org's prices over the shipped table", () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = await startUpstream();
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      # The org's own (internal charge-back) prices, above the list prices.
      gpt-5.4: { input: 10, output: 60 }
      # Served free to this org (e.g. a committed-spend deal): every token costs 0.
      gpt-4o-mini: { input: 0, output: 0 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${upstream.url}/v1
        models: [gpt-4o-mini, gpt-5.4]
        keys: [{ name: k1, secret: "sk-proj-orgpricesabcdefghijklmnopqrstuvwxyz01" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.server.close();
  });

  const openai = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const lastCompleted = async () => {
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') throw new Error('not completed');
    return event.data;
  };

  it("an org's price is not replaced by the shipped long-context rates on a long prompt", async () => {
    // The org prices gpt-5.4 at $10 / $60 per 1M: a 300K-token prompt and 1K output cost
    // 300,000 x $10/1M + 1,000 x $60/1M = $3.06, not the table's >272K tier ($5 / $22.50),
    // which would make the long prompt cheaper per token than a short one.
    await openai().chat.completions.create({ model: 'gpt-5.4', messages: [{ role: 'user', content: 'Hi' }] });
    const event = await lastCompleted();
    assert.equal(event.usage.inputTokens, 300_000);
    assert.equal(event.cost, '3.06');
  });

  it("an org's zero price is not billed for cache reads at the shipped cached-input rate", async () => {
    // The org prices gpt-4o-mini at 0 / 0: 1M prompt tokens all read from the cache cost 0, not
    // the table's $0.075 (a cache read dearer than an uncached token of the same model).
    await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const event = await lastCompleted();
    assert.equal(event.usage.cachedInputTokens, 1_000_000);
    assert.equal(event.cost, '0');
  });
});
