import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * An org's own prices set through the admin API may carry peak hours and long-context tiers,
 * and the gateway prices by them: a negotiated DeepSeek rate at its own peak multiple in its
 * own hours (the clock, Date only, set by the test), a long prompt at its own tier's rates.
 */

const ADMIN_TOKEN = randomBytes(32).toString('base64url');

/** The usage the upstream reports: a long prompt when the message says "long". */
const usageOf = (prompt: string) =>
  prompt === 'long'
    ? {
        prompt_tokens: 2000,
        completion_tokens: 100,
        prompt_cache_hit_tokens: 0,
        prompt_cache_miss_tokens: 2000,
      }
    : {
        prompt_tokens: 1000,
        completion_tokens: 100,
        prompt_cache_hit_tokens: 200,
        prompt_cache_miss_tokens: 800,
      };

// deepseek-chat at the org's rates (per 1M): 800 misses at $0.10, 200 hits at $0.01, 100 out at $0.50.
const ORG_OFF_PEAK = '0.000132';
// Three times that in the org's peak hours.
const ORG_PEAK = '0.000396';
// deepseek-v4-pro at the org's rates: 1000 in at $1, 100 out at $2; above 1,000 prompt tokens
// the tier's for the whole request: 2000 in at $4, 100 out at $8.
const BASE = '0.0012';
const TIER = '0.0088';

describe('org prices with their own peak hours and long-context tiers, set through the admin API', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; messages: { content: string }[] };
      const usage = usageOf(body.messages[0]?.content ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Bonjour' }, finish_reason: 'stop' }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        }),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: deepseek
        type: openai-compatible
        vendor: deepseek
        baseUrl: ${url}/v1
        models: [deepseek-chat, deepseek-v4-pro]
        keys: [{ name: k1, secret: "sk-deepseek-0123456789abcdef0123" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { KORDON_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    const prices = [
      {
        model: 'deepseek-chat',
        effectiveFrom: '2026-01-01T00:00:00Z',
        input: '0.10',
        cachedInput: '0.01',
        output: '0.50',
        peakHours: {
          utcWindows: [{ from: '01:00', to: '04:00' }],
          utcWeekdays: [1, 2, 3, 4, 5],
          multiplier: '3',
        },
      },
      {
        model: 'deepseek-v4-pro',
        effectiveFrom: '2026-01-01T00:00:00Z',
        input: '1',
        output: '2',
        tiers: [{ aboveInputTokens: 1000, input: '4', output: '8' }],
      },
    ];
    // The admin API answers once the data plane has the prices (its registry caught up).
    const set = await fetch(`${gateway.url}/admin/v1/orgs/acme/prices`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prices }),
    });
    assert.equal(set.status, 200, await set.text());
  });
  afterEach(() => mock.timers.reset());
  after(async () => {
    await gateway?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  const costOfRequest = async (model: string, prompt: string, arrival?: string) => {
    if (arrival !== undefined) mock.timers.enable({ apis: ['Date'], now: Date.parse(arrival) });
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const answered = await openai.chat.completions.create({
      model,
      messages: [{ role: 'user', content: prompt }],
    });
    assert.equal(answered.choices[0]?.message.content, 'Bonjour');
    mock.timers.reset();
    const event = (await gateway.requestEvents()).at(-1) as
      | { type: string; data: { model: string; cost?: string | null; currency?: string | null } }
      | undefined;
    assert.equal(event?.type, 'RequestCompleted');
    assert.equal(event?.data.model, model);
    assert.equal(event?.data.currency, 'USD');
    return event?.data.cost;
  };

  // 2026-12-07 is a Monday.
  it("in the org's peak hours, its rates times its multiplier", async () => {
    assert.equal(await costOfRequest('deepseek-chat', 'short', '2026-12-07T03:59:59Z'), ORG_PEAK);
  });

  it("outside them (the table's 06:00-10:00 window included), the org's rates", async () => {
    assert.equal(await costOfRequest('deepseek-chat', 'short', '2026-12-07T04:00:00Z'), ORG_OFF_PEAK);
    assert.equal(await costOfRequest('deepseek-chat', 'short', '2026-12-07T07:00:00Z'), ORG_OFF_PEAK);
    assert.equal(await costOfRequest('deepseek-chat', 'short', '2026-12-12T02:00:00Z'), ORG_OFF_PEAK);
  });

  it("a prompt above the org's tier threshold is priced at the tier's rates, one at it at the base rates", async () => {
    // In the table's peak hours: a price with its own rates and no peak hours has none.
    assert.equal(await costOfRequest('deepseek-v4-pro', 'short', '2026-12-07T07:00:00Z'), BASE);
    assert.equal(await costOfRequest('deepseek-v4-pro', 'long', '2026-12-07T07:00:00Z'), TIER);
  });
});
