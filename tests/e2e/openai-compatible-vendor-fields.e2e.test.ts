import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * The chat fields Mistral's API takes (mistralai/client-python, models/chatcompletionrequest.py);
 * anything else is a 422 `extra_forbidden`, as Mistral answers it.
 */
const MISTRAL_CHAT_FIELDS = new Set([
  'model',
  'messages',
  'temperature',
  'top_p',
  'max_tokens',
  'stream',
  'stop',
  'random_seed',
  'metadata',
  'response_format',
  'tools',
  'tool_choice',
  'presence_penalty',
  'frequency_penalty',
  'n',
  'prediction',
  'parallel_tool_calls',
  'reasoning_effort',
  'prompt_mode',
  'guardrails',
  'prompt_cache_key',
  'safe_prompt',
]);

/** The fields of Mistral's embeddings endpoint (docs.mistral.ai/api/endpoint/embeddings). */
const MISTRAL_EMBEDDINGS_FIELDS = new Set([
  'model',
  'input',
  'output_dimension',
  'output_dtype',
  'encoding_format',
  'metadata',
]);

const USAGE = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 };

/** Mistral's pydantic validation: a 422 naming each field it does not know. */
function mistralRefusal(body: Record<string, unknown>, fields: string[]): string {
  return JSON.stringify({
    object: 'error',
    message: {
      detail: fields.map((field) => ({
        type: 'extra_forbidden',
        loc: ['body', field],
        msg: 'Extra inputs are not permitted',
        input: body[field],
      })),
    },
    type: 'invalid_request_error',
    param: null,
    code: null,
  });
}

/**
 * What differs between the servers of the OpenAI dialect, as their answers and refusals show
 * it: the tier a Groq answer names is Groq's (its flex bills at on-demand rates), OpenAI's tier
 * is on every chunk of a stream (a stream cut short is still priced at it), and Mistral refuses
 * the fields it does not know (`stream_options`, `max_completion_tokens`, `dimensions`).
 */
