/**
 * openai SDK -> Kordon -> Gemini: a programmable Gemini upstream speaks the Generative Language
 * API wire format (generateContent, streamGenerateContent?alt=sse) and records each request body:
 * function call ids across a tool loop, the usage of a stream that ends in a failed call, and how
 * a key is rested on Gemini's per-model quotas and on a project without billing.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const GEMINI_KEY = 'AIzaSyDopenaigeminitranslationabcdefghij';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const sse = (res: ServerResponse, chunks: unknown[]) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const c of chunks) res.write(`data: ${JSON.stringify(c)}\r\n\r\n`);
  res.end();
};
const textAnswer = (text: string) => ({
  candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }],
  usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 3, totalTokenCount: 13 },
  responseId: 'resp-text',
  modelVersion: 'gemini-2.5-flash',
});

/** A capturing Gemini upstream and a Kordon in front of it (one provider, one key, two models). */
function setup() {
  const state = {
    handler: ((_req, _body, res) => json(res, 200, textAnswer('ok'))) as Handler,
    bodies: [] as Record<string, unknown>[],
    urls: [] as string[],
    gateway: undefined as unknown as KordonUnderTest,
  };
  let upstream: Server;
  before(async () => {
    upstream = createServer((req, res) => {
      let raw = '';
      req.on('data', (part) => (raw += part));
      req.on('end', () => {
        const body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
        state.bodies.push(body);
        state.urls.push(req.url ?? '');
        state.handler(req, body, res);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    state.gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: google
        type: gemini
        baseUrl: ${url}
        models: [gemini-2.5-flash, gemini-3-flash-preview]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { GEMINI_KEY },
    );
  });
  after(async () => {
    await state.gateway?.stop();
    upstream?.close();
  });
  beforeEach(() => {
    state.bodies.length = 0;
    state.urls.length = 0;
    state.handler = (_req, _body, res) => json(res, 200, textAnswer('ok'));
  });
  const proxyKey = () => state.gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${state.gateway.url}/v1`, apiKey: proxyKey(), maxRetries: 0 });
  const lastUsage = async () =>
    (
      (await state.gateway.requestEvents()).at(-1)?.data as
        | { usage?: { inputTokens?: number; outputTokens?: number; reasoningTokens?: number } }
        | undefined
    )?.usage;
  return { state, proxyKey, openai, lastUsage };
}

describe('Gemini function call ids in a multi-turn tool loop (openai SDK)', () => {
  const { state, openai } = setup();
  const tools: OpenAI.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get', parameters: { type: 'object', properties: {} } } },
  ];

  it('the ids Gemini gave its functionCalls go back on those calls and on the functionResponses that answer them', async () => {
    // ai.google.dev/api/caching#FunctionCall: "id: Optional. The unique id of the function call.
    // If populated, the client to execute the function_call and return the response with the
    // matching id." FunctionResponse.id: "The id of the function call this response is for."
    state.handler = (_req, _body, res) =>
      json(res, 200, {
        candidates: [
          {
            content: {
              role: 'model',
              parts: [
                { functionCall: { id: 'fc-aaa', name: 'get', args: { a: 1 } } },
                { functionCall: { id: 'fc-bbb', name: 'get', args: { a: 2 } } },
              ],
            },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 3, totalTokenCount: 13 },
        responseId: 'r-ids',
      });
    const first = await openai().chat.completions.create({
      model: 'gemini-2.5-flash',
      tools,
      messages: [{ role: 'user', content: 'call get twice' }],
    });
    const message = first.choices[0]!.message;
    const calls = message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    assert.deepEqual(
      calls.map((c) => c.id),
      ['fc-aaa', 'fc-bbb'],
      'the caller is given Gemini’s own ids',
    );

    state.handler = (_req, _body, res) => json(res, 200, textAnswer('done'));
    await openai().chat.completions.create({
      model: 'gemini-2.5-flash',
      tools,
      messages: [
        { role: 'user', content: 'call get twice' },
        message,
        { role: 'tool', tool_call_id: 'fc-bbb', content: 'two' },
        { role: 'tool', tool_call_id: 'fc-aaa', content: 'one' },
      ],
    });
    type Part = {
      functionCall?: { id?: string; name: string };
      functionResponse?: { id?: string; name: string; response: { output?: string } };
    };
    const contents = state.bodies.at(-1)!.contents as { role: string; parts: Part[] }[];
    const modelCalls = contents[1]!.parts.flatMap((p) => (p.functionCall ? [p.functionCall.id] : []));
    const responses = contents[2]!.parts.flatMap((p) =>
      p.functionResponse ? [{ id: p.functionResponse.id, output: p.functionResponse.response.output }] : [],
    );
    assert.deepEqual(modelCalls, ['fc-aaa', 'fc-bbb'], 'the functionCalls in the history keep their ids');
    assert.deepEqual(
      responses,
      [
        { id: 'fc-aaa', output: 'one' },
        { id: 'fc-bbb', output: 'two' },
      ],
      'each functionResponse names the id of the call it answers',
    );
  });
});

describe('usage of a Gemini stream that ends with MALFORMED_FUNCTION_CALL (openai SDK)', () => {
  const { state, proxyKey, lastUsage } = setup();

  it('the usage-only chunk Gemini 3 sends after the finish chunk is still what the request is charged', async () => {
    // Gemini 3 sends the final usageMetadata on a chunk of its own after the finishReason chunk
    // (Kordon's own GeminiStreamParser.usageAfterEnd). Here the model thought 900 tokens and then
    // produced a malformed call: Google bills the 900 thought tokens as output.
    state.handler = (_req, _body, res) =>
      sse(res, [
        {
          candidates: [
            {
              content: { role: 'model', parts: [] },
              finishReason: 'MALFORMED_FUNCTION_CALL',
              finishMessage: 'Malformed function call: get(a=',
              index: 0,
            },
          ],
          responseId: 'r-mal',
          modelVersion: 'gemini-3-flash-preview',
        },
        {
          usageMetadata: {
            promptTokenCount: 10,
            thoughtsTokenCount: 900,
            totalTokenCount: 910,
          },
          responseId: 'r-mal',
          modelVersion: 'gemini-3-flash-preview',
        },
      ]);
    const res = await fetch(`${state.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${proxyKey()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gemini-3-flash-preview',
        stream: true,
        tools: [{ type: 'function', function: { name: 'get', parameters: { type: 'object' } } }],
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    const text = await res.text();
    assert.match(text, /MALFORMED_FUNCTION_CALL/, 'the caller gets an error event');
    const usage = await lastUsage();
    assert.deepEqual(
      { input: usage?.inputTokens, output: usage?.outputTokens },
      { input: 10, output: 900 },
      'the request is charged the usage Gemini billed, not Kordon’s own estimate',
    );
  });
});

describe('a Gemini answer that failed as the model gave it (MALFORMED_FUNCTION_CALL)', () => {
  const { state, proxyKey } = setup();

  /**
   * A malformed function call is the model's answer failing, billed, not the key's or the
   * server's fault. Each such stream was reported to the balancer as a server error (its
   * failure read as a 500): five in a row opened the key's circuit, and the provider's only key
   * refused every request for its open time.
   */
  it('does not count against the key: five in a row leave it serving', async () => {
    state.handler = (_req, _body, res) =>
      sse(res, [
        {
          candidates: [
            {
              content: { role: 'model', parts: [] },
              finishReason: 'MALFORMED_FUNCTION_CALL',
              finishMessage: 'Malformed function call: get(a=',
              index: 0,
            },
          ],
          usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 },
          responseId: 'r-mal',
          modelVersion: 'gemini-2.5-flash',
        },
      ]);
    const ask = (stream: boolean) =>
      fetch(`${state.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${proxyKey()}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gemini-2.5-flash',
          stream,
          tools: [{ type: 'function', function: { name: 'get', parameters: { type: 'object' } } }],
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
    for (let i = 0; i < 5; i++) {
      const text = await (await ask(true)).text();
      assert.match(text, /MALFORMED_FUNCTION_CALL/, 'the caller gets an error event');
    }
    state.handler = (_req, _body, res) => json(res, 200, textAnswer('still here'));
    const after = await ask(false);
    assert.equal(after.status, 200, await after.clone().text());
    const answer = (await after.json()) as { choices: { message: { content: string } }[] };
    assert.equal(answer.choices[0]?.message.content, 'still here');
  });
});

describe('a Gemini per-model quota 429 (openai SDK)', () => {
  const { state, proxyKey } = setup();

  it('a RESOURCE_EXHAUSTED whose QuotaFailure names one model leaves the key serving the provider’s other models', async () => {
    // ai.google.dev/gemini-api/docs/rate-limits: "Limits vary depending on the specific model
    // being used"; the 429 says which (QuotaFailure quotaId
    // GenerateRequestsPerDayPerProjectPerModel..., quotaDimensions.model).
    state.handler = (req, _body, res) => {
      if (!req.url?.includes('gemini-3-flash-preview')) return json(res, 200, textAnswer('ok'));
      json(res, 429, {
        error: {
          code: 429,
          message:
            'You exceeded your current quota, please check your plan and billing details. Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 20, model: gemini-3-flash-preview',
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [
                {
                  quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
                  quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
                  quotaDimensions: { location: 'global', model: 'gemini-3-flash-preview' },
                  quotaValue: '20',
                },
              ],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '50s' },
          ],
        },
      });
    };
    const call = (model: string) =>
      fetch(`${state.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${proxyKey()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const limited = await call('gemini-3-flash-preview');
    assert.equal(limited.status, 429, 'the limited model’s caller is told to wait');
    assert.equal(limited.headers.get('retry-after'), '50', 'for as long as Gemini said');
    await limited.text();
    const other = await call('gemini-2.5-flash');
    const text = await other.text();
    assert.equal(
      other.status,
      200,
      `gemini-2.5-flash has its own quota, but Kordon answered ${other.status} ${text} without asking Gemini`,
    );
    assert.ok(state.urls.at(-1)?.includes('gemini-2.5-flash'));

    const asked = state.urls.length;
    const again = await call('gemini-3-flash-preview');
    await again.text();
    assert.equal(state.urls.length, asked, 'the key is not asked for the limited model while it rests');
    const wait = Number(again.headers.get('retry-after'));
    assert.ok(wait > 40 && wait <= 50, `the caller waits for the model’s quota, not ${wait} s`);
  });
});

describe('a Gemini per-model quota 429 sent as a stream event (openai SDK)', () => {
  const { state, proxyKey } = setup();

  it('a RESOURCE_EXHAUSTED event whose QuotaFailure names one model rests the key for that model only', async () => {
    // streamGenerateContent answers a 429 as a 200 whose first event is the error object.
    state.handler = (req, _body, res) => {
      if (!req.url?.includes('gemini-3-flash-preview')) return json(res, 200, textAnswer('ok'));
      sse(res, [
        {
          error: {
            code: 429,
            message:
              'You exceeded your current quota, please check your plan and billing details. Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 20, model: gemini-3-flash-preview',
            status: 'RESOURCE_EXHAUSTED',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
                violations: [
                  {
                    quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
                    quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
                    quotaDimensions: { location: 'global', model: 'gemini-3-flash-preview' },
                    quotaValue: '20',
                  },
                ],
              },
              { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '50s' },
            ],
          },
        },
      ]);
    };
    const call = (model: string, stream: boolean) =>
      fetch(`${state.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${proxyKey()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const limited = await call('gemini-3-flash-preview', true);
    await limited.text();
    assert.equal(limited.status, 429, 'the limited model’s caller is told to wait');
    const other = await call('gemini-2.5-flash', false);
    const text = await other.text();
    assert.equal(
      other.status,
      200,
      `gemini-2.5-flash has its own quota, but Kordon answered ${other.status} ${text} without asking Gemini`,
    );
    const asked = state.urls.length;
    const again = await call('gemini-3-flash-preview', true);
    await again.text();
    assert.equal(state.urls.length, asked, 'the key is not asked for the limited model while it rests');
  });
});

describe('a Gemini per-model quota 429 in the middle of a stream (openai SDK)', () => {
  const { state, proxyKey } = setup();

  /**
   * The same RESOURCE_EXHAUSTED after some text reached the caller: the stream ends with its
   * error event, and the key was rested for every model (the QuotaFailure was read, but the
   * report of a broken stream passed only its delay to the balancer), so the provider's only
   * key refused the other models, which have quotas of their own, for the 50 s.
   */
  it('rests the key for the model its QuotaFailure names, not for the others', async () => {
    state.handler = (req, _body, res) => {
      if (!req.url?.includes('gemini-3-flash-preview')) return json(res, 200, textAnswer('ok'));
      sse(res, [
        {
          candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }],
          responseId: 'r-cut',
          modelVersion: 'gemini-3-flash-preview',
        },
        {
          error: {
            code: 429,
            message:
              'Quota exceeded for metric: generate_content_free_tier_requests, model: gemini-3-flash-preview',
            status: 'RESOURCE_EXHAUSTED',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
                violations: [
                  {
                    quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
                    quotaDimensions: { location: 'global', model: 'gemini-3-flash-preview' },
                  },
                ],
              },
              { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '50s' },
            ],
          },
        },
      ]);
    };
    const call = (model: string, stream: boolean) =>
      fetch(`${state.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${proxyKey()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const cut = await call('gemini-3-flash-preview', true);
    assert.equal(cut.status, 200, 'the stream had begun');
    assert.match(await cut.text(), /RESOURCE_EXHAUSTED|Quota exceeded/, 'it ends with the error');
    const other = await call('gemini-2.5-flash', false);
    const text = await other.text();
    assert.equal(other.status, 200, `gemini-2.5-flash has its own quota: ${other.status} ${text}`);
    const asked = state.urls.length;
    const again = await call('gemini-3-flash-preview', false);
    await again.text();
    assert.equal(state.urls.length, asked, 'the key is not asked for the limited model while it rests');
    const wait = Number(again.headers.get('retry-after'));
    assert.ok(wait > 40 && wait <= 50, `the caller waits for the model’s quota, not ${wait} s`);
  });
});

describe('Gemini 400 FAILED_PRECONDITION (the project has no billing for its region) (openai SDK)', () => {
  const KEY_NO_BILLING = 'AIzaSyDnobillingprojectabcdefghijklmnop';
  const KEY_PAID = 'AIzaSyDpaidprojectabcdefghijklmnopqrstu';
  let upstream: Server;
  let gateway: KordonUnderTest;
  const keysSeen: string[] = [];
  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['x-goog-api-key']);
        keysSeen.push(key);
        // ai.google.dev/gemini-api/docs/troubleshooting: "400 FAILED_PRECONDITION: Gemini API free
        // tier is not available in your country. Please enable billing on your project in Google
        // AI Studio." (or "User location is not supported for the API use without a billing
        // account linked."): the project behind the key, not the request.
        if (key === KEY_NO_BILLING)
          return json(res, 400, {
            error: {
              code: 400,
              message:
                'Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.',
              status: 'FAILED_PRECONDITION',
            },
          });
        json(res, 200, textAnswer('ok'));
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
      - name: google
        type: gemini
        baseUrl: ${url}
        models: [gemini-2.5-flash]
        keys:
          - { name: k1, secret: "\${K1}" }
          - { name: k2, secret: "\${K2}" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { K1: KEY_NO_BILLING, K2: KEY_PAID },
    );
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  it('is not told to the caller as its own invalid request: the key rests and the other key serves', async () => {
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        const completion = await client.chat.completions.create({
          model: 'gemini-2.5-flash',
          messages: [{ role: 'user', content: `hi ${i}` }],
        });
        answers.push(`200 ${completion.choices[0]?.message.content}`);
      } catch (error) {
        const e = error as InstanceType<typeof OpenAI.APIError>;
        answers.push(`${e.status} ${e.type} ${e.message}`);
      }
    }
    assert.ok(keysSeen.includes(KEY_NO_BILLING), 'the billing-less key was tried');
    assert.deepEqual(
      answers,
      ['200 ok', '200 ok', '200 ok', '200 ok'],
      'a request that reached the billing-less key was answered as the caller’s bad request',
    );
  });
});
