import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** Two projects of Acme's OpenAI account, and Globex's own: the mock finds a response only by its project's key. */
const ACME_1 = 'sk-proj-acme-one-0123456789abcdef0123456789ab';
const ACME_2 = 'sk-proj-acme-two-0123456789abcdef0123456789ab';
const GLOBEX = 'sk-proj-globex-0123456789abcdef0123456789abc';

/**
 * The Responses API stores every answer (`store` defaults to true); the SDK reads it back and
 * deletes it with `responses.retrieve`, `responses.delete` and `responses.inputItems.list`
 * (GET / DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items). Through Kordon they go
 * to the key of the caller's org that stored the answer (pinned when Kordon made it), else to
 * each of the org's Responses keys in turn; never to another org's key; no request event.
 */
describe('stored Responses through Kordon (retrieve, delete, input items)', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;
  const client = (who: string) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.proxyKeys.get(who)!, maxRetries: 0 });
  /** The SDK straight to the mock, with one project's key: answers Kordon never saw (a restart). */
  const direct = (key: string) => new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: key, maxRetries: 0 });
  /** The keys the mock was called with for one response id, in order. */
  const keysAskedFor = (id: string) =>
    mock.requests
      .filter((request) => request.path.includes(`/responses/${id}`))
      .map((r) => bearerOf(r.headers));
  const failure = async (call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      return error as InstanceType<typeof OpenAI.APIError>;
    }
    assert.fail('the call succeeded');
  };

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
        models: [gpt-4o-mini, "gpt-4.1*"]
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
      - email: mini@acme.test
        proxyKeys: [{ name: dev, limits: { models: [gpt-4.1-mini] } }]
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
  - slug: initech
    name: Initech
    providers:
      - name: claude
        type: anthropic
        baseUrl: ${mock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "sk-ant-never-called-0123456789abcdef" }]
    users:
      - email: dev@initech.test
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

  it('responses.retrieve of an answer just created through Kordon answers the provider body, from the key that stored it', async () => {
    const acme = client('dev@acme.test--dev');
    const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Hi there' });
    const again = await acme.responses.retrieve(created.id);
    assert.equal(again.id, created.id);
    assert.equal(again.object, 'response');
    assert.equal(again.output_text, created.output_text);
    assert.deepEqual(keysAskedFor(created.id), [ACME_1]);
  });

  it('responses.inputItems.list passes its query (limit, order, include[]) and pages as the provider does', async () => {
    const acme = client('dev@acme.test--dev');
    const created = await acme.responses.create({
      model: 'gpt-4o-mini',
      input: [
        { role: 'user', content: 'first' },
        { role: 'user', content: 'second' },
      ],
    });
    const page = await acme.responses.inputItems.list(created.id, {
      limit: 1,
      order: 'asc',
      include: ['message.input_image.image_url'],
    });
    assert.equal(page.data.length, 1);
    assert.equal(page.has_more, true);
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, `/v1/responses/${created.id}/input_items`);
    assert.deepEqual(sent.query, { limit: '1', order: 'asc', 'include[]': 'message.input_image.image_url' });
    const all = [];
    for await (const item of acme.responses.inputItems.list(created.id, { limit: 1, order: 'asc' }))
      all.push(item);
    assert.equal(all.length, 2);
  });

  it('responses.delete removes it at the provider; a retrieve then is a 404', async () => {
    const acme = client('dev@acme.test--dev');
    const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Forget me' });
    await acme.responses.delete(created.id);
    const gone = await failure(() => direct(ACME_1).responses.retrieve(created.id));
    assert.equal(gone.status, 404, 'deleted at the provider');
    const error = await failure(() => acme.responses.retrieve(created.id));
    assert.ok(error instanceof OpenAI.NotFoundError, String(error));
    assert.match(error.message, /not found/);
    // With the pin forgotten, both of Acme's keys were asked; Globex's never.
    assert.deepEqual(keysAskedFor(created.id), [ACME_1, ACME_1, ACME_1, ACME_2]);
  });

  it('an answer Kordon never saw (a restart, another replica) is found by asking the org keys in turn, then pinned', async () => {
    const stored = await direct(ACME_2).responses.create({ model: 'gpt-4o-mini', input: 'made elsewhere' });
    const acme = client('dev@acme.test--dev');
    const found = await acme.responses.retrieve(stored.id);
    assert.equal(found.id, stored.id);
    assert.deepEqual(keysAskedFor(stored.id), [ACME_1, ACME_2]);
    await acme.responses.inputItems.list(stored.id);
    assert.deepEqual(keysAskedFor(stored.id).slice(2), [ACME_2], 'the key that had it is asked first now');
  });

  it('another org key is never asked, whichever org stored the answer', async () => {
    const byAcme = await client('dev@acme.test--dev').responses.create({
      model: 'gpt-4o-mini',
      input: 'acme',
    });
    const globex = client('dev@globex.test--dev');
    const error = await failure(() => globex.responses.retrieve(byAcme.id));
    assert.ok(error instanceof OpenAI.NotFoundError, String(error));
    await failure(() => globex.responses.delete(byAcme.id));
    assert.deepEqual(keysAskedFor(byAcme.id), [GLOBEX, GLOBEX], 'not the Acme key that stored it');
    assert.equal((await client('dev@acme.test--dev').responses.retrieve(byAcme.id)).id, byAcme.id);

    const byGlobex = await direct(GLOBEX).responses.create({ model: 'gpt-4o-mini', input: 'globex' });
    await failure(() => client('dev@acme.test--dev').responses.retrieve(byGlobex.id));
    assert.deepEqual(keysAskedFor(byGlobex.id), [ACME_1, ACME_2], 'not the Globex key that stored it');
  });

  it('a caller whose model lists reach no Responses model is 403; an org with no Responses provider is 404', async () => {
    const created = await client('dev@acme.test--dev').responses.create({ model: 'gpt-4o-mini', input: 'x' });
    const forbidden = await failure(() => client('claude@acme.test--dev').responses.retrieve(created.id));
    assert.ok(forbidden instanceof OpenAI.PermissionDeniedError, String(forbidden));
    const none = await failure(() => client('dev@initech.test--dev').responses.delete(created.id));
    assert.ok(none instanceof OpenAI.NotFoundError, String(none));
    // A list naming one model a provider pattern covers (gpt-4.1-mini under gpt-4.1*) reaches it.
    assert.equal((await client('mini@acme.test--dev').responses.retrieve(created.id)).id, created.id);
    assert.deepEqual(keysAskedFor(created.id), [ACME_1]);
  });

  it('a key that fails is not taken for "not found": the failure is the answer', async () => {
    const acme = client('dev@acme.test--dev');
    const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    mock.enqueueScenario('server-error', { key: ACME_1 });
    const error = await failure(() => acme.responses.retrieve(created.id));
    assert.ok(error.status !== undefined && error.status >= 500, `status ${error.status}`);
    assert.deepEqual(keysAskedFor(created.id), [ACME_1, ACME_2]);
  });

  it('cancel is refused in the OpenAI dialect (background responses are not made here); retrieve with stream=true passes the provider refusal', async () => {
    const acme = client('dev@acme.test--dev');
    const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    const cancel = await failure(() => acme.responses.cancel(created.id));
    assert.ok(cancel instanceof OpenAI.BadRequestError, String(cancel));
    assert.match(cancel.message, /background/);
    const stream = await failure(() => acme.responses.retrieve(created.id, { stream: true }));
    assert.ok(stream instanceof OpenAI.BadRequestError, String(stream));
    assert.match(stream.message, /not created with background=true/);
    // A call under /v1/responses/ that OpenAI does not have is a 404 naming the route.
    const unknown = await fetch(`${gateway.url}/v1/responses/summarize`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--dev')}` },
    });
    assert.equal(unknown.status, 404);
    assert.match(
      ((await unknown.json()) as { error: { message: string } }).error.message,
      /no route for POST \/v1\/responses\/summarize/,
    );
  });

  it('a query parameter the call does not take is refused by name; a malformed id is a 400', async () => {
    const headers = { authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--dev')}` };
    const before = mock.requests.length;
    const odd = await fetch(`${gateway.url}/v1/responses/resp_x?api-version=2020-01-01`, { headers });
    assert.equal(odd.status, 400);
    assert.equal(((await odd.json()) as { error: { param: string } }).error.param, 'api-version');
    const bad = await fetch(`${gateway.url}/v1/responses/resp%2F..%2Fx`, { headers });
    assert.equal(bad.status, 400);
    const anonymous = await fetch(`${gateway.url}/v1/responses/resp_x`, { method: 'DELETE' });
    assert.equal(anonymous.status, 401);
    assert.equal(mock.requests.length, before, 'nothing reached the provider');
  });

  it('writes no request event (reading or deleting is not usage)', async () => {
    const acme = client('dev@acme.test--dev');
    const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    const count = (await gateway.requestEvents()).length;
    await acme.responses.retrieve(created.id);
    await acme.responses.inputItems.list(created.id);
    await acme.responses.delete(created.id);
    await failure(() => acme.responses.retrieve(created.id));
    assert.equal((await gateway.requestEvents()).length, count);
  });
});

