/**
 * Embeddings prices and the model list through the unmodified SDKs, against a small OpenAI
 * embeddings upstream that reports 1,000 prompt tokens a call.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('embeddings prices and the model list', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as { model: string; input: unknown };
        const inputs = Array.isArray(body.input) ? body.input : [body.input];
        const data = inputs.map((_, index) => ({
          object: 'embedding',
          index,
          embedding: [0, 0.1, 0.2, 0.3],
        }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data,
            model: body.model,
            usage: { prompt_tokens: 1000, total_tokens: 1000 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [text-embedding-3-small, text-embedding-ada-002, gpt-4o-mini, "gpt-4.1*"]
        keys: [{ name: k1, secret: "sk-proj-embeddingsmodelsabcdefghijklmnopqrs" }]
    users:
      - email: dev@acme.test
        proxyKeys:
          - { name: dev }
          - { name: narrow, limits: { models: [gpt-4.1-mini, gpt-4o-mini] } }
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const key = (name = 'dev') => gateway.proxyKeys.get(`dev@acme.test--${name}`)!;
  const openai = (name = 'dev') =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(name), maxRetries: 0 });

  it('text-embedding-ada-002 calls are priced ($0.10 per 1M input tokens)', async () => {
    await openai().embeddings.create({ model: 'text-embedding-ada-002', input: 'hello' });
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(event.data.usage.inputTokens, 1000);
    assert.equal(event.data.cost, '0.0001', `recorded cost ${event.data.cost} for 1,000 ada-002 tokens`);
  });

  const anthropic = (name = 'dev') =>
    new Anthropic({ baseURL: gateway.url, apiKey: key(name), maxRetries: 0 });
  /**
   * The org's models in list order; the `gpt-4.1*` pattern is not one: the known OpenAI models
   * it matches (the shipped price table's) are listed in its place.
   */
  const MODELS = [
    'text-embedding-3-small',
    'text-embedding-ada-002',
    'gpt-4o-mini',
    'gpt-4.1',
    'gpt-4.1-mini',
    'gpt-4.1-nano',
  ];
  const anthropicGet = (path: string) =>
    fetch(`${gateway.url}${path}`, { headers: { 'x-api-key': key(), 'anthropic-version': '2023-06-01' } });

  it('Anthropic SDK: models.list pages by limit, after_id and before_id, with has_more', async () => {
    const first = await anthropic().models.list({ limit: 1 });
    assert.deepEqual(
      first.data.map((m) => m.id),
      MODELS.slice(0, 1),
    );
    assert.equal(first.has_more, true);
    assert.equal(first.first_id, MODELS[0]);
    assert.equal(first.last_id, MODELS[0]);
    // The SDK pages on with last_id as after_id, until has_more is false.
    const all: string[] = [];
    for await (const model of anthropic().models.list({ limit: 2 })) all.push(model.id);
    assert.deepEqual(all, MODELS);
    const next = await anthropic().models.list({ limit: 2, after_id: MODELS[0] });
    assert.deepEqual(
      next.data.map((m) => m.id),
      MODELS.slice(1, 3),
    );
    assert.equal(next.has_more, true);
    const last = await anthropic().models.list({ limit: 5, after_id: MODELS[2] });
    assert.deepEqual(
      last.data.map((m) => m.id),
      MODELS.slice(3),
    );
    assert.equal(last.has_more, false);
    // before_id: the page just before it; has_more says whether more lie before that.
    const before = await anthropic().models.list({ limit: 1, before_id: MODELS[2] });
    assert.deepEqual(
      before.data.map((m) => m.id),
      [MODELS[1]],
    );
    assert.equal(before.has_more, true);
    const start = await anthropic().models.list({ limit: 5, before_id: MODELS[1] });
    assert.deepEqual([start.data.map((m) => m.id), start.has_more], [[MODELS[0]], false]);
    // No limit: Anthropic's 20, so all of them.
    const whole = await anthropic().models.list();
    assert.deepEqual([whole.data.length, whole.has_more], [MODELS.length, false]);
  });

  it('models.list shows a model the key may use when a provider serves it by a pattern (gpt-4.1*)', async () => {
    // The key's model list names gpt-4.1-mini; the provider serves it through "gpt-4.1*".
    assert.equal((await openai('narrow').models.retrieve('gpt-4.1-mini')).id, 'gpt-4.1-mini');
    const listed = (await openai('narrow').models.list()).data.map((m) => m.id);
    assert.deepEqual(listed, ['gpt-4o-mini', 'gpt-4.1-mini']);
    const anthropicListed = (await anthropic('narrow').models.list()).data.map((m) => m.id);
    assert.deepEqual(anthropicListed, ['gpt-4o-mini', 'gpt-4.1-mini']);
    // Every listed model is one a request may name.
    for (const id of (await openai().models.list()).data.map((m) => m.id))
      assert.equal((await openai().models.retrieve(id)).id, id);
  });

  it('Anthropic models.list: a limit out of 1-1000 or an unknown cursor is a 400 in its dialect', async () => {
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=abc',
      'limit=1.5',
      'after_id=gpt-9',
      'after_id=a&before_id=b',
    ]) {
      const answer = await anthropicGet(`/v1/models?${query}`);
      assert.equal(answer.status, 400, query);
      const body = (await answer.json()) as { type: string; error: { type: string; message: string } };
      assert.equal(body.type, 'error', query);
      assert.equal(body.error.type, 'invalid_request_error', query);
    }
    assert.equal((await anthropicGet('/v1/models?limit=1000')).status, 200);
  });

  it('models.retrieve of a wildcard pattern is a 404, as an unknown model, in both dialects', async () => {
    assert.equal((await openai().models.retrieve('gpt-4.1-mini')).id, 'gpt-4.1-mini');
    for (const id of ['gpt-4.1*', 'openai/gpt-4.1*']) {
      const openaiAnswer = await openai()
        .models.retrieve(id)
        .catch((error: unknown) => error);
      assert.ok(openaiAnswer instanceof OpenAI.NotFoundError, `${id}: ${String(openaiAnswer)}`);
      assert.equal(openaiAnswer.code, 'model_not_found');
      const anthropicAnswer = await anthropic()
        .models.retrieve(id)
        .catch((error: unknown) => error);
      assert.ok(anthropicAnswer instanceof Anthropic.NotFoundError, `${id}: ${String(anthropicAnswer)}`);
    }
  });

  /**
   * The Anthropic SDK's ModelInfo has no optional fields: `lifecycle` says whether a model may
   * be used (a caller keeping the `active` ones), the others are null when unknown. Left out,
   * they are `undefined`, which a caller's filter or null check does not expect.
   */
  it('Anthropic SDK: every ModelInfo field is there, the model active', async () => {
    const listed = (await anthropic().models.list()).data;
    const one = await anthropic().models.retrieve('gpt-4o-mini');
    for (const model of [...listed, one]) {
      assert.deepEqual(
        {
          lifecycle: model.lifecycle,
          capabilities: model.capabilities,
          deprecated_at: model.deprecated_at,
          retires_at: model.retires_at,
          line: model.line,
          max_input_tokens: model.max_input_tokens,
          max_tokens: model.max_tokens,
        },
        {
          lifecycle: 'active',
          capabilities: null,
          deprecated_at: null,
          retires_at: null,
          line: null,
          max_input_tokens: null,
          max_tokens: null,
        },
        model.id,
      );
    }
    assert.equal(listed.filter((model) => model.lifecycle === 'active').length, MODELS.length);
  });

  it('the model answers carry the request id, as every other answer', async () => {
    for (const path of ['/v1/models', '/v1/models/gpt-4o-mini']) {
      const openaiAnswer = await fetch(`${gateway.url}${path}`, {
        headers: { authorization: `Bearer ${key()}` },
      });
      assert.equal(openaiAnswer.status, 200);
      assert.match(openaiAnswer.headers.get('x-request-id') ?? '', /\S/, path);
      const anthropicAnswer = await anthropicGet(path);
      assert.equal(anthropicAnswer.status, 200);
      const id = anthropicAnswer.headers.get('request-id');
      assert.ok(id, path);
      assert.equal(anthropicAnswer.headers.get('x-request-id'), id, path);
    }
  });
});
