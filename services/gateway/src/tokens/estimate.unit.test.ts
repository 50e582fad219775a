import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { estimateRequestTokens, type RequestTokenEstimate } from './estimate.js';
import { getEncoder } from './tokenizer.js';

function ok(result: ReturnType<typeof estimateRequestTokens>): RequestTokenEstimate {
  assert.equal(result.ok, true, result.ok ? '' : result.error);
  if (!result.ok) throw new Error('unreachable');
  return result.estimate;
}

const o200k = getEncoder('o200k_base');
const cl100k = getEncoder('cl100k_base');

function png(width: number, height: number): string {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'ascii');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b.toString('base64');
}

describe('estimateRequestTokens: OpenAI chat', () => {
  test('prompt by the cookbook formula, output bound = max_completion_tokens x n; unknown fields ignored', () => {
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'openai-chat',
        body: {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hello world' }],
          max_tokens: 50,
          max_completion_tokens: 100,
          n: 2,
          temperature: 0.2,
          stream: true,
          stream_options: { include_usage: true },
        },
      }),
    );
    assert.equal(estimate.inputTokens, 3 + o200k.count('user') + 2 + 3);
    assert.equal(estimate.tokens, estimate.inputTokens);
    assert.equal(estimate.maxOutputTokens, 200);
    assert.equal(estimate.exact, true);
    assert.equal(estimate.model, 'gpt-4o-mini');
  });

  test('no bound on output: null (the admission policy decides)', () => {
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'openai-chat',
        body: { model: 'gpt-4o', messages: [], max_tokens: null },
      }),
    );
    assert.equal(estimate.maxOutputTokens, null);
    assert.equal(estimate.inputTokens, 3);
  });

  test('an inline image is sized from its header', () => {
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'openai-chat',
        body: {
          model: 'gpt-4o',
          messages: [
            {
              role: 'user',
              content: [
                {
                  type: 'image_url',
                  image_url: { url: `data:image/png;base64,${png(1024, 1024)}`, detail: 'high' },
                },
              ],
            },
          ],
        },
      }),
    );
    assert.equal(estimate.inputTokens, 3 + o200k.count('user') + 765 + 3);
    assert.deepEqual(estimate.approximations, ['chat-format']);
  });

  test('the routed model decides the tokenizer, not the body', () => {
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'openai-chat',
        model: 'claude-sonnet-4-5',
        body: { model: 'acme-anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] },
      }),
    );
    assert.equal(estimate.model, 'claude-sonnet-4-5');
    assert.equal(estimate.exact, false);
    assert.ok(estimate.approximations.includes('tokenizer'));
  });

  test('a body it cannot read is a typed failure, not an exception', () => {
    const result = estimateRequestTokens({
      dialect: 'openai-chat',
      body: { model: 'gpt-4o', messages: 'hi' },
    });
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error, /^messages: /);
    assert.equal(estimateRequestTokens({ dialect: 'openai-chat', body: null }).ok, false);
  });
});

describe('estimateRequestTokens: Anthropic messages', () => {
  test('system, text and a base64 image by (w x h)/750; output bound = max_tokens', () => {
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'anthropic-messages',
        body: {
          model: 'claude-sonnet-4-5-20250929',
          max_tokens: 1024,
          system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
          messages: [
            {
              role: 'user',
              content: [
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(1000, 1000) } },
                { type: 'text', text: 'What is this?' },
              ],
            },
          ],
          metadata: { user_id: 'u-1' },
        },
      }),
    );
    assert.equal(
      estimate.inputTokens,
      3 +
        o200k.count('system') +
        o200k.count('Be brief.') +
        3 +
        o200k.count('user') +
        1334 +
        o200k.count('What is this?') +
        3,
    );
    assert.equal(estimate.maxOutputTokens, 1024);
    assert.deepEqual(estimate.approximations, ['tokenizer', 'chat-format']);
  });

  test('max_tokens is required by the Messages API, so by the estimate too', () => {
    const result = estimateRequestTokens({
      dialect: 'anthropic-messages',
      body: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(result.ok, false);
  });
});

describe('estimateRequestTokens: embeddings', () => {
  test('strings through the model encoding (exact for text-embedding-3-*), token ids by count', () => {
    const one = ok(
      estimateRequestTokens({
        dialect: 'openai-embeddings',
        body: { model: 'text-embedding-3-small', input: 'hello world' },
      }),
    );
    assert.deepEqual(
      { tokens: one.tokens, encoding: one.encoding, exact: one.exact, max: one.maxOutputTokens },
      { tokens: cl100k.count('hello world'), encoding: 'cl100k_base', exact: true, max: 0 },
    );
    const many = ok(
      estimateRequestTokens({
        dialect: 'openai-embeddings',
        body: { model: 'text-embedding-3-large', input: ['hello world', 'hi'] },
      }),
    );
    assert.equal(many.tokens, cl100k.count('hello world') + cl100k.count('hi'));
    const ids = ok(
      estimateRequestTokens({
        dialect: 'openai-embeddings',
        body: { model: 'mistral-embed', input: [[1, 2, 3], [4]] },
      }),
    );
    assert.equal(ids.tokens, 4);
    assert.equal(ids.exact, true);
    const flat = ok(
      estimateRequestTokens({
        dialect: 'openai-embeddings',
        body: { model: 'text-embedding-3-small', input: [5, 6, 7] },
      }),
    );
    assert.equal(flat.tokens, 3);
  });

  test('another vendor’s embedding model is an approximation', () => {
    const e = ok(
      estimateRequestTokens({
        dialect: 'openai-embeddings',
        body: { model: 'mistral-embed', input: 'hello world' },
      }),
    );
    assert.equal(e.exact, false);
    assert.deepEqual(e.approximations, ['tokenizer']);
  });
});
