import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import {
  bearerOf,
  eventOfRequest,
  type KordonUnderTest,
  startKordonUnderTest,
} from './support/kordon-under-test.js';

/** Two projects of Acme's OpenAI account: a stored response is found only with its project's key. */
const ACME_1 = 'sk-proj-acme-one-0123456789abcdef0123456789ab';
const ACME_2 = 'sk-proj-acme-two-0123456789abcdef0123456789ab';
/**
 * The failover cases' own orgs, two keys each: a key that answered 429 rests, so a case on Acme's
 * keys would find the first resting and never see it fail over.
 */
const FAILOVER = {
  'rate-limit': {
    org: 'initech',
    keys: ['sk-proj-initech-one-0123456789abcdef01234567', 'sk-proj-initech-two-0123456789abcdef01234567'],
  },
  'server-error': {
    org: 'globex',
    keys: ['sk-proj-globex-one-0123456789abcdef012345678', 'sk-proj-globex-two-0123456789abcdef012345678'],
  },
} as const;

/**
 * gpt-4o-mini in the shipped price table, in billionths of a dollar a token: input 0.15, cached
 * input 0.075, output 0.60 per million.
 */
const NANO_USD = { input: 150n, cached: 75n, output: 600n };

/**
 * A budget below one compaction's hold: with no output cap in its params, a compaction is held at
 * its prompt and 4,096 output tokens (about $0.0025 at gpt-4o-mini's price), as a Responses
 * request without `max_output_tokens` is.
 */
const SMALL_BUDGET_USD = '0.001';

/**
 * `POST /v1/responses/compact` (the SDK's `responses.compact`): the model makes a long
 * conversation into its user messages and one encrypted `compaction` item. It runs the model, so
 * Kordon serves it as usage, as it serves `POST /v1/responses`: admitted and held, sent to the
 * keys in turn, a `previous_response_id` to the key that stored it, billed its `usage`, one event.
 */
