/**
 * A Claude Messages request the estimator's schema once could not read (a `search_result`
 * content block, whose `source` is a URL string) has its system prompt held by an input budget:
 * before, the fallback counted the messages only, and a ~12,000-token system prompt was admitted
 * under a 2,000 input-token budget.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ANTHROPIC_KEY = 'sk-ant-api03-fallbackcountabcdefghijklmnopqr';

describe('the system prompt of an Anthropic body with a search_result block is held by an input budget', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let calls = 0;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        calls++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'msg_audit',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-5',
            content: [{ type: 'text', text: 'ok' }],
            stop_reason: 'end_turn',
            stop_sequence: null,
            // What Claude bills for this prompt: the system prompt is most of it.
            usage: { input_tokens: Math.ceil(text.length / 4), output_tokens: 1 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: claude
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev, limits: { tokens: { input: 2000, period: 1d } } }]
`,
      { ANTHROPIC_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  it('a 12k-token system prompt does not fit a 2,000 input-token budget', async () => {
    const anthropic = new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const system = 'You are a careful assistant who cites every source given to you. '.repeat(1000);
    const answer = await anthropic.messages
      .create({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        system: [{ type: 'text', text: system }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What does the source say?' },
              {
                type: 'search_result',
                source: 'https://example.com/a',
                title: 'A',
                content: [{ type: 'text', text: 'The sky is blue.' }],
              },
            ],
          },
        ],
      } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((error: unknown) => error);
    const events = await gateway.requestEvents();
    const spent = events
      .filter((e) => e.type === 'RequestCompleted')
      .reduce((sum, e) => sum + (e.type === 'RequestCompleted' ? e.data.usage.inputTokens : 0), 0);
    assert.ok(
      answer instanceof Anthropic.APIError && answer.status === 429,
      `admitted (provider asked ${calls} time(s)); ${spent} input tokens spent of a 2,000 budget`,
    );
    assert.equal(calls, 0);
  });
});
