import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { type MockServer, startGeminiMock } from '@kordon/mock-providers';
import { streamFailureError } from '../../http/exchange.js';
import { anthropicMessagesRequest } from '../../translate/anthropic-messages-types.js';
import { openAIToGeminiEmbeddingsRequest, readGeminiEmbeddings } from '../../translate/gemini-embeddings.js';
import { openAIChatRequest } from '../../translate/openai-chat-types.js';
import { anthropicToGeminiRequest, openAIToGeminiRequest } from '../../translate/requests.js';
import { UpstreamClient } from '../../upstream/upstream-client.js';
import { isUpstreamError } from '../../upstream/upstream-error.js';
import { callProvider, type ProviderCall, streamProvider } from '../provider-call.js';
import { chatRequest, providerContract, REPLY_PREFIX, streamObserver } from '../provider-contract.js';
import { type OperationRequest, providerKey } from '../provider-types.js';
import { geminiProvider } from './gemini-provider.js';

const KEY = 'AIzaContractKey0123456789abcdef';

providerContract('gemini (mock-providers)', async () => {
  const mock: MockServer = await startGeminiMock({ keys: [KEY], frameDelayMs: 3 });
  return {
    adapter: geminiProvider,
    model: 'gemini-2.5-flash',
    key: providerKey('pk-gemini-1', KEY),
    origin: mock.url,
    config: (origin) => ({ baseUrl: origin }),
    setScenario: (scenario) => mock.setScenario(scenario),
    expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
    rateLimitHeaders: {
      skip: 'the Gemini API sends no rate-limit headers (its 429 carries a RetryInfo detail)',
    },
    keepAliveComments: true,
    close: () => mock.close(),
  };
});

/**
 * Embeddings, which the contract does not cover: an OpenAI caller's request as the gateway
 * translates it, sent to the mock's batchEmbedContents, and Gemini's failures through mapError.
 */
describe('gemini embeddings (mock-providers)', () => {
  let mock: MockServer;
  let client: UpstreamClient;
  const model = 'gemini-embedding-001';

  before(async () => {
    mock = await startGeminiMock({ keys: [KEY] });
  });
  beforeEach(() => {
    client = new UpstreamClient();
    mock.setScenario(undefined);
    mock.clearRequests();
  });
  afterEach(() => client.destroy());
  after(() => mock.close());

  const call = (): ProviderCall => ({
    client,
    adapter: geminiProvider,
    config: { baseUrl: mock.url },
    key: providerKey('pk-gemini-1', KEY),
  });
  const embeddings = (input: string[], extra: Record<string, unknown> = {}): OperationRequest => ({
    operation: 'embeddings',
    model,
    stream: false,
    body: openAIToGeminiEmbeddingsRequest({ input, ...extra }, model).body,
  });
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('the call succeeded'),
      (error: unknown) => {
        assert.ok(isUpstreamError(error), String(error));
        return error;
      },
    );

  it('calls v1beta/models/{model}:batchEmbedContents with the key in x-goog-api-key', async () => {
    assert.equal(geminiProvider.supports('embeddings'), true);
    const answer = await callProvider(call(), embeddings(['one', 'two'], { dimensions: 8 }));
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
    assert.equal(sent.headers['x-goog-api-key'], KEY);
    assert.equal(sent.query.key, undefined, 'the key never goes in the URL');
    const read = readGeminiEmbeddings(answer.json(), 2);
    assert.ok(typeof read !== 'string', read as string);
    assert.deepEqual(
      read.vectors.map((vector) => vector.length),
      [8, 8],
    );
    assert.ok((read.promptTokens ?? 0) > 0);
  });

  it('a 429 is retryable after its RetryInfo delay; a 5xx is retryable; a refusal is not', async () => {
    mock.setScenario('rate-limit=4');
    const limited = await rejection(callProvider(call(), embeddings(['x'])));
    assert.equal(limited.status, 429);
    assert.equal(limited.isRetryable, true);
    assert.equal(limited.retryAfterMs, 4000);
    assert.equal(limited.provider?.type, 'rate_limit');
    mock.setScenario('server-error');
    const failed = await rejection(callProvider(call(), embeddings(['x'])));
    assert.equal(failed.status, 500);
    assert.equal(failed.isRetryable, true);
    mock.setScenario(undefined);
    // More dimensions than the model has: Gemini's 400, the caller's to see.
    const refused = await rejection(callProvider(call(), embeddings(['x'], { dimensions: 4096 })));
    assert.equal(refused.status, 400);
    assert.equal(refused.isRetryable, false);
    assert.equal(refused.provider?.type, 'invalid_request');
    assert.match(refused.provider?.message ?? '', /output_dimensionality/);
  });
});

/**
 * A 429 sent as the first event of a 200 stream (Gemini's `data: {"error": …}` before any
 * candidate) rests the key for its RetryInfo delay, as the same 429 as a status does.
 */
