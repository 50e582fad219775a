/**
 * What a USD budget holds for a Claude request before it is sent: a prompt it asks Claude to
 * write to its prompt cache at the write rate (1.25x input, 2x for the 1-hour cache;
 * platform.claude.com/docs/en/about-claude/pricing, "Prompt caching"), and the tools it offers
 * that bill apart (docs/limits.md). The hold is an upper bound of what the request costs, so a
 * request whose worst case does not fit the budget left is refused.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ANTHROPIC_KEY = 'sk-ant-api03-cacheestimateabcdefghijklmnop';
/** ~2,500 tokens of text: $0.0075 at Sonnet 4.5's $3 input, $0.015 at its $6 1-hour cache write. */
const PROMPT = 'The quick brown fox jumps over the lazy dog. '.repeat(250);
/** What Claude reports writing to the 1-hour cache for that prompt. */
const WRITTEN = 2_500;
const BUDGET_USD = 0.01;
/** Less than one web search ($0.01), more than a short prompt. */
const SEARCH_BUDGET_USD = 0.005;

describe('what a USD budget holds for a Claude request', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as { model: string; tools?: unknown[] };
        res.writeHead(200, { 'content-type': 'application/json' });
        if (body.tools !== undefined) {
          // One web search (or a code run), a short answer.
          res.end(
            JSON.stringify({
              id: 'msg_tool',
              type: 'message',
              role: 'assistant',
              model: body.model,
              content: [{ type: 'text', text: 'ok' }],
              stop_reason: 'end_turn',
              stop_sequence: null,
              usage: {
                input_tokens: 20,
                output_tokens: 5,
                server_tool_use: {
                  web_search_requests: JSON.stringify(body.tools).includes('web_search') ? 1 : 0,
                },
              },
            }),
          );
          return;
        }
        res.end(
          JSON.stringify({
            id: 'msg_cache_write',
            type: 'message',
            role: 'assistant',
            model: body.model,
            content: [{ type: 'text', text: 'ok' }],
            stop_reason: 'max_tokens',
            stop_sequence: null,
            // A cache miss: the whole prompt written to the 1-hour cache, as asked.
            usage: {
              input_tokens: 4,
              cache_creation_input_tokens: WRITTEN,
              cache_read_input_tokens: 0,
              cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: WRITTEN },
              output_tokens: 1,
              service_tier: 'standard',
            },
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
        proxyKeys:
          - { name: block, limits: { budget: { usd: ${BUDGET_USD}, period: 1d } } }
          - { name: toplevel, limits: { budget: { usd: ${BUDGET_USD}, period: 1d } } }
          - { name: search, limits: { budget: { usd: ${SEARCH_BUDGET_USD}, period: 1d } } }
          - { name: code, limits: { budget: { usd: 5, period: 1d } } }
`,
      { ANTHROPIC_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const client = (name: string) =>
    new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${name}`)!,
      maxRetries: 0,
    });

  /** The USD the org's requests were recorded as costing so far (the cases run one after the other). */
  const spent = async (_key: string) => {
    let total = 0;
    for (const event of await gateway.requestEvents())
      if ((event.type === 'RequestCompleted' || event.type === 'RequestFailed') && event.data.cost !== null)
        total += Number(event.data.cost);
    return total;
  };

  it('a system prompt marked cache_control ttl 1h is held at the 1-hour cache write rate', async () => {
    const before = await spent('block');
    const answer = await client('block')
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 1,
        system: [{ type: 'text', text: PROMPT, cache_control: { type: 'ephemeral', ttl: '1h' } }],
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .catch((error: unknown) => error);
    const cost = (await spent('block')) - before;
    // Either the request is refused (its worst case, the 1-hour write, does not fit the $0.01
    // left), or what it cost fits the budget.
    assert.ok(
      answer instanceof Anthropic.APIError || cost <= BUDGET_USD,
      `admitted under a $${BUDGET_USD} budget and recorded $${cost.toFixed(6)}: the hold priced the prompt at $3/M, Claude bills its 1-hour cache write at $6/M`,
    );
  });

  it('the top-level cache_control ttl 1h is held at the 1-hour cache write rate', async () => {
    const before = await spent('toplevel');
    const answer = await client('toplevel')
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 1,
        cache_control: { type: 'ephemeral', ttl: '1h' },
        messages: [{ role: 'user', content: PROMPT }],
      } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((error: unknown) => error);
    const cost = (await spent('toplevel')) - before;
    assert.ok(
      answer instanceof Anthropic.APIError || cost <= BUDGET_USD,
      `admitted under a $${BUDGET_USD} budget and recorded $${cost.toFixed(6)}: the hold priced the prompt at $3/M, Claude bills its 1-hour cache write at $6/M`,
    );
  });

  it('a Claude request offering its web_search tool is held at its max_uses searches', async () => {
    // Claude's web search costs $10 per 1,000 searches (platform.claude.com pricing, "Web
    // search tool"), more than this budget holds: held, the request does not fit.
    const before = await spent('search');
    const answer = await client('search')
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 1 }],
        messages: [{ role: 'user', content: 'What changed in the news today?' }],
      })
      .catch((error: unknown) => error);
    const cost = (await spent('search')) - before;
    assert.ok(
      answer instanceof Anthropic.APIError || cost <= SEARCH_BUDGET_USD,
      `admitted under a $${SEARCH_BUDGET_USD} budget and recorded $${cost.toFixed(6)}: the hold priced no web search`,
    );
  });

  it("a Claude request offering its code_execution tool (billed per container hour) is refused under a USD budget, as OpenAI's code_interpreter is", async () => {
    // Decision 0014: a request offering a tool whose fee Kordon cannot price is refused where a
    // USD budget applies. Claude's code execution tool is billed per container hour when no web
    // search / web fetch tool of 2026-02-09 or later comes with it (the code execution tool page).
    const answer = await client('code')
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        tools: [{ type: 'code_execution_20250825', name: 'code_execution' }],
        messages: [{ role: 'user', content: 'Compute the standard deviation of 1..10.' }],
      })
      .catch((error: unknown) => error);
    assert.ok(
      answer instanceof Anthropic.PermissionDeniedError,
      `served under a USD budget: ${answer instanceof Error ? answer.message : 'a Message'}; the container hours it may bill cannot be held`,
    );
  });

  it('a Claude request offering code_execution with web_search_20260209 (code execution then free) is served', async () => {
    const answer = await client('code').messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      tools: [
        { type: 'web_search_20260209', name: 'web_search' },
        { type: 'code_execution_20250825', name: 'code_execution' },
      ],
      messages: [{ role: 'user', content: 'Find and average the latest figures.' }],
    } as Anthropic.MessageCreateParamsNonStreaming);
    assert.equal(answer.type, 'message');
  });
});
