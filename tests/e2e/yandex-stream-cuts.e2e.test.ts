import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { KordonEvent } from '@kordon/events';
import OpenAI from 'openai';
import type { MockHttpServer } from '../../services/gateway/src/providers/provider-mock-server.js';
import { startYandexGPTMock } from '../../services/gateway/src/providers/yandexgpt/yandexgpt-mock.js';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/*
 * A YandexGPT stream cut mid-way, through the real server and the official SDKs, against the
 * Yandex mock (NDJSON lines of cumulative text, each with the running usage): a reset, an idle
 * timeout, a total timeout and the caller leaving. With hidden reasoning (reasoningOptions
 * ENABLED_HIDDEN) the model reasons before it writes, and every line's usage counts those
 * tokens within completionTokens: the request is charged what Yandex reported on the last line
 * it got, reasoning once, not Kordon's count of the text streamed. An OpenAI caller sees no
 * usage chunk mid-stream, whether it asked for include_usage or not.
 */

const API_KEY = 'AQVNyandexcutsabcdefghijklmnop';
const FOLDER = 'b1gcutsfolder';
const REASONING = 700;
/**
 * The mock's frames come this far apart: the total limit below (2 s) fits a few, and the first
 * line well within it on a loaded machine; the whole answer (10 lines or more, at least 2.7 s
 * of the mock's own pauses) never does.
 */
const FRAME_DELAY_MS = 300;
/**
 * The idle mock's: well past the idle limit (undici runs it on a timer wheel with about half a
 * second of slack).
 */
const IDLE_FRAME_DELAY_MS = 2500;
const PROMPT =
  'Explain step by step why the lighthouse keeper counted the ships that passed his rock every night';
const PRICE_PER_MILLION = 1200;

interface YandexLine {
  text: string;
  usage: { inputTextTokens: number; completionTokens: number; reasoningTokens: number };
}

