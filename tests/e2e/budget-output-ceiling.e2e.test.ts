/**
 * A maximum above the routed model's ceiling is sent as the ceiling when the request is
 * translated (Claude Code's 32,000 to gpt-4o goes as 16,384; an Anthropic caller's 200,000 to
 * gpt-5 as 128,000; an OpenAI caller's 128,000 to Sonnet 4.5 as 64,000), and the provider never bills past it: a budget holds the ceiling, not
 * what was asked; a request sent as written holds its own. Before, both requests were refused under an output-token budget that holds
 * the ceiling, sized by the caller's 32,000 and 128,000.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('a budget holds no more output than the routed model writes', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  /** The maximum each provider call was sent with. */
  const sent: number[] = [];

  before(async () => {
    // An OpenAI model (/v1/chat/completions) and a Claude (/v1/messages) that write all the
    // maximum they are given.
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as {
          model: string;
          max_tokens?: number;
          max_completion_tokens?: number;
        };
        const max = body.max_completion_tokens ?? body.max_tokens ?? 0;
        sent.push(max);
        res.writeHead(200, { 'content-type': 'application/json' });
        if (req.url?.endsWith('/messages')) {
          res.end(
            JSON.stringify({
              id: 'msg_ceiling',
              type: 'message',
              role: 'assistant',
              model: body.model,
              content: [{ type: 'text', text: 'word '.repeat(8) }],
              stop_reason: 'max_tokens',
              stop_sequence: null,
              usage: { input_tokens: 10, output_tokens: max },
            }),
          );
          return;
        }
        res.end(
          JSON.stringify({
            id: 'chatcmpl-ceiling',
            object: 'chat.completion',
            created: 1,
            model: body.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: 'word '.repeat(8) },
                finish_reason: 'length',
              },
            ],
            usage: { prompt_tokens: 10, completion_tokens: max, total_tokens: 10 + max },
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
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o, gpt-5]
        keys: [{ name: k1, secret: "sk-proj-ceilingabcdefghijklmnopqrstuvwxyz01234" }]
      - name: claude
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: code, limits: { tokens: { output: 20000, period: 1d } } }
          - { name: sdk, limits: { tokens: { output: 100000, period: 1d } } }
          - { name: same, limits: { tokens: { output: 20000, period: 1d } } }
          - { name: agent, limits: { tokens: { output: 150000, period: 1d } } }
`,
      { ANTHROPIC_KEY: 'sk-ant-api03-outputceilingabcdefghijklmnop' },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const key = (name: string) => gateway.proxyKeys.get(`dev@acme.test--${name}`)!;

  /** An Anthropic SDK caller's request with its own `max_tokens`: the answer, or the error. */
  const anthropicAsks = (keyName: string, model: string, maxTokens: number) => {
    sent.length = 0;
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: key(keyName), maxRetries: 0 });
    return anthropic.messages
      .create(
        { model, max_tokens: maxTokens, messages: [{ role: 'user', content: 'Hi' }] },
        // (A timeout of its own: the SDK asks to stream a request that may take this long.)
        { timeout: 60_000 },
      )
      .catch((error: unknown) => error);
  };

  it("an Anthropic caller's 32,000 to gpt-4o is held at 16,384, which a 20,000 budget holds", async () => {
    const answer = await anthropicAsks('code', 'gpt-4o', 32_000);
    assert.ok(!(answer instanceof Error), `refused: ${String(answer)}`);
    assert.deepEqual(sent, [16_384]);
    assert.equal((answer as Anthropic.Message).usage.output_tokens, 16_384);
  });

  it("an Anthropic caller's 200,000 to gpt-5 is sent and held at its 128,000, which a 150,000 budget holds", async () => {
    const answer = await anthropicAsks('agent', 'gpt-5', 200_000);
    assert.ok(!(answer instanceof Error), `refused: ${String(answer)}`);
    assert.deepEqual(sent, [128_000]);
    assert.equal((answer as Anthropic.Message).usage.output_tokens, 128_000);
  });

  it("an OpenAI caller's 128,000 to Sonnet 4.5 is held at 64,000, which a 100,000 budget holds", async () => {
    sent.length = 0;
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key('sdk'), maxRetries: 0 });
    const answer = await openai.chat.completions
      .create({
        model: 'claude-sonnet-4-5',
        max_completion_tokens: 128_000,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .catch((error: unknown) => error);
    assert.ok(!(answer instanceof Error), `refused: ${String(answer)}`);
    assert.deepEqual(sent, [64_000]);
    assert.equal((answer as OpenAI.ChatCompletion).usage?.completion_tokens, 64_000);
  });

  it('a second such request, past what is left, is refused with the held amount', async () => {
    // 20,000 - 16,384 = 3,616 left: the next request may take up to 16,384 (plus its prompt).
    const answer = await anthropicAsks('code', 'gpt-4o', 32_000);
    assert.ok(answer instanceof Anthropic.APIError && answer.status === 429, String(answer));
    assert.match(answer.message, /may take up to 16384 tokens/);
    assert.deepEqual(sent, []);
  });

  it('a request sent as written (OpenAI caller, gpt-4o) is held at its own maximum', async () => {
    // Not translated, its 32,000 reaches the provider, which refuses it above 16,384: Kordon
    // lowers nothing, so it holds what was asked (the ceiling is the provider's to enforce).
    sent.length = 0;
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key('same'), maxRetries: 0 });
    const answer = await openai.chat.completions
      .create({ model: 'gpt-4o', max_completion_tokens: 32_000, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((error: unknown) => error);
    assert.ok(answer instanceof OpenAI.APIError && answer.status === 429, String(answer));
    assert.match(answer.message, /may take up to 320\d\d tokens/);
    assert.deepEqual(sent, []);
  });
});
