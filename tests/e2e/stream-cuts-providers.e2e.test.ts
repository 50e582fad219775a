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
import type { KordonEvent } from '@kordon/events';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/*
 * What a stream that does not end cleanly is charged and how it ends for the caller, for
 * every provider type and both caller dialects (and the Responses API), through the real
 * SDKs. A raw upstream speaks each provider's stream format; the stream is cut (a) by the
 * client after the first text, (b) by an upstream reset mid-stream, (c) by an upstream that
 * goes idle, (d) by a reset after the finish chunk: before the usage and terminator where
 * those come later, after the terminator where the finish chunk is it (Gemini, YandexGPT,
 * Responses' response.completed), which leaves the answer whole.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const WORDS = Array.from({ length: 12 }, (_, i) => ` word${i} alpha beta`);
const PROMPT_TOKENS = 50;
const FULL_OUTPUT_TOKENS = 60;
/** Thinking tokens Gemini reports before the answer's text (Gemini 2.5 thinking models). */
const THOUGHTS = 2000;
/** Text chunks of ~100 tokens each. */
const LONG_WORDS = Array.from({ length: 12 }, (_, i) =>
  Array.from({ length: 50 }, (_, j) => ` lighthouse${i}x${j} keeper`).join(''),
);

type Mode = 'full' | 'client-cut' | 'reset' | 'idle' | 'after-finish';
let mode: Mode = 'full';
interface UpstreamState {
  closed: boolean;
  frames: number;
  path: string;
}
let state: UpstreamState = { closed: true, frames: 0, path: '' };

interface Wire {
  contentType: string;
  /** text frames (each carries one WORD) */
  text: string[];
  /** the finish frame(s) */
  finish: string[];
  /** usage frame(s) and terminator after the finish */
  tail: string[];
}

const sse = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;

function openAIChunk(extra: Record<string, unknown>, choice: Record<string, unknown> | null) {
  return sse({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    ...(choice ? { choices: [{ index: 0, ...choice }] } : { choices: [] }),
    ...extra,
  });
}

const usageOpenAI = {
  prompt_tokens: PROMPT_TOKENS,
  completion_tokens: FULL_OUTPUT_TOKENS,
  total_tokens: 110,
};

