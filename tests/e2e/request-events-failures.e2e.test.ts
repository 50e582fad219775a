import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * The one event of a request that a provider's failure decided (overloaded, out of
 * credit): its status is the caller's, and its upstreamStatus is the provider's status, as the
 * catalogue defines it ("Status of the last provider response; null when none came back").
 */

function keyOf(req: IncomingMessage): string {
  const bearer = req.headers.authorization;
  if (typeof bearer === 'string') return bearer.replace(/^Bearer /, '');
  return String(req.headers['x-api-key'] ?? '');
}
function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe('request events of provider failures', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let key: string;
  const calls: string[] = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string };
      const path = req.url ?? '';
      const apiKey = keyOf(req);
      calls.push(`${path} ${apiKey}`);
      if (path.startsWith('/claude-busy/'))
        return json(res, 529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      if (path.startsWith('/openai-quota/'))
        return json(res, 429, {
          error: {
            message: 'You exceeded your current quota, please check your plan and billing details.',
            type: 'insufficient_quota',
            param: null,
            code: 'insufficient_quota',
          },
        });
      if (path.startsWith('/claude-credit/')) {
        if (apiKey.includes('spent'))
          return json(res, 400, {
            type: 'error',
            error: {
              type: 'invalid_request_error',
              message:
                'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
            },
          });
        return json(res, 200, {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [{ type: 'text', text: 'Hi there' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 5, output_tokens: 2 },
        });
      }
      if (path.startsWith('/openai-ok/'))
        return json(res, 200, {
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
        });
      json(res, 500, { error: { message: 'unexpected path' } });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      busy-claude: { input: 1, output: 2, currency: USD }
      quota-gpt: { input: 1, output: 2, currency: USD }
      credit-claude: { input: 1, output: 2, currency: USD }
      chain: { input: 1, output: 2, currency: USD }
    providers:
      - name: claude-chain
        type: anthropic
        baseUrl: ${base}/claude-credit
        models: [chain]
        keys: [{ name: k1, secret: "sk-ant-api03-chainaaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
      - name: oa-chain
        type: openai
        baseUrl: ${base}/openai-ok/v1
        models: [chain]
        keys: [{ name: k1, secret: "sk-proj-chainaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
      - name: busy
        type: anthropic
        baseUrl: ${base}/claude-busy
        models: [busy-claude]
        keys: [{ name: k1, secret: "sk-ant-api03-busyaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
      - name: quota
        type: openai
        baseUrl: ${base}/openai-quota/v1
        models: [quota-gpt]
        keys: [{ name: k1, secret: "sk-proj-quotaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }]
      - name: credit
        type: anthropic
        baseUrl: ${base}/claude-credit
        models: [credit-claude]
        stickiness: 'off'
        keys:
          - { name: spent, secret: "sk-ant-api03-spentaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
          - { name: good, secret: "sk-ant-api03-goodaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
    );
    key = k.proxyKeys.get('dev@acme.test--laptop')!;
  });
  after(async () => {
    await k?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  const anthropic = () => new Anthropic({ baseURL: k.url, apiKey: key, maxRetries: 0 });
  const openai = () => new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
  const eventsOf = async (requestId: string | null | undefined) =>
    (await k.requestEvents()).filter((e) => (e.data as { requestId?: string }).requestId === requestId);

  it('Claude 529 to an Anthropic caller: one RequestFailed, status 529, upstreamStatus 529', async () => {
    const error = await anthropic()
      .messages.create({ model: 'busy-claude', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    assert.ok(error instanceof Anthropic.APIError, String(error));
    assert.equal(error.status, 529);
    const events = await eventsOf(error.headers?.get('x-request-id'));
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.ok(event.type === 'RequestFailed', event.type);
    assert.equal(event.data.status, 529);
    assert.equal(event.data.errorCode, 'upstream_unavailable');
    assert.equal(event.data.provider, 'busy');
    assert.ok(event.data.providerKeyId);
    assert.equal(event.data.attempts, 1);
    assert.equal(event.data.upstreamStatus, 529, 'the provider answered 529: upstreamStatus must say so');
  });

  it('Claude 529 to an OpenAI caller: status 503 recorded, upstreamStatus 529', async () => {
    const error = await openai()
      .chat.completions.create({
        model: 'busy-claude',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((e: unknown) => e);
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, 503);
    const events = await eventsOf(error.headers?.get('x-request-id'));
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.ok(event.type === 'RequestFailed', event.type);
    assert.equal(event.data.status, 503);
    assert.equal(event.data.upstreamStatus, 529, 'the provider answered 529: upstreamStatus must say so');
  });

  it('OpenAI 429 insufficient_quota, no other key: 503 recorded, upstreamStatus 429', async () => {
    const error = await openai()
      .chat.completions.create({ model: 'quota-gpt', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, 503);
    const events = await eventsOf(error.headers?.get('x-request-id'));
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.ok(event.type === 'RequestFailed', event.type);
    assert.equal(event.data.status, 503);
    assert.equal(event.data.provider, 'quota');
    assert.equal(event.data.attempts, 1);
    assert.equal(event.data.upstreamStatus, 429, 'the provider answered 429: upstreamStatus must say so');
  });

  it('Claude credit too low on one key, the other serves: one RequestCompleted of the serving key, attempts 2', async () => {
    const keyIds = new Map<string, string>();
    for (const e of await k.allEvents())
      if (e.type === 'ProviderKeyAdded')
        keyIds.set((e.data as { name: string }).name, (e.data as { providerKeyId: string }).providerKeyId);
    // Twice: whichever key the balancer hands out first, one request meets the spent key first.
    for (let i = 0; i < 2; i++) {
      const { data, response } = await anthropic()
        .messages.create({
          model: 'credit-claude',
          max_tokens: 20,
          messages: [{ role: 'user', content: `hi ${i}` }],
        })
        .withResponse();
      assert.equal(data.content[0]?.type, 'text');
      const events = await eventsOf(response.headers.get('x-request-id'));
      assert.equal(events.length, 1);
      const event = events[0]!;
      assert.ok(event.type === 'RequestCompleted', event.type);
      assert.equal(event.data.providerKeyId, keyIds.get('good'));
      assert.equal(event.data.usage.inputTokens, 5);
      assert.equal(event.data.usage.outputTokens, 2);
      assert.equal(Number(event.data.cost), (5 * 1 + 2 * 2) / 1e6);
      assert.ok(event.data.latencyMs >= 0);
      assert.ok(event.data.clientIp);
    }
  });

  it('a chain whose first provider cannot translate the request: one RequestCompleted of the second, attempts 1', async () => {
    const { response } = await openai()
      .chat.completions.create({
        model: 'chain',
        logprobs: true,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    const events = await eventsOf(response.headers.get('x-request-id'));
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.ok(event.type === 'RequestCompleted', event.type);
    assert.equal(event.data.provider, 'oa-chain');
    assert.equal(event.data.attempts, 1);
    assert.equal(event.data.usage.inputTokens, 5);
    assert.equal(Number(event.data.cost), (5 * 1 + 2 * 2) / 1e6);
  });
});
