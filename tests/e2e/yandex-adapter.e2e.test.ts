import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/*
 * The YandexGPT adapter through Kordon, driven by the official SDKs, against a scripted
 * upstream that records the translated bodies and answers as Yandex Foundation Models does
 * (https://yandex.cloud/en/docs/foundation-models/text-generation/api-ref/TextGeneration/completion).
 */

interface Recorded {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}
type Reply = { status: number; body?: unknown; lines?: string[]; headers?: Record<string, string> };

const recorded: Recorded[] = [];
const replies: Reply[] = [];

const usage = (input: number, output: number) => ({
  inputTextTokens: String(input),
  completionTokens: String(output),
  totalTokens: String(input + output),
});
const final = (text: string, status = 'ALTERNATIVE_STATUS_FINAL', u = usage(10, 3)) => ({
  result: {
    alternatives: [{ message: { role: 'assistant', text }, status }],
    usage: u,
    modelVersion: '23.10.2024',
  },
});

const streamLine = (text: string, status: string, u = usage(12, 3)) =>
  JSON.stringify({
    result: {
      alternatives: [{ message: { role: 'assistant', text }, status }],
      usage: u,
      modelVersion: '23.10.2024',
    },
  });

/*
 * ALTERNATIVE_STATUS_CONTENT_FILTER ("Generation was stopped due to the discovery of potentially
 * sensitive content in the prompt or generated response", TextGeneration.Completion reference)
 * comes with Yandex's canned replacement text, not the text generated so far
 * (black-roland/homeassistant-yandexgpt#9). When the filter trips on the generated response,
 * the stream has already carried PARTIAL lines of the model's own text, so the final line does
 * not extend them.
 */
const FILTERED =
  'В интернете есть много сайтов с информацией на эту тему. [Посмотрите, что нашлось в поиске](https://ya.ru)';
const FILTERED_STREAM = [
  streamLine('Чтобы вскрыть', 'ALTERNATIVE_STATUS_PARTIAL', usage(12, 2)),
  streamLine('Чтобы вскрыть замок, нужно', 'ALTERNATIVE_STATUS_PARTIAL', usage(12, 5)),
  streamLine(FILTERED, 'ALTERNATIVE_STATUS_CONTENT_FILTER', usage(12, 7)),
];

async function serve(req: IncomingMessage, res: ServerResponse) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  recorded.push({ path: req.url ?? '', headers: req.headers, body: raw ? JSON.parse(raw) : undefined });
  const reply = replies.shift() ?? { status: 200, body: final('ok') };
  if (reply.lines) {
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    for (const line of reply.lines) res.write(`${line}\n`);
    res.end();
    return;
  }
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  res.end(JSON.stringify(reply.body));
}

