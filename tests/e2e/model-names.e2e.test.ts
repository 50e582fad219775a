import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * A wildcard (`local*`) matches any text, but the request events hold only model names of
 * up to 200 printable characters without spaces. A single-model server (llama.cpp's
 * llama-server, SGLang) ignores the name and answers whatever it is: a name the events refuse
 * would be served and then not recorded, its tokens outside every limit and budget. Such a
 * name is refused before anything is reserved or called, as any other model not served.
 */
describe('model names the request events cannot hold', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  let calls = 0;

  before(async () => {
    // As llama-server started with one GGUF: the model field is a label, ignored.
    server = createServer(async (req, res) => {
      calls++;
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; stream?: boolean };
      const usage = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 };
      const base = { id: 'chatcmpl-1', created: 1, model: 'local-llama' };
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
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: local
        type: openai-compatible
        baseUrl: ${url}
        models: ["local*"]
        keys: [{ name: k1, secret: "local-key-0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev, limits: { tokens: { total: 1000000, period: 1d } } }]
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  const apiKey = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: apiKey(), maxRetries: 0 });

  /** Runs `call`, which must be refused with a 400 naming `model`; then checks what was recorded. */
  async function refusedBeforeAnyCall(
    requested: string,
    call: () => Promise<unknown>,
    check: (error: unknown) => void,
  ) {
    const before = (await gateway.requestEvents()).length;
    const callsBefore = calls;
    const error = await call().then(
      () => assert.fail('the request was answered'),
      (thrown: unknown) => thrown,
    );
    check(error);
    assert.equal(calls, callsBefore, 'the provider was not called');
    const events = (await gateway.requestEvents()).slice(before);
    assert.deepEqual(
      events.map((event) => event.type),
      ['RequestRejected'],
    );
    const data = events[0]!.data as { reason: string; status: number; model: string | null };
    assert.equal(data.reason, 'invalid_request');
    assert.equal(data.status, 400);
    // What the events can hold of the name: nothing of one with a space or a line feed.
    if (/\s/.test(requested)) assert.equal(data.model, null);
  }

  const openAIBadModel = (error: unknown) => {
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.equal(error.param, 'model');
    assert.match(error.message, /model name/);
  };

  for (const [label, model] of [
    ['a space', 'local llama'],
    ['a line feed', 'local\nllama'],
    ['more than 200 characters', `local-${'x'.repeat(220)}`],
    ['a provider prefix and a space', 'local/local llama'],
  ] as const) {
    it(`a model name with ${label} is refused with a 400 naming model, before any call`, async () => {
      await refusedBeforeAnyCall(
        model,
        () => openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }),
        openAIBadModel,
      );
    });
  }

  it('streamed: refused the same way, before the stream starts', async () => {
    await refusedBeforeAnyCall(
      'local llama',
      () =>
        openai().chat.completions.create({
          model: 'local llama',
          messages: [{ role: 'user', content: 'Hi' }],
          stream: true,
        }),
      openAIBadModel,
    );
  });

  it("an Anthropic caller is refused in Anthropic's error shape", async () => {
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: apiKey(), maxRetries: 0 });
    await refusedBeforeAnyCall(
      'local llama',
      () =>
        anthropic.messages.create({
          model: 'local llama',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      (error) => {
        assert.ok(error instanceof Anthropic.BadRequestError, String(error));
        assert.equal((error.error as { error?: { type?: string } }).error?.type, 'invalid_request_error');
      },
    );
  });

  it('a name of 200 printable characters is served and its tokens recorded', async () => {
    const model = `local-${'x'.repeat(194)}`;
    const answer = await openai().chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(answer.choices[0]?.message.content, 'Hi there');
    const event = (await gateway.requestEvents()).at(-1);
    assert.equal(event?.type, 'RequestCompleted');
    const data = event!.data as { model: string; usage: { inputTokens: number; outputTokens: number } };
    assert.equal(data.model, model);
    assert.deepEqual([data.usage.inputTokens, data.usage.outputTokens], [12, 3]);
  });
});
