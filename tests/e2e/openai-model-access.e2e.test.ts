import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * OpenAI's per-project model access through Kordon: a key's project may not use a model (its
 * model allowlist, or a model its tier does not reach), which OpenAI answers 403 or 404
 * `model_not_found`; the same key serves every other model, and a key of another project may
 * serve that one. The upstream is a plain HTTP
 * server answering OpenAI's wire format; the path picks the case (one provider per case).
 */

const completion = (model: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe("OpenAI's model_not_found (a project without the model) through Kordon", () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let origin: string;
  const calls: Array<{ path: string; key: string }> = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string };
      const path = req.url ?? '';
      const key = String(req.headers.authorization).replace(/^Bearer /, '');
      calls.push({ path, key });
      if (path.startsWith('/projects/')) {
        // Two keys of two OpenAI projects: the first project may not use the model (OpenAI's
        // per-project model allowlist answers model_not_found), the second may.
        if (key.includes('restricted'))
          return json(res, 404, {
            error: {
              message: `The model \`${body.model}\` does not exist or you do not have access to it.`,
              type: 'invalid_request_error',
              param: null,
              code: 'model_not_found',
            },
          });
        return json(res, 200, completion(body.model));
      }
      if (path.startsWith('/project-403/')) {
        // OpenAI's answer to a project that may not use a model: 403 model_not_found.
        if (body.model === 'gpt-4.1')
          return json(res, 403, {
            error: {
              message: 'Project `proj_QRf115YMnQwMUdTI9cu2sWQ8` does not have access to model `gpt-4.1`',
              type: 'invalid_request_error',
              param: null,
              code: 'model_not_found',
            },
          });
        return json(res, 200, completion(body.model));
      }
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: projects
        type: openai
        baseUrl: ${origin}/projects/v1
        models: [gpt-4o]
        balancer: round-robin
        keys:
          - { name: a, secret: "sk-proj-restricted-0123456789abcdef012345" }
          - { name: b, secret: "sk-proj-allowed-0123456789abcdef0123456789" }
      - name: project-403
        type: openai
        baseUrl: ${origin}/project-403/v1
        models: ["gpt-4.1", o3]
        keys: [{ name: only, secret: "sk-proj-p403-0123456789abcdef0123456789" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const client = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });

  it("one key's project lacks the model: the provider's other key (another project's) serves, and the first is not asked again for the minute", async () => {
    const failures: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        const answer = await client().chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'Hi' }],
        });
        assert.equal(answer.choices[0]?.message.content, 'Hi there');
      } catch (error) {
        failures.push(`${(error as { status?: number }).status}: ${(error as Error).message}`);
      }
    }
    const asked = calls
      .filter((c) => c.path.startsWith('/projects/'))
      .map((c) => (c.key.includes('restricted') ? 'restricted' : 'allowed'));
    assert.deepEqual(failures, [], `keys asked: ${asked.join(', ')}`);
    assert.equal(asked.filter((k) => k === 'restricted').length, 1, `keys asked: ${asked.join(', ')}`);
    const events = await gateway.allEvents();
    assert.deepEqual(
      events.filter((e) => e.type === 'ProviderKeyDisabled' || e.type === 'ProviderKeyCooledDown'),
      [],
    );
  });

  it("a 403 model_not_found is answered as OpenAI sent it and leaves the key serving the project's other models", async () => {
    const refused = await client()
      .chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    const seen = `status ${refused.status}, code ${refused.code}: ${refused.message}`;
    assert.equal(refused.status, 403, seen);
    assert.equal(refused.code, 'model_not_found', seen);
    assert.match(refused.message, /does not have access to model/, seen);
    // The same key, another model its project may use.
    const other = await client()
      .chat.completions.create({ model: 'o3', messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        (answer) => `answered: ${answer.choices[0]?.message.content}`,
        (e: unknown) => `failed ${(e as { status?: number }).status}: ${(e as Error).message}`,
      );
    assert.equal(other, 'answered: Hi there', `after ${seen}`);
    const events = await gateway.allEvents();
    assert.deepEqual(
      events.filter((e) => e.type === 'ProviderKeyDisabled' || e.type === 'ProviderKeyCooledDown'),
      [],
    );
  });
});
