import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startKordonUnderTest } from './support/kordon-under-test.js';

/*
 * The GigaChat adapter through Kordon, driven by the official SDKs, against a scripted upstream
 * that records the translated bodies and answers as GigaChat's REST API does
 * (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat).
 */

interface Recorded {
  path: string;
  body: Record<string, unknown>;
}
type Reply = { status: number; body?: unknown; sse?: unknown[]; headers?: Record<string, string> };

const recorded: Recorded[] = [];
const replies: Reply[] = [];

const usage = (prompt: number, completion: number, precached = 0) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  precached_prompt_tokens: precached,
});
const answer = (message: Record<string, unknown>, finish = 'stop', u = usage(10, 3)) => ({
  choices: [{ message: { role: 'assistant', ...message }, index: 0, finish_reason: finish }],
  created: 1700000000,
  model: 'GigaChat:2.0.28.2',
  object: 'chat.completion',
  usage: u,
});

async function serve(req: IncomingMessage, res: ServerResponse) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  if ((req.url ?? '').startsWith('/oauth')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ access_token: 'giga-token-abcdefghijklmnop', expires_at: Date.now() + 30 * 60_000 }),
    );
    return;
  }
  recorded.push({ path: req.url ?? '', body: raw ? JSON.parse(raw) : undefined });
  const reply = replies.shift() ?? { status: 200, body: answer({ content: 'ok' }) };
  if (reply.sse) {
    res.writeHead(reply.status, { 'content-type': 'text/event-stream', ...reply.headers });
    for (const event of reply.sse)
      res.write(`data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`);
    res.end();
    return;
  }
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  res.end(JSON.stringify(reply.body));
}