/**
 * Azure OpenAI keeps stored responses under its Responses URL (`/openai/responses/{id}` with
 * the configured api-version): the call goes there with the caller's `include[]` each passed,
 * and a background response's events (`stream=true`) are relayed as they come.
 */
describe('stored Responses at Azure OpenAI', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  const seen: { method: string; url: string; key: string | undefined }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', key: req.headers['api-key'] as string });
      const url = new URL(req.url ?? '/', 'http://azure');
      if (url.pathname === '/openai/responses/resp_cut') {
        // A background stream whose connection breaks after one event.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `event: response.in_progress\ndata: ${JSON.stringify({ type: 'response.in_progress', sequence_number: 7 })}\n\n`,
        );
        setTimeout(() => res.destroy(), 50);
        return;
      }
      if (url.pathname !== '/openai/responses/resp_bg1') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', code: null } }),
        );
        return;
      }
      const response = {
        id: 'resp_bg1',
        object: 'response',
        created_at: 1,
        status: 'completed',
        model: 'gpt-4o',
        output: [],
      };
      if (url.searchParams.get('stream') !== 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(response));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `event: response.in_progress\ndata: ${JSON.stringify({ type: 'response.in_progress', sequence_number: 3, response })}\n\n`,
      );
      res.end(
        `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', sequence_number: 4, response })}\n\n`,
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

  it('goes to /openai/responses/{id} with the api-version and every include[]; a background stream is relayed', async () => {
    const azure = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const found = await azure.responses.retrieve('resp_bg1', {
      include: ['reasoning.encrypted_content', 'message.output_text.logprobs'],
    });
    assert.equal(found.id, 'resp_bg1');
    assert.deepEqual(seen.at(-1), {
      method: 'GET',
      url: '/openai/responses/resp_bg1?include%5B%5D=reasoning.encrypted_content&include%5B%5D=message.output_text.logprobs&api-version=2025-04-01-preview',
      key: 'azure-key-0123456789abcdef0123456789',
    });
    const events = [];
    for await (const event of await azure.responses.retrieve('resp_bg1', { stream: true, starting_after: 2 }))
      events.push(event.type);
    assert.deepEqual(events, ['response.in_progress', 'response.completed']);
    assert.match(seen.at(-1)!.url, /starting_after=2/);
  });

  /**
   * A relayed background stream that breaks ends with the error event the SDK raises, shaped
   * as a Responses stream's (`event: error`, numbered after the events relayed), not a chat
   * stream's `data: {"error": ...}` frame without a name or a `sequence_number`.
   */
  it('a relayed background stream that breaks ends with a numbered Responses error event', async () => {
    const answer = await fetch(`${gateway.url}/v1/responses/resp_cut?stream=true`, {
      headers: { authorization: `Bearer ${gateway.proxyKeys.get('dev@acme.test--dev')!}` },
    });
    assert.equal(answer.status, 200);
    const frames = (await answer.text()).split('\n\n').filter((frame) => frame !== '');
    assert.equal(frames.length, 2, frames.join('|'));
    const [name, data] = frames[1]!.split('\n');
    assert.equal(name, 'event: error');
    const event = JSON.parse(data!.slice('data: '.length));
    assert.equal(event.type, 'error');
    assert.equal(event.sequence_number, 8);
    assert.equal(event.code, 'stream_interrupted');
    const azure = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    await assert.rejects(async () => {
      for await (const _event of await azure.responses.retrieve('resp_cut', { stream: true })) {
        // the SDK raises at the error event
      }
    }, /connection to the provider broke/);
  });
});
