import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-timeout-abcdefghijklmnopqrstuvwxyz0123456';

/*
 * A call Kordon gives up on (a first-byte timeout) after the provider has the prompt: the
 * provider goes on and bills it, so, as for a caller who leaves (decision 0014), the prompt is
 * counted and charged where a budget holds the request; before, the RequestFailed said zero
 * tokens and the reservation was given back, so slow answers cost a budget nothing.
 */
describe('a request that times out upstream is charged to its budget', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      # 1,000 USD per million tokens: a prompt of ~600 tokens costs ~$0.60.
      gpt-4o-mini: { input: 1000, output: 1000 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
        timeouts: { firstByteMs: 300 }
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: dollar, limits: { budget: { usd: 1, period: 1d } } }
`,
      { UPSTREAM_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const client = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dollar')!,
      maxRetries: 0,
    });
  const prompt = 'word '.repeat(600);

  async function lastRequestEvent(): Promise<KordonEvent | undefined> {
    const events = await gateway.requestEvents();
    return events.filter((e) => e.type === 'RequestCompleted' || e.type === 'RequestFailed').at(-1);
  }

  it('the timed-out call is recorded with its prompt priced, and the budget counts it', async () => {
    mock.enqueueScenario('slow-first-byte=1500');
    const seenBefore = mock.requests.length;
    await assert.rejects(
      client().chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 1,
        messages: [{ role: 'user', content: prompt }],
      }),
    );
    assert.ok(mock.requests.length > seenBefore, 'the provider received the prompt (and bills it)');
    let event: KordonEvent | undefined;
    for (let waited = 0; waited < 3000 && event?.type !== 'RequestFailed'; waited += 50) {
      event = await lastRequestEvent();
      if (event?.type !== 'RequestFailed') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(event?.type, 'RequestFailed');
    if (event?.type !== 'RequestFailed') return;
    assert.equal(event.data.errorCode, 'upstream_timeout');
    assert.ok(
      event.data.usage.inputTokens >= 500,
      `the prompt the provider billed is counted: ${event.data.usage.inputTokens} input tokens`,
    );
    assert.notEqual(event.data.cost, null, 'the prompt the provider billed is priced');

    // ~$0.60 of the $1 was billed: the same prompt again (~$0.60) no longer fits.
    await new Promise((r) => setTimeout(r, 1500)); // the slow answer is gone
    await assert.rejects(
      client().chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 1,
        messages: [{ role: 'user', content: prompt }],
      }),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 429,
      'the budget must refuse: $0.60 of $1 is spent',
    );
  });
});