/** A Responses API stream event, framed with its type. */
const responsesEvent = (data: { type: string; [field: string]: unknown }) =>
  `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;

function wireFor(path: string): Wire {
  if (new URL(path, 'http://upstream').pathname.endsWith('/responses')) {
    // The Responses API: response.completed (with the usage) is the terminator; nothing follows it.
    const response = { id: 'resp_cut', object: 'response', model: 'gpt-4o-mini', output: [] };
    return {
      contentType: 'text/event-stream',
      text: [
        responsesEvent({
          type: 'response.created',
          sequence_number: 0,
          response: { ...response, status: 'in_progress' },
        }),
        ...WORDS.map((delta, i) =>
          responsesEvent({
            type: 'response.output_text.delta',
            sequence_number: i + 1,
            item_id: 'msg_cut',
            output_index: 0,
            content_index: 0,
            delta,
          }),
        ),
      ],
      finish: [
        responsesEvent({
          type: 'response.completed',
          sequence_number: WORDS.length + 1,
          response: {
            ...response,
            status: 'completed',
            usage: {
              input_tokens: PROMPT_TOKENS,
              input_tokens_details: { cached_tokens: 0 },
              output_tokens: FULL_OUTPUT_TOKENS,
              output_tokens_details: { reasoning_tokens: 0 },
              total_tokens: PROMPT_TOKENS + FULL_OUTPUT_TOKENS,
            },
          },
        }),
      ],
      tail: [],
    };
  }
  if (path.startsWith('/gemini-think/')) {
    // Gemini 2.5 with thinking: the middle chunks report the prompt and the thoughts so far,
    // not yet the answer's tokens (candidatesTokenCount comes with the last chunk).
    const base = { modelVersion: 'gemini-2.5-pro', responseId: 'resp-2' };
    const middle = {
      promptTokenCount: PROMPT_TOKENS,
      totalTokenCount: PROMPT_TOKENS + THOUGHTS,
      thoughtsTokenCount: THOUGHTS,
    };
    return {
      contentType: 'text/event-stream',
      text: LONG_WORDS.map((w) =>
        sse({
          candidates: [{ content: { parts: [{ text: w }], role: 'model' }, index: 0 }],
          usageMetadata: middle,
          ...base,
        }),
      ),
      finish: [
        sse({
          candidates: [{ content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
          usageMetadata: {
            ...middle,
            candidatesTokenCount: 3000,
            totalTokenCount: PROMPT_TOKENS + THOUGHTS + 3000,
          },
          ...base,
        }),
      ],
      tail: [],
    };
  }
  if (path.startsWith('/gemini/')) {
    // Gemini 2.x: every chunk has usageMetadata, the middle ones with the prompt count only.
    const base = { modelVersion: 'gemini-2.5-flash', responseId: 'resp-1' };
    return {
      contentType: 'text/event-stream',
      text: WORDS.map((w) =>
        sse({
          candidates: [{ content: { parts: [{ text: w }], role: 'model' }, index: 0 }],
          usageMetadata: { promptTokenCount: PROMPT_TOKENS, totalTokenCount: PROMPT_TOKENS },
          ...base,
        }),
      ),
      finish: [
        sse({
          candidates: [{ content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
          usageMetadata: {
            promptTokenCount: PROMPT_TOKENS,
            candidatesTokenCount: FULL_OUTPUT_TOKENS,
            totalTokenCount: 110,
          },
          ...base,
        }),
      ],
      tail: [],
    };
  }
  if (path.startsWith('/azure')) {
    const cf = {
      hate: { filtered: false, severity: 'safe' },
      self_harm: { filtered: false, severity: 'safe' },
      sexual: { filtered: false, severity: 'safe' },
      violence: { filtered: false, severity: 'safe' },
    };
    const oldApi = path.startsWith('/azure-old');
    // Azure: a first chunk with the prompt's filter results, sorted keys, choices with filter results.
    const azure = (value: Record<string, unknown>) => sse(value);
    return {
      contentType: 'text/event-stream',
      text: [
        azure({
          choices: [],
          created: 0,
          id: '',
          model: '',
          object: '',
          prompt_filter_results: [{ prompt_index: 0, content_filter_results: cf }],
        }),
        ...WORDS.map((w) =>
          azure({
            choices: [
              {
                content_filter_results: cf,
                delta: { content: w },
                finish_reason: null,
                index: 0,
                logprobs: null,
              },
            ],
            created: 1,
            id: 'chatcmpl-az',
            model: 'gpt-4o-mini-2024-07-18',
            object: 'chat.completion.chunk',
            system_fingerprint: 'fp_1',
          }),
        ),
      ],
      finish: [
        azure({
          choices: [
            { content_filter_results: {}, delta: {}, finish_reason: 'stop', index: 0, logprobs: null },
          ],
          created: 1,
          id: 'chatcmpl-az',
          model: 'gpt-4o-mini-2024-07-18',
          object: 'chat.completion.chunk',
          system_fingerprint: 'fp_1',
          usage: null,
        }),
      ],
      tail: [
        ...(oldApi
          ? []
          : [
              azure({
                choices: [],
                created: 1,
                id: 'chatcmpl-az',
                model: 'gpt-4o-mini-2024-07-18',
                object: 'chat.completion.chunk',
                system_fingerprint: 'fp_1',
                usage: usageOpenAI,
              }),
            ]),
        'data: [DONE]\n\n',
      ],
    };
  }
  if (path.startsWith('/yandex/')) {
    let sent = '';
    const line = (text: string, status: string, output: number) =>
      `${JSON.stringify({
        result: {
          alternatives: [{ message: { role: 'assistant', text }, status }],
          usage: {
            inputTextTokens: String(PROMPT_TOKENS),
            completionTokens: String(output),
            totalTokens: String(PROMPT_TOKENS + output),
          },
          modelVersion: '23.10.2024',
        },
      })}\n`;
    const text = WORDS.map((w, i) => {
      sent += w;
      return line(sent, 'ALTERNATIVE_STATUS_PARTIAL', (i + 1) * 5);
    });
    return {
      contentType: 'application/json',
      text,
      finish: [line(sent, 'ALTERNATIVE_STATUS_FINAL', FULL_OUTPUT_TOKENS)],
      tail: [],
    };
  }
  if (path.startsWith('/giga/')) {
    const base = { created: 1, model: 'GigaChat:1.0.26.20', object: 'chat.completion' };
    return {
      contentType: 'text/event-stream',
      text: WORDS.map((w, i) =>
        sse({
          ...base,
          choices: [{ delta: i === 0 ? { content: w, role: 'assistant' } : { content: w }, index: 0 }],
        }),
      ),
      finish: [
        sse({
          ...base,
          choices: [{ delta: { content: '' }, index: 0, finish_reason: 'stop' }],
          usage: { ...usageOpenAI, precached_prompt_tokens: 0 },
        }),
      ],
      tail: ['data: [DONE]\n\n'],
    };
  }
  // OpenAI-compatible vendors
  const vendor = /^\/compat-([a-z]+)\//.exec(path)?.[1] ?? 'generic';
  const text = WORDS.map((w, i) =>
    openAIChunk(
      {},
      {
        delta: i === 0 ? { role: 'assistant', content: w } : { content: w },
        logprobs: null,
        finish_reason: null,
      },
    ),
  );
  if (vendor === 'groq') {
    return {
      contentType: 'text/event-stream',
      text,
      finish: [
        openAIChunk(
          {
            x_groq: {
              id: 'req_1',
              usage: {
                queue_time: 0.01,
                ...usageOpenAI,
                prompt_time: 0.001,
                completion_time: 0.01,
                total_time: 0.02,
              },
            },
          },
          { delta: {}, logprobs: null, finish_reason: 'stop' },
        ),
      ],
      tail: [openAIChunk({ usage: usageOpenAI }, null), 'data: [DONE]\n\n'],
    };
  }
  if (vendor === 'deepseek') {
    // DeepSeek: usage in the finish chunk (include_usage asked), then [DONE].
    return {
      contentType: 'text/event-stream',
      text,
      finish: [openAIChunk({}, { delta: { content: '' }, logprobs: null, finish_reason: 'stop' })],
      tail: [openAIChunk({ usage: usageOpenAI }, null), 'data: [DONE]\n\n'],
    };
  }
  if (vendor === 'openrouter') {
    return {
      contentType: 'text/event-stream',
      text: [': OPENROUTER PROCESSING\n\n', ...text],
      finish: [openAIChunk({}, { delta: { content: '' }, logprobs: null, finish_reason: 'stop' })],
      tail: [openAIChunk({ usage: { ...usageOpenAI, cost: 0.00042 } }, null), 'data: [DONE]\n\n'],
    };
  }
  return {
    contentType: 'text/event-stream',
    text,
    finish: [openAIChunk({}, { delta: {}, logprobs: null, finish_reason: 'stop' })],
    tail: [openAIChunk({ usage: usageOpenAI }, null), 'data: [DONE]\n\n'],
  };
}

async function serve(req: IncomingMessage, res: ServerResponse) {
  for await (const _ of req) {
    // body
  }
  const path = req.url ?? '';
  if (path.startsWith('/oauth')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ access_token: 'giga-token-abcdefghijklmnop', expires_at: Date.now() + 30 * 60_000 }),
    );
    return;
  }
  const mine: UpstreamState = { closed: false, frames: 0, path };
  state = mine;
  res.on('close', () => {
    mine.closed = true;
  });
  const wire = wireFor(path);
  res.writeHead(200, { 'content-type': wire.contentType });
  const send = async (frames: string[]) => {
    for (const f of frames) {
      if (mine.closed) return;
      res.write(f);
      mine.frames++;
      await sleep(5);
    }
  };
  switch (mode) {
    case 'full':
      await send([...wire.text, ...wire.finish, ...wire.tail]);
      res.end();
      return;
    case 'client-cut':
      await send(wire.text.slice(0, 3));
      // the client leaves; then the rest would come slowly
      for (let i = 0; i < 200 && !mine.closed; i++) await sleep(25);
      if (!mine.closed) await send([...wire.text.slice(3), ...wire.finish, ...wire.tail]);
      res.end();
      return;
    case 'reset':
      await send(wire.text.slice(0, 6));
      await sleep(30);
      res.socket?.resetAndDestroy();
      return;
    case 'idle':
      await send(wire.text.slice(0, 6));
      for (let i = 0; i < 200 && !mine.closed; i++) await sleep(25);
      res.end();
      return;
    case 'after-finish':
      await send([...wire.text, ...wire.finish]);
      await sleep(30);
      res.socket?.resetAndDestroy();
      return;
  }
}

interface Case {
  name: string;
  model: string;
  /** the provider reports the output tokens incrementally and could be double-counted */
  priced: boolean;
  /** The finish chunk is the provider's terminator (Gemini, YandexGPT): nothing is owed after it. */
  finishIsTerminator?: boolean;
}

const CASES: Case[] = [
  { name: 'gemini', model: 'gemini-2.5-flash', priced: true, finishIsTerminator: true },
  { name: 'azure (2024-10-21)', model: 'gpt-4o-mini', priced: true },
  { name: 'azure (2024-06-01, no stream_options)', model: 'az-old', priced: true },
  { name: 'deepseek', model: 'deepseek-chat', priced: true },
  { name: 'groq', model: 'llama-3.3-70b-versatile', priced: true },
  { name: 'ollama', model: 'llama3.2', priced: true },
  { name: 'vllm', model: 'qwen', priced: true },
  { name: 'openrouter', model: 'openai/gpt-4o-mini', priced: true },
  { name: 'yandexgpt', model: 'yandexgpt/latest', priced: false, finishIsTerminator: true },
  { name: 'gigachat', model: 'GigaChat', priced: false },
];

describe('stream cuts, every provider type, both caller dialects', () => {
  let upstream: Server;
  let oauth: HttpsServer;
  let k: KordonUnderTest;
  let key: string;

  before(async () => {
    // GigaChat's OAuth URL must be https in the config file: a self-signed one, trusted as caCertificate.
    const dir = mkdtempSync(join(tmpdir(), 'stream-cuts-tls-'));
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
    oauth = createHttpsServer({ cert, key: tlsKey }, (req, res) => {
      serve(req, res).catch(() => {});
    });
    await new Promise<void>((r) => oauth.listen(0, '127.0.0.1', r));
    const oauthUrl = `https://127.0.0.1:${(oauth.address() as AddressInfo).port}/oauth`;
    const caLines = cert
      .trim()
      .split('\n')
      .map((line) => `          ${line}`)
      .join('\n');
    upstream = createServer((req, res) => {
      serve(req, res).catch(() => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const timeouts = '{ idleMs: 400, firstByteMs: 3000, totalMs: 20000 }';
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      deepseek-chat: { input: 0.27, output: 1.1, currency: USD }
      llama-3.3-70b-versatile: { input: 0.59, output: 0.79, currency: USD }
      llama3.2: { input: 0.1, output: 0.1, currency: USD }
      qwen: { input: 0.1, output: 0.1, currency: USD }
      az-old: { input: 0.15, output: 0.6, currency: USD }
    providers:
      - name: gemini
        type: gemini
        baseUrl: ${base}/gemini
        models: [gemini-2.5-flash]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "AIzaSyA-gemini-key-abcdefghijklmnopqrstu" }]
      - name: gemini-think
        type: gemini
        baseUrl: ${base}/gemini-think
        models: [gemini-2.5-pro]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "AIzaSyA-gemini-key-abcdefghijklmnopqrstv" }]
      - name: azure
        type: azure-openai
        baseUrl: ${base}/azure
        apiVersion: "2024-10-21"
        deployments: { gpt-4o-mini: mini-dep }
        models: [gpt-4o-mini]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "azurekey0123456789abcdef0123456789" }]
      - name: azure-old
        type: azure-openai
        baseUrl: ${base}/azure-old
        apiVersion: "2024-06-01"
        models: [az-old]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "azurekey0123456789abcdef0123456780" }]
      - name: deepseek
        type: openai-compatible
        vendor: deepseek
        baseUrl: ${base}/compat-deepseek/v1
        models: [deepseek-chat]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "sk-deepseek-abcdefghijklmnopqrstuvwxyz" }]
      - name: groq
        type: openai-compatible
        vendor: groq
        baseUrl: ${base}/compat-groq/v1
        models: [llama-3.3-70b-versatile]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "gsk_groqabcdefghijklmnopqrstuvwxyz" }]
      - name: ollama
        type: openai-compatible
        vendor: ollama
        baseUrl: ${base}/compat-ollama/v1
        models: [llama3.2]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "ollama-local-key-abcdefgh" }]
      - name: vllm
        type: openai-compatible
        vendor: vllm
        baseUrl: ${base}/compat-vllm/v1
        models: [qwen]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "vllm-key-abcdefghijklmnop" }]
      - name: openrouter
        type: openai-compatible
        vendor: openrouter
        baseUrl: ${base}/compat-openrouter/v1
        models: [openai/gpt-4o-mini]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "sk-or-v1-abcdefghijklmnopqrstuvwxyz" }]
      - name: yandex
        type: yandexgpt
        baseUrl: ${base}/yandex
        folderId: b1gfolder
        models: [yandexgpt/latest]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "AQVNyandexkeyabcdefghijklmnop" }]
      - name: giga
        type: gigachat
        baseUrl: ${base}/giga/api/v1
        oauthUrl: ${oauthUrl}
        caCertificate: |
