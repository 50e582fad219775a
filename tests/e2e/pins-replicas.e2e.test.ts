/**
 * Follow-ups across two gateway replicas on one PostgreSQL store. A provider keeps a stored
 * Responses answer (`previous_response_id`) for the project of the key that made it, and a
 * Claude message thread (`thread: {type: "continue", previous_message_id}`) for the account
 * that answered: another key answers 400 `previous_response_not_found` or 404
 * `thread_not_found` (the mocks do the same). The first answer is made through replica A, the
 * follow-up goes through replica B: B learns the pin, and the conversation's size for its
 * budget hold, from A's request event, as it learns every other replica's usage.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createTestDatabase } from '@kordon/events/testing';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const PROJECT_1 = 'sk-proj-pins-one-0123456789abcdef0123456789ab';
const PROJECT_2 = 'sk-proj-pins-two-0123456789abcdef0123456789ab';
const ACCOUNT_A = 'sk-ant-api03-pins-a-abcdefghijklmnopqrstuvwxyz';
const ACCOUNT_B = 'sk-ant-api03-pins-b-abcdefghijklmnopqrstuvwxyz';
/**
 * $1 per million tokens, in and out. The budget holds a follow-up at the conversation recorded
 * for it (a few hundred tokens), not at its model's whole window (128,000 tokens, $0.128, for
 * gpt-4o-mini; 1M, $1, for Claude Sonnet 4.6), which is what a replica without the record holds.
 */
const BUDGET_USD = 0.05;
/** Conversations begun through A: a follow-up balanced without its pin reaches the other key half the time. */
const CONVERSATIONS = 8;

const config = (openai: string, anthropic: string) => `
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 1, output: 1 }
      claude-sonnet-4-6: { input: 1, output: 1 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${openai}/v1
        models: [gpt-4o-mini]
        balancer: round-robin
        keys:
          - { name: project-1, secret: "\${PROJECT_1}" }
          - { name: project-2, secret: "\${PROJECT_2}" }
      - name: anthropic
        type: anthropic
        baseUrl: ${anthropic}
        models: [claude-sonnet-4-6]
        balancer: round-robin
        keys:
          - { name: account-a, secret: "\${ACCOUNT_A}" }
          - { name: account-b, secret: "\${ACCOUNT_B}" }
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: laptop }
          - { name: held, limits: { budget: { usd: ${BUDGET_USD}, period: 1d } } }
`;

