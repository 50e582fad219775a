/**
 * The @anthropic-ai/sdk running an agent loop against a DeepSeek reasoning model
 * served by an `openai-compatible` provider (vendor deepseek). DeepSeek's thinking mode returns
 * `reasoning_content`, and with tool calls it must be passed back on the assistant turn of the
 * next request, else DeepSeek answers 400 (api-docs.deepseek.com/guides/thinking_mode#tool-calls).
 * The upstream here answers and refuses as DeepSeek does.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const DEEPSEEK_KEY = 'sk-deepseekauditabcdef0123456789abcdef';
const REASONING = 'The user wants the weather in Paris, so I should call get_weather.';

type Message = { role: string; content?: unknown; tool_calls?: unknown[]; reasoning_content?: unknown };

/** The same answers as DeepSeek streams them: reasoning_content deltas first. */
function streamed(res: ServerResponse, model: string, answered: boolean): void {
  const chunk = (delta: object, finish_reason: string | null = null) =>
    `data: ${JSON.stringify({ id: 'ds-s', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason }] })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(
    (answered
      ? chunk({ role: 'assistant', content: null, reasoning_content: 'Report it.' }) +
        chunk({ content: 'It is sunny in Paris.' }) +
        chunk({}, 'stop')
      : chunk({ role: 'assistant', content: null, reasoning_content: REASONING.slice(0, 20) }) +
        chunk({ content: null, reasoning_content: REASONING.slice(20) }) +
        chunk({
          tool_calls: [
            {
              index: 0,
              id: 'call_00_ds',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        }) +
        chunk({}, 'tool_calls')) +
      `data: ${JSON.stringify({ id: 'ds-s', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage: { prompt_tokens: 40, completion_tokens: 30, total_tokens: 70 } })}\n\n` +
      'data: [DONE]\n\n',
  );
}

describe('Anthropic SDK -> DeepSeek reasoner (openai-compatible): tool loop', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: { messages: Message[] }[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (part) => (text += part));
      req.on('end', () => {
        const body = JSON.parse(text) as { model: string; stream?: boolean; messages: Message[] };
        const json = (status: number, value: object) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        const missing = body.messages.findIndex(
          (m) =>
            m.role === 'assistant' && m.tool_calls !== undefined && typeof m.reasoning_content !== 'string',
        );
        if (missing >= 0)
          return json(400, {
            error: {
              message: `Missing \`reasoning_content\` field in the assistant message at message index ${missing}. For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls`,
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_request_error',
            },
          });
        const answered = body.messages.at(-1)?.role === 'tool';
        bodies.push(body);
        if (body.stream) return streamed(res, body.model, answered);
        json(200, {
          id: answered ? 'ds-2' : 'ds-1',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: body.model,
          choices: [
            {
              index: 0,
              message: answered
                ? { role: 'assistant', content: 'It is sunny in Paris.', reasoning_content: 'Report it.' }
                : {
                    role: 'assistant',
                    content: '',
                    reasoning_content: REASONING,
                    tool_calls: [
                      {
                        index: 0,
                        id: 'call_00_ds',
                        type: 'function',
                        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                      },
                    ],
                  },
              finish_reason: answered ? 'stop' : 'tool_calls',
            },
          ],
          usage: {
            prompt_tokens: 40,
            completion_tokens: 30,
            total_tokens: 70,
            completion_tokens_details: { reasoning_tokens: 20 },
          },
        });
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: deepseek
        type: openai-compatible
        vendor: deepseek
        baseUrl: ${url}/v1
        models: [deepseek-reasoner]
        keys: [{ name: k1, secret: "\${DEEPSEEK_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { DEEPSEEK_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const client = () =>
    new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const tools = [
    {
      name: 'get_weather',
      input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
    },
  ];

  it("the second turn of a tool loop succeeds: DeepSeek's reasoning comes as a thinking block and goes back as reasoning_content", async () => {
    const ask = { role: 'user' as const, content: 'Weather in Paris?' };
    const first = await client().messages.create({
      model: 'deepseek-reasoner',
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools,
      messages: [ask],
    });
    const call = first.content.find((block) => block.type === 'tool_use');
    assert.ok(call?.type === 'tool_use');
    // The agent loop as Anthropic documents it: the assistant turn goes back as it came.
    const second = await client().messages.create({
      model: 'deepseek-reasoner',
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools,
      messages: [
        ask,
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }] },
      ],
    });
    assert.equal(second.stop_reason, 'end_turn');
    const sentBack = bodies.at(-1)?.messages.find((m) => m.role === 'assistant');
    assert.equal(sentBack?.reasoning_content, REASONING);
  });

  it('a tool-call turn with no thinking block (DeepSeek called the tool without reasoning) goes on', async () => {
    const ask = { role: 'user' as const, content: 'Weather in Paris?' };
    const call = {
      type: 'tool_use' as const,
      id: 'call_00_ds',
      name: 'get_weather',
      input: { city: 'Paris' },
    };
    const second = await client().messages.create({
      model: 'deepseek-reasoner',
      max_tokens: 4096,
      tools,
      messages: [
        ask,
        { role: 'assistant', content: [call] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }] },
      ],
    });
    assert.equal(second.stop_reason, 'end_turn');
    const sentBack = bodies.at(-1)?.messages.find((m) => m.role === 'assistant');
    assert.equal(sentBack?.reasoning_content, '');
  });

  it('streamed: the thinking block (thinking_delta, signature_delta) is taken by the SDK and the loop goes on', async () => {
    const ask = { role: 'user' as const, content: 'Weather in Paris?' };
    const request = { model: 'deepseek-reasoner', max_tokens: 4096, tools };
    const first = await client()
      .messages.stream({ ...request, messages: [ask] })
      .finalMessage();
    const thinking = first.content[0];
    assert.equal(thinking?.type === 'thinking' ? thinking.thinking : undefined, REASONING);
    const call = first.content.find((block) => block.type === 'tool_use');
    assert.ok(call?.type === 'tool_use');
    const second = await client()
      .messages.stream({
        ...request,
        messages: [
          ask,
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }] },
        ],
      })
      .finalMessage();
    assert.equal(second.stop_reason, 'end_turn');
    assert.deepEqual(
      second.content.map((block) => block.type),
      ['thinking', 'text'],
    );
  });

  it('with thinking enabled, the reasoning DeepSeek returned is in the answer as a thinking block', async () => {
    const first = await client().messages.create({
      model: 'deepseek-reasoner',
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const thinking = first.content.find((block) => block.type === 'thinking');
    assert.equal(
      thinking?.type === 'thinking' ? thinking.thinking : undefined,
      REASONING,
      `content: ${JSON.stringify(first.content)}`,
    );
  });
});
