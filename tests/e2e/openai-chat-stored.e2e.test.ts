import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** Two projects of Acme's OpenAI account, and Globex's own: the mock finds a completion only by its project's key. */
const ACME_1 = 'sk-proj-acme-one-0123456789abcdef0123456789ab';
const ACME_2 = 'sk-proj-acme-two-0123456789abcdef0123456789ab';
const GLOBEX = 'sk-proj-globex-0123456789abcdef0123456789abc';

/**
 * Chat Completions with `store: true`: Kordon passes the field on, OpenAI keeps the completion
 * in the project of Kordon's key, and the SDK reads it back with `chat.completions.retrieve`,
 * `.update`, `.delete`, `.messages.list` and `.list` (GET / POST / DELETE
 * /v1/chat/completions/{id}, GET /v1/chat/completions/{id}/messages, GET /v1/chat/completions).
 * Through Kordon each goes to the org's OpenAI keys in turn; never another org's; no request
 * event. Listing is answered only when the caller reaches one key.
 */
describe('stored chat completions (store: true) through Kordon', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  const client = (who: string) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.proxyKeys.get(who)!, maxRetries: 0 });
  /** The SDK straight to the mock, with one project's key: completions Kordon never made. */
  const direct = (key: string) => new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: key, maxRetries: 0 });
  /** The keys the mock was called with for one completion id, in order. */
  const keysAskedFor = (id: string) =>
    mock.requests
      .filter((request) => request.path.includes(`/chat/completions/${id}`))
      .map((r) => bearerOf(r.headers));
  const failure = async (call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      return error as InstanceType<typeof OpenAI.APIError>;
    }
    assert.fail('the call succeeded');
  };
  const stored = (openai: OpenAI, content: string, metadata?: Record<string, string>) =>
    openai.chat.completions.create({
      model: 'gpt-4o-mini',
      store: true,
      ...(metadata ? { metadata } : {}),
      messages: [{ role: 'user', content }],
    });

  before(async () => {
    mock = await startOpenAIMock({ keys: [ACME_1, ACME_2, GLOBEX] });
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
        proxyKeys: [{ name: dev }]
      - email: claude@acme.test
        proxyKeys: [{ name: dev, limits: { models: [claude-sonnet-4-5] } }]
  - slug: globex
    name: Globex
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${GLOBEX}" }]
    users:
      - email: dev@globex.test
        proxyKeys: [{ name: dev }]
`,
      { ACME_1, ACME_2, GLOBEX },
      { orgSlug: 'acme' },
    );
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  it('a completion made with store: true can be retrieved with chat.completions.retrieve', async () => {
    const acme = client('dev@acme.test--dev');
    const made = await stored(acme, 'Hi', { app: 'demo' });
    const retrieved = await acme.chat.completions.retrieve(made.id);
    assert.equal(retrieved.id, made.id);
    assert.equal(retrieved.choices[0]?.message.content, made.choices[0]?.message.content);
    assert.deepEqual(retrieved.metadata, { app: 'demo' });
    assert.deepEqual(keysAskedFor(made.id), [ACME_1]);
  });

  it('one Kordon never made is found by asking the org keys in turn: retrieve, messages, update, delete', async () => {
    const made = await stored(direct(ACME_2), 'made elsewhere');
    const acme = client('dev@acme.test--dev');
    assert.equal((await acme.chat.completions.retrieve(made.id)).id, made.id);
    assert.deepEqual(keysAskedFor(made.id), [ACME_1, ACME_2]);

    const messages = await acme.chat.completions.messages.list(made.id, { limit: 1, order: 'desc' });
    assert.deepEqual(
      messages.data.map((message) => [message.role, message.content]),
      [['user', 'made elsewhere']],
    );
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, `/v1/chat/completions/${made.id}/messages`);
    assert.deepEqual(sent.query, { limit: '1', order: 'desc' });

    const updated = await acme.chat.completions.update(made.id, { metadata: { reviewed: 'yes' } });
    assert.deepEqual(updated.metadata, { reviewed: 'yes' });
    assert.deepEqual(mock.requests.at(-1)!.body, { metadata: { reviewed: 'yes' } });
    assert.deepEqual((await direct(ACME_2).chat.completions.retrieve(made.id)).metadata, { reviewed: 'yes' });

    const deleted = await acme.chat.completions.delete(made.id);
    assert.deepEqual(deleted, { object: 'chat.completion.deleted', id: made.id, deleted: true });
    const gone = await failure(() => acme.chat.completions.retrieve(made.id));
    assert.ok(gone instanceof OpenAI.NotFoundError, String(gone));
    assert.match(gone.message, /not found/);
  });

  it('another org key is never asked', async () => {
    const byAcme = await stored(client('dev@acme.test--dev'), 'acme');
    const globex = client('dev@globex.test--dev');
    const error = await failure(() => globex.chat.completions.retrieve(byAcme.id));
    assert.ok(error instanceof OpenAI.NotFoundError, String(error));
    await failure(() => globex.chat.completions.delete(byAcme.id));
    assert.deepEqual(keysAskedFor(byAcme.id), [GLOBEX, GLOBEX], 'not the Acme key that stored it');
  });

  it('a caller whose model lists reach no OpenAI model is 403', async () => {
    const made = await stored(client('dev@acme.test--dev'), 'x');
    const forbidden = await failure(() => client('claude@acme.test--dev').chat.completions.retrieve(made.id));
    assert.ok(forbidden instanceof OpenAI.PermissionDeniedError, String(forbidden));
    assert.deepEqual(keysAskedFor(made.id), []);
  });

  it('chat.completions.list is answered from the one key a caller reaches, its filters passed', async () => {
    const globex = client('dev@globex.test--dev');
    const tagged = await stored(globex, 'tagged', { run: 'r1' });
    await stored(globex, 'untagged');
    const page = await globex.chat.completions.list({
      model: 'gpt-4o-mini',
      metadata: { run: 'r1' },
      limit: 5,
      order: 'asc',
    });
    assert.deepEqual(
      page.data.map((completion) => completion.id),
      [tagged.id],
    );
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(bearerOf(sent.headers), GLOBEX);
    assert.deepEqual(sent.query, { model: 'gpt-4o-mini', 'metadata[run]': 'r1', limit: '5', order: 'asc' });
  });

  it('chat.completions.list is refused with a 400 saying why when the caller reaches several keys', async () => {
    const before = mock.requests.length;
    const error = await failure(() => client('dev@acme.test--dev').chat.completions.list());
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.match(error.message, /reaches 2 provider keys.*cannot be merged/);
    assert.equal(mock.requests.length, before, 'nothing reached the provider');
  });

  it('an update with anything but metadata, or an unknown query parameter, is refused by name', async () => {
    const headers = {
      authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--dev')}`,
      'content-type': 'application/json',
    };
    const before = mock.requests.length;
    const update = await fetch(`${gateway.url}/v1/chat/completions/chatcmpl-x`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ metadata: { a: 'b' }, temperature: 1 }),
    });
    assert.equal(update.status, 400);
    assert.equal(((await update.json()) as { error: { param: string } }).error.param, 'temperature');
    const odd = await fetch(`${gateway.url}/v1/chat/completions/chatcmpl-x/messages?model=gpt-4o`, {
      headers,
    });
    assert.equal(odd.status, 400);
    assert.equal(((await odd.json()) as { error: { param: string } }).error.param, 'model');
    assert.equal(mock.requests.length, before, 'nothing reached the provider');
  });

  it('writes no request event (reading, updating or deleting is not usage)', async () => {
    const acme = client('dev@acme.test--dev');
    const made = await stored(acme, 'Hi');
    const count = (await gateway.requestEvents()).length;
    await acme.chat.completions.retrieve(made.id);
    await acme.chat.completions.messages.list(made.id);
    await acme.chat.completions.update(made.id, { metadata: null });
    await acme.chat.completions.delete(made.id);
    await client('dev@globex.test--dev').chat.completions.list();
    assert.equal((await gateway.requestEvents()).length, count);
  });
});

/**
 * Azure OpenAI keeps stored completions under `/openai/chat/completions/{id}` with the
 * configured api-version, not under a deployment (its "stored completions" how-to; the SDK's
 * AzureOpenAI puts only calls with a body's model under `/deployments/{model}`).
 */
describe('stored chat completions at Azure OpenAI', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  const seen: { method: string; url: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-az1',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-4o',
          choices: [],
          metadata: null,
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: azure
        type: azure-openai
        baseUrl: ${url}
        apiVersion: 2025-04-01-preview
        models: [gpt-4o]
        keys: [{ name: k1, secret: "azure-key-0123456789abcdef0123456789" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  it('goes to /openai/chat/completions/{id} with the api-version', async () => {
    const azure = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    assert.equal((await azure.chat.completions.retrieve('chatcmpl-az1')).id, 'chatcmpl-az1');
    assert.deepEqual(seen.at(-1), {
      method: 'GET',
      url: '/openai/chat/completions/chatcmpl-az1?api-version=2025-04-01-preview',
    });
  });
});
