import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** A fixed sequence (a linear congruential generator): the same chaos on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const chunk = (content: string, finish: string | null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

/**
 * Every request Kordon answers ends in exactly one event, whatever happens around it: an
 * upstream that resets connections before and during answers, answers 500 and 429, cuts
 * streams; clients of both SDKs that leave at any moment; plain and streamed, in parallel.
 */
describe('one event per request, under chaos', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const upstreamRandom = random(7);

  before(async () => {
    upstream = createServer(async (req, res) => {
      let body = '';
      for await (const part of req) body += part;
      const stream = (JSON.parse(body) as { stream?: boolean }).stream === true;
      const r = upstreamRandom();
      await new Promise((resolve) => setTimeout(resolve, Math.floor(upstreamRandom() * 30)));
      if (r < 0.05) return void req.socket.destroy();
      if (r < 0.1) {
        res.writeHead(500, { 'content-type': 'application/json' });
        return void res.end('{"error":{"message":"boom","type":"server_error"}}');
      }
      if (r < 0.13) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        return void res.end('{"error":{"message":"slow down","type":"requests"}}');
      }
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        if (r < 0.16) {
          res.write('{"id":"x","obj');
          return void setTimeout(() => req.socket.destroy(), 5);
        }
        return void res.end(
          JSON.stringify({
            id: 'x',
            object: 'chat.completion',
            created: 1,
            model: 'm',
            choices: [
              { index: 0, message: { role: 'assistant', content: 'hello there' }, finish_reason: 'stop' },
            ],
            usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
          }),
        );
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const words = 3 + Math.floor(upstreamRandom() * 10);
      const cutAt = r < 0.2 ? Math.floor(upstreamRandom() * words) : -1;
      for (let i = 0; i < words; i++) {
        if (i === cutAt) return void req.socket.destroy();
        res.write(chunk(`w${i} `, null));
        if (upstreamRandom() < 0.3) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      res.end(`${chunk('', 'stop')}data: [DONE]\n\n`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: raw
        type: openai-compatible
        baseUrl: http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1
        models: [chaos]
        keys:
          - { name: k1, secret: "sk-proj-chaos1-abcdefghijklmnopqrstuvwxyz" }
          - { name: k2, secret: "sk-proj-chaos2-abcdefghijklmnopqrstuvwxyz" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  it('every answered request has exactly one event, and no event is for a request never sent', async () => {
    const key = gateway.proxyKeys.get('dev@acme.test--dev')!;
    /** The x-request-id of every answer whose headers arrived: Kordon had the request. */
    const answered: string[] = [];
    const watching: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const id = response.headers.get('x-request-id');
      if (id) answered.push(id);
      return response;
    };
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0, fetch: watching });
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: key, maxRetries: 0, fetch: watching });
    const clientRandom = random(11);
    let sent = 0;
    const one = async () => {
      const controller = new AbortController();
      if (clientRandom() < 0.15) setTimeout(() => controller.abort(), Math.floor(clientRandom() * 60));
      const stream = clientRandom() < 0.6;
      const viaAnthropic = clientRandom() < 0.3;
      const signal = controller.signal;
      const messages = [{ role: 'user' as const, content: 'hi' }];
      sent++;
      try {
        if (viaAnthropic && stream)
          await anthropic.messages
            .stream({ model: 'chaos', max_tokens: 20, messages }, { signal })
            .finalMessage();
        else if (viaAnthropic)
          await anthropic.messages.create({ model: 'chaos', max_tokens: 20, messages }, { signal });
        else if (stream) {
          for await (const _ of await openai.chat.completions.create(
            { model: 'chaos', stream: true, messages },
            { signal },
          )) {
            // read to the end, or to the break
          }
        } else await openai.chat.completions.create({ model: 'chaos', messages }, { signal });
      } catch {
        // the chaos: errors in each SDK's terms, or the caller leaving
      }
    };
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        for (let i = 0; i < 20; i++) await one();
      }),
    );
    // Requests cut by their clients settle as those clients' connections close.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const events = await gateway.requestEvents();
    const ids = events.map((event) => (event.data as { requestId: string }).requestId);
    assert.equal(new Set(ids).size, ids.length, 'no request has two events');
    const recorded = new Set(ids);
    const missing = answered.filter((id) => !recorded.has(id));
    assert.deepEqual(missing, [], 'every answered request has its event');
    assert.ok(
      events.length <= sent && events.length >= answered.length,
      `${events.length} events, ${sent} sent`,
    );
    const kinds = new Set(events.map((event) => event.type));
    assert.ok(kinds.has('RequestCompleted') && kinds.has('RequestFailed'), [...kinds].join());
  });
});
