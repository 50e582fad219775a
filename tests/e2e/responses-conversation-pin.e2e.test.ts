/**
 * A Responses request naming a `conversation` (Conversations API, `conv_...`): OpenAI keeps
 * the conversation in the project that created it, and a key of another project answers 404
 * "Conversation with id ... not found" (the mock does the same). Kordon balances over keys of
 * two projects: a request naming a conversation must reach the key that has it, the first
 * time by asking the keys in turn, then straight (pinned as `previous_response_id` is).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const PROJECT_A = 'sk-proj-conv-a-abcdefghijklmnopqrstuvwxyz012345';
const PROJECT_B = 'sk-proj-conv-b-abcdefghijklmnopqrstuvwxyz012345';
const OTHER_ORG = 'sk-proj-conv-z-abcdefghijklmnopqrstuvwxyz012345';

describe('a Responses request naming a conversation goes to the key whose project has it', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  let client: OpenAI;
  let other: OpenAI;
  /** The mock straight, as a user creating a conversation in one project (Kordon has no route). */
  const project = (key: string) => new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: key, maxRetries: 0 });
  const keysAsked = () =>
    mock.requests
      .filter((request) => request.path === '/v1/responses')
      .map((request) =>
        bearerOf(request.headers) === PROJECT_A ? 'A' : bearerOf(request.headers) === PROJECT_B ? 'B' : 'Z',
      );

  before(async () => {
    mock = await startOpenAIMock({ keys: [PROJECT_A, PROJECT_B, OTHER_ORG] });
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
        balancer: round-robin
        keys:
          - { name: project-a, secret: "\${KEY_A}" }
          - { name: project-b, secret: "\${KEY_B}" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
  - slug: zeta
    name: Zeta
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: own, secret: "\${KEY_Z}" }
    users:
      - email: dev@zeta.test
        proxyKeys: [{ name: laptop }]
`,
      { KEY_A: PROJECT_A, KEY_B: PROJECT_B, KEY_Z: OTHER_ORG },
    );
    const options = { baseURL: `${gateway.url}/v1`, maxRetries: 0 };
    client = new OpenAI({ ...options, apiKey: gateway.proxyKeys.get('dev@acme.test--laptop')! });
    other = new OpenAI({ ...options, apiKey: gateway.proxyKeys.get('dev@zeta.test--laptop')! });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.clearRequests());

  it('every turn is served, by the project that has it, then straight (string id, object, streamed)', async () => {
    for (const holder of [PROJECT_A, PROJECT_B]) {
      const conversation = await project(holder).conversations.create({});
      mock.clearRequests();
      const turns: Array<OpenAI.Responses.ResponseCreateParams['conversation']> = [
        conversation.id,
        { id: conversation.id },
        conversation.id,
        { id: conversation.id },
      ];
      for (const [turn, named] of turns.entries()) {
        const params = { model: 'gpt-4o-mini', input: `turn ${turn}`, conversation: named };
        const answered =
          turn === 2
            ? await (async () => {
                const stream = await client.responses.create({ ...params, stream: true });
                let id = '';
                for await (const event of stream)
                  if (event.type === 'response.completed') id = event.response.id;
                return id;
              })()
            : (await client.responses.create(params)).id;
        assert.ok(answered.startsWith('resp_'), `turn ${turn} answered`);
        assert.equal(bearerOf(mock.requests.at(-1)!.headers), holder, `turn ${turn} served by the holder`);
      }
      // The first turn may have asked the other project first; the later ones went straight.
      const asked = keysAsked();
      assert.equal(asked.length - turns.length <= 1, true, `keys asked: ${asked.join(' ')}`);
      assert.deepEqual(asked.slice(-3), Array(3).fill(holder === PROJECT_A ? 'A' : 'B'), asked.join(' '));
    }
  });

  it("another org naming the conversation is not sent to its key: its own project's 404", async () => {
    const conversation = await project(PROJECT_A).conversations.create({});
    await client.responses.create({ model: 'gpt-4o-mini', input: 'hello', conversation: conversation.id });
    mock.clearRequests();
    const error = await other.responses
      .create({ model: 'gpt-4o-mini', input: 'hello', conversation: conversation.id })
      .then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof OpenAI.NotFoundError, String(error));
    assert.deepEqual(keysAsked(), ['Z']);
  });

  it('a conversation no project has: each key asked once, then the 404 as OpenAI says it', async () => {
    const error = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'hello', conversation: 'conv_nowhere' })
      .then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof OpenAI.NotFoundError, String(error));
    assert.match(error.message, /conv_nowhere/);
    assert.deepEqual([...keysAsked()].sort(), ['A', 'B']);
  });

  it('with previous_response_id too: the provider refuses the pair (400), Kordon passes it on', async () => {
    const conversation = await project(PROJECT_B).conversations.create({});
    const first = await client.responses.create({ model: 'gpt-4o-mini', input: 'first' });
    mock.clearRequests();
    const error = await client.responses
      .create({
        model: 'gpt-4o-mini',
        input: 'both',
        previous_response_id: first.id,
        conversation: conversation.id,
      })
      .then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.match(error.message, /Mutually exclusive/);
    assert.equal(keysAsked().length, 1, 'asked once: the refusal is not "not found"');
  });

  it('while the key that has it rests, the caller is told to wait (429), not that it does not exist', async () => {
    const conversation = await project(PROJECT_A).conversations.create({});
    await client.responses.create({ model: 'gpt-4o-mini', input: 'pin it', conversation: conversation.id });
    assert.equal(bearerOf(mock.requests.at(-1)!.headers), PROJECT_A);
    mock.enqueueScenario('rate-limit=30', { key: PROJECT_A, times: 1 });
    const error = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'next', conversation: { id: conversation.id } })
      .then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
    assert.equal(bearerOf(mock.requests.at(-1)!.headers), PROJECT_B, 'the other project was asked');
    assert.ok(error instanceof OpenAI.RateLimitError, String(error));
    const wait = Number(error.headers?.get('retry-after'));
    assert.ok(wait > 25 && wait <= 30, `Retry-After ${wait}`);
  });
});
