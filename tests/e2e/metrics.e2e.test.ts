import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const PRIMARY_KEY = 'sk-proj-metricsprimaryabcdefghijklmnopqrstuvwx';
const SECONDARY_KEY = 'sk-proj-metricssecondaryabcdefghijklmnopqrstu';
const ANTHROPIC_KEY = 'sk-ant-api03-metricsabcdefghijklmnopqrstuvwxyz';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[name!] = value!.replace(/\\(.)/g, '$1');
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Kordon's /metrics after a few requests of every kind, with the official OpenAI SDK. */
describe('metrics: the data plane on /metrics', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let kordon: KordonUnderTest;
  let aliceKey: string;
  let bobKey: string;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [PRIMARY_KEY, SECONDARY_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    kordon = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 1, output: 2 }
    providers:
      - name: primary
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: p1, secret: "\${PRIMARY_KEY}", weight: 3 }]
      - name: secondary
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: s1, secret: "\${SECONDARY_KEY}" }]
      - name: claude
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: c1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: laptop }]
      - email: bob@acme.test
        proxyKeys: [{ name: ci, limits: { models: [gpt-4o-mini] } }]
`,
      { PRIMARY_KEY, SECONDARY_KEY, ANTHROPIC_KEY },
    );
    aliceKey = kordon.proxyKeys.get('alice@acme.test--laptop')!;
    bobKey = kordon.proxyKeys.get('bob@acme.test--ci')!;
  });
  after(async () => {
    await kordon?.stop();
    await openaiMock?.close();
    await anthropicMock?.close();
  });

  const openai = (apiKey = aliceKey) => new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey, maxRetries: 0 });
  const scrape = async () => {
    const response = await fetch(`${kordon.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    return { text, samples: parseExposition(text) };
  };
  const value = (samples: Sample[], name: string, labels: Record<string, string>) => {
    const found = samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
  };

  it('counts requests, latency, time to first token, tokens, cost, rejections and attempts', async () => {
    const plain = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'count me' }],
    });
    let streamedUsage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream me' }],
    }))
      if (chunk.usage) streamedUsage = chunk.usage;
    assert.ok(streamedUsage);
    await assert.rejects(
      openai(bobKey).chat.completions.create({
        model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'not my model' }],
      }),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 403,
    );
    await assert.rejects(
      openai('kdn_notakey').chat.completions.create({ model: 'gpt-4o-mini', messages: [] }),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 401,
    );
    openaiMock.enqueueScenario('server-error', { key: PRIMARY_KEY });
    await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'fail over' }],
    });
    const events = await kordon.requestEvents();
    const { text, samples } = await scrape();

    const completed = {
      org: 'acme',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      status: '200',
      outcome: 'completed',
    };
    assert.equal(value(samples, 'kordon_requests_total', { ...completed, provider: 'primary' }), 2);
    assert.equal(value(samples, 'kordon_requests_total', { ...completed, provider: 'secondary' }), 1);
    assert.equal(
      value(samples, 'kordon_requests_total', {
        org: 'acme',
        provider: '',
        model: 'claude-sonnet-4-5',
        status: '403',
        outcome: 'rejected',
      }),
      1,
    );
    assert.equal(
      value(samples, 'kordon_requests_total', { org: '', status: '401', outcome: 'unauthenticated' }),
      1,
    );
    assert.equal(
      value(samples, 'kordon_limit_rejections_total', {
        org: 'acme',
        reason: 'model_forbidden',
        scope: 'proxy-key',
      }),
      1,
    );

    const histogram = { provider: 'primary', model: 'gpt-4o-mini', endpoint: 'chat.completions' };
    assert.equal(value(samples, 'kordon_request_duration_seconds_count', histogram), 2);
    assert.ok((value(samples, 'kordon_request_duration_seconds_sum', histogram) ?? 0) > 0);
    assert.equal(value(samples, 'kordon_request_duration_seconds_bucket', { ...histogram, le: '+Inf' }), 2);
    assert.equal(value(samples, 'kordon_time_to_first_token_seconds_count', histogram), 1);
    assert.equal(value(samples, 'kordon_request_duration_seconds_count', { provider: 'secondary' }), 1);

    // Tokens and cost agree with the request events.
    let input = 0;
    let output = 0;
    let cost = 0;
    for (const event of events as KordonEvent[]) {
      if (event.type !== 'RequestCompleted' || event.data.provider !== 'primary') continue;
      input += event.data.usage.inputTokens;
      output += event.data.usage.outputTokens;
      cost += Number(event.data.cost);
    }
    assert.equal(input, plain.usage!.prompt_tokens + streamedUsage.prompt_tokens);
    const spent = { org: 'acme', provider: 'primary', model: 'gpt-4o-mini' };
    assert.equal(value(samples, 'kordon_tokens_total', { ...spent, type: 'input' }), input);
    assert.equal(value(samples, 'kordon_tokens_total', { ...spent, type: 'output' }), output);
    const counted = value(samples, 'kordon_cost_total', { ...spent, currency: 'USD' }) ?? 0;
    assert.ok(Math.abs(counted - cost) < 1e-12, `cost ${counted} = ${cost}`);

    assert.equal(
      value(samples, 'kordon_upstream_attempts_total', { org: 'acme', provider: 'primary', result: 'ok' }),
      2,
    );
    assert.equal(
      value(samples, 'kordon_upstream_attempts_total', {
        org: 'acme',
        provider: 'primary',
        result: 'server_error',
      }),
      1,
    );
    assert.equal(
      value(samples, 'kordon_upstream_attempts_total', { org: 'acme', provider: 'secondary', result: 'ok' }),
      1,
    );
    // Each attempt names its call and its provider key (an id, never the secret): primary has one.
    assert.equal(
      value(samples, 'kordon_upstream_attempts_total', {
        provider: 'primary',
        operation: 'chat',
        result: 'ok',
      }),
      2,
    );
    const primaryKeys = new Set(
      samples
        .filter((s) => s.name === 'kordon_upstream_attempts_total' && s.labels.provider === 'primary')
        .map((s) => s.labels.provider_key_id),
    );
    assert.equal(primaryKeys.size, 1);
    assert.match([...primaryKeys][0] ?? '', /^[a-z]+_[0-9a-z]+$/i);

    // No label carries a key, a proxy key or a user.
    for (const secret of [PRIMARY_KEY, SECONDARY_KEY, ANTHROPIC_KEY, aliceKey, bobKey])
      assert.equal(text.includes(secret), false);
    assert.equal(text.includes('alice@acme.test'), false);
  });

  it('shows every provider key as the balancer sees it, and how far the projections are behind', async () => {
    const { samples } = await scrape();
    const keys = samples.filter((s) => s.name === 'kordon_provider_key_usable');
    assert.deepEqual(keys.map((s) => `${s.labels.org}/${s.labels.provider}/${s.labels.key}`).sort(), [
      'acme/claude/c1',
      'acme/primary/p1',
      'acme/secondary/s1',
    ]);
    for (const key of keys) assert.match(key.labels.provider_key_id!, /^prk_[0-9a-f]{32}$/);
    assert.equal(value(samples, 'kordon_provider_key_weight', { provider: 'primary' }), 3);
    assert.ok((value(samples, 'kordon_provider_key_effective_weight', { provider: 'secondary' }) ?? -1) >= 0);
    assert.ok(
      (value(samples, 'kordon_provider_key_error_rate', { provider: 'primary' }) ?? 0) > 0,
      'the 500 counts',
    );
    assert.ok((value(samples, 'kordon_provider_key_latency_seconds', { provider: 'secondary' }) ?? 0) > 0);
    const states = samples.filter(
      (s) => s.name === 'kordon_provider_key_state' && s.labels.provider === 'claude',
    );
    assert.deepEqual(
      states.filter((s) => s.value === 1).map((s) => s.labels.state),
      ['ok'],
      'one state at a time',
    );
    assert.equal(states.length, 5);

    for (const projection of ['registry', 'gateway-limits']) {
      const lag = value(samples, 'kordon_projection_lag_events', { projection });
      assert.ok(lag !== undefined && lag >= 0, `${projection} lag`);
      assert.ok((value(samples, 'kordon_projection_position', { projection }) ?? 0) > 0);
    }
    // The event pipeline's own series are still there.
    assert.equal(value(samples, 'kordon_event_spool_events', {}), 0);
    assert.ok((value(samples, 'kordon_events_written_total', { destination: 'store' }) ?? 0) > 0);
  });
});

