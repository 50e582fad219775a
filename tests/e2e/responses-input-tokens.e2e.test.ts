/**
 * POST /v1/responses/input_tokens through the official openai SDK's
 * `client.responses.inputTokens.count` (`maxRetries: 0`: the SDK's own retry would hide the
 * failover). Counting is free at OpenAI and not usage:
 * - an OpenAI model is counted by OpenAI, its keys asked in turn (a 429, 5xx or revoked key ->
 *   the next key), spending no key's rpm, the key that stored a `previous_response_id` first and
 *   a `conversation` looked for in turn; a key whose count got a 429 is not asked to count until
 *   its Retry-After, and every key resting is a 429 at once with the soonest Retry-After;
 * - a model served through the Responses API by a provider without OpenAI's counting route
 *   (vLLM) is counted by Kordon's tokenizer; a model no provider serves that way is refused;
 * - errors in the OpenAI dialect; no event when served, one RequestRejected when refused.
 * Each block has a provider (and model) of its own, so that one's keys' memories leave the rest be.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const FIRST = 'sk-proj-intok-first-abcdefghijklmnopqrstuv';
const SECOND = 'sk-proj-intok-second-abcdefghijklmnopqrstu';
const THIRD = 'sk-proj-intok-third-abcdefghijklmnopqrstuv';
const ANTHROPIC_KEY = 'sk-ant-api03-intok-abcdefghijklmnopqrstuvwxy';

describe('POST /v1/responses/input_tokens', () => {
  let mock: MockServer;
  let anthropicMock: MockServer;
  let gateway: KordonUnderTest;
  const names = new Map([
    [FIRST, 'first'],
    [SECOND, 'second'],
    [THIRD, 'third'],
  ]);
  const client = (name = 'laptop') =>
    new OpenAI({
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${name}`)!,
      baseURL: `${gateway.url}/v1`,
      maxRetries: 0,
    });
  /** The keys the counts reached, in order. */
  const keysCounting = () =>
    mock.requests
      .filter((r) => r.path === '/v1/responses/input_tokens')
      .map((r) => names.get(r.key ?? '') ?? 'unknown');
  const keysResponding = () =>
    mock.requests.filter((r) => r.path === '/v1/responses').map((r) => names.get(r.key ?? '') ?? 'unknown');
  /** The mock's own count of a body, asked directly with a key it accepts. */
  const providerCount = async (body: OpenAI.Responses.InputTokenCountParams) => {
    const direct = new OpenAI({ apiKey: THIRD, baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const counted = await direct.responses.inputTokens.count(body);
    mock.clearRequests();
    return counted.input_tokens;
  };
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => error,
    );
  const requestEventsAfter = async (before: number): Promise<KordonEvent[]> =>
    (await gateway.requestEvents()).slice(before);

  before(async () => {
    mock = await startOpenAIMock({ keys: [FIRST, SECOND, THIRD] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    // Tier 0 is asked first while usable: the key a test fails first, the one that answers after.
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4.1]
        keys:
          - { name: first, secret: "\${FIRST}", tier: 0 }
          - { name: second, secret: "\${SECOND}", tier: 1 }
      - name: openai-rpm
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4.1-mini]
        keys: [{ name: rpm, secret: "\${FIRST}", limits: { rpm: 2 } }]
      - name: openai-pinned
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o]
        keys:
          - { name: a, secret: "\${FIRST}", tier: 0 }
          - { name: b, secret: "\${SECOND}", tier: 1 }
      - name: openai-resting
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-resting]
        keys:
          - { name: a, secret: "\${FIRST}", tier: 0 }
          - { name: b, secret: "\${SECOND}", tier: 1 }
      - name: openai-count-limited
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4.1-nano]
        keys:
          - { name: a, secret: "\${FIRST}", tier: 0 }
          - { name: b, secret: "\${SECOND}", tier: 1 }
      - name: openai-count-soonest
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-5-nano]
        keys:
          - { name: a, secret: "\${FIRST}", tier: 0 }
          - { name: b, secret: "\${SECOND}", tier: 1 }
      - name: openai-count-holder
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-count-holder]
        keys:
          - { name: a, secret: "\${FIRST}", tier: 0 }
          - { name: b, secret: "\${SECOND}", tier: 1 }
      - name: openai-revoked
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: revoked, secret: "\${THIRD}", tier: 0 }
          - { name: still-good, secret: "\${SECOND}", tier: 1 }
      - name: gpu-box
        type: openai-compatible
        vendor: vllm
        baseUrl: ${mock.url}/v1
        models: [my-vllm-model]
        keys: [{ name: vllm, secret: "\${FIRST}" }]
      - name: claude
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-haiku-4-5]
        keys: [{ name: claude, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: laptop }
          - { name: narrow, limits: { models: [gpt-4.1-mini] } }
`,
      { FIRST, SECOND, THIRD, ANTHROPIC_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
    await anthropicMock?.close();
  });
  beforeEach(() => mock.clearRequests());

  const body = {
    model: 'gpt-4.1',
    instructions: 'Answer in one word.',
    input: [{ role: 'user' as const, content: 'What colour is the sky on a clear day?' }],
    tools: [
      {
        type: 'function' as const,
        name: 'lookup',
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
        strict: true,
      },
    ],
  };

  it("answers OpenAI's count, in its shape, from one key, writing no event", async () => {
    const expected = await providerCount(body);
    const eventsBefore = (await gateway.requestEvents()).length;
    const counted = await client().responses.inputTokens.count(body);
    assert.deepEqual(counted, { object: 'response.input_tokens', input_tokens: expected });
    assert.deepEqual(keysCounting(), ['first']);
    assert.deepEqual(mock.requests[0]?.body, body, 'the body goes as sent');
    assert.deepEqual(await requestEventsAfter(eventsBefore), [], 'counting is not usage');
  });

  describe('the first key failing, the second counting', () => {
    for (const [scenario, what] of [
      ['server-error', '500'],
      ['unavailable', '503'],
    ] as const) {
      it(`${what}: the count comes from the second key, and responses still go to the first`, async () => {
        const expected = await providerCount(body);
        mock.enqueueScenario(scenario, { key: FIRST });
        const counted = await client().responses.inputTokens.count(body);
        assert.equal(counted.input_tokens, expected);
        assert.deepEqual(keysCounting(), ['first', 'second']);
        // Counting is limited apart from responses: the first key was not cooled for them.
        mock.clearRequests();
        await client().responses.create({ model: 'gpt-4.1', input: 'hi' });
        assert.deepEqual(keysResponding(), ['first']);
      });
    }

    it('a 429: the second key counts, and the first is not asked to count until its Retry-After', async () => {
      const nano = { ...body, model: 'gpt-4.1-nano' };
      mock.enqueueScenario('rate-limit=1', { key: FIRST });
      assert.ok((await client().responses.inputTokens.count(nano)).input_tokens > 0);
      assert.deepEqual(keysCounting(), ['first', 'second']);
      mock.clearRequests();
      assert.ok((await client().responses.inputTokens.count(nano)).input_tokens > 0);
      assert.deepEqual(keysCounting(), ['second'], 'the resting key is not asked');
      // Counting is limited apart from responses: the first key was not cooled for them.
      await client().responses.create({ model: 'gpt-4.1-nano', input: 'hi' });
      assert.deepEqual(keysResponding(), ['first']);
      await sleep(1_100);
      mock.clearRequests();
      assert.ok((await client().responses.inputTokens.count(nano)).input_tokens > 0);
      assert.deepEqual(keysCounting(), ['first'], 'back after its Retry-After');
    });

    it('a revoked key (401): the next key counts, and the key is disabled for every replica', async () => {
      mock.enqueueScenario('unauthorized', { key: THIRD });
      const counted = await client().responses.inputTokens.count({ ...body, model: 'gpt-4o-mini' });
      assert.ok(counted.input_tokens > 0);
      assert.deepEqual(keysCounting(), ['third', 'second']);
      const disabled = (await gateway.allEvents()).filter((e) => e.type === 'ProviderKeyDisabled');
      assert.equal(disabled.length, 1, 'reported as a response would report it');
      assert.equal((disabled[0]!.data as { upstreamStatus: number }).upstreamStatus, 401);
    });
  });

  it('spends none of the rpm its key keeps for responses', async () => {
    for (let i = 0; i < 3; i++)
      await client().responses.inputTokens.count({ model: 'gpt-4.1-mini', input: 'hello' });
    assert.deepEqual(keysCounting(), ['first', 'first', 'first'], 'the counts went to OpenAI');
    // The key's two responses of the minute are both still there.
    for (let i = 0; i < 2; i++) await client().responses.create({ model: 'gpt-4.1-mini', input: 'hello' });
    assert.equal(keysResponding().length, 2);
  });

  it('a follow-up is counted by the key that stored what it continues', async () => {
    // The response is made on b: a was down for it (one 500: a stays usable).
    mock.enqueueScenario('server-error', { key: FIRST });
    const made = await client().responses.create({ model: 'gpt-4o', input: 'Remember the number 7.' });
    assert.deepEqual(keysResponding(), ['first', 'second']);
    mock.clearRequests();
    const followUp = { model: 'gpt-4o', input: 'Which number?', previous_response_id: made.id };
    const counted = await client().responses.inputTokens.count(followUp);
    assert.ok(counted.input_tokens > 0);
    // a would answer 400 previous_response_not_found, and it is the first of the turn.
    assert.deepEqual(keysCounting(), ['second']);

    // A conversation Kordon has not seen served: looked for key by key (a's project has none).
    const direct = new OpenAI({ apiKey: SECOND, baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const conversation = await direct.conversations.create({});
    mock.clearRequests();
    const inConversation = await client().responses.inputTokens.count({
      model: 'gpt-4o',
      input: 'hello',
      conversation: conversation.id,
    });
    assert.ok(inConversation.input_tokens > 0);
    assert.deepEqual(keysCounting(), ['first', 'second']);
  });

  it('a follow-up whose key rests is a 429 until it is back, not the other key\'s "not found"', async () => {
    mock.enqueueScenario('server-error', { key: FIRST });
    const made = await client().responses.create({ model: 'gpt-4o-resting', input: 'Remember 7.' });
    assert.deepEqual(keysResponding(), ['first', 'second'], 'stored by b');
    // b rests 30 s (a response's 429 is the key's); a has no such response.
    mock.enqueueScenario('rate-limit=30', { key: SECOND });
    const followUp = { model: 'gpt-4o-resting', input: 'Which?', previous_response_id: made.id };
    await refusal(client().responses.create(followUp));
    mock.clearRequests();
    const refused = await refusal(client().responses.inputTokens.count(followUp));
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    const retryAfter = Number(refused.headers?.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 30, `Retry-After ${retryAfter}`);
    assert.deepEqual(keysCounting(), ['first'], 'the resting key was not asked');
  });

  it('a follow-up whose key got a counting 429 is a 429 until it counts again, not "not found"', async () => {
    mock.enqueueScenario('server-error', { key: FIRST });
    const made = await client().responses.create({ model: 'gpt-4o-count-holder', input: 'Remember 7.' });
    assert.deepEqual(keysResponding(), ['first', 'second'], 'stored by b');
    mock.clearRequests();
    // b refuses to count for 30 s; a, asked next, has no such response.
    mock.enqueueScenario('rate-limit=30', { key: SECOND });
    const followUp = { model: 'gpt-4o-count-holder', input: 'Which?', previous_response_id: made.id };
    const refused = await refusal(client().responses.inputTokens.count(followUp));
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    const retryAfter = Number(refused.headers?.get('retry-after'));
    assert.ok(retryAfter > 25 && retryAfter <= 30, `Retry-After ${retryAfter}: when b counts again`);
    assert.deepEqual(keysCounting(), ['second', 'first']);
    mock.clearRequests();
    const again = await refusal(client().responses.inputTokens.count(followUp));
    assert.ok(again instanceof OpenAI.RateLimitError, String(again));
    assert.deepEqual(keysCounting(), ['first'], 'the resting key is not asked');
    // Its responses go on: the follow-up itself is answered by b.
    mock.clearRequests();
    await client().responses.create(followUp);
    assert.deepEqual(keysResponding(), ['second']);
  });

  it("a model served through the Responses API by a provider that does not count is Kordon's count", async () => {
    const counted = await client().responses.inputTokens.count({ ...body, model: 'my-vllm-model' });
    assert.equal(counted.object, 'response.input_tokens');
    assert.ok(counted.input_tokens > 10, `the instructions, input and tool: ${counted.input_tokens}`);
    assert.deepEqual(mock.requests, [], 'vLLM was not asked');
    // A follow-up: the body, and the conversation it continues as recorded (what it is billed).
    const made = await client().responses.create({ model: 'my-vllm-model', input: 'Remember 7.' });
    const next = { model: 'my-vllm-model', input: 'Which?' };
    const alone = await client().responses.inputTokens.count(next);
    const followUp = await client().responses.inputTokens.count({ ...next, previous_response_id: made.id });
    assert.equal(followUp.input_tokens, alone.input_tokens + (made.usage?.total_tokens ?? Number.NaN));
  });

  it('a model no provider serves through the Responses API is refused, as /v1/responses refuses it', async () => {
    const eventsBefore = (await gateway.requestEvents()).length;
    const refused = await refusal(
      client().responses.inputTokens.count({ model: 'claude-haiku-4-5', input: 'hello' }),
    );
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'model');
    assert.match(refused.message, /claude-haiku-4-5 is not served on responses/);
    assert.equal(anthropicMock.requests.length, 0);
    assert.deepEqual(await requestEventsAfter(eventsBefore), [], 'a refused body is not recorded');
    const created = await refusal(client().responses.create({ model: 'claude-haiku-4-5', input: 'hello' }));
    assert.ok(created instanceof OpenAI.BadRequestError, String(created));
    assert.equal(created.message, refused.message, 'the same words as /v1/responses');
  });

  describe('errors in the OpenAI dialect', () => {
    it("the provider's 400 about the body is passed on, and no other key is asked", async () => {
      mock.enqueueScenario('context-overflow', { key: FIRST });
      const refused = await refusal(client().responses.inputTokens.count(body));
      assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
      assert.equal(refused.code, 'context_length_exceeded');
      assert.deepEqual(keysCounting(), ['first']);
    });

    it('every key limited: a 429 with the soonest Retry-After, then at once without a call', async () => {
      const limited = { ...body, model: 'gpt-5-nano' };
      mock.enqueueScenario('rate-limit=20', { key: FIRST });
      mock.enqueueScenario('rate-limit=30', { key: SECOND });
      const refused = await refusal(client().responses.inputTokens.count(limited));
      assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
      assert.equal(refused.headers?.get('retry-after'), '20', 'when the first key counts again');
      assert.deepEqual(keysCounting(), ['first', 'second']);
      mock.clearRequests();
      const again = await refusal(client().responses.inputTokens.count(limited));
      assert.ok(again instanceof OpenAI.RateLimitError, String(again));
      const retryAfter = Number(again.headers?.get('retry-after'));
      assert.ok(retryAfter >= 19 && retryAfter <= 20, `Retry-After ${retryAfter}: the first key's rest`);
      assert.deepEqual(keysCounting(), [], 'no key was asked');
    });

    it('malformed JSON is a 400, a wrong proxy key a 401; neither reaches a provider or is recorded', async () => {
      const eventsBefore = (await gateway.requestEvents()).length;
      const malformed = await fetch(`${gateway.url}/v1/responses/input_tokens`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--laptop')}`,
          'content-type': 'application/json',
        },
        body: '{"model": "gpt-4.1", "input": ',
      });
      assert.equal(malformed.status, 400);
      const error = ((await malformed.json()) as { error: { type: string } }).error;
      assert.equal(error.type, 'invalid_request_error');
      const unknown = await refusal(
        new OpenAI({
          apiKey: 'kdn_nope',
          baseURL: `${gateway.url}/v1`,
          maxRetries: 0,
        }).responses.inputTokens.count(body),
      );
      assert.ok(unknown instanceof OpenAI.AuthenticationError, String(unknown));
      assert.deepEqual(mock.requests, []);
      assert.deepEqual(await requestEventsAfter(eventsBefore), []);
    });

    it("a model the key's lists forbid: a 403 naming it, and one RequestRejected naming the call", async () => {
      const eventsBefore = (await gateway.requestEvents()).length;
      const refused = await refusal(client('narrow').responses.inputTokens.count(body));
      assert.ok(refused instanceof OpenAI.PermissionDeniedError, String(refused));
      assert.match(refused.message, /gpt-4\.1/);
      assert.deepEqual(mock.requests, []);
      const events = await requestEventsAfter(eventsBefore);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.type, 'RequestRejected');
      assert.equal(events[0]?.schemaVersion, 4);
      const data = events[0]?.data as Record<string, unknown>;
      assert.deepEqual(
        [data.reason, data.endpoint, data.status, data.model],
        ['model_forbidden', 'responses.input_tokens', 403, 'gpt-4.1'],
      );
    });
  });
});
