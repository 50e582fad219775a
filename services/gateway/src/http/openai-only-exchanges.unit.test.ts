import assert from 'node:assert/strict';
import { test } from 'node:test';
import { embeddingsUsageAtEnd } from './openai-only-exchanges.js';

const answer = (usage: object, vectors = 3) => ({
  object: 'list',
  data: Array.from({ length: vectors }, (_, index) => ({
    object: 'embedding',
    index,
    embedding: 'AAAAAA==',
  })),
  model: 'text-embedding-3-small',
  usage,
});

test("an embeddings answer's usage is read from its end, compact or pretty-printed", () => {
  const usage = { prompt_tokens: 8, total_tokens: 8 };
  assert.equal(embeddingsUsageAtEnd(JSON.stringify(answer(usage))), 8);
  // OpenAI pretty-prints its answers.
  assert.equal(embeddingsUsageAtEnd(`${JSON.stringify(answer(usage), null, 2)}\n`), 8);
  assert.equal(embeddingsUsageAtEnd(JSON.stringify(answer({ prompt_tokens: 0, total_tokens: 0 }))), 0);
  // Megabytes of vectors before it are not read.
  assert.equal(
    embeddingsUsageAtEnd(JSON.stringify(answer({ prompt_tokens: 20480, total_tokens: 20480 }, 20_000))),
    20480,
  );
});

test('anything else is left to the whole parse: another usage, usage elsewhere, not an object', () => {
  // Left to the schema (and the tokenizer when no usage): undefined, never a wrong number.
  for (const text of [
    JSON.stringify(answer({ prompt_tokens: 8, total_tokens: 8, completion_tokens: 0 })),
    '{"usage":{"prompt_tokens":8,"total_tokens":8},"object":"list","data":[]}',
    JSON.stringify({ ...answer({}), meta: { usage: { prompt_tokens: 8, total_tokens: 8 } } }),
    JSON.stringify(answer({ prompt_tokens: -1, total_tokens: 8 })),
    JSON.stringify(answer({ prompt_tokens: 1.5, total_tokens: 8 })),
    `<html>"usage":{"prompt_tokens":8,"total_tokens":8}}`,
    '',
  ])
    assert.equal(embeddingsUsageAtEnd(text), undefined, text.slice(0, 80));
});
