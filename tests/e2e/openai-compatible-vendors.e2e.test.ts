import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * Vendor wire differences of the OpenAI-compatible servers, as their API references document
 * them, against what Kordon reads and records.
 */

/** DeepSeek's usage (api-docs.deepseek.com, "Create Chat Completion"): cache hits in their own fields. */
const DEEPSEEK_USAGE = {
  prompt_tokens: 1000,
  completion_tokens: 100,
  total_tokens: 1100,
  prompt_cache_hit_tokens: 800,
  prompt_cache_miss_tokens: 200,
};

const MISTRAL_USAGE = { prompt_tokens: 20, completion_tokens: 30, total_tokens: 50 };

const TOGETHER_USAGE = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 };

/** OpenRouter's 403 for an input its moderation flagged (openrouter.ai/docs/api/reference/errors). */
const OPENROUTER_MODERATION = {
  error: {
    code: 403,
    message: 'openai/gpt-4o requires moderation on OpenAI. Your input was flagged for "harassment".',
    metadata: {
      reasons: ['harassment'],
      flagged_input: 'you are an idiot...',
      provider_name: 'OpenAI',
      model_slug: 'openai/gpt-4o',
    },
  },
};

describe('OpenAI-compatible vendors: documented wire differences', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const seen: Array<{ path: string; auth: string | undefined; body: Record<string, unknown> }> = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as Record<string, unknown>;
      const path = req.url ?? '';
      seen.push({ path, auth: req.headers.authorization, body });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const sse = (frames: unknown[]) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`${frames.map((frame) => `data: ${JSON.stringify(frame)}\n\n`).join('')}data: [DONE]\n\n`);
      };
      const base = { id: 'chatcmpl-1', created: 1, model: body.model };

      if (path.startsWith('/deepseek/')) {
        if (body.stream !== true) {
          json(200, {
            ...base,
            object: 'chat.completion',
            choices: [
              { index: 0, message: { role: 'assistant', content: 'Bonjour' }, finish_reason: 'stop' },
            ],
            usage: DEEPSEEK_USAGE,
            system_fingerprint: 'fp_1',
          });
          return;
        }
        const chunk = { ...base, object: 'chat.completion.chunk', system_fingerprint: 'fp_1' };
        sse([
          {
            ...chunk,
            choices: [{ index: 0, delta: { role: 'assistant', content: 'Bonjour' }, finish_reason: null }],
          },
          { ...chunk, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'stop' }] },
          { ...chunk, choices: [], usage: DEEPSEEK_USAGE },
        ]);
        return;
      }

      if (path.startsWith('/mistral/')) {
        // Mistral's reasoning models (magistral-*, and mistral-small with reasoning_effort) answer
        // with content as a list of chunks: thinking, then text (docs.mistral.ai "Reasoning").
        if (body.stream !== true) {
          json(200, {
            ...base,
            object: 'chat.completion',
            choices: [
              {
                index: 0,
                message: {
                  role: 'assistant',
                  content: [
                    { type: 'thinking', thinking: [{ type: 'text', text: 'The user greets me.' }] },
                    { type: 'text', text: 'Hello!' },
                  ],
                },
                finish_reason: 'stop',
              },
            ],
            usage: MISTRAL_USAGE,
          });
          return;
        }
        const chunk = { ...base, object: 'chat.completion.chunk' };
        sse([
          {
            ...chunk,
            choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
          },
          {
            ...chunk,
            choices: [
              {
                index: 0,
                delta: {
                  content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'The user greets me.' }] }],
                },
                finish_reason: null,
              },
            ],
          },
          {
            ...chunk,
            choices: [
              { index: 0, delta: { content: [{ type: 'text', text: 'Hello!' }] }, finish_reason: null },
            ],
          },
          {
            ...chunk,
            choices: [{ index: 0, delta: { content: '' }, finish_reason: 'stop' }],
            usage: MISTRAL_USAGE,
          },
        ]);
        return;
      }

      if (path.startsWith('/together/')) {
        // Together ends an answer at the model's end-of-sequence token with `eos` (its OpenAPI
        // spec's finish_reason: stop, eos, length, tool_calls, function_call), each choice
        // carrying `text`, `seed` and the delta's `token_id` besides OpenAI's fields.
        if (body.stream !== true) {
          json(200, {
            ...base,
            object: 'chat.completion',
            prompt: [],
            choices: [
              {
                index: 0,
                text: 'Hello!',
                seed: 42,
                logprobs: null,
                message: { role: 'assistant', content: 'Hello!', tool_calls: [] },
                finish_reason: 'eos',
              },
            ],
            usage: TOGETHER_USAGE,
          });
          return;
        }
        const chunk = { ...base, object: 'chat.completion.chunk' };
        const choice = (token: number, content: string, finish: string | null) => ({
          index: 0,
          text: content,
          logprobs: null,
          finish_reason: finish,
          seed: finish === null ? null : 42,
          delta: { token_id: token, role: 'assistant', content, tool_calls: null },
        });
        sse([
          { ...chunk, choices: [choice(9906, 'Hello', null)], usage: null },
          { ...chunk, choices: [choice(0, '!', null)], usage: null },
          { ...chunk, choices: [choice(128009, '', 'eos')], usage: TOGETHER_USAGE },
        ]);
        return;
      }

      if (path.startsWith('/mistral-window/')) {
        // Mistral's `model_length`: the answer ran into the model's context window
        // (mistralai/client-python, ChatCompletionChoice.FinishReason).
        json(200, {
          ...base,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'The story went on until', tool_calls: null },
              finish_reason: 'model_length',
            },
          ],
          usage: { prompt_tokens: 32424, completion_tokens: 344, total_tokens: 32768 },
        });
        return;
      }

      if (path.startsWith('/openrouter/')) {
        const messages = body.messages as Array<{ content: unknown }>;
        if (JSON.stringify(messages).includes('idiot')) {
          json(403, OPENROUTER_MODERATION);
          return;
        }
        json(200, {
          ...base,
          object: 'chat.completion',
          provider: 'OpenAI',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Sure.' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, cost: 0.00005 },
        });
        return;
      }
      json(404, { error: { message: 'no such path' } });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      "deepseek-chat": { input: "0.28", cachedInput: "0.028", output: "0.42", currency: USD }
      "magistral-medium-2509": { input: "2", output: "5", currency: USD }
    providers:
      - name: deepseek
        type: openai-compatible
        vendor: deepseek
        baseUrl: ${url}/deepseek/v1
        models: [deepseek-chat]
        keys: [{ name: k1, secret: "sk-deepseek-0123456789abcdef0123" }]
      - name: mistral
        type: openai-compatible
        vendor: mistral
        baseUrl: ${url}/mistral/v1
        models: [magistral-medium-2509]
        keys: [{ name: k1, secret: "mistral-key-0123456789abcdef" }]
      - name: together
        type: openai-compatible
        vendor: together
        baseUrl: ${url}/together/v1
        models: ["meta-llama/Llama-3.3-70B-Instruct-Turbo"]
        keys: [{ name: k1, secret: "together-key-0123456789abcdef" }]
      - name: mistral-window
        type: openai-compatible
        vendor: mistral
        baseUrl: ${url}/mistral-window/v1
        models: [voxtral-small-latest]
        keys: [{ name: k1, secret: "mistral-key-window-0123456789" }]
      - name: openrouter
        type: openai-compatible
        vendor: openrouter
        baseUrl: ${url}/openrouter/api/v1
        models: ["openai/gpt-4o"]
        keys: [{ name: only, secret: "sk-or-v1-0123456789abcdef0123456789abcdef" }]
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

  const proxyKey = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: proxyKey(), maxRetries: 0 });
  const anthropic = () => new Anthropic({ baseURL: gateway.url, apiKey: proxyKey(), maxRetries: 0 });
  const lastRequestEvent = async () => {
    const event = (await gateway.requestEvents()).at(-1) as
      | {
          type: string;
          data: { usage?: { inputTokens: number; cachedInputTokens: number }; cost?: string | null };
        }
      | undefined;
    if (!event) throw new Error('no request event');
    return event;
  };

  // 200 * 0.28 / 1M + 800 * 0.028 / 1M + 100 * 0.42 / 1M
  const DEEPSEEK_CACHED_COST = 0.0001204;

  it("DeepSeek's cache hits (prompt_cache_hit_tokens) are recorded as cached input and priced at the cached rate (plain)", async () => {
    const answer = await openai().chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'Salut' }],
    });
    assert.equal(answer.choices[0]?.message.content, 'Bonjour');
    const event = await lastRequestEvent();
    assert.equal(event.type, 'RequestCompleted');
    assert.equal(event.data.usage?.cachedInputTokens, 800, JSON.stringify(event.data.usage));
    assert.ok(
      Math.abs(Number(event.data.cost) - DEEPSEEK_CACHED_COST) < 1e-9,
      `cost ${event.data.cost}, expected ${DEEPSEEK_CACHED_COST}`,
    );
  });

  it("DeepSeek's cache hits are recorded as cached input when streamed", async () => {
    const stream = await openai().chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'Salut' }],
      stream: true,
    });
    for await (const _ of stream) {
      // read to the end
    }
    const event = await lastRequestEvent();
    assert.equal(event.type, 'RequestCompleted');
    assert.equal(event.data.usage?.cachedInputTokens, 800, JSON.stringify(event.data.usage));
  });

  it("an Anthropic SDK caller on DeepSeek sees DeepSeek's cache hits as cache_read_input_tokens", async () => {
    const message = await anthropic().messages.create({
      model: 'deepseek-chat',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Salut' }],
    });
    assert.deepEqual(
      { input: message.usage.input_tokens, cacheRead: message.usage.cache_read_input_tokens },
      { input: 200, cacheRead: 800 },
    );
  });

  it("a Mistral reasoning model's streamed answer (content as a list of thinking and text chunks) reaches the OpenAI SDK whole", async () => {
    const stream = await openai().chat.completions.create({
      model: 'magistral-medium-2509',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    let finish: string | null | undefined;
    const contents: unknown[] = [];
    const failure = await (async () => {
      for await (const part of stream) {
        finish = part.choices[0]?.finish_reason ?? finish;
        contents.push(part.choices[0]?.delta.content);
      }
    })().catch((error: unknown) => error);
    assert.equal(failure, undefined, `the stream failed: ${String(failure)}`);
    assert.equal(finish, 'stop');
    // Same dialect: Mistral's chunks go to the caller as they came.
    assert.deepEqual(contents.slice(1, 3), [
      [{ type: 'thinking', thinking: [{ type: 'text', text: 'The user greets me.' }] }],
      [{ type: 'text', text: 'Hello!' }],
    ]);
    const event = await lastRequestEvent();
    assert.equal(event.type, 'RequestCompleted', JSON.stringify(event));
  });

  it("a Mistral reasoning model's plain answer reaches an OpenAI SDK caller as Mistral sent it, and is recorded", async () => {
    const answer = await openai().chat.completions.create({
      model: 'magistral-medium-2509',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.deepEqual(answer.choices[0]?.message.content, [
      { type: 'thinking', thinking: [{ type: 'text', text: 'The user greets me.' }] },
      { type: 'text', text: 'Hello!' },
    ]);
    const event = await lastRequestEvent();
    assert.equal(event.type, 'RequestCompleted', JSON.stringify(event));
  });

  it("a Mistral reasoning model's plain answer (content as a list of chunks) reaches an Anthropic SDK caller as text", async () => {
    const message = await anthropic().messages.create({
      model: 'magistral-medium-2509',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const text = message.content
      .filter((block) => block.type === 'text')
      .map((block) => (block as { text: string }).text)
      .join('');
    assert.equal(text, 'Hello!');
  });

  it("a Mistral reasoning model's streamed answer reaches an Anthropic SDK caller as text", async () => {
    const stream = anthropic().messages.stream({
      model: 'magistral-medium-2509',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const message = await stream.finalMessage();
    const text = message.content
      .filter((block) => block.type === 'text')
      .map((block) => (block as { text: string }).text)
      .join('');
    assert.equal(text, 'Hello!');
  });

  const TOGETHER = 'meta-llama/Llama-3.3-70B-Instruct-Turbo';

  it('a Together stream that ends `eos` reaches the OpenAI SDK whole, and its usage is recorded', async () => {
    const stream = await openai().chat.completions.create({
      model: TOGETHER,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    const failure = await (async () => {
      for await (const part of stream) {
        text += part.choices[0]?.delta.content ?? '';
        usage = part.usage ?? usage;
      }
    })().catch((error: unknown) => error);
    assert.equal(failure, undefined, `the stream failed: ${String(failure)}`);
    assert.equal(text, 'Hello!');
    assert.equal(usage?.completion_tokens, 3);
    const event = await lastRequestEvent();
    assert.equal(event.type, 'RequestCompleted', JSON.stringify(event));
    assert.equal(event.data.usage?.inputTokens, 12, JSON.stringify(event.data.usage));
  });

  it('an Anthropic SDK caller of Together gets an answer ending `eos` as end_turn (plain and streamed)', async () => {
    const message = await anthropic().messages.create({
      model: TOGETHER,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(message.stop_reason, 'end_turn');
    assert.deepEqual(message.content, [{ type: 'text', text: 'Hello!' }]);
    const streamed = await anthropic()
      .messages.stream({ model: TOGETHER, max_tokens: 256, messages: [{ role: 'user', content: 'Hi' }] })
      .finalMessage();
    assert.equal(streamed.stop_reason, 'end_turn');
    assert.deepEqual(
      streamed.content.map((block) => (block as { text?: string }).text),
      ['Hello!'],
    );
    assert.equal(streamed.usage.output_tokens, 3);
  });

  it("an Anthropic SDK caller whose Mistral answer ran into the model's context window (`model_length`) gets it, cut short", async () => {
    const message = await anthropic().messages.create({
      model: 'voxtral-small-latest',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Tell me a long story' }],
    });
    assert.equal(message.stop_reason, 'max_tokens');
    assert.deepEqual(message.content, [{ type: 'text', text: 'The story went on until' }]);
    assert.equal(message.usage.output_tokens, 344);
  });

  it("a caller whose input OpenRouter's moderation flags is told so, not that the gateway's credentials were refused", async () => {
    const refused = await openai()
      .chat.completions.create({
        model: 'openai/gpt-4o',
        messages: [{ role: 'user', content: 'you are an idiot, again' }],
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.APIError, String(refused));
    assert.match(refused.message, /flagged/, refused.message);
    // A bad request (a content filter's code, as Azure's), asked of the provider once.
    assert.deepEqual({ status: refused.status, code: refused.code }, { status: 400, code: 'content_filter' });
    assert.equal(seen.filter((call) => JSON.stringify(call.body).includes('idiot, again')).length, 1);
    const event = (await gateway.requestEvents()).at(-1) as
      | { type: string; data: { errorCode?: string; upstreamStatus?: number | null } }
      | undefined;
    assert.deepEqual(
      { type: event?.type, errorCode: event?.data.errorCode, upstreamStatus: event?.data.upstreamStatus },
      { type: 'RequestFailed', errorCode: 'upstream_rejected', upstreamStatus: 403 },
    );
  });

  it("an Anthropic SDK caller whose input OpenRouter's moderation flags gets a 400 saying so", async () => {
    const refused = await anthropic()
      .messages.create({
        model: 'openai/gpt-4o',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'you are an idiot, once more' }],
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.match(refused.message, /flagged/, refused.message);
  });

  it("an input OpenRouter's moderation flags (403 with metadata.reasons) does not disable the org's OpenRouter key", async () => {
    const refused = await openai()
      .chat.completions.create({
        model: 'openai/gpt-4o',
        messages: [{ role: 'user', content: 'you are an idiot' }],
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.APIError, String(refused));
    const disabled = (await gateway.allEvents()).filter((event) => event.type === 'ProviderKeyDisabled');
    assert.deepEqual(
      disabled.map((event) => event.type),
      [],
      "one user's flagged prompt disabled the key for everyone",
    );
    const answer = await openai().chat.completions.create({
      model: 'openai/gpt-4o',
      messages: [{ role: 'user', content: 'Write a haiku' }],
    });
    assert.equal(answer.choices[0]?.message.content, 'Sure.');
  });
});
