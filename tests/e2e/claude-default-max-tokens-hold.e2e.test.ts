/**
 * An OpenAI-SDK request without a maximum, routed to Claude, is sent with the `max_tokens` the
 * translate layer gives it: the provider's `defaultMaxTokens`, else the model's own ceiling from
 * Claude 4.5 on (64,000 for Sonnet 4.5), plus a thinking budget when it asks to reason. A budget
 * holds that, not 4,096: before, such a request under an output-token budget of 10,000 was
 * admitted on an estimate of 4,096 and could spend 64,000.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('an OpenAI chat request without max_tokens routed to Claude', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let calls = 0;

  before(async () => {
    // A Claude that writes all the max_tokens it is given.
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        calls++;
        const body = JSON.parse(text) as { model: string; max_tokens: number };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'msg_long',
            type: 'message',
            role: 'assistant',
            model: body.model,
            content: [{ type: 'text', text: 'word '.repeat(8) }],
            stop_reason: 'max_tokens',
            stop_sequence: null,
            usage: { input_tokens: 10, output_tokens: body.max_tokens },
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
      - name: claude16k
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-0]
        defaultMaxTokens: 16000
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: dev, limits: { tokens: { output: 10000, period: 1d } } }
          - { name: think, limits: { tokens: { output: 20000, period: 1d } } }
`,
      { ANTHROPIC_KEY: 'sk-ant-api03-defaultmaxholdabcdefghijklmnop' },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const client = (name: string) =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${name}`)!,
      maxRetries: 0,
    });

  const outputSpent = async () =>
    (await gateway.requestEvents())
      .filter((e) => e.type === 'RequestCompleted')
      .reduce((sum, e) => sum + (e.type === 'RequestCompleted' ? e.data.usage.outputTokens : 0), 0);

  it("is held at the model's ceiling (64,000 on Sonnet 4.5), which a 10,000 budget cannot hold", async () => {
    calls = 0;
    const answer = await client('dev')
      .chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    assert.ok(
      answer instanceof OpenAI.APIError,
      `admitted (provider asked ${calls} time(s)); ${await outputSpent()} output tokens spent of a 10,000 budget`,
    );
    assert.equal(calls, 0);
  });

  it('with reasoning_effort, is held at defaultMaxTokens plus the thinking budget added to it', async () => {
    calls = 0;
    const before = await outputSpent();
    // Sonnet 4 thinks by budget: high is 24,576 added to the provider's 16,000.
    const answer = await client('think')
      .chat.completions.create({
        model: 'claude-sonnet-4-0',
        reasoning_effort: 'high',
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .catch((error: unknown) => error);
    assert.ok(
      answer instanceof OpenAI.APIError,
      `admitted (provider asked ${calls} time(s)); ${(await outputSpent()) - before} output tokens spent of a 20,000 budget`,
    );
    assert.equal(calls, 0);
  });
});