describe('gemini in-stream error (mock-providers)', () => {
  let mock: MockServer;
  let client: UpstreamClient;
  const model = 'gemini-2.5-flash';

  before(async () => {
    mock = await startGeminiMock({ keys: [KEY] });
  });
  beforeEach(() => {
    client = new UpstreamClient();
  });
  afterEach(() => client.destroy());
  after(() => mock.close());

  it("a RESOURCE_EXHAUSTED event's RetryInfo is the attempt's retryAfterMs", async () => {
    mock.setScenario('rate-limit=37, error-in-stream');
    const call: ProviderCall = {
      client,
      adapter: geminiProvider,
      config: { baseUrl: mock.url },
      key: providerKey('pk-gemini-1', KEY),
    };
    const stream = await streamProvider(call, chatRequest(geminiProvider, model, 'hello', true));
    const translator = streamObserver('gemini', model);
    for await (const event of stream) translator.push(event);
    assert.equal(translator.content, false, 'no candidate came before the error');
    const error = streamFailureError(undefined, translator.failure, (text) => text);
    assert.equal(error.status, 429);
    assert.equal(error.isRetryable, true);
    assert.equal(error.provider?.type, 'rate_limit');
    assert.equal(error.retryAfterMs, 37_000);
  });

  it("a RESOURCE_EXHAUSTED event's QuotaFailure names the model, as the same 429 as a status does", async () => {
    const call: ProviderCall = {
      client,
      adapter: geminiProvider,
      config: { baseUrl: mock.url },
      key: providerKey('pk-gemini-1', KEY),
    };
    // The status answer: only that model rests on the key (generate.ts restForModel).
    mock.setScenario({ error: 'rate-limit', retryAfterSeconds: 20, quotaModel: model });
    const status = await callProvider(call, chatRequest(geminiProvider, model, 'hello', false)).then(
      () => assert.fail('the call succeeded'),
      (error: unknown) => (isUpstreamError(error) ? error : assert.fail(String(error))),
    );
    assert.equal(status.provider?.quotaModel, model);
    // The same 429 as a stream's first event: the same quotaModel reaches the balancer.
    mock.setScenario({ error: 'rate-limit', retryAfterSeconds: 20, quotaModel: model, errorInStream: true });
    const stream = await streamProvider(call, chatRequest(geminiProvider, model, 'hello', true));
    const translator = streamObserver('gemini', model);
    for await (const event of stream) translator.push(event);
    const error = streamFailureError(undefined, translator.failure, (text) => text);
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 20_000);
    assert.equal(error.provider?.quotaModel, model, 'the stream names the model of its quota');
    // A project-wide quota names none: the whole key rests.
    mock.setScenario('rate-limit=20, error-in-stream');
    const project = await streamProvider(call, chatRequest(geminiProvider, model, 'hello', true));
    const projectTranslator = streamObserver('gemini', model);
    for await (const event of project) projectTranslator.push(event);
    const projectError = streamFailureError(undefined, projectTranslator.failure, (text) => text);
    assert.equal(projectError.provider?.quotaModel, undefined);
    mock.setScenario(undefined);
  });
});

/**
 * OpenAI's `reasoning_effort` and Anthropic's `thinking` and `output_config.effort` as the
 * translate layer writes them for each Gemini 2.5 and 3 model, sent to the mock, which refuses a
 * thinking config the model cannot take as Gemini does (Gemini 3 Pro: 400 "Thinking level MEDIUM
 * is not supported for this model."; a 2.5 model: 400 "Thinking level is not supported for this
 * model."; a level with a budget: 400 "thinking_budget and thinking_level are not supported
 * together.").
 */
describe('gemini 3 thinking levels (mock-providers)', () => {
  let mock: MockServer;
  let client: UpstreamClient;

  before(async () => {
    mock = await startGeminiMock({ keys: [KEY] });
  });
  beforeEach(() => {
    client = new UpstreamClient();
  });
  afterEach(() => client.destroy());
  after(() => mock.close());

  it('every reasoning_effort Gemini maps is served by each Gemini 3 model', async () => {
    const call: ProviderCall = {
      client,
      adapter: geminiProvider,
      config: { baseUrl: mock.url },
      key: providerKey('pk-gemini-1', KEY),
    };
    for (const model of ['gemini-3-pro-preview', 'gemini-3.1-pro-preview', 'gemini-3-flash-preview']) {
      for (const effort of ['minimal', 'low', 'medium', 'high']) {
        const body = openAIToGeminiRequest(
          openAIChatRequest.parse({
            model,
            reasoning_effort: effort,
            messages: [{ role: 'user', content: 'hello' }],
          }),
        );
        const request: OperationRequest = { operation: 'generate_content', model, stream: false, body };
        await callProvider(call, request).catch((error: unknown) =>
          assert.fail(`${model} reasoning_effort ${effort}: ${String(error)}`),
        );
      }
    }
  });

  it('every reasoning_effort, thinking and output_config.effort Kordon sends is served by each Gemini 2.5 and 3 model', async () => {
    const call: ProviderCall = {
      client,
      adapter: geminiProvider,
      config: { baseUrl: mock.url },
      key: providerKey('pk-gemini-1', KEY),
    };
    const models = [
      'gemini-2.5-flash',
      'gemini-2.5-pro',
      'gemini-2.5-flash-lite',
      'gemini-3-flash-preview',
      'gemini-3.1-flash-lite',
      'gemini-3.1-pro-preview',
      'gemini-flash-latest',
    ];
    const messages = [{ role: 'user', content: 'hello' }];
    const bodies = (model: string) => [
      ...['minimal', 'low', 'medium', 'high'].map((effort) => ({
        label: `reasoning_effort ${effort}`,
        body: openAIToGeminiRequest(openAIChatRequest.parse({ model, reasoning_effort: effort, messages })),
      })),
      ...[
        { thinking: { type: 'enabled', budget_tokens: 2048 } },
        { thinking: { type: 'adaptive' } },
        { output_config: { effort: 'medium' } },
        { output_config: { effort: 'max' }, thinking: { type: 'enabled', budget_tokens: 30000 } },
      ].map((fields) => ({
        label: JSON.stringify(fields),
        body: anthropicToGeminiRequest(
          anthropicMessagesRequest.parse({ model, max_tokens: 512, messages, ...fields }),
        ),
      })),
    ];
    for (const model of models)
      for (const { label, body } of bodies(model)) {
        const request: OperationRequest = { operation: 'generate_content', model, stream: false, body };
        await callProvider(call, request).catch((error: unknown) =>
          assert.fail(`${model} ${label}: ${String(error)}`),
        );
      }
  });
});
