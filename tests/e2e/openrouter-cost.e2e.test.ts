import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** What the server says each request cost, in OpenRouter credits (1 credit = 1 USD). */
const COST = 0.0001234;

/**
 * OpenRouter bills what its answer's `usage.cost` says (the routed provider's price and its
 * own fee, for models no price table lists): a provider with `vendor: openrouter` records that
 * cost, plain, streamed and translated; the same server as a generic OpenAI-compatible one is
 * priced from the table (here: unpriced, the model is not in it), its `cost` not believed.
 */
describe('OpenRouter: the cost it reports is the cost', () => {
  let server: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    server = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; stream?: boolean };
      // As OpenRouter: usage always, with its cost, in the answer or the stream's last chunk.
      const usage = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, cost: COST };
      const base = { id: 'gen-1', created: 1, model: body.model };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            choices: [
              { index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' },
            ],
            usage,
          }),
        );
        return;
      }
      const chunk = (choice: object, extra: object = {}) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, ...choice }], ...extra })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        `${chunk({ delta: { role: 'assistant', content: 'Hi there' }, finish_reason: null })}${chunk(
          { delta: {}, finish_reason: 'stop' },
          { usage },
        )}data: [DONE]\n\n`,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openrouter
        type: openai-compatible
        vendor: openrouter
        baseUrl: ${url}
        models: ["meta-llama/*"]
        keys: [{ name: k1, secret: "sk-or-v1-0123456789abcdef0123456789abcdef" }]
      - name: generic
        type: openai-compatible
        baseUrl: ${url}
        models: ["qwen/*"]
        keys: [{ name: k1, secret: "generic-key-0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(), maxRetries: 0 });
  const lastCompleted = async () => {
    const event = (await gateway.requestEvents()).at(-1);
    assert.equal(event?.type, 'RequestCompleted');
    if (event?.type !== 'RequestCompleted') throw new Error('no RequestCompleted');
    return event.data;
  };

  it('plain and streamed, the recorded cost is the reported one, in USD', async () => {
    const model = 'meta-llama/llama-3.3-70b-instruct';
    const plain = await openai().chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(plain.choices[0]?.message.content, 'Hi there');
    let data = await lastCompleted();
    assert.equal(data.cost, '0.0001234');
    assert.equal(data.currency, 'USD');
    assert.equal(data.usage.inputTokens, 12);

    const stream = await openai().chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    for await (const _ of stream) {
      // read to the end
    }
    data = await lastCompleted();
    assert.equal(data.cost, '0.0001234');
    assert.equal(data.stream, true);
  });

  it('an Anthropic SDK caller of an OpenRouter model is charged the reported cost too', async () => {
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: key(), maxRetries: 0 });
    const message = await anthropic.messages.create({
      model: 'meta-llama/llama-3.3-70b-instruct',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(message.usage.output_tokens, 3);
    assert.equal((await lastCompleted()).cost, '0.0001234');
  });

  it('a generic provider reporting a cost is priced by the table (the model is not in it: unpriced)', async () => {
    await openai().chat.completions.create({
      model: 'qwen/qwen-3-32b',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const data = await lastCompleted();
    assert.equal(data.cost, null);
    assert.equal(data.currency, null);
  });
});
