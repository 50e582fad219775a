/**
 * A stored answer is asked of the org's keys in turn (stored-answers.ts). OpenAI's restricted
 * keys grant endpoints one by one: a project key made for generating only answers a read of a
 * stored response with 401 "Missing scopes: api.responses.read". That key cannot hold the
 * answer for the caller, so the next key (another project, where the answer is) must be asked.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/** A restricted key without the read scopes, and the key of the project that stored the answers. */
const RESTRICTED = 'sk-proj-restricted-0123456789abcdef0123456789ab';
const HOLDER = 'sk-proj-holder-0123456789abcdef0123456789abcdef';

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const missingScope = (scope: string) => ({
  error: {
    message: `You have insufficient permissions for this operation. Missing scopes: ${scope}. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.`,
    type: 'invalid_request_error',
    param: null,
    code: null,
  },
});

describe('stored answers: a restricted key without the read scope is passed over', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let openai: OpenAI;
  const asked: string[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      const key = bearerOf(req.headers) ?? '';
      asked.push(key === RESTRICTED ? 'restricted' : 'holder');
      const path = (req.url ?? '').split('?', 1)[0]!;
      if (key === RESTRICTED)
        return json(
          res,
          401,
          missingScope(path.includes('/chat/') ? 'api.chat.completions.read' : 'api.responses.read'),
        );
      if (path === '/v1/responses/resp_stored')
        return json(res, 200, { id: 'resp_stored', object: 'response', status: 'completed', output: [] });
      if (path === '/v1/chat/completions/chatcmpl-stored')
        return json(res, 200, { id: 'chatcmpl-stored', object: 'chat.completion', choices: [] });
      return json(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${base}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: restricted, secret: "\${RESTRICTED}" }
          - { name: holder, secret: "\${HOLDER}", tier: 1 }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { RESTRICTED, HOLDER },
    );
    openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await gateway?.stop();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('responses.retrieve is answered by the key that holds the response', async () => {
    asked.length = 0;
    const found = await openai.responses.retrieve('resp_stored');
    assert.equal(found.id, 'resp_stored');
    assert.deepEqual(asked, ['restricted', 'holder']);
  });

  it('chat.completions.retrieve is answered by the key that holds the completion', async () => {
    asked.length = 0;
    const found = await openai.chat.completions.retrieve('chatcmpl-stored');
    assert.equal(found.id, 'chatcmpl-stored');
    assert.deepEqual(asked, ['restricted', 'holder']);
  });

  it('when no key holds it, the missing scope is the answer, the keys stay in service', async () => {
    asked.length = 0;
    await assert.rejects(openai.responses.retrieve('resp_elsewhere'), (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError, String(error));
      assert.equal(error.status, 502);
      assert.match(error.message, /may not use this endpoint/);
      return true;
    });
    assert.deepEqual(asked, ['restricted', 'holder']);
    // Neither key was taken out of service: both are asked again (a chat completion is not pinned).
    asked.length = 0;
    assert.equal((await openai.chat.completions.retrieve('chatcmpl-stored')).id, 'chatcmpl-stored');
    assert.deepEqual(asked, ['restricted', 'holder']);
  });
});