/** An OpenAI-shaped server that knows no model: every chat call is OpenAI's 404 `model_not_found`. */
async function startNoSuchModelServer(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const model = (() => {
        try {
          return String(JSON.parse(body).model);
        } catch {
          return '';
        }
      })();
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            message: `The model \`${model}\` does not exist or you do not have access to it.`,
            type: 'invalid_request_error',
            param: null,
            code: 'model_not_found',
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('metrics: model names a caller makes up on a wildcard route', () => {
  const STRICT_KEY = 'sk-proj-metricsstrictabcdefghijklmnopqrstuvwx';
  let strict: { url: string; server: Server };
  let kordon: KordonUnderTest;

  before(async () => {
    strict = await startNoSuchModelServer();
    kordon = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: strict
        type: openai
        baseUrl: ${strict.url}/v1
        models: ["gpt-5*"]
        keys: [{ name: x1, secret: "\${STRICT_KEY}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { STRICT_KEY },
    );
  });
  after(async () => {
    await kordon?.stop();
    await new Promise((resolve) => strict?.server.close(resolve));
  });

  it('which the provider says do not exist, make no new model series on /metrics', async () => {
    const key = kordon.proxyKeys.get('alice@acme.test--laptop')!;
    const openai = new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: key, maxRetries: 0 });
    const madeUp = ['gpt-5-nope-a81f', 'gpt-5-nope-b92e', 'gpt-5-nope-c03d'];
    for (const model of madeUp) {
      await assert.rejects(
        openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
        (error: unknown) => error instanceof OpenAI.APIError && error.status === 404,
      );
    }
    const text = await (await fetch(`${kordon.url}/metrics`)).text();
    // A caller could otherwise fill the model values with junk, after which every real model
    // new to the process is "other".
    assert.deepEqual(
      madeUp.filter((model) => text.includes(`model="${model}"`)),
      [],
    );
    assert.match(
      text,
      /kordon_requests_total\{org="acme",provider="strict",model="",[^}]*outcome="failed"\} 3/,
    );
  });
});

