/**
 * Wire fidelity: the official SDKs, unmodified, talk straight to the mocks. If an SDK
 * parses a mock's answer, the mock speaks the provider's format.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import {
  countTokens,
  embeddingFor,
  type MockServer,
  SCENARIO_HEADER,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from './index.js';

const KEY = 'sk-mock-key-0001';
const OTHER_KEY = 'sk-mock-key-0002';

const weatherTool = {
  name: 'get_weather',
  description: 'Weather of a city',
  parameters: {
    type: 'object' as const,
    properties: { city: { type: 'string' }, days: { type: 'integer' } },
    required: ['city'],
  },
};

function scenario(text: string) {
  return { headers: { [SCENARIO_HEADER]: text } };
}

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body as the TCP reads delivered it. */
  readonly pieces: Buffer[];
  readonly text: string;
  readonly firstByteMs: number;
}

/** A plain node:http POST that keeps the body pieces as they arrive. */
function rawPost(url: string, headers: Record<string, string>, body: unknown): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const firstByteMs = performance.now() - started;
        const pieces: Buffer[] = [];
        res.on('data', (piece: Buffer) => pieces.push(piece));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            pieces,
            text: Buffer.concat(pieces).toString('utf8'),
            firstByteMs,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('OpenAI mock with the openai SDK', () => {
  let mock: MockServer;
  let client: OpenAI;

  before(async () => {
    mock = await startOpenAIMock({ keys: [KEY, OTHER_KEY] });
    client = new OpenAI({ apiKey: KEY, baseURL: `${mock.url}/v1`, maxRetries: 0 });
  });
  after(() => mock.close());

  test('chat completion echoes the last user message with usage and rate-limit headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }] })
      .withResponse();
    assert.equal(data.choices[0]?.message.content, 'Mock reply: Hello there');
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.equal(data.usage?.completion_tokens, countTokens('Mock reply: Hello there'));
    assert.equal(
      data.usage?.total_tokens,
      (data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0),
    );
    assert.match(response.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    assert.ok(Number(response.headers.get('x-ratelimit-remaining-requests')) < 10_000);
    assert.match(response.headers.get('x-ratelimit-reset-requests') ?? '', /^(\d+m)?[\d.]+m?s$/);
    assert.deepEqual(mock.requests.at(-1)?.body, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello there' }],
    });
  });

  test('streamed chat ends with the usage chunk when include_usage is set', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Stream this, please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'Mock reply: Stream this, please');
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.equal(last?.usage?.completion_tokens, countTokens(text));
    assert.ok(chunks.slice(0, -1).every((chunk) => chunk.usage === null));
    assert.ok(chunks.some((chunk) => chunk.choices[0]?.finish_reason === 'stop'));
  });

  test('streamed tool-call deltas are reassembled by the SDK', async () => {
    const stream = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Please call get_weather Paris' }],
      tools: [{ type: 'function', function: weatherTool }],
    });
    let argumentDeltas = 0;
    stream.on('chunk', (chunk) => {
      if (chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments) argumentDeltas += 1;
    });
    const completion = await stream.finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0];
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
    assert.ok(call?.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', days: 42 });
    assert.ok(argumentDeltas >= 3, `arguments came in ${argumentDeltas} deltas`);
  });

  test('tool_choice narrows the tools called: none, a named tool, allowed_tools; a bad shape is a 400', async () => {
    const timeTool = {
      name: 'get_time',
      parameters: { type: 'object', properties: { zone: { type: 'string' } } },
    };
    const ask = (tool_choice: OpenAI.ChatCompletionToolChoiceOption) =>
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Please call get_weather Paris' }],
        tools: [
          { type: 'function', function: weatherTool },
          { type: 'function', function: timeTool },
        ],
        tool_choice,
      });
    const called = async (tool_choice: OpenAI.ChatCompletionToolChoiceOption) => {
      const call = (await ask(tool_choice)).choices[0]?.message.tool_calls?.[0];
      return call?.type === 'function' ? call.function.name : undefined;
    };
    assert.equal(await called('auto'), 'get_weather');
    assert.equal(await called('none'), undefined);
    assert.equal(await called({ type: 'function', function: { name: 'get_time' } }), undefined);
    const allowed = (names: string[]): OpenAI.ChatCompletionToolChoiceOption => ({
      type: 'allowed_tools',
      allowed_tools: { mode: 'auto', tools: names.map((name) => ({ type: 'function', function: { name } })) },
    });
    assert.equal(await called(allowed(['get_weather'])), 'get_weather');
    assert.equal(await called(allowed(['get_time'])), undefined);
    const refused = await ask({
      type: 'allowed_tools',
    } as unknown as OpenAI.ChatCompletionToolChoiceOption).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.APIError && refused.status === 400, String(refused));
  });

  test('any tool_choice without tools is a 400 naming tool_choice, as the API answers', async () => {
    for (const tool_choice of ['auto', 'none', 'required'] as const) {
      const refused = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], tool_choice })
        .catch((error: unknown) => error);
      assert.ok(refused instanceof OpenAI.BadRequestError, `${tool_choice}: ${String(refused)}`);
      assert.equal(refused.param, 'tool_choice');
      assert.equal(refused.type, 'invalid_request_error');
      assert.equal(refused.code, null);
      assert.equal(
        (refused.error as { message?: string }).message,
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      );
    }
    // null is no choice at all.
    const answered = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      tool_choice: null as unknown as 'auto',
    });
    assert.equal(answered.choices[0]?.message.content, 'Mock reply: Hi');
  });

  test('tools: [] is a 400 naming tools, code empty_array, whatever else is sent', async () => {
    for (const extra of [{}, { tool_choice: 'auto' as const }, { parallel_tool_calls: false }]) {
      const refused = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], tools: [], ...extra })
        .catch((error: unknown) => error);
      assert.ok(refused instanceof OpenAI.BadRequestError, `${JSON.stringify(extra)}: ${String(refused)}`);
      assert.equal(refused.param, 'tools');
      assert.equal(refused.code, 'empty_array');
      assert.equal(refused.type, 'invalid_request_error');
      assert.equal(
        (refused.error as { message?: string }).message,
        "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      );
    }
  });

  test('parallel_tool_calls without tools is a 400 naming it, false and true alike', async () => {
    for (const parallel_tool_calls of [false, true]) {
      const refused = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], parallel_tool_calls })
        .catch((error: unknown) => error);
      assert.ok(refused instanceof OpenAI.BadRequestError, `${parallel_tool_calls}: ${String(refused)}`);
      assert.equal(refused.param, 'parallel_tool_calls');
      assert.equal(refused.code, null);
      assert.equal(
        (refused.error as { message?: string }).message,
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
      );
    }
    // Beside tools it is taken; null is no value at all.
    const tools = [
      { type: 'function' as const, function: { name: 'get_weather', parameters: weatherTool.parameters } },
    ];
    const withTools = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      tools,
      parallel_tool_calls: false,
    });
    assert.equal(withTools.choices[0]?.message.content, 'Mock reply: Hi');
    const answered = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      parallel_tool_calls: null as unknown as boolean,
    });
    assert.equal(answered.choices[0]?.message.content, 'Mock reply: Hi');
  });

  test('a tool result gets a text answer, not another tool call', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      tools: [{ type: 'function', function: weatherTool }],
      messages: [
        { role: 'user', content: 'Please call get_weather Paris' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    assert.equal(completion.choices[0]?.message.content, 'Mock reply: tool result: sunny');
  });

  test('tool messages out of order are the 400s the API answers, with the messages index', async () => {
    const tools = [{ type: 'function' as const, function: weatherTool }];
    const call = {
      id: 'call_1',
      type: 'function' as const,
      function: { name: 'get_weather', arguments: '{}' },
    };
    const refusal = (messages: OpenAI.Chat.ChatCompletionMessageParam[]) =>
      client.chat.completions.create({ model: 'gpt-4o', tools, messages }).catch((error: unknown) => error);
    const orphan = await refusal([
      { role: 'user', content: 'Hi' },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    ]);
    assert.ok(orphan instanceof OpenAI.BadRequestError, String(orphan));
    assert.equal(orphan.param, 'messages.[1].role');
    assert.equal(orphan.type, 'invalid_request_error');
    assert.equal(orphan.code, null);
    assert.equal(
      (orphan.error as { message?: string }).message,
      "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
    );
    const unanswered = await refusal([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'user', content: 'Go on' },
    ]);
    assert.ok(unanswered instanceof OpenAI.BadRequestError, String(unanswered));
    assert.equal(unanswered.param, 'messages.[2].role');
    assert.equal(unanswered.code, null);
    assert.equal(
      (unanswered.error as { message?: string }).message,
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. " +
        'The following tool_call_ids did not have response messages: call_1',
    );
  });

  test('embeddings decode from the base64 the SDK asks for', async () => {
    const result = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
      dimensions: 8,
    });
    assert.equal(result.data.length, 2);
    assert.equal(result.data[1]?.index, 1);
    assert.deepEqual(result.data[0]?.embedding, embeddingFor('alpha', 8));
    assert.equal(result.usage.prompt_tokens, countTokens('alpha') + countTokens('beta'));
  });

  test('models.list pages through the configured models', async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.ok(ids.includes('gpt-4o-mini'));
    const model = await client.models.retrieve('gpt-4o');
    assert.equal(model.object, 'model');
    await assert.rejects(client.models.retrieve('no-such-model'), OpenAI.NotFoundError);
  });

  test('responses API, plain', async () => {
    const response = await client.responses.create({
      model: 'gpt-4.1',
      instructions: 'Be brief.',
      input: 'Hi there',
    });
    assert.equal(response.output_text, 'Mock reply: Hi there');
    assert.equal(response.status, 'completed');
    assert.equal(response.usage?.output_tokens, countTokens('Mock reply: Hi there'));
  });

  test('responses input token count: the input the same body is billed, from the body alone, free', async () => {
    const body = {
      model: 'gpt-4.1',
      instructions: 'Be brief.',
      input: 'Count me, please',
      tools: [{ type: 'function' as const, name: 'lookup', parameters: { type: 'object' }, strict: true }],
    };
    const counted = await client.responses.inputTokens.count(body);
    assert.equal(counted.object, 'response.input_tokens');
    const response = await client.responses.create(body);
    assert.equal(counted.input_tokens, response.usage?.input_tokens);
    assert.deepEqual(await client.responses.inputTokens.count(body), counted, 'deterministic');
    const shorter = await client.responses.inputTokens.count({ ...body, tools: [] });
    assert.ok(shorter.input_tokens < counted.input_tokens, 'the tools are counted');
    // Stored state is found only by its project's key, as for a response.
    const other = new OpenAI({ apiKey: OTHER_KEY, baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const followUp = { model: 'gpt-4.1', input: 'And then?', previous_response_id: response.id };
    assert.ok((await client.responses.inputTokens.count(followUp)).input_tokens > 0);
    const refused = await other.responses.inputTokens.count(followUp).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.code, 'previous_response_not_found');
    // A scenario plays on it as on any call.
    mock.enqueueScenario('rate-limit=7');
    const limited = await client.responses.inputTokens.count(body).catch((error: unknown) => error);
    assert.ok(limited instanceof OpenAI.RateLimitError, String(limited));
    assert.equal(limited.headers?.get('retry-after'), '7');
  });

  test('responses API, streamed events accumulate into the final response', async () => {
    const stream = client.responses.stream({
      model: 'gpt-4.1',
      input: [{ role: 'user', content: 'Stream a response' }],
    });
    const types = new Set<string>();
    let deltas = 0;
    for await (const event of stream) {
      types.add(event.type);
      if (event.type === 'response.output_text.delta') deltas += 1;
    }
    const final = await stream.finalResponse();
    assert.equal(final.output_text, 'Mock reply: Stream a response');
    assert.ok(deltas > 1);
    for (const type of [
      'response.created',
      'response.output_item.added',
      'response.output_text.done',
      'response.completed',
    ]) {
      assert.ok(types.has(type), `saw ${type}`);
    }
  });

  test('responses API echoes the text.format asked, plain and in every streamed snapshot', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const format = { type: 'json_schema' as const, name: 'place', schema, strict: true };
    const plain = await client.responses.create({ model: 'gpt-4.1', input: 'Hi', text: { format } });
    assert.deepEqual(plain.text, { format: { ...format, description: null } });
    // `create` with `stream`, not `stream()`: the helper parses the mock's echo text as the JSON.
    const stream = await client.responses.create({
      model: 'gpt-4.1',
      input: 'Hi',
      text: { format },
      stream: true,
    });
    const echoed: unknown[] = [];
    for await (const event of stream)
      if (event.type === 'response.created' || event.type === 'response.completed')
        echoed.push(event.response.text);
    assert.deepEqual(echoed, [
      { format: { ...format, description: null } },
      { format: { ...format, description: null } },
    ]);
    const json = await client.responses.create({
      model: 'gpt-4.1',
      input: 'Hi',
      text: { format: { type: 'json_object' } },
    });
    assert.deepEqual(json.text, { format: { type: 'json_object' } });
    const text = await client.responses.create({ model: 'gpt-4.1', input: 'Hi' });
    assert.deepEqual(text.text, { format: { type: 'text' } });
  });

  test("responses.compact: the user messages and one compaction item; another project's previous response and a stream refused", async () => {
    const created = await client.responses.create({ model: 'gpt-4.1', input: 'Remember 42.' });
    const compacted = await client.responses.compact({
      model: 'gpt-4.1',
      previous_response_id: created.id,
      input: 'And 7.',
    });
    assert.equal(compacted.object, 'response.compaction');
    assert.deepEqual(
      compacted.output.map((item) => item.type),
      ['message', 'message', 'compaction'],
    );
    assert.ok(compacted.usage.input_tokens_details.cached_tokens > 0, 'the stored conversation, cached');
    assert.equal(compacted.usage.total_tokens, compacted.usage.input_tokens + compacted.usage.output_tokens);
    const other = new OpenAI({ apiKey: OTHER_KEY, baseURL: `${mock.url}/v1`, maxRetries: 0 });
    await assert.rejects(
      other.responses.compact({ model: 'gpt-4.1', previous_response_id: created.id }),
      (error: unknown) =>
        error instanceof OpenAI.BadRequestError && error.code === 'previous_response_not_found',
    );
    await assert.rejects(
      client.responses.compact({ model: 'gpt-4.1', input: 'x', stream: true } as never),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'stream',
    );
  });

  test('responses API, streamed function call', async () => {
    const stream = client.responses.stream({
      model: 'gpt-4.1',
      input: 'call get_weather Oslo',
      tools: [{ type: 'function', strict: false, ...weatherTool }],
    });
    const final = await stream.finalResponse();
    const call = final.output[0];
    assert.ok(call?.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo', days: 42 });
  });

  test('429 surfaces as RateLimitError with retry-after and spent quota headers', async () => {
    mock.enqueueScenario('rate-limit=2');
    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof OpenAI.RateLimitError);
    assert.equal(error.headers?.get('retry-after'), '2');
    assert.equal(error.headers?.get('x-ratelimit-remaining-requests'), '0');
    assert.equal(error.code, 'rate_limit_exceeded');
  });

  test('the SDK honours retry-after before retrying', async () => {
    const retrying = new OpenAI({ apiKey: KEY, baseURL: `${mock.url}/v1`, maxRetries: 1 });
    mock.enqueueScenario('rate-limit=1');
    const before = mock.requests.length;
    const completion = await retrying.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'again' }],
    });
    assert.equal(completion.choices[0]?.message.content, 'Mock reply: again');
    const [first, second] = mock.requests.slice(before);
    assert.ok(first && second);
    assert.ok(
      second.receivedAt - first.receivedAt >= 950,
      `retried after ${second.receivedAt - first.receivedAt} ms`,
    );
  });

  test('a connection reset mid-stream surfaces as an error after the first chunks', async () => {
    const stream = await client.chat.completions.create(
      {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'one two three four five' }],
        stream: true,
      },
      scenario('reset-mid-stream=3'),
    );
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    });
    assert.equal(seen.length, 3);
  });

  test('keep-alive comments and split frames do not disturb the SDK', async () => {
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'héllo wörld 🌍' }], stream: true },
      scenario('keep-alive, split-frames'),
    );
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Mock reply: héllo wörld 🌍');
  });

  test('a wrong key gets a 401 in OpenAI shape', async () => {
    const stranger = new OpenAI({ apiKey: 'sk-wrong-key-123456', baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const error = await stranger.models.list().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof OpenAI.AuthenticationError);
    assert.equal(error.code, 'invalid_api_key');
    assert.match(error.message, /Incorrect API key provided: sk-\*+3456/);
  });

  test('the per-key quota counts down and answers 429 once spent', async () => {
    mock.setQuota(OTHER_KEY, { requests: 2 });
    const limited = new OpenAI({ apiKey: OTHER_KEY, baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const ask = () =>
      limited.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'q' }] })
        .withResponse();
    const remaining = [];
    for (let i = 0; i < 2; i += 1)
      remaining.push((await ask()).response.headers.get('x-ratelimit-remaining-requests'));
    assert.deepEqual(remaining, ['1', '0']);
    await assert.rejects(ask(), OpenAI.RateLimitError);
    assert.ok(mock.quota(OTHER_KEY).remainingTokens < mock.quota(OTHER_KEY).limitTokens);
  });
});

