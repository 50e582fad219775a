/**
 * A provider that echoes the key it was called with (self-hosted servers and proxies do)
 * must never get that key in front of the caller, whatever path its words take: an HTTP
 * error, a 2xx answer that is an error object, an error event in a stream forwarded as it
 * came or translated, on chat, Responses and embeddings. A key of no known shape (an Azure
 * key is 32 hex characters; a self-hosted server's key is anything) is cut out as the call's
 * own secret, not by a pattern.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** Shaped like an Azure OpenAI key: matches none of the redaction patterns. */
const PROVIDER_KEY = '3f9a1c0e7b2d4e6f8a0b1c2d3e4f5a6b';
/** Another, that starts with a letter: shaped like an identifier, as a provider's code is. */
const IDENTIFIER_KEY = 'a3f9c1e07b2d4e6f8a0b1c2d3e4f5a6b';

describe('a provider echoing its key', () => {
  let provider: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    provider = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; stream?: boolean };
      const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const error = {
        error: { message: `Incorrect API key provided: ${key}`, type: 'invalid_request_error' },
      };
      if (req.url === '/v1/responses' && body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          `event: error\ndata: ${JSON.stringify({ type: 'error', code: 'invalid_api_key', message: error.error.message, param: null })}\n\n`,
        );
        return;
      }
      switch (body.model.replace(/^responses-/, '')) {
        case 'echo-400':
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(error));
          return;
        case 'failed-response':
          // A response object that failed, sent with a 200 (as a background response is read).
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              id: 'resp_failed',
              object: 'response',
              created_at: 1,
              status: 'failed',
              model: body.model,
              output: [],
              error: { code: 'server_error', message: error.error.message },
              usage: { input_tokens: 1, output_tokens: 0, total_tokens: 1 },
            }),
          );
          return;
        case 'echo-code-400':
          // The key as the error's code: a server that names what it refused there.
          res
            .writeHead(400, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: { message: 'bad key', type: 'invalid_request_error', code: key } }));
          return;
        case 'echo-type-429':
          // The key as an OpenAI 429's type (where OpenAI names the budget that ran out).
          res
            .writeHead(429, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: { message: 'slow down', type: key, code: 'rate_limit_exceeded' } }));
          return;
        case 'echo-200':
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(error));
          return;
        case 'echo-stream':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(`data: ${JSON.stringify(error)}\n\n`);
          return;
        default:
          res.writeHead(500).end();
      }
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
    // One provider (with its own key) a scenario, so that one's failures never rest another's key.
    // OpenAI's own type serves the Responses API.
    const providers = [
      'echo-400',
      'echo-200',
      'echo-stream',
      'responses-echo-200',
      'responses-echo-stream',
      'responses-failed-response',
      'echo-code-400',
      'echo-type-429',
    ]
      .map(
        (model) => `
      - name: p-${model}
        type: ${model.startsWith('responses-') ? 'openai' : 'openai-compatible'}
        baseUrl: ${url}
        models: [${model}]
        keys: [{ name: k1, secret: "${/code|type/.test(model) ? IDENTIFIER_KEY : PROVIDER_KEY}" }]`,
      )
      .join('');
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:${providers}
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    provider?.close();
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key()}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };

  it('control: a 4xx echoing the key is answered without it (the call secret is cut)', async () => {
    const answer = await post('/v1/chat/completions', {
      model: 'echo-400',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.status, 400);
    assert.ok(!answer.text.includes(PROVIDER_KEY), `the caller got the provider key: ${answer.text}`);
  });

  it("a 4xx whose code is the key is answered without that code, with the provider's message", async () => {
    const answer = await post('/v1/chat/completions', {
      model: 'echo-code-400',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.status, 400);
    assert.match(answer.text, /bad key/);
    assert.ok(!answer.text.includes(IDENTIFIER_KEY), `the caller got the provider key: ${answer.text}`);
  });

  it('a 429 whose type is the key is answered without that type', async () => {
    const answer = await post('/v1/chat/completions', {
      model: 'echo-type-429',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.status, 429);
    assert.match(answer.text, /slow down/);
    assert.ok(!answer.text.includes(IDENTIFIER_KEY), `the caller got the provider key: ${answer.text}`);
  });

  it('a 2xx error object echoing the key is answered without it', async () => {
    const answer = await post('/v1/chat/completions', {
      model: 'echo-200',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.status, 502);
    assert.ok(!answer.text.includes(PROVIDER_KEY), `the caller got the provider key: ${answer.text}`);
  });

  it('an error event a stream opens with answers as the status it names, without the key', async () => {
    const answer = await post('/v1/chat/completions', {
      model: 'echo-stream',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    // Nothing reached the caller before it: the attempt failed as a 400 would have.
    assert.equal(answer.status, 400);
    assert.match(answer.text, /Incorrect API key provided: \[redacted\]/);
    assert.ok(!answer.text.includes(PROVIDER_KEY), `the caller got the provider key: ${answer.text}`);
  });

  it('Responses: a 2xx error object is a 502 without it, so is a stream that opens with an error event', async () => {
    const plain = await post('/v1/responses', { model: 'responses-echo-200', input: 'hi' });
    assert.equal(plain.status, 502);
    assert.match(plain.text, /an error and a success status: Incorrect API key provided: \[redacted\]/);
    const streamed = await post('/v1/responses', {
      model: 'responses-echo-stream',
      input: 'hi',
      stream: true,
    });
    // Nothing reached the caller before it: the attempt failed, and with no other key to ask,
    // the caller hears why, as from a chat stream that opens with one.
    assert.equal(streamed.status, 502);
    assert.match(streamed.text, /Incorrect API key provided: \[redacted\]/);
    assert.ok(!plain.text.includes(PROVIDER_KEY), `the caller got the provider key: ${plain.text}`);
    assert.ok(!streamed.text.includes(PROVIDER_KEY), `the caller got the provider key: ${streamed.text}`);
  });

  it('Responses: a failed response sent with a 200 is answered without it, as its stream is', async () => {
    const answer = await post('/v1/responses', { model: 'responses-failed-response', input: 'hi' });
    assert.equal(answer.status, 200);
    assert.match(answer.text, /"status":"failed"/);
    assert.match(answer.text, /Incorrect API key provided: \[redacted\]/);
    assert.ok(!answer.text.includes(PROVIDER_KEY), `the caller got the provider key: ${answer.text}`);
  });

  it('embeddings: a 2xx error object is a 502 without it, not a 200 forwarding it', async () => {
    const answer = await post('/v1/embeddings', { model: 'echo-200', input: 'hi' });
    assert.equal(answer.status, 502);
    assert.ok(!answer.text.includes(PROVIDER_KEY), `the caller got the provider key: ${answer.text}`);
  });

  it('an error event in a translated stream echoing the key is answered without it', async () => {
    const answer = await post(
      '/v1/messages',
      { model: 'echo-stream', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      { 'anthropic-version': '2023-06-01' },
    );
    assert.ok(answer.text.includes('error'), `expected an error event: ${answer.text}`);
    assert.ok(!answer.text.includes(PROVIDER_KEY), `the caller got the provider key: ${answer.text}`);
  });
});
