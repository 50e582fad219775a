/**
 * A caller's model lists (`limits.models`) bound the models a request names inside its tools
 * as well as its `model`: OpenAI's Responses `image_generation` tool (`model`, OpenAI's
 * default image model when left out), OpenRouter's server tools (`parameters.model`) and
 * Claude's advisor tool (`model`) run another model with the org's key. A model the lists do
 * not allow is refused (403 naming it) before any provider is asked.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('models named inside tools are held to the caller model lists', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  const received: Array<{ url: string; body: Record<string, unknown> }> = [];

  before(async () => {
    server = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as Record<string, unknown>;
      received.push({ url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.endsWith('/v1/messages')) {
        res.end(
          JSON.stringify({
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: body.model,
            content: [{ type: 'text', text: 'Plan: ...' }],
            stop_reason: 'end_turn',
            stop_sequence: null,
            usage: { input_tokens: 10, output_tokens: 5 },
          }),
        );
        return;
      }
      if (req.url?.endsWith('/responses')) {
        res.end(
          JSON.stringify({
            id: 'resp_img',
            object: 'response',
            created_at: 1,
            status: 'completed',
            model: body.model,
            output: [
              {
                type: 'image_generation_call',
                id: 'ig_1',
                status: 'completed',
                result: 'aGVsbG8=',
              },
            ],
            usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
          }),
        );
        return;
      }
      res.end(
        JSON.stringify({
          id: 'gen-1',
          created: 1,
          model: body.model,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Here' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
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
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o-mini, gpt-image-1]
        keys: [{ name: k1, secret: "sk-proj-audit-0123456789abcdef0123456789abc" }]
      - name: openrouter
        type: openai-compatible
        vendor: openrouter
        baseUrl: ${url}/api/v1
        models: ["meta-llama/*"]
        keys: [{ name: k1, secret: "sk-or-v1-0123456789abcdef0123456789abcdef" }]
      - name: anthropic
        type: anthropic
        baseUrl: ${url}
        models: ["claude-*"]
        keys: [{ name: k1, secret: "sk-ant-api03-audit0123456789abcdef0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: mini, limits: { models: [gpt-4o-mini] } }
          - { name: llama, limits: { models: ["meta-llama/llama-3.1-8b-instruct"] } }
          - { name: haiku, limits: { models: ["claude-haiku-*"] } }
          - { name: artist, limits: { models: [gpt-4o-mini, gpt-image-1] } }
`);
  });
  after(async () => {
    await gateway?.stop();
    server?.close();
  });

  const client = (name: string) =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get(`dev@acme.test--${name}`)!,
      maxRetries: 0,
    });

  it('a key limited to gpt-4o-mini cannot reach gpt-image-1 through the Responses image_generation tool', async () => {
    // gpt-image-1 itself, named as `model`, is refused for this key (403 naming it).
    const direct = await client('mini')
      .responses.create({ model: 'gpt-image-1', input: 'a cat' })
      .catch((error: unknown) => error);
    assert.ok(direct instanceof OpenAI.PermissionDeniedError, String(direct));

    const before = received.length;
    const answer = await client('mini')
      .responses.create({
        model: 'gpt-4o-mini',
        input: 'draw a cat',
        tools: [{ type: 'image_generation', model: 'gpt-image-1', quality: 'high' }],
      })
      .catch((error: unknown) => error);
    assert.ok(
      answer instanceof OpenAI.APIError && answer.status >= 400 && answer.status < 500,
      `served (${received.length - before} provider call(s), tool sent: ${JSON.stringify(
        received.at(-1)?.body.tools,
      )})`,
    );
    assert.equal(received.length, before, 'the provider was asked');
    assert.equal((answer as InstanceType<typeof OpenAI.APIError>).status, 403);
    assert.match(String((answer as Error).message), /gpt-image-1 \(tools\[0\]\.model\) is not allowed/);
  });

  it("an image_generation tool that names no model is held to OpenAI's default image model", async () => {
    const before = received.length;
    const answer = await client('mini')
      .responses.create({ model: 'gpt-4o-mini', input: 'draw a cat', tools: [{ type: 'image_generation' }] })
      .catch((error: unknown) => error);
    assert.ok(answer instanceof OpenAI.PermissionDeniedError, String(answer));
    assert.match(answer.message, /gpt-image-2\.6-sunburst/);
    assert.equal(received.length, before, 'the provider was asked');
  });

  it('a key whose list allows the image model is served, the tool sent as asked', async () => {
    const before = received.length;
    const answer = await client('artist').responses.create({
      model: 'gpt-4o-mini',
      input: 'draw a cat',
      tools: [{ type: 'image_generation', model: 'gpt-image-1' }],
    });
    assert.equal(answer.id, 'resp_img');
    assert.equal(received.length, before + 1);
    assert.deepEqual(received.at(-1)?.body.tools, [{ type: 'image_generation', model: 'gpt-image-1' }]);
  });

  it("a key limited to one llama model cannot pick OpenRouter's image model through openrouter:image_generation", async () => {
    const before = received.length;
    const answer = await client('llama')
      .chat.completions.create({
        model: 'meta-llama/llama-3.1-8b-instruct',
        messages: [{ role: 'user', content: 'draw a cat' }],
        tools: [
          {
            type: 'openrouter:image_generation',
            parameters: { model: 'openai/gpt-5-image', quality: 'high' },
          },
        ],
      } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((error: unknown) => error);
    assert.ok(
      answer instanceof OpenAI.APIError && answer.status >= 400 && answer.status < 500,
      `served (${received.length - before} provider call(s), tools sent: ${JSON.stringify(
        received.at(-1)?.body.tools,
      )})`,
    );
    assert.equal(received.length, before, 'OpenRouter was asked');
    assert.match(String((answer as Error).message), /openai\/gpt-5-image/);
  });

  it('an OpenRouter advisor that names no model (the executor would pick one), or whose own tools name one, is refused', async () => {
    for (const tools of [
      [{ type: 'openrouter:advisor' }],
      [
        {
          type: 'openrouter:advisor',
          parameters: {
            model: 'meta-llama/llama-3.1-8b-instruct',
            tools: [{ type: 'openrouter:image_generation', parameters: { model: 'google/gemini-image' } }],
          },
        },
      ],
    ]) {
      const before = received.length;
      const answer = await client('llama')
        .chat.completions.create({
          model: 'meta-llama/llama-3.1-8b-instruct',
          messages: [{ role: 'user', content: 'plan it' }],
          tools,
        } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .catch((error: unknown) => error);
      assert.ok(answer instanceof OpenAI.PermissionDeniedError, String(answer));
      assert.equal(received.length, before, JSON.stringify(tools));
    }
  });

  it("a key limited to claude-haiku-* cannot consult Opus through Claude's advisor tool", async () => {
    const anthropic = new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--haiku')!,
      maxRetries: 0,
    });
    // Opus named as `model` is refused for this key.
    const direct = await anthropic.messages
      .create({ model: 'claude-opus-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    assert.ok(direct instanceof Anthropic.PermissionDeniedError, String(direct));

    const before = received.length;
    const answer = await anthropic.beta.messages
      .create({
        model: 'claude-haiku-4-5-20251001',
        max_tokens: 1000,
        betas: ['advisor-tool-2026-03-01'],
        tools: [{ type: 'advisor_20260301', name: 'advisor', model: 'claude-opus-4-6' }],
        messages: [{ role: 'user', content: 'refactor the auth module' }],
      } as unknown as Anthropic.Beta.MessageCreateParamsNonStreaming)
      .catch((error: unknown) => error);
    assert.ok(
      answer instanceof Anthropic.APIError && answer.status >= 400 && answer.status < 500,
      `served (${received.length - before} provider call(s), tools sent: ${JSON.stringify(
        received.at(-1)?.body.tools,
      )})`,
    );
    assert.equal(received.length, before, 'Claude was asked');
    assert.ok(answer instanceof Anthropic.PermissionDeniedError, String(answer));
    assert.match(answer.message, /claude-opus-4-6/);
  });
});
