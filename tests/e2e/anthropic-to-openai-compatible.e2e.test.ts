/**
 * Anthropic SDK callers served by OpenAI-compatible vendors (the request translated to Chat
 * Completions): what each vendor takes or answers that OpenAI does not. The upstream answers as
 * the vendor's API does, refusals included, and records each body it gets.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const VENDOR_KEY = 'vendor-key-anthrocompat-abcdefghijklmnop';
type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

describe('Anthropic Messages -> OpenAI-compatible vendors', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: Record<string, unknown>[] = [];
  let handle: Handler = (_q, _b, res) => {
    res.writeHead(500);
    res.end();
  };
  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (p) => (text += p));
      req.on('end', () => {
        const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        bodies.push(body);
        handle(req, body, res);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: mistral
        type: openai-compatible
        vendor: mistral
        baseUrl: ${url}/mistral/v1
        models: [mistral-large-latest]
        keys: [{ name: k1, secret: "\${VENDOR_KEY}" }]
      - name: deepseek
        type: openai-compatible
        vendor: deepseek
        baseUrl: ${url}/deepseek/v1
        models: [deepseek-chat]
        keys: [{ name: k1, secret: "\${VENDOR_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { VENDOR_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });
  const raw = (body: object, path = '/v1/messages') =>
    fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: {
        'x-api-key': gateway.proxyKeys.get('dev@acme.test--dev')!,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
  /** The messages of the last request the upstream got. */
  const sentMessages = () => (bodies.at(-1)?.messages ?? []) as { role: string; prefix?: boolean }[];
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const completion = (
    model: string,
    message: object,
    finish: string,
    usage: object = { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
  ) => ({
    id: 'chatcmpl-x',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, finish_reason: finish }],
    usage,
  });
  const sse = (res: ServerResponse, chunks: unknown[]) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const c of chunks) res.write(`data: ${JSON.stringify(c)}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  const chunk = (model: string, delta: object, finish: string | null = null) => ({
    id: 'chatcmpl-s',
    object: 'chat.completion.chunk',
    created: 1,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  /** The usage recorded for the last request to the model. */
  const eventOf = async (model: string) => {
    const events = await gateway.requestEvents();
    const event = events.filter((e) => (e.data as { model?: string }).model === model).at(-1);
    assert.ok(event, `no request event for ${model}`);
    return event.data as unknown as { usage: { inputTokens: number; outputTokens: number } };
  };

  // Anthropic: "If the final message uses the assistant role, the response content will continue
  // immediately from the content in that message" (prefill). Mistral takes a last assistant
  // message only with `prefix: true` (docs.mistral.ai AssistantMessage.prefix); without it, 400
  // "Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant".
  it('a prefilled last assistant turn reaches Mistral with prefix: true (Mistral refuses it otherwise)', async () => {
    handle = (_q, b, res) => {
      const last = (b.messages as { role: string; prefix?: boolean }[]).at(-1);
      if (last?.role === 'assistant' && last.prefix !== true)
        return json(res, 400, {
          object: 'error',
          message:
            'Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant',
          type: 'invalid_request_message_order',
          param: null,
          code: '3230',
        });
      json(res, 200, completion(String(b.model), { content: '{"colour": "blue"}' }, 'stop'));
    };
    const answer = await raw({
      model: 'mistral-large-latest',
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'Give me a JSON object with a colour.' },
        { role: 'assistant', content: '{' },
      ],
    });
    const text = await answer.text();
    assert.equal(answer.status, 200, text);
    const last = sentMessages().at(-1);
    assert.equal(last?.role, 'assistant');
    assert.equal(last?.prefix, true);
  });

  // Mistral refuses a user message right after tool messages: 400 {"message":"Unexpected role
  // 'user' after role 'tool'","type":"invalid_request_message_order","code":"3230"} (reported
  // against api.mistral.ai in avante-corp/avante.nvim#2562, zed-industries/zed#37021,
  // NousResearch/hermes-agent#20154). An Anthropic user turn holding tool_result blocks and then
  // text (Claude Code adds its <system-reminder> text to most tool_result turns) is one turn for
  // Anthropic; Kordon writes it as tool messages followed by a user message.
  it('a user turn with a tool_result and text is served by Mistral (which refuses user right after tool)', async () => {
    handle = (_q, b, res) => {
      const roles = (b.messages as { role: string }[]).map((m) => m.role);
      const bad = roles.findIndex((role, i) => role === 'user' && roles[i - 1] === 'tool');
      if (bad > 0)
        return json(res, 400, {
          object: 'error',
          message: "Unexpected role 'user' after role 'tool'",
          type: 'invalid_request_message_order',
          param: null,
          code: '3230',
        });
      json(res, 200, completion(String(b.model), { content: 'It is sunny in Paris.' }, 'stop'));
    };
    const answer = await raw({
      model: 'mistral-large-latest',
      max_tokens: 200,
      tools: [
        { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'AbCdEf123', name: 'get_weather', input: { city: 'Paris' } }],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'AbCdEf123', content: 'sunny, 21 C' },
            { type: 'text', text: '<system-reminder>Answer briefly.</system-reminder>' },
          ],
        },
      ],
    });
    const text = await answer.text();
    assert.equal(
      answer.status,
      200,
      `${text}\nsent roles: ${JSON.stringify(sentMessages().map((m) => m.role))}`,
    );
  });

  // DeepSeek's finish_reason may be `insufficient_system_resource` ("the request is interrupted
  // due to insufficient resource of the inference system"; api-docs.deepseek.com, Create Chat
  // Completion; the ds-api crate's FinishReason). DeepSeek bills the tokens of such an answer.
  it('a DeepSeek answer ending insufficient_system_resource is answered, cut short (max_tokens), its usage (billed by DeepSeek) recorded', async () => {
    handle = (_q, b, res) =>
      json(
        res,
        200,
        completion(
          String(b.model),
          { content: 'The first half of the answer' },
          'insufficient_system_resource',
          {
            prompt_tokens: 12,
            completion_tokens: 300,
            total_tokens: 312,
          },
        ),
      );
    const answer = await raw({
      model: 'deepseek-chat',
      max_tokens: 1000,
      messages: [{ role: 'user', content: 'Tell me a story' }],
    });
    const text = await answer.text();
    assert.equal(answer.status, 200, text);
    const message = JSON.parse(text) as { stop_reason: string; content: { text?: string }[] };
    assert.equal(message.stop_reason, 'max_tokens');
    assert.equal(message.content[0]?.text, 'The first half of the answer');
    const event = await eventOf('deepseek-chat');
    assert.deepEqual(
      [event.usage.inputTokens, event.usage.outputTokens],
      [12, 300],
      `recorded: ${JSON.stringify(event)}`,
    );
  });

  it('the same streamed (finish chunk, then the usage chunk): the usage DeepSeek reported is recorded', async () => {
    const D = 'deepseek-chat';
    handle = (_q, _b, res) =>
      sse(res, [
        chunk(D, { role: 'assistant', content: 'The first half' }),
        chunk(D, { content: '' }, 'insufficient_system_resource'),
        {
          ...chunk(D, {}),
          choices: [],
          usage: { prompt_tokens: 12, completion_tokens: 300, total_tokens: 312 },
        },
      ]);
    const answer = await raw({
      model: D,
      max_tokens: 1000,
      stream: true,
      messages: [{ role: 'user', content: 'Tell me a story' }],
    });
    const text = await answer.text();
    assert.match(text, /"stop_reason":"max_tokens"/);
    assert.match(text, /event: message_stop/);
    const event = await eventOf(D);
    assert.deepEqual(
      [event.usage.inputTokens, event.usage.outputTokens],
      [12, 300],
      `recorded: ${JSON.stringify(event)}`,
    );
  });

  // Mistral takes only tool call ids of 9 letters and digits in the history: 400 "Tool call id was
  // toolu_01... but must be a-z, A-Z, 0-9, with a length of 9." (langchain-ai/langchain#24668,
  // nearai/ironclaw#1241, anomalyco/opencode#1680). A Claude Code session begun on Claude holds
  // Claude's `toolu_` ids.
  it("a history holding Claude's tool_use ids is served by Mistral (which takes only 9-character ids): each call and its result get the same id", async () => {
    const badId = (b: Record<string, unknown>) => {
      for (const m of b.messages as { tool_call_id?: string; tool_calls?: { id: string }[] }[])
        for (const id of [m.tool_call_id, ...(m.tool_calls ?? []).map((c) => c.id)])
          if (id !== undefined && !/^[a-zA-Z0-9]{9}$/.test(id)) return id;
      return undefined;
    };
    handle = (_q, b, res) => {
      const id = badId(b);
      if (id !== undefined)
        return json(res, 400, {
          object: 'error',
          message: `Tool call id was ${id} but must be a-z, A-Z, 0-9, with a length of 9.`,
          type: 'invalid_request_error',
          param: null,
          code: null,
        });
      json(res, 200, completion(String(b.model), { content: 'Sunny in Paris, rainy in Rome.' }, 'stop'));
    };
    const answer = await raw({
      model: 'mistral-large-latest',
      max_tokens: 200,
      tools: [
        { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: [
            {
              type: 'tool_use',
              id: 'toolu_01A09q90qw90lq917835lq9',
              name: 'get_weather',
              input: { city: 'Paris' },
            },
            {
              type: 'tool_use',
              id: 'toolu_01B09q90qw90lq917835lq9',
              name: 'get_weather',
              input: { city: 'Rome' },
            },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9', content: 'sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_01B09q90qw90lq917835lq9', content: 'rainy' },
          ],
        },
      ],
    });
    const text = await answer.text();
    assert.equal(answer.status, 200, text);
    const sent = sentMessages() as unknown as { tool_call_id?: string; tool_calls?: { id: string }[] }[];
    const callIds = (sent[1]?.tool_calls ?? []).map((call) => call.id);
    assert.equal(new Set(callIds).size, 2, 'the two ids stay apart');
    assert.deepEqual(
      sent.slice(2).map((m) => m.tool_call_id),
      callIds,
      'each result answers its own call',
    );
  });
});