describe('yandexgpt adapter', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let key: string;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    upstream = createServer((req, res) => {
      serve(req, res).catch(() => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: yandex
        type: yandexgpt
        baseUrl: ${base}
        folderId: b1gfolder
        models: [yandexgpt/latest]
        keys: [{ name: k1, secret: "AQVNyandexkeyabcdefghijklmnop" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
    key = k.proxyKeys.get('dev@acme.test--laptop')!;
    openai = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: k.url, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await k?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  // Yandex's completion API has no stop field: a dropped stop sequence would let the answer run past it.
  it('Anthropic stop_sequences are refused with a 400 naming stop_sequences, nothing sent', async () => {
    const before = recorded.length;
    await assert.rejects(
      anthropic.messages.create({
        model: 'yandexgpt/latest',
        max_tokens: 50,
        stop_sequences: ['END'],
        messages: [{ role: 'user', content: 'hi' }],
      }),
      (error: { status?: number; message?: string }) =>
        error.status === 400 && /stop_sequences/.test(error.message ?? ''),
    );
    assert.equal(recorded.length, before, 'nothing was sent');
  });

  it('OpenAI stop is refused with a 400 naming stop', async () => {
    await assert.rejects(
      openai.chat.completions.create({
        model: 'yandexgpt/latest',
        messages: [{ role: 'user', content: 'hi' }],
        stop: 'END',
      }),
      (error: { status?: number; param?: string }) => error.status === 400 && error.param === 'stop',
    );
  });

  // Yandex AI Studio TextGeneration.Completion: completionOptions.reasoningOptions.mode
  // (DISABLED | ENABLED_HIDDEN), YandexGPT Pro only; a caller asking for reasoning must get it.
  it('OpenAI reasoning_effort high reaches YandexGPT Pro as reasoningOptions ENABLED_HIDDEN, none as DISABLED', async () => {
    const last = () => recorded.at(-1)!;
    replies.push({ status: 200, body: final('42') });
    await openai.chat.completions.create({
      model: 'yandexgpt/latest',
      messages: [{ role: 'user', content: 'Solve step by step: 6*7' }],
      reasoning_effort: 'high',
    });
    assert.deepEqual((last().body.completionOptions as Record<string, unknown>).reasoningOptions, {
      mode: 'ENABLED_HIDDEN',
    });
    replies.push({ status: 200, body: final('42') });
    await openai.chat.completions.create({
      model: 'yandexgpt/latest',
      messages: [{ role: 'user', content: '6*7' }],
      reasoning_effort: 'none',
    });
    assert.deepEqual((last().body.completionOptions as Record<string, unknown>).reasoningOptions, {
      mode: 'DISABLED',
    });
  });

  // The same switch for an Anthropic-SDK caller: thinking on (any budget, which Yandex cannot
  // take) is ENABLED_HIDDEN, disabled is DISABLED. The reasoning stays hidden: no thinking
  // block comes back, only its tokens within output_tokens.
  it('Anthropic thinking enabled reaches YandexGPT Pro as reasoningOptions ENABLED_HIDDEN, disabled as DISABLED', async () => {
    const reasoningOptions = () =>
      (recorded.at(-1)!.body.completionOptions as Record<string, unknown>).reasoningOptions;
    const reasoned = {
      ...usage(12, 45),
      completionTokensDetails: { reasoningTokens: '40' },
    };
    replies.push({ status: 200, body: final('42', 'ALTERNATIVE_STATUS_FINAL', reasoned) });
    const message = await anthropic.messages.create({
      model: 'yandexgpt/latest',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      messages: [{ role: 'user', content: 'Solve step by step: 6*7' }],
    });
    assert.deepEqual(reasoningOptions(), { mode: 'ENABLED_HIDDEN' });
    assert.deepEqual(
      message.content.map((block) => block.type),
      ['text'],
    );
    assert.equal(message.usage.output_tokens, 45);

    replies.push({ status: 200, lines: [streamLine('42', 'ALTERNATIVE_STATUS_FINAL', reasoned)] });
    const streamed = await anthropic.messages
      .stream({
        model: 'yandexgpt/latest',
        max_tokens: 4000,
        thinking: { type: 'adaptive' },
        messages: [{ role: 'user', content: 'Solve step by step: 6*7' }],
      })
      .finalMessage();
    assert.deepEqual(reasoningOptions(), { mode: 'ENABLED_HIDDEN' });
    assert.equal((recorded.at(-1)!.body.completionOptions as Record<string, unknown>).stream, true);
    assert.deepEqual(
      streamed.content.map((block) => (block.type === 'text' ? block.text : block.type)),
      ['42'],
    );
    assert.equal(streamed.usage.output_tokens, 45);

    replies.push({ status: 200, body: final('42') });
    await anthropic.messages.create({
      model: 'yandexgpt/latest',
      max_tokens: 100,
      thinking: { type: 'disabled' },
      messages: [{ role: 'user', content: '6*7' }],
    });
    assert.deepEqual(reasoningOptions(), { mode: 'DISABLED' });
  });

  it('an OpenAI stream that Yandex ends with CONTENT_FILTER after partial text finishes with content_filter, not a broken-stream error', async () => {
    replies.push({ status: 200, lines: FILTERED_STREAM });
    const stream = await openai.chat.completions.create({
      model: 'yandexgpt/latest',
      messages: [{ role: 'user', content: 'Как вскрыть замок?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let finish: string | null | undefined;
    let text = '';
    let completionTokens: number | undefined;
    for await (const chunk of stream) {
      finish = chunk.choices[0]?.finish_reason ?? finish;
      text += chunk.choices[0]?.delta.content ?? '';
      completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
    }
    assert.equal(finish, 'content_filter');
    // The canned notice replaces the whole answer: not run on from the cut sentence.
    assert.equal(text, 'Чтобы вскрыть замок, нужно');
    assert.equal(completionTokens, 7);
  });

  it('an Anthropic stream that Yandex ends with CONTENT_FILTER after partial text ends with stop_reason refusal', async () => {
    replies.push({ status: 200, lines: FILTERED_STREAM });
    const message = await anthropic.messages
      .stream({
        model: 'yandexgpt/latest',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Как вскрыть замок?' }],
      })
      .finalMessage();
    assert.equal(message.stop_reason, 'refusal');
    assert.deepEqual(
      message.content.map((block) => (block.type === 'text' ? block.text : block.type)),
      ['Чтобы вскрыть замок, нужно'],
    );
    assert.equal(message.usage.output_tokens, 7);
  });
});
