import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { bearerOf, type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * OpenAI-compatible vendors' failure answers, as each vendor writes them, through Kordon to
 * the official OpenAI SDK.
 *
 * - DeepSeek 402 "Insufficient Balance" and OpenRouter 402 (credits spent): the key's money is
 *   gone, as with OpenAI's `insufficient_quota`; the key rests and the request goes to the next
 *   key (it failed the caller, as their own bad request, on every turn that key got).
 * - Groq 498 (flex tier at capacity): a capacity failure of the provider, not the caller's
 *   bad request.
 * - Groq 429 "Rate limit reached for model `…`": Groq's limits are per model, so the key rests
 *   for that model alone and serves the others.
 * - Mistral 422 `{"object":"error","message":{"detail":[...]}}`: the caller must see why.
 */
describe('OpenAI-compatible vendor failures', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  const calls: Array<{ path: string; key: string | undefined }> = [];

  const completion = (model: string) => ({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  });

  before(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string };
      const key = bearerOf(req.headers);
      const path = req.url ?? '';
      calls.push({ path, key });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (key?.includes('spent') && path.startsWith('/deepseek/')) {
        // DeepSeek's answer when the account has no balance left.
        return json(402, {
          error: {
            message: 'Insufficient Balance',
            type: 'unknown_error',
            param: null,
            code: 'invalid_request_error',
          },
        });
      }
      if (key?.includes('spent') && path.startsWith('/openrouter/')) {
        return json(402, {
          error: {
            code: 402,
            message:
              'Insufficient credits. This account never purchased credits. Make sure your key is on the correct account or org, and if so, purchase more at https://openrouter.ai/settings/credits',
          },
        });
      }
      if (path.startsWith('/groq-limits/')) {
        // Groq's answer when one model's own limit is spent (console.groq.com/docs/rate-limits
        // lists the limits model by model); the key's other models have theirs left.
        if (body.model === 'openai/gpt-oss-120b') {
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
          return res.end(
            JSON.stringify({
              error: {
                message:
                  'Rate limit reached for model `openai/gpt-oss-120b` in organization `org_01hs26sgxde6dva0eke39336sv` service tier `on_demand` on tokens per minute (TPM): Limit 8000, Used 6000, Requested 4000. Please try again in 6.78s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing',
                type: 'tokens',
                code: 'rate_limit_exceeded',
              },
            }),
          );
        }
        return json(200, completion(body.model));
      }
      if (path.startsWith('/groq/')) {
        return json(498, {
          error: {
            message: 'Flex tier capacity exceeded. This is a temporary error, please try again later.',
            type: 'tokens',
            code: 'flex_tier_capacity_exceeded',
          },
        });
      }
      if (path.startsWith('/mistral/')) {
        return json(422, {
          object: 'error',
          message: {
            detail: [
              {
                type: 'extra_forbidden',
                loc: ['body', 'frobnicate'],
                msg: 'Extra inputs are not permitted',
                input: true,
              },
            ],
          },
          type: 'invalid_request_message_error',
          param: null,
          code: null,
        });
      }
      return json(200, completion(body.model));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: deepseek
        type: openai-compatible
        vendor: deepseek
        baseUrl: ${url}/deepseek/v1
        models: [deepseek-chat]
        balancer: round-robin
        keys:
          - { name: spent, secret: "sk-spent-0123456789abcdef0123456789" }
          - { name: funded, secret: "sk-funded-0123456789abcdef012345678" }
      - name: openrouter
        type: openai-compatible
        vendor: openrouter
        baseUrl: ${url}/openrouter/api/v1
        models: ["meta-llama/*"]
        balancer: round-robin
        keys:
          - { name: spent, secret: "sk-or-v1-spent-0123456789abcdef0123456789" }
          - { name: funded, secret: "sk-or-v1-funded-0123456789abcdef012345678" }
      - name: groq
        type: openai-compatible
        vendor: groq
        baseUrl: ${url}/groq/openai/v1
        models: [llama-3.3-70b-versatile]
        keys: [{ name: k1, secret: "gsk_0123456789abcdef0123456789abcdef" }]
      - name: groq-limits
        type: openai-compatible
        vendor: groq
        baseUrl: ${url}/groq-limits/openai/v1
        models: [openai/gpt-oss-120b, qwen/qwen3-32b]
        keys: [{ name: k1, secret: "gsk_limits0123456789abcdef0123456789" }]
      - name: mistral
        type: openai-compatible
        vendor: mistral
        baseUrl: ${url}/mistral/v1
        models: [mistral-small-latest]
        keys: [{ name: k1, secret: "mistral-0123456789abcdef0123456789" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  const openai = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });

  for (const [vendor, model] of [
    ['deepseek', 'deepseek-chat'],
    ['openrouter', 'meta-llama/llama-3.3-70b-instruct'],
  ] as const) {
    it(`${vendor}: a 402 (the key's balance is spent) rests that key and the funded key serves`, async () => {
      const failures: string[] = [];
      for (let i = 0; i < 4; i++) {
        try {
          const answer = await openai().chat.completions.create({
            model,
            messages: [{ role: 'user', content: 'Hi' }],
          });
          assert.equal(answer.choices[0]?.message.content, 'Hi there');
        } catch (error) {
          failures.push(`${(error as { status?: number }).status}: ${(error as Error).message}`);
        }
      }
      const spentCalls = calls.filter((c) => c.path.startsWith(`/${vendor}/`) && c.key?.includes('spent'));
      assert.deepEqual(failures, [], 'every request is served while a funded key is left');
      assert.ok(spentCalls.length <= 1, `the spent key was asked ${spentCalls.length} times, not rested`);
    });
  }

  it('groq: 498 (flex capacity exceeded) is not answered as the caller’s invalid request', async () => {
    const error = await openai()
      .chat.completions.create({
        model: 'llama-3.3-70b-versatile',
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.ok(error instanceof OpenAI.APIError);
    assert.notEqual(error.type, 'invalid_request_error', `${error.status} ${error.type}: ${error.message}`);
    // A capacity failure: a status the SDKs retry later (503 / 429), not a 4xx of the caller's.
    assert.ok(error.status === 503 || error.status === 429, `status ${error.status}`);
  });

  it("groq: a 429 for one model's own limit does not stop the key serving another model", async () => {
    await assert.rejects(
      openai().chat.completions.create({
        model: 'openai/gpt-oss-120b',
        messages: [{ role: 'user', content: 'Hi' }],
      }),
      (error: unknown) => error instanceof OpenAI.RateLimitError,
    );
    const before = calls.filter((c) => c.path.startsWith('/groq-limits/')).length;
    const answer = await openai().chat.completions.create({
      model: 'qwen/qwen3-32b',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const after = calls.filter((c) => c.path.startsWith('/groq-limits/')).length;
    assert.equal(after - before, 1, 'the key was asked for the other model');
    assert.equal(answer.choices[0]?.message.content, 'Hi there');
  });

  it('mistral: a 422 whose message is {detail: [...]} reaches the caller with the reason', async () => {
    const error = await openai()
      .chat.completions.create({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 422);
    assert.match(error.message, /Extra inputs are not permitted/);
  });
});