${caLines}
        scope: GIGACHAT_API_PERS
        models: [GigaChat]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "Z2lnYWNoYXQta2V5LWFiY2RlZmdoaWprbG1ub3A=" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
    key = k.proxyKeys.get('dev@acme.test--laptop')!;
  });
  after(async () => {
    await k?.stop();
    await new Promise((r) => upstream?.close(r));
    await new Promise((r) => oauth?.close(r));
  });

  const eventsOf = async (requestId: string | null | undefined): Promise<KordonEvent[]> => {
    for (let i = 0; i < 60; i++) {
      const events = (await k.requestEvents()).filter(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
      if (events.length > 0) {
        await sleep(100);
        return (await k.requestEvents()).filter(
          (e) => (e.data as { requestId?: string }).requestId === requestId,
        );
      }
      await sleep(50);
    }
    return [];
  };

  const prompt = 'Tell me a long story about a cat who lives in a lighthouse by the sea.';

  async function openaiRun(model: string, includeUsage: boolean) {
    const client = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
    const controller = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create(
        {
          model,
          stream: true,
          ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
          messages: [{ role: 'user', content: prompt }],
        },
        { signal: controller.signal },
      )
      .withResponse();
    const requestId = response.headers.get('x-request-id');
    let text = '';
    let error: unknown;
    try {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        if (mode === 'client-cut' && text.length > 0) {
          controller.abort();
          break;
        }
      }
    } catch (e) {
      error = e;
    }
    return { requestId, text, error };
  }

  async function responsesRun(model: string) {
    const client = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
    const controller = new AbortController();
    const { data: stream, response } = await client.responses
      .create({ model, stream: true, input: prompt }, { signal: controller.signal })
      .withResponse();
    const requestId = response.headers.get('x-request-id');
    let text = '';
    let error: unknown;
    let completed = false;
    try {
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed') completed = true;
        if (mode === 'client-cut' && text.length > 0) {
          controller.abort();
          break;
        }
      }
    } catch (e) {
      error = e;
    }
    return { requestId, text, error, completed };
  }

  async function anthropicRun(model: string) {
    const client = new Anthropic({ baseURL: k.url, apiKey: key, maxRetries: 0 });
    const controller = new AbortController();
    const { data: stream, response } = await client.messages
      .create(
        { model, max_tokens: 500, stream: true, messages: [{ role: 'user', content: prompt }] },
        { signal: controller.signal },
      )
      .withResponse();
    const requestId = response.headers.get('x-request-id');
    let text = '';
    let error: unknown;
    let stopped = false;
    try {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
          text += event.delta.text;
        if (event.type === 'message_stop') stopped = true;
        if (mode === 'client-cut' && text.length > 0) {
          controller.abort();
          break;
        }
      }
    } catch (e) {
      error = e;
    }
    return { requestId, text, error, stopped };
  }

  function checkUsage(c: Case, event: KordonEvent, what: string, textLength: number) {
    const data = event.data as {
      usage: { inputTokens: number; outputTokens: number };
      cost: string | null;
      errorCode?: string;
    };
    const detail = `${what}: ${JSON.stringify({ type: event.type, errorCode: data.errorCode, usage: data.usage, cost: data.cost })}`;
    assert.ok(data.usage.inputTokens > 0, `input tokens counted from the prompt: ${detail}`);
    assert.ok(data.usage.outputTokens > 0, `output tokens counted: ${detail}`);
    // never more than the whole answer's output, nor double the text actually streamed
    assert.ok(data.usage.outputTokens <= FULL_OUTPUT_TOKENS, `not double-counted: ${detail}`);
    // the streamed text is ~1 token per 3 characters at most
    assert.ok(
      data.usage.outputTokens <= Math.max(FULL_OUTPUT_TOKENS, textLength),
      `output bounded by text: ${detail}`,
    );
    if (c.priced) assert.ok(data.cost !== null && Number(data.cost) > 0, `priced: ${detail}`);
  }

  for (const dialect of ['openai', 'anthropic'] as const) {
    it(`gemini 2.5 thinking, ${dialect} caller, upstream reset mid-answer: the thoughts AND the text streamed are charged`, async () => {
      mode = 'reset';
      const run =
        dialect === 'openai'
          ? await openaiRun('gemini-2.5-pro', false)
          : await anthropicRun('gemini-2.5-pro');
      assert.ok(run.error, 'the stream broke');
      const events = await eventsOf(run.requestId);
      assert.equal(events.length, 1);
      const data = events[0]!.data as {
        usage: { inputTokens: number; outputTokens: number; reasoningTokens?: number };
        cost: string | null;
      };
      // 6 chunks of ~100-300 tokens each reached the caller after 2000 thinking tokens
      assert.ok(run.text.length > 3000, `text streamed: ${run.text.length} chars`);
      assert.ok(
        data.usage.outputTokens >= THOUGHTS + 300,
        `output charged ${data.usage.outputTokens} tokens: the ${THOUGHTS} thoughts Gemini reported plus the ${run.text.length} characters of text streamed (at least 300 tokens) are both output`,
      );
    });
  }

  for (const c of CASES) {
    // Each provider has one key, and a stream the provider breaks counts against it: five in a
    // row open its circuit. A whole answer between the cuts keeps the key in use.
    for (const m of ['reset', 'idle', 'full', 'client-cut', 'after-finish'] as const) {
      it(`${c.name}, OpenAI SDK caller, ${m}`, async () => {
        mode = m;
        const run = await openaiRun(c.model, true);
        if (m === 'client-cut') {
          for (let i = 0; i < 100 && !state.closed; i++) await sleep(20);
          assert.ok(state.closed, 'the upstream call was aborted');
        }
        const events = await eventsOf(run.requestId);
        assert.equal(events.length, 1, `exactly one event: ${events.map((e) => e.type).join(',')}`);
        const event = events[0]!;
        if (m === 'full' || (m === 'after-finish' && c.finishIsTerminator)) {
          // after-finish on a provider whose finish chunk is its terminator: the answer is whole
          // (the dialect says so, not the transport), a reset after it changes nothing.
          assert.equal(run.error, undefined, `the complete answer raised in the SDK: ${String(run.error)}`);
          assert.equal(event.type, 'RequestCompleted');
        } else if (m === 'client-cut') {
          assert.equal(event.type, 'RequestFailed');
          assert.equal((event.data as { errorCode: string }).errorCode, 'client_disconnected');
        } else {
          assert.ok(
            run.error,
            `the SDK raised: the stream was not complete (text: ${run.text.length} chars)`,
          );
          assert.equal(event.type, 'RequestFailed');
          assert.equal((event.data as { errorCode: string }).errorCode, 'stream_interrupted');
        }
        checkUsage(c, event, `${c.name} openai ${m}`, run.text.length);
      });
      it(`${c.name}, Anthropic SDK caller, ${m}`, async () => {
        mode = m;
        const run = await anthropicRun(c.model);
        if (m === 'client-cut') {
          for (let i = 0; i < 100 && !state.closed; i++) await sleep(20);
          assert.ok(state.closed, 'the upstream call was aborted');
        }
        const events = await eventsOf(run.requestId);
        assert.equal(events.length, 1, `exactly one event: ${events.map((e) => e.type).join(',')}`);
        const event = events[0]!;
        if (m === 'full' || (m === 'after-finish' && c.finishIsTerminator)) {
          assert.ok(run.stopped, 'message_stop');
          assert.equal(
            run.error,
            undefined,
            `message_stop was sent, then the SDK raised on an error event: ${String(run.error)}`,
          );
          assert.equal(event.type, 'RequestCompleted');
        } else if (m === 'client-cut') {
          assert.equal(event.type, 'RequestFailed');
          assert.equal((event.data as { errorCode: string }).errorCode, 'client_disconnected');
        } else {
          assert.ok(
            run.error,
            `the SDK raised: the stream was not complete (text: ${run.text.length} chars)`,
          );
          assert.ok(!run.stopped, 'no message_stop');
          assert.equal(event.type, 'RequestFailed');
          assert.equal((event.data as { errorCode: string }).errorCode, 'stream_interrupted');
        }
        checkUsage(c, event, `${c.name} anthropic ${m}`, run.text.length);
      });
    }
  }

  const azureResponses: Case = { name: 'azure Responses API', model: 'gpt-4o-mini', priced: true };
  for (const m of ['full', 'client-cut', 'reset', 'idle', 'after-finish'] as const) {
    it(`${azureResponses.name}, OpenAI SDK caller, ${m}`, async () => {
      mode = m;
      const run = await responsesRun(azureResponses.model);
      if (m === 'client-cut') {
        for (let i = 0; i < 100 && !state.closed; i++) await sleep(20);
        assert.ok(state.closed, 'the upstream call was aborted');
      }
      const events = await eventsOf(run.requestId);
      assert.equal(events.length, 1, `exactly one event: ${events.map((e) => e.type).join(',')}`);
      const event = events[0]!;
      if (m === 'full' || m === 'after-finish') {
        // response.completed is the terminator: a reset after it changes nothing.
        assert.ok(run.completed, 'response.completed');
        assert.equal(run.error, undefined, `the complete answer raised in the SDK: ${String(run.error)}`);
        assert.equal(event.type, 'RequestCompleted');
      } else if (m === 'client-cut') {
        assert.equal(event.type, 'RequestFailed');
        assert.equal((event.data as { errorCode: string }).errorCode, 'client_disconnected');
      } else {
        assert.ok(run.error, `the SDK raised: the stream was not complete (text: ${run.text.length} chars)`);
        assert.ok(!run.completed, 'no response.completed');
        assert.equal(event.type, 'RequestFailed');
        assert.equal((event.data as { errorCode: string }).errorCode, 'stream_interrupted');
      }
      checkUsage(azureResponses, event, `${azureResponses.name} ${m}`, run.text.length);
    });
  }
});
