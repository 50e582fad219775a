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

  test("Claude's thinking in the history is not counted for a GPT or Gemini model, which is not sent it", () => {
    const thought = 'Let me weigh every option in turn before I answer. '.repeat(40);
    const body = (assistant: unknown[]) => ({
      model: 'x',
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'pick a number' },
        { role: 'assistant', content: assistant },
        { role: 'user', content: 'and another' },
      ],
    });
    const answer = { type: 'text', text: 'Seven.' };
    const claudeThinking = [
      {
        type: 'thinking',
        thinking: thought,
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
      },
      {
        type: 'redacted_thinking',
        data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP'.repeat(20),
      },
      answer,
    ];
    for (const model of ['gpt-4o', 'gemini-2.5-flash']) {
      const plain = ok(estimateRequestTokens({ dialect: 'anthropic-messages', body: body([answer]), model }));
      const withThinking = ok(
        estimateRequestTokens({ dialect: 'anthropic-messages', body: body(claudeThinking), model }),
      );
      // The translate layer drops Claude-signed and redacted thinking for other models.
      assert.equal(withThinking.inputTokens, plain.inputTokens, model);
    }
    // Another model's reasoning, which Kordon signed as foreign, may go back to it: still counted.
    const foreign = ok(
      estimateRequestTokens({
        dialect: 'anthropic-messages',
        body: body([{ type: 'thinking', thinking: thought, signature: 'kordon-foreign-reasoning' }, answer]),
        model: 'gpt-4o',
      }),
    );
    const plain = ok(
      estimateRequestTokens({ dialect: 'anthropic-messages', body: body([answer]), model: 'gpt-4o' }),
    );
    assert.ok(foreign.inputTokens >= plain.inputTokens + o200k.count(thought));
  });

  test('a structured output schema counts as an OpenAI response_format does, from either SDK', () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', description: 'the full legal name of the person named in the letter' },
        age: { type: 'integer', description: 'their age in years at the time of writing' },
      },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const messages = [{ role: 'user', content: 'who wrote this?' }];
    const base = { model: 'gpt-4o', max_tokens: 100, messages };
    const plain = ok(estimateRequestTokens({ dialect: 'anthropic-messages', body: base }));
    for (const field of [
      { output_config: { format: { type: 'json_schema', schema } } },
      { output_format: { type: 'json_schema', schema } },
    ]) {
      const structured = ok(
        estimateRequestTokens({ dialect: 'anthropic-messages', body: { ...base, ...field } }),
      );
      // The GPT model gets it as a json_schema response_format, which OpenAI bills as prompt.
      assert.ok(
        structured.inputTokens >= plain.inputTokens + o200k.count(JSON.stringify(schema)),
        `${JSON.stringify(field).slice(0, 20)}: ${structured.inputTokens} vs ${plain.inputTokens}`,
      );
      assert.ok(structured.approximations.includes('response-format'));
    }
    const openai = ok(
      estimateRequestTokens({
        dialect: 'openai-chat',
        body: {
          model: 'gpt-4o',
          messages,
          response_format: { type: 'json_schema', json_schema: { name: 'response', schema } },
        },
      }),
    );
    const anthropic = ok(
      estimateRequestTokens({
        dialect: 'anthropic-messages',
        body: { ...base, output_config: { format: { type: 'json_schema', schema } } },
      }),
    );
    assert.ok(
      Math.abs(openai.inputTokens - anthropic.inputTokens) <= 5,
      `${openai.inputTokens} vs ${anthropic.inputTokens}`,
    );
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

