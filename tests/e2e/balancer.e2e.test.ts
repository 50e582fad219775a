import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const KEYS = [
  'sk-proj-balancer-one-abcdefghijklmnopqrstuvwxyz0',
  'sk-proj-balancer-two-abcdefghijklmnopqrstuvwxyz0',
  'sk-proj-balancer-three-abcdefghijklmnopqrstuvwxy',
];

/**
 * The balancer through the real path: the official OpenAI SDK, Kordon, and an OpenAI mock
 * that plays a 429 storm on one of three keys.
 */
describe('provider-key balancer through HTTP', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  let client: OpenAI;

  before(async () => {
    mock = await startOpenAIMock({ keys: KEYS });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: one, secret: "\${KEY_1}" }
          - { name: two, secret: "\${KEY_2}" }
          - { name: three, secret: "\${KEY_3}" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { KEY_1: KEYS[0]!, KEY_2: KEYS[1]!, KEY_3: KEYS[2]! },
    );
    client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  /** Sends `count` requests, `parallel` at a time; returns the provider key each mock request used. */
  const load = async (count: number, parallel = 3) => {
    const from = mock.requests.length;
    let next = 0;
    const errors: unknown[] = [];
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < count) {
          next++;
          try {
            const reply = await client.chat.completions.create({
              model: 'gpt-4o-mini',
              messages: [{ role: 'user', content: 'hello' }],
            });
            assert.match(reply.choices[0]!.message.content ?? '', /hello/);
          } catch (error) {
            errors.push(error);
          }
        }
      }),
    );
    const used = mock.requests.slice(from).map((r) => bearerOf(r.headers as Record<string, unknown>));
    const counts = KEYS.map((key) => used.filter((u) => u === key).length);
    return { errors, counts, statuses: mock.requests.slice(from).length };
  };

  it('spreads requests over the three keys', async () => {
    const { errors, counts } = await load(30);
    assert.equal(errors.length, 0);
    for (const count of counts) assert.ok(count >= 5, `each key served a share: ${counts}`);
  });

  it('a 429 storm on one key costs the caller nothing; traffic leaves it, then returns after Retry-After', async () => {
    mock.setScenario('rate-limit=2', { key: KEYS[0]! });
    const storm = await load(60);
    assert.equal(storm.errors.length, 0, 'zero client errors');
    // Each 429 rests the key for its Retry-After (2 s): it sees a few requests, not a third.
    assert.ok(storm.counts[0]! <= 3, `the limited key was tried ${storm.counts[0]} times`);
    assert.ok(storm.counts[1]! + storm.counts[2]! >= 60);
    const events = await gateway.allEvents();
    const cooled = events.filter((e) => e.type === 'ProviderKeyCooledDown');
    assert.ok(cooled.length >= 1 && cooled.every((e) => e.data.reason === 'rate_limited'));

    mock.setScenario(undefined, { key: KEYS[0]! });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const after = await load(45);
    assert.equal(after.errors.length, 0);
    assert.ok(after.counts[0]! >= 8, `the key is back in rotation: ${after.counts}`);
  });

  it('a Responses API conversation stays on the key that stored its previous answer, plain and streamed', async () => {
    // The provider finds a stored response only under the key (project) that made it.
    let previous = (await client.responses.create({ model: 'gpt-4o-mini', input: 'first turn' })).id;
    const keys = new Set<string | undefined>([bearerOf(mock.requests.at(-1)!.headers)]);
    for (let turn = 0; turn < 8; turn++) {
      if (turn % 2 === 0) {
        previous = (
          await client.responses.create({
            model: 'gpt-4o-mini',
            input: `turn ${turn}`,
            previous_response_id: previous,
          })
        ).id;
      } else {
        const stream = await client.responses.create({
          model: 'gpt-4o-mini',
          input: `turn ${turn}`,
          previous_response_id: previous,
          stream: true,
        });
        for await (const event of stream)
          if (event.type === 'response.completed') previous = event.response.id;
      }
      keys.add(bearerOf(mock.requests.at(-1)!.headers));
    }
    assert.equal(keys.size, 1, 'every turn went to the key that stored the conversation');
    // Without a previous response, requests spread over the keys as before.
    const spread = new Set<string | undefined>();
    for (let i = 0; i < 9; i++) {
      await client.responses.create({ model: 'gpt-4o-mini', input: `alone ${i}` });
      spread.add(bearerOf(mock.requests.at(-1)!.headers));
    }
    assert.ok(spread.size > 1, 'new conversations are balanced');
  });

  it('all keys limited: the caller gets 429 with the provider Retry-After, then 503 while they rest', async () => {
    for (const key of KEYS) mock.setScenario('rate-limit=5', { key });
    const refused = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.equal(refused.headers?.get('retry-after'), '5');
    const resting = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'y' }] })
      .catch((error: unknown) => error);
    assert.ok(resting instanceof OpenAI.APIError && resting.status === 503, String(resting));
    assert.ok(Number(resting.headers?.get('retry-after')) >= 3);
    // Admitted, then no key to try: a failure of the gateway's keys, not a refusal of the caller.
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestFailed');
    if (event.type === 'RequestFailed') {
      assert.equal(event.data.errorCode, 'no_provider_key');
      assert.equal(event.data.status, 503);
      assert.equal(event.data.providerKeyId, null);
    }
    for (const key of KEYS) mock.setScenario(undefined, { key });
  });
});