describe('Responses compaction through Kordon (responses.compact)', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  const client = (who: string) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.proxyKeys.get(who)!, maxRetries: 0 });
  /** The keys the mock was asked to compact with, from request number `from` on. */
  const compactKeysFrom = (from: number) =>
    mock.requests
      .slice(from)
      .filter((request) => request.path === '/v1/responses/compact')
      .map((request) => bearerOf(request.headers));
  const failure = async (call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      return error as InstanceType<typeof OpenAI.APIError>;
    }
    assert.fail('the call succeeded');
  };
  /** The request's event, by the request id Kordon answered with. */
  const eventOf = async (requestId: string | null | undefined): Promise<KordonEvent> =>
    eventOfRequest(gateway, requestId);
  /** The cost of a gpt-4o-mini usage as the price table makes it, a decimal string. */
  const costOf = (usage: OpenAI.Responses.ResponseUsage) => {
    const cached = BigInt(usage.input_tokens_details.cached_tokens);
    const nano =
      (BigInt(usage.input_tokens) - cached) * NANO_USD.input +
      cached * NANO_USD.cached +
      BigInt(usage.output_tokens) * NANO_USD.output;
    const text = nano.toString().padStart(10, '0');
    return `${text.slice(0, -9)}.${text.slice(-9)}`.replace(/\.?0+$/, '');
  };

  before(async () => {
    const failoverKeys = Object.values(FAILOVER).flatMap(({ keys }) => keys);
    mock = await startOpenAIMock({ keys: [ACME_1, ACME_2, ...failoverKeys] });
    const failoverOrgs = Object.values(FAILOVER).map(
      ({ org, keys: [first, second] }) => `
  - slug: ${org}
    name: ${org}
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: one, secret: "${first}" }
          - { name: two, secret: "${second}", tier: 1 }
    users:
      - email: dev@${org}.test
        proxyKeys: [{ name: dev }]`,
    );
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
          - { name: one, secret: "\${ACME_1}" }
          - { name: two, secret: "\${ACME_2}", tier: 1 }
      - name: claude
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "sk-ant-never-called-0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: dev }
          - { name: small, limits: { budget: { usd: ${SMALL_BUDGET_USD}, period: 1d } } }
${failoverOrgs.join('')}
`,
      { ACME_1, ACME_2 },
      { orgSlug: 'acme' },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  it("answers the provider's compaction as it is, billed its usage (cached input and reasoning too) in one RequestCompleted", async () => {
    const from = mock.requests.length;
    const { data: compacted, request_id } = await client('dev@acme.test--dev')
      .responses.compact({
        model: 'gpt-4o-mini',
        instructions: 'Keep the decisions.',
        input: [
          { role: 'user', content: 'We chose PostgreSQL.' },
          { role: 'assistant', content: 'Noted: PostgreSQL.' },
          { role: 'user', content: 'And pnpm for the workspace.' },
        ],
      })
      .withResponse();
    assert.equal(compacted.object, 'response.compaction');
    assert.match(compacted.id, /^cmp_mock/);
    const types = compacted.output.map((item) => item.type);
    assert.deepEqual(
      types,
      ['message', 'message', 'compaction'],
      'the user messages, then one compaction item',
    );
    const compaction = compacted.output.at(-1) as OpenAI.Responses.ResponseCompactionItem;
    assert.ok(compaction.encrypted_content.length > 0);
    assert.equal(compacted.usage.output_tokens_details.reasoning_tokens, 12);
    assert.deepEqual(compactKeysFrom(from), [ACME_1]);

    const event = await eventOf(request_id);
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(event.data.endpoint, 'responses.compact');
    assert.equal(event.data.stream, false);
    assert.equal(event.data.model, 'gpt-4o-mini');
    assert.equal(event.data.attempts, 1);
    assert.deepEqual(event.data.usage, {
      inputTokens: compacted.usage.input_tokens,
      outputTokens: compacted.usage.output_tokens,
      cachedInputTokens: 0,
      reasoningTokens: 12,
    });
    assert.equal(event.data.cost, costOf(compacted.usage));
    assert.equal(event.data.currency, 'USD');
    assert.equal(event.data.storedAnswer, null, 'a compaction is no stored response to continue');
  });

  it('compacts a response made through Kordon on the second key with that key, billed its stored conversation as cached input', async () => {
    const acme = client('dev@acme.test--dev');
    // The first key fails once: the response is made, and stored, on the second.
    mock.enqueueScenario('server-error', { key: ACME_1 });
    const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Remember the number 42.' });
    const from = mock.requests.length;
    const { data: compacted, request_id } = await acme.responses
      .compact({ model: 'gpt-4o-mini', previous_response_id: created.id, input: 'What was it?' })
      .withResponse();
    assert.deepEqual(compactKeysFrom(from), [ACME_2], 'straight to the key that stored it');
    const users = compacted.output.filter((item) => item.type === 'message');
    assert.equal(users.length, 2, 'the stored user message and the new one');
    const cached = compacted.usage.input_tokens_details.cached_tokens;
    assert.ok(cached > 0, 'the mock read the stored conversation from its cache');
    const event = await eventOf(request_id);
    if (event.type !== 'RequestCompleted') assert.fail(`${event.type}, not RequestCompleted`);
    assert.equal(event.data.endpoint, 'responses.compact');
    assert.equal(event.data.usage.cachedInputTokens, cached);
    assert.equal(event.data.usage.inputTokens, compacted.usage.input_tokens);
    assert.equal(event.data.cost, costOf(compacted.usage));
  });

  for (const scenario of ['rate-limit', 'server-error'] as const) {
    it(`fails over to the next key when the first answers ${scenario}`, async () => {
      const { org, keys } = FAILOVER[scenario];
      mock.enqueueScenario(scenario, { key: keys[0] });
      const from = mock.requests.length;
      const { data: compacted, request_id } = await client(`dev@${org}.test--dev`)
        .responses.compact({ model: 'gpt-4o-mini', input: 'Compact me.' })
        .withResponse();
      assert.equal(compacted.object, 'response.compaction');
      assert.deepEqual(compactKeysFrom(from), keys);
      const event = await eventOf(request_id);
      if (event.type !== 'RequestCompleted') assert.fail(`${event.type}, not RequestCompleted`);
      assert.equal(event.data.attempts, 2);
      assert.equal(event.data.endpoint, 'responses.compact');
    });
  }

  it('refuses a compaction its budget cannot hold, before any provider call', async () => {
    const from = mock.requests.length;
    const error = await failure(() =>
      client('dev@acme.test--small').responses.compact({ model: 'gpt-4o-mini', input: 'Compact me.' }),
    );
    assert.equal(error.status, 429, String(error));
    assert.match(error.message, /USD budget/);
    assert.equal(mock.requests.length, from, 'nothing reached the provider');
    const event = await eventOf(error.requestID);
    if (event.type !== 'RequestRejected') assert.fail(`${event.type}, not RequestRejected`);
    assert.equal(event.data.reason, 'budget_usd');
    assert.equal(event.data.endpoint, 'responses.compact');
  });

  it('refuses a model no Responses provider serves, as POST /v1/responses does', async () => {
    const from = mock.requests.length;
    const error = await failure(() =>
      client('dev@acme.test--dev').responses.compact({ model: 'claude-sonnet-4-5', input: 'Compact me.' }),
    );
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.match(error.message, /not served on responses\.compact by any provider/);
    assert.equal((error.error as { param?: unknown }).param, 'model');
    assert.equal(mock.requests.length, from, 'Claude was not asked');
    const event = await eventOf(error.requestID);
    assert.equal(event.type, 'RequestRejected');
    assert.equal((event.data as { endpoint: string }).endpoint, 'responses.compact');
  });

  it('refuses `stream: true` (a compaction is answered whole) before any provider call', async () => {
    const from = mock.requests.length;
    const answer = await fetch(`${gateway.url}/v1/responses/compact`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--dev')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ model: 'gpt-4o-mini', input: 'Compact me.', stream: true }),
    });
    assert.equal(answer.status, 400);
    const body = (await answer.json()) as { error: { param: string; type: string } };
    assert.equal(body.error.param, 'stream');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(mock.requests.length, from);
  });

  it('refuses an unknown proxy key with a 401 in the OpenAI dialect', async () => {
    const from = mock.requests.length;
    const stranger = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: 'kdn_notakey0000000000000000000000000',
      maxRetries: 0,
    });
    const error = await failure(() =>
      stranger.responses.compact({ model: 'gpt-4o-mini', input: 'Compact me.' }),
    );
    assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
    assert.equal(mock.requests.length, from);
  });
});