describe('estimateRequestTokens: OpenAI Responses', () => {
  const chatOf = (messages: unknown[]) =>
    ok(estimateRequestTokens({ dialect: 'openai-chat', body: { model: 'gpt-4o', messages } })).inputTokens;

  test('text input is framed as the same chat; output bound = max_output_tokens', () => {
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'openai-responses',
        body: { model: 'gpt-4o', instructions: 'be brief', input: 'hello world', max_output_tokens: 300 },
      }),
    );
    assert.equal(
      estimate.inputTokens,
      chatOf([
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello world' },
      ]) -
        o200k.count('system') -
        o200k.count('user'),
    );
    assert.equal(estimate.maxOutputTokens, 300);
    assert.ok(estimate.approximations.includes('chat-format'));
    const items = ok(
      estimateRequestTokens({
        dialect: 'openai-responses',
        body: {
          model: 'gpt-4o',
          input: [{ role: 'user', content: [{ type: 'input_text', text: 'hello world' }] }],
        },
      }),
    );
    assert.equal(items.inputTokens, chatOf([{ role: 'user', content: 'hello world' }]));
    assert.equal(items.maxOutputTokens, null);
  });

  test('an image counts by the vendor rule, not as the text of its base64', () => {
    // A real photo's base64 is hundreds of kilobytes: padded here to 600 KB after a PNG header.
    const photo = `data:image/png;base64,${png(1024, 1024)}${'A'.repeat(600_000)}`;
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'openai-responses',
        body: {
          model: 'gpt-4o',
          input: [
            {
              role: 'user',
              content: [
                { type: 'input_text', text: 'what is this?' },
                { type: 'input_image', image_url: photo, detail: 'high' },
              ],
            },
          ],
        },
      }),
    );
    const text = chatOf([{ role: 'user', content: 'what is this?' }]);
    assert.equal(estimate.inputTokens, text + 765);
    const file = ok(
      estimateRequestTokens({
        dialect: 'openai-responses',
        body: {
          model: 'gpt-4o',
          input: [{ role: 'user', content: [{ type: 'input_file', file_data: 'A'.repeat(100_000) }] }],
        },
      }),
    );
    assert.ok(file.inputTokens < 3_100 && file.approximations.includes('documents'));
  });

  test('tool calls, their outputs, reasoning summaries and tools are counted', () => {
    const estimate = ok(
      estimateRequestTokens({
        dialect: 'openai-responses',
        body: {
          model: 'gpt-4o',
          input: [
            { role: 'user', content: 'weather in Paris?' },
            {
              type: 'reasoning',
              summary: [{ type: 'summary_text', text: 'look it up' }],
              encrypted_content: 'x'.repeat(5000),
            },
            { type: 'function_call', call_id: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { type: 'function_call_output', call_id: 'c1', output: 'sunny, 21 degrees' },
          ],
          tools: [
            {
              type: 'function',
              name: 'get_weather',
              description: 'Weather of a city',
              parameters: { type: 'object' },
            },
          ],
        },
      }),
    );
    const parts = ['look it up', 'get_weather', '{"city":"Paris"}', 'sunny, 21 degrees', 'Weather of a city'];
    const least =
      chatOf([{ role: 'user', content: 'weather in Paris?' }]) +
      parts.reduce((n, p) => n + o200k.count(p), 0);
    assert.ok(estimate.inputTokens >= least && estimate.inputTokens < least + 40, `${estimate.inputTokens}`);
    assert.ok(estimate.approximations.includes('tool-calls') && estimate.approximations.includes('tools'));
  });

  test('hostile or odd bodies: a typed failure or a count, never an exception', () => {
    assert.equal(estimateRequestTokens({ dialect: 'openai-responses', body: [] }).ok, false);
    assert.equal(estimateRequestTokens({ dialect: 'openai-responses', body: { input: 'x' } }).ok, false);
    let deep: unknown = { type: 'input_text', text: 'deep' };
    for (let i = 0; i < 10_000; i++) deep = { role: 'user', content: [deep] };
    const nested = ok(
      estimateRequestTokens({
        dialect: 'openai-responses',
        body: { model: 'gpt-4o', input: [deep, null, 7] },
      }),
    );
    assert.ok(nested.inputTokens < 100);
  });
});
