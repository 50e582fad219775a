import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import {
  type KordonUnderTest,
  openAIAndClaudeConfig,
  startKordonUnderTest,
} from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-shutdownabcdefghijklmnopqrstuvwxyz01';
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
        assert.equal(event.data.errorCode, 'stream_interrupted');
        assert.ok(event.data.usage.outputTokens > 0, `${event.data.model}: the tokens streamed are recorded`);
      }
    } finally {
      await again.stop();
    }
  });
});
