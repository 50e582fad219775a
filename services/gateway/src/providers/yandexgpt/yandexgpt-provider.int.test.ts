/**
 * The contract for YandexGPT, against a mock of Foundation Models' completion method in its
 * wire format (yandexgpt-mock.ts): NDJSON streams of cumulative text, Yandex error bodies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UpstreamClient } from '../../upstream/upstream-client.js';
import { isUpstreamError } from '../../upstream/upstream-error.js';
import { callProvider, streamProvider } from '../provider-call.js';
import {
  answerOf,
  chatRequest,
  providerContract,
  REPLY_PREFIX,
  streamObserver,
} from '../provider-contract.js';
import type { MockHttpServer } from '../provider-mock-server.js';
import { type ProviderAdapter, providerKey } from '../provider-types.js';
import { CONTENT_FILTER_NOTICE, startYandexGPTMock } from './yandexgpt-mock.js';
import { yandexGPTProvider } from './yandexgpt-provider.js';

const API_KEY = 'AQVNcontract0123456789abcdefghij';
const IAM_TOKEN = 't1.contract-iam-token-0123456789';
const FOLDER = 'b1gcontractfolder01';

providerContract('yandexgpt (Foundation Models mock)', async () => {
  const mock = await startYandexGPTMock({
    apiKeys: [API_KEY],
    iamTokens: [IAM_TOKEN],
    folderId: FOLDER,
    frameDelayMs: 3,
  });
  return {
    adapter: yandexGPTProvider,
    model: 'yandexgpt/latest',
    key: providerKey('pk-yandex-1', API_KEY),
    origin: mock.url,
    config: (origin) => ({ baseUrl: origin, folderId: FOLDER }),
    setScenario: (scenario) => mock.setScenario(scenario),
    expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
    rateLimitHeaders: { skip: 'Foundation Models sends no rate-limit headers' },
    keepAliveComments: { skip: 'YandexGPT streams newline-delimited JSON, which has no comment lines' },
    close: () => mock.close(),
  };
});

describe('yandexgpt specifics', () => {
  let mock: MockHttpServer;
  let client: UpstreamClient;

  before(async () => {
    mock = await startYandexGPTMock({
      apiKeys: [API_KEY],
      iamTokens: [IAM_TOKEN],
      folderId: FOLDER,
      contentFilter: { trigger: 'lockpick', afterWords: 2 },
    });
    client = new UpstreamClient();
  });
  after(async () => {
    await client.destroy();
    await mock.close();
  });

  const config = () => ({ baseUrl: mock.url, folderId: FOLDER });

  it('sends the model URI of the configured folder, Api-Key auth and x-folder-id', async () => {
    await callProvider(
      { client, adapter: yandexGPTProvider, config: config(), key: providerKey('k', API_KEY) },
      chatRequest(yandexGPTProvider, 'yandexgpt-lite/rc', 'hi', false),
    );
    const seen = mock.requests.at(-1);
    assert.equal(seen?.headers.authorization, `Api-Key ${API_KEY}`);
    assert.equal(seen?.headers['x-folder-id'], FOLDER);
    assert.deepEqual(seen?.body, {
      modelUri: `gpt://${FOLDER}/yandexgpt-lite/rc`,
      completionOptions: { stream: false },
      messages: [{ role: 'user', text: 'hi' }],
    });
  });

  it('authenticates with an IAM token as a bearer', async () => {
    const answer = await callProvider(
      {
        client,
        adapter: yandexGPTProvider,
        config: { ...config(), authScheme: 'bearer' as const },
        key: providerKey('k', IAM_TOKEN),
      },
      chatRequest(yandexGPTProvider, 'yandexgpt/latest', 'iam', false),
    );
    assert.equal(answerOf('openai', answer.json()).text, `${REPLY_PREFIX}iam`);
    assert.equal(mock.requests.at(-1)?.headers.authorization, `Bearer ${IAM_TOKEN}`);
  });

  it('never repeats a key Yandex quotes back in an error', async () => {
    const wrong = 'AQVNwrongkey0123456789abcdefghij';
    try {
      await callProvider(
        { client, adapter: yandexGPTProvider, config: config(), key: providerKey('k', wrong) },
        chatRequest(yandexGPTProvider, 'yandexgpt/latest', 'hi', false),
      );
      assert.fail('expected a 401');
    } catch (error) {
      assert.ok(isUpstreamError(error, 'upstream_http_error'));
      assert.equal(error.status, 401);
      assert.equal(error.provider?.type, 'authentication');
      assert.equal(error.provider?.code, '16');
      for (const text of [error.message, error.bodyExcerpt ?? '', error.provider?.message ?? '']) {
        assert.ok(!text.includes(wrong), text);
      }
      assert.match(error.provider?.message ?? '', /Unknown api key/);
    }
  });

  it('maps a tool call answer, streamed and not', async () => {
    const body = {
      model: 'yandexgpt/latest',
      messages: [{ role: 'user', content: 'call get_weather Moscow' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
    };
    const call = { client, adapter: yandexGPTProvider, config: config(), key: providerKey('k', API_KEY) };
    const plain = await callProvider(call, {
      operation: 'chat',
      model: 'yandexgpt/latest',
      stream: false,
      body,
    });
    const completion = plain.json() as {
      choices: { finish_reason: string; message: { tool_calls: unknown[] } }[];
    };
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
    const toolCall = completion.choices[0]?.message.tool_calls[0] as { function: unknown } | undefined;
    assert.deepEqual(toolCall?.function, {
      name: 'get_weather',
      arguments: '{"city":"Moscow"}',
    });
    const stream = await streamProvider(call, {
      operation: 'chat',
      model: 'yandexgpt/latest',
      stream: true,
      body,
    });
    const translator = streamObserver('openai', 'yandexgpt/latest');
    for await (const event of stream) translator.push(event);
    assert.equal(translator.finished, true);
    assert.equal(translator.outputText(), '{"city":"Moscow"}');
  });

  // The filter tripping on the output replaces the text so far with a canned notice, which
  // does not extend it: the stream ends with the text generated and content_filter.
  it('ends a stream the content filter stopped with content_filter, the text so far and usage', async () => {
    const call = { client, adapter: yandexGPTProvider, config: config(), key: providerKey('k', API_KEY) };
    const stream = await streamProvider(
      call,
      chatRequest(yandexGPTProvider, 'yandexgpt/latest', 'how to lockpick a door', true),
    );
    const translator = streamObserver('openai', 'yandexgpt/latest');
    for await (const event of stream) translator.push(event);
    assert.equal(translator.failure, undefined);
    assert.equal(translator.finished, true);
    assert.deepEqual(translator.facts.finishReasons, ['content_filter']);
    assert.equal(translator.outputText(), REPLY_PREFIX.trim());
    assert.equal(translator.usage?.outputTokens, Math.ceil(Buffer.byteLength(REPLY_PREFIX.trim()) / 4));

    const plain = await callProvider(
      call,
      chatRequest(yandexGPTProvider, 'yandexgpt/latest', 'how to lockpick a door', false),
    );
    const completion = plain.json() as { choices: { finish_reason: string; message: { content: string } }[] };
    assert.equal(completion.choices[0]?.finish_reason, 'content_filter');
    assert.equal(completion.choices[0]?.message.content, CONTENT_FILTER_NOTICE);
  });

  it('does not serve operations the completion API lacks', () => {
    const adapter: ProviderAdapter = yandexGPTProvider;
    assert.equal(adapter.supports('embeddings', config()), false);
    assert.throws(
      () =>
        yandexGPTProvider.prepare({ operation: 'embeddings', model: 'x', stream: false, body: {} }, config()),
      (error: unknown) => isUpstreamError(error, 'upstream_target_refused'),
    );
  });

  it('needs a folder from the configuration and refuses model URIs from requests', () => {
    assert.deepEqual(yandexGPTProvider.configProblems({}), ['YandexGPT needs a folderId']);
    for (const model of ['gpt://b1gotherfolder/yandexgpt/latest', 'yandexgpt/latest/x', '../yandexgpt']) {
      assert.throws(
        () => yandexGPTProvider.prepare(chatRequest(yandexGPTProvider, model, 'hi', false), config()),
        (error: unknown) => isUpstreamError(error, 'upstream_target_refused'),
        model,
      );
    }
  });
});
