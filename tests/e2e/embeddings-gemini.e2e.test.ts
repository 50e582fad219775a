/**
 * Embeddings through a Gemini provider, for the unmodified openai SDK.
 *
 * Gemini serves embeddings with its own API (`models/{model}:batchEmbedContents`, at most 100
 * requests a batch; ai.google.dev/api/embeddings), which Kordon speaks for an OpenAI caller:
 * the caller's texts go as one batch, the vectors come back in OpenAI's shape (base64 when the
 * SDK asks for it, its default; float arrays), `dimensions` as `outputDimensionality`, the usage
 * Gemini reports (or Kordon's count) recorded and priced. Before, a Gemini embedding model GET
 * /v1/models listed as usable was refused with a 400 "not served on embeddings by any provider".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { countTokens, embeddingFor, type MockServer, startGeminiMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const KEYS = ['AIzaSyEmbeddingsKeyOne0123456789abcdefg', 'AIzaSyEmbeddingsKeyTwo0123456789abcdefg'];
const MODEL = 'gemini-embedding-001';
/** gemini-embedding-001's full-size vectors. */
const DIMENSIONS = 3072;

describe('embeddings through a Gemini provider', () => {
  let mock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    mock = await startGeminiMock({ keys: KEYS });
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: gemini
        type: gemini
        baseUrl: ${mock.url}
        models: [${MODEL}, gemini-2.5-flash]
        keys:
          - { name: k1, secret: "${KEYS[0]}" }
          - { name: k2, secret: "${KEYS[1]}" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(), maxRetries: 0 });
  const post = (body: unknown) =>
    fetch(`${gateway.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key()}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const embeddingCalls = () => mock.requests.filter((r) => r.path.endsWith(':batchEmbedContents'));
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('the request was served'),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        return error;
      },
    );

  it('a model Kordon lists is served: the SDK default (base64) decodes to Gemini vectors, by index', async () => {
    assert.equal((await openai().models.retrieve(MODEL)).id, MODEL, 'Kordon says the model is usable');
    mock.clearRequests();
    const answer = await openai().embeddings.create({ model: MODEL, input: ['one', 'two'] });
    assert.equal(answer.object, 'list');
    assert.equal(answer.model, MODEL);
    assert.deepEqual(
      answer.data.map((d) => [d.object, d.index]),
      [
        ['embedding', 0],
        ['embedding', 1],
      ],
    );
    // The SDK asked for base64 and decoded it: Gemini's numbers as float32, exactly.
    assert.deepEqual(answer.data[0]!.embedding, embeddingFor('one', DIMENSIONS).map(Math.fround));
    assert.deepEqual(answer.data[1]!.embedding, embeddingFor('two', DIMENSIONS).map(Math.fround));
    const tokens = countTokens('one') + countTokens('two');
    assert.deepEqual(answer.usage, { prompt_tokens: tokens, total_tokens: tokens });
    const calls = embeddingCalls();
    assert.equal(calls.length, 1, 'one batch for both texts');
    assert.equal(calls[0]!.path, `/v1beta/models/${MODEL}:batchEmbedContents`);
    assert.deepEqual(calls[0]!.body, {
      requests: ['one', 'two'].map((text) => ({ model: `models/${MODEL}`, content: { parts: [{ text }] } })),
    });
  });

  it('base64 on the wire is the little-endian float32 bytes, as OpenAI sends them', async () => {
    const response = await post({ model: MODEL, input: 'alpha', encoding_format: 'base64' });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { data: Array<{ embedding: string }> };
    const bytes = Buffer.from(body.data[0]!.embedding, 'base64');
    assert.equal(bytes.length, DIMENSIONS * 4);
    const expected = Buffer.alloc(DIMENSIONS * 4);
    for (const [i, value] of embeddingFor('alpha', DIMENSIONS).entries()) expected.writeFloatLE(value, i * 4);
    assert.ok(bytes.equals(expected));
  });

  it('float answers arrays, as does a request naming no encoding (the API default)', async () => {
    const answer = await openai().embeddings.create({
      model: MODEL,
      input: 'alpha',
      encoding_format: 'float',
    });
    assert.deepEqual(answer.data[0]!.embedding, embeddingFor('alpha', DIMENSIONS));
    const raw = (await (await post({ model: MODEL, input: 'alpha' })).json()) as {
      data: Array<{ embedding: unknown }>;
    };
    assert.deepEqual(raw.data[0]!.embedding, embeddingFor('alpha', DIMENSIONS));
  });

  it('dimensions goes to Gemini as outputDimensionality', async () => {
    const answer = await openai().embeddings.create({ model: MODEL, input: ['a', 'b'], dimensions: 256 });
    assert.deepEqual(
      answer.data.map((d) => d.embedding.length),
      [256, 256],
    );
    const sent = embeddingCalls().at(-1)!.body as { requests: Array<{ outputDimensionality?: number }> };
    assert.deepEqual(
      sent.requests.map((r) => r.outputDimensionality),
      [256, 256],
    );
  });

  it('embeddings with `dimensions` come back unit-length, as OpenAI returns them', async () => {
    // Gemini normalizes only gemini-embedding-001's full 3072-dimension vectors; a shorter
    // `outputDimensionality` is a cut that is not ("For other dimensions, including 768 and
    // 1536, you need to normalize the embeddings", ai.google.dev/gemini-api/docs/embeddings).
    // OpenAI's are of length 1 at any `dimensions`, and callers rank them by dot product.
    const answer = await openai().embeddings.create({
      model: MODEL,
      input: ['hello', 'world'],
      dimensions: 768,
      encoding_format: 'float',
    });
    const cut = embeddingFor('hello', DIMENSIONS).slice(0, 768);
    const cutLength = Math.hypot(...cut);
    assert.ok(
      Math.abs(cutLength - 1) > 0.01,
      'the mock answers a cut that is not normalized, as Gemini does',
    );
    for (const { embedding } of answer.data) {
      assert.equal(embedding.length, 768);
      assert.ok(
        Math.abs(Math.hypot(...embedding) - 1) < 1e-6,
        `a vector of length ${Math.hypot(...embedding)}`,
      );
    }
    // The same direction as Gemini's vector.
    assert.ok(Math.abs(answer.data[0]!.embedding[0]! - cut[0]! / cutLength) < 1e-9);
  });

  it('one RequestCompleted per call, with the tokens Gemini reports and their cost ($0.15 per 1M)', async () => {
    const before = (await gateway.requestEvents()).length;
    const text = 'a sentence of some length to embed, '.repeat(20);
    await openai().embeddings.create({ model: MODEL, input: [text, text] });
    const events = (await gateway.requestEvents()).slice(before);
    assert.deepEqual(
      events.map((e) => e.type),
      ['RequestCompleted'],
    );
    const event = events[0]!;
    if (event.type !== 'RequestCompleted') return;
    const tokens = 2 * countTokens(text);
    assert.equal(event.data.model, MODEL);
    assert.equal(event.data.usage.inputTokens, tokens);
    assert.equal(event.data.usage.outputTokens, 0);
    assert.equal(Number(event.data.cost), (tokens * 0.15) / 1_000_000, `cost ${event.data.cost}`);
  });

  it("an answer without usageMetadata is counted with Kordon's tokenizer, as OpenAI answers are", async () => {
    mock.enqueueScenario('no-usage');
    const answer = await openai().embeddings.create({ model: MODEL, input: 'hello world' });
    // o200k counts 2 tokens where the mock's rule (a token per 4 bytes) would say 3.
    assert.equal(answer.usage.prompt_tokens, 2);
    const event = (await gateway.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type === 'RequestCompleted') assert.equal(event.data.usage.inputTokens, 2);
  });

  it('more than 100 inputs (one Gemini batch) are refused naming input, before any call', async () => {
    const calls = embeddingCalls().length;
    const error = await refusal(
      openai().embeddings.create({ model: MODEL, input: Array.from({ length: 101 }, (_, i) => `t${i}`) }),
    );
    assert.equal(error.status, 400);
    assert.equal(error.param, 'input');
    assert.match(error.message, /at most 100 inputs/);
    assert.equal(embeddingCalls().length, calls);
    // A full batch is served.
    const full = await openai().embeddings.create({
      model: MODEL,
      input: Array.from({ length: 100 }, (_, i) => `t${i}`),
      dimensions: 8,
    });
    assert.deepEqual(
      full.data.map((d) => d.index),
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('token ids are refused naming input: Gemini embeds text only', async () => {
    const calls = embeddingCalls().length;
    for (const input of [
      [1, 2, 3],
      [[1, 2], [3]],
    ]) {
      const error = await refusal(openai().embeddings.create({ model: MODEL, input }));
      assert.equal(error.status, 400);
      assert.equal(error.param, 'input');
      assert.match(error.message, /text only/);
    }
    assert.equal(embeddingCalls().length, calls);
  });

  it("Gemini's 400 reaches the caller as a 400 with its message", async () => {
    const error = await refusal(openai().embeddings.create({ model: MODEL, input: 'x', dimensions: 4096 }));
    assert.equal(error.status, 400);
    assert.match(error.message, /output_dimensionality/);
  });

  it('a 5xx from Gemini on every key is a 502 (each key tried)', async () => {
    const calls = embeddingCalls().length;
    mock.setScenario('server-error');
    try {
      const error = await refusal(openai().embeddings.create({ model: MODEL, input: 'failing' }));
      assert.equal(error.status, 502);
      assert.equal(embeddingCalls().length, calls + 2);
    } finally {
      mock.setScenario(undefined);
    }
  });

  it("a 429 from Gemini goes to the next key; with every key limited, the caller gets 429 and Gemini's delay", async () => {
    mock.enqueueScenario('rate-limit=1');
    const calls = embeddingCalls().length;
    const answer = await openai().embeddings.create({ model: MODEL, input: 'retried' });
    assert.equal(answer.data.length, 1);
    assert.equal(embeddingCalls().length, calls + 2, 'the second key served it');
    mock.setScenario('rate-limit=7');
    try {
      const limited = await refusal(openai().embeddings.create({ model: MODEL, input: 'limited' }));
      assert.equal(limited.status, 429);
      const wait = Number(limited.headers?.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 7, `retry-after ${wait}`);
    } finally {
      mock.setScenario(undefined);
    }
  });
});
