import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { azureOpenAIProvider } from '../providers/azure-openai/azure-openai-provider.js';
import { openAIProvider } from '../providers/openai/openai-provider.js';
import { openAICompatibleProvider } from '../providers/openai-compatible/openai-compatible-provider.js';
import type { ProviderEventStream } from '../providers/provider-call.js';
import { EXACT_TEXT_CHARS } from '../tokens/count.js';
import { getEncoder } from '../tokens/tokenizer.js';
import {
  embeddingsModelAtEnd,
  embeddingsUsageAtEnd,
  offeredToolFees,
  planEmbeddingsExchange,
  planResponsesCompactExchange,
  planResponsesExchange,
  responseFailureCode,
  responsesStreamFailure,
} from './openai-only-exchanges.js';
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
  // Mistral adds completion_tokens; Voyage reports total_tokens alone; a null member is no figure.
  assert.equal(
    embeddingsUsageAtEnd(JSON.stringify(answer({ prompt_tokens: 8, total_tokens: 8, completion_tokens: 0 }))),
    8,
  );
  assert.equal(embeddingsUsageAtEnd(JSON.stringify(answer({ total_tokens: 40 }))), 40);
  assert.equal(embeddingsUsageAtEnd(JSON.stringify(answer({ prompt_tokens: null, total_tokens: 40 }))), 40);
});

test("an embeddings answer's model is read from its end (what an Azure deployment runs)", () => {
  const usage = { prompt_tokens: 8, total_tokens: 8 };
  assert.equal(embeddingsModelAtEnd(JSON.stringify(answer(usage))), 'text-embedding-3-small');
  assert.equal(embeddingsModelAtEnd(`${JSON.stringify(answer(usage), null, 2)}\n`), 'text-embedding-3-small');
  assert.equal(embeddingsModelAtEnd(JSON.stringify(answer(usage, 20_000))), 'text-embedding-3-small');
  // None named at the end (or only before megabytes of vectors): none read, the routed name prices it.
  const { model: _, ...unnamed } = answer(usage);
  assert.equal(embeddingsModelAtEnd(JSON.stringify(unnamed)), undefined);
  assert.equal(
    embeddingsModelAtEnd(JSON.stringify({ model: 'x', data: answer(usage, 20_000).data, usage })),
    undefined,
  );
  assert.equal(embeddingsModelAtEnd(''), undefined);
});

test('anything else is left to the whole parse: another usage, usage elsewhere, not an object', () => {
  // Left to the schema (and the tokenizer when no usage): undefined, never a wrong number.
  for (const text of [
    JSON.stringify(answer({})),
    JSON.stringify(answer({ prompt_tokens: 8, details: { cached: 1 } })),
    '{"usage":{"prompt_tokens":8,"total_tokens":8},"object":"list","data":[]}',
    JSON.stringify({ ...answer({}), meta: { usage: { prompt_tokens: 8, total_tokens: 8 } } }),
    JSON.stringify(answer({ prompt_tokens: -1, total_tokens: 8 })),
    JSON.stringify(answer({ prompt_tokens: 1.5, total_tokens: 8 })),
    `<html>"usage":{"prompt_tokens":8,"total_tokens":8}}`,
    '',
  ])
    assert.equal(embeddingsUsageAtEnd(text), undefined, text.slice(0, 80));
});

