/**
 * An answer of tool calls only, streamed to the official `openai` SDK through Kordon: its
 * `finalChatCompletion()` must hold what the plain answer holds, `content: null` beside the calls
 * (OpenAI's own answer, plain and streamed: its first chunk is the role with `content: null`
 * and the first call). Claude answers a forced `tool_choice` (any, tool) with the tool_use block
 * alone; Gemini sends a functionCall without text; an OpenAI model's stream goes through as sent.
 * Since the role chunk waits for the first content block, Claude's `message_start` alone writes
 * nothing: an overload right after it is a failed attempt, and the next key is asked.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  type MockServer,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from '@kordon/mock-providers';
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessage } from 'openai/resources';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-toolsonlyabcdefghijklmnopqrstuvwxyz0123';
const ANTHROPIC_KEY = 'sk-ant-api03-toolsonlyabcdefghijklmnopqrstuvwx';
const GEMINI_KEY = 'AIzaSyDtoolsonlyabcdefghijklmnopqrstuvw';
/** Keys of a hand-written Claude: its first call overloads right after message_start, later ones answer. */
const FLAKY_KEY_1 = 'sk-ant-api03-flakyonebcdefghijklmnopqrstuvwxy';
const FLAKY_KEY_2 = 'sk-ant-api03-flakytwobcdefghijklmnopqrstuvwxy';

const sse = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const MESSAGE_START = sse('message_start', {
  message: {
    id: 'msg_flaky',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 9, output_tokens: 1 },
  },
});
const OVERLOADED = sse('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
const ANSWER = [
  sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Answered.' } }),
  sse('content_block_stop', { index: 0 }),
  sse('message_delta', {
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 3 },
  }),
  sse('message_stop', {}),
].join('');

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** What an agent reads of a message: the role, the text, the calls (ids differ per answer). */
function meaning(message: ChatCompletionMessage | undefined) {
  return {
    role: message?.role,
    content: message?.content,
    refusal: message?.refusal,
    toolCalls: message?.tool_calls?.map((call) =>
      call.type === 'function' ? [call.type, call.function.name, JSON.parse(call.function.arguments)] : call,
    ),
  };
}

