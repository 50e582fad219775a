import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * DeepSeek bills twice every rate in its peak hours (01:00-04:00 and 06:00-10:00 UTC, Monday to
 * Friday). A request is priced by the time it arrived, not by the time its answer ended: one
 * that arrives a second before a window's edge and is answered after it costs what the
 * arrival's hour costs. The clock (Date only) is set by the test, and moved by the upstream
 * while it answers.
 */

// 800 cache misses at $0.15, 200 hits at $0.003, 100 out at $0.60 (per 1M); twice at peak.
const OFF_PEAK = '0.0001806';
const PEAK = '0.0003612';

describe('DeepSeek peak hours: a request is priced by the time it arrived', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  /** Where the clock goes while the upstream answers. */
  let answeredAt = 0;

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string };
      mock.timers.setTime(answeredAt);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Bonjour' }, finish_reason: 'stop' }],
          usage: {
            prompt_tokens: 1000,
            completion_tokens: 100,
            total_tokens: 1100,
            prompt_cache_hit_tokens: 200,
            prompt_cache_miss_tokens: 800,
          },
        }),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: deepseek
        type: openai-compatible
        vendor: deepseek
        baseUrl: ${url}/v1
        models: [deepseek-chat]
        keys: [{ name: k1, secret: "sk-deepseek-0123456789abcdef0123" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  afterEach(() => mock.timers.reset());
  after(async () => {
    await gateway?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  const costOfRequest = async (arrival: string, answer: string) => {
    answeredAt = Date.parse(answer);
    mock.timers.enable({ apis: ['Date'], now: Date.parse(arrival) });
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const answered = await openai.chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'Salut' }],
    });
    assert.equal(answered.choices[0]?.message.content, 'Bonjour');
    mock.timers.reset();
    const event = (await gateway.requestEvents()).at(-1) as
      | { type: string; data: { cost?: string | null; currency?: string | null } }
      | undefined;
    assert.equal(event?.type, 'RequestCompleted');
    assert.equal(event?.data.currency, 'USD');
    return event?.data.cost;
  };

  // 2026-12-07 is a Monday.
  it('arrived at 03:59:59 (peak), answered at 04:00:30: the peak rates', async () => {
    assert.equal(await costOfRequest('2026-12-07T03:59:59Z', '2026-12-07T04:00:30Z'), PEAK);
  });

  it('arrived at 05:59:59 (off-peak), answered at 06:00:30: the off-peak rates', async () => {
    assert.equal(await costOfRequest('2026-12-07T05:59:59Z', '2026-12-07T06:00:30Z'), OFF_PEAK);
  });

  it('a Saturday is off-peak all day', async () => {
    assert.equal(await costOfRequest('2026-12-12T02:00:00Z', '2026-12-12T02:00:01Z'), OFF_PEAK);
  });
});
