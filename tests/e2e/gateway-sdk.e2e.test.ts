import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import {
  type MockServer,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from '@kordon/mock-providers';
import { createLogger, loadConfig, type RunningKordon, startKordon } from '@kordon/server';
import OpenAI from 'openai';
import { issuedProxyKeys } from './support/issued-proxy-keys.js';

const OPENAI_KEY = 'sk-proj-sdktestabcdefghijklmnopqrstuvwxyz012345';
const ANTHROPIC_KEY = 'sk-ant-api03-sdktestabcdefghijklmnopqrstuvwxyz';
const ANTHROPIC_KEY_2 = 'sk-ant-api03-secondkeyabcdefghijklmnopqrstuvwx';
const GEMINI_KEY = 'AIzaSyDtestabcdefghijklmnopqrstuvwxyz012';

/**
 * The official SDKs, unmodified, against Kordon started from a config file, with mock
 * providers speaking the real wire formats behind it.
 */
describe('official SDKs against Kordon', () => {
  let kordon: RunningKordon;
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let geminiMock: MockServer;
  /** An OpenAI-format upstream that streams a chunk every 20 ms until its caller goes away. */
  let slow: Server;
  let slowClosed: Promise<void>;
  let slowResponsesClosed: Promise<void>;
  let dataDir: string;
  let aliceKey: string;
  /** Alice's key with a USD budget. */
  let aliceBudgetKey: string;
  let orgId: string;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY, ANTHROPIC_KEY_2] });
    geminiMock = await startGeminiMock({ keys: [GEMINI_KEY] });
    let markClosed!: () => void;
    slowClosed = new Promise((resolve) => {
      markClosed = resolve;
    });
    let markResponsesClosed!: () => void;
    slowResponsesClosed = new Promise((resolve) => {
      markResponsesClosed = resolve;
    });
    slow = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      if (req.url?.endsWith('/responses')) {
        // The Responses API's stream: text deltas, never response.completed (its usage).
        const event = (data: { type: string; [field: string]: unknown }) =>
          `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
        res.write(
          event({
            type: 'response.created',
            sequence_number: n++,
            response: { id: 'resp_slow', status: 'in_progress' },
          }),
        );
        const timer = setInterval(() => {
          res.write(
            event({
              type: 'response.output_text.delta',
              sequence_number: n,
              item_id: 'msg_slow',
              output_index: 0,
              content_index: 0,
              delta: `word${n++} `,
            }),
          );
        }, 20);
        res.on('close', () => {
          clearInterval(timer);
          markResponsesClosed();
        });
        return;
      }
      const timer = setInterval(() => {
        const chunk = {
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'slow-model',
          choices: [{ index: 0, delta: { content: `word${n++} ` }, finish_reason: null }],
        };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      }, 20);
      res.on('close', () => {
        clearInterval(timer);
        markClosed();
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/v1`;
    dataDir = mkdtempSync(join(tmpdir(), 'kordon-sdk-'));
    const configPath = join(dataDir, 'kordon.yaml');
    writeFileSync(
      configPath,
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 1, output: 2 }
      slow-model: { input: 1, output: 2, currency: USD }
    providers:
      - name: openai-main
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini, text-embedding-3-small, "gpt-4.1*"]
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
      - name: claude
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-sonnet-4-5, claude-opus-4-6]
        defaultMaxTokens: 16000
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY_1}" }, { name: k2, secret: "\${ANTHROPIC_KEY_2}" }]
      - name: slow
        type: openai
        baseUrl: \${SLOW_URL}
        models: [slow-model]
        timeouts: { totalMs: 1500 }
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
      - name: google
        type: gemini
        baseUrl: ${geminiMock.url}
        models: [gemini-2.5-flash]
        keys: [{ name: k1, secret: "\${GEMINI_KEY_1}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: alice-laptop }, { name: alice-budget, limits: { budget: { usd: 100, period: 1d } } }]
  - slug: globex
    name: Globex
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o]
        keys: [{ name: k1, secret: "\${OPENAI_KEY_1}" }]
`,
    );
    const env = {
      KORDON_PORT: '0',
      KORDON_DATA_DIR: dataDir,
      KORDON_LOG_LEVEL: 'silent',
      KORDON_DEV_MODE: 'true',
      KORDON_CONFIG: configPath,
      OPENAI_KEY_1: OPENAI_KEY,
      ANTHROPIC_KEY_1: ANTHROPIC_KEY,
      ANTHROPIC_KEY_2: ANTHROPIC_KEY_2,
      GEMINI_KEY_1: GEMINI_KEY,
      SLOW_URL: slowUrl,
    };
    const config = loadConfig(env);
    kordon = await startKordon(config, createLogger(config), env);
    const issued = issuedProxyKeys(dataDir);
    aliceKey = issued.get('alice@acme.test--alice-laptop')!;
    aliceBudgetKey = issued.get('alice@acme.test--alice-budget')!;
    assert.ok(aliceKey && aliceBudgetKey, 'the start issued both keys');
    const orgEvent = (await kordon.storage.store.readAll({ after: 0, maxCount: 100 })).find(
      (e) => e.type === 'OrgCreated' && (e.data as { slug: string }).slug === 'acme',
    );
    orgId = orgEvent!.orgId!;
  });
  after(async () => {
    await kordon?.stop();
    await openaiMock?.close();
    await anthropicMock?.close();
    await geminiMock?.close();
    slow?.closeAllConnections();
    slow?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const openai = () => new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: aliceKey, maxRetries: 0 });
  const anthropic = () => new Anthropic({ baseURL: kordon.url, apiKey: aliceKey, maxRetries: 0 });

  /** The request events of the org, decoded, after the appender has written them. */
  const requestEvents = async () => {
    await kordon.storage.appender.flush();
    return (await kordon.storage.store.readStream(streams.usage(orgId))).map(
      (e) => kordonCatalogue.decode(e) as KordonEvent,
    );
  };
  const lastEvent = async () => (await requestEvents()).at(-1)!;
  /**
   * The last request event once more than `before` are written, polled for (10 s at most): a
   * request its caller left is recorded once the gateway notices, not at a set time.
   */
  const eventAfter = async (before: number) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const events = await requestEvents();
      if (events.length > before) return events.at(-1)!;
      if (Date.now() > deadline) assert.fail(`no request event after the ${before} written`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('OpenAI SDK: models.list shows the org models, never another org', async () => {
    const ids = [];
    for await (const model of openai().models.list()) ids.push(model.id);
    assert.deepEqual(ids.sort(), [
      'claude-opus-4-6',
      'claude-sonnet-4-5',
      'gemini-2.5-flash',
      // Served through the "gpt-4.1*" pattern: the known OpenAI models it matches.
      'gpt-4.1',
      'gpt-4.1-mini',
      'gpt-4.1-nano',
      'gpt-4o-mini',
      'slow-model',
      'text-embedding-3-small',
    ]);
    const anthropicIds = [];
    for await (const model of anthropic().models.list()) anthropicIds.push(model.id);
    assert.ok(anthropicIds.includes('claude-sonnet-4-5'));
  });

  it('OpenAI SDK: a plain chat completion, recorded with usage and cost', async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    assert.match(completion.choices[0]!.message.content!, /hello there/);
    const event = await lastEvent();
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(event.data.model, 'gpt-4o-mini');
    assert.equal(event.data.provider, 'openai-main');
    assert.equal(event.data.usage.inputTokens, completion.usage!.prompt_tokens);
    assert.equal(event.data.usage.outputTokens, completion.usage!.completion_tokens);
    assert.equal(event.data.currency, 'USD');
    // The org's own price (1 and 2 USD per million tokens), computed exactly.
    const expected =
      (completion.usage!.prompt_tokens * 1 + completion.usage!.completion_tokens * 2) / 1_000_000;
    assert.equal(event.data.cost, String(expected));
    assert.equal(event.data.clientIp, '127.0.0.1');
    assert.equal(event.data.stream, false);
  });

  it("OpenAI's priority and flex processing are charged at their rates, plain, streamed and in the Responses API", async () => {
    /** USD of a usage at per-million rates, in exact tenths of a millionth of a cent. */
    const usd = (
      usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number },
      rates: [input: number, cached: number, output: number],
    ) => {
      const units =
        (usage.inputTokens - usage.cachedInputTokens) * rates[0] +
        usage.cachedInputTokens * rates[1] +
        usage.outputTokens * rates[2];
      return units / 1e10;
    };
    const recorded = async () => {
      const event = await lastEvent();
      assert.ok(event.type === 'RequestCompleted', event.type);
      return event.data;
    };
    // gpt-4.1-mini from the shipped table: 0.40 / 0.10 / 1.60, priority 0.70 / 0.175 / 2.80.
    const priority = await openai().chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'fast please' }],
      service_tier: 'priority',
    });
    assert.equal(priority.service_tier, 'priority');
    const plain = await recorded();
    assert.equal(plain.usage.serviceTier, 'priority');
    assert.equal(Number(plain.cost), usd(plain.usage, [7000, 1750, 28000]));
    // Flex, streamed: half the standard rates.
    const stream = await openai().chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'slow is fine' }],
      service_tier: 'flex',
      stream: true,
    });
    for await (const _ of stream);
    const flex = await recorded();
    assert.equal(flex.stream, true);
    assert.equal(flex.usage.serviceTier, 'flex');
    assert.equal(Number(flex.cost), usd(flex.usage, [2000, 500, 8000]));
    // The Responses API names the tier in its response object.
    await openai()
      .responses.stream({ model: 'gpt-4.1-mini', input: 'priority response', service_tier: 'priority' })
      .finalResponse();
    const responses = await recorded();
    assert.equal(responses.usage.serviceTier, 'priority');
    assert.equal(Number(responses.cost), usd(responses.usage, [7000, 1750, 28000]));
    // `fast` is priority renamed (2026-07-30): the same rates.
    await openai().chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'fast please' }],
      service_tier: 'fast',
    });
    const renamed = await recorded();
    assert.equal(renamed.usage.serviceTier, 'priority');
    assert.equal(Number(renamed.cost), usd(renamed.usage, [7000, 1750, 28000]));
    // Standard processing ('auto' is served at 'default') records no tier.
    await openai().chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'as usual' }],
      service_tier: 'auto',
    });
    const standard = await recorded();
    assert.equal(standard.usage.serviceTier, undefined);
    assert.equal(Number(standard.cost), usd(standard.usage, [4000, 1000, 16000]));
  });

  it("Claude's US-only inference is charged at 1.1x, plain and streamed", async () => {
    // claude-opus-4-6 from the shipped table: 5 / 25 USD a million tokens, 5.5 / 27.5 in the US.
    const usd = (usage: { inputTokens: number; outputTokens: number }, rates: [number, number]) =>
      (usage.inputTokens * rates[0] + usage.outputTokens * rates[1]) / 1e10;
    const recorded = async () => {
      const event = await lastEvent();
      assert.ok(event.type === 'RequestCompleted', event.type);
      return event.data;
    };
    const params = {
      model: 'claude-opus-4-6',
      max_tokens: 64,
      messages: [{ role: 'user' as const, content: 'answer from the US' }],
    };
    const plain = await anthropic().messages.create({ ...params, inference_geo: 'us' });
    assert.equal((plain.usage as { inference_geo?: string }).inference_geo, 'us');
    const us = await recorded();
    assert.equal(us.usage.inferenceGeo, 'us');
    assert.equal(Number(us.cost), usd(us.usage, [55_000, 275_000]));
    await anthropic()
      .messages.stream({ ...params, inference_geo: 'us' })
      .finalMessage();
    const streamed = await recorded();
    assert.equal(streamed.stream, true);
    assert.equal(streamed.usage.inferenceGeo, 'us');
    assert.equal(Number(streamed.cost), usd(streamed.usage, [55_000, 275_000]));
    // Anywhere (global, the default): the listed prices.
    await anthropic().messages.create({ ...params, inference_geo: 'global' });
    const global = await recorded();
    assert.equal(global.usage.inferenceGeo, undefined);
    assert.equal(Number(global.cost), usd(global.usage, [50_000, 250_000]));
    // Fast mode: Opus 4.6 at 6x (30 / 150 USD a million tokens), plain and streamed.
    const fast = await anthropic().messages.create({ ...params, speed: 'fast' });
    assert.equal((fast.usage as { speed?: string }).speed, 'fast');
    const fastPlain = await recorded();
    assert.equal(fastPlain.usage.speed, 'fast');
    assert.equal(Number(fastPlain.cost), usd(fastPlain.usage, [300_000, 1_500_000]));
    await anthropic()
      .messages.stream({ ...params, speed: 'fast' })
      .finalMessage();
    const fastStreamed = await recorded();
    assert.equal(fastStreamed.usage.speed, 'fast');
    assert.equal(Number(fastStreamed.cost), usd(fastStreamed.usage, [300_000, 1_500_000]));
    // A budget holds what a request asks for at those rates: the longest answer of 700,000 tokens
    // is $17.5 at the standard rate (within the key's $100), $105 in fast mode, $115.5 fast in the US.
    const budgeted = new Anthropic({ baseURL: kordon.url, apiKey: aliceBudgetKey, maxRetries: 0 });
    const long = { ...params, max_tokens: 700_000 };
    // (A timeout of its own: the SDK asks to stream a request that may take this long.)
    const patient = { timeout: 60_000 };
    await budgeted.messages.create(long, patient);
    const fastRefused = await budgeted.messages
      .create({ ...long, speed: 'fast' }, patient)
      .catch((e: unknown) => e);
    assert.ok(fastRefused instanceof Anthropic.RateLimitError, String(fastRefused));
    assert.match(fastRefused.message, /may cost up to \$105\.\d* /);
    const usRefused = await budgeted.messages
      .create({ ...long, speed: 'fast', inference_geo: 'us' }, patient)
      .catch((e: unknown) => e);
    assert.ok(usRefused instanceof Anthropic.RateLimitError, String(usRefused));
    assert.match(usRefused.message, /may cost up to \$115\.5\d* /);
  });

  it('a plain answer without usage is counted with the tokenizer; the same dialect gets the bytes as sent', async () => {
    openaiMock.enqueueScenario('no-usage');
    const response = await fetch(`${kordon.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'count me please' }],
      }),
    });
    assert.equal(response.status, 200);
    const text = await response.text();
    const answer = JSON.parse(text) as { usage?: unknown; choices: Array<{ message: { content: string } }> };
    assert.equal(answer.usage, undefined, 'nothing added to the provider answer');
    assert.equal(text, JSON.stringify(answer), 'forwarded as the provider serialised it');
    const event = await lastEvent();
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.ok(event.data.usage.inputTokens > 0, 'prompt counted');
    assert.ok(event.data.usage.outputTokens > 0, 'answer counted');
    assert.notEqual(event.data.cost, '0');
  });

  it('a stream without usage is counted with the tokenizer, for the caller and for the books', async () => {
    // OpenAI-compatible servers that ignore stream_options.include_usage send no usage chunk.
    openaiMock.enqueueScenario('no-usage');
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'count this stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const event = await lastEvent();
    assert.equal(event.type, 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.ok(event.data.usage.inputTokens > 0, 'prompt counted');
    assert.ok(event.data.usage.outputTokens > 0, 'answer counted');
    assert.notEqual(event.data.cost, '0');
    // The caller asked for usage: it gets the count it is charged, in a usage chunk before [DONE].
    assert.deepEqual(
      { prompt: usage?.prompt_tokens, completion: usage?.completion_tokens },
      { prompt: event.data.usage.inputTokens, completion: event.data.usage.outputTokens },
    );

    // Translated for an Anthropic caller: the counted usage is what its stream reports too.
    openaiMock.enqueueScenario('no-usage');
    const message = await anthropic()
      .messages.stream({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'count me too' }],
      })
      .finalMessage();
    const translated = await lastEvent();
    assert.ok(translated.type === 'RequestCompleted');
    if (translated.type !== 'RequestCompleted') return;
    assert.ok(translated.data.usage.outputTokens > 0);
    assert.equal(message.usage.output_tokens, translated.data.usage.outputTokens);
    assert.equal(message.usage.input_tokens, translated.data.usage.inputTokens);
  });

  it('OpenAI SDK: a streamed chat gets its usage chunk only when it asks', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.match(text, /stream me/);
    assert.ok(usage && usage.completion_tokens > 0);
    const event = await lastEvent();
    assert.equal(event.type, 'RequestCompleted');
    if (event.type === 'RequestCompleted') {
      assert.equal(event.data.stream, true);
      assert.equal(event.data.usage.outputTokens, usage.completion_tokens);
      assert.ok(event.data.timeToFirstTokenMs !== null);
    }

    const quiet = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'no usage please' }],
      stream: true,
    });
    let sawUsage = false;
    for await (const chunk of quiet) if (chunk.usage) sawUsage = true;
    assert.equal(sawUsage, false, 'Kordon asked for usage upstream, and strips it for this caller');
    const recorded = await lastEvent();
    assert.ok(recorded.type === 'RequestCompleted' && recorded.data.usage.outputTokens > 0);
  });

  it('Anthropic SDK: messages, plain and streamed', async () => {
    const message = await anthropic().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi claude' }],
    });
    assert.equal(message.type, 'message');
    assert.match((message.content[0] as { text: string }).text, /hi claude/);
    const final = await anthropic()
      .messages.stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'stream claude' }],
      })
      .finalMessage();
    assert.match((final.content[0] as { text: string }).text, /stream claude/);
    const event = await lastEvent();
    assert.ok(event.type === 'RequestCompleted' && event.data.endpoint === 'messages' && event.data.stream);
    // The SDK's request id (`request-id`) is Kordon's, plain and streamed.
    const plainId = (message as unknown as { _request_id?: string | null })._request_id;
    assert.ok(plainId, 'request-id on a plain answer');
    const { data: stream, response } = await anthropic()
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      })
      .withResponse();
    for await (const _ of stream) {
      // read to its end, so that its event is written before the next test's
    }
    assert.ok(response.headers.get('request-id'));
    assert.equal(response.headers.get('request-id'), response.headers.get('x-request-id'));
    // A proxy in front (nginx) passes each event on at once instead of buffering the answer.
    assert.equal(response.headers.get('x-accel-buffering'), 'no');
    assert.equal(response.headers.get('cache-control'), 'no-cache, no-transform');
  });

  it("Claude's prompt cache: writes are charged at their surcharge and reads at theirs, as Claude bills them", async () => {
    // claude-sonnet-4-5 in the shipped table: input 3, 1-hour cache writes 6, cache reads 0.30,
    // output 15 USD per million tokens.
    const system = [
      {
        type: 'text' as const,
        text: 'You are the assistant of the Acme support desk. '.repeat(40),
        cache_control: { type: 'ephemeral' as const, ttl: '1h' as const },
      },
    ];
    const ask = () =>
      anthropic().messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 50,
        system,
        messages: [{ role: 'user', content: 'where is my order?' }],
      });
    const costOf = (usage: Anthropic.Usage) =>
      (usage.input_tokens * 300 +
        (usage.cache_creation?.ephemeral_1h_input_tokens ?? 0) * 600 +
        (usage.cache_creation?.ephemeral_5m_input_tokens ?? 0) * 375 +
        (usage.cache_read_input_tokens ?? 0) * 30 +
        usage.output_tokens * 1500) /
      1e8;
    const first = await ask();
    assert.ok(
      (first.usage.cache_creation?.ephemeral_1h_input_tokens ?? 0) > 100,
      'the system prompt is written',
    );
    const written = await lastEvent();
    assert.ok(written.type === 'RequestCompleted');
    if (written.type !== 'RequestCompleted') return;
    assert.equal(Number(written.data.cost), costOf(first.usage));
    // The event says which input tokens were cache writes, and of which lifetime.
    assert.equal(
      written.data.usage.cacheWrite1hInputTokens,
      first.usage.cache_creation?.ephemeral_1h_input_tokens,
    );
    assert.equal(written.data.usage.cacheWriteInputTokens, undefined);
    const second = await ask();
    assert.ok((second.usage.cache_read_input_tokens ?? 0) > 100, 'then read');
    const read = await lastEvent();
    assert.ok(read.type === 'RequestCompleted');
    if (read.type !== 'RequestCompleted') return;
    assert.equal(read.data.usage.cachedInputTokens, second.usage.cache_read_input_tokens);
    assert.equal(Number(read.data.cost), costOf(second.usage));
    assert.ok(Number(read.data.cost) < Number(written.data.cost));
  });

  it("Claude's web searches are charged apiece on top of the tokens, plain and streamed", async () => {
    // claude-sonnet-4-5 in the shipped table: input 3, output 15 USD per million tokens, and
    // 10 USD per 1,000 web searches.
    const request = {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      tools: [{ type: 'web_search_20250305' as const, name: 'web_search' as const, max_uses: 3 }],
      messages: [{ role: 'user' as const, content: 'what is new in the news today?' }],
    };
    const costOf = (usage: Anthropic.Usage) =>
      (usage.input_tokens * 300 + usage.output_tokens * 1500) / 1e8 +
      (usage.server_tool_use?.web_search_requests ?? 0) * 0.01;
    const plain = await anthropic().messages.create(request);
    assert.equal(plain.usage.server_tool_use?.web_search_requests, 1, 'Claude searched once');
    assert.ok(plain.content.some((block) => block.type === 'web_search_tool_result'));
    const event = await lastEvent();
    assert.ok(event.type === 'RequestCompleted');
    if (event.type !== 'RequestCompleted') return;
    assert.equal(event.data.usage.webSearches, 1);
    assert.equal(Number(event.data.cost), costOf(plain.usage));

    const streamed = await anthropic().messages.stream(request).finalMessage();
    assert.equal(streamed.usage.server_tool_use?.web_search_requests, 1);
    const streamedEvent = await lastEvent();
    assert.ok(streamedEvent.type === 'RequestCompleted' && streamedEvent.data.stream);
    if (streamedEvent.type !== 'RequestCompleted') return;
    assert.equal(streamedEvent.data.usage.webSearches, 1);
    assert.equal(Number(streamedEvent.data.cost), costOf(streamed.usage));
  });

  it("Anthropic SDK: the caller's beta features reach Claude, and no other provider", async () => {
    const betas = ['interleaved-thinking-2025-05-14', 'fine-grained-tool-streaming-2025-05-14'];
    await anthropic().beta.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'beta plain' }],
      betas,
    });
    assert.equal(anthropicMock.requests.at(-1)!.headers['anthropic-beta'], betas.join(','));
    await anthropic()
      .beta.messages.stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'beta stream' }],
        betas,
      })
      .finalMessage();
    assert.equal(anthropicMock.requests.at(-1)!.headers['anthropic-beta'], betas.join(','));
    await anthropic().beta.messages.countTokens({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'beta count' }],
      betas,
    });
    assert.equal(anthropicMock.requests.at(-1)!.path, '/v1/messages/count_tokens');
    // The SDK adds its own counting beta to the caller's.
    assert.ok(String(anthropicMock.requests.at(-1)!.headers['anthropic-beta']).startsWith(betas.join(',')));
    // Without betas, none is sent; to GPT, never.
    await anthropic().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'no beta' }],
    });
    assert.equal(anthropicMock.requests.at(-1)!.headers['anthropic-beta'], undefined);
    await anthropic().beta.messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'beta to gpt' }],
      betas,
    });
    assert.equal(openaiMock.requests.at(-1)!.headers['anthropic-beta'], undefined);
    // A header that is not a list of feature names is refused, not sent on.
    const bad = await fetch(`${kordon.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': aliceKey, 'content-type': 'application/json', 'anthropic-beta': 'x;y=1' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /anthropic-beta/);
  });

  it('cross-dialect: the OpenAI SDK calls Claude, the Anthropic SDK calls GPT, plain and streamed', async () => {
    const viaOpenAI = await openai().chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'openai to claude' },
      ],
    });
    assert.match(viaOpenAI.choices[0]!.message.content!, /openai to claude/);
    assert.equal(viaOpenAI.choices[0]!.finish_reason, 'stop');
    const claudeRequest = anthropicMock.requests.at(-1)!;
    assert.equal(
      (claudeRequest.body as { system?: unknown }).system !== undefined,
      true,
      'system prompt translated',
    );
    // Claude requires max_tokens, OpenAI callers seldom send it: the provider's default is asked.
    assert.equal((claudeRequest.body as { max_tokens?: unknown }).max_tokens, 16000);
    await openai().chat.completions.create({
      model: 'claude-sonnet-4-5',
      max_completion_tokens: 77,
      messages: [{ role: 'user', content: 'a bounded answer' }],
    });
    assert.equal((anthropicMock.requests.at(-1)!.body as { max_tokens?: unknown }).max_tokens, 77);

    let streamed = '';
    for await (const chunk of await openai().chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'streamed to claude' }],
      stream: true,
    })) {
      streamed += chunk.choices[0]?.delta.content ?? '';
    }
    assert.match(streamed, /streamed to claude/);

    const viaAnthropic = await anthropic().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 50,
      system: 'be brief',
      messages: [{ role: 'user', content: 'anthropic to gpt' }],
    });
    assert.match((viaAnthropic.content[0] as { text: string }).text, /anthropic to gpt/);
    const final = await anthropic()
      .messages.stream({
        model: 'gpt-4o-mini',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'gpt stream' }],
      })
      .finalMessage();
    assert.match((final.content[0] as { text: string }).text, /gpt stream/);
    assert.ok(final.usage.output_tokens > 0);
  });

  it('OpenAI SDK: embeddings, recorded with their input tokens', async () => {
    const result = await openai().embeddings.create({
      model: 'text-embedding-3-small',
      input: ['one text', 'two'],
    });
    assert.equal(result.data.length, 2);
    assert.ok(result.data[0]!.embedding.length > 0);
    const event = await lastEvent();
    assert.ok(event.type === 'RequestCompleted' && event.data.endpoint === 'embeddings');
    if (event.type === 'RequestCompleted')
      assert.equal(event.data.usage.inputTokens, result.usage.prompt_tokens);
  });

  it('embeddings asked to stream are a 400 naming the field, not a 500', async () => {
    const before = openaiMock.requests.length;
    const refused = await openai()
      .post('/embeddings', { body: { model: 'text-embedding-3-small', input: 'x', stream: true } })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.param, 'stream');
    assert.equal(openaiMock.requests.length, before, 'no provider call');
    const event = await lastEvent();
    assert.ok(event.type === 'RequestRejected' && event.data.reason === 'invalid_request');
  });

  it('OpenAI SDK: the Responses API, plain and streamed', async () => {
    const response = await openai().responses.create({ model: 'gpt-4o-mini', input: 'respond please' });
    assert.match(response.output_text, /respond please/);
    const streamed = await openai()
      .responses.stream({ model: 'gpt-4o-mini', input: 'stream a response' })
      .finalResponse();
    assert.match(streamed.output_text, /stream a response/);
    const event = await lastEvent();
    assert.ok(event.type === 'RequestCompleted' && event.data.endpoint === 'responses' && event.data.stream);
    if (event.type === 'RequestCompleted')
      assert.equal(event.data.usage.outputTokens, streamed.usage!.output_tokens);
    await assert.rejects(
      openai().responses.create({ model: 'claude-sonnet-4-5', input: 'x' }),
      (error: unknown) =>
        error instanceof OpenAI.BadRequestError && /not served on responses/.test(error.message),
    );
    // A background response is billed when the provider finishes it, after the call: Kordon
    // would count its prompt only. Refused before any provider is asked, streamed or not.
    const calls = openaiMock.requests.length;
    for (const stream of [false, true]) {
      await assert.rejects(
        openai().responses.create({ model: 'gpt-4o-mini', input: 'a long task', background: true, stream }),
        (error: unknown) =>
          error instanceof OpenAI.BadRequestError &&
          error.param === 'background' &&
          /background responses are not served/.test(error.message),
      );
      const refused = await lastEvent();
      assert.ok(refused.type === 'RequestRejected' && refused.data.endpoint === 'responses');
    }
    assert.equal(openaiMock.requests.length, calls, 'no provider was asked');
  });

  it('Anthropic SDK: count_tokens, by Claude itself or by Kordon for other models', {
    timeout: 60_000,
  }, async () => {
    const messages = [{ role: 'user' as const, content: 'how many tokens is this?' }];
    const claude = await anthropic().messages.countTokens({ model: 'claude-sonnet-4-5', messages });
    assert.ok(claude.input_tokens > 0);
    assert.equal(anthropicMock.requests.at(-1)!.path, '/v1/messages/count_tokens');
    const { data: gpt, response } = await anthropic()
      .messages.countTokens({ model: 'gpt-4o-mini', messages })
      .withResponse();
    assert.ok(gpt.input_tokens > 0);
    // Its request id under both names, as every other answer of Kordon's.
    assert.ok(response.headers.get('request-id'));
    assert.equal(response.headers.get('request-id'), response.headers.get('x-request-id'));
    // A megabyte of one letter: one piece to the tokenizer, whose merge is quadratic in its
    // length. Counted whole it held the event loop for minutes (the test's timeout fails it).
    const long = await anthropic().messages.countTokens({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'a'.repeat(1_000_000) }],
    });
    assert.ok(long.input_tokens > 120_000 && long.input_tokens < 130_000, String(long.input_tokens));
  });

  it("a tool whose schema has a base_url property is the caller's data, not a host override", async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'fetch a page' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'fetch_page',
            parameters: { type: 'object', properties: { base_url: { type: 'string' } } },
          },
        },
      ],
    });
    assert.match(completion.choices[0]!.message.content ?? '', /fetch a page/);
    assert.equal(openaiMock.requests.at(-1)!.path, '/v1/chat/completions', 'sent to the configured provider');
  });

  it('tools across dialects: a streamed Claude tool call reaches the OpenAI SDK as tool-call deltas', async () => {
    const stream = openai().chat.completions.stream({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'call get_weather Paris' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ],
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
  });

  it('Gemini behind both SDKs, plain and streamed', async () => {
    const plain = await openai().chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'hello gemini' }],
    });
    assert.match(plain.choices[0]!.message.content!, /hello gemini/);
    assert.ok(plain.usage!.prompt_tokens > 0);
    let text = '';
    for await (const chunk of await openai().chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'stream gemini' }],
      stream: true,
    })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.match(text, /stream gemini/);
    const final = await anthropic()
      .messages.stream({
        model: 'gemini-2.5-flash',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'claude sdk to gemini' }],
      })
      .finalMessage();
    assert.match((final.content[0] as { text: string }).text, /claude sdk to gemini/);
    assert.ok(geminiMock.requests.some((r) => r.path.includes(':streamGenerateContent')));
  });

  it('Anthropic SDK to Gemini: a tool name of 65-128 characters (Gemini takes 64) goes shortened and is answered under its own name, plain and streamed', async () => {
    // MCP tools as Claude Code names them: mcp__<server>__<tool>.
    const name = 'mcp__github_enterprise_server__list_pull_request_review_comments_for_repository';
    const sent = `${name.slice(0, 55)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
    const request = {
      model: 'gemini-2.5-flash',
      max_tokens: 64,
      tools: [{ name, input_schema: { type: 'object' as const, properties: { repo: { type: 'string' } } } }],
      // The model sees the name it was sent, and the mock calls a tool by it.
      messages: [{ role: 'user' as const, content: `call ${sent} kordon` }],
    };
    const plain = await anthropic().messages.create(request);
    const call = plain.content.find((block) => block.type === 'tool_use');
    assert.equal(call?.type === 'tool_use' ? call.name : undefined, name, JSON.stringify(plain.content));
    const upstream = geminiMock.requests.at(-1)?.body as {
      tools?: { functionDeclarations?: { name: string }[] }[];
    };
    assert.equal(upstream.tools?.[0]?.functionDeclarations?.[0]?.name, sent);
    const streamed = await anthropic().messages.stream(request).finalMessage();
    const streamedCall = streamed.content.find((block) => block.type === 'tool_use');
    assert.equal(streamedCall?.type === 'tool_use' ? streamedCall.name : undefined, name);
    // The next turn sends the call and its result back under the caller's name.
    const next = await anthropic().messages.create({
      ...request,
      messages: [
        ...request.messages,
        { role: 'assistant', content: plain.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: call?.type === 'tool_use' ? call.id : '', content: 'none' },
          ],
        },
      ],
    });
    assert.match((next.content[0] as { text: string }).text, /tool result/);
  });

  it('Anthropic SDK to Gemini: a tool name starting with a digit (Gemini refuses it) goes as _name and is answered under its own name, plain and streamed', async () => {
    const name = '3d_render';
    const request = {
      model: 'gemini-2.5-flash',
      max_tokens: 64,
      tools: [{ name, input_schema: { type: 'object' as const, properties: { scene: { type: 'string' } } } }],
      // The model sees the name it was sent, and the mock calls a tool by it.
      messages: [{ role: 'user' as const, content: 'call _3d_render a cube' }],
    };
    const plain = await anthropic().messages.create(request);
    const call = plain.content.find((block) => block.type === 'tool_use');
    assert.equal(call?.type === 'tool_use' ? call.name : undefined, name, JSON.stringify(plain.content));
    const upstream = geminiMock.requests.at(-1)?.body as {
      tools?: { functionDeclarations?: { name: string }[] }[];
    };
    assert.equal(upstream.tools?.[0]?.functionDeclarations?.[0]?.name, '_3d_render');
    const streamed = await anthropic().messages.stream(request).finalMessage();
    const streamedCall = streamed.content.find((block) => block.type === 'tool_use');
    assert.equal(streamedCall?.type === 'tool_use' ? streamedCall.name : undefined, name);
  });

  it('Anthropic SDK to Gemini: two tool names that would reach it as one (0a and _0a) are a 400 naming both, and no call', async () => {
    const before = geminiMock.requests.length;
    const schema = { type: 'object' as const, properties: { scene: { type: 'string' } } };
    const refused = await anthropic()
      .messages.create({
        model: 'gemini-2.5-flash',
        max_tokens: 64,
        tools: [
          { name: '0a', input_schema: schema },
          { name: '_0a', input_schema: schema },
        ],
        messages: [{ role: 'user', content: 'call one' }],
      })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.BadRequestError, String(refused));
    assert.equal((refused.error as { error?: { type?: string } }).error?.type, 'invalid_request_error');
    assert.match(refused.message, /'0a' and '_0a' would both reach Gemini models as '_0a'/);
    assert.equal(geminiMock.requests.length, before, 'no provider call');
  });

  it('a key Claude refuses while counting is taken out for every replica, as when messaging', async () => {
    // Both keys refused (a count asks the next key after a refused one): the caller's 502.
    anthropicMock.enqueueScenario('unauthorized', { times: 2 });
    const refused = await anthropic()
      .messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count' }] })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.APIError && refused.status === 502, String(refused));
    assert.ok(!/sk-ant/.test(refused.message), 'the key is not echoed');
    await kordon.storage.appender.flush();
    const all = await kordon.storage.store.readAll({ after: 0, maxCount: 10_000 });
    const disabled = all.filter((e) => e.type === 'ProviderKeyDisabled').slice(-2);
    const data = disabled.map((e) => e.data as { providerKeyId: string; upstreamStatus: number });
    assert.deepEqual(
      data.map((d) => d.upstreamStatus),
      [401, 401],
    );
    assert.notEqual(data[0]!.providerKeyId, data[1]!.providerKeyId, 'each key refused is disabled');
    // Enabled again by an admin (the event the admin API writes), for the tests after this one.
    for (const { providerKeyId } of data) {
      const enabled = await kordon.storage.store.append(
        streams.providerKey(orgId, providerKeyId),
        [
          kordonCatalogue.create(
            'ProviderKeyEnabled',
            streams.providerKey(orgId, providerKeyId),
            { providerKeyId },
            { orgId, actor: { kind: 'user', id: 'usr_admin' } },
          ),
        ],
        'any',
      );
      await kordon.dataPlaneCaughtUp(enabled.lastPosition);
    }
  });

  it('a counting 429 does not cool a key for messages (Anthropic limits counting apart)', async () => {
    anthropicMock.enqueueScenario('rate-limit=30', { key: ANTHROPIC_KEY, times: 1 });
    anthropicMock.enqueueScenario('rate-limit=30', { key: ANTHROPIC_KEY_2, times: 1 });
    const calls = anthropicMock.requests.length;
    // The count asks each key in turn; both limited, the provider's 429 reaches the caller as
    // one, with its Retry-After.
    const counted = await anthropic()
      .messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count' }] })
      .catch((error: unknown) => error);
    assert.ok(counted instanceof Anthropic.RateLimitError, String(counted));
    assert.equal(counted.headers?.get('retry-after'), '30');
    assert.equal(anthropicMock.requests.length - calls, 2, "both keys' counting was limited once");
    // Each key rests for counting: the next count is the 429 again, without a call.
    const again = await anthropic()
      .messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count' }] })
      .catch((error: unknown) => error);
    assert.ok(again instanceof Anthropic.RateLimitError, String(again));
    assert.equal(anthropicMock.requests.length - calls, 2, 'no key was asked again');
    // Both keys answered 429 to counting; messages still go through at once.
    const reply = await anthropic().messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'after counting' }],
    });
    assert.match((reply.content[0] as { text: string }).text, /after counting/);
  });

  it('a key answering 429 is passed over for the next one and rests for its Retry-After', async () => {
    const ask = (content: string) =>
      anthropic().messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 20,
        messages: [{ role: 'user', content }],
      });
    const events = async () => {
      await kordon.storage.appender.flush();
      return kordon.storage.store.readAll({ after: 0, maxCount: 10_000 });
    };
    // One key is limited once: whichever order the rotation tries, both requests succeed.
    anthropicMock.enqueueScenario('rate-limit=1', { key: ANTHROPIC_KEY, times: 1 });
    const before = anthropicMock.requests.length;
    for (const content of ['failover one', 'failover two']) {
      const reply = await ask(content);
      assert.match((reply.content[0] as { text: string }).text, new RegExp(content));
    }
    assert.equal(anthropicMock.requests.length - before, 3, 'two answers and one 429 passed over');
    const cooled = (await events()).filter((e) => e.type === 'ProviderKeyCooledDown');
    assert.equal(cooled.length, 1, 'the limited key cooled down, as an event');
    assert.deepEqual((cooled[0]!.data as { retryAfterMs: number }).retryAfterMs, 1000);
    const completed = (await requestEvents()).at(-1)!;
    assert.ok(completed.type === 'RequestCompleted');
    await new Promise((r) => setTimeout(r, 1_100)); // its rest is over

    // Both keys limited: the caller gets the 429 with the provider's Retry-After, one try per key.
    anthropicMock.enqueueScenario('rate-limit=30', { key: ANTHROPIC_KEY, times: 1 });
    anthropicMock.enqueueScenario('rate-limit=30', { key: ANTHROPIC_KEY_2, times: 1 });
    const calls = anthropicMock.requests.length;
    const refused = await ask('both limited').catch((error: unknown) => error);
    assert.ok(refused instanceof Anthropic.RateLimitError);
    assert.equal(refused.headers?.get('retry-after'), '30');
    assert.equal(anthropicMock.requests.length - calls, 2);
    // Both now rest: the next request is refused at once, without a provider call.
    await kordon.storage.appender.flush();
    await new Promise((r) => setTimeout(r, 100));
    const quiet = anthropicMock.requests.length;
    await assert.rejects(
      ask('resting'),
      (error: unknown) =>
        error instanceof Anthropic.APIError &&
        error.status === 503 &&
        Number(error.headers?.get('retry-after')) >= 25, // the keys rest ~30 s
    );
    assert.equal(anthropicMock.requests.length, quiet);
  });

  it('a client that disconnects aborts the upstream call, and the tokens streamed are recorded', async () => {
    const before = (await requestEvents()).length;
    const controller = new AbortController();
    const stream = await openai().chat.completions.create(
      { model: 'slow-model', messages: [{ role: 'user', content: 'go on forever' }], stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const _ of stream) {
        if (++chunks === 5) controller.abort();
      }
    } catch {
      // the SDK may end the iteration or raise its abort error: either is the caller leaving
    }
    assert.equal(chunks >= 5, true);
    await slowClosed; // the upstream connection was closed by Kordon
    const event = await eventAfter(before);
    assert.equal(event.type, 'RequestFailed');
    if (event.type === 'RequestFailed') {
      assert.equal(event.data.errorCode, 'client_disconnected');
      assert.ok(event.data.usage.outputTokens >= 5, 'the words already streamed are counted');
      assert.ok(event.data.usage.inputTokens > 0);
    }
  });

  it('a plain request the client leaves while the provider works is charged its prompt where a budget holds it', async () => {
    const leave = async (apiKey: string) => {
      const before = (await requestEvents()).length;
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const client = new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey, maxRetries: 0 });
      await assert.rejects(
        client.chat.completions.create(
          { model: 'slow-model', messages: [{ role: 'user', content: 'a long question '.repeat(50) }] },
          { signal: controller.signal },
        ),
        (error: unknown) => error instanceof OpenAI.APIUserAbortError,
      );
      const event = await eventAfter(before);
      if (event.type === 'RequestFailed') return event;
      assert.fail(`no RequestFailed for the request left: ${event.type}`);
    };
    // The provider has the prompt and bills it, answered or not: under a budget, the books say
    // so (and leaving is no way around the budget).
    const held = await leave(aliceBudgetKey);
    assert.equal(held.data.errorCode, 'client_disconnected');
    assert.ok(held.data.usage.inputTokens >= 100, `the prompt is counted: ${held.data.usage.inputTokens}`);
    assert.equal(held.data.usage.outputTokens, 0);
    // At the org's 1 USD a million input tokens.
    assert.equal(Number(held.data.cost), held.data.usage.inputTokens / 1_000_000);
    assert.equal(held.data.currency, 'USD');
    // Without a limit that counts, nothing loads the tokenizers for it.
    const free = await leave(aliceKey);
    assert.equal(free.data.errorCode, 'client_disconnected');
    assert.equal(free.data.usage.inputTokens, 0);
  });

  it('a Responses API stream the client leaves is recorded with the tokens streamed, counted', async () => {
    const before = (await requestEvents()).length;
    const controller = new AbortController();
    const stream = await openai().responses.create(
      { model: 'slow-model', input: 'go on forever', stream: true },
      { signal: controller.signal },
    );
    let deltas = 0;
    try {
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta' && ++deltas === 5) controller.abort();
      }
    } catch {
      // the caller leaving, either way
    }
    assert.equal(deltas >= 5, true);
    await slowResponsesClosed;
    const event = await eventAfter(before);
    assert.equal(event.type, 'RequestFailed');
    if (event.type !== 'RequestFailed') return;
    assert.equal(event.data.endpoint, 'responses');
    assert.equal(event.data.errorCode, 'client_disconnected');
    assert.ok(event.data.usage.outputTokens >= 5, 'the words already streamed are counted');
    assert.ok(event.data.usage.inputTokens > 0, 'the input is counted');
  });

  it('refuses bad input in the caller dialect without calling a provider', async () => {
    const before = openaiMock.requests.length;
    const anthropicBefore = anthropicMock.requests.length;
    await assert.rejects(
      openai().chat.completions.create({
        model: 'gpt-9-unknown',
        messages: [{ role: 'user', content: 'x' }],
      }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && /gpt-9-unknown/.test(error.message),
    );
    await assert.rejects(
      openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      (error: unknown) => error instanceof OpenAI.NotFoundError,
      "another org's model is unknown here",
    );
    await assert.rejects(
      anthropic().messages.create({
        model: 'claude-nope',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
      (error: unknown) => error instanceof Anthropic.NotFoundError && /claude-nope/.test(error.message),
    );
    const hostile = await fetch(`${kordon.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [],
        extra: { api_base: 'http://evil.example' },
      }),
    });
    assert.equal(hostile.status, 400);
    assert.match(((await hostile.json()) as { error: { message: string } }).error.message, /api_base/);
    // In an array, and in any letter case.
    const hidden = await fetch(`${kordon.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x', extra: [{ Azure_Endpoint: 'http://evil.example' }] }],
      }),
    });
    assert.equal(hidden.status, 400);
    assert.match(((await hidden.json()) as { error: { message: string } }).error.message, /Azure_Endpoint/);
    // Counting tokens forwards the body to Claude: the same refusal there.
    const counted = await fetch(`${kordon.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': aliceKey, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'x', base_url: 'http://evil.example' }] }],
      }),
    });
    assert.equal(counted.status, 400);
    const countedError = (await counted.json()) as { type: string; error: { message: string } };
    assert.equal(countedError.type, 'error');
    assert.match(countedError.error.message, /base_url/);
    // At any depth: a body nested too deep to check whole is refused, not forwarded.
    let deep: unknown = { api_base: 'http://evil.example' };
    for (let level = 0; level < 100; level++) deep = { wrap: deep };
    const buried = await fetch(`${kordon.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x', extra: deep }] }),
    });
    assert.equal(buried.status, 400);
    assert.match(((await buried.json()) as { error: { message: string } }).error.message, /nested deeper/);
    const malformed = await fetch(`${kordon.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': aliceKey, 'content-type': 'application/json' },
      body: '{"model":',
    });
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { type: string }).type, 'error');
    const huge = await fetch(`${kordon.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x'.repeat(11 * 1024 * 1024) }],
      }),
    });
    assert.equal(huge.status, 413);
    assert.equal(openaiMock.requests.length, before, 'no upstream call for any of these');
    assert.equal(anthropicMock.requests.length, anthropicBefore, 'nor to Claude');
    const rejected = (await requestEvents()).filter((e) => e.type === 'RequestRejected');
    assert.ok(rejected.length >= 5, 'each refusal is an event');
  });

  it("an unknown path or method is answered in the SDK's own error shape", async () => {
    const viaOpenAI = await openai()
      .post('/assistants-nope', { body: {} })
      .catch((error: unknown) => error);
    assert.ok(viaOpenAI instanceof OpenAI.NotFoundError, String(viaOpenAI));
    assert.equal(viaOpenAI.type, 'invalid_request_error');
    assert.equal(viaOpenAI.code, 'not_found');
    assert.match(viaOpenAI.message, /no route for POST \/v1\/assistants-nope/);
    const viaAnthropic = await anthropic()
      .post('/v1/messages/batches-nope', { body: {} })
      .catch((error: unknown) => error);
    assert.ok(viaAnthropic instanceof Anthropic.NotFoundError, String(viaAnthropic));
    assert.equal((viaAnthropic.error as { error: { type: string } }).error.type, 'not_found_error');
    const wrongMethod = await openai()
      .put('/chat/completions')
      .catch((error: unknown) => error);
    assert.ok(wrongMethod instanceof OpenAI.APIError && wrongMethod.status === 405, String(wrongMethod));
    assert.equal(wrongMethod.type, 'invalid_request_error');
    // Under a prefix route (`GET /v1/models/{model}`): another method is a 405, the bare prefix a 404.
    const deleteModel = await openai()
      .models.delete('gpt-4o-mini')
      .catch((error: unknown) => error);
    assert.ok(deleteModel instanceof OpenAI.APIError && deleteModel.status === 405, String(deleteModel));
    const bare = await openai()
      .get('/models/')
      .catch((error: unknown) => error);
    assert.ok(bare instanceof OpenAI.NotFoundError, String(bare));
  });

  it('OpenAI SDK: models.retrieve answers a model the org serves, a wildcard match included, else 404', async () => {
    const model = await openai().models.retrieve('gpt-4o-mini');
    assert.deepEqual(model, { id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai-main' });
    // Served through the provider's "gpt-4.1*" pattern.
    assert.equal((await openai().models.retrieve('gpt-4.1-nano')).id, 'gpt-4.1-nano');
    // Another org's model is not this caller's.
    const other = await openai()
      .models.retrieve('gpt-4o')
      .catch((error: unknown) => error);
    assert.ok(other instanceof OpenAI.NotFoundError, String(other));
    assert.equal(other.code, 'model_not_found');
    // A model id with a slash reaches Kordon encoded and is read whole.
    assert.equal((await openai().models.retrieve('claude/claude-sonnet-4-5')).owned_by, 'claude');
  });

  it('no secret reaches the event log or the data folder in plaintext', async () => {
    await kordon.storage.appender.flush();
    const log = JSON.stringify(await kordon.storage.store.readAll({ after: 0, maxCount: 100_000 }));
    for (const secret of [OPENAI_KEY, ANTHROPIC_KEY, ANTHROPIC_KEY_2, GEMINI_KEY, aliceKey]) {
      assert.ok(!log.includes(secret), 'not in any event');
      assert.ok(!log.includes(secret.slice(10, 30)), 'not even a part of it');
    }
    // The embedded database's files: only the issued-key file (owner-only) may hold a proxy key.
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
      );
    for (const file of walk(dataDir)) {
      if (file.includes('issued-proxy-keys') || file.endsWith('kordon.yaml')) continue;
      const bytes = readFileSync(file);
      for (const secret of [OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, aliceKey]) {
        assert.equal(bytes.includes(secret), false, `${file} holds a secret`);
      }
    }
  });

  it('a wrong key is refused in each dialect, without echoing it', async () => {
    const client = new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: 'sk-not-a-kordon-key', maxRetries: 0 });
    await assert.rejects(client.models.list(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.AuthenticationError);
      assert.equal((error.error as { code?: string }).code, 'invalid_api_key');
      assert.doesNotMatch(error.message, /sk-not-a-kordon-key/);
      return true;
    });
    // Alice's key with its last character changed (to another one: an issued key may end in x).
    const changed = aliceKey.endsWith('x') ? 'y' : 'x';
    const wrong = new Anthropic({
      baseURL: kordon.url,
      apiKey: `${aliceKey.slice(0, -1)}${changed}`,
      maxRetries: 0,
    });
    await assert.rejects(
      wrong.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
      (error: unknown) =>
        error instanceof Anthropic.AuthenticationError &&
        (error.error as { error?: { type?: string } }).error?.type === 'authentication_error',
    );
  });

  it('an upstream that breaks mid-stream ends the stream with an error, recorded with the tokens so far', async () => {
    openaiMock.enqueueScenario('reset-mid-stream=3');
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'this answer will be cut short by a reset' }],
      stream: true,
    });
    await assert.rejects(async () => {
      for await (const _ of stream) {
        // consume until the error
      }
    }, /interrupted/);
    const event = await lastEvent();
    assert.equal(event.type, 'RequestFailed');
    if (event.type === 'RequestFailed') assert.equal(event.data.errorCode, 'stream_interrupted');
  });

  it("a provider refusing Kordon's own key is a 502 for the caller, never a 401 about the caller's key", async () => {
    openaiMock.enqueueScenario('unauthorized');
    await assert.rejects(
      openai().chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
        { timeout: 5000 },
      ),
      (error: unknown) =>
        error instanceof OpenAI.APIError && error.status === 502 && !/sk-proj/.test(error.message),
    );
    const event = await lastEvent();
    assert.ok(event.type === 'RequestFailed' && event.data.errorCode === 'upstream_auth_failed');

    // The key is out of rotation until an admin acts, and an event says why.
    await kordon.storage.appender.flush();
    const all = await kordon.storage.store.readAll({ after: 0, maxCount: 10_000 });
    const disabled = all.filter((e) => e.type === 'ProviderKeyDisabled').at(-1);
    assert.ok(disabled, 'a ProviderKeyDisabled event');
    const data = disabled.data as { providerKeyId: string; reason: string; upstreamStatus: number };
    assert.equal(data.reason, 'invalid_credentials');
    assert.equal(data.upstreamStatus, 401);
    const calls = openaiMock.requests.length;
    await assert.rejects(
      openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'y' }] }),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 503,
    );
    assert.equal(openaiMock.requests.length, calls, 'a disabled key is not tried');

    // An admin enables it again (the event the admin API writes): traffic returns.
    const enabled = await kordon.storage.store.append(
      streams.providerKey(orgId, data.providerKeyId),
      [
        kordonCatalogue.create(
          'ProviderKeyEnabled',
          streams.providerKey(orgId, data.providerKeyId),
          { providerKeyId: data.providerKeyId },
          { orgId, actor: { kind: 'user', id: 'usr_admin' } },
        ),
      ],
      'any',
    );
    await kordon.dataPlaneCaughtUp(enabled.lastPosition);
    const back = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'back again' }],
    });
    assert.match(back.choices[0]!.message.content!, /back again/);
  });

  it('a provider 429 on the only key reaches the caller as 429 with Retry-After', async () => {
    openaiMock.enqueueScenario('rate-limit=7');
    await assert.rejects(
      openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      (error: unknown) => error instanceof OpenAI.RateLimitError && error.headers?.get('retry-after') === '7',
    );
    const event = await lastEvent();
    assert.ok(event.type === 'RequestFailed' && event.data.errorCode === 'upstream_rate_limited');
  });

  it("a provider's own timeouts from the config file bound its calls", async () => {
    // The slow provider sends a word every 20 ms forever; its config gives calls 1.5 s in all.
    const started = Date.now();
    const stream = await openai().chat.completions.create({
      model: 'slow-model',
      messages: [{ role: 'user', content: 'go on until the limit' }],
      stream: true,
    });
    let chunks = 0;
    await assert.rejects(async () => {
      for await (const _ of stream) chunks++;
    }, /interrupted/);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1400 && elapsed < 10_000, `ended after ${elapsed} ms`);
    assert.ok(chunks > 10);
    const event = await lastEvent();
    assert.equal(event.type, 'RequestFailed');
    if (event.type === 'RequestFailed') {
      assert.equal(event.data.errorCode, 'stream_interrupted');
      assert.ok(event.data.usage.outputTokens >= chunks, 'the words streamed are counted');
    }
    // Not streamed, nothing reaches the caller before the limit: a 504 naming which limit ran out.
    const plain = await openai()
      .chat.completions.create({ model: 'slow-model', messages: [{ role: 'user', content: 'again' }] })
      .catch((error: unknown) => error);
    assert.ok(plain instanceof OpenAI.APIError && plain.status === 504, String(plain));
    assert.equal(plain.code, 'upstream_total_timeout');
    assert.match(plain.message, /within 1500 ms/);
  });
});