describe('follow-ups through another replica reach the key that made the answer', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let database: { url: string; drop: () => Promise<void> };
  let replicaA: KordonUnderTest;
  let replicaB: KordonUnderTest;
  let laptop: string;
  let held: string;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [PROJECT_1, PROJECT_2] });
    anthropicMock = await startAnthropicMock({ keys: [ACCOUNT_A, ACCOUNT_B] });
    database = (await createTestDatabase())!;
    const env = {
      PROJECT_1,
      PROJECT_2,
      ACCOUNT_A,
      ACCOUNT_B,
      KORDON_DATABASE_URL: database.url,
      KORDON_MASTER_KEY: randomBytes(32).toString('base64'),
      KORDON_PROXY_KEY_SECRET: randomBytes(32).toString('base64'),
    };
    const file = config(openaiMock.url, anthropicMock.url);
    replicaA = await startKordonUnderTest(file, env);
    replicaB = await startKordonUnderTest(file, env);
    // The keys were issued by the first to apply the file; both replicas know them from the log.
    laptop = replicaA.proxyKeys.get('dev@acme.test--laptop')!;
    held = replicaA.proxyKeys.get('dev@acme.test--held')!;
  });
  after(async () => {
    await replicaB?.stop();
    await replicaA?.stop();
    await openaiMock?.close();
    await anthropicMock?.close();
    await database?.drop();
  });

  /** Once replica B's data plane has read the log up to A's last request event. */
  async function bCaughtUpWithA(): Promise<void> {
    const last = (await replicaA.requestEvents()).at(-1)!;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const metrics = await (await fetch(`${replicaB.url}/metrics`)).text();
      const read = /^kordon_projection_position\{projection="gateway-limits"\} (\d+)$/m.exec(metrics);
      if (Number(read?.[1]) >= last.position) return;
      if (Date.now() > deadline) assert.fail(`replica B did not read the log to ${last.position}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('a stored Responses answer made through A is continued through B with the key that stored it (openai SDK)', async () => {
    const throughA = new OpenAI({ baseURL: `${replicaA.url}/v1`, apiKey: laptop, maxRetries: 0 });
    const firsts: Array<{ id: string; key: string | undefined }> = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const request = { model: 'gpt-4o-mini', input: `question ${i}`, max_output_tokens: 32 };
      let id: string;
      if (i % 2 === 0) id = (await throughA.responses.create(request)).id;
      else {
        const stream = await throughA.responses.create({ ...request, stream: true });
        let completed: string | undefined;
        for await (const event of stream)
          if (event.type === 'response.completed') completed = event.response.id;
        assert.ok(completed);
        id = completed;
      }
      const sent = openaiMock.requests.filter((r) => r.method === 'POST' && r.path === '/v1/responses');
      firsts.push({ id, key: bearerOf(sent.at(-1)!.headers) });
    }
    assert.deepEqual(
      new Set(firsts.map((first) => first.key)),
      new Set([PROJECT_1, PROJECT_2]),
      'A balanced the conversations over both projects',
    );
    await bCaughtUpWithA();

    // The follow-ups through B: on a proxy key without a budget, then on one whose budget
    // cannot hold a whole 128K window (a stored answer may be continued more than once).
    const twice = [...firsts, ...firsts];
    for (const [i, first] of twice.entries()) {
      const apiKey = i < firsts.length ? laptop : held;
      const throughB = new OpenAI({ baseURL: `${replicaB.url}/v1`, apiKey, maxRetries: 0 });
      const request = {
        model: 'gpt-4o-mini',
        input: 'and then?',
        previous_response_id: first.id,
        max_output_tokens: 32,
      };
      const from = openaiMock.requests.length;
      if (i % 2 === 0) {
        const answer = await throughB.responses.create(request);
        assert.equal(answer.status, 'completed');
      } else {
        const stream = await throughB.responses.create({ ...request, stream: true });
        let status: string | undefined;
        for await (const event of stream)
          if (event.type === 'response.completed') status = event.response.status;
        assert.equal(status, 'completed');
      }
      const calls = openaiMock.requests.slice(from).filter((r) => r.path === '/v1/responses');
      assert.deepEqual(
        calls.map((call) => bearerOf(call.headers)),
        [first.key],
        `the follow-up of ${first.id} went once, to the project that stored it`,
      );
    }
    // A's events named each stored answer: an id, never a secret nor text.
    const recorded = (await replicaA.requestEvents()).filter((e) => e.type === 'RequestCompleted');
    for (const first of firsts)
      assert.ok(
        recorded.some(
          (e) =>
            e.type === 'RequestCompleted' &&
            e.data.storedAnswer?.kind === 'response' &&
            e.data.storedAnswer.id === first.id,
        ),
        `the event of ${first.id} names it`,
      );
  });

  it('a Claude thread begun through A is continued through B by the account that holds it (Anthropic SDK)', async () => {
    const throughA = new Anthropic({ baseURL: replicaA.url, apiKey: laptop, maxRetries: 0 });
    const firsts: Array<{ id: string; key: string | undefined }> = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const request = {
        model: 'claude-sonnet-4-6',
        max_tokens: 32,
        messages: [{ role: 'user' as const, content: `question ${i}` }],
        thread: { type: 'create' as const },
      };
      let id: string;
      if (i % 2 === 0) id = (await throughA.beta.messages.create(request)).id;
      else id = (await throughA.beta.messages.stream(request).finalMessage()).id;
      const sent = anthropicMock.requests.filter((r) => r.path === '/v1/messages');
      firsts.push({ id, key: sent.at(-1)!.key });
    }
    assert.deepEqual(
      new Set(firsts.map((first) => first.key)),
      new Set([ACCOUNT_A, ACCOUNT_B]),
      'A balanced the threads over both accounts',
    );
    await bCaughtUpWithA();

    // Through B (a thread's reply is continued once): half on a proxy key without a budget, half
    // on one whose budget cannot hold Claude's 1M window; without the record, B would answer the
    // latter with its own 404 thread_not_found, and the SDK's caller would replay.
    for (const [i, first] of firsts.entries()) {
      const apiKey = i < CONVERSATIONS / 2 ? laptop : held;
      const throughB = new Anthropic({ baseURL: replicaB.url, apiKey, maxRetries: 0 });
      const request = {
        model: 'claude-sonnet-4-6',
        max_tokens: 32,
        messages: [{ role: 'user' as const, content: 'Continue.' }],
        thread: { type: 'continue' as const, previous_message_id: first.id },
      };
      const from = anthropicMock.requests.length;
      const answer =
        i % 2 === 0
          ? await throughB.beta.messages.create(request)
          : await throughB.beta.messages.stream(request).finalMessage();
      assert.ok(answer.content.length > 0);
      const calls = anthropicMock.requests.slice(from).filter((r) => r.path === '/v1/messages');
      assert.deepEqual(
        calls.map((call) => call.key),
        [first.key],
        `the continuation of ${first.id} went once, to the account that holds its thread`,
      );
    }
  });
});
