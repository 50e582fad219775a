import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { openAIProvider } from '../providers/openai/openai-provider.js';
import type { ProviderEventStream } from '../providers/provider-call.js';
import { embeddingsUsageAtEnd, planResponsesExchange, responseFailureCode } from './openai-only-exchanges.js';
import type { Route } from './route-model.js';

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

test("a streamed Responses answer hands the text it produced to the request's settlement (the request log)", async () => {
  const route = { provider: { options: {} }, model: 'gpt-4o-mini' } as unknown as Route;
  const exchange = planResponsesExchange(
    'openai',
    openAIProvider,
    {},
    { model: 'gpt-4o-mini', input: 'hi', stream: true },
    route,
    'req_1',
    true,
  );
  assert.ok(exchange);
  const events = [
    { type: 'response.created', response: { id: 'resp_1' } },
    { type: 'response.output_text.delta', delta: 'Hello, ' },
    { type: 'response.output_text.delta', delta: 'world' },
    {
      type: 'response.completed',
      response: { id: 'resp_1', usage: { input_tokens: 5, output_tokens: 3 } },
    },
  ];
  const stream = {
    status: 200,
    headers: {},
    rateLimits: undefined,
    end: undefined,
    keepAlives: 0,
    lastFrameData: undefined,
    ready: false,
    cancel: () => {},
    redact: (text: string) => text,
    async *[Symbol.asyncIterator]() {
      yield* events;
    },
  } as unknown as ProviderEventStream;
  const written: string[] = [];
  const res = {
    destroyed: false,
    writeHead: () => res,
    write: (text: string) => written.push(text) > 0,
    end: (text?: string) => void (text && written.push(text)),
  } as unknown as ServerResponse;
  let logged: string | undefined;
  await exchange.stream(stream, res, {}, (_usage, end, outputText) => {
    assert.equal(end, 'complete');
    logged = outputText?.();
  });
  assert.equal(logged, 'Hello, world');
  assert.equal(written.length, events.length);
});

test('a failed Responses stream ends as the provider ended it, settled failed with the usage its response.failed reports', async () => {
  const route = { provider: { options: {} }, model: 'gpt-4o-mini' } as unknown as Route;
  const exchange = planResponsesExchange(
    'openai',
    openAIProvider,
    {},
    { model: 'gpt-4o-mini', input: 'hi', stream: true },
    route,
    'req_2',
    true,
  );
  assert.ok(exchange);
  const events = [
    { type: 'response.created', response: { id: 'resp_2' } },
    { type: 'response.output_text.delta', delta: 'Part' },
    {
      type: 'response.failed',
      response: {
        id: 'resp_2',
        status: 'failed',
        error: { code: 'invalid_prompt', message: 'Invalid prompt: flagged' },
        usage: { input_tokens: 1200, output_tokens: 345 },
      },
    },
  ];
  const stream = {
    status: 200,
    headers: {},
    rateLimits: undefined,
    end: undefined,
    keepAlives: 0,
    lastFrameData: undefined,
    ready: false,
    cancel: () => {},
    redact: (text: string) => text,
    async *[Symbol.asyncIterator]() {
      yield* events;
    },
  } as unknown as ProviderEventStream;
  const written: string[] = [];
  const res = {
    destroyed: false,
    writeHead: () => res,
    write: (text: string) => written.push(text) > 0,
    end: (text?: string) => void (text && written.push(text)),
  } as unknown as ServerResponse;
  let settled: { inputTokens: number; outputTokens: number } | undefined;
  await exchange.stream(stream, res, {}, (usage, end, _text, _facts, failure) => {
    // A clean end at the provider's terminator, recorded as the failure it names.
    assert.equal(end, 'complete');
    assert.equal(failure, 'upstream_rejected');
    settled = usage;
  });
  assert.equal(settled?.inputTokens, 1200);
  assert.equal(settled?.outputTokens, 345);
  // The provider's events and nothing of Kordon's: no error event after response.failed.
  assert.equal(written.length, events.length);
  assert.match(written.at(-1)!, /^event: response\.failed\n/);
});

test('a response.failed is recorded by its error code: the provider failing, limiting, timing out or refusing the prompt', () => {
  assert.equal(responseFailureCode('server_error'), 'upstream_unavailable');
  assert.equal(responseFailureCode('rate_limit_exceeded'), 'upstream_rate_limited');
  assert.equal(responseFailureCode('vector_store_timeout'), 'upstream_timeout');
  assert.equal(responseFailureCode('invalid_prompt'), 'upstream_rejected');
  assert.equal(responseFailureCode('image_too_large'), 'upstream_rejected');
  assert.equal(responseFailureCode(undefined), 'upstream_unavailable');
  assert.equal(responseFailureCode(42), 'upstream_unavailable');
});
