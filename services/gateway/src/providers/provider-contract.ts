/**
 * The provider contract: one suite every adapter runs against a mock of its provider that
 * speaks the provider's real wire format (`*.int.test.ts` next to each adapter). It checks
 * what the gateway relies on, through the same path the gateway takes (adapter -> upstream
 * client -> stream reader -> translate layer):
 *
 * - plain and streamed chat answers arrive with their usage, streams to a clean end;
 * - 429 with Retry-After is a retryable UpstreamError with `retryAfterMs`; 5xx retryable;
 *   401 not retryable (and the key never appears in the error);
 * - a connection reset mid-stream (or mid-body) is `upstream_reset`, never a clean end; a
 *   stream without its terminator is not finished;
 * - a slow first byte is `upstream_first_byte_timeout`;
 * - SSE frames split across TCP packets and keep-alive comments are read correctly;
 * - rate-limit headers are parsed where the provider sends them;
 * - an abort stops the upstream call: the mock's side of the socket closes;
 * - nothing from a request changes the host a call goes to.
 *
 * Cases a provider cannot have are skipped with the reason, given by its harness.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  anthropicMessageResponse,
  anthropicToOpenAIStream,
  geminiGenerateContentResponse,
  geminiToOpenAIStream,
  type NormalisedUsage,
  openAIChatCompletion,
  openAIToAnthropicStream,
  type StreamTranslator,
  usageFromAnthropic,
  usageFromGemini,
  usageFromOpenAI,
} from '../translate/index.js';
import { startTcpTap } from '../upstream/testing/tcp-tap.js';
import { UpstreamClient } from '../upstream/upstream-client.js';
import { isUpstreamError, type UpstreamError } from '../upstream/upstream-error.js';
import {
  callProvider,
  type ProviderCall,
  type ProviderEventStream,
  streamProvider,
} from './provider-call.js';
import {
  type Dialect,
  GENERATE_OPERATION,
  type OperationRequest,
  type ProviderAdapter,
  type ProviderConfig,
  type ProviderKey,
} from './provider-types.js';

/** A case the provider cannot have, and why. */
export interface Skip {
  readonly skip: string;
}

/** What an adapter's test gives the suite: the adapter, a running mock, and how to program it. */
export interface ContractHarness {
  readonly adapter: ProviderAdapter;
  readonly model: string;
  readonly key: ProviderKey;
  /** The mock's origin, `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** A configuration whose provider endpoint is at `origin` (the mock's, or a tap in front of it). */
  config(origin: string): ProviderConfig;
  /**
   * A scenario every following request plays until cleared, in the text form of
   * @kordon/mock-providers (`rate-limit=2`, `split-frames, keep-alive`); undefined clears it.
   */
  setScenario(scenario: string | undefined): void;
  /** The text the mock answers to a prompt (the mocks echo it behind a prefix). */
  expectedText(prompt: string): string;
  readonly rateLimitHeaders: true | Skip;
  readonly keepAliveComments: true | Skip;
  close(): Promise<void>;
}

export const REPLY_PREFIX = 'Mock reply: ';

const PROMPT = 'hello contract suite, tell me about the sea';
const LONG_PROMPT = Array.from({ length: 80 }, (_unused, index) => `word${index}`).join(' ');

/** A chat request in the adapter's dialect. */
export function chatRequest(
  adapter: ProviderAdapter,
  model: string,
  prompt: string,
  stream: boolean,
): OperationRequest {
  const operation = GENERATE_OPERATION[adapter.dialect];
  switch (adapter.dialect) {
    case 'openai':
      return { operation, model, stream, body: { model, messages: [{ role: 'user', content: prompt }] } };
    case 'anthropic':
      return {
        operation,
        model,
        stream,
        body: { model, max_tokens: 1024, messages: [{ role: 'user', content: prompt }] },
      };
    case 'gemini':
      return { operation, model, stream, body: { contents: [{ role: 'user', parts: [{ text: prompt }] }] } };
    default: {
      const unknown: never = adapter.dialect;
      throw new Error(`no chat request for ${String(unknown)}`);
    }
  }
}