describe('openai SDK: a streamed answer of tool calls only has content null, as the plain one', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let geminiMock: MockServer;
  let flaky: Server;
  /** The keys the hand-written Claude was called with, in order. */
  const flakyKeys: string[] = [];
  let gateway: KordonUnderTest;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    geminiMock = await startGeminiMock({ keys: [GEMINI_KEY] });
    flaky = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, ''));
        flakyKeys.push(key);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // Each event in its own write, as Claude flushes them: message_start reaches Kordon alone.
        res.write(MESSAGE_START);
        setTimeout(() => res.end(flakyKeys.length === 1 ? OVERLOADED : ANSWER), 50);
      });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const flakyUrl = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: claude
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
      - name: google
        type: gemini
        baseUrl: ${geminiMock.url}
        models: [gemini-2.5-flash]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
      - name: claude-flaky
        type: anthropic
        baseUrl: ${flakyUrl}
        models: [claude-haiku-4-5]
        keys: [{ name: k1, secret: "\${FLAKY_KEY_1}" }, { name: k2, secret: "\${FLAKY_KEY_2}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, FLAKY_KEY_1, FLAKY_KEY_2 },
    );
  });

  after(async () => {
    await gateway?.stop();
    await Promise.all([openaiMock?.close(), anthropicMock?.close(), geminiMock?.close()]);
    flaky?.closeAllConnections();
    flaky?.close();
  });

  const client = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });

  /** The same request plain and streamed (finalChatCompletion()): both choices, for comparing. */
  async function plainAndStreamed(request: ChatCompletionCreateParamsNonStreaming) {
    const plain = await client().chat.completions.create(request);
    const streamed = await client()
      .chat.completions.stream({ ...request, stream: true })
      .finalChatCompletion();
    return { plain: plain.choices[0], streamed: streamed.choices[0] };
  }

  const ask = (model: string, tool_choice?: ChatCompletionCreateParamsNonStreaming['tool_choice']) => ({
    model,
    messages: [{ role: 'user' as const, content: 'call get_weather Paris' }],
    tools: [weatherTool],
    ...(tool_choice !== undefined && { tool_choice }),
  });

  for (const [label, toolChoice, claudeChoice] of [
    ['required', 'required', { type: 'any' }],
    [
      'a named function',
      { type: 'function', function: { name: 'get_weather' } },
      { type: 'tool', name: 'get_weather' },
    ],
  ] as const) {
    it(`Claude, tool_choice ${label}: the calls alone, content null streamed as plain`, async () => {
      const { plain, streamed } = await plainAndStreamed(ask('claude-sonnet-4-5', toolChoice));
      assert.deepEqual(
        (anthropicMock.requests.at(-1)?.body as { tool_choice?: unknown } | undefined)?.tool_choice,
        claudeChoice,
      );
      assert.deepEqual(meaning(plain?.message), {
        role: 'assistant',
        content: null,
        refusal: null,
        toolCalls: [['function', 'get_weather', { city: 'Paris' }]],
      });
      assert.deepEqual(meaning(streamed?.message), meaning(plain?.message));
      assert.equal(streamed?.finish_reason, plain?.finish_reason);
      assert.equal(streamed?.finish_reason, 'tool_calls');
    });
  }

  it("Claude's stream of calls only opens as OpenAI's does: the role, content null and the first call", async () => {
    const stream = await client().chat.completions.create({
      ...ask('claude-sonnet-4-5', 'required'),
      stream: true,
    });
    const deltas: unknown[] = [];
    for await (const chunk of stream) if (chunk.choices[0]) deltas.push(chunk.choices[0].delta);
    const [first] = deltas as {
      role?: string;
      content?: unknown;
      tool_calls?: { function?: { name?: string } }[];
    }[];
    assert.equal(first?.role, 'assistant');
    assert.equal(first?.content, null);
    assert.equal(first?.tool_calls?.[0]?.function?.name, 'get_weather');
    assert.equal(
      deltas.filter((delta) => (delta as { role?: string }).role !== undefined).length,
      1,
      'one role chunk',
    );
  });

  it('Claude with tool_choice auto says a few words first: the text is the content, streamed as plain', async () => {
    const { plain, streamed } = await plainAndStreamed(ask('claude-sonnet-4-5'));
    assert.equal(plain?.message.content, "I'll call get_weather.");
    assert.deepEqual(meaning(streamed?.message), meaning(plain?.message));
  });

  it('Claude answering text: the streamed content is the plain one', async () => {
    const request = {
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user' as const, content: 'hello there' }],
    };
    const { plain, streamed } = await plainAndStreamed(request);
    assert.match(plain?.message.content ?? '', /hello there/);
    assert.deepEqual(meaning(streamed?.message), meaning(plain?.message));
  });

  it('Gemini calling a function without text: content null, streamed as plain', async () => {
    const { plain, streamed } = await plainAndStreamed(ask('gemini-2.5-flash'));
    assert.equal(plain?.message.content, null);
    assert.deepEqual(meaning(plain?.message).toolCalls, [['function', 'get_weather', { city: 'Paris' }]]);
    assert.deepEqual(meaning(streamed?.message), meaning(plain?.message));
    assert.equal(streamed?.finish_reason, 'tool_calls');
  });

  it('an OpenAI model (the same dialect, passed through): content null, streamed as plain', async () => {
    const { plain, streamed } = await plainAndStreamed(ask('gpt-4o-mini'));
    assert.equal(plain?.message.content, null);
    assert.deepEqual(meaning(plain?.message).toolCalls, [['function', 'get_weather', { city: 'Paris' }]]);
    assert.deepEqual(meaning(streamed?.message), meaning(plain?.message));
  });

  it('Claude overloaded right after message_start: nothing was written yet, the next key answers', async () => {
    const completion = await client()
      .chat.completions.stream({
        model: 'claude-haiku-4-5',
        messages: [{ role: 'user', content: 'hello' }],
      })
      .finalChatCompletion();
    assert.equal(completion.choices[0]?.message.content, 'Answered.');
    assert.equal(flakyKeys.length, 2, 'the overloaded attempt, then the next key');
    assert.deepEqual(new Set(flakyKeys), new Set([FLAKY_KEY_1, FLAKY_KEY_2]));
  });
});