describe('OpenAI-dialect fields per vendor', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const bodies: Array<{ path: string; body: Record<string, unknown> }> = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as Record<string, unknown>;
      const path = req.url ?? '';
      bodies.push({ path, body });
      if (path.startsWith('/openai-cut/')) {
        // OpenAI's own chunks, in its key order, served at priority; the connection breaks mid-answer.
        const cut = (delta: object) =>
          `data: ${JSON.stringify({ id: 'chatcmpl-p', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini-2024-07-18', service_tier: 'priority', system_fingerprint: 'fp_1', choices: [{ index: 0, delta, logprobs: null, finish_reason: null }], usage: null })}\n\n`;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(cut({ role: 'assistant', content: '', refusal: null }));
        for (let i = 0; i < 20; i++) res.write(cut({ content: 'lorem ipsum dolor sit amet ' }));
        setTimeout(() => res.destroy(), 200);
        return;
      }
      if (path.startsWith('/mistral/v1/embeddings')) {
        const unknown = Object.keys(body).filter((field) => !MISTRAL_EMBEDDINGS_FIELDS.has(field));
        if (unknown.length > 0) {
          res.writeHead(422, { 'content-type': 'application/json' });
          res.end(mistralRefusal(body, unknown));
          return;
        }
        const size = typeof body.output_dimension === 'number' ? body.output_dimension : 4;
        const vector = Array.from({ length: size }, (_, i) => i / 10);
        // The OpenAI SDK asks for base64 and decodes it.
        const embedding =
          body.encoding_format === 'base64'
            ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
            : vector;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: [{ object: 'embedding', index: 0, embedding }],
            model: body.model,
            usage: { prompt_tokens: 1000, total_tokens: 1000 },
          }),
        );
        return;
      }
      if (path.startsWith('/mistral/')) {
        const unknown = Object.keys(body).filter((field) => !MISTRAL_CHAT_FIELDS.has(field));
        if (unknown.length > 0) {
          res.writeHead(422, { 'content-type': 'application/json' });
          res.end(mistralRefusal(body, unknown));
          return;
        }
      }
      // Groq (and OpenAI) name the tier that served the request on the answer and every chunk.
      const tier =
        path.startsWith('/groq/') && typeof body.service_tier === 'string' && body.service_tier !== 'auto'
          ? body.service_tier
          : path.startsWith('/groq/')
            ? 'on_demand'
            : undefined;
      const base = {
        id: 'chatcmpl-1',
        created: 1,
        model: body.model,
        ...(tier !== undefined ? { service_tier: tier } : {}),
      };
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            choices: [
              { index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' },
            ],
            usage: USAGE,
          }),
        );
        return;
      }
      const chunk = (choices: object[], extra: object = {}) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
      const mistral = path.startsWith('/mistral/');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        chunk([{ index: 0, delta: { role: 'assistant', content: 'Hi there' }, finish_reason: null }]) +
          // Mistral puts the usage in the finish chunk, unasked; the others in a chunk of its own.
          chunk([{ index: 0, delta: {}, finish_reason: 'stop' }], mistral ? { usage: USAGE } : {}) +
          (mistral ? '' : chunk([], { usage: USAGE })) +
          'data: [DONE]\n\n',
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      "openai/gpt-oss-120b": { input: "0.15", output: "0.60", currency: USD }
      "mistral-small-2506": { input: "0.10", output: "0.30" }
    providers:
      - name: groq
        type: openai-compatible
        vendor: groq
        baseUrl: ${url}/groq/openai/v1
        models: ["openai/gpt-oss-120b"]
        keys: [{ name: k1, secret: "gsk_0123456789abcdef0123456789abcdef" }]
      - name: mistral
        type: openai-compatible
        vendor: mistral
        baseUrl: ${url}/mistral/v1
        models: [mistral-small-2506, codestral-embed-2505, open-mistral-nemo]
        keys: [{ name: k1, secret: "mistral-key-0123456789abcdef" }]
      # The same model on a server that takes OpenAI's fields: the next of its chain.
      - name: nemo-elsewhere
        type: openai-compatible
        baseUrl: ${url}/generic/v1
        models: [open-mistral-nemo]
        keys: [{ name: k1, secret: "generic-key-0123456789abcdef" }]
      - name: openai
        type: openai
        baseUrl: ${url}/openai-cut/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-0123456789abcdef0123456789abcdef" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  const openai = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });
  const lastCompleted = async () => {
    const event = (await gateway.requestEvents()).at(-1);
    if (event?.type !== 'RequestCompleted') throw new Error(`no RequestCompleted: ${JSON.stringify(event)}`);
    return event.data;
  };

  // 1000 * 0.15 / 1M + 500 * 0.60 / 1M: Groq bills flex at its on-demand rates.
  const GROQ_FULL_PRICE = '0.00045';

  it("a Groq answer served at Groq's flex tier is priced at the model's standard rates (plain)", async () => {
    const answer = await openai().chat.completions.create({
      model: 'openai/gpt-oss-120b',
      messages: [{ role: 'user', content: 'Hi' }],
      service_tier: 'flex',
    });
    assert.equal(answer.service_tier, 'flex');
    const data = await lastCompleted();
    assert.equal(data.cost, GROQ_FULL_PRICE, `recorded ${data.cost}, serviceTier ${data.usage.serviceTier}`);
    assert.equal(data.usage.serviceTier, undefined);
  });

  it("a Groq answer served at Groq's flex tier is priced at the model's standard rates (streamed)", async () => {
    const stream = await openai().chat.completions.create({
      model: 'openai/gpt-oss-120b',
      messages: [{ role: 'user', content: 'Hi' }],
      service_tier: 'flex',
      stream: true,
    });
    for await (const _ of stream) {
      // read to the end
    }
    const data = await lastCompleted();
    assert.equal(data.cost, GROQ_FULL_PRICE, `recorded ${data.cost}, serviceTier ${data.usage.serviceTier}`);
    assert.equal(data.usage.serviceTier, undefined);
  });

  it('a streamed request to a mistral provider that asks for usage is not sent stream_options, and gets its usage', async () => {
    bodies.length = 0;
    let text = '';
    let usage: unknown;
    const stream = await openai().chat.completions.create({
      model: 'mistral-small-2506',
      messages: [{ role: 'user', content: 'Salut' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const part of stream) {
      text += part.choices[0]?.delta.content ?? '';
      usage ??= part.usage ?? undefined;
    }
    assert.equal(text, 'Hi there');
    assert.equal('stream_options' in bodies[0]!.body, false, JSON.stringify(bodies[0]!.body));
    assert.ok(usage, 'the caller asked for the usage and gets it');
  });

  it('max_completion_tokens to a mistral provider goes as max_tokens (Mistral refuses the newer field)', async () => {
    bodies.length = 0;
    const answer = await openai().chat.completions.create({
      model: 'mistral-small-2506',
      messages: [{ role: 'user', content: 'Salut' }],
      max_completion_tokens: 64,
    });
    assert.equal(answer.choices[0]?.message.content, 'Hi there');
    assert.equal(bodies[0]!.body.max_tokens, 64);
  });

  it("embeddings' dimensions reach a mistral provider as its output_dimension, not as a field it refuses", async () => {
    bodies.length = 0;
    const answer = await openai().embeddings.create({
      model: 'codestral-embed-2505',
      input: 'def f(): pass',
      dimensions: 256,
    });
    assert.equal(bodies[0]!.body.output_dimension, 256);
    assert.equal('dimensions' in bodies[0]!.body, false, JSON.stringify(bodies[0]!.body));
    assert.equal(answer.data[0]!.embedding.length, 256);
  });

  it("OpenAI's user is not sent to a mistral provider (no such field: a 422), and seed goes as its random_seed", async () => {
    bodies.length = 0;
    const answer = await openai().chat.completions.create({
      model: 'mistral-small-2506',
      messages: [{ role: 'user', content: 'Salut' }],
      user: 'end-user-42',
      seed: 7,
    });
    assert.equal(answer.choices[0]?.message.content, 'Hi there');
    assert.equal(bodies[0]!.body.random_seed, 7);
    const embedded = await openai().embeddings.create({
      model: 'codestral-embed-2505',
      input: 'def f(): pass',
      user: 'end-user-42',
    });
    assert.equal(embedded.data.length, 1);
    for (const { body } of bodies) assert.equal('user' in body, false, JSON.stringify(body));
  });

  it("OpenAI's fields Mistral lacks that change no answer are left out; those Mistral takes go as sent", async () => {
    bodies.length = 0;
    const fields: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {
      // Kept by OpenAI for its evals and dashboard; its tiers and caching; abuse monitoring.
      store: true,
      service_tier: 'flex',
      prompt_cache_retention: '24h',
      prompt_cache_options: { mode: 'implicit' },
      safety_identifier: 'user-hash-42',
      // GPT-5's hint on the answer's length, as penalties are a hint on its wording.
      verbosity: 'low',
      // Asking for nothing Mistral lacks.
      logprobs: false,
      modalities: ['text'],
      logit_bias: null,
      functions: [],
    };
    const taken: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {
      metadata: { team: 'search' },
      parallel_tool_calls: false,
      prompt_cache_key: 'conversation-42',
      prediction: { type: 'content', content: 'Hi there' },
      n: 1,
    };
    for (const stream of [false, true]) {
      const request = {
        model: 'mistral-small-2506',
        messages: [{ role: 'user' as const, content: 'Salut' }],
        tools: [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object' } } }],
        ...fields,
        ...taken,
      };
      let text = '';
      if (stream) {
        for await (const part of await openai().chat.completions.create({ ...request, stream }))
          text += part.choices[0]?.delta.content ?? '';
      } else text = (await openai().chat.completions.create(request)).choices[0]?.message.content ?? '';
      assert.equal(text, 'Hi there', `stream: ${stream}`);
    }
    assert.equal(bodies.length, 2);
    for (const { body } of bodies) {
      for (const field of Object.keys(fields))
        assert.equal(field in body, false, `${field}: ${JSON.stringify(body)}`);
      for (const [field, value] of Object.entries(taken)) assert.deepEqual(body[field], value, field);
    }
  });

  it("OpenAI's fields Mistral lacks whose loss would change the answer are refused, naming the field, before any call", async () => {
    const refused: Array<[string, Record<string, unknown>]> = [
      ['logit_bias', { logit_bias: { '1734': -100 } }],
      ['logprobs', { logprobs: true, top_logprobs: 2 }],
      ['top_logprobs', { top_logprobs: 2 }],
      ['modalities', { modalities: ['text', 'audio'] }],
      ['audio', { audio: { voice: 'alloy', format: 'mp3' } }],
      ['web_search_options', { web_search_options: {} }],
      ['functions', { functions: [{ name: 'lookup', parameters: { type: 'object' } }] }],
      ['function_call', { function_call: 'auto' }],
      ['moderation', { moderation: { model: 'omni-moderation-latest' } }],
    ];
    for (const [param, fields] of refused) {
      bodies.length = 0;
      const error = await openai()
        .chat.completions.create({
          model: 'mistral-small-2506',
          messages: [{ role: 'user', content: 'Salut' }],
          ...fields,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .then(
          () => assert.fail(`${param}: expected a refusal`),
          (e: unknown) => e,
        );
      assert.ok(error instanceof OpenAI.APIError, `${param}: ${String(error)}`);
      assert.equal(error.status, 400, `${param}: ${error.message}`);
      assert.equal(error.param, param, error.message);
      assert.match(error.message, /Mistral/, param);
      assert.equal(bodies.length, 0, `${param}: Mistral was called`);
    }
  });

  it('a field Mistral cannot take sends the request to the next provider of the model, which can', async () => {
    for (const stream of [false, true]) {
      bodies.length = 0;
      const request = {
        model: 'open-mistral-nemo',
        messages: [{ role: 'user' as const, content: 'Salut' }],
        logprobs: true,
      };
      if (stream) {
        let text = '';
        for await (const chunk of await openai().chat.completions.create({ ...request, stream: true }))
          text += chunk.choices[0]?.delta.content ?? '';
        assert.equal(text, 'Hi there');
      } else {
        const answer = await openai().chat.completions.create(request);
        assert.equal(answer.choices[0]?.message.content, 'Hi there');
      }
      // Mistral's adapter refused it before any call; the other server got it, logprobs and all.
      assert.deepEqual(
        bodies.map(({ path }) => path),
        ['/generic/v1/chat/completions'],
      );
      assert.equal(bodies[0]?.body.logprobs, true);
      const event = await lastCompleted();
      assert.equal(event.provider, 'nemo-elsewhere');
      assert.equal(event.attempts, 1, 'the refusal before any call is no attempt');
    }
  });

  it('an OpenAI priority stream that breaks before its finish chunk is charged at priority rates', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Write a long text' }],
      service_tier: 'priority',
      stream: true,
    });
    let text = '';
    const broken = await (async () => {
      for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    })().catch((error: unknown) => error);
    assert.ok(text.length > 0 && broken !== undefined, 'the caller saw part of the answer, then an error');
    const event = (await gateway.requestEvents()).at(-1) as {
      type: string;
      data: { usage?: { serviceTier?: string; outputTokens: number }; cost?: string | null };
    };
    assert.ok(event.data.usage && event.data.usage.outputTokens > 0, JSON.stringify(event));
    assert.equal(
      event.data.usage.serviceTier,
      'priority',
      `${event.type} ${JSON.stringify(event.data.usage)}`,
    );
  });
});