/** Text and usage of a finished answer, read with the translate layer's schemas. */
export function answerOf(
  dialect: Dialect,
  json: unknown,
): { text: string; usage: NormalisedUsage | undefined } {
  switch (dialect) {
    case 'openai': {
      const completion = openAIChatCompletion.parse(json);
      return { text: completion.choices[0]?.message.content ?? '', usage: usageFromOpenAI(completion.usage) };
    }
    case 'anthropic': {
      const message = anthropicMessageResponse.parse(json);
      const text = message.content
        .map((block) => ('text' in block && typeof block.text === 'string' ? block.text : ''))
        .join('');
      return { text, usage: usageFromAnthropic(message.usage) };
    }
    case 'gemini': {
      const response = geminiGenerateContentResponse.parse(json);
      const parts = response.candidates?.[0]?.content?.parts ?? [];
      return {
        text: parts.map((part) => part.text ?? '').join(''),
        usage: usageFromGemini(response.usageMetadata),
      };
    }
    default: {
      const unknown: never = dialect;
      throw new Error(`no reader for ${String(unknown)}`);
    }
  }
}

/** A translator that consumes the adapter's stream events, for its `finished`, `usage` and text. */
export function streamObserver(dialect: Dialect, model: string): StreamTranslator<unknown> {
  switch (dialect) {
    case 'openai':
      return openAIToAnthropicStream();
    case 'anthropic':
      return anthropicToOpenAIStream({ includeUsage: true, created: 0 });
    case 'gemini':
      return geminiToOpenAIStream({
        includeUsage: true,
        created: 0,
        fallbackId: 'contract',
        requestedModel: model,
      });
    default: {
      const unknown: never = dialect;
      throw new Error(`no observer for ${String(unknown)}`);
    }
  }
}

interface Observed {
  readonly translator: StreamTranslator<unknown>;
  readonly events: number;
  readonly error: UpstreamError | undefined;
}