test("an embeddings answer without usage is counted within one count's budget, not a budget per input", () => {
  // A server that reports no usage (Gemini's batchEmbedContents too): 2,048 inputs of 64 Ki
  // characters each held the event loop for seconds, each input counted in full.
  const route = { provider: { options: {} }, model: 'text-embedding-3-small' } as unknown as Route;
  const input = Array.from({ length: 40 }, (_, i) => `${i} ${'lorem ipsum dolor '.repeat(3641)}`);
  const exchange = planEmbeddingsExchange(
    'openai',
    openAIProvider,
    {},
    { model: 'x', input },
    route,
    'r',
    false,
  );
  assert.ok(exchange);
  const encoder = getEncoder('cl100k_base');
  const count = encoder.count;
  let read = 0;
  (encoder as { count: (text: string) => number }).count = (text) => {
    read += text.length;
    return count(text);
  };
  try {
    const rawText = JSON.stringify(answer({}, input.length));
    const reply = { rawText, json: () => JSON.parse(rawText), redact: (text: string) => text };
    const answered = exchange.answer(reply as never);
    const whole = input.reduce((sum, text) => sum + count(text), 0);
    assert.ok(read <= EXACT_TEXT_CHARS, `the tokenizer read ${read} characters`);
    assert.ok(
      Math.abs(answered.usage!.inputTokens - whole) / whole < 0.05,
      `${answered.usage!.inputTokens} of ${whole}`,
    );
  } finally {
    (encoder as { count: (text: string) => number }).count = count;
  }
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

test('a streamed Responses answer is logged part by part, a line between, in output order', async () => {
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
  const KEY = `sk-proj-${'Ab3dE'.repeat(8)}`;
  const text = (output_index: number, content_index: number, delta: string) => ({
    type: 'response.output_text.delta',
    item_id: `msg_${output_index}`,
    output_index,
    content_index,
    delta,
  });
  const args = (output_index: number, delta: string) => ({
    type: 'response.function_call_arguments.delta',
    item_id: `fc_${output_index}`,
    output_index,
    delta,
  });
  // Two tool calls streamed at once, then a message of two parts: in one text, the key the
  // model echoes in the second call would be split by the first's arguments.
  const events = [
    { type: 'response.created', response: { id: 'resp_1' } },
    args(1, '{"key":"'),
    args(0, '{"city":'),
    args(1, KEY.slice(0, 12)),
    args(0, '"Paris"}'),
    args(1, `${KEY.slice(12)}"}`),
    text(2, 0, 'Hello'),
    text(2, 1, 'world'),
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
    redact: (frame: string) => frame,
    async *[Symbol.asyncIterator]() {
      yield* events;
    },
  } as unknown as ProviderEventStream;
  const res = {
    destroyed: false,
    writeHead: () => res,
    write: () => true,
    end: () => {},
  } as unknown as ServerResponse;
  let logged: string | undefined;
  await exchange.stream(stream, res, {}, (_usage, _end, outputText) => {
    logged = outputText?.();
  });
  assert.equal(logged, `{"city":"Paris"}\n{"key":"${KEY}"}\nHello\nworld`);
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

const route = { provider: { options: {} }, model: 'gpt-4o-mini' } as unknown as Route;
const responsesExchange = (body: Record<string, unknown>) => {
  const exchange = planResponsesExchange(
    'openai',
    openAIProvider,
    {},
    { model: 'gpt-4o-mini', ...body },
    route,
    'req_t',
    body.stream === true,
  );
  assert.ok(exchange);
  return exchange;
};
const searched = (status: string, action?: object) => ({
  type: 'web_search_call',
  id: 'ws',
  status,
  ...(action && { action }),
});
const toolOutput = [
  searched('completed', { type: 'search', query: 'a' }),
  searched('completed'), // web_search_preview's items may name no action
  searched('completed', { type: 'open_page', url: 'https://a.test' }),
  searched('completed', { type: 'find', pattern: 'x' }),
  searched('failed', { type: 'search', query: 'b' }),
  { type: 'file_search_call', id: 'fs', status: 'completed', queries: ['a'] },
  { type: 'file_search_call', id: 'fs2', status: 'searching', queries: ['b'] },
  { type: 'code_interpreter_call', id: 'ci', status: 'completed', code: '1+1' },
];
const answered = (output: unknown[]) =>
  ({
    json: () => ({ object: 'response', id: 'resp_t', output, usage: { input_tokens: 10, output_tokens: 5 } }),
    redact: (text: string) => text,
  }) as unknown as Parameters<ReturnType<typeof responsesExchange>['answer']>[0];

test("a Responses answer's billed tool calls: completed searches (a page opened or searched is none), completed file searches", () => {
  const usage = responsesExchange({ tools: [{ type: 'web_search' }] }).answer(answered(toolOutput)).usage;
  assert.equal(usage?.webSearches, 2);
  assert.equal(usage?.webSearchPreviews, undefined);
  assert.equal(usage?.fileSearches, 1);
  // Offered web_search_preview: its searches are priced at its rate.
  const preview = responsesExchange({ tools: [{ type: 'web_search_preview_2025_03_11' }] }).answer(
    answered(toolOutput),
  );
  assert.equal(preview.usage?.webSearchPreviews, 2);
  // No calls: nothing added.
  const plain = responsesExchange({}).answer(answered([])).usage;
  assert.deepEqual(plain, { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 });
});

test('a Responses stream cut before its terminator is charged the searches of the items it finished', async () => {
  const events = [
    { type: 'response.created', response: { id: 'resp_c' } },
    ...toolOutput.map((item) => ({ type: 'response.output_item.done', item })),
  ];
  const stream = {
    status: 200,
    headers: {},
    cancel: () => {},
    redact: (text: string) => text,
    async *[Symbol.asyncIterator]() {
      yield* events;
      throw new Error('reset');
    },
  } as unknown as ProviderEventStream;
  const res = {
    destroyed: false,
    writeHead: () => res,
    write: () => true,
    end: () => {},
  } as unknown as ServerResponse;
  let settled: { webSearches?: number; fileSearches?: number } | undefined;
  await responsesExchange({ stream: true, tools: [{ type: 'web_search' }] }).stream(
    stream,
    res,
    {},
    (usage, end) => {
      assert.equal(end, 'interrupted');
      settled = usage;
    },
  );
  assert.equal(settled?.webSearches, 2);
  assert.equal(settled?.fileSearches, 1);
});

test('the tools a request offers: searches estimated at one call each, a tool the gateway cannot price named', () => {
  assert.deepEqual(
    offeredToolFees('responses', { tools: [{ type: 'function', name: 'f' }, { type: 'mcp' }] }, 'gpt-4o'),
    {
      usage: {},
    },
  );
  assert.deepEqual(
    offeredToolFees(
      'responses',
      { tools: [{ type: 'web_search' }, { type: 'file_search', vector_store_ids: [] }] },
      'gpt-4o',
    ),
    { usage: { webSearches: 1, fileSearches: 1 }, offered: 'web_search, file_search' },
  );
  assert.deepEqual(offeredToolFees('responses', { tools: [{ type: 'web_search_preview' }] }, 'gpt-4o'), {
    usage: { webSearches: 1, webSearchPreviews: 1 },
    offered: 'web_search_preview',
  });
  assert.match(
    offeredToolFees(
      'responses',
      { tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] },
      'gpt-4o',
    ).unpriced ?? '',
    /^the code_interpreter tool is billed per container/,
  );
  assert.match(
    offeredToolFees('responses', { tools: [{ type: 'image_generation' }] }, 'gpt-4o').unpriced ?? '',
    /image model/,
  );
  assert.match(
    offeredToolFees('responses', { tools: [{ type: 'brand_new_tool' }] }, 'gpt-4o').unpriced ?? '',
    /may be billed apart/,
  );
  // A shell is the caller's own unless it runs in a container OpenAI hosts.
  assert.equal(offeredToolFees('responses', { tools: [{ type: 'shell' }] }, 'gpt-5').unpriced, undefined);
  assert.equal(
    offeredToolFees('responses', { tools: [{ type: 'shell', environment: { type: 'local' } }] }, 'gpt-5')
      .unpriced,
    undefined,
  );
  assert.match(
    offeredToolFees(
      'responses',
      { tools: [{ type: 'shell', environment: { type: 'container_auto' } }] },
      'gpt-5',
    ).unpriced ?? '',
    /hosted container/,
  );
  // Chat Completions' web search: its answer says nothing of the searches it ran.
  assert.match(
    offeredToolFees('chat.completions', { web_search_options: {} }, 'gpt-4o').unpriced ?? '',
    /web_search_options/,
  );
  assert.match(
    offeredToolFees('chat.completions', {}, 'gpt-4o-mini-search-preview').unpriced ?? '',
    /searches the web/,
  );
  assert.match(
    offeredToolFees('chat.completions', {}, 'gpt-5-search-api-2025-10-14').unpriced ?? '',
    /searches the web/,
  );
  assert.deepEqual(offeredToolFees('chat.completions', {}, 'gpt-4o'), { usage: {} });
  assert.deepEqual(
    offeredToolFees('messages', { tools: [{ type: 'code_interpreter' }] }, 'claude-sonnet-4-5'),
    { usage: {} },
  );
});

test("Claude's web search on Messages is held at its max_uses searches, else at one", () => {
  const claude = (tools: unknown[]) => offeredToolFees('messages', { tools }, 'claude-sonnet-4-5');
  assert.deepEqual(claude([{ type: 'web_search_20250305', name: 'web_search' }]), {
    usage: { webSearches: 1 },
    offered: 'web_search',
  });
  assert.deepEqual(claude([{ type: 'web_search_20260209', name: 'web_search', max_uses: 5 }]), {
    usage: { webSearches: 5 },
    offered: 'web_search',
  });
  // A client tool, or Claude's web fetch (billed as tokens only), has no fee.
  assert.deepEqual(claude([{ name: 'get_weather', input_schema: { type: 'object' } }]), { usage: {} });
  assert.deepEqual(claude([{ type: 'web_fetch_20250910', name: 'web_fetch' }]), { usage: {} });
});

test("Claude's code execution on Messages is unpriced (billed per container hour), but with a web search or fetch of 2026-02-09 or later", () => {
  const claude = (tools: unknown[]) => offeredToolFees('messages', { tools }, 'claude-sonnet-4-5');
  assert.match(
    claude([{ type: 'code_execution_20250825', name: 'code_execution' }]).unpriced ?? '',
    /^the code_execution_20250825 tool is billed per container hour/,
  );
  assert.match(
    claude([
      { type: 'web_search_20250305', name: 'web_search' },
      { type: 'code_execution_20260120', name: 'code_execution' },
    ]).unpriced ?? '',
    /per container hour/,
  );
  // Free with web_search_20260209, web_fetch_20260209 or later in the same request.
  assert.deepEqual(
    claude([
      { type: 'web_search_20260209', name: 'web_search' },
      { type: 'code_execution_20260120', name: 'code_execution' },
    ]),
    { usage: { webSearches: 1 }, offered: 'web_search' },
  );
  assert.deepEqual(
    claude([
      { type: 'code_execution_20250825', name: 'code_execution' },
      { type: 'web_fetch_20260318', name: 'web_fetch' },
    ]),
    { usage: {} },
  );
});

test("a streamed Responses answer's time to first token ends at its first content delta; with none, at its first event", async () => {
  const route = { provider: { options: {} }, model: 'gpt-4o-mini' } as unknown as Route;
  const run = async (events: object[], pauseMs: number) => {
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
    const stream = {
      status: 200,
      headers: {},
      redact: (text: string) => text,
      cancel: () => {},
      async *[Symbol.asyncIterator]() {
        const [opening, ...rest] = events;
        yield opening;
        // The model thinks before its first token (response.created and in_progress come at once).
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        yield* rest;
      },
    } as unknown as ProviderEventStream;
    const res = {
      destroyed: false,
      writeHead: () => res,
      write: () => true,
      end: () => {},
    } as unknown as ServerResponse;
    const startedAt = performance.now();
    const timing: { firstByteAt?: number } = {};
    await exchange.stream(stream, res, timing, () => {});
    assert.ok(timing.firstByteAt !== undefined);
    return timing.firstByteAt - startedAt;
  };
  const completed = { type: 'response.completed', response: { id: 'resp_1', status: 'completed' } };
  const created = { type: 'response.created', response: { id: 'resp_1' } };
  const reasoning = { type: 'response.reasoning_summary_text.delta', delta: 'hmm' };
  const text = { type: 'response.output_text.delta', delta: 'Hi' };
  assert.ok((await run([created, text, completed], 60)) >= 50, 'to the first text');
  assert.ok((await run([created, reasoning, text, completed], 60)) >= 50, 'to the first reasoning');
  assert.ok((await run([created, completed], 60)) < 50, 'no content: its first event');
});

test("a Responses stream's error event is read by its code, flat as the reference has it or nested as OpenAI sends it", () => {
  // API reference, ResponseErrorEvent: `code`, `message`, `param`, `sequence_number`.
  assert.deepEqual(
    responsesStreamFailure({ type: 'error', code: 'rate_limit_exceeded', message: 'Slow down', param: null }),
    { kind: 'upstream_error', errorType: 'rate_limit_exceeded', message: 'Slow down' },
  );
  assert.deepEqual(
    responsesStreamFailure({
      type: 'error',
      error: { type: 'server_error', code: null, message: 'The server had an error' },
    }),
    { kind: 'upstream_error', errorType: 'server_error', message: 'The server had an error' },
  );
  // A numeric code is the status the error stands for (as in an OpenAI-compatible chat stream).
  assert.deepEqual(responsesStreamFailure({ type: 'error', code: 503, message: 'Overloaded' }), {
    kind: 'upstream_error',
    errorType: 'error',
    message: 'Overloaded',
    status: 503,
  });
});

test('a Responses stream cut while the model writes a shell command is charged the command streamed', async () => {
  // openai-node ResponseShellCallCommandDeltaEvent: output_index, command_index, delta.
  const command = 'find . -name "*.ts" -newer package.json -print | xargs wc -l | sort -n | tail -20';
  const events = [
    { type: 'response.created', response: { id: 'resp_sh' } },
    { type: 'response.shell_call_command.delta', output_index: 0, command_index: 0, delta: command },
  ];
  const stream = {
    status: 200,
    headers: {},
    cancel: () => {},
    redact: (text: string) => text,
    async *[Symbol.asyncIterator]() {
      yield* events;
      throw new Error('reset');
    },
  } as unknown as ProviderEventStream;
  const res = {
    destroyed: false,
    writeHead: () => res,
    write: () => true,
    end: () => {},
  } as unknown as ServerResponse;
  let settled: { outputTokens: number } | undefined;
  await responsesExchange({ stream: true, input: 'hi', tools: [{ type: 'shell' }] }).stream(
    stream,
    res,
    {},
    (usage) => {
      settled = usage;
    },
  );
  assert.ok((settled?.outputTokens ?? 0) >= 10, `output tokens: ${settled?.outputTokens}`);
});

test('a compaction is forwarded as sent, billed its usage, counted without one; an error object with a 200 is no answer', () => {
  const route = { provider: { options: {} }, model: 'gpt-4o-mini' } as unknown as Route;
  const body = { model: 'alias', input: 'We chose PostgreSQL and pnpm.', previous_response_id: 'resp_1' };
  const plan = () => planResponsesCompactExchange('openai', openAIProvider, {}, body, route, 'r', false, 40);
  const exchange = plan();
  assert.ok(exchange);
  assert.deepEqual(exchange.operation, {
    operation: 'responses_compact',
    model: 'gpt-4o-mini',
    stream: false,
    body: { ...body, model: 'gpt-4o-mini' },
  });
  const reply = (json: object) => {
    const rawText = JSON.stringify(json);
    return { rawText, json: () => JSON.parse(rawText), redact: (text: string) => text } as never;
  };
  const compaction = {
    id: 'cmp_1',
    object: 'response.compaction',
    created_at: 1,
    output: [{ id: 'cmpi_1', type: 'compaction', encrypted_content: 'AAAA' }],
  };
  const usage = {
    input_tokens: 300,
    input_tokens_details: { cached_tokens: 200 },
    output_tokens: 50,
    output_tokens_details: { reasoning_tokens: 20 },
    total_tokens: 350,
  };
  const answered = exchange.answer(reply({ ...compaction, usage }));
  assert.equal(answered.text, JSON.stringify({ ...compaction, usage }), 'forwarded as the provider sent it');
  assert.deepEqual(answered.usage, {
    inputTokens: 300,
    outputTokens: 50,
    cachedInputTokens: 200,
    reasoningTokens: 20,
  });
  assert.equal(answered.storedId, undefined, 'a compaction is no response a follow-up continues');
  assert.equal(answered.loggedText?.(), '', 'ciphertext is no text to log');
  // No usage reported: the prompt is counted, with the stored conversation it continues.
  const counted = exchange.answer(reply(compaction)).usage;
  assert.ok(counted && counted.inputTokens > 40, String(counted?.inputTokens));
  assert.throws(
    () => exchange.answer(reply({ error: { message: 'overloaded', type: 'server_error' } })),
    (error: unknown) => (error as { code?: string }).code === 'upstream_invalid_response',
  );
  // Only where compaction is: Azure's v1 API, not its deployment API, nor vLLM's Responses API.
  const azure = (baseUrl: string) =>
    planResponsesCompactExchange(
      'openai',
      azureOpenAIProvider,
      { baseUrl, apiVersion: '2025-04-01-preview' },
      body,
      route,
      'r',
      false,
    );
  assert.ok(
    planResponsesCompactExchange(
      'openai',
      azureOpenAIProvider,
      { baseUrl: 'https://x.openai.azure.com/openai/v1' },
      body,
      route,
      'r',
      false,
    ),
  );
  assert.equal(azure('https://x.openai.azure.com'), undefined);
  const vllm = { baseUrl: 'http://127.0.0.1:9/v1', vendor: 'vllm' as const };
  assert.ok(planResponsesExchange('openai', openAICompatibleProvider, vllm, body, route, 'r', false));
  assert.equal(
    planResponsesCompactExchange('openai', openAICompatibleProvider, vllm, body, route, 'r', false),
    undefined,
  );
  assert.equal(
    planResponsesCompactExchange('anthropic', openAIProvider, {}, body, route, 'r', false),
    undefined,
  );
});