describe('metrics: KORDON_METRICS=false', () => {
  it('counts nothing for the data plane; the event pipeline is still on /metrics', async () => {
    const mock = await startOpenAIMock({ keys: [PRIMARY_KEY] });
    const kordon = await startKordonUnderTest(
      `
orgs:
  - slug: quiet
    name: Quiet
    providers:
      - { name: openai, type: openai, baseUrl: "${mock.url}/v1", models: [gpt-4o-mini], keys: [{ name: k, secret: "\${PRIMARY_KEY}" }] }
    users:
      - email: q@quiet.test
        proxyKeys: [{ name: q }]
`,
      { PRIMARY_KEY, KORDON_METRICS: 'false' },
    );
    try {
      const key = kordon.proxyKeys.get('q@quiet.test--q')!;
      await new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const text = await (await fetch(`${kordon.url}/metrics`)).text();
      assert.equal(/^kordon_requests_total/m.test(text), false);
      assert.equal(/^kordon_provider_key_/m.test(text), false);
      assert.match(text, /^kordon_event_spool_events /m);
    } finally {
      await kordon.stop();
      await mock.close();
    }
  });
});

/**
 * A Claude-shaped server whose stream begins at once (message_start, ping: as Claude does
 * while a model thinks) and sends its first text `pauseMs` later.
 */
async function startThinkingClaude(pauseMs: number): Promise<{ url: string; server: Server }> {
  const frame = (event: { type: string }) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        frame({
          type: 'message_start',
          message: {
            id: 'msg_thinking01',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-5',
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 9, output_tokens: 1 },
          },
        } as { type: string }),
      );
      res.write(frame({ type: 'ping' }));
      setTimeout(() => {
        res.write(
          frame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } as {
            type: string;
          }),
        );
        res.write(
          frame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } } as {
            type: string;
          }),
        );
        res.write(frame({ type: 'content_block_stop', index: 0 } as { type: string }));
        res.write(
          frame({
            type: 'message_delta',
            delta: { stop_reason: 'end_turn', stop_sequence: null },
            usage: { output_tokens: 2 },
          } as { type: string }),
        );
        res.end(frame({ type: 'message_stop' }));
      }, pauseMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('metrics: time to first token', () => {
  it('is counted to the first content the caller gets, not to the stream opening before it', async () => {
    const PAUSE_MS = 1500;
    const claude = await startThinkingClaude(PAUSE_MS);
    const kordon = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: claude
        type: anthropic
        baseUrl: ${claude.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: c1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { ANTHROPIC_KEY },
    );
    try {
      const key = kordon.proxyKeys.get('alice@acme.test--laptop')!;
      const startedAt = performance.now();
      let firstTextAt: number | undefined;
      const stream = await new OpenAI({
        baseURL: `${kordon.url}/v1`,
        apiKey: key,
        maxRetries: 0,
      }).chat.completions.create({
        model: 'claude-sonnet-4-5',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      for await (const chunk of stream)
        if (firstTextAt === undefined && chunk.choices[0]?.delta?.content) firstTextAt = performance.now();
      assert.ok(firstTextAt !== undefined && firstTextAt - startedAt >= PAUSE_MS);
      const event = (await kordon.requestEvents()).find((e) => e.type === 'RequestCompleted');
      assert.ok(event && event.type === 'RequestCompleted');
      // Not the arrival of message_start (~0 s here): the histogram is counted from this field.
      assert.ok(
        (event.data.timeToFirstTokenMs ?? 0) >= PAUSE_MS,
        `time to first token ${event.data.timeToFirstTokenMs} ms, the first text came after ${Math.round(firstTextAt - startedAt)} ms`,
      );
    } finally {
      await kordon.stop();
      await new Promise((resolve) => claude.server.close(resolve));
    }
  });
});
