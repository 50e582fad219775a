/**
 * A budget holds each of `n` choices: OpenAI (and Gemini's candidateCount, which `n` maps to)
 * makes and bills up to `max_tokens` per choice, so a chat request's admission estimate is the
 * prompt plus `max_tokens` times `n`; before, a request with n=10 under an output-token budget
 * of 3,000 was admitted on an estimate of 1,000 and spent 10,000.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('n > 1 choices are held against a budget', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let calls = 0;

  before(async () => {
    // An OpenAI-compatible server that answers every choice at full length, as OpenAI bills it.
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        calls++;
        const body = JSON.parse(text) as { n?: number; max_tokens?: number; max_completion_tokens?: number };
        const n = body.n ?? 1;
        const max = body.max_completion_tokens ?? body.max_tokens ?? 16;
        const choices = Array.from({ length: n }, (_, index) => ({
          index,
          message: { role: 'assistant', content: 'word '.repeat(8) },
          finish_reason: 'length',
        }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-n',
            object: 'chat.completion',
            created: 1,
            model: 'gpt-4o-mini',
            choices,
            usage: { prompt_tokens: 10, completion_tokens: n * max, total_tokens: 10 + n * max },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-nchoicesabcdefghijklmnopqrstuvwxyz0123" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev, limits: { tokens: { output: 3000, period: 1d } } }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  it('a request that may make 10 x 1,000 output tokens does not fit a 3,000-token budget', async () => {
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const answer = await openai.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'ten takes, please' }],
        n: 10,
        max_tokens: 1000,
      })
      .catch((error: unknown) => error);
    const events = await gateway.requestEvents();
    const spent = events
      .filter((e) => e.type === 'RequestCompleted')
      .reduce((sum, e) => sum + (e.type === 'RequestCompleted' ? e.data.usage.outputTokens : 0), 0);
    assert.ok(
      answer instanceof OpenAI.APIError && answer.status === 429,
      `admitted (provider asked ${calls} time(s)); ${spent} output tokens spent of a 3,000 budget`,
    );
    assert.equal(calls, 0);
  });
});