/** Feeds every event to an observer; stops at the first error (kept, not thrown). */
async function observe(
  stream: ProviderEventStream,
  dialect: Dialect,
  model: string,
  onEvent?: (count: number) => void,
): Promise<Observed> {
  const translator = streamObserver(dialect, model);
  let events = 0;
  try {
    for await (const event of stream) {
      events += 1;
      translator.push(event);
      onEvent?.(events);
    }
  } catch (error) {
    if (!isUpstreamError(error)) throw error;
    return { translator, events, error };
  }
  return { translator, events, error: undefined };
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isUpstreamError(error), `expected an UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

function assertUsage(usage: NormalisedUsage | undefined): void {
  assert.ok(usage, 'usage reported');
  assert.ok(usage.inputTokens > 0, `input tokens ${usage.inputTokens}`);
  assert.ok(usage.outputTokens > 0, `output tokens ${usage.outputTokens}`);
}

const CLIENT_TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000, totalMs: 20_000 };

export function providerContract(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`provider contract: ${name}`, () => {
    let harness: ContractHarness;
    let client: UpstreamClient;

    const call = (overrides: Partial<ProviderCall> = {}): ProviderCall => ({
      client,
      adapter: harness.adapter,
      config: harness.config(harness.origin),
      key: harness.key,
      ...overrides,
    });
    const chat = (stream: boolean, prompt = PROMPT) =>
      chatRequest(harness.adapter, harness.model, prompt, stream);
    const dialect = () => harness.adapter.dialect;

    before(async () => {
      harness = await setup();
    });
    beforeEach(() => {
      client = new UpstreamClient({ timeouts: CLIENT_TIMEOUTS });
      harness.setScenario(undefined);
    });
    afterEach(async () => {
      harness.setScenario(undefined);
      await client.destroy();
    });
    after(async () => {
      await harness?.close();
    });

    it('answers a plain chat, with usage', async () => {
      const answer = await callProvider(call(), chat(false));
      assert.equal(answer.status, 200);
      const { text, usage } = answerOf(dialect(), answer.json());
      assert.equal(text, harness.expectedText(PROMPT));
      assertUsage(usage);
    });

    it('streams a chat answer to a clean end, with usage', async () => {
      const stream = await streamProvider(call(), chat(true));
      const { translator, events, error } = await observe(stream, dialect(), harness.model);
      assert.equal(error, undefined);
      assert.ok(events > 2, `events arrive one by one (${events})`);
      assert.equal(translator.failure, undefined);
      assert.equal(translator.finished, true, 'the dialect terminator arrived');
      assert.equal(stream.end, 'clean');
      assert.equal(translator.outputText(), harness.expectedText(PROMPT));
      assertUsage(translator.usage);
    });

    it('turns a 429 with Retry-After into a retryable error with retryAfterMs', async () => {
      harness.setScenario('rate-limit=2');
      const error = await rejection(callProvider(call(), chat(false)));
      assert.equal(error.code, 'upstream_http_error');
      assert.equal(error.status, 429);
      assert.equal(error.isRetryable, true);
      assert.equal(error.retryAfterMs, 2000);
      assert.equal(error.provider?.type, 'rate_limit');
    });

    it('turns a 429 on a streamed call into the same error, before any event', async () => {
      harness.setScenario('rate-limit=3');
      const error = await rejection(streamProvider(call(), chat(true)));
      assert.equal(error.status, 429);
      assert.equal(error.retryAfterMs, 3000);
      assert.equal(error.responseStarted, false);
    });

    for (const scenario of ['server-error', 'unavailable', 'overloaded']) {
      it(`treats ${scenario} (5xx) as retryable`, async () => {
        harness.setScenario(scenario);
        const error = await rejection(callProvider(call(), chat(false)));
        assert.equal(error.code, 'upstream_http_error');
        assert.ok(error.status !== undefined && error.status >= 500, `status ${error.status}`);
        assert.equal(error.isRetryable, true);
      });
    }

    it('treats a 401 as not retryable, and never shows the key', async () => {
      harness.setScenario('unauthorized');
      const error = await rejection(callProvider(call(), chat(false)));
      assert.equal(error.code, 'upstream_http_error');
      assert.equal(error.status, 401);
      assert.equal(error.isRetryable, false);
      assert.equal(error.provider?.type, 'authentication');
      const secret = harness.key.reveal();
      const shown = [
        error.message,
        error.bodyExcerpt ?? '',
        error.provider?.message ?? '',
        JSON.stringify(harness.key),
      ];
      for (const text of shown) assert.ok(!text.includes(secret), `key shown in ${text}`);
    });

    it('reports a connection reset mid-stream as not finished, never as a clean end', async () => {
      harness.setScenario('reset-mid-stream=2');
      const stream = await streamProvider(call(), chat(true, LONG_PROMPT));
      const { translator, events, error } = await observe(stream, dialect(), harness.model);
      assert.ok(error, 'the reset surfaces as an error');
      assert.equal(error.code, 'upstream_reset');
      assert.equal(error.responseStarted, true);
      assert.ok(events >= 1, 'what came before the reset was delivered');
      assert.equal(translator.finished, false);
      assert.equal(stream.end, undefined);
    });

    it('reports a connection reset inside a plain answer', async () => {
      harness.setScenario('reset-mid-stream');
      const error = await rejection(callProvider(call(), chat(false)));
      assert.equal(error.code, 'upstream_reset');
    });

    it('does not take a stream without its terminator for finished', async () => {
      harness.setScenario('no-terminator');
      const stream = await streamProvider(call(), chat(true));
      const { translator, error } = await observe(stream, dialect(), harness.model);
      assert.equal(error, undefined);
      assert.equal(translator.finished, false);
    });

    it('times out a slow first byte with its own code', async () => {
      harness.setScenario('slow-first-byte=3000');
      const started = Date.now();
      const error = await rejection(callProvider(call({ timeouts: { firstByteMs: 300 } }), chat(false)));
      assert.equal(error.code, 'upstream_first_byte_timeout');
      assert.equal(error.isRetryable, true);
      assert.ok(Date.now() - started < 2800, 'long before the answer would have come');
    });

    it('reads stream frames split across TCP packets', async () => {
      harness.setScenario('split-frames');
      const stream = await streamProvider(call(), chat(true, 'Привет, мир: 👋 split frames'));
      const { translator, error } = await observe(stream, dialect(), harness.model);
      assert.equal(error, undefined);
      assert.equal(translator.failure, undefined);
      assert.equal(translator.finished, true);
      assert.equal(translator.outputText(), harness.expectedText('Привет, мир: 👋 split frames'));
      assertUsage(translator.usage);
    });

    it('skips keep-alive comments', async (t) => {
      const support = harness.keepAliveComments;
      if (support !== true) {
        t.skip(support.skip);
        return;
      }
      harness.setScenario('keep-alive, split-frames');
      const stream = await streamProvider(call(), chat(true));
      const { translator, error } = await observe(stream, dialect(), harness.model);
      assert.equal(error, undefined);
      assert.equal(translator.finished, true);
      assert.ok(stream.keepAlives > 0, 'comments were seen and skipped');
      assert.equal(translator.outputText(), harness.expectedText(PROMPT));
    });

    it('parses the rate-limit headers', async (t) => {
      const support = harness.rateLimitHeaders;
      if (support !== true) {
        t.skip(support.skip);
        return;
      }
      const answer = await callProvider(call(), chat(false));
      assert.ok(answer.rateLimits, 'rate limits read');
      assert.equal(typeof answer.rateLimits.remainingRequests, 'number');
      assert.equal(typeof answer.rateLimits.remainingTokens, 'number');
    });

    it('stops the upstream call on abort: the mock sees the socket close', async () => {
      const tap = await startTcpTap(Number(new URL(harness.origin).port));
      try {
        const controller = new AbortController();
        const stream = await streamProvider(
          call({ config: harness.config(tap.url), signal: controller.signal }),
          chat(true, LONG_PROMPT),
        );
        const { error, translator } = await observe(stream, dialect(), harness.model, (count) => {
          if (count === 1) controller.abort();
        });
        assert.equal(error?.code, 'upstream_aborted');
        assert.equal(error?.isRetryable, false);
        assert.equal(translator.finished, false);
        const connection = await tap.waitForClientClose();
        assert.ok(connection.serverClosedAt !== undefined, 'the connection to the mock was closed');
      } finally {
        await tap.close();
      }
    });

    it('aborts while waiting for the first byte', async () => {
      harness.setScenario('slow-first-byte=3000');
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const error = await rejection(streamProvider(call({ signal: controller.signal }), chat(true)));
      assert.equal(error.code, 'upstream_aborted');
      assert.ok(Date.now() - started < 2000);
    });

    it('never lets request data choose the host', () => {
      const config = harness.config(harness.origin);
      const origin = new URL(harness.origin).origin;
      for (const model of [
        '../../admin',
        'http://evil.test/x',
        '//evil.test',
        'a/../../b',
        'evil.test:443',
      ]) {
        const request = chatRequest(harness.adapter, model, PROMPT, false);
        const body = { ...request.body, base_url: 'http://evil.test', api_base: 'http://evil.test' };
        try {
          const prepared = harness.adapter.prepare({ ...request, body }, config);
          assert.equal(prepared.target.origin, origin);
          assert.ok(
            !prepared.target.path.includes('..') && !prepared.target.path.includes('evil'),
            prepared.target.path,
          );
        } catch (error) {
          assert.ok(isUpstreamError(error, 'upstream_target_refused'), `${model}: ${String(error)}`);
        }
      }
    });
  });
}
