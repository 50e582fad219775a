import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import {
  eventOfRequest,
  type KordonUnderTest,
  providerKeyHealth,
  startKordonUnderTest,
} from './support/kordon-under-test.js';

/**
 * A hosted vendor that does not serve the model asked for says so in its own words, a 400 for
 * most (each body as the vendor sends it; see `openAICompatibleErrorInfo`). As OpenAI's 404
 * `model_not_found`: the next provider of the model's chain serves, the key is not held, and
 * with no provider left the caller gets the last one's error in its own dialect.
 */
describe('a hosted OpenAI-compatible vendor without the model', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let openai: OpenAI;
  const adminToken = randomBytes(32).toString('base64url');
  const seen: string[] = [];

  /** Each vendor's answer for a model it does not serve. */
  const lacking: Record<string, (model: string) => [number, unknown]> = {
    mistral: (model) => [
      400,
      {
        object: 'error',
        message: `Invalid model: ${model}`,
        type: 'invalid_model',
        param: null,
        code: '1500',
      },
    ],
    deepseek: () => [
      400,
      {
        error: {
          message: 'Model Not Exist',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_request_error',
        },
      },
    ],
    openrouter: (model) => [
      400,
      { error: { message: `${model} is not a valid model ID`, code: 400 }, user_id: 'user_mock' },
    ],
    together: (model) => [
      400,
      {
        id: 'o-mock',
        error: {
          message: `Unable to access non-serverless model ${model}. Please visit https://api.together.ai/models/${model} to create and start a new dedicated endpoint for the model.`,
          type: 'invalid_request_error',
          param: null,
          code: 'model_not_available',
        },
      },
    ],
    groq: (model) => [
      404,
      {
        error: {
          message: `The model \`${model}\` does not exist or you do not have access to it.`,
          type: 'invalid_request_error',
          code: 'model_not_found',
        },
      },
    ],
  };
  const vendors = Object.keys(lacking);

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string };
      const server = (req.url ?? '').split('/')[1] ?? '';
      seen.push(server);
      const [status, answer] =
        lacking[server]?.(body.model) ??
        ([
          200,
          {
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1,
            model: body.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: `Hi from ${server}` },
                finish_reason: 'stop',
              },
            ],
            usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
          },
        ] as const);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // Each vendor lists the model `<vendor>-model`, which the backup serves too; `lonely-model`
    // only Mistral and Together list, and neither serves.
    const providers = vendors
      .map(
        (vendor) => `
      - name: ${vendor}-hosted
        type: openai-compatible
        vendor: ${vendor}
        baseUrl: ${url}/${vendor}/v1
        models: ["${vendor}-model"${vendor === 'mistral' || vendor === 'together' ? ', "lonely-model"' : ''}]
        keys: [{ name: k1, secret: "${vendor}-key-0123456789abcdef" }]`,
      )
      .join('');
    k = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:${providers}
      - name: backup
        type: openai-compatible
        vendor: vllm
        baseUrl: ${url}/backup/v1
        models: [${vendors.map((vendor) => `"${vendor}-model"`).join(', ')}]
        keys: [{ name: k1, secret: "backup-key-0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { KORDON_ADMIN_TOKEN: adminToken },
    );
    openai = new OpenAI({
      baseURL: `${k.url}/v1`,
      apiKey: k.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await k?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  for (const vendor of ['mistral', 'deepseek', 'openrouter', 'together', 'groq']) {
    it(`${vendor}'s "no such model": the next provider of the chain serves, the key is not held`, async () => {
      const from = seen.length;
      const { data, response } = await openai.chat.completions
        .create({ model: `${vendor}-model`, messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(data.choices[0]?.message.content, 'Hi from backup');
      assert.deepEqual(seen.slice(from), [vendor, 'backup']);
      const event = await eventOfRequest(k, response.headers.get('x-request-id'));
      assert.equal(event.type, 'RequestCompleted');
      const key = await providerKeyHealth(k, adminToken, `${vendor}-hosted`);
      assert.equal(key.state, 'ok', vendor);
      assert.equal(key.usable, true, vendor);
      assert.equal(key.consecutiveFailures, 0, vendor);
    });
  }

  it("with no provider left, the last vendor's 400 is the answer, in the caller's dialect", async () => {
    const from = seen.length;
    const error = await openai.chat.completions
      .create({ model: 'lonely-model', messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => assert.fail('expected a 400'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, 400);
    assert.match(error.message, /Unable to access non-serverless model lonely-model/);
    assert.deepEqual(seen.slice(from), ['mistral', 'together']);
    // Both said lately they lack it: neither is asked again for a while, and an Anthropic
    // caller gets what they said in Anthropic's shape.
    const answer = await fetch(`${k.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': k.proxyKeys.get('dev@acme.test--dev')!,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'lonely-model',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    assert.equal(answer.status, 400);
    const body = (await answer.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /lonely-model/);
    assert.deepEqual(seen.slice(from), ['mistral', 'together']);
    for (const provider of ['mistral-hosted', 'together-hosted']) {
      const key = await providerKeyHealth(k, adminToken, provider);
      assert.equal(key.consecutiveFailures, 0, provider);
    }
  });
});