interface Charged {
  usage: { inputTokens: number; outputTokens: number; reasoningTokens?: number };
  cost: string | null;
  currency?: string;
  errorCode?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('yandexgpt streams cut mid-way are charged the usage Yandex reported', () => {
  let mock: MockHttpServer;
  let idleMock: MockHttpServer;
  let k: KordonUnderTest;
  let key: string;
  /** The mock's whole answer to PROMPT with hidden reasoning, line by line, as Yandex reports it. */
  let lines: YandexLine[];

  before(async () => {
    mock = await startYandexGPTMock({
      apiKeys: [API_KEY],
      folderId: FOLDER,
      reasoningTokens: REASONING,
      frameDelayMs: FRAME_DELAY_MS,
    });
    idleMock = await startYandexGPTMock({
      apiKeys: [API_KEY],
      folderId: FOLDER,
      reasoningTokens: REASONING,
      frameDelayMs: IDLE_FRAME_DELAY_MS,
    });
    const provider = (name: string, timeouts: string, url = mock.url) => `
      - name: ${name}
        type: yandexgpt
        baseUrl: ${url}
        folderId: ${FOLDER}
        models: [yandexgpt/latest]
        timeouts: ${timeouts}
        keys: [{ name: k1, secret: "${API_KEY}" }]`;
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      yandexgpt: { input: ${PRICE_PER_MILLION}, output: ${PRICE_PER_MILLION}, currency: RUB }
    providers:${provider('yx', '{ idleMs: 5000, totalMs: 30000 }')}${provider('yx-idle', '{ idleMs: 500, totalMs: 30000 }', idleMock.url)}${provider('yx-total', '{ idleMs: 5000, totalMs: 2000 }')}
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
    key = k.proxyKeys.get('dev@acme.test--laptop')!;
    // The same request as Kordon sends it, straight to the mock (no scenario): every line.
    const response = await fetch(`${mock.url}/foundationModels/v1/completion`, {
      method: 'POST',
      headers: {
        authorization: `Api-Key ${API_KEY}`,
        'content-type': 'application/json',
        'x-mock-scenario': '',
      },
      body: JSON.stringify({
        modelUri: `gpt://${FOLDER}/yandexgpt/latest`,
        completionOptions: { stream: true, reasoningOptions: { mode: 'ENABLED_HIDDEN' } },
        messages: [{ role: 'user', text: PROMPT }],
      }),
    });
    lines = (await response.text())
      .trim()
      .split('\n')
      .map((raw) => {
        const { result } = JSON.parse(raw) as {
          result: {
            alternatives: { message: { text: string } }[];
            usage: {
              inputTextTokens: string;
              completionTokens: string;
              completionTokensDetails?: { reasoningTokens: string };
            };
          };
        };
        return {
          text: result.alternatives[0]!.message.text,
          usage: {
            inputTextTokens: Number(result.usage.inputTextTokens),
            completionTokens: Number(result.usage.completionTokens),
            reasoningTokens: Number(result.usage.completionTokensDetails?.reasoningTokens ?? 0),
          },
        };
      });
    assert.ok(lines.length >= 10, `a long enough answer: ${lines.length} lines`);
  });
  after(async () => {
    await k?.stop();
    await mock?.close();
    await idleMock?.close();
  });

  const eventOf = async (requestId: string | null): Promise<KordonEvent> => {
    for (let i = 0; i < 100; i++) {
      const found = (await k.requestEvents()).filter(
        (e) => (e.data as { requestId?: string }).requestId === requestId,
      );
      if (found.length > 0) {
        assert.equal(found.length, 1, 'one event a request');
        return found[0]!;
      }
      await sleep(50);
    }
    assert.fail(`no event for ${requestId}`);
  };

  /** Streams through the OpenAI SDK with reasoning asked for; `leave` aborts after the first text. */
  async function openaiStream(model: string, options: { includeUsage: boolean; leave?: boolean }) {
    const client = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
    const controller = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create(
        {
          model,
          stream: true,
          reasoning_effort: 'high',
          ...(options.includeUsage ? { stream_options: { include_usage: true } } : {}),
          messages: [{ role: 'user', content: PROMPT }],
        },
        { signal: controller.signal },
      )
      .withResponse();
    let text = '';
    let usageChunks = 0;
    let error: unknown;
    try {
      for await (const chunk of stream) {
        if (chunk.usage) usageChunks += 1;
        text += chunk.choices[0]?.delta?.content ?? '';
        if (options.leave && text.length > 0) {
          controller.abort();
          break;
        }
      }
    } catch (e) {
      error = e;
    }
    return { requestId: response.headers.get('x-request-id'), text, usageChunks, error };
  }

  /** The line whose text is `text`: what Yandex had reported when the caller got that far. */
  const lineOf = (text: string): YandexLine => {
    const line = lines.find((l) => l.text === text);
    assert.ok(line, `a line of the mock's answer ends at ${JSON.stringify(text.slice(-40))}`);
    return line;
  };

  function assertCharged(event: KordonEvent, line: YandexLine, errorCode: string) {
    assert.equal(event.type, 'RequestFailed');
    const data = event.data as Charged;
    assert.equal(data.errorCode, errorCode);
    const expected = {
      inputTokens: line.usage.inputTextTokens,
      outputTokens: line.usage.completionTokens,
      reasoningTokens: REASONING,
    };
    assert.deepEqual(
      {
        inputTokens: data.usage.inputTokens,
        outputTokens: data.usage.outputTokens,
        reasoningTokens: data.usage.reasoningTokens,
      },
      expected,
      `charged Yandex's usage of its last line (reasoning within the output, once): ${JSON.stringify(data.usage)}`,
    );
    assert.equal(line.usage.reasoningTokens, REASONING);
    assert.ok(line.usage.completionTokens > REASONING, 'the text streamed is in the output too');
    assert.equal(data.currency, 'RUB');
    // 1200 RUB per million input or output tokens: 0.0012 RUB a token.
    assert.equal(
      Math.round(Number(data.cost) * 1e4),
      (expected.inputTokens + expected.outputTokens) * 12,
      `cost ${data.cost}`,
    );
  }

  for (const includeUsage of [true, false]) {
    it(`an upstream reset mid-answer (include_usage ${includeUsage}): Yandex's usage, no usage chunk to the caller`, async () => {
      mock.setScenario('reset-mid-stream=4');
      try {
        const run = await openaiStream('yx/yandexgpt/latest', { includeUsage });
        assert.ok(run.error, 'the SDK raised: the stream was cut');
        assert.equal(run.usageChunks, 0, 'no usage chunk mid-stream');
        assertCharged(await eventOf(run.requestId), lineOf(run.text), 'stream_interrupted');
        assert.equal(lineOf(run.text), lines[3], 'four lines reached the caller');
      } finally {
        mock.setScenario(undefined);
      }
    });
  }

  it('an idle timeout mid-answer: Yandex usage of the last line, hidden reasoning included', async () => {
    const run = await openaiStream('yx-idle/yandexgpt/latest', { includeUsage: true });
    assert.ok(run.error, 'the SDK raised: the stream was cut');
    assert.equal(run.usageChunks, 0);
    assertCharged(await eventOf(run.requestId), lineOf(run.text), 'stream_interrupted');
  });

  it('the total timeout mid-answer: Yandex usage of the last line, hidden reasoning included', async () => {
    const run = await openaiStream('yx-total/yandexgpt/latest', { includeUsage: true });
    assert.ok(run.error, 'the SDK raised: the stream was cut');
    assert.equal(run.usageChunks, 0);
    assert.ok(run.text.length > 0 && run.text !== lines.at(-1)!.text, 'cut part way');
    assertCharged(await eventOf(run.requestId), lineOf(run.text), 'stream_interrupted');
  });

  it('the caller leaving after the first text: Yandex usage of the last line Kordon got', async () => {
    const run = await openaiStream('yx/yandexgpt/latest', { includeUsage: true, leave: true });
    const event = await eventOf(run.requestId);
    // Kordon may have read a line or two more than the caller took before it saw it leave.
    const got = lines.find((l) => l.usage.completionTokens === (event.data as Charged).usage.outputTokens);
    assert.ok(got, `the output charged is one line's: ${JSON.stringify((event.data as Charged).usage)}`);
    assert.ok(got.text.startsWith(run.text), 'a line at or after what the caller got');
    assert.notEqual(got, lines.at(-1), 'not the whole answer');
    assertCharged(event, got, 'client_disconnected');
  });

  it('a whole answer: one usage chunk at the end, Yandex usage charged complete', async () => {
    const run = await openaiStream('yx/yandexgpt/latest', { includeUsage: true });
    assert.equal(run.error, undefined);
    assert.equal(run.usageChunks, 1);
    const event = await eventOf(run.requestId);
    assert.equal(event.type, 'RequestCompleted');
    const last = lines.at(-1)!;
    assert.equal(run.text, last.text);
    assert.deepEqual(
      {
        inputTokens: (event.data as Charged).usage.inputTokens,
        outputTokens: (event.data as Charged).usage.outputTokens,
        reasoningTokens: (event.data as Charged).usage.reasoningTokens,
      },
      {
        inputTokens: last.usage.inputTextTokens,
        outputTokens: last.usage.completionTokens,
        reasoningTokens: REASONING,
      },
    );
  });

  it('an Anthropic caller (no reasoning asked): a reset is charged Yandex usage, not a count', async () => {
    mock.setScenario('reset-mid-stream=3');
    try {
      const client = new Anthropic({ baseURL: k.url, apiKey: key, maxRetries: 0 });
      const { data: stream, response } = await client.messages
        .create({
          model: 'yx/yandexgpt/latest',
          max_tokens: 500,
          stream: true,
          messages: [{ role: 'user', content: PROMPT }],
        })
        .withResponse();
      let text = '';
      let error: unknown;
      try {
        for await (const event of stream) {
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
            text += event.delta.text;
        }
      } catch (e) {
        error = e;
      }
      assert.ok(error, 'the SDK raised');
      const event = await eventOf(response.headers.get('x-request-id'));
      assert.equal(event.type, 'RequestFailed');
      const data = event.data as Charged;
      const line = lineOf(text);
      // Without reasoning asked, the mock's line counts the text only.
      assert.deepEqual(
        { inputTokens: data.usage.inputTokens, outputTokens: data.usage.outputTokens },
        { inputTokens: line.usage.inputTextTokens, outputTokens: line.usage.completionTokens - REASONING },
      );
      assert.equal(data.usage.reasoningTokens, undefined);
    } finally {
      mock.setScenario(undefined);
    }
  });
});
