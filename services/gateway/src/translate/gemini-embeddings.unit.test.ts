import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  float32Base64,
  GEMINI_MAX_EMBEDDINGS_PER_CALL,
  openAIEmbeddingsAnswer,
  openAIToGeminiEmbeddingsRequest,
  readGeminiEmbeddings,
} from './gemini-embeddings.js';
import { TranslationError } from './translation-error.js';

const MODEL = 'gemini-embedding-001';

/** The TranslationError a request is refused with: its code, the caller's field, the message. */
function refusal(body: Record<string, unknown>): { code: string; param: string; message: string } {
  try {
    openAIToGeminiEmbeddingsRequest(body, MODEL);
  } catch (error) {
    assert.ok(error instanceof TranslationError, String(error));
    return { code: error.code, param: error.param, message: error.message };
  }
  assert.fail('the request was translated');
}

describe('an OpenAI embeddings request for Gemini batchEmbedContents', () => {
  test('one request per input, in order, each naming the batch model; dimensions as outputDimensionality', () => {
    const request = openAIToGeminiEmbeddingsRequest(
      { model: MODEL, input: ['one', 'two'], dimensions: 768, user: 'u-1', encoding_format: 'base64' },
      MODEL,
    );
    assert.deepEqual(request.body, {
      requests: [
        {
          model: 'models/gemini-embedding-001',
          content: { parts: [{ text: 'one' }] },
          outputDimensionality: 768,
        },
        {
          model: 'models/gemini-embedding-001',
          content: { parts: [{ text: 'two' }] },
          outputDimensionality: 768,
        },
      ],
    });
    assert.deepEqual(request.texts, ['one', 'two']);
    assert.equal(request.encoding, 'base64');
    // Gemini's shortened vectors are not normalized: Kordon scales them as OpenAI's are.
    assert.equal(request.unitLength, true);
    assert.equal(openAIToGeminiEmbeddingsRequest({ input: 'one' }, MODEL).unitLength, false);
  });

  test('a string is one request; no encoding is float, as OpenAI answers it', () => {
    const request = openAIToGeminiEmbeddingsRequest({ input: 'hello' }, `models/${MODEL}`);
    assert.deepEqual(request.body.requests, [
      { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello' }] } },
    ]);
    assert.equal(request.encoding, 'float');
  });

  test('token ids are refused naming input: Gemini embeds text only', () => {
    for (const input of [
      [1, 2, 3],
      [[1, 2], [3]],
    ]) {
      const refused = refusal({ input });
      assert.equal(refused.param, 'input');
      assert.equal(refused.code, 'unsupported_value');
      assert.match(refused.message, /text only/);
    }
  });

  test('more inputs than one batch takes are refused naming input, not split', () => {
    const input = Array.from({ length: GEMINI_MAX_EMBEDDINGS_PER_CALL + 1 }, (_, i) => `text ${i}`);
    const refused = refusal({ input });
    assert.equal(refused.param, 'input');
    assert.match(refused.message, /at most 100 inputs a request.*got 101/);
    const batch = openAIToGeminiEmbeddingsRequest({ input: input.slice(1) }, MODEL);
    assert.equal(batch.body.requests.length, 100);
  });

  test('what OpenAI would refuse too is refused naming its field', () => {
    assert.equal(refusal({ input: [] }).param, 'input');
    assert.equal(refusal({ input: ['a', 1] }).param, 'input');
    assert.equal(refusal({ input: { text: 'a' } }).param, 'input');
    assert.equal(refusal({ input: 'a', encoding_format: 'int8' }).param, 'encoding_format');
    assert.equal(refusal({ input: 'a', dimensions: 0 }).param, 'dimensions');
    assert.equal(refusal({ input: 'a', dimensions: 1.5 }).param, 'dimensions');
  });
});

describe("Gemini's answer in OpenAI's shape", () => {
  test('base64 is the little-endian float32 bytes, as OpenAI sends them', () => {
    assert.equal(float32Base64([1]), 'AACAPw==');
    const vector = [0.1, -0.25, 3.4028234663852886e38, 1e-45];
    const bytes = Buffer.from(float32Base64(vector), 'base64');
    const decoded = Array.from({ length: vector.length }, (_, i) => bytes.readFloatLE(i * 4));
    assert.deepEqual(decoded, vector.map(Math.fround));
  });

  test('the answer: list, embeddings by index, the routed model, usage', () => {
    const text = openAIEmbeddingsAnswer(
      [
        [0.5, -0.25],
        [1, 0],
      ],
      { model: MODEL, encoding: 'float', promptTokens: 7 },
    );
    assert.deepEqual(JSON.parse(text), {
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.5, -0.25] },
        { object: 'embedding', index: 1, embedding: [1, 0] },
      ],
      model: MODEL,
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
    const base64 = JSON.parse(
      openAIEmbeddingsAnswer([[1]], { model: MODEL, encoding: 'base64', promptTokens: 1 }),
    );
    assert.equal(base64.data[0].embedding, 'AACAPw==');
  });

  test('one vector per input and the usage Gemini reports, or why the answer cannot be read', () => {
    const answer = {
      embeddings: [{ values: [0.5] }, { values: [0.25] }],
      usageMetadata: { promptTokenCount: 9 },
    };
    assert.deepEqual(readGeminiEmbeddings(answer, 2), { vectors: [[0.5], [0.25]], promptTokens: 9 });
    // Scaled to length 1 when asked; a zero vector has no direction and stays as it is.
    assert.deepEqual(
      readGeminiEmbeddings({ embeddings: [{ values: [3, 4] }, { values: [0, 0] }] }, 2, true),
      {
        vectors: [
          [0.6, 0.8],
          [0, 0],
        ],
        promptTokens: undefined,
      },
    );
    // Older answers carry no usageMetadata: the gateway counts the texts.
    assert.deepEqual(readGeminiEmbeddings({ embeddings: [{ values: [1] }] }, 1), {
      vectors: [[1]],
      promptTokens: undefined,
    });
    assert.equal(readGeminiEmbeddings(answer, 3), 'embeddings: 2 vectors for 3 inputs');
    assert.equal(readGeminiEmbeddings({ error: { message: 'no' } }, 1), 'embeddings: not a list');
    assert.equal(
      readGeminiEmbeddings({ embeddings: [{ values: ['1'] }] }, 1),
      'embeddings[0].values: not a list of numbers',
    );
    assert.equal(readGeminiEmbeddings({ embeddings: [{}] }, 1), 'embeddings[0].values: not a list');
    assert.equal(readGeminiEmbeddings(null, 1), 'embeddings: not a list');
  });
});
