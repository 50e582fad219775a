import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase } from '@kordon/events/testing';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OLD_KEY = 'sk-proj-rotate-health-old-abcdefghijklmnopqrstu';
const NEW_KEY = 'sk-proj-rotate-health-new-abcdefghijklmnopqrstu';

const answer = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
};
const invalidKey = {
  error: {
    message: 'Incorrect API key provided: sk-proj-****qrstu.',
    type: 'invalid_request_error',
    param: null,
    code: 'invalid_api_key',
  },
};
const missingScope = {
  error: {
    message:
      'You have insufficient permissions for this operation. Missing scopes: model.request. Check that ' +
      "you have the correct role in your organization, and if you're using a restricted API key, that " +
      'it has the necessary scopes.',
    type: 'invalid_request_error',
    param: null,
    code: null,
  },
};

/**
 * A provider key whose secret the admin replaces (`POST …/provider-keys/{key}/rotate`) starts
 * afresh in every replica: a replica that saw the old secret refused (401, the key disabled; or a
 * restricted key's missing scope, remembered for a minute) sends its next request with the new
 * one. Two replicas on one PostgreSQL: the rotation goes through one, the requests through the other.
 */
describe('a replaced provider key secret starts afresh in every replica', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let server: Server;
  let control: KordonUnderTest;
  let replica: KordonUnderTest;
  let drop: () => Promise<void>;
  let client: OpenAI;
  /** What the provider answers the old secret. */
  let refusal: object = invalidKey;
  /** While set, the provider's answer to the old secret waits for it. */
  let oldAnswerHeld: Promise<void> | undefined;
  const seen: string[] = [];
  const adminToken = randomBytes(32).toString('base64url');

  before(async () => {
    server = createServer(async (req, res) => {
      for await (const _ of req);
      const key = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      seen.push(key === NEW_KEY ? 'new' : key === OLD_KEY ? 'old' : 'other');
      const ok = key === NEW_KEY;
      if (!ok) await oldAnswerHeld;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? answer : refusal));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const database = await createTestDatabase();
    if (!database) throw new Error('KORDON_TEST_DATABASE_URL is not set');
    drop = database.drop;
    const config = (provider: string) => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: ${provider}
        type: openai
        baseUrl: http://127.0.0.1:${port}/v1
        models: [gpt-4o-mini]
        keys: [{ name: main, secret: "\${OLD_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`;
    const env = {
      OLD_KEY,
      KORDON_DATABASE_URL: database.url,
      KORDON_MASTER_KEY: randomBytes(32).toString('base64'),
      KORDON_PROXY_KEY_SECRET: randomBytes(32).toString('base64'),
      KORDON_ADMIN_TOKEN: adminToken,
    };
    control = await startKordonUnderTest(config('openai'), env);
    replica = await startKordonUnderTest(config('openai'), env);
    client = new OpenAI({
      baseURL: `${replica.url}/v1`,
      apiKey: control.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await replica?.stop();
    await control?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await drop?.();
  });

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${control.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const keyId = async (): Promise<string> => {
    const listed = await admin('GET', '/orgs/acme/provider-keys');
    const items = (listed.body.items ?? listed.body.data ?? []) as Array<Record<string, unknown>>;
    const found = items.find((k) => k.name === 'main');
    assert.ok(found, JSON.stringify(listed.body).slice(0, 300));
    return String(found.id);
  };
  const ask = () =>
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
  /** The replica's data plane serves from everything appended so far (its registry has it). */
  const caughtUp = async () => {
    await control.kordon.storage.appender.flush();
    await replica.kordon.storage.appender.flush();
    await replica.kordon.dataPlaneCaughtUp(await control.kordon.storage.store.headPosition());
  };
  const rotate = async (id: string, secret: string) => {
    const rotated = await admin('POST', `/orgs/acme/provider-keys/${id}/rotate`, { secret });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    await caughtUp();
    return rotated.body;
  };

  it('a key the provider refused (401) and the gateway disabled serves again with its new secret', async () => {
    const id = await keyId();
    refusal = invalidKey;
    await assert.rejects(ask(), OpenAI.APIError, 'the old secret is refused');
    assert.deepEqual(seen, ['old']);
    await caughtUp();
    const disabled = (await control.allEvents()).filter((e) => e.type === 'ProviderKeyDisabled');
    assert.equal(disabled.length, 1, 'the gateway disabled the key');

    await rotate(id, NEW_KEY);
    const reply = await ask();
    assert.equal(reply.choices[0]?.message.content, 'hi', 'the rotated key is still disabled');
    assert.deepEqual(seen, ['old', 'new']);
    const events = await control.allEvents();
    const types = events.filter((e) => e.streamId.includes(id)).map((e) => e.type);
    assert.deepEqual(types.slice(-2), ['ProviderKeyRotated', 'ProviderKeyEnabled']);
    const log = JSON.stringify(events);
    assert.ok(!log.includes(NEW_KEY) && !log.includes(OLD_KEY), 'no plaintext secret in any event');
  });

  it("a restricted key's missing scope is forgotten when its secret is replaced", async () => {
    const id = await keyId();
    await rotate(id, OLD_KEY);
    refusal = missingScope;
    seen.length = 0;
    await assert.rejects(ask(), OpenAI.APIError, 'the old secret lacks the scope');
    await assert.rejects(ask(), OpenAI.APIError, 'remembered: not asked again within the minute');
    assert.deepEqual(seen, ['old']);
    const disabled = (await control.allEvents()).filter((e) => e.type === 'ProviderKeyDisabled');
    assert.equal(disabled.length, 1, 'a missing scope does not disable the key');

    await rotate(id, NEW_KEY);
    const reply = await ask();
    assert.equal(reply.choices[0]?.message.content, 'hi', "the old secret's missing scope still holds");
    assert.deepEqual(seen, ['old', 'new']);
  });

  it("an admin's disable stays when the secret is replaced", async () => {
    const id = await keyId();
    assert.equal((await admin('PATCH', `/orgs/acme/provider-keys/${id}`, { disabled: true })).status, 200);
    const rotated = await rotate(id, OLD_KEY);
    assert.equal(rotated.disabled, true, JSON.stringify(rotated));
    seen.length = 0;
    await assert.rejects(ask(), OpenAI.APIError, 'the disabled key is not asked');
    assert.deepEqual(seen, []);
  });

  it('a 401 to the old secret that comes after the rotation does not disable the new one', async () => {
    const id = await keyId();
    assert.equal((await admin('PATCH', `/orgs/acme/provider-keys/${id}`, { disabled: false })).status, 200);
    await caughtUp();
    refusal = invalidKey;
    seen.length = 0;
    let release = () => {};
    oldAnswerHeld = new Promise<void>((resolve) => {
      release = resolve;
    });
    const disabledBefore = (await control.allEvents()).filter((e) => e.type === 'ProviderKeyDisabled').length;
    // A call goes out with the old secret; the admin replaces it and revokes the old one meanwhile.
    const inFlight = ask();
    const refused = assert.rejects(inFlight, OpenAI.APIError, "the old secret's call is refused");
    while (!seen.includes('old')) await new Promise((resolve) => setTimeout(resolve, 10));
    await rotate(id, NEW_KEY);
    release();
    oldAnswerHeld = undefined;
    await refused;
    await caughtUp();
    const disabled = (await control.allEvents()).filter((e) => e.type === 'ProviderKeyDisabled').length;
    assert.equal(disabled, disabledBefore, "the new secret was disabled for the old one's 401");
    const reply = await ask();
    assert.equal(reply.choices[0]?.message.content, 'hi', 'the rotated key does not serve');
    assert.deepEqual(seen, ['old', 'new']);
  });
});
