/**
 * Concurrent requests against a small USD budget through the real path. The documented
 * hold model (docs/limits.md "Reservations") makes one replica exact: every request holds an
 * upper bound of its cost, so the sum of what the admitted requests cost stays within the
 * budget. A Claude request offering a tool is billed Anthropic's tool-use system prompt (346
 * tokens with tool_choice auto, Claude 4.x; the gateway's own tokens/count.ts adds it), which
 * the "cheap upper bound" (one token per byte of the body) does not contain. A Responses
 * follow-up is billed the whole stored conversation it continues, which its body does not carry.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const ANTHROPIC_KEY = 'sk-ant-api03-auditholdsabcdefghijklmnopqrst';
/** What Claude bills as input for the small tool request below: 346 (tool prompt) + ~60. */
const BILLED_INPUT = 410;
const BUDGET_USD = 0.003;
const OPENAI_KEY = 'sk-proj-auditholds-abcdefghijklmnopqrstuvwxyz0123';
/** A stored conversation of 20,000 tokens that a follow-up continues: $0.02 at $1/M. */
const CONVERSATION_TOKENS = 20_000;
const FOLLOW_UP_BUDGET_USD = 0.05;

describe('USD budget holds under concurrency', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as { model: string; previous_response_id?: string };
        if (req.url?.endsWith('/responses')) {
          // OpenAI bills a follow-up the whole stored conversation it continues as input.
          setTimeout(() => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({
                id: `resp_audit${Math.random().toString(36).slice(2)}`,
                object: 'response',
                created_at: Math.floor(Date.now() / 1000),
                status: 'completed',
                model: body.model,
                output: [
                  {
                    type: 'message',
                    id: 'msg_audit',
                    status: 'completed',
                    role: 'assistant',
                    content: [{ type: 'output_text', text: 'ok', annotations: [] }],
                  },
                ],
                usage: {
                  input_tokens: body.previous_response_id ? CONVERSATION_TOKENS : 20,
                  input_tokens_details: { cached_tokens: 0 },
                  output_tokens: 1,
                  output_tokens_details: { reasoning_tokens: 0 },
                  total_tokens: (body.previous_response_id ? CONVERSATION_TOKENS : 20) + 1,
                },
              }),
            );
          }, 200);
          return;
        }
        // A little latency, so that the concurrent requests are in flight together.
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              id: 'msg_audit',
              type: 'message',
              role: 'assistant',
              model: body.model,
              content: [{ type: 'text', text: 'ok' }],
              stop_reason: 'max_tokens',
              stop_sequence: null,
              usage: { input_tokens: BILLED_INPUT, output_tokens: 1 },
            }),
          );
        }, 200);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 1, output: 1 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: claude
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-6]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: tools, limits: { budget: { usd: ${BUDGET_USD}, period: 1d } } }
          - { name: translated, limits: { budget: { usd: ${BUDGET_USD}, period: 1d } } }
          - { name: followups, limits: { budget: { usd: ${FOLLOW_UP_BUDGET_USD}, period: 1d } } }
          - { name: recorded, limits: { budget: { usd: ${FOLLOW_UP_BUDGET_USD}, period: 1d } } }
`,
      { ANTHROPIC_KEY, OPENAI_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  /** What the org's admitted requests were recorded as costing so far, and how many (cases run in turn). */
  const spent = async () => {
    let total = 0;
    let admitted = 0;
    for (const event of await gateway.requestEvents())
      if ((event.type === 'RequestCompleted' || event.type === 'RequestFailed') && event.data.cost !== null) {
        total += Number(event.data.cost);
        admitted++;
      }
    return { total, admitted };
  };

  const TOOL = {
    name: 'get_weather',
    description: 'Weather of a city',
    input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
  };

  it('30 concurrent Claude tool requests (Anthropic SDK, max_tokens set) do not spend more than the budget', async () => {
    const before = await spent();
    const client = new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--tools')!,
      maxRetries: 0,
    });
    await Promise.all(
      Array.from({ length: 30 }, () =>
        client.messages
          .create({
            model: 'claude-sonnet-4-6',
            max_tokens: 1,
            tools: [TOOL],
            messages: [{ role: 'user', content: 'Weather in Paris?' }],
          })
          .catch((error: unknown) => error),
      ),
    );
    const after = await spent();
    const total = after.total - before.total;
    const admitted = after.admitted - before.admitted;
    assert.ok(
      total <= BUDGET_USD + 1e-12,
      `${admitted} requests admitted under a $${BUDGET_USD} budget recorded $${total.toFixed(6)}: each was held at its body's bytes, without the ${346} tokens of Claude's tool-use prompt it is billed`,
    );
  });

  it('30 concurrent chat requests with tools (OpenAI SDK) routed to Claude do not spend more than the budget', async () => {
    const before = await spent();
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--translated')!,
      maxRetries: 0,
    });
    await Promise.all(
      Array.from({ length: 30 }, () =>
        client.chat.completions
          .create({
            model: 'claude-sonnet-4-6',
            max_tokens: 1,
            tools: [
              {
                type: 'function',
                function: {
                  name: TOOL.name,
                  description: TOOL.description,
                  parameters: TOOL.input_schema,
                },
              },
            ],
            messages: [{ role: 'user', content: 'Weather in Paris?' }],
          })
          .catch((error: unknown) => error),
      ),
    );
    const after = await spent();
    const total = after.total - before.total;
    const admitted = after.admitted - before.admitted;
    assert.ok(
      total <= BUDGET_USD + 1e-12,
      `${admitted} requests admitted under a $${BUDGET_USD} budget recorded $${total.toFixed(6)}: each was held without the tool-use prompt Claude bills`,
    );
  });

  it('10 concurrent Responses follow-ups (previous_response_id) do not spend more than the budget', async () => {
    const before = await spent();
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--followups')!,
      maxRetries: 0,
    });
    await Promise.all(
      Array.from({ length: 10 }, () =>
        client.responses
          .create({
            model: 'gpt-4o-mini',
            previous_response_id: 'resp_0123456789abcdef',
            input: 'Continue.',
            max_output_tokens: 100,
          })
          .catch((error: unknown) => error),
      ),
    );
    const after = await spent();
    const total = after.total - before.total;
    const admitted = after.admitted - before.admitted;
    assert.ok(
      total <= FOLLOW_UP_BUDGET_USD + 1e-12,
      `${admitted} follow-ups admitted under a $${FOLLOW_UP_BUDGET_USD} budget recorded $${total.toFixed(6)}: each was held at its own few bytes, not at the stored conversation OpenAI bills as its input`,
    );
  });

  it('a follow-up of an answer made through Kordon is held at that answer`s recorded tokens, so a small budget serves it', async () => {
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--recorded')!,
      maxRetries: 0,
    });
    const first = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Hello.',
      max_output_tokens: 100,
    });
    // 21 recorded tokens, its own few and 100 out: far below the window (128,000 tokens, $0.128).
    const followUp = await client.responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: first.id,
      input: 'Continue.',
      max_output_tokens: 100,
    });
    assert.equal(followUp.status, 'completed');
    // One not made here is held at the model's context window: more than the budget, refused.
    const unknown = await client.responses
      .create({ model: 'gpt-4o-mini', previous_response_id: 'resp_elsewhere', input: 'Continue.' })
      .catch((error: unknown) => error);
    assert.ok(unknown instanceof OpenAI.APIError && unknown.status === 429, String(unknown));
    assert.match(unknown.message, /may cost up to \$0\.13/);
  });
});