describe('Anthropic mock with the @anthropic-ai/sdk', () => {
  let mock: MockServer;
  let client: Anthropic;

  before(async () => {
    mock = await startAnthropicMock({ keys: [KEY, OTHER_KEY] });
    client = new Anthropic({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
  });
  after(() => mock.close());

  const ask = { model: 'claude-sonnet-5-5', max_tokens: 1024 } as const;

  test('messages.create echoes with usage, request-id and rate-limit headers', async () => {
    const { data, response } = await client.messages
      .create({ ...ask, system: 'Be nice.', messages: [{ role: 'user', content: 'Hello Claude' }] })
      .withResponse();
    assert.deepEqual(data.content, [{ type: 'text', text: 'Mock reply: Hello Claude' }]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.usage.output_tokens, countTokens('Mock reply: Hello Claude'));
    assert.match(response.headers.get('request-id') ?? '', /^req_/);
    assert.ok(Number(response.headers.get('anthropic-ratelimit-requests-remaining')) < 10_000);
    assert.match(
      response.headers.get('anthropic-ratelimit-requests-reset') ?? '',
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
  });

  test('messages.stream() builds the final message from the events', async () => {
    const stream = client.messages.stream({ ...ask, messages: [{ role: 'user', content: 'Stream to me' }] });
    let textEvents = 0;
    stream.on('text', () => {
      textEvents += 1;
    });
    const message = await stream.finalMessage();
    assert.deepEqual(message.content, [{ type: 'text', text: 'Mock reply: Stream to me' }]);
    assert.equal(message.usage.output_tokens, countTokens('Mock reply: Stream to me'));
    assert.ok(message.usage.input_tokens > 0);
    assert.ok(textEvents > 1);
  });

  test('any tool_choice without tools is a 400; tools: [] alone is answered', async () => {
    for (const tools of [undefined, []])
      for (const tool_choice of [
        { type: 'auto' as const },
        { type: 'any' as const },
        { type: 'none' as const },
        { type: 'tool' as const, name: 'get_weather' },
      ]) {
        const refused = await client.messages
          .create({ ...ask, messages: [{ role: 'user', content: 'Hi' }], tools, tool_choice })
          .catch((error: unknown) => error);
        assert.ok(refused instanceof Anthropic.BadRequestError, `${tool_choice.type}: ${String(refused)}`);
        assert.deepEqual((refused.error as { error?: unknown }).error, {
          type: 'invalid_request_error',
          message: 'tool_choice may only be specified while providing tools.',
        });
      }
    const answered = await client.messages.create({
      ...ask,
      messages: [{ role: 'user', content: 'Hi' }],
      tools: [],
    });
    assert.deepEqual(answered.content, [{ type: 'text', text: 'Mock reply: Hi' }]);
  });

  test('tool use, plain and streamed as input_json_delta fragments', async () => {
    const request = {
      ...ask,
      tools: [{ name: weatherTool.name, input_schema: weatherTool.parameters }],
      messages: [{ role: 'user' as const, content: 'call get_weather Rome' }],
    };
    const plain = await client.messages.create(request);
    assert.equal(plain.stop_reason, 'tool_use');
    const streamed = await client.messages.stream(request).finalMessage();
    for (const message of [plain, streamed]) {
      const toolUse = message.content[1];
      assert.ok(toolUse?.type === 'tool_use');
      assert.equal(toolUse.name, 'get_weather');
      assert.deepEqual(toolUse.input, { city: 'Rome', days: 42 });
    }
    assert.equal(streamed.usage.output_tokens, plain.usage.output_tokens);
  });

  test('a forced tool_choice (any, tool): the tool_use block alone, no text before it', async () => {
    const base = {
      ...ask,
      tools: [{ name: weatherTool.name, input_schema: weatherTool.parameters }],
      messages: [{ role: 'user' as const, content: 'call get_weather Rome' }],
    };
    for (const tool_choice of [{ type: 'any' as const }, { type: 'tool' as const, name: 'get_weather' }]) {
      const request = { ...base, tool_choice };
      const plain = await client.messages.create(request);
      const streamed = await client.messages.stream(request).finalMessage();
      for (const message of [plain, streamed]) {
        assert.deepEqual(
          message.content.map((block) => block.type),
          ['tool_use'],
        );
        assert.equal(message.stop_reason, 'tool_use');
      }
      assert.equal(streamed.usage.output_tokens, plain.usage.output_tokens);
    }
    const auto = await client.messages.create({ ...base, tool_choice: { type: 'auto' } });
    assert.deepEqual(
      auto.content.map((block) => block.type),
      ['text', 'tool_use'],
    );
  });

  test('count_tokens agrees with the input tokens of the same request', async () => {
    const messages = [{ role: 'user' as const, content: 'Count me in' }];
    const counted = await client.messages.countTokens({ model: ask.model, messages });
    const answered = await client.messages.create({ ...ask, messages });
    assert.equal(counted.input_tokens, answered.usage.input_tokens);
  });

  test('529 overloaded_error surfaces as OverloadedError', async () => {
    const error = await client.messages
      .create({ ...ask, messages: [{ role: 'user', content: 'hi' }] }, scenario('overloaded'))
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof Anthropic.OverloadedError);
    assert.equal(error.status, 529);
    assert.deepEqual((error.error as { error?: unknown } | undefined)?.error, {
      type: 'overloaded_error',
      message: 'Overloaded',
    });
  });

  test("a message thread is kept for the key's account: continued there, thread_not_found elsewhere", async () => {
    const first = await client.beta.messages.create({
      ...ask,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello Claude' }],
      thread: { type: 'create' },
    });
    const next = { ...ask, messages: [{ role: 'user' as const, content: 'And again' }] };
    const continued = await client.beta.messages.create({
      ...next,
      thread: { type: 'continue', previous_message_id: first.id },
    });
    assert.deepEqual(continued.content, [{ type: 'text', text: 'Mock reply: And again' }]);
    // Billed on the whole conversation the thread holds, with the system prompt it was made with.
    const whole = await client.messages.create({
      ...ask,
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'Hello Claude' },
        { role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] },
        { role: 'user', content: 'And again' },
      ],
    });
    assert.equal(continued.usage.input_tokens, whole.usage.input_tokens);
    const other = new Anthropic({ apiKey: OTHER_KEY, baseURL: mock.url, maxRetries: 0 });
    for (const [caller, id] of [
      [other, continued.id],
      [client, 'msg_unknown'],
    ] as const) {
      const lost = await caller.beta.messages
        .create({ ...next, thread: { type: 'continue', previous_message_id: id } })
        .then(
          () => assert.fail('answered'),
          (error: unknown) => error,
        );
      assert.ok(lost instanceof Anthropic.NotFoundError, String(lost));
      const body = lost.error as { error: { type: string; details?: unknown } };
      assert.equal(body.error.type, 'not_found_error');
      assert.deepEqual(body.error.details, { error_code: 'thread_not_found' });
    }
  });

  test("a thread's reply is continued once, by one request at a time, with the thread's model, system and tools: Claude's 400s", async () => {
    const tools = [
      { name: 'get_weather', description: 'The weather', input_schema: { type: 'object' as const } },
    ];
    const first = await client.beta.messages.create({
      ...ask,
      system: 'Be brief.',
      tools,
      messages: [{ role: 'user', content: 'Hello Claude' }],
      thread: { type: 'create' },
    });
    const next = { ...ask, messages: [{ role: 'user' as const, content: 'And again' }] };
    const from = (
      id: string,
      fields: Record<string, unknown> = {},
      options?: { headers: Record<string, string> },
    ) =>
      client.beta.messages.create(
        { ...next, ...fields, thread: { type: 'continue', previous_message_id: id } },
        options,
      );
    const refusal = async (
      asked: Promise<unknown>,
      kind: new (...args: never[]) => Error,
      code: string,
    ): Promise<string> => {
      const error = await asked.then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof kind, String(error));
      assert.ok(error instanceof Anthropic.BadRequestError);
      assert.equal(error.status, 400);
      assert.equal(error.errorCode, code);
      const body = error.error as { error: { type: string; message: string; details?: unknown } };
      assert.equal(body.error.type, 'invalid_request_error');
      assert.deepEqual(body.error.details, { error_code: code });
      return body.error.message;
    };
    // Another model, or a system prompt or tools that differ from the thread's: each named.
    for (const [fields, named] of [
      [{ model: 'claude-opus-4-6' }, /`model`/],
      [{ system: 'Be long.' }, /`system`/],
      [{ tools: [{ ...tools[0]!, description: 'The weather, in a city' }] }, /`tools`/],
      [{ model: 'claude-opus-4-6', system: 'Be long.' }, /`model`, `system`/],
    ] as const) {
      const message = await refusal(
        from(first.id, fields),
        Anthropic.ThreadFingerprintMismatchError,
        'thread_fingerprint_mismatch',
      );
      assert.match(message, named);
    }
    // A continuation is in flight until its reply has left: a second one from the same reply is refused.
    const requests = mock.requests.length;
    const slow = from(
      first.id,
      { system: 'Be brief.', tools },
      { headers: { 'x-mock-scenario': 'slow-first-byte=300' } },
    );
    while (mock.requests.length === requests) await new Promise((resolve) => setTimeout(resolve, 5));
    await refusal(from(first.id), Anthropic.ThreadContinueInFlightError, 'thread_continue_in_flight');
    const continued = await slow; // the same system and tools, repeated: taken
    // Continued once: from its reply only.
    await refusal(from(first.id), Anthropic.ThreadAlreadyContinuedError, 'thread_already_continued');
    // The thread's fingerprint goes on with it.
    await refusal(
      from(continued.id, { model: 'claude-opus-4-6' }),
      Anthropic.ThreadFingerprintMismatchError,
      'thread_fingerprint_mismatch',
    );
    // A continuation whose reply was cut short leaves the reply it continued open, and holds nothing.
    const cut = await client.beta.messages
      .create(
        { ...next, stream: true, thread: { type: 'continue', previous_message_id: continued.id } },
        { headers: { 'x-mock-scenario': 'reset-mid-stream=2' } },
      )
      .then(async (stream) => {
        let id = '';
        for await (const event of stream) if (event.type === 'message_start') id = event.message.id;
        return id;
      })
      .catch((error: unknown) => error);
    assert.ok(cut instanceof Error, String(cut));
    const resumed = await from(continued.id);
    assert.deepEqual(resumed.content, [{ type: 'text', text: 'Mock reply: And again' }]);
  });

  test('429 carries retry-after and the anthropic-ratelimit headers', async () => {
    mock.enqueueScenario({ error: 'rate-limit', retryAfterSeconds: 7 }, { key: KEY });
    const error = await client.messages.create({ ...ask, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof Anthropic.RateLimitError);
    assert.equal(error.headers?.get('retry-after'), '7');
    assert.equal(error.headers?.get('anthropic-ratelimit-requests-remaining'), '0');
  });

  test('the SDK sends its key as a Bearer token; x-api-key works as well', async () => {
    assert.equal(mock.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
    const body = { ...ask, messages: [{ role: 'user', content: 'raw' }] };
    const withHeader = await rawPost(
      `${mock.url}/v1/messages`,
      { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
      body,
    );
    assert.equal(withHeader.status, 200);
    const noVersion = await rawPost(`${mock.url}/v1/messages`, { 'x-api-key': KEY }, body);
    assert.equal(noVersion.status, 400);
    assert.match(noVersion.text, /anthropic-version: header is required/);
  });

  test('the raw stream has the documented event order', async () => {
    const headers = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' };
    const body = { ...ask, stream: true, messages: [{ role: 'user', content: 'two words' }] };
    const res = await rawPost(`${mock.url}/v1/messages`, headers, body);
    const events = [...res.text.matchAll(/^event: (\w+)$/gm)].map((match) => match[1]);
    const collapsed = events.filter((event, index) => event !== events[index - 1]);
    assert.deepEqual(collapsed, [
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  test('a wrong key gets authentication_error', async () => {
    const stranger = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: mock.url, maxRetries: 0 });
    await assert.rejects(
      stranger.messages.create({ ...ask, messages: [{ role: 'user', content: 'hi' }] }),
      Anthropic.AuthenticationError,
    );
  });
});

describe("Anthropic mock: an account's URL fetching off, a workspace not ready", () => {
  const NOT_READY_KEY = 'sk-mock-key-0003';
  let mock: MockServer;
  const client = (apiKey: string) => new Anthropic({ apiKey, baseURL: mock.url, maxRetries: 0 });
  const ask = { model: 'claude-sonnet-5-5', max_tokens: 1024 } as const;
  const withUrlImage = [
    {
      role: 'user' as const,
      content: [
        { type: 'image' as const, source: { type: 'url' as const, url: 'https://example.com/cat.png' } },
        { type: 'text' as const, text: 'What is this?' },
      ],
    },
  ];

  before(async () => {
    mock = await startAnthropicMock({
      keys: [KEY, OTHER_KEY, NOT_READY_KEY],
      urlFetchDisabled: [OTHER_KEY],
      storageNotReady: [NOT_READY_KEY],
    });
  });
  after(() => mock.close());

  test('a URL source from a key whose organization fetches none is OrganizationURLFetchDisabledError', async () => {
    const refused = await client(OTHER_KEY)
      .messages.create({ ...ask, messages: withUrlImage })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.OrganizationURLFetchDisabledError, String(refused));
    assert.equal(refused.status, 400);
    assert.equal(refused.type, 'invalid_request_error');
    assert.deepEqual(refused.details, { error_code: 'organization_url_fetch_disabled' });
    const counted = await client(OTHER_KEY)
      .messages.countTokens({ model: ask.model, messages: withUrlImage })
      .catch((error: unknown) => error);
    assert.ok(counted instanceof Anthropic.OrganizationURLFetchDisabledError, String(counted));
    // The same key serves a request without a URL, and another organization's key the URL.
    const plain = await client(OTHER_KEY).messages.create({
      ...ask,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.deepEqual(plain.content, [{ type: 'text', text: 'Mock reply: hi' }]);
    const fetched = await client(KEY).messages.create({ ...ask, messages: withUrlImage });
    assert.equal(fetched.type, 'message');
  });

  test('a workspace not ready answers every message and count with StorageNotReadyError', async () => {
    const refused = await client(NOT_READY_KEY)
      .messages.create({ ...ask, messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.StorageNotReadyError, String(refused));
    assert.ok(refused instanceof Anthropic.ServiceUnavailableError);
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.details, { error_code: 'storage_not_ready' });
    assert.match(refused.requestID ?? '', /^req_/);
    const counted = await client(NOT_READY_KEY)
      .messages.countTokens({ model: ask.model, messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    assert.ok(counted instanceof Anthropic.StorageNotReadyError, String(counted));
  });
});

describe('Gemini mock with @google/genai', () => {
  let mock: MockServer;
  let ai: GoogleGenAI;

  before(async () => {
    mock = await startGeminiMock({ keys: [KEY] });
    ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: mock.url } });
  });
  after(() => mock.close());

  test('generateContent echoes with usageMetadata', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hello Gemini' });
    assert.equal(response.text, 'Mock reply: Hello Gemini');
    assert.equal(response.usageMetadata?.candidatesTokenCount, countTokens('Mock reply: Hello Gemini'));
    // @google/genai 3 calls v1 by default; the mock serves v1, v1beta and v1alpha alike.
    assert.match(
      mock.requests.at(-1)?.path ?? '',
      /^\/v1(beta)?\/models\/gemini-2\.5-flash:generateContent$/,
    );
    assert.equal(mock.requests.at(-1)?.headers['x-goog-api-key'], KEY);
  });

  test('generateContentStream streams SSE chunks with running usage', async () => {
    const stream = await ai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'Please stream a longer answer back to me',
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((chunk) => chunk.text ?? '').join('');
    assert.equal(text, 'Mock reply: Please stream a longer answer back to me');
    assert.ok(chunks.length > 1);
    assert.equal(chunks.at(-1)?.usageMetadata?.candidatesTokenCount, countTokens(text));
    assert.equal(chunks.at(-1)?.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(mock.requests.at(-1)?.query.alt, 'sse');
  });

  test('function declarations get a functionCall part', async () => {
    const response = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'call get_weather Lima',
      config: {
        tools: [
          {
            functionDeclarations: [{ name: weatherTool.name, parametersJsonSchema: weatherTool.parameters }],
          },
        ],
      },
    });
    assert.deepEqual(response.functionCalls?.[0], { name: 'get_weather', args: { city: 'Lima', days: 42 } });
  });

  test('a function name over 64 characters, or not starting with a letter or _, is a 400 naming the declaration', async () => {
    const names = ['x'.repeat(65), '1password', 'a'.repeat(64), 'mcp:server.tool-name'];
    const error = await ai.models
      .generateContent({
        model: 'gemini-2.5-flash',
        contents: 'hi',
        config: { tools: [{ functionDeclarations: names.map((name) => ({ name })) }] },
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.match(error.message, /function_declarations\[0\]\.name: \[FIELD_INVALID\] Invalid function name/);
    assert.match(error.message, /function_declarations\[1\]\.name/);
    assert.doesNotMatch(error.message, /function_declarations\[[23]\]/);
  });

  test('429 is RESOURCE_EXHAUSTED with a RetryInfo detail', async () => {
    mock.enqueueScenario('rate-limit=3');
    const error = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 429);
    assert.match(error.message, /RESOURCE_EXHAUSTED/);
    assert.match(error.message, /"retryDelay":"3s"/);
  });

  test('embedContent: batchEmbedContents, one vector per text in order, usageMetadata', async () => {
    const response = await ai.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['alpha', 'beta'],
      config: { outputDimensionality: 8 },
    });
    // Gemini truncates to outputDimensionality: the full-size vector's first values.
    assert.deepEqual(
      response.embeddings?.map((embedding) => embedding.values),
      [embeddingFor('alpha', 3072).slice(0, 8), embeddingFor('beta', 3072).slice(0, 8)],
    );
    assert.deepEqual(response.usageMetadata, {
      promptTokenCount: countTokens('alpha') + countTokens('beta'),
      promptTokenDetails: [{ modality: 'TEXT', tokenCount: countTokens('alpha') + countTokens('beta') }],
    });
    const sent = mock.requests.at(-1)!;
    assert.match(sent.path, /^\/v1(beta)?\/models\/gemini-embedding-001:batchEmbedContents$/);
    assert.equal((sent.body as { requests: unknown[] }).requests.length, 2);
  });

  test('embeddings are refused as Gemini refuses them: a chat model, over 100 requests', async () => {
    const chatModel = await ai.models.embedContent({ model: 'gemini-2.5-flash', contents: 'hi' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(chatModel instanceof ApiError);
    assert.equal(chatModel.status, 404);
    assert.match(chatModel.message, /is not supported for batchEmbedContents/);
    const tooMany = await ai.models
      .embedContent({ model: 'gemini-embedding-001', contents: Array.from({ length: 101 }, () => 'x') })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    assert.ok(tooMany instanceof ApiError);
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.message, /at most 100 requests can be in one batch/);
  });

  test('a wrong key is a 400 API_KEY_INVALID, as Google answers it', async () => {
    const stranger = new GoogleGenAI({ apiKey: 'AIza-wrong', httpOptions: { baseUrl: mock.url } });
    const error = await stranger.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.match(error.message, /API_KEY_INVALID/);
  });
});

describe('raw wire quirks', () => {
  let openai: MockServer;
  let gemini: MockServer;

  before(async () => {
    openai = await startOpenAIMock({ keys: [KEY, OTHER_KEY] });
    gemini = await startGeminiMock({ keys: [KEY] });
  });
  after(async () => {
    await openai.close();
    await gemini.close();
  });

  const chatUrl = () => `${openai.url}/v1/chat/completions`;
  const auth = { authorization: `Bearer ${KEY}` };
  const streamed = (content: string) => ({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    stream: true,
    stream_options: { include_usage: true },
  });

  test('split-frames sends each SSE frame in several TCP writes', async () => {
    const res = await rawPost(chatUrl(), { ...auth, [SCENARIO_HEADER]: 'split-frames' }, streamed('zürich'));
    const frames = res.text.split('\n\n').filter((frame) => frame !== '');
    assert.ok(res.pieces.length > frames.length, `${res.pieces.length} reads for ${frames.length} frames`);
    // A read that ends inside the "data:" field name.
    assert.ok(res.pieces.some((piece) => piece.toString('latin1').endsWith('da')));
    // A read that ends on the first byte of a two-byte UTF-8 character (ü is C3 BC).
    assert.ok(res.pieces.some((piece) => piece.at(-1) === 0xc3));
    // A read that ends between the two line feeds that close a frame.
    assert.ok(
      res.pieces.some(
        (piece, index) =>
          piece.toString('latin1').endsWith('\n') && res.pieces[index + 1]?.toString('latin1') === '\n',
      ),
    );
    assert.match(res.text, /"content":" zürich"/);
    assert.ok(res.text.endsWith('data: [DONE]\n\n'));
  });

  test('keep-alive interleaves SSE comments', async () => {
    const res = await rawPost(chatUrl(), { ...auth, [SCENARIO_HEADER]: 'keep-alive' }, streamed('ping me'));
    assert.match(res.text, /^: ping\n\n/);
  });

  test('no-terminator and no-usage drop [DONE] and the usage chunk', async () => {
    const res = await rawPost(
      chatUrl(),
      { ...auth, [SCENARIO_HEADER]: 'no-terminator, no-usage' },
      streamed('bare'),
    );
    assert.equal(res.status, 200);
    assert.ok(!res.text.includes('[DONE]'));
    assert.ok(!res.text.includes('"prompt_tokens"'));
  });

  test('slow-first-byte holds the status line back', async () => {
    const res = await rawPost(
      chatUrl(),
      { ...auth, [SCENARIO_HEADER]: 'slow-first-byte=300' },
      streamed('slow'),
    );
    assert.ok(res.firstByteMs >= 290, `first byte after ${res.firstByteMs} ms`);
  });

  test('an unknown scenario is a 400 in the provider shape', async () => {
    const res = await rawPost(chatUrl(), { ...auth, [SCENARIO_HEADER]: 'explode' }, streamed('x'));
    assert.equal(res.status, 400);
    assert.match(res.text, /unknown mock scenario \\"explode\\"/);
  });

  test('a per-key queue only touches that key; a standing scenario holds until cleared', async () => {
    openai.enqueueScenario('server-error', { key: OTHER_KEY });
    const mine = await rawPost(chatUrl(), auth, streamed('mine'));
    const theirs = await rawPost(chatUrl(), { authorization: `Bearer ${OTHER_KEY}` }, streamed('theirs'));
    assert.equal(mine.status, 200);
    assert.equal(theirs.status, 500);
    assert.match(theirs.text, /"type":"server_error"/);
    openai.setScenario('unavailable');
    assert.equal((await rawPost(chatUrl(), auth, streamed('a'))).status, 503);
    assert.equal((await rawPost(chatUrl(), auth, streamed('b'))).status, 503);
    openai.setScenario(undefined);
    assert.equal((await rawPost(chatUrl(), auth, streamed('c'))).status, 200);
  });

  test('Gemini SSE frames end with CRLF and the key may come as ?key=', async () => {
    const url = `${gemini.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${KEY}`;
    const res = await rawPost(url, {}, { contents: [{ role: 'user', parts: [{ text: 'crlf please' }] }] });
    assert.equal(res.status, 200);
    assert.match(res.text, /^data: \{.*\}\r\n\r\n/);
    assert.match(res.text, /"finishReason":"STOP"/);
  });

  test('Gemini refuses thinkingLevel on a model before Gemini 3, and with thinkingBudget, as the API does', async () => {
    const post = (model: string, thinkingConfig: object) =>
      rawPost(
        `${gemini.url}/v1beta/models/${model}:generateContent`,
        { 'x-goog-api-key': KEY },
        { contents: [{ parts: [{ text: 'think' }] }], generationConfig: { thinkingConfig } },
      );
    for (const model of ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite']) {
      const res = await post(model, { thinkingLevel: 'low' });
      assert.equal(res.status, 400, model);
      assert.deepEqual(JSON.parse(res.text), {
        error: {
          code: 400,
          message: 'Thinking level is not supported for this model.',
          status: 'INVALID_ARGUMENT',
        },
      });
    }
    const both = await post('gemini-3-flash-preview', { thinkingLevel: 'low', thinkingBudget: 1024 });
    assert.equal(both.status, 400);
    assert.deepEqual(JSON.parse(both.text), {
      error: {
        code: 400,
        message: 'thinking_budget and thinking_level are not supported together.',
        status: 'INVALID_ARGUMENT',
      },
    });
    // What each model takes is answered.
    assert.equal((await post('gemini-3-flash-preview', { thinkingLevel: 'minimal' })).status, 200);
    assert.equal((await post('gemini-flash-latest', { thinkingLevel: 'low' })).status, 200);
    assert.equal((await post('gemini-2.5-flash', { thinkingBudget: 1024 })).status, 200);
    assert.equal((await post('gemini-3-flash-preview', { thinkingBudget: 1024 })).status, 200);
  });

  test('Gemini reports thoughtsTokenCount when the thinkingConfig asks for thinking, whole and streamed', async () => {
    const usageOf = async (model: string, generationConfig?: object, stream = false) => {
      const url = `${gemini.url}/v1beta/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
      const res = await rawPost(
        url,
        { 'x-goog-api-key': KEY },
        {
          contents: [{ parts: [{ text: 'think it over' }] }],
          ...(generationConfig ? { generationConfig } : {}),
        },
      );
      assert.equal(res.status, 200);
      const last = stream
        ? (res.text.trim().split('\r\n\r\n').at(-1) ?? '').replace(/^data: /, '')
        : res.text;
      return (JSON.parse(last) as { usageMetadata: Record<string, unknown> }).usageMetadata;
    };
    const high = await usageOf('gemini-3-flash-preview', { thinkingConfig: { thinkingLevel: 'high' } });
    assert.equal(high.thoughtsTokenCount, 64);
    assert.equal(
      high.totalTokenCount,
      (high.promptTokenCount as number) + (high.candidatesTokenCount as number) + 64,
    );
    const streamed = await usageOf(
      'gemini-3-flash-preview',
      { thinkingConfig: { thinkingLevel: 'low' } },
      true,
    );
    assert.equal(streamed.thoughtsTokenCount, 16);
    assert.equal(
      (await usageOf('gemini-2.5-flash', { thinkingConfig: { thinkingBudget: 40 } })).thoughtsTokenCount,
      40,
    );
    assert.equal(
      (await usageOf('gemini-2.5-flash', { thinkingConfig: { thinkingBudget: -1 } })).thoughtsTokenCount,
      64,
    );
    // No thinking asked (or turned off): no thoughtsTokenCount, as Gemini leaves it out.
    assert.equal('thoughtsTokenCount' in (await usageOf('gemini-2.5-flash')), false);
    assert.equal(
      'thoughtsTokenCount' in (await usageOf('gemini-2.5-flash', { thinkingConfig: { thinkingBudget: 0 } })),
      false,
    );
  });

  test('Gemini without alt=sse streams a JSON array', async () => {
    const url = `${gemini.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent`;
    const res = await rawPost(
      url,
      { 'x-goog-api-key': KEY },
      { contents: [{ parts: [{ text: 'as an array' }] }] },
    );
    const chunks = JSON.parse(res.text) as Array<{
      candidates: Array<{ content: { parts: Array<{ text: string }> } }>;
    }>;
    const text = chunks.map((chunk) => chunk.candidates[0]?.content.parts[0]?.text ?? '').join('');
    assert.equal(text, 'Mock reply: as an array');
  });
});
