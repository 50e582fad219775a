import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * Which model the org's OpenRouter key serves is for routing and the model lists to say, not
 * the caller: OpenRouter tries a request's `models` in order when the primary model errors and
 * bills the model that answered (https://openrouter.ai/docs/guides/routing/model-fallbacks);
 * `route: "fallback"` has it pick the fallback itself, and a `preset` may name models. Such a
 * field is refused (400 naming it) before admission and before any call.
 */
describe('OpenRouter fields that choose other models', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  const received: Array<Record<string, unknown>> = [];

  before(async () => {
    server = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; models?: string[]; stream?: boolean };
      received.push(body as Record<string, unknown>);
      // As OpenRouter when the primary errors (a context too long, say): the last fallback
      // serves, and the answer names the model used.
      const served = Array.isArray(body.models) && body.models.length > 0 ? body.models.at(-1)! : body.model;
      const usage = { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, cost: 0.5 };
      if (body.stream) {
        const chunk = (extra: object) =>
          `data: ${JSON.stringify({ id: 'gen-1', created: 1, model: served, object: 'chat.completion.chunk', ...extra })}\n\n`;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          `${chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] })}${chunk(
            { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage },
          )}data: [DONE]\n\n`,
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'gen-1',
          created: 1,
          model: served,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
          usage,
        }),
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
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: cheap, limits: { models: ["meta-llama/llama-3.1-8b-instruct"] } }
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  const MODEL = 'meta-llama/llama-3.1-8b-instruct';
  const apiKey = () => gateway.proxyKeys.get('dev@acme.test--cheap')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: apiKey(), maxRetries: 0 });
  const chat = (fields: object, stream = false) =>
    openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hi' }],
      stream,
      // OpenRouter's own fields: the SDK sends unknown fields as they are.
      ...fields,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);

  /** `call` must be refused with a 400 naming `field`, with no call to OpenRouter and one RequestRejected. */
  async function refused(field: string, call: () => Promise<unknown>) {
    const events = (await gateway.requestEvents()).length;
    const calls = received.length;
    const error = await call().then(
      () => assert.fail('the request was served'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.equal(error.param, field);
    assert.match(error.message, new RegExp(`\`${field}\` is not passed on to OpenRouter`));
    assert.match(error.message, /fallback chain/);
    assert.equal(received.length, calls, 'OpenRouter was not called');
    const recorded = (await gateway.requestEvents()).slice(events);
    assert.deepEqual(
      recorded.map((event) => event.type),
      ['RequestRejected'],
    );
    const data = recorded[0]!.data as { reason: string; status: number; model: string | null };
    assert.deepEqual([data.reason, data.status, data.model], ['invalid_request', 400, MODEL]);
  }

  it('the model outside the lists is not routed when asked for as `model`', async () => {
    const error = await openai()
      .chat.completions.create({ model: 'openai/o1-pro', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((thrown: unknown) => thrown);
    assert.ok(error instanceof OpenAI.NotFoundError, String(error));
  });

  it('a `models` fallback list naming such a model is refused, before any call', async () => {
    await refused('models', () => chat({ models: ['openai/o1-pro'] }));
  });

  it('so is one naming only the allowed model, and a streamed request', async () => {
    await refused('models', () => chat({ models: [MODEL] }));
    await refused('models', () => chat({ models: ['openai/o1-pro'] }, true));
  });

  it('so are `route: "fallback"` (OpenRouter picks the fallback) and a `preset`', async () => {
    await refused('route', () => chat({ route: 'fallback' }));
    await refused('preset', () => chat({ preset: 'anything-goes' }));
  });

  it('a null `models` asks for nothing: served by the model asked for', async () => {
    const answer = await chat({ models: null });
    assert.equal(answer.model, MODEL);
    assert.equal(received.at(-1)!.model, MODEL);
  });

  it("an Anthropic caller's body is translated: the field does not reach OpenRouter", async () => {
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: apiKey(), maxRetries: 0 });
    await anthropic.messages.create({
      model: MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Hi' }],
      ...({ models: ['openai/o1-pro'] } as object),
    });
    const upstream = received.at(-1)!;
    assert.equal(upstream.model, MODEL);
    assert.equal(upstream.models, undefined);
  });
});
