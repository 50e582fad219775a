import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * The one event of a request: it names the model the provider served, charges what the
 * providers billed for it (the prompts of attempts that timed out too), and says its status as
 * the catalogue defines it.
 */

function keyOf(req: IncomingMessage): string {
  const bearer = req.headers.authorization;
  return typeof bearer === 'string' ? bearer.replace(/^Bearer /, '') : '';
}
function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
const chunk = (model: string, delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('request events: model, charge, status', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let key: string;
  let budgetKey: string;
  const keyIds = new Map<string, string>();

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text || '{}') as { model: string };
      const path = req.url ?? '';
      // A key named "slow" never answers: its call times out before the first byte.
      if (keyOf(req).includes('slow')) return;
      if (path.startsWith('/bad/'))
        return json(res, 400, {
          error: {
            message: 'Invalid value for temperature',
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        });
      if (path.startsWith('/cut/')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk(body.model, { role: 'assistant', content: 'Hi there friend' }));
        setTimeout(() => res.socket?.destroy(), 100);
        return;
      }
      json(res, 200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 50, completion_tokens: 2, total_tokens: 52 },
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      mixed-gpt: { input: 1, output: 2, currency: USD }
      slow1-gpt: { input: 1, output: 2, currency: USD }
      slow2-gpt: { input: 1, output: 2, currency: USD }
      bad-gpt: { input: 1, output: 2, currency: USD }
      cut-gpt: { input: 1, output: 2, currency: USD }
    providers:
      - name: mixed
        type: openai
        baseUrl: ${base}/ok/v1
        models: [mixed-gpt]
        balancer: round-robin
        stickiness: 'off'
        timeouts: { firstByteMs: 300 }
        keys:
          - { name: mixed-slow, secret: "sk-proj-mixedslowaaaaaaaaaaaaaaaaaaaaaaaaaa" }
          - { name: mixed-good, secret: "sk-proj-mixedgoodaaaaaaaaaaaaaaaaaaaaaaaaaa" }
      - name: one-slow
        type: openai
        baseUrl: ${base}/ok/v1
        models: [slow1-gpt]
        timeouts: { firstByteMs: 300 }
        keys: [{ name: s1, secret: "sk-proj-slowoneaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
      - name: two-slow
        type: openai
        baseUrl: ${base}/ok/v1
        models: [slow2-gpt]
        stickiness: 'off'
        timeouts: { firstByteMs: 300 }
        keys:
          - { name: s2a, secret: "sk-proj-slowtwoaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
          - { name: s2b, secret: "sk-proj-slowtwobbbbbbbbbbbbbbbbbbbbbbbbbbbb" }
      - name: tier-slow
        type: openai
        baseUrl: ${base}/ok/v1
        models: [gpt-4o-mini]
        timeouts: { firstByteMs: 300 }
        keys: [{ name: t1, secret: "sk-proj-slowtieraaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
      - name: bad
        type: openai
        baseUrl: ${base}/bad/v1
        models: [bad-gpt]
        keys: [{ name: k1, secret: "sk-proj-badaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
      - name: cut
        type: openai
        baseUrl: ${base}/cut/v1
        models: [cut-gpt]
        keys: [{ name: k1, secret: "sk-proj-cutaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }, { name: budget, limits: { budget: { usd: 100, period: 1d } } }]
`);
    key = k.proxyKeys.get('dev@acme.test--laptop')!;
    budgetKey = k.proxyKeys.get('dev@acme.test--budget')!;
    for (const e of await k.allEvents())
      if (e.type === 'ProviderKeyAdded')
        keyIds.set((e.data as { name: string }).name, (e.data as { providerKeyId: string }).providerKeyId);
  });
  after(async () => {
    await k?.stop();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  const openai = (apiKey = key) => new OpenAI({ baseURL: `${k.url}/v1`, apiKey, maxRetries: 0 });
  /** The one event of a request, once the gateway has recorded it (10 s at most). */
  const eventOf = async (requestId: string | null | undefined): Promise<KordonEvent> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const events = (await k.requestEvents()).filter(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
      if (events.length > 0 || Date.now() > deadline) {
        assert.equal(events.length, 1, `one event for ${requestId}`);
        return events[0]!;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const prompt = [{ role: 'user' as const, content: 'tell me about the weather in Lisbon '.repeat(20) }];

  it('a request that fails over after a key timed out (the provider had its prompt) is charged that prompt too, where a budget holds it', async () => {
    // What Kordon charges a budget-held request for the prompt a timed-out key was sent: its
    // provider answers (and bills) the call anyway.
    const lone = await openai(budgetKey)
      .chat.completions.create({ model: 'slow1-gpt', messages: prompt })
      .catch((e: unknown) => e);
    assert.ok(lone instanceof OpenAI.APIError && lone.status === 504, String(lone));
    const alone = await eventOf(lone.headers?.get('x-request-id'));
    assert.ok(alone.type === 'RequestFailed');
    const timedOutPrompt = alone.data.usage.inputTokens;
    assert.ok(
      timedOutPrompt > 100,
      `the timed-out prompt is charged when nothing answers: ${timedOutPrompt}`,
    );

    // The same prompt to a provider whose first key times out and second answers (round robin:
    // one of two requests meets the slow key first).
    let failedOver: KordonEvent | undefined;
    for (let i = 0; i < 3 && !failedOver; i++) {
      const { response } = await openai(budgetKey)
        .chat.completions.create({ model: 'mixed-gpt', messages: prompt })
        .withResponse();
      const event = await eventOf(response.headers.get('x-request-id'));
      if (event.type === 'RequestCompleted' && event.data.attempts === 2) failedOver = event;
    }
    assert.ok(failedOver?.type === 'RequestCompleted', 'a request failed over from the slow key');
    assert.equal(failedOver.data.providerKeyId, keyIds.get('mixed-good'));
    // The answering key's provider billed 50 input tokens; the slow key's provider billed the
    // prompt as well, though another key served.
    assert.ok(
      failedOver.data.usage.inputTokens >= 50 + timedOutPrompt,
      `input tokens charged: ${failedOver.data.usage.inputTokens}; the answer's 50 plus the ${timedOutPrompt} the timed-out key's provider billed were expected`,
    );
    // Its cost too ($1 / $2 per million input / output tokens): the answer's and the prompt's.
    const micro = (cost: string | null) => Math.round(Number(cost) * 1e6);
    assert.equal(failedOver.data.currency, 'USD');
    assert.equal(micro(failedOver.data.cost), 50 + 2 * 2 + micro(alone.data.cost));
  });

  it('a request whose two keys both timed out is charged the prompt each provider call had, not once', async () => {
    const one = await openai(budgetKey)
      .chat.completions.create({ model: 'slow1-gpt', messages: prompt })
      .catch((e: unknown) => e);
    assert.ok(one instanceof OpenAI.APIError, String(one));
    const oneEvent = await eventOf(one.headers?.get('x-request-id'));
    assert.ok(oneEvent.type === 'RequestFailed');
    const two = await openai(budgetKey)
      .chat.completions.create({ model: 'slow2-gpt', messages: prompt })
      .catch((e: unknown) => e);
    assert.ok(two instanceof OpenAI.APIError, String(two));
    const twoEvent = await eventOf(two.headers?.get('x-request-id'));
    assert.ok(twoEvent.type === 'RequestFailed');
    assert.equal(twoEvent.data.errorCode, 'upstream_timeout');
    assert.equal(twoEvent.data.attempts, 2);
    assert.equal(
      twoEvent.data.usage.inputTokens,
      2 * oneEvent.data.usage.inputTokens,
      'two provider calls had the prompt: both are billed',
    );
    assert.equal(Number(twoEvent.data.cost), 2 * Number(oneEvent.data.cost));
  });

  it('the prompt of a timed-out call that asked for priority processing is charged at its rates', async () => {
    // The estimate holds such a request at gpt-4o-mini's priority rates ($0.25 per million
    // input tokens, not the standard $0.15): the provider that had its prompt bills them too.
    const error = await openai(budgetKey)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: prompt, service_tier: 'priority' })
      .catch((e: unknown) => e);
    assert.ok(error instanceof OpenAI.APIError && error.status === 504, String(error));
    const event = await eventOf(error.headers?.get('x-request-id'));
    assert.ok(event.type === 'RequestFailed');
    const inputTokens = event.data.usage.inputTokens;
    assert.ok(inputTokens > 100, `the timed-out prompt is charged: ${inputTokens}`);
    assert.equal(event.data.currency, 'USD');
    // In 10^-8 USD: 25 a token at priority, 15 at the standard rate.
    assert.equal(Math.round(Number(event.data.cost) * 1e8), 25 * inputTokens);
  });

  it('a RequestFailed of a provider-prefixed model names the model the provider was asked for, as RequestCompleted does', async () => {
    const error = await openai()
      .chat.completions.create({ model: 'bad/bad-gpt', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    assert.ok(error instanceof OpenAI.APIError && error.status === 400, String(error));
    const event = await eventOf(error.headers?.get('x-request-id'));
    assert.ok(event.type === 'RequestFailed');
    assert.equal(event.data.provider, 'bad');
    assert.equal(event.data.attempts, 1);
    // As RequestCompleted names it: a `model=bad-gpt` filter of the request log, and spend by
    // model, find this request.
    assert.equal(event.data.model, 'bad-gpt');
  });

  it('a priced stream the provider cut mid-way is recorded under the model its cost was priced by', async () => {
    const { data: stream, response } = await openai()
      .chat.completions.create({
        model: 'cut/cut-gpt',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    await assert.rejects(async () => {
      for await (const _ of stream) {
        // read until the cut
      }
    });
    const event = await eventOf(response.headers.get('x-request-id'));
    assert.ok(event.type === 'RequestFailed');
    assert.equal(event.data.errorCode, 'stream_interrupted');
    assert.ok(event.data.cost !== null, 'priced at cut-gpt');
    assert.equal(event.data.model, 'cut-gpt', 'its cost was priced as cut-gpt');
  });

  it('a stream the provider cut after it began records status null, as RequestFailed defines it', async () => {
    const { data: stream, response } = await openai()
      .chat.completions.create({
        model: 'cut-gpt',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    await assert.rejects(async () => {
      for await (const _ of stream) {
        // read until the cut
      }
    });
    const event = await eventOf(response.headers.get('x-request-id'));
    assert.ok(event.type === 'RequestFailed');
    assert.equal(event.data.errorCode, 'stream_interrupted');
    // events/src/catalogue/events/usage.ts: "HTTP status returned to the client; null when the
    // client was already gone or the stream had begun."
    assert.equal(event.data.status, null);
  });
});
