import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import {
  type KordonUnderTest,
  openAIAndClaudeConfig,
  startKordonUnderTest,
} from './support/kordon-under-test.js';
import { startOtlpReceiver } from './support/otlp-receiver.js';

const OPENAI_KEY = 'sk-proj-shutdownabcdefghijklmnopqrstuvwxyz01';
const newTraceId = () => randomBytes(16).toString('hex');
const newSpanId = () => randomBytes(8).toString('hex');
const ANTHROPIC_KEY = 'sk-ant-api03-shutdownabcdefghijklmnopqrstuvwx';

/**
 * A replica shutting down (a deploy) with answers still streaming past its drain deadline:
 * each caller's SDK raises an error that says so (not a bare network error), and each request
 * is recorded with the tokens it streamed, found in the store after a restart.
 */
describe('shutdown with streams in flight', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let gateway: KordonUnderTest;

  const config = () => openAIAndClaudeConfig({ openai: openaiMock.url, anthropic: anthropicMock.url }, 'dev');

  before(async () => {
    // A frame every 150 ms: a long answer still streaming when the deadline passes.
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY], frameDelayMs: 150 });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY], frameDelayMs: 150 });
    gateway = await startKordonUnderTest(config(), {
      OPENAI_KEY,
      ANTHROPIC_KEY,
      KORDON_SHUTDOWN_TIMEOUT_MS: '400',
    });
  });
  after(async () => {
    await openaiMock?.close();
    await anthropicMock?.close();
  });

  it('each stream ends with an error event its SDK raises, and is recorded with what it streamed', async () => {
    const apiKey = gateway.proxyKeys.get('dev@acme.test--dev')!;
    const prompt = 'tell me a long story about the sea, the ships and the storms they met';
    let openaiText = '';
    const viaOpenAI = (async () => {
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: prompt }],
        stream: true,
      });
      for await (const chunk of stream) openaiText += chunk.choices[0]?.delta.content ?? '';
    })().catch((error: unknown) => error);
    let anthropicText = '';
    const viaAnthropic = (async () => {
      const client = new Anthropic({ baseURL: gateway.url, apiKey, maxRetries: 0 });
      const stream = client.messages.stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 512,
        messages: [{ role: 'user', content: prompt }],
      });
      for await (const event of stream)
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
          anthropicText += event.delta.text;
    })().catch((error: unknown) => error);
    // Both streaming before the deploy's stop.
    const until = Date.now() + 5000;
    while ((openaiText === '' || anthropicText === '') && Date.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(openaiText !== '' && anthropicText !== '', 'both answers were streaming');

    await gateway.stop({ keepData: true });
    const openaiError = await viaOpenAI;
    assert.ok(openaiError instanceof OpenAI.APIError, String(openaiError));
    assert.match(openaiError.message, /Kordon is shutting down and ended this stream; retry/);
    const anthropicError = await viaAnthropic;
    assert.ok(anthropicError instanceof Anthropic.APIError, String(anthropicError));
    assert.match(anthropicError.message, /Kordon is shutting down and ended this stream; retry/);

    const again = await startKordonUnderTest(
      config(),
      { OPENAI_KEY, ANTHROPIC_KEY },
      { dataDir: gateway.dataDir },
    );
    try {
      const events = await again.requestEvents();
      assert.equal(events.length, 2, 'one event per request, none lost in the shutdown');
      for (const event of events) {
        assert.equal(event.type, 'RequestFailed');
        if (event.type !== 'RequestFailed') continue;
        assert.equal(event.data.errorCode, 'gateway_shutdown');
        assert.ok(event.data.usage.outputTokens > 0, `${event.data.model}: the tokens streamed are recorded`);
      }
    } finally {
      await again.stop();
    }
  });
});

/**
 * A plain request still waiting on its provider at the drain deadline is ended by the replica,
 * not the provider: it is answered a 503 its SDK retries (the connection was cut, a bare
 * network error) and recorded `gateway_shutdown` (it was recorded as its caller's leaving).
 */
describe('shutdown with a plain request in flight', () => {
  it('is not blamed on the provider: one attempt, not a connection failure that fails over to the next provider; answered 503 and recorded gateway_shutdown', async () => {
    const FIRST = 'sk-proj-auditshutfirstabcdefghijklmnopqrstuvw';
    const SECOND = 'sk-proj-auditshutsecondabcdefghijklmnopqrstuv';
    const receiver = await startOtlpReceiver();
    const mock = await startOpenAIMock({ keys: [FIRST, SECOND] });
    const config = `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: first
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: f1, secret: "\${FIRST}" }]
      - name: second
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: s1, secret: "\${SECOND}" }]
    users:
      - email: alice@acme.test
        proxyKeys: [{ name: laptop }]
`;
    const kordon = await startKordonUnderTest(config, {
      FIRST,
      SECOND,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '20',
      KORDON_SHUTDOWN_TIMEOUT_MS: '200',
    });
    try {
      const key = kordon.proxyKeys.get('alice@acme.test--laptop')!;
      const traceId = newTraceId();
      mock.enqueueScenario('slow-first-byte=4000', { key: FIRST });
      mock.enqueueScenario('slow-first-byte=4000', { key: SECOND });
      const call = new OpenAI({ baseURL: `${kordon.url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions
        .create(
          { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
          { headers: { traceparent: `00-${traceId}-${newSpanId()}-01` } },
        )
        .catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await kordon.stop({ keepData: true });
      const error = await call;
      assert.ok(error instanceof OpenAI.APIError, String(error));
      assert.equal(error.status, 503);
      assert.match(
        error.message,
        /Kordon is shutting down and ended this request before its answer came; retry/,
      );
      const spans = await receiver.waitFor((all) =>
        all.some((s) => s.traceId === traceId && s.name === 'POST /v1/chat/completions'),
      );
      const attempts = spans
        .filter((s) => s.traceId === traceId && s.name === 'provider.openai.chat')
        .map((s) => ({
          provider: s.attributes['kordon.provider'],
          kind: s.attributes['kordon.failure_kind'],
        }));
      // Not [{first, connection_failed}, {second, connection_failed}]: the stop destroyed the
      // upstream client before the call heard its caller leave, the provider was blamed
      // (kordon_upstream_attempts_total{result="connection_failed"}, the balancer) and it failed over.
      assert.deepEqual(attempts, [{ provider: 'first', kind: 'caller_cancelled' }]);
      const again = await startKordonUnderTest(config, { FIRST, SECOND }, { dataDir: kordon.dataDir });
      try {
        const events = await again.requestEvents();
        assert.equal(events.length, 1, 'one event for the request, none lost in the shutdown');
        assert.equal(events[0]!.type, 'RequestFailed');
        if (events[0]!.type === 'RequestFailed') {
          assert.equal(events[0]!.data.errorCode, 'gateway_shutdown');
          assert.equal(events[0]!.data.status, 503);
        }
      } finally {
        await again.stop();
      }
    } finally {
      await mock.close();
      await receiver.close();
    }
  });
});
