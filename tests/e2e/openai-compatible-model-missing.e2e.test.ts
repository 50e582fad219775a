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
 * A self-hosted server that does not have the model asked for says so with a 404 of its own
 * wording, not OpenAI's `model_not_found`:
 * - vLLM (vllm/entrypoints/openai/serving_engine.py, `_check_model`): `{"object":"error",
 *   "message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}`;
 * - Ollama's OpenAI endpoint (openai/openai.go `NewError` around server/routes.go's 404):
 *   `{"error":{"message":"model \"x\" not found, try pulling it first","type":"api_error",
 *   "param":null,"code":null}}`, and in current versions `model 'x' not found` typed
 *   `not_found_error`.
 * Either means what OpenAI's model_not_found means: the next provider of the model's chain
 * serves the caller, and the key is neither faulted nor credited.
 */
describe('an OpenAI-compatible server without the model', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let openai: OpenAI;
  const adminToken = randomBytes(32).toString('base64url');
  const seen: Array<{ server: string; model: string }> = [];

  /** The models each server has; any other is answered with that server's own 404. */
  const served: Record<string, readonly string[]> = {
    vllm: ['meta-llama/Llama-3.1-8B-Instruct'],
    ollama: ['llama3.2:latest'],
    'ollama-old': ['llama3.2:latest'],
    pair: [],
    backup: ['Qwen/Qwen2.5-7B-Instruct', 'qwen2.5:7b', 'mistral-nemo', 'gemma-2-9b'],
  };

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; stream?: boolean };
      const server = (req.url ?? '').split('/')[1] ?? '';
      seen.push({ server, model: body.model });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (!served[server]?.includes(body.model)) {
        if (server === 'vllm' || server === 'pair')
          return json(404, {
            object: 'error',
            message: `The model \`${body.model}\` does not exist.`,
            type: 'NotFoundError',
            param: null,
            code: 404,
          });
        if (server === 'ollama')
          return json(404, {
            error: {
              message: `model '${body.model}' not found`,
              type: 'not_found_error',
              param: null,
              code: null,
            },
          });
        if (server === 'ollama-old')
          return json(404, {
            error: {
              message: `model ${JSON.stringify(body.model)} not found, try pulling it first`,
              type: 'api_error',
              param: null,
              code: null,
            },
          });
        return json(404, { error: { message: 'unexpected model', type: 'invalid_request_error' } });
      }
      const base = { id: 'chatcmpl-1', created: 1, model: body.model };
      const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
      if (body.stream !== true)
        return json(200, {
          ...base,
          object: 'chat.completion',
          choices: [
            { index: 0, message: { role: 'assistant', content: `Hi from ${server}` }, finish_reason: 'stop' },
          ],
          usage,
        });
      const chunk = (value: object) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...value })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        chunk({
          choices: [
            { index: 0, delta: { role: 'assistant', content: `Hi from ${server}` }, finish_reason: null },
          ],
        }) +
          chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
          chunk({ choices: [], usage }) +
          'data: [DONE]\n\n',
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: gpu-box
        type: openai-compatible
        vendor: vllm
        baseUrl: ${url}/vllm/v1
        models: ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-72B-Instruct"]
        keys: [{ name: k1, secret: "vllm-key-0123456789abcdef" }]
      - name: laptop
        type: openai-compatible
        vendor: ollama
        baseUrl: ${url}/ollama/v1
        models: ["llama3.2:latest", "qwen2.5:7b"]
        keys: [{ name: k1, secret: "ollama-key-0123456789abcdef" }]
      - name: old-laptop
        type: openai-compatible
        vendor: ollama
        baseUrl: ${url}/ollama-old/v1
        models: ["mistral-nemo"]
        keys: [{ name: k1, secret: "ollama-old-key-0123456789abcdef" }]
      - name: pair
        type: openai-compatible
        vendor: vllm
        baseUrl: ${url}/pair/v1
        models: ["gemma-2-9b"]
        keys: [{ name: k1, secret: "pair-key-one-0123456789abcdef" }, { name: k2, secret: "pair-key-two-0123456789abcdef" }]
      - name: backup
        type: openai-compatible
        vendor: vllm
        baseUrl: ${url}/backup/v1
        models: ["Qwen/Qwen2.5-7B-Instruct", "qwen2.5:7b", "mistral-nemo", "gemma-2-9b"]
        keys: [{ name: k1, secret: "backup-key-0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { KORDON_ADMIN_TOKEN: adminToken },
    );
    openai = new OpenAI({
      baseURL: `${k.url}/v1`,
      apiKey: k.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await k?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const eventOf = (requestId: string | null | undefined) => eventOfRequest(k, requestId);
  const health = (provider: string) => providerKeyHealth(k, adminToken, provider);

  it("vLLM's 404 (`The model … does not exist.`): the next provider of the chain serves", async () => {
    const from = seen.length;
    const { data, response } = await openai.chat.completions
      .create({ model: 'Qwen/Qwen2.5-7B-Instruct', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(data.choices[0]?.message.content, 'Hi from backup');
    assert.deepEqual(
      seen.slice(from).map((s) => s.server),
      ['vllm', 'backup'],
    );
    const event = await eventOf(response.headers.get('x-request-id'));
    assert.equal(event.type, 'RequestCompleted');
    const { provider, attempts } = event.data as { provider: string; attempts: number };
    assert.deepEqual({ provider, attempts }, { provider: 'backup', attempts: 2 });
  });

  it("Ollama's 404 (`model '…' not found`), streamed: the next provider of the chain serves", async () => {
    const from = seen.length;
    let text = '';
    const stream = await openai.chat.completions.create({
      model: 'qwen2.5:7b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Hi from backup');
    assert.deepEqual(
      seen.slice(from).map((s) => s.server),
      ['ollama', 'backup'],
    );
  });

  it('older Ollama\'s 404 (`model "…" not found, try pulling it first`, api_error): the next provider serves', async () => {
    const from = seen.length;
    const answer = await openai.chat.completions.create({
      model: 'mistral-nemo',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.choices[0]?.message.content, 'Hi from backup');
    assert.deepEqual(
      seen.slice(from).map((s) => s.server),
      ['ollama-old', 'backup'],
    );
  });

  /**
   * Every key of an OpenAI-compatible provider calls the same server and sees its models: the
   * server's 404 to one key was taken as that key's alone (as OpenAI's projects differ), so each
   * other key paid its own 404 before the next provider was asked.
   */
  it("one key's 404 speaks for the provider's other keys at the same server", async () => {
    const from = seen.length;
    const answer = await openai.chat.completions.create({
      model: 'gemma-2-9b',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.choices[0]?.message.content, 'Hi from backup');
    assert.deepEqual(
      seen.slice(from).map((s) => s.server),
      ['pair', 'backup'],
    );
  });

  it('the server without the model is asked after the others for a while: the next request pays no 404', async () => {
    const from = seen.length;
    const answer = await openai.chat.completions.create({
      model: 'Qwen/Qwen2.5-7B-Instruct',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.choices[0]?.message.content, 'Hi from backup');
    assert.deepEqual(
      seen.slice(from).map((s) => s.server),
      ['backup'],
    );
  });

  it('their keys are neither faulted nor credited with a success, and serve the models they have', async () => {
    for (const provider of ['gpu-box', 'laptop', 'old-laptop']) {
      const key = await health(provider);
      assert.equal(key.state, 'ok', provider);
      assert.equal(key.usable, true, provider);
      assert.equal(key.consecutiveFailures, 0, provider);
      assert.equal(key.latencyEwmaMs, null, `${provider}: no success reported for a 404`);
    }
    const answer = await openai.chat.completions.create({
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(answer.choices[0]?.message.content, 'Hi from vllm');
  });

  it("when no other provider of the chain has the model, the server's 404 is the answer", async () => {
    const error = await openai.chat.completions
      .create({ model: 'Qwen/Qwen2.5-72B-Instruct', messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => assert.fail('expected a 404'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, 404);
    assert.match(error.message, /The model `Qwen\/Qwen2\.5-72B-Instruct` does not exist/);
    const event = await eventOf(error.requestID);
    assert.equal(event.type, 'RequestFailed');
    const { provider, upstreamStatus } = event.data as { provider: string; upstreamStatus: number };
    assert.deepEqual({ provider, upstreamStatus }, { provider: 'gpu-box', upstreamStatus: 404 });
  });
});
