import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const completion = (content: string) => ({
  id: 'chatcmpl-x',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const chunk = (content: string, finish: string | null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
const sse = (content: string) => `${chunk(content, null)}${chunk('', 'stop')}data: [DONE]\n\n`;

/**
 * Provider answers that are 2xx but not what was asked for: an answer of another shape, an
 * error sent with a success status, a finished answer or a web page for a stream request, a
 * compressed body. None is the caller's fault; each is tried on the next provider of the
 * chain when there is one, and is a 502 in the caller's dialect when there is not.
 */
describe('provider answers that are not what was asked for', () => {
  let odd: Server;
  let good: Server;
  let gateway: KordonUnderTest;
  const oddHeaders: IncomingHttpHeaders[] = [];

  const serve = (handle: (model: string, stream: boolean, res: import('node:http').ServerResponse) => void) =>
    createServer(async (req, res) => {
      let body = '';
      for await (const part of req) body += part;
      const request = JSON.parse(body) as { model: string; stream?: boolean };
      handle(request.model.replace(/-only$/, ''), request.stream === true, res);
    });

  before(async () => {
    odd = serve((model, stream, res) => {
      switch (model) {
        case 'wrong-shape':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: 'x', object: 'chat.completion' }));
          return;
        case 'bad-usage': {
          // A sloppy server: the answer is right, its usage is not.
          const body = {
            ...completion('answered'),
            usage: { prompt_tokens: null, completion_tokens: 2, total_tokens: null },
          };
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
          return;
        }
        case 'error-200':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: {
                message: 'quota exceeded for key sk-proj-leakedkey123456',
                type: 'insufficient_quota',
              },
            }),
          );
          return;
        case 'not-a-stream':
          // A server that ignores stream: true, or a proxy's page.
          res.writeHead(200, { 'content-type': stream ? 'application/json' : 'text/html' });
          res.end(stream ? JSON.stringify(completion('finished')) : '<html>blocked</html>');
          return;
        case 'gzip':
          res.writeHead(200, {
            'content-type': stream ? 'text/event-stream' : 'application/json',
            'content-encoding': 'gzip',
          });
          res.end(gzipSync(stream ? sse('compressed') : JSON.stringify(completion('compressed'))));
          return;
        case 'text-embedding-3-small':
        case 'gpt-4o-mini': {
          // An answer past the gateway's limit (1 MiB here), sent in parts, as a batch of
          // float embeddings is.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"object":"list","data":[');
          const vector = `{"object":"embedding","index":0,"embedding":[${'0.0123456789,'.repeat(20_000)}0]}`;
          for (let i = 0; i < 6 && !res.destroyed; i++) res.write(`${i ? ',' : ''}${vector}`);
          res.end('],"usage":{"prompt_tokens":9,"total_tokens":9}}');
          return;
        }
        default:
          res.writeHead(500).end();
      }
    });
    odd.on('request', (req) => oddHeaders.push(req.headers));
    good = serve((_model, stream, res) => {
      res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
      res.end(stream ? sse('from the next provider') : JSON.stringify(completion('from the next provider')));
    });
    for (const server of [odd, good])
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const models = ['wrong-shape', 'error-200', 'not-a-stream', 'gzip', 'bad-usage'];
    // One odd provider a scenario, first in each chain: its failures rest only its own key.
    const oddProviders = models
      .map(
        (model, i) => `
      - name: odd-${i}
        type: openai-compatible
        baseUrl: ${url(odd)}
        models: [${model}, ${model}-only]
        keys: [{ name: k1, secret: "sk-odd-provider-key-${i}-0123456789" }]`,
      )
      .join('');
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:${oddProviders}
      - name: big
        type: openai-compatible
        baseUrl: ${url(odd)}
        models: [text-embedding-3-small, gpt-4o-mini]
        keys:
          - { name: k1, secret: "sk-big-provider-key-1-0123456789" }
          - { name: k2, secret: "sk-big-provider-key-2-0123456789" }
      - name: good
        type: openai-compatible
        baseUrl: ${url(good)}
        models: [${models.join(', ')}]
        keys: [{ name: k1, secret: "sk-good-provider-key-0123456789" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { KORDON_MAX_RESPONSE_BYTES: String(1024 * 1024) },
    );
  });
  after(async () => {
    await gateway?.stop();
    odd?.close();
    good?.close();
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(), maxRetries: 0 });
  const anthropic = () => new Anthropic({ baseURL: gateway.url, apiKey: key(), maxRetries: 0 });
  const ask = (model: string) =>
    openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
  const askStreamed = async (model: string) => {
    let text = '';
    const stream = await openai().chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    return text;
  };
  const lastEvent = async () => (await gateway.requestEvents()).at(-1)!;

  it('an answer of another shape is the provider failing: the next provider serves, else a 502', async () => {
    assert.equal((await ask('wrong-shape')).choices[0]?.message.content, 'from the next provider');
    const alone = await ask('wrong-shape-only').catch((error: unknown) => error);
    assert.ok(alone instanceof OpenAI.InternalServerError && alone.status === 502, String(alone));
    assert.match(alone.message, /could not be read: choices/);
    const event = await lastEvent();
    assert.equal(event.type, 'RequestFailed');
    if (event.type === 'RequestFailed') {
      assert.equal(event.data.errorCode, 'upstream_unavailable');
      assert.equal(event.data.status, 502);
    }
    const viaAnthropic = await anthropic()
      .messages.create({
        model: 'wrong-shape-only',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((error: unknown) => error);
    assert.ok(
      viaAnthropic instanceof Anthropic.InternalServerError && viaAnthropic.status === 502,
      String(viaAnthropic),
    );
  });

  it('an answer whose only fault is its usage is served and counted, not asked again elsewhere', async () => {
    let goodCalls = 0;
    const counting = () => goodCalls++;
    good.on('request', counting);
    try {
      const answer = await ask('bad-usage');
      assert.equal(answer.choices[0]?.message.content, 'answered');
      assert.equal(goodCalls, 0, 'no second provider paid for the same answer');
      const event = await lastEvent();
      assert.equal(event.type, 'RequestCompleted');
      if (event.type !== 'RequestCompleted') return;
      assert.ok(event.data.usage.inputTokens > 0 && event.data.usage.outputTokens > 0, 'counted');
    } finally {
      good.off('request', counting);
    }
  });

  it("an error sent with a success status says the provider's message, never a key it echoes", async () => {
    const refused = await ask('error-200-only').catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.APIError && refused.status === 502, String(refused));
    assert.match(refused.message, /quota exceeded/);
    assert.doesNotMatch(refused.message, /leakedkey/);
    assert.equal((await ask('error-200')).choices[0]?.message.content, 'from the next provider');
  });

  it('a finished answer or a web page for a stream request is not forwarded as a broken stream', async () => {
    assert.equal(await askStreamed('not-a-stream'), 'from the next provider');
    const alone = await askStreamed('not-a-stream-only').catch((error: unknown) => error);
    assert.ok(alone instanceof OpenAI.APIError && alone.status === 502, String(alone));
    assert.match(alone.message, /answered a stream request with application\/json, not a stream/);
    const event = await lastEvent();
    assert.equal(event.type, 'RequestFailed');
    if (event.type === 'RequestFailed') assert.equal(event.data.status, 502, 'refused before the first byte');
  });

  it('providers are asked for identity; a compressed answer is decoded, a compressed stream passed over', async () => {
    oddHeaders.length = 0;
    assert.equal((await ask('gzip-only')).choices[0]?.message.content, 'compressed');
    assert.equal(oddHeaders.at(-1)?.['accept-encoding'], 'identity');
    assert.equal(await askStreamed('gzip'), 'from the next provider');
    const alone = await askStreamed('gzip-only').catch((error: unknown) => error);
    assert.ok(alone instanceof OpenAI.APIError && alone.status === 502, String(alone));
    assert.match(alone.message, /gzip/);
  });

  it('an answer too large to take is charged for its input and not bought again from another key', async () => {
    let calls = 0;
    const counting = () => calls++;
    odd.on('request', counting);
    try {
      const tooLarge = await openai()
        .embeddings.create({ model: 'text-embedding-3-small', input: ['one text', 'another text'] })
        .catch((error: unknown) => error);
      assert.ok(tooLarge instanceof OpenAI.APIError && tooLarge.status === 502, String(tooLarge));
      assert.match(tooLarge.message, /larger than this gateway takes .*1048576 bytes.*ask for a smaller one/);
      assert.equal(calls, 1, 'the second key was not asked to make the same answer again');
      const event = await lastEvent();
      assert.equal(event.type, 'RequestFailed');
      if (event.type !== 'RequestFailed') return;
      assert.equal(event.data.upstreamStatus, 200);
      assert.ok(event.data.usage.inputTokens >= 4, `input counted: ${event.data.usage.inputTokens}`);
      assert.ok(event.data.cost !== null && Number(event.data.cost) > 0, `input priced: ${event.data.cost}`);

      const chat = await ask('gpt-4o-mini').catch((error: unknown) => error);
      assert.ok(chat instanceof OpenAI.APIError && chat.status === 502, String(chat));
      assert.equal(calls, 2);
      // The keys answered: neither rests, nor is any recorded as failing.
      const keyEvents = (await gateway.allEvents()).filter((e) => e.type === 'ProviderKeyCooledDown');
      assert.deepEqual(keyEvents, []);
    } finally {
      odd.off('request', counting);
    }
  });
});