async function startGigaChat() {
  const dir = mkdtempSync(join(tmpdir(), 'giga-e2e-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const tlsKey = readFileSync(join(dir, 'key.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const oauth: HttpsServer = createHttpsServer({ cert, key: tlsKey }, (req, res) => {
    serve(req, res).catch(() => {});
  });
  await new Promise<void>((r) => oauth.listen(0, '127.0.0.1', r));
  const oauthUrl = `https://127.0.0.1:${(oauth.address() as AddressInfo).port}/oauth`;
  const caLines = cert
    .trim()
    .split('\n')
    .map((line) => `          ${line}`)
    .join('\n');
  const upstream: Server = createServer((req, res) => {
    serve(req, res).catch(() => {});
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      # No cachedInput: GigaChat's cache reads are not billed, whatever the input rate.
      GigaChat: { input: 1000, output: 2000, currency: RUB }
    providers:
      - name: giga
        type: gigachat
        baseUrl: ${base}/api/v1
        oauthUrl: ${oauthUrl}
        caCertificate: |
${caLines}
        scope: GIGACHAT_API_PERS
        models: [GigaChat]
        keys: [{ name: k1, secret: "Z2lnYWNoYXQta2V5LWFiY2RlZmdoaWprbG1ub3A=" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
  const key = k.proxyKeys.get('dev@acme.test--laptop')!;
  return {
    k,
    openai: new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: k.url, apiKey: key, maxRetries: 0 }),
    stop: async () => {
      await k.stop();
      await new Promise((r) => upstream.close(r));
      await new Promise((r) => oauth.close(r));
    },
  };
}

const TOOLS = [
  {
    type: 'function' as const,
    function: {
      name: 'weather',
      description: 'Current weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

describe('gigachat adapter', () => {
  let g: Awaited<ReturnType<typeof startGigaChat>>;
  before(async () => {
    g = await startGigaChat();
  });
  after(async () => {
    await g?.stop();
  });
  const last = () => recorded.at(-1)!;

  // GigaChat REST reference, function_call: "none — режим работы по умолчанию. Если запрос не
  // содержит function_call или значение поля — none, GigaChat не вызовет функции" (the official
  // ai-forever/gigachat-java SDK therefore defaults function_call to AUTO). OpenAI and Anthropic
  // default to auto when tools are given and tool_choice is not.
  it('OpenAI tools without tool_choice reach GigaChat with function_call auto (its own default, none, never calls them)', async () => {
    replies.push({ status: 200, body: answer({ content: 'I cannot check the weather.' }) });
    await g.openai.chat.completions.create({
      model: 'GigaChat',
      messages: [{ role: 'user', content: 'Weather in Moscow?' }],
      tools: TOOLS,
    });
    assert.ok(Array.isArray(last().body.functions), 'the tools went as functions');
    assert.equal(
      last().body.function_call,
      'auto',
      'OpenAI default tool_choice (auto) must be sent: GigaChat defaults to none',
    );
  });

  it('Anthropic streamed tools without tool_choice reach GigaChat with function_call auto', async () => {
    replies.push({
      status: 200,
      sse: [
        {
          choices: [{ delta: { content: 'No tool', role: 'assistant' }, index: 0, finish_reason: 'stop' }],
          created: 1,
          model: 'GigaChat:2',
          object: 'chat.completion',
          usage: usage(20, 2),
        },
        '[DONE]',
      ],
    });
    const stream = g.anthropic.messages.stream({
      model: 'GigaChat',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Weather in Moscow?' }],
      tools: [
        {
          name: 'weather',
          description: 'Current weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
    });
    await stream.finalMessage();
    assert.ok(Array.isArray(last().body.functions));
    assert.equal(
      last().body.function_call,
      'auto',
      'Anthropic default tool_choice (auto) must be sent: GigaChat defaults to none',
    );
  });

  // GigaChat REST reference, temperature (minimum 0, exclusiveMinimum): "Если значение
  // температуры находится в диапазоне от 0 до 0.001, параметры temperature и top_p будут сброшены
  // в режим, обеспечивающий максимально детерминированный ответ"; 0 itself is refused with 422
  // "Invalid params: temperature must be in range (0, +inf)" (ai-forever/gigachain#237).
  it('temperature 0 reaches GigaChat within its deterministic range (0, 0.001]', async () => {
    replies.push({ status: 200, body: answer({ content: 'ok' }) });
    await g.openai.chat.completions.create({
      model: 'GigaChat',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0,
    });
    const sent = Number(last().body.temperature);
    assert.ok(sent > 0 && sent <= 0.001, `sent temperature ${sent}; 0 asks for the deterministic answer`);
  });

  // GigaChat takes response_format {type: json_schema, schema, strict} (ai-forever/gigachat
  // models/response_format.py: JsonSchemaResponseFormat); a caller asking for a schema must not
  // get free text with no error.
  it('response_format json_schema reaches GigaChat as its { type: json_schema, schema }', async () => {
    replies.push({ status: 200, body: answer({ content: '{"t":21}' }) });
    const schema = { type: 'object', properties: { t: { type: 'number' } }, required: ['t'] };
    await g.openai.chat.completions.create({
      model: 'GigaChat',
      messages: [{ role: 'user', content: 'Weather as JSON' }],
      response_format: { type: 'json_schema', json_schema: { name: 'w', schema } },
    });
    assert.deepEqual(last().body.response_format, { type: 'json_schema', schema });
  });

  it('response_format json_object is refused with a 400 naming response_format (GigaChat has no JSON mode)', async () => {
    const before = recorded.length;
    await assert.rejects(
      g.openai.chat.completions.create({
        model: 'GigaChat',
        messages: [{ role: 'user', content: 'Weather as JSON' }],
        response_format: { type: 'json_object' },
      }),
      (error: { status?: number; param?: string }) =>
        error.status === 400 && error.param === 'response_format',
    );
    assert.equal(recorded.length, before, 'nothing was sent');
  });

  // GigaChat has no stop field: a dropped stop sequence would let the answer run past it.
  it('Anthropic stop_sequences are refused with a 400 naming stop_sequences, nothing sent', async () => {
    const before = recorded.length;
    await assert.rejects(
      g.anthropic.messages.create({
        model: 'GigaChat',
        max_tokens: 50,
        stop_sequences: ['END'],
        messages: [{ role: 'user', content: 'hi' }],
      }),
      (error: { status?: number; message?: string }) =>
        error.status === 400 && /stop_sequences/.test(error.message ?? ''),
    );
    assert.equal(recorded.length, before, 'nothing was sent');
  });

  // GigaChat REST reference (post-chat), usage: total_tokens is "Общее число токенов, подлежащих
  // тарификации, после вычитания кэшированных токенов (поле precached_prompt_tokens)"; its
  // example: prompt_tokens 55, completion_tokens 30, total_tokens 85, precached_prompt_tokens 4.
  // So prompt_tokens leaves the 4 cached tokens out: the prompt was 59 tokens, 4 of them cached.
  it('precached prompt tokens reach an OpenAI caller as cached parts of a 59-token prompt', async () => {
    replies.push({ status: 200, body: answer({ content: 'ok' }, 'stop', usage(55, 30, 4)) });
    const completion = await g.openai.chat.completions.create({
      model: 'GigaChat',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(completion.usage?.prompt_tokens, 59);
    assert.equal(completion.usage?.prompt_tokens_details?.cached_tokens, 4);
    assert.equal(completion.usage?.completion_tokens, 30);
    assert.equal(completion.usage?.total_tokens, 89);
    // Priced as GigaChat bills it: the 55 uncached prompt tokens and the 30 output tokens
    // (55 x 1000 + 30 x 2000 RUB per 1M = 0.115 RUB), the 4 cached ones free, not at the input rate.
    const event = (await g.k.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') throw new Error('not completed');
    assert.equal(event.data.usage.cachedInputTokens, 4);
    assert.equal(event.data.cost, '0.115');
    assert.equal(event.data.currency, 'RUB');
  });

  it('precached prompt tokens reach a streaming Anthropic caller as cache reads beside 55 input tokens', async () => {
    replies.push({
      status: 200,
      sse: [
        {
          choices: [{ delta: { content: 'ok', role: 'assistant' }, index: 0 }],
          created: 1,
          model: 'GigaChat:2.0.28.2',
          object: 'chat.completion',
        },
        {
          choices: [{ delta: { content: '' }, index: 0, finish_reason: 'stop' }],
          created: 1,
          model: 'GigaChat:2.0.28.2',
          object: 'chat.completion',
          usage: usage(55, 30, 4),
        },
        '[DONE]',
      ],
    });
    const message = await g.anthropic.messages
      .stream({ model: 'GigaChat', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    assert.equal(message.usage.input_tokens, 55);
    assert.equal(message.usage.cache_read_input_tokens, 4);
    assert.equal(message.usage.output_tokens, 30);
  });

  // GigaChat's finish_reason `error`: the generation failed part way (REST reference, post-chat).
  it('a stream GigaChat ends with finish_reason error raises in the OpenAI SDK and is recorded failed, its usage charged', async () => {
    replies.push({
      status: 200,
      sse: [
        {
          choices: [{ delta: { content: 'Начало', role: 'assistant' }, index: 0 }],
          created: 1,
          model: 'GigaChat:2.0.28.2',
          object: 'chat.completion',
        },
        {
          choices: [{ delta: { content: ' отв' }, index: 0, finish_reason: 'error' }],
          created: 1,
          model: 'GigaChat:2.0.28.2',
          object: 'chat.completion',
          usage: usage(18, 40),
        },
        '[DONE]',
      ],
    });
    let text = '';
    await assert.rejects(async () => {
      const stream = await g.openai.chat.completions.create({
        model: 'GigaChat',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    }, 'the caller learns the answer failed');
    assert.equal(text, 'Начало отв', 'the text streamed before the failure reached the caller');
    const event = (await g.k.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestFailed');
    if (event.type !== 'RequestFailed') throw new Error('not failed');
    assert.deepEqual(
      { input: event.data.usage?.inputTokens, output: event.data.usage?.outputTokens },
      { input: 18, output: 40 },
      'charged what GigaChat billed',
    );
  });

  // GigaChat's function_call takes auto, none or a function named (REST reference, post-chat):
  // nothing forces some call. A tool_choice it cannot express is the caller's 400, in the caller's
  // dialect and naming the field, recorded as a rejected request, never a 5xx nor a call.
  const rejectedLast = async () => {
    const event = (await g.k.requestEvents()).at(-1)!;
    assert.equal(event.type, 'RequestRejected');
    if (event.type !== 'RequestRejected') throw new Error('not rejected');
    assert.equal(event.data.status, 400);
    assert.equal(event.data.reason, 'invalid_request');
  };

  it('OpenAI tool_choice required is a 400 naming tool_choice, recorded rejected, nothing sent', async () => {
    const before = recorded.length;
    const refused = await g.openai.chat.completions
      .create({
        model: 'GigaChat',
        messages: [{ role: 'user', content: 'Weather in Moscow?' }],
        tools: [...TOOLS, { type: 'function', function: { name: 'time' } }],
        tool_choice: 'required',
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'tool_choice');
    assert.equal(refused.type, 'invalid_request_error');
    assert.match(refused.message, /tool_choice/);
    assert.equal(recorded.length, before, 'nothing was sent');
    await rejectedLast();
  });

  it('Anthropic tool_choice any is a 400 invalid_request_error naming tool_choice, recorded rejected', async () => {
    const before = recorded.length;
    const refused = await g.anthropic.messages
      .create({
        model: 'GigaChat',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'Weather in Moscow?' }],
        tools: ['weather', 'time'].map((name) => ({
          name,
          input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
        })),
        tool_choice: { type: 'any' },
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.equal((refused.error as { error?: { type?: string } }).error?.type, 'invalid_request_error');
    assert.match(refused.message, /tool_choice/);
    assert.match(refused.message, /'any'/, 'the value the caller sent, in its own terms');
    assert.equal(recorded.length, before, 'nothing was sent');
    await rejectedLast();
  });

  it('Anthropic tool_choice any among one tool reaches GigaChat as that function named', async () => {
    replies.push({
      status: 200,
      body: answer(
        { content: null, function_call: { name: 'weather', arguments: { city: 'Kazan' } } },
        'function_call',
      ),
    });
    const message = await g.anthropic.messages.create({
      model: 'GigaChat',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Weather in Kazan?' }],
      tools: [
        { name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
      tool_choice: { type: 'any' },
    });
    assert.deepEqual(last().body.function_call, { name: 'weather' });
    assert.equal(message.stop_reason, 'tool_use');
  });

  it('OpenAI stop is refused with a 400 naming stop', async () => {
    await assert.rejects(
      g.openai.chat.completions.create({
        model: 'GigaChat',
        messages: [{ role: 'user', content: 'hi' }],
        stop: ['END'],
      }),
      (error: { status?: number; param?: string }) => error.status === 400 && error.param === 'stop',
    );
  });
});
