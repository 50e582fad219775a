import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** The chat fields Mistral's API takes; anything else is a 422, as Mistral answers it. */
const MISTRAL_FIELDS = new Set([
  'model',
  'messages',
  'stream',
  'temperature',
  'top_p',
  'max_tokens',
  'stop',
  'random_seed',
  'response_format',
  'tools',
  'tool_choice',
  'presence_penalty',
  'frequency_penalty',
  'n',
  'safe_prompt',
]);

const chunk = (delta: object, extra: object = {}) =>
  `data: ${JSON.stringify({ id: 'cmpl-m', object: 'chat.completion.chunk', created: 1, model: 'mistral-small-latest', choices: [{ index: 0, ...delta }], ...extra })}\n\n`;

/**
 * A provider's `vendor` reaches the adapter: a Mistral provider is not sent
 * `stream_options` (its API refuses unknown fields), and still has its usage counted, since
 * Mistral sends it unasked; the same server configured as a generic OpenAI-compatible one is
 * asked with `stream_options`, and refuses.
 */
describe('an OpenAI-compatible provider with a vendor', () => {
  let mistral: Server;
  let gateway: KordonUnderTest;
  const bodies: Record<string, unknown>[] = [];

  before(async () => {
    mistral = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as Record<string, unknown>;
      bodies.push(body);
      const unknown = Object.keys(body).filter((field) => !MISTRAL_FIELDS.has(field));
      if (unknown.length > 0) {
        res.writeHead(422, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'error',
            message: { detail: unknown.map((field) => ({ type: 'extra_forbidden', loc: ['body', field] })) },
            type: 'invalid_request_error',
            code: null,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        `${chunk({ delta: { role: 'assistant', content: 'Bonjour' }, finish_reason: null })}${chunk(
          { delta: { content: '' }, finish_reason: 'stop' },
          // Mistral puts the usage in the last chunk, unasked.
          { usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } },
        )}data: [DONE]\n\n`,
      );
    });
    await new Promise<void>((resolve) => mistral.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(mistral.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: mistral
        type: openai-compatible
        vendor: mistral
        baseUrl: ${url}
        models: [mistral-small-latest]
        keys: [{ name: k1, secret: "mistral-key-0123456789abcdef" }]
      - name: generic
        type: openai-compatible
        baseUrl: ${url}
        models: [generic-small]
        keys: [{ name: k1, secret: "generic-key-0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    mistral?.close();
  });

  const openai = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const askStreamed = async (model: string) => {
    let text = '';
    const stream = await openai().chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Salut' }],
      stream: true,
    });
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    return text;
  };

  it('a mistral provider is not sent stream_options, and its unasked usage is counted', async () => {
    bodies.length = 0;
    assert.equal(await askStreamed('mistral-small-latest'), 'Bonjour');
    assert.equal(bodies.length, 1);
    assert.equal(bodies[0]!.stream, true);
    assert.equal('stream_options' in bodies[0]!, false, JSON.stringify(bodies[0]));
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(event.data.usage.inputTokens, 7);
    assert.equal(event.data.usage.outputTokens, 2);
  });

  it('the same server as a generic provider is asked for usage with stream_options (and Mistral refuses it)', async () => {
    bodies.length = 0;
    const refused = await askStreamed('generic-small').catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.APIError, String(refused));
    assert.ok(bodies.length >= 1);
    assert.deepEqual(bodies[0]!.stream_options, { include_usage: true });
  });
});
